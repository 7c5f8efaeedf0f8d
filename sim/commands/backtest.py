"""``python -m sim backtest`` — hindcast the shipped plans from past origins and score the
model's probabilities (trend, plan record and combined, the record model leaving the scored
plan out) against what happened, next to simple references (:mod:`sim.backtest.hindcast`).

Writes into ``--out`` (default ``results/backtest_<vintage>``, atomically): ``rows.csv`` (one row
per origin and target with a known outcome or official verdict), ``skipped.csv`` (origins and
targets not scored, with the reason), ``scores.json`` and ``scores.txt``,
``reliability.csv``, ``coverage_by_horizon.csv``, ``pit.csv`` (the PIT value of every
indicator forecast with a distribution), ``vintages.csv`` (GDP-based targets under
first-published vs revised data), ``vintage_fallbacks.csv`` (revised observations a
first-vintage backtest read for want of a first-published one, :mod:`sim.backtest.fallbacks`),
``protocol.csv`` (every rule, threshold and hyperparameter: fixed beforehand with its reason, or
chosen per origin from earlier information only, :mod:`sim.backtest.protocol`),
``figures/*.png`` and ``manifest.json``. ``--format`` chooses
what goes to stdout: the score table, the rows as CSV, or the scores as JSON.

``--midterm FILE --as-of YEAR`` instead writes ``midterm.csv``: each target's P(met) at the
plan's start and at YEAR, the change, the annual rate achieved so far and the rate still required.

Every origin (and both mid-term runs) is calibrated afresh with exactly the base years its targets
need: a backtest neither reads nor writes the calibration cache, so its numbers do not depend on
earlier runs. Both folders are written through :class:`sim.output.folder.ResultsFolder`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from sim.errors import SimError

HELP = "score past forecasts: hindcast plan targets from past origins against realised outcomes"


def add_arguments(p) -> None:
    """The flags of ``sim backtest``."""
    from sim.commands.sweep import add_wait_argument

    p.add_argument("--origins", default="2008..2018", metavar="FIRST..LAST",
                   help="forecast origins (as_of years): FIRST..LAST, YEAR or Y1,Y2 (default 2008..2018)")
    p.add_argument("--targets", nargs="+", metavar="SET",
                   help="target sets to score (default: every set of the shipped scenario files)")
    p.add_argument("--vintage", choices=("first", "revised"), default="first",
                   help="data vintage for calibration and outcomes (default: first, what was known then)")
    p.add_argument("--draws", type=int, default=2000, help="Monte Carlo draws per origin (default 2000)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: each scenario file's seed)")
    p.add_argument("--bootstrap", type=int, default=2000, metavar="N",
                   help="bootstrap resamples for score intervals (default 2000)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="stdout: score table, per-target rows (CSV) or scores (JSON)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="results folder (default results/backtest_<vintage>)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing results folder (only one sim wrote, or an empty one)")
    add_wait_argument(p)
    p.add_argument("--data", default=None, metavar="DIR",
                   help="history data directory (default: calibration/data); every origin is "
                        "calibrated afresh on it (the calibration cache is neither read nor written)")
    p.add_argument("--no-vintages", action="store_true", dest="no_vintages",
                   help="skip the first-published vs revised comparison of GDP-based targets")
    p.add_argument("--no-figures", action="store_true", dest="no_figures", help="write no PNG figures")
    p.add_argument("--midterm", metavar="FILE", default=None,
                   help="mid-term evaluation of a scenario file instead: needs --as-of YEAR")
    p.add_argument("--as-of", type=int, dest="as_of", default=None, metavar="YEAR",
                   help="mid-term year (with --midterm)")


def _check(args):
    if args.draws is not None and args.draws < 1:
        raise SimError(f"--draws must be at least 1 (got {args.draws})")
    if args.bootstrap < 1:
        raise SimError(f"--bootstrap must be at least 1 (got {args.bootstrap})")
    if args.midterm and args.as_of is None:
        raise SimError("--midterm FILE needs --as-of YEAR (the mid-term year, e.g. 2018)")
    if args.as_of is not None and not args.midterm:
        raise SimError("--as-of is for --midterm FILE; use --origins for backtest origins")


def run(args) -> int:
    """Run the backtest (or the mid-term table), write the folder, print the chosen format."""
    _check(args)
    if args.midterm:
        return _run_midterm(args)

    from sim.backtest import hindcast as bt
    from sim.output.folder import ResultsFolder
    from sim.paths import DEFAULT_DATA_DIR, DEFAULT_RESULTS_DIR
    from sim.targets import check_set_names

    origins = bt.parse_origins(args.origins)
    if args.targets:
        check_set_names(args.targets)
    out = Path(args.out) if args.out else DEFAULT_RESULTS_DIR / f"backtest_{args.vintage}"
    folder = ResultsFolder(out, force=args.force, command="backtest", wait=args.wait,
                           inputs=(args.data or DEFAULT_DATA_DIR,))  # fails early
    with folder.lock:   # held until the folder is in place
        _backtest_into(folder, args, origins)
    return 0


def _backtest_into(folder, args, origins) -> None:
    """Run the backtest and write ``folder`` (its lock is held); print the chosen format."""
    import pandas as pd

    from sim.backtest import hindcast as bt
    from sim.backtest import summary as sm
    from sim.backtest.fallbacks import vintage_fallbacks
    from sim.backtest.plots import write_all
    from sim.backtest.protocol import choices_frame, protocol_line
    from sim.history import load_history

    out = folder.out
    t0 = time.perf_counter()
    history = load_history(args.data)   # once, for both vintages
    res = bt.run_backtest(origins, args.targets, args.vintage, args.draws, args.seed,
                          history=history, progress=bt.stderr_progress)
    summary = sm.summarize(res.rows, n_boot=args.bootstrap)
    summary["settings"] = res.settings
    summary["skipped"] = _records(res.skipped)
    fallbacks = vintage_fallbacks(history, origins, args.vintage)
    summary["vintage_fallbacks"] = len(fallbacks)
    protocol = choices_frame(res.choices)
    summary["protocol"] = protocol_line(protocol)
    cov = sm.coverage_by_horizon(res.rows)
    vint = None
    if not args.no_vintages:
        other = "revised" if args.vintage == "first" else "first"
        res2 = bt.run_backtest(origins, args.targets, other, args.draws, args.seed,
                               history=history, series_filter=sm.GDP_BASED,
                               progress=bt.stderr_progress)
        pair = {args.vintage: res.rows, other: res2.rows}
        vint = sm.vintage_table(pair["first"], pair["revised"])
    elapsed = time.perf_counter() - t0

    with folder:
        folder.csv("rows.csv", res.rows)
        folder.csv("skipped.csv", res.skipped)
        folder.text("scores.json", json.dumps(summary, indent=1, ensure_ascii=False, default=_json))
        folder.text("scores.txt", sm.summary_table(summary) + "\n")
        rel = [dict(row_set=s, forecaster=f, **b) for s, blk in summary.get("sets", {}).items()
               for f, fb in blk["forecasters"].items() for b in fb["reliability"]]
        folder.csv("reliability.csv", pd.DataFrame(rel))
        folder.csv("coverage_by_horizon.csv", cov)
        folder.csv("pit.csv", sm.pit_table(res.rows))
        folder.csv("vintage_fallbacks.csv", fallbacks)
        folder.csv("protocol.csv", protocol)
        if vint is not None:
            folder.csv("vintages.csv", vint)
        if not args.no_figures:
            write_all(res.rows, summary, cov, folder.path / "figures")
        folder.manifest.update(argv=sys.argv[1:], settings=res.settings,
                               elapsed_s=round(elapsed, 2))

    if args.format == "csv":
        res.rows.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        print(json.dumps(summary, indent=1, ensure_ascii=False, default=_json))
    else:
        _print_table(sm.summary_table(summary), res.skipped, vint, out)
        print(_fallback_line(fallbacks, args.vintage))
        print(summary["protocol"])


def _fallback_line(fallbacks, vintage: str) -> str:
    """One line: which revised observations a first-vintage backtest had to read."""
    if vintage != "first":
        return "vintage: revised (the latest numbers, published after the origins)"
    if fallbacks.empty:
        return "vintage: first-published everywhere (no revised fallback)"
    what = ", ".join(f"{s} {min(g['year'])}–{max(g['year'])} ({len(g)})"
                     for s, g in fallbacks.groupby("series"))
    return (f"vintage: first-published, except {len(fallbacks)} revised observations with no "
            f"first-published or undated value: {what} (vintage_fallbacks.csv)")


def _records(df) -> list[dict]:
    """Rows of a DataFrame as JSON-safe dicts (NaN -> None)."""
    import pandas as pd

    return [{k: (None if pd.api.types.is_scalar(v) and pd.isna(v) else v) for k, v in r.items()}
            for r in df.to_dict("records")]


def _print_table(scores_text: str, skipped, vint, out: Path) -> None:
    print(scores_text)
    if len(skipped):
        print(f"\nskipped ({len(skipped)}):")
        for r in skipped.itertuples():
            where = f"{r.target_id}" if r.target_id else f"as of {int(r.origin)}"
            print(f"  {r.scenario_file} {where}: {r.reason}")
    if vint is not None and len(vint):
        print("\nGDP-based targets, first-published vs revised data:")
        print(_vintage_text(vint))
    print(f"\nwrote {out}")


def _vintage_text(v) -> str:
    lines = [f"  {'target':34s} {'origin':>6s} {'P first':>8s} {'P revised':>9s} "
             f"{'verdict first':>13s} {'verdict revised':>15s}"]
    for r in v.itertuples():
        def p(x):
            return "–" if x != x else f"{x:.3f}"
        lines.append(f"  {r.target_id:34s} {r.origin:6d} {p(r.p_met_first):>8s} {p(r.p_met_revised):>9s} "
                     f"{str(r.outcome_first) if r.outcome_first == r.outcome_first else '–':>13s} "
                     f"{str(r.outcome_revised) if r.outcome_revised == r.outcome_revised else '–':>15s}")
    return "\n".join(lines)


def _json(o):
    import numpy as np

    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, Path):
        return str(o)
    return str(o)


def _run_midterm(args) -> int:
    from sim.backtest.hindcast import midterm_table
    from sim.output.folder import ResultsFolder
    from sim.output.owned import safe_name
    from sim.paths import DEFAULT_DATA_DIR, DEFAULT_RESULTS_DIR

    path = Path(args.midterm)
    if not path.exists():
        raise SimError(f"{path}: scenario file not found")
    out = Path(args.out) if args.out else \
        DEFAULT_RESULTS_DIR / safe_name(f"midterm_{path.stem}_{args.as_of}")
    folder = ResultsFolder(out, force=args.force, command="backtest --midterm", manifest=False,
                           wait=args.wait, inputs=(path, args.data or DEFAULT_DATA_DIR))
    with folder.lock:
        table = midterm_table(path, args.as_of, draws=args.draws, seed=args.seed,
                              data_dir=args.data)
        with folder:
            folder.csv("midterm.csv", table)
    if args.format == "csv":
        table.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        print(table.to_json(orient="records", force_ascii=False, indent=1))
    else:
        ev = table[table["status"] == "evaluated"]
        print(f"{'target':42s} {'P start':>8s} {'P mid':>7s} {'ΔP':>7s} {'achieved':>9s} {'required':>9s}")
        for r in ev.itertuples():
            def f(x, fmt):
                return "–" if x is None or x != x else format(x, fmt)
            print(f"{r.target_id:42s} {f(r.p_start, '.3f'):>8s} {f(r.p_mid, '.3f'):>7s} "
                  f"{f(getattr(r, 'delta_p', None), '+.3f'):>7s} {f(r.achieved_annual, '+.2f'):>9s} "
                  f"{f(r.required_annual, '+.2f'):>9s}")
        print(f"\nachieved / required: annual rate (%/yr for levels and cumulative changes)\nwrote {out}")
    return 0
