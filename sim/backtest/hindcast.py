"""Hindcast: forecast past plans' targets from past origins and score the forecasts on what happened.

For every origin ``o`` (the as_of of a forecast) and every shipped scenario file whose targets
fall after ``o`` and have a known outcome (an observation in the data, or an official verdict in
the plan records, :mod:`sim.backtest.lopo`):

1. calibrate on the observations dated ≤ ``o`` (:func:`sim.calibrate.fit.calibrate` reads only
   ``History.upto(o)``; with vintage ``first`` it uses GDP as first published) — a fresh fit with
   exactly the base years the targets need, never a cached one, so a backtest does not depend on
   what earlier runs left in the calibration cache;
2. fit the plan-record model on the records known at ``o`` without the records of the scored
   targets' own plan (leave one plan out, :class:`~sim.backtest.lopo.LeaveOnePlanOut`; the
   target sets whose training records are equal share one run);
3. simulate the file's **baseline** scenario with ``as_of = o`` (the scenario loader fits lever
   years to the new window; a :class:`~sim.run.context.RunContext` of the baseline with that
   record model) through the streaming evaluator (:func:`sim.run.stream.evaluate_context`) and
   evaluate every target: the trend, record and combined probabilities and draws;
4. score every forecast and the references on the outcome (:mod:`sim.backtest.rows`).

The rows are scored by :mod:`sim.backtest.summary`. :func:`midterm_table` is the mid-term
evaluation of a file's baseline (``sim backtest --midterm``), on :mod:`sim.run.midterm`.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from sim.backtest.lopo import LeaveOnePlanOut, matched_sets, record_outcomes, unmatched_reasons
from sim.backtest.protocol import pooling_choice
from sim.backtest.rows import outcome, score_origin
from sim.calibrate.fit import calibrate
from sim.errors import SimError
from sim.evaluation import as_number
from sim.history import History, load_history
from sim.model import FittedModel
from sim.paths import SCENARIOS_DIR
from sim.plan_record import PlanRecord, PlanRecordModel, load_plan_records
from sim.run.context import RunContext, base_years_needed
from sim.run.midterm import achieved
from sim.run.stream import evaluate_context, stream
from sim.scenario.read import load_scenario_file
from sim.scenario.spec import ScenarioFile
from sim.targets import as_targets, check_set_names, targets_for_sets

DEFAULT_SCENARIO_FILES = ("baseline_2015.toml", "baseline_2020.toml")
SKIPPED_COLUMNS = ["origin", "scenario_file", "target_id", "reason"]


@dataclass
class BacktestResult:
    """Rows of a backtest (one per origin and target with a known outcome), what was skipped
    (an origin of a file, or a target, with the reason), and the settings."""

    rows: pd.DataFrame
    skipped: pd.DataFrame                  # SKIPPED_COLUMNS
    settings: dict = field(default_factory=dict)
    choices: list[dict] = field(default_factory=list)   # rolling choices (protocol.py)


def parse_origins(text: str) -> list[int]:
    """``"2008..2018"``, ``"2010"`` or ``"2008,2010,2012"`` → sorted list of years."""
    text = str(text).strip()
    try:
        if ".." in text:
            a, b = (int(t) for t in text.split("..", 1))
            if a > b:
                raise SimError(f"--origins {text}: the range is reversed (expected FIRST..LAST "
                               f"with FIRST ≤ LAST, e.g. {b}..{a})")
            years = list(range(a, b + 1))
        else:
            years = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        raise SimError(f"--origins {text}: expected years as FIRST..LAST, YEAR or Y1,Y2,... "
                       f"(e.g. 2008..2018)") from None
    if not years:
        raise SimError(f"--origins {text}: no year given (e.g. 2008..2018)")
    bad = [y for y in years if not 1978 <= y <= 2100]
    if bad:
        raise SimError(f"--origins {text}: year {bad[0]} is outside 1978–2100")
    return years


def scenario_files(target_sets: Iterable[str] | None = None, scenario_dir: str | Path | None = None
                   ) -> list[tuple[Path, tuple[str, ...]]]:
    """Shipped scenario files and the requested target sets each covers.

    Raises SimError for a requested set no shipped file evaluates.
    """
    target_sets = list(target_sets or ())
    sdir = Path(scenario_dir) if scenario_dir else SCENARIOS_DIR
    if target_sets:
        check_set_names(target_sets)
    out, covered = [], set()
    for name in DEFAULT_SCENARIO_FILES:
        path = sdir / name
        if not path.exists():
            continue
        sets = load_scenario_file(path).run.target_sets
        chosen = tuple(s for s in sets if not target_sets or s in target_sets)
        if chosen:
            out.append((path, chosen))
            covered |= set(chosen)
    missing = [s for s in target_sets if s not in covered]
    if missing:
        raise SimError(f"target set '{missing[0]}' is not evaluated by any shipped scenario file "
                       f"({', '.join(DEFAULT_SCENARIO_FILES)} in {sdir})")
    if not out:
        raise SimError(f"no scenario file ({', '.join(DEFAULT_SCENARIO_FILES)}) in {sdir}")
    return out


def baseline_context(sf: ScenarioFile, catalogue: pd.DataFrame, history: History, *,
                     path: Path | None = None, plan_start: int | None = None,
                     fitted: FittedModel | None = None,
                     record_model: PlanRecordModel | None = None) -> RunContext:
    """The context of a file's baseline scenario alone, evaluated on ``catalogue``.

    The model is fitted now on ``history`` up to the file's as_of with exactly the base years
    the catalogue needs (:func:`~sim.run.context.base_years_needed`), not taken from the
    calibration cache, so the result does not depend on what earlier runs cached (or
    ``fitted``, such a fit made by the caller). ``record_model`` replaces the context's own
    plan-record model (a leave-one-plan-out fit; default: the records known at the as_of).
    """
    sf = sf.model_copy(update={"scenarios": {"baseline": sf.scenarios["baseline"]}})
    as_of = sf.run.as_of
    if fitted is None:
        fitted = calibrate(history, as_of, sf.run.vintage,
                           base_years=base_years_needed(catalogue, as_of))
    return RunContext.from_spec(sf, path=path, fitted=fitted, history=history,
                                catalogue=catalogue, plan_start=plan_start,
                                record_model=record_model)


def _skip_reason(known: pd.DataFrame, origin: int) -> str:
    """Why an origin has nothing to forecast in a file ("" when it has)."""
    if known.empty:
        return "no target of the chosen sets has a realised value or an official verdict"
    if not (known["target_year"].astype(int) > origin).any():
        return f"no target year after {origin}"
    return ""


@dataclass
class _FileTargets:
    """The targets of one scenario file with a known outcome, and those left out."""

    catalogue: pd.DataFrame                  # the file's targets (after the series filter)
    outcomes: dict[str, dict]                # target id -> observed outcome
    verdicts: dict[str, PlanRecord]          # target id -> plan record with a verdict
    known: pd.DataFrame                      # targets with an outcome or a verdict
    unmatched: dict[str, str]                # target id -> why it has no verdict (and no data)


def _file_targets(sets: Sequence[str], history: History, vintage: str,
                  records: Sequence[PlanRecord], series_filter: Iterable[str] | None
                  ) -> _FileTargets:
    catalogue = targets_for_sets(list(sets), declarations=history.declarations)
    if series_filter is not None:
        catalogue = catalogue[catalogue["series"].isin(list(series_filter))].reset_index(drop=True)
    found = {t.id: outcome(history, t, vintage) for t in as_targets(catalogue)}
    outcomes = {k: o for k, o in found.items() if o is not None}
    matched = record_outcomes(catalogue, records)
    verdicts = {k: r for k, r in matched.items() if r.verdict is not None}
    known = catalogue[catalogue["id"].isin(list(outcomes) + list(verdicts))]
    unmatched = unmatched_reasons(as_targets(catalogue), matched, matched_sets(catalogue),
                                  records)
    return _FileTargets(catalogue, outcomes, verdicts, known.reset_index(drop=True),
                        {k: v for k, v in unmatched.items() if k not in outcomes})


def _origin_rows(path: Path, sf: ScenarioFile, ft: _FileTargets, later: pd.DataFrame,
                 lopo: LeaveOnePlanOut, history: History, origin: int, vintage: str,
                 plan_start: int) -> tuple[list[dict], list[dict], list[dict]]:
    """Rows of one file and origin: one calibration, one run per distinct leave-one-plan-out
    training set; and what was skipped (a target set whose record model cannot be fitted).
    ``plan_start`` is the file's own as_of: a target's record base is the plan's base year,
    as in ``sim run`` (unknown, so no record combination, at an origin before it)."""
    fitted = calibrate(history, origin, sf.run.vintage,
                       base_years=base_years_needed(later, origin))
    groups: dict[tuple, list[str]] = {}
    for s in dict.fromkeys(later["target_set"]):
        groups.setdefault(lopo.key(origin, s), []).append(s)
    rows: list[dict] = []
    skipped: list[dict] = []
    choices: list[dict] = []
    for sets in groups.values():
        fit = lopo.fit(origin, sets[0])
        if fit.model is None:
            skipped.append(dict(origin=origin, scenario_file=path.name, target_id="",
                                reason=f"{', '.join(sets)}: no plan-record model: {fit.reason}"))
            continue
        choices.append(pooling_choice(fit.model.verdict, origin, sets))
        sub = later[later["target_set"].isin(sets)].reset_index(drop=True)
        ctx = baseline_context(sf, sub, history, path=path, fitted=fitted,
                               record_model=fit.model, plan_start=plan_start)
        # every draw in one chunk, every draw of each indicator kept: each draw is scored
        res = stream(ctx, chunk_draws=ctx.settings.draws)
        rows += score_origin(ctx, res.acc, res.prefix, ft.outcomes, ft.verdicts, fit, origin,
                             vintage, path.name)
    return rows, skipped, choices


def run_backtest(origins: Iterable[int], target_sets: Iterable[str] | None = None,
                 vintage: str = "first", draws: int = 2000, seed: int | None = None,
                 data_dir: str | Path | None = None, scenario_dir: str | Path | None = None,
                 series_filter: Iterable[str] | None = None,
                 progress: Callable[[str], object] | None = None,
                 history: History | None = None,
                 records: Sequence[PlanRecord] | None = None) -> BacktestResult:
    """Run the hindcast (see the module docstring).

    Parameters
    ----------
    origins : iterable of int
        Forecast origins (as_of years).
    target_sets : list of str, optional
        Restrict to these target sets (default: every set of the shipped scenario files).
    vintage : "first" | "revised"
        Vintage of calibration data and of realised values.
    draws, seed : int
        Monte Carlo draws; seed (default: each scenario file's own seed).
    data_dir, history
        The history (``history``, else loaded from ``data_dir``): loaded once for every
        origin and file.
    series_filter : collection of str, optional
        Only targets on these series (e.g. :data:`~sim.backtest.summary.GDP_BASED` for the
        vintage comparison).
    progress : callable(str), optional
        Called with a short message per origin.
    records : sequence of PlanRecord, optional
        The plan records (default: the bundled file); each forecast's record model uses those
        known at its origin outside the scored plan.
    """
    if vintage not in ("first", "revised"):
        raise SimError(f"vintage must be 'first' or 'revised', got '{vintage}'")
    origins = list(origins)
    history = history if history is not None else load_history(data_dir)
    records = tuple(records) if records is not None else load_plan_records()
    lopo = LeaveOnePlanOut(records)
    files = scenario_files(target_sets, scenario_dir)
    overrides: dict[str, Any] = {"draws": int(draws), "vintage": vintage}
    if seed is not None:
        overrides["seed"] = int(seed)
    rows: list[dict] = []
    skipped: list[dict] = []
    choices: list[dict] = []
    for path, sets in files:
        ft = _file_targets(sets, history, vintage, records, series_filter)
        plan_start = load_scenario_file(path, overrides=overrides).run.as_of
        skipped += [dict(origin=None, scenario_file=path.name, target_id=k,
                         reason=f"not scored: {v}") for k, v in ft.unmatched.items()]
        for origin in origins:
            reason = _skip_reason(ft.known, origin)
            if not reason:
                later = ft.known[ft.known["target_year"].astype(int) > origin]
                if progress:
                    progress(f"{path.name} as of {origin}")
                try:
                    sf = load_scenario_file(path, overrides={**overrides, "as_of": origin})
                    got, left, chose = _origin_rows(path, sf, ft, later.reset_index(drop=True),
                                                    lopo, history, origin, vintage, plan_start)
                except SimError as exc:
                    reason = str(exc).splitlines()[0]
                else:
                    rows += got
                    skipped += left
                    choices += chose
            if reason:
                skipped.append(dict(origin=origin, scenario_file=path.name, target_id="",
                                    reason=reason))
    settings = dict(origins=origins, vintage=vintage, draws=int(draws), seed=seed,
                    target_sets=[s for _, ss in files for s in ss],
                    scenario_files=[p.name for p, _ in files],
                    data_dir=str(history.data_dir), data_hash=history.data_hash,
                    plan_records=len(records), leave_one_plan_out=True)
    skipped_df = pd.DataFrame(skipped, columns=SKIPPED_COLUMNS)
    skipped_df["origin"] = skipped_df["origin"].astype("Int64")
    return BacktestResult(pd.DataFrame(rows), skipped_df, settings, choices)


# --------------------------------------------------------------------------------------------
# mid-term
# --------------------------------------------------------------------------------------------
def midterm_table(path: str | Path, mid_as_of: int, start_as_of: int | None = None,
                  draws: int = 2000, seed: int | None = None, data_dir: str | Path | None = None,
                  history: History | None = None) -> pd.DataFrame:
    """Mid-term evaluation of a scenario file's baseline: the run at the plan's start
    (``start_as_of``, default the file's own as_of = the plan's base year) next to the run at
    ``mid_as_of``.

    Columns: ``target_id, indicator, value, unit, p_start, p_mid, delta_p, delta_se``
    (independent runs: ``sqrt(se_start² + se_mid²)``), ``required_annual`` (rate still needed
    from mid_as_of, %/yr or per year), ``achieved_annual`` (constant annual rate observed from
    the start to mid_as_of, :func:`sim.run.midterm.achieved`), ``required_unit``, ``latest``
    (the indicator's value at mid_as_of: level, or the cumulative change already achieved),
    ``status``. Both runs are fresh fits (as :func:`baseline_context`).
    """
    path = Path(path)
    history = history if history is not None else load_history(data_dir)
    overrides: dict[str, Any] = {"draws": int(draws)}
    if seed is not None:
        overrides["seed"] = int(seed)
    start_sf = load_scenario_file(path, overrides=overrides if start_as_of is None
                                  else {**overrides, "as_of": int(start_as_of)},
                                  catalogue=history.catalogue())
    start_as_of = start_sf.run.as_of
    if mid_as_of <= start_as_of:
        raise SimError(f"--as-of {mid_as_of} must be after the plan's start ({start_as_of})")
    mid_sf = load_scenario_file(path, overrides={**overrides, "as_of": int(mid_as_of)},
                                catalogue=history.catalogue())
    catalogue = targets_for_sets(list(start_sf.run.target_sets), declarations=history.declarations)
    runs = {}
    for label, sf in (("start", start_sf), ("mid", mid_sf)):
        ctx = baseline_context(sf, catalogue, history, path=path, plan_start=start_as_of)
        table, ds = evaluate_context(ctx)
        runs[label] = (ds, table.set_index("target_id"))
    out = []
    for t in as_targets(catalogue):
        ts, tm = runs["start"][1].loc[t.id], runs["mid"][1].loc[t.id]
        rec = dict(target_id=t.id, target_set=t.target_set, indicator=tm.get("indicator"),
                   kind=t.kind, comparator=t.comparator, value=tm.get("value"), unit=t.unit,
                   status=tm.get("status"), reason=tm.get("reason"),
                   p_start=ts.get("probability"), p_mid=tm.get("probability"),
                   required_annual=tm.get("required_annual"), required_unit=tm.get("required_unit"))
        ps, pm = as_number(rec["p_start"]), as_number(rec["p_mid"])
        if ps is not None and pm is not None:
            rec["delta_p"] = pm - ps
            rec["delta_se"] = math.sqrt(float(ts["mc_se"]) ** 2 + float(tm["mc_se"]) ** 2)
        rec["achieved_annual"], rec["latest"] = achieved(runs["start"][0], runs["mid"][0], t,
                                                         start_as_of, int(mid_as_of))
        out.append(rec)
    return pd.DataFrame(out)


def stderr_progress(msg: str) -> None:
    """Progress of a backtest on stderr (when it is a terminal)."""
    if sys.stderr.isatty():
        print(f"  backtest: {msg}", file=sys.stderr)
