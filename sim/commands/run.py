"""``python -m sim run FILE`` — simulate every scenario of a file and write the results folder.

Steps (DESIGN.md data flow): scenario file → spec; history ≤ as_of → fitted model (reused from
the calibration cache when data, code and as_of match, else calibrated now and cached); engine
→ ensemble; evaluation → ``targets.csv``; everything written atomically into
``results/<file stem>/`` (:func:`sim.run.pipeline.run_file`). ``--no-cache`` calibrates afresh
without reading or writing the calibration cache.
"""

from __future__ import annotations

import sys
from pathlib import Path

HELP = "simulate every scenario in a scenario file and write results/<file stem>/"


def add_arguments(p) -> None:
    """The flags of ``sim run``."""
    from sim.commands.calibrate import add_cache_arguments
    from sim.commands.sweep import add_scheduler_argument, add_wait_argument

    p.add_argument("file", help="scenario file (TOML), e.g. scenarios/baseline_2020.toml")
    p.add_argument("--draws", type=int, help="Monte Carlo draws (overrides [run].draws)")
    p.add_argument("--seed", type=int, help="random seed (overrides [run].seed)")
    p.add_argument("--as-of", type=int, dest="as_of",
                   help="information year (overrides [run].as_of); after the file's own as_of "
                        "it is a mid-term evaluation, next to a run from the plan's start")
    p.add_argument("--data", help="history data directory (default: calibration/data)")
    add_cache_arguments(p)
    p.add_argument("--out", help="results folder (default: results/<file stem>)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing results folder (only one sim wrote, or an empty "
                        "one; anything else is refused and left untouched)")
    add_wait_argument(p)
    p.add_argument("--summaries-only", action="store_true", dest="summaries_only",
                   help="keep quantiles instead of every draw in ensemble.nc")
    p.add_argument("--no-figures", action="store_false", dest="figures",
                   help="skip the charts (tables and report are still written)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary table")
    p.add_argument("--float64", action="store_true", dest="ensemble_float64", default=None,
                   help="store the draws in ensemble.nc as float64 (default float32, half the size)")
    add_scheduler_argument(p)
    p.add_argument("--tolerance", type=float,
                   help="add blocks of draws until every P(met) has a standard error below this "
                        "(e.g. 0.005); draws are prefix-stable, so the result equals a fixed run")
    p.add_argument("--max-draws", type=int, dest="max_draws", default=10_000_000,
                   help="cap for --tolerance (default 10,000,000)")


def run(args) -> int:
    """Run the file; print the ignored levers (stderr) and the summary table."""
    from sim.calibrate.cache import cache_dir_for
    from sim.commands.sweep import scheduler_from_args
    from sim.output.summary import print_summary
    from sim.run.pipeline import run_file

    scheduler = scheduler_from_args(args)
    overrides = {k: getattr(args, k) for k in ("draws", "seed", "as_of", "ensemble_float64")
                 if getattr(args, k) is not None}
    with cache_dir_for(args.cache, args.no_cache) as cache:
        out = run_file(Path(args.file), overrides=overrides, data_dir=args.data,
                       cache_dir=cache, out=Path(args.out) if args.out else None,
                       force=args.force, summaries_only=args.summaries_only,
                       figures=args.figures, scheduler=scheduler, tolerance=args.tolerance,
                       max_draws=args.max_draws,
                       progress=(not args.quiet) and sys.stderr.isatty(), wait=args.wait)
    for msg in out.ignored:
        print(f"sim run: warning: {msg}", file=sys.stderr)
    if not args.quiet:
        print_summary(out.table, out.folder)
    return 0
