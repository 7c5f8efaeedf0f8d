"""Hindcast: forecast past plans' targets from past origins and score the forecasts on what happened.

For every origin ``o`` (the as_of of a forecast) and every shipped scenario file whose targets
fall after ``o`` and whose outcomes are in the data:

1. calibrate on the observations dated ≤ ``o`` (:func:`sim.calibrate.fit.calibrate` reads only
   ``History.upto(o)``; with vintage ``first`` it uses GDP as first published) — a fresh fit with
   exactly the base years the targets need, never a cached one, so a backtest does not depend on
   what earlier runs left in the calibration cache;
2. simulate the file's **baseline** scenario with ``as_of = o`` (the scenario loader fits lever
   years to the new window; a :class:`~sim.run.context.RunContext` of the baseline) through the
   streaming evaluator (:func:`sim.run.midterm.evaluate_context`) and evaluate every target;
3. for each target whose realised value is known — the observation of the indicator in the target
   year (level, cumulative change or period sum, as
   :func:`~sim.evaluation.indicator.observation_for`), in the same
   vintage — record P(met), the outcome, and for the indicator's predictive ensemble the median,
   the 80 % / 95 % central intervals, PIT and CRPS; the same for the three reference forecasters
   of :mod:`sim.backtest.references` (which see only the target's own series up to ``o``).

The rows are scored by :mod:`sim.backtest.summary`. :func:`midterm_table` is the mid-term
evaluation of a file's baseline (``sim backtest --midterm``), on :mod:`sim.run.midterm`.
"""

from __future__ import annotations

import math
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
import xarray as xr

from sim.backtest import scores
from sim.backtest.references import column_prefix, reference_forecasts, to_scale
from sim.backtest.summary import INTERVALS
from sim.calibrate.fit import calibrate
from sim.errors import SimError
from sim.evaluation import as_number, compare, indicator_for, observation_for
from sim.history import History, load_history
from sim.paths import SCENARIOS_DIR
from sim.run.context import RunContext, base_years_needed
from sim.run.midterm import achieved
from sim.run.stream import evaluate_context
from sim.scenario.read import load_scenario_file
from sim.scenario.spec import ScenarioFile
from sim.targets import Target, as_targets, check_set_names, targets_for_sets
from sim.vocabulary import SERIES

DEFAULT_SCENARIO_FILES = ("baseline_2015.toml", "baseline_2020.toml")


# --------------------------------------------------------------------------------------------
# outcomes
# --------------------------------------------------------------------------------------------
class _VintageView:
    """A History whose ``select`` prefers one vintage (for ``observation_for``)."""

    def __init__(self, history: History, vintage: str):
        self._h, self._v = history, vintage

    def select(self, series: str, vintage: str | None = None) -> pd.DataFrame:
        return self._h.select(series, self._v)


def outcome(history: History, target: Target, vintage: str = "revised") -> dict | None:
    """The outcome row (value, year, source, vintage) of a target, in the chosen vintage."""
    return observation_for(_VintageView(history, vintage), target)


def _met(y: float, t: Target, value: float) -> bool:
    return bool(compare(np.array([y]), t.comparator, value, t.value_high, t.tolerance)[0])


def score_scale(t: Target) -> Callable[[Any], np.ndarray]:
    """Transform under which CRPS is comparable across indicators: ``log(1 + x/100)`` for a
    cumulative % change, ``logit(x/100)`` for a share series, ``log x`` otherwise — so CRPS is
    roughly a relative error (0.1 ≈ 10 %)."""
    if t.kind == "cumulative_change":
        return lambda x: np.log1p(np.maximum(np.asarray(x, float), -99.9999) / 100.0)
    scale = SERIES[t.series].scale
    return lambda x: to_scale(x, scale)


# --------------------------------------------------------------------------------------------
# one backtest
# --------------------------------------------------------------------------------------------
@dataclass
class BacktestResult:
    """Rows of a backtest (one per origin and target with a known outcome), the (origin, file)
    pairs skipped with the reason, and the settings."""

    rows: pd.DataFrame
    skipped: pd.DataFrame                  # origin, scenario_file, reason
    settings: dict = field(default_factory=dict)


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
                     path: Path | None = None, plan_start: int | None = None) -> RunContext:
    """The context of a file's baseline scenario alone, evaluated on ``catalogue``.

    The model is fitted now on ``history`` up to the file's as_of with exactly the base years
    the catalogue needs (:func:`~sim.run.context.base_years_needed`), not taken from the
    calibration cache, so the result does not depend on what earlier runs cached.
    """
    sf = sf.model_copy(update={"scenarios": {"baseline": sf.scenarios["baseline"]}})
    as_of = sf.run.as_of
    fitted = calibrate(history, as_of, sf.run.vintage,
                       base_years=base_years_needed(catalogue, as_of))
    return RunContext.from_spec(sf, path=path, fitted=fitted, history=history,
                                catalogue=catalogue, plan_start=plan_start)


def _forecast_columns(forecaster: str, x, y: float, t: Target, p: float | None) -> dict:
    """P(met), quantiles, PIT, CRPS, interval hits of one forecaster on one row."""
    pre = column_prefix(forecaster)
    out: dict[str, Any] = {f"{pre}p_met": p}
    if x is None:
        return out
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return out
    f = score_scale(t)
    med = float(np.median(x))
    out.update({f"{pre}median": med})
    for level in INTERVALS:
        lo, hi = scores.central_interval(x, level)
        tag = f"{round(level * 100)}"
        out[f"{pre}lo{tag}"], out[f"{pre}hi{tag}"] = float(lo), float(hi)
        out[f"{pre}in{tag}"] = bool(scores.covered(lo, hi, y))
    out[f"{pre}pit"] = float(scores.pit(x, y))
    out[f"{pre}crps"] = float(scores.crps_ensemble(x, y))
    fx, fy = f(x), f(np.array(y))
    ok = np.isfinite(fx)
    out[f"{pre}crps_log"] = (float(scores.crps_ensemble(fx[ok], fy))
                             if ok.any() and np.isfinite(fy) else math.nan)
    return out


