"""``python -m sim sensitivity FILE`` — grouped Sobol indices: which uncertain inputs drive P(met).

Groups the kernel's independent normals by kind (parameters, initial state, shocks) and driver,
estimates first-order and total indices of each target's met indicator by pick-freeze, prints
them as shares of the uncertainty in meeting the target (an estimate below 0 as ~0 with its
error) and writes ``sensitivity.csv`` and a tornado chart per target into
``results/<file stem>_sensitivity/``.
"""

from __future__ import annotations

from pathlib import Path

HELP = ("which uncertain inputs drive the run's headline P(met): the share of the uncertainty in "
        "meeting each target due to trend estimates, starting state and yearly shocks, by driver, "
        "and past plans' record (Sobol indices, tornado charts)")


def add_arguments(p) -> None:
    """The flags of ``sim sensitivity``."""
    from sim.commands.calibrate import add_cache_arguments
    from sim.commands.sweep import add_wait_argument

    p.add_argument("file", help="scenario file (TOML)")
    p.add_argument("--target", action="append", dest="targets", metavar="ID",
                   help="target id (repeatable; default: every target of the run's sets)")
    p.add_argument("--scenario", default="baseline", help="scenario to analyse (default: baseline)")
    p.add_argument("--draws", type=int, default=2000,
                   help="base sample size N; the cost is N x (2 + groups) draws (default 2000)")
    p.add_argument("--seed", type=int, help="random seed (overrides [run].seed)")
    p.add_argument("--bootstrap", type=int, default=100, help="bootstrap resamples for the SEs (default 100)")
    p.add_argument("--data", help="history data directory (default: calibration/data)")
    add_cache_arguments(p, cache_dir=False)
    p.add_argument("--out", help="results folder (default: results/<file stem>_sensitivity)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing results folder (only one sim wrote, or an empty one)")
    add_wait_argument(p)
    p.add_argument("--no-figures", action="store_true", dest="no_figures", help="skip the tornado charts")


def run(args) -> int:
    """Build the context once, estimate the indices, print them, write the folder."""
    from sim.analysis.sensitivity import sensitivity, summary_lines, write_sensitivity
    from sim.output.folder import check_writable
    from sim.output.lock import OutputLock
    from sim.output.owned import safe_name
    from sim.paths import DEFAULT_DATA_DIR, DEFAULT_RESULTS_DIR
    from sim.calibrate.cache import cache_dir_for
    from sim.run.context import RunContext

    out = Path(args.out) if args.out else \
        DEFAULT_RESULTS_DIR / safe_name(f"{Path(args.file).stem}_sensitivity")
    inputs = (args.file, args.data or DEFAULT_DATA_DIR)
    check_writable(out, args.force, inputs=inputs)
    with OutputLock(out, wait=args.wait):   # until the folder is in place
        check_writable(out, args.force, inputs=inputs)
        overrides = {"seed": args.seed} if args.seed is not None else {}
        with cache_dir_for(None, args.no_cache) as cache:
            ctx = RunContext.build(args.file, overrides=overrides, data_dir=args.data,
                                   cache_dir=cache)
        sens = sensitivity(ctx, targets=args.targets, scenario=args.scenario, draws=args.draws,
                           bootstrap=args.bootstrap)
        for line in summary_lines(sens):
            print(line)
        write_sensitivity(sens, out, force=args.force, figures=not args.no_figures, ctx=ctx)
    print(f"wrote {out}/sensitivity.csv" + ("" if args.no_figures else " and figures/tornado_*.png"))
    return 0
