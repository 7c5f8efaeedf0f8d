"""``python -m sim run FILE`` — simulate every scenario of a file and write the results folder.

Steps (DESIGN.md data flow): scenario file → spec; history ≤ as_of → fitted model (reused from
``calibration/fitted/`` when its data hash matches, else calibrated now); engine → ensemble;
evaluation → ``targets.csv``; everything written atomically into ``results/<file stem>/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HELP = "simulate every scenario in a scenario file and write results/<file stem>/"


def add_arguments(p) -> None:
    p.add_argument("file", help="scenario file (TOML), e.g. scenarios/baseline_2020.toml")
    p.add_argument("--draws", type=int, help="Monte Carlo draws (overrides [run].draws)")
    p.add_argument("--seed", type=int, help="random seed (overrides [run].seed)")
    p.add_argument("--as-of", type=int, dest="as_of", help="information year (overrides [run].as_of)")
    p.add_argument("--data", help="history data directory (default: calibration/data)")
    p.add_argument("--out", help="results folder (default: results/<file stem>)")
    p.add_argument("--force", action="store_true", help="replace an existing results folder")
    p.add_argument("--summaries-only", action="store_true", dest="summaries_only",
                   help="keep quantiles instead of every draw in ensemble.nc")
    p.add_argument("--no-figures", action="store_false", dest="figures",
                   help="skip the charts (tables and report are still written)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary table")
    from sim.commands.sweep import add_scheduler_argument

    add_scheduler_argument(p)
    p.add_argument("--tolerance", type=float,
                   help="add blocks of draws until every P(met) has a standard error below this "
                        "(e.g. 0.005); draws are prefix-stable, so the result equals a fixed run")
    p.add_argument("--max-draws", type=int, dest="max_draws", default=10_000_000,
                   help="cap for --tolerance (default 10,000,000)")


def run(args) -> int:
    from sim.run.pipeline import run_file

    overrides = {k: getattr(args, k) for k in ("draws", "seed", "as_of") if getattr(args, k) is not None}
    out = run_file(Path(args.file), overrides=overrides, data_dir=args.data,
                   out=Path(args.out) if args.out else None, force=args.force,
                   summaries_only=args.summaries_only, figures=args.figures,
                   scheduler=args.scheduler, tolerance=args.tolerance, max_draws=args.max_draws,
                   progress=(not args.quiet) and sys.stderr.isatty())
    import json

    for msg in json.loads(out.dataset.attrs.get("ignored_levers") or "[]"):
        print(f"sim run: warning: {msg}", file=sys.stderr)
    if not args.quiet:
        from sim.output.tables import print_summary

        print_summary(out.table, out.folder)
    return 0
