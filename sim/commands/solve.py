"""``python -m sim solve FILE --target ID --probability 0.9 --lever PATH`` — required effort.

Scans the lever's whole valid range (or ``--bounds``) on common random numbers, says whether
P(met) is monotone in the lever, refines every crossing of the probability and reports the least
effort (smallest value when more is better, largest when less is better; for a P that rises and
falls, every crossing and the value nearest to 0) with its Monte Carlo error.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

HELP = ("required effort: the least lever value giving the run's headline P(target met) >= a "
        "probability")


def add_arguments(p) -> None:
    """The flags of ``sim solve``."""
    from sim.commands.calibrate import add_cache_arguments
    from sim.scenario.spec import SWEEP_PATHS

    p.add_argument("file", help="scenario file (TOML)")
    p.add_argument("--target", required=True, metavar="ID", help="target id (see `python -m sim targets`)")
    p.add_argument("--probability", type=float, default=0.9, help="required P(met), in (0, 1) (default 0.9)")
    p.add_argument("--lever", required=True, metavar="PATH",
                   help="lever path to move: " + ", ".join(SWEEP_PATHS))
    p.add_argument("--scenario", default="baseline", help="scenario to start from (default: baseline)")
    p.add_argument("--bounds", type=float, nargs=2, metavar=("LO", "HI"),
                   help="search interval (default: the lever's whole valid range, -50 50 pp/yr "
                        "for shift_pp, 0 10000000 units/yr for units_per_year)")
    p.add_argument("--points", type=int, default=41,
                   help="lever values scanned evenly over the interval before refining (default 41)")
    p.add_argument("--xtol", type=float,
                   help="refine a crossing until its bracket is narrower (default: a thousandth of "
                        "the scan spacing)")
    p.add_argument("--draws", type=int, help="Monte Carlo draws (overrides [run].draws)")
    p.add_argument("--seed", type=int, help="random seed (overrides [run].seed)")
    p.add_argument("--data", help="history data directory (default: calibration/data)")
    add_cache_arguments(p, cache_dir=False)
    p.add_argument("--json", dest="json_out", metavar="FILE", help="also write the result as JSON")


def run(args) -> int:
    """Build the context once, solve, print the answer (and write it as JSON); exit 1 when no
    value within the bounds reaches the probability."""
    from sim.analysis.solve_search import MIN_POINTS
    from sim.analysis.solve import solve
    from sim.analysis.sweep import split_path
    from sim.atomic_file import write_text_atomic
    from sim.errors import SimError
    from sim.calibrate.cache import cache_dir_for
    from sim.run.context import RunContext

    split_path(args.lever)  # a bad path fails before calibration
    if args.points < MIN_POINTS:
        raise SimError(f"--points must be at least {MIN_POINTS}, got {args.points}")
    if not 0 < args.probability < 1:
        raise SimError(f"--probability must be in (0, 1), got {args.probability:g}")
    if args.json_out and Path(args.json_out).resolve() in (
            Path(args.file).resolve(), *(p.resolve() for p in Path(args.data or ".").glob("*.csv")
                                         if args.data)):
        raise SimError(f"--json {args.json_out}: is an input of the command; give another file")
    overrides = {k: getattr(args, k) for k in ("draws", "seed") if getattr(args, k) is not None}
    with cache_dir_for(None, args.no_cache) as cache:
        ctx = RunContext.build(args.file, overrides=overrides, data_dir=args.data,
                               cache_dir=cache)
    res = solve(ctx, target=args.target, probability=args.probability, lever=args.lever,
                scenario=args.scenario, bounds=tuple(args.bounds) if args.bounds else None,
                xtol=args.xtol, points=args.points)
    print(res.message())
    if args.json_out:
        out = {k: v for k, v in asdict(res).items() if k != "evaluations"}
        out["evaluations"] = [{"value": v, "p_met": p} for v, p in res.evaluations.items()]
        # written aside in a new file (never a link at its name), then renamed: never half a file
        write_text_atomic(Path(args.json_out), json.dumps(out, indent=1, default=float))
    return 0 if res.status in ("ok", "always") else 1