def _year(v: int | None) -> float | None:
    return None if v is None else float(v)


def _score_origin(ctx: RunContext, ds: xr.Dataset, table: pd.DataFrame,
                  outcomes: dict[str, dict], origin: int, vintage: str, file: str
                  ) -> list[dict]:
    """The rows of one origin: the model's and the references' forecasts of every target of
    ``ctx.catalogue`` (all with a known outcome), scored on that outcome."""
    table = table.set_index("target_id")
    draws, rows = ctx.settings.draws, []
    for t in as_targets(ctx.catalogue):
        tr = table.loc[t.id]
        obs = outcomes[t.id]
        y = obs["value"]
        value = as_number(tr.get("value"))
        rec = dict(origin=origin, vintage=vintage, scenario_file=file, target_set=t.target_set,
                   target_id=t.id, series=t.series, kind=t.kind, comparator=t.comparator,
                   value=value, value_high=t.value_high, base_year=_year(t.base_year),
                   period_start=_year(t.period_start), target_year=t.target_year,
                   horizon=(t.target_year or origin) - origin, realised=y,
                   outcome_source=obs["source"], outcome_vintage=obs["vintage"])
        if value is None or tr["status"] != "evaluated":
            rec.update(status="not evaluable", reason=tr.get("reason") or "no target value")
            rows.append(rec)
            continue
        met = _met(y, t, value)
        rec.update(status="scored", reason="", outcome="met" if met else "missed",
                   outcome_met=int(met), mc_se=float(tr["mc_se"]))
        ind = indicator_for(ds, t).values
        x = None if ind is None else ind[0]    # the baseline's draws
        rec.update(_forecast_columns("model", x, y, t, float(tr["probability"])))
        rng = np.random.default_rng([ctx.settings.seed, origin, zlib.crc32(t.id.encode())])
        refs = reference_forecasts(ctx.history, t, value, origin, vintage, draws, rng)
        for name, rf in refs.items():
            rec.update(_forecast_columns(name, rf.draws, y, t, rf.p_met))
            if rf.reason:
                rec[f"{name}_reason"] = rf.reason
        rows.append(rec)
    return rows


def _skip_reason(known: pd.DataFrame, origin: int) -> str:
    """Why an origin has nothing to forecast in a file ("" when it has)."""
    if known.empty:
        return "no target of the chosen sets has a realised value in the data"
    if not (known["target_year"].astype(int) > origin).any():
        return f"no target year after {origin}"
    return ""


def run_backtest(origins: Iterable[int], target_sets: Iterable[str] | None = None,
                 vintage: str = "first", draws: int = 2000, seed: int | None = None,
                 data_dir: str | Path | None = None, scenario_dir: str | Path | None = None,
                 series_filter: Iterable[str] | None = None,
                 progress: Callable[[str], object] | None = None,
                 history: History | None = None) -> BacktestResult:
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
    """
    if vintage not in ("first", "revised"):
        raise SimError(f"vintage must be 'first' or 'revised', got '{vintage}'")
    origins = list(origins)
    history = history if history is not None else load_history(data_dir)
    files = scenario_files(target_sets, scenario_dir)
    overrides: dict[str, Any] = {"draws": int(draws), "vintage": vintage}
    if seed is not None:
        overrides["seed"] = int(seed)
    rows: list[dict] = []
    skipped = []
    for path, sets in files:
        catalogue = targets_for_sets(list(sets))
        if series_filter is not None:
            catalogue = catalogue[catalogue["series"].isin(list(series_filter))].reset_index(drop=True)
        found = {t.id: outcome(history, t, vintage) for t in as_targets(catalogue)}
        outcomes = {k: o for k, o in found.items() if o is not None}
        known = catalogue[catalogue["id"].isin(list(outcomes))]
        for origin in origins:
            reason = _skip_reason(known, origin)
            if not reason:
                later = known[known["target_year"].astype(int) > origin].reset_index(drop=True)
                if progress:
                    progress(f"{path.name} as of {origin}")
                try:
                    sf = load_scenario_file(path, overrides={**overrides, "as_of": origin})
                    ctx = baseline_context(sf, later, history, path=path)
                    # every draw in one chunk: each draw of the indicator is scored
                    table, ds = evaluate_context(ctx, with_history=False,
                                                 chunk_draws=ctx.settings.draws)
                except SimError as exc:
                    reason = str(exc).splitlines()[0]
                else:
                    rows += _score_origin(ctx, ds, table, outcomes, origin, vintage, path.name)
            if reason:
                skipped.append(dict(origin=origin, scenario_file=path.name, reason=reason))
    settings = dict(origins=origins, vintage=vintage, draws=int(draws), seed=seed,
                    target_sets=[s for _, ss in files for s in ss],
                    scenario_files=[p.name for p, _ in files],
                    data_dir=str(history.data_dir), data_hash=history.data_hash)
    return BacktestResult(pd.DataFrame(rows),
                          pd.DataFrame(skipped, columns=["origin", "scenario_file", "reason"]),
                          settings)


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
                                  else {**overrides, "as_of": int(start_as_of)})
    start_as_of = start_sf.run.as_of
    if mid_as_of <= start_as_of:
        raise SimError(f"--as-of {mid_as_of} must be after the plan's start ({start_as_of})")
    mid_sf = load_scenario_file(path, overrides={**overrides, "as_of": int(mid_as_of)})
    catalogue = targets_for_sets(list(start_sf.run.target_sets))
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
