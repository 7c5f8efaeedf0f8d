"""``python -m sim sweep FILE`` — the run's P(met) of every target over the ``[sweep]`` lever values.

Calibrates once, simulates every sweep point on the same draws (common random numbers), combines
them with the run's plan record (:mod:`sim.analysis.headline`) and writes ``sweep.nc`` (P(met),
``p_trend`` and the Monte Carlo error over the grid axes or the Latin-hypercube points),
``sweep.csv`` and one figure per target a swept lever moves into ``results/<file stem>_sweep/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HELP = ("the run's headline P(met) over the [sweep] grid / Latin hypercube of lever values (common "
        "random numbers; the run's plan-record draws and weights at every point)")


def add_scheduler_argument(p) -> None:
    """The ``--scheduler`` and ``--tls-*`` flags (shared with ``sim run``)."""
    p.add_argument("--scheduler", metavar="local[:N]|tcp://HOST:PORT|tls://HOST:PORT",
                   help="run the draws as dask.distributed tasks: a local cluster of N worker "
                        "processes, or an existing scheduler (needs the 'distributed' extra). "
                        "A tcp:// scheduler must be one you trust on a network you trust: "
                        "dask's protocol is unauthenticated and a scheduler can run code on "
                        "this machine; use tls:// with the --tls-* certificates otherwise")
    p.add_argument("--tls-ca-file", dest="tls_ca_file", metavar="PEM",
                   help="certificate authority of a tls:// scheduler")
    p.add_argument("--tls-cert", dest="tls_cert", metavar="PEM",
                   help="this client's TLS certificate (with --tls-key)")
    p.add_argument("--tls-key", dest="tls_key", metavar="PEM",
                   help="this client's TLS private key (with --tls-cert)")


def scheduler_from_args(args):
    """The scheduler of ``--scheduler`` and ``--tls-*`` (checked before any work)."""
    from sim.engine.dispatch import remote_scheduler

    return remote_scheduler(args.scheduler, args.tls_ca_file, args.tls_cert, args.tls_key)


def add_wait_argument(p) -> None:
    """The ``--wait`` flag of every command that writes a results folder."""
    p.add_argument("--wait", action="store_true",
                   help="when another sim process is writing the same output folder, wait for "
                        "it to finish instead of failing at once")


def add_arguments(p) -> None:
    """The flags of ``sim sweep``."""
    from sim.commands.calibrate import add_cache_arguments

    p.add_argument("file", help="scenario file (TOML) with a [sweep] table")
    p.add_argument("--draws", type=int, help="Monte Carlo draws per point (overrides [run].draws)")
    p.add_argument("--seed", type=int, help="random seed (overrides [run].seed)")
    p.add_argument("--target", action="append", dest="targets", metavar="ID",
                   help="only this target (repeatable; default: every target of the run's sets)")
    p.add_argument("--data", help="history data directory (default: calibration/data)")
    add_cache_arguments(p, cache_dir=False)
    p.add_argument("--out", help="results folder (default: results/<file stem>_sweep)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing results folder (only one sim wrote, or an empty one)")
    add_wait_argument(p)
    p.add_argument("--probability", type=float, default=0.9,
                   help="the P(met) a planner asks for: the figures draw its contour and the summary "
                        "counts the points reaching it, in (0, 1) (default 0.9)")
    p.add_argument("--no-figures", action="store_true", dest="no_figures", help="skip the figures")
    add_scheduler_argument(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def run(args) -> int:
    """Build the context once, run the sweep, write the folder, print the summary."""
    from sim.analysis.sweep import design, run_sweep, summary_lines, write_sweep
    from sim.output.folder import check_writable
    from sim.output.lock import OutputLock
    from sim.output.owned import safe_name
    from sim.paths import DEFAULT_DATA_DIR, DEFAULT_RESULTS_DIR
    from sim.calibrate.cache import cache_dir_for
    from sim.run.context import RunContext

    from sim.errors import SimError

    if not 0 < args.probability < 1:
        raise SimError(f"--probability must be in (0, 1), got {args.probability:g}")
    scheduler = scheduler_from_args(args)
    overrides = {k: getattr(args, k) for k in ("draws", "seed") if getattr(args, k) is not None}
    out = Path(args.out) if args.out else \
        DEFAULT_RESULTS_DIR / safe_name(f"{Path(args.file).stem}_sweep")
    check_writable(out, args.force, inputs=(args.file, args.data or DEFAULT_DATA_DIR))
    with OutputLock(out, wait=args.wait):   # until the folder is in place
        check_writable(out, args.force, inputs=(args.file, args.data or DEFAULT_DATA_DIR))
        with cache_dir_for(None, args.no_cache) as cache:
            ctx = RunContext.build(args.file, overrides=overrides, data_dir=args.data,
                                   cache_dir=cache)
        bar = None
        if not args.quiet and sys.stderr.isatty() and ctx.spec.sweep is not None:
            from tqdm import tqdm

            n = len(design(ctx.spec.sweep, ctx.settings.seed).points) * ctx.settings.draws
            bar = tqdm(total=n, unit="draw", unit_scale=True, desc="sweeping", leave=False)
        try:
            res = run_sweep(ctx, scheduler=scheduler, targets=args.targets,
                            progress=bar.update if bar is not None else None)
        finally:
            if bar is not None:
                bar.close()
        write_sweep(res, ctx, out, force=args.force, figures=not args.no_figures,
                    probability=args.probability)
    if not args.quiet:
        for line in summary_lines(res, probability=args.probability):
            print(line)
        print(f"wrote {out}/sweep.nc, sweep.csv" + ("" if args.no_figures else " and figures/"))
    return 0
