"""Hindcast: forecast past plans' targets from past origins and score the forecasts on what happened.

For every origin ``o`` (the as_of of a forecast) and every shipped scenario file whose targets
fall after ``o`` and whose outcomes are in the data:

1. calibrate on the observations dated ≤ ``o`` (:func:`sim.calibrate.fit.calibrate` reads only
   ``History.upto(o)``; with vintage ``first`` it uses GDP as first published);
2. simulate the file's **baseline** scenario with ``as_of = o`` (the scenario loader fits lever
   years to the new window) and evaluate every target (:func:`sim.evaluation.evaluate`);
3. for each target whose realised value is known — the observation of the indicator in the target
   year (level, cumulative change or period sum, as :func:`sim.evaluation.observation_for`), in the same
   vintage — record P(met), the outcome, and for the indicator's predictive ensemble the median,
   the 80 % / 95 % central intervals, PIT and CRPS; the same for the three reference forecasters
   of :mod:`sim.backtest.references` (which see only the target's own series up to ``o``).

Scores (:func:`summarize`) are means over rows with cluster-bootstrap intervals (a cluster = one
indicator in one target year: the rows of different origins and plans share the outcome).
Duplicates are dropped before scoring: P(met) scores count an event (origin, series, year,
comparator, value) once; distribution scores count an indicator forecast (origin, series, year,
kind, window) once.
"""

from __future__ import annotations

import math
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.backtest import scores
from sim.evaluation import as_number
from sim.errors import SimError
from sim.backtest.references import LABELS, REFERENCES, reference_forecasts

FORECASTERS = ("model",) + REFERENCES
DEFAULT_ORIGINS = (2008, 2018)
DEFAULT_SCENARIO_FILES = ("baseline_2015.toml", "baseline_2020.toml")
GDP_BASED = ("gdp_nominal", "gdp_real", "gdp_per_capita", "gdp_per_capita_usd",
             "energy_intensity", "co2_intensity", "water_intensity", "land_per_gdp")
"""Series defined on GDP (levels or per unit of GDP): the ones a GDP revision moves."""
INTERVALS = (0.8, 0.95)


# --------------------------------------------------------------------------------------------
# outcomes
# --------------------------------------------------------------------------------------------
class _VintageView:
    """A History whose ``select`` prefers one vintage (for :func:`sim.evaluation.observation_for`)."""

    def __init__(self, history, vintage):
        self._h, self._v = history, vintage

    def select(self, series, vintage=None):
        return self._h.select(series, self._v)


def observed_value(history, row, vintage: str = "revised") -> float | None:
    """Realised value of a target's indicator in its target year (``None`` when not in the data)."""
    obs = outcome(history, row, vintage)
    return None if obs is None else obs["value"]


def outcome(history, row, vintage: str = "revised") -> dict | None:
    """The outcome row (value, year, source, vintage) of a target, in the chosen vintage."""
    from sim.evaluation import observation_for

    return observation_for(_VintageView(history, vintage), row)




def _met(y: float, row, value: float) -> bool:
    from sim.evaluation import compare

    return bool(compare(np.array([y]), row["comparator"], value, as_number(row.get("value_high")),
                        as_number(row.get("tolerance")))[0])


def score_scale(row):
    """Transform under which CRPS is comparable across indicators: ``log(1 + x/100)`` for a
    cumulative % change, ``logit(x/100)`` for a share series, ``log x`` otherwise — so CRPS is
    roughly a relative error (0.1 ≈ 10 %)."""
    from sim.backtest.references import to_scale
    from sim.vocabulary import SERIES

    if row["kind"] == "cumulative_change":
        return lambda x: np.log1p(np.maximum(np.asarray(x, float), -99.9999) / 100.0)
    scale = SERIES[row["series"]].scale
    return lambda x: to_scale(x, scale)


# --------------------------------------------------------------------------------------------
# one backtest
# --------------------------------------------------------------------------------------------
@dataclass
class BacktestResult:
    rows: pd.DataFrame                     # one per (origin, target) with a known outcome
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


def scenario_files(target_sets=None, scenario_dir=None) -> list[tuple[Path, tuple[str, ...]]]:
    """Shipped scenario files and the requested target sets each covers.

    Raises SimError for a requested set no shipped file evaluates.
    """
    from sim.paths import SCENARIOS_DIR
    from sim.scenario.read import load_scenario_file
    from sim.targets import check_set_names

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
    missing = [s for s in (target_sets or ()) if s not in covered]
    if missing:
        raise SimError(f"target set '{missing[0]}' is not evaluated by any shipped scenario file "
                       f"({', '.join(DEFAULT_SCENARIO_FILES)} in {sdir})")
    if not out:
        raise SimError(f"no scenario file ({', '.join(DEFAULT_SCENARIO_FILES)}) in {sdir}")
    return out


def _base_years(catalogue, as_of):
    # the same choice as sim.run.pipeline.simulate_file
    return sorted({int(b) for b in catalogue["base_year"].dropna() if int(b) < as_of}
                  | {int(p) - 1 for p in catalogue["period_start"].dropna() if int(p) - 1 < as_of})


def _forecast_columns(prefix: str, x, y: float, row, p: float | None) -> dict:
    """P(met), quantiles, PIT, CRPS, interval hits of one forecaster on one row."""
    pre = "" if prefix == "model" else f"{prefix}_"
    out = {f"{pre}p_met": p}
    if x is None:
        return out
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return out
    f = score_scale(row)
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
    out[f"{pre}crps_log"] = float(scores.crps_ensemble(fx[ok], fy)) if ok.any() and np.isfinite(fy) else math.nan
    return out


def run_backtest(origins, target_sets=None, vintage: str = "first", draws: int = 2000,
                 seed: int | None = None, data_dir=None, scenario_dir=None, series_filter=None,
                 progress=None) -> BacktestResult:
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
    series_filter : collection of str, optional
        Only targets on these series (e.g. :data:`GDP_BASED` for the vintage comparison).
    progress : callable(str), optional
        Called with a short message per origin.
    """
    from sim.calibrate.fit import calibrate
    from sim.evaluation import evaluate, indicator_for
    from sim.history import load_history
    from sim.run.pipeline import simulate_file
    from sim.scenario.read import load_scenario_file
    from sim.targets import targets_for_sets

    if vintage not in ("first", "revised"):
        raise SimError(f"vintage must be 'first' or 'revised', got '{vintage}'")
    history = load_history(data_dir)
    files = scenario_files(target_sets, scenario_dir)
    rows, skipped = [], []
    for path, sets in files:
        catalogue = targets_for_sets(list(sets))
        if series_filter is not None:
            catalogue = catalogue[catalogue["series"].isin(list(series_filter))].reset_index(drop=True)
        outcomes = {r["id"]: outcome(history, r, vintage)
                    for r in (rr.to_dict() for _, rr in catalogue.iterrows())}
        realised = {k: (None if o is None else o["value"]) for k, o in outcomes.items()}
        known = catalogue[catalogue["id"].map(lambda i: realised[i] is not None)].reset_index(drop=True)
        for origin in origins:
            tag = f"{path.name} as of {origin}"
            if known.empty:
                skipped.append(dict(origin=origin, scenario_file=path.name,
                                    reason="no target of the chosen sets has a realised value in the data"))
                continue
            later = known[known["target_year"].astype(int) > origin].reset_index(drop=True)
            if later.empty:
                skipped.append(dict(origin=origin, scenario_file=path.name,
                                    reason=f"no target year after {origin}"))
                continue
            if progress:
                progress(tag)
            try:
                ov = {"as_of": origin, "draws": int(draws), "vintage": vintage}
                if seed is not None:
                    ov["seed"] = int(seed)
                sf = load_scenario_file(path, overrides=ov)
                sf = sf.model_copy(update={"scenarios": {"baseline": sf.scenarios["baseline"]}})
                fitted = calibrate(history, origin, vintage, base_years=_base_years(later, origin))
                _, _, ds, _ = simulate_file(sf, history, later, data_dir=data_dir, fitted=fitted)
            except SimError as exc:
                skipped.append(dict(origin=origin, scenario_file=path.name,
                                    reason=str(exc).splitlines()[0]))
                continue
            tv = {"baseline": dict(sf.scenarios["baseline"].target_values)}
            ev = evaluate(ds, later, tv, history=None)
            table = ev.table.set_index("target_id")
            for _, cr in later.iterrows():
                row = cr.to_dict()
                tr = table.loc[row["id"]]
                y = realised[row["id"]]
                value = as_number(tr.get("value"))
                rec = dict(origin=origin, vintage=vintage, scenario_file=path.name,
                           target_set=row["target_set"], target_id=row["id"], series=row["series"],
                           kind=row["kind"], comparator=row["comparator"], value=value,
                           value_high=as_number(row.get("value_high")),
                           base_year=as_number(row.get("base_year")),
                           period_start=as_number(row.get("period_start")),
                           target_year=int(row["target_year"]),
                           horizon=int(row["target_year"]) - origin, realised=y,
                           outcome_source=outcomes[row["id"]]["source"],
                           outcome_vintage=outcomes[row["id"]]["vintage"])
                if value is None or tr["status"] != "evaluated":
                    rec.update(status="not evaluable",
                               reason=tr.get("reason") or "no target value")
                    rows.append(rec)
                    continue
                met = _met(y, row, value)
                rec.update(status="scored", reason="", outcome="met" if met else "missed",
                           outcome_met=int(met), mc_se=float(tr["mc_se"]))
                x = indicator_for(ds, row).values[0]
                rec.update(_forecast_columns("model", x, y, row, float(tr["probability"])))
                rng = np.random.default_rng([int(sf.run.seed), origin, zlib.crc32(row["id"].encode())])
                refs = reference_forecasts(history, row, value, origin, vintage, int(draws), rng)
                for name, rf in refs.items():
                    rec.update(_forecast_columns(name, rf.draws, y, row, rf.p_met))
                    if rf.reason:
                        rec[f"{name}_reason"] = rf.reason
                rows.append(rec)
    settings = dict(origins=list(origins), vintage=vintage, draws=int(draws), seed=seed,
                    target_sets=[s for _, ss in files for s in ss],
                    scenario_files=[p.name for p, _ in files],
                    data_dir=str(history.data_dir), data_hash=history.data_hash)
    return BacktestResult(pd.DataFrame(rows), pd.DataFrame(skipped, columns=["origin", "scenario_file", "reason"]),
                          settings)


# --------------------------------------------------------------------------------------------
# scores
# --------------------------------------------------------------------------------------------
def _pre(f):
    return "" if f == "model" else f"{f}_"


EVENT_KEY = ["origin", "series", "target_year", "kind", "comparator", "value", "value_high", "base_year"]
INDICATOR_KEY = ["origin", "series", "target_year", "kind", "base_year", "period_start"]


def _dedupe(df, key):
    return df.loc[~df.duplicated(subset=key)] if len(df) else df


def _ci(values, groups, n_boot, seed):
    return scores.bootstrap_mean_ci(values, groups=groups, n_boot=n_boot, seed=seed)


def _stat(mean, lo, hi):
    return {"mean": _r(mean), "low": _r(lo), "high": _r(hi)}


def _r(x, nd=6):
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def summarize(rows: pd.DataFrame, n_boot: int = 2000, seed: int = 0, n_bins: int = 10) -> dict:
    """Scores of the model and of the references on the same rows (see the module docstring).

    Two row sets: ``common`` — rows where every forecaster has a forecast (the comparison), and
    ``all`` — every scored row (model and the plan-is-met reference only; the straight line and
    the random walk cannot be formed for series with fewer than three observed years).
    """
    out = {"log_score_eps": scores.LOG_EPS, "n_boot": n_boot, "bootstrap_seed": seed,
           "cluster": "series × target year", "forecasters": {f: LABELS[f] for f in FORECASTERS}}
    sc = rows[rows.get("status", pd.Series(dtype=str)) == "scored"].copy() if len(rows) else rows
    out["n_scored_rows"] = int(len(sc))
    if sc.empty:
        out["sets"] = {}
        return out
    sc["cluster"] = sc["series"] + "|" + sc["target_year"].astype(str)
    have = {f: sc[f"{_pre(f)}p_met"].notna() & sc.get(f"{_pre(f)}pit", pd.Series(np.nan, index=sc.index)).notna()
            for f in FORECASTERS}
    common = np.logical_and.reduce([have[f] for f in FORECASTERS])
    sets = {"common": (sc[common], FORECASTERS), "all": (sc[have["model"]], ("model", "plan"))}
    out["sets"] = {}
    for set_name, (df, fs) in sets.items():
        ev, ind = _dedupe(df, EVENT_KEY), _dedupe(df, INDICATOR_KEY)
        block = {"n_event_rows": int(len(ev)), "n_indicator_rows": int(len(ind)),
                 "n_clusters": int(ev["cluster"].nunique()) if len(ev) else 0,
                 "n_met": int(ev["outcome_met"].sum()) if len(ev) else 0,
                 "forecasters": {}}
        if len(ev) == 0:
            out["sets"][set_name] = block
            continue
        o = ev["outcome_met"].to_numpy(float)
        P = np.c_[[ev[f"{_pre(f)}p_met"].to_numpy(float) for f in fs]].T           # (n, k)
        bs = scores.brier_score(P, o[:, None])
        ls = scores.log_score(P, o[:, None])
        k = len(fs)
        # paired differences to the model (reference − model: > 0 means the model is better)
        bs_ci = _ci(np.c_[bs, bs[:, 1:] - bs[:, :1]], ev["cluster"], n_boot, seed)
        ls_ci = _ci(np.c_[ls, ls[:, 1:] - ls[:, :1]], ev["cluster"], n_boot, seed)
        crps = np.c_[[ind[f"{_pre(f)}crps_log"].to_numpy(float) for f in fs]].T
        okc = np.isfinite(crps).all(axis=1)
        crps_ci = _ci(np.c_[crps[okc], crps[okc][:, 1:] - crps[okc][:, :1]], ind["cluster"][okc], n_boot, seed)
        for j, f in enumerate(fs):
            pre = _pre(f)
            fb = {"label": LABELS[f],
                  "brier": _stat(bs_ci.mean[j], bs_ci.low[j], bs_ci.high[j]),
                  "log_score": _stat(ls_ci.mean[j], ls_ci.low[j], ls_ci.high[j]),
                  "crps_log": _stat(crps_ci.mean[j], crps_ci.low[j], crps_ci.high[j]),
                  "mean_p_met": _r(float(P[:, j].mean()))}
            if j > 0:
                fb["brier_minus_model"] = _stat(bs_ci.mean[k + j - 1], bs_ci.low[k + j - 1], bs_ci.high[k + j - 1])
                fb["log_score_minus_model"] = _stat(ls_ci.mean[k + j - 1], ls_ci.low[k + j - 1], ls_ci.high[k + j - 1])
                fb["crps_log_minus_model"] = _stat(crps_ci.mean[k + j - 1], crps_ci.low[k + j - 1], crps_ci.high[k + j - 1])
            n_ind = len(ind)
            for level in INTERVALS:
                tag = f"{round(level * 100)}"
                hits = ind[f"{pre}in{tag}"].astype(float).to_numpy()
                hc = _ci(hits, ind["cluster"], n_boot, seed)
                fb[f"coverage{tag}"] = {"observed": _r(hits.mean()), "low": _r(hc.low), "high": _r(hc.high),
                                        "nominal": level, "n": n_ind,
                                        "binomial_99_halfwidth": _r(scores.coverage_tolerance(level, n_ind))}
            fb["pit_histogram"] = np.histogram(ind[f"{pre}pit"].to_numpy(float), bins=10,
                                               range=(0, 1))[0].tolist()
            rel = scores.reliability_bins(P[:, j], o, n_bins=n_bins)
            fb["reliability"] = [{k2: (_r(v) if isinstance(v, float) else int(v)) for k2, v in r.items()}
                                 for r in rel.to_dict("records")]
            block["forecasters"][f] = fb
        out["sets"][set_name] = block
    return out


def coverage_by_horizon(rows: pd.DataFrame) -> pd.DataFrame:
    """80 % / 95 % coverage and mean log-scale CRPS per horizon and forecaster (indicator rows,
    duplicates dropped; each forecaster on its own available rows)."""
    sc = rows[rows.get("status", pd.Series(dtype=str)) == "scored"]
    if sc.empty:
        return pd.DataFrame(columns=["forecaster", "horizon", "n", "coverage80", "coverage95", "crps_log"])
    sc = _dedupe(sc, INDICATOR_KEY)
    out = []
    for f in FORECASTERS:
        pre = _pre(f)
        if f"{pre}pit" not in sc:
            continue
        df = sc[sc[f"{pre}pit"].notna()]
        for h, g in df.groupby("horizon"):
            out.append(dict(forecaster=f, horizon=int(h), n=len(g),
                            coverage80=float(g[f"{pre}in80"].astype(float).mean()),
                            coverage95=float(g[f"{pre}in95"].astype(float).mean()),
                            crps_log=float(g[f"{pre}crps_log"].mean())))
    return pd.DataFrame(out)


def summary_table(summary: dict) -> str:
    """Plain-text table of :func:`summarize` (one block per row set)."""
    lines = []
    for set_name, block in summary.get("sets", {}).items():
        title = {"common": "rows where every forecaster has a forecast (the comparison)",
                 "all": "every scored row (model and the plan-is-met reference)"}[set_name]
        lines.append(f"{title}: {block['n_event_rows']} target events ({block['n_met']} met), "
                     f"{block['n_indicator_rows']} indicator forecasts, {block['n_clusters']} "
                     f"indicator-years")
        if not block["forecasters"]:
            lines.append("  (none)")
            continue
        head = (f"  {'forecaster':30s} {'Brier [95% CI]':>24s} {'log score [95% CI]':>24s} "
                f"{'cov80':>6s} {'cov95':>6s} {'CRPS(log) [95% CI]':>24s}")
        lines += [head, "  " + "-" * (len(head) - 2)]
        for f, fb in block["forecasters"].items():
            def ci(s):
                return f"{s['mean']:.3f} [{s['low']:.3f}, {s['high']:.3f}]" if s["mean"] is not None else "–"
            lines.append(f"  {fb['label']:30s} {ci(fb['brier']):>24s} {ci(fb['log_score']):>24s} "
                         f"{_pct(fb['coverage80']['observed']):>6s} {_pct(fb['coverage95']['observed']):>6s} "
                         f"{ci(fb['crps_log']):>24s}")
        n = block["n_indicator_rows"]
        lines.append("  coverage, cluster-bootstrap 95% CI: " + "; ".join(
            f"{fb['label'].split(',')[0].split(' (')[0]} 80% [{_pct(fb['coverage80']['low'])}, "
            f"{_pct(fb['coverage80']['high'])}] 95% [{_pct(fb['coverage95']['low'])}, "
            f"{_pct(fb['coverage95']['high'])}]" for fb in block["forecasters"].values()))
        lines.append(f"  nominal coverage 80% / 95%; were the {n} intervals independent, the observed rate "
                     f"would fall within ±{100 * scores.coverage_tolerance(0.8, max(n, 1)):.0f} / "
                     f"±{100 * scores.coverage_tolerance(0.95, max(n, 1)):.0f} pp (99%); they are not: "
                     f"the forecasts of one indicator-year from successive origins move together, "
                     f"so {block['n_clusters']} indicator-years is the effective sample size")
        lines.append("")
    lines.append(f"Brier and log score (nats, P clipped to [{scores.LOG_EPS:g}, 1 − {scores.LOG_EPS:g}]) "
                 f"of P(met); CRPS of the indicator on the log / logit scale (≈ relative error); "
                 f"intervals: cluster bootstrap over indicator-years, {summary.get('n_boot')} resamples.")
    return "\n".join(lines)


def _pct(x):
    return "–" if x is None else f"{100 * x:.0f}%"


# --------------------------------------------------------------------------------------------
# vintages and mid-term
# --------------------------------------------------------------------------------------------
def vintage_table(first: pd.DataFrame, revised: pd.DataFrame) -> pd.DataFrame:
    """P(met) and verdict of GDP-based targets under first-published vs revised data.

    ``first`` and ``revised`` are backtest rows of the two vintages (same origins and draws).
    The verdict of each vintage is judged on that vintage's realised value.
    """
    cols = ["origin", "target_id", "series", "target_year", "value", "p_met", "realised", "outcome", "status"]

    def pick(df):
        if df.empty:
            return pd.DataFrame(columns=cols)
        df = df[df["series"].isin(GDP_BASED)]
        return df.reindex(columns=cols)

    a, b = pick(first), pick(revised)
    m = a.merge(b, on=["origin", "target_id", "series", "target_year", "value"], how="outer",
                suffixes=("_first", "_revised"))
    m = m[m["status_first"].eq("scored") | m["status_revised"].eq("scored")]
    m["delta_p"] = m["p_met_revised"] - m["p_met_first"]
    m["verdict_differs"] = (m["outcome_first"].notna() & m["outcome_revised"].notna()
                            & (m["outcome_first"] != m["outcome_revised"]))
    return m.sort_values(["target_id", "origin"]).reset_index(drop=True)


def midterm_table(path, mid_as_of: int, start_as_of: int | None = None, draws: int = 2000,
                  seed: int | None = None, data_dir=None) -> pd.DataFrame:
    """Mid-term evaluation of a scenario file's baseline: the run at the plan's start
    (``start_as_of``, default the file's own as_of = the plan's base year) next to the run at
    ``mid_as_of``.

    Columns: ``target_id, indicator, value, unit, p_start, p_mid, delta_p, delta_se``
    (independent runs: ``sqrt(se_start² + se_mid²)``), ``required_annual`` (rate still needed
    from mid_as_of, %/yr or per year), ``achieved_annual`` (constant annual rate observed from
    the start to mid_as_of), ``required_unit``, ``latest`` (the indicator's value at mid_as_of:
    level, or the cumulative change already achieved), ``status``.

    ``achieved_annual``: for a level target ``100 ((S_mid / S_start)^(1/(mid − start)) − 1)``
    with S the observed level at each as_of (the median of the draws, which all carry the
    observation); for a cumulative change from base year b, ``100 (exp(c / (mid − b)) − 1)``
    with c the observed log change b → mid; for a cumulative sum, the observed sum over the
    window's years ≤ mid divided by their number (not in the ensemble: left blank).
    """
    from sim.calibrate.fit import calibrate
    from sim.evaluation import evaluate, indicator_for
    from sim.history import load_history
    from sim.run.pipeline import simulate_file
    from sim.scenario.read import load_scenario_file
    from sim.targets import targets_for_sets

    history = load_history(data_dir)
    base = load_scenario_file(path)
    start_as_of = base.run.as_of if start_as_of is None else int(start_as_of)
    if mid_as_of <= start_as_of:
        raise SimError(f"--as-of {mid_as_of} must be after the plan's start ({start_as_of})")
    catalogue = targets_for_sets(list(base.run.target_sets))
    runs = {}
    for label, a in (("start", start_as_of), ("mid", int(mid_as_of))):
        ov = {"as_of": a, "draws": int(draws)}
        if seed is not None:
            ov["seed"] = int(seed)
        sf = load_scenario_file(path, overrides=ov)
        sf = sf.model_copy(update={"scenarios": {"baseline": sf.scenarios["baseline"]}})
        fitted = calibrate(history, a, sf.run.vintage, base_years=_base_years(catalogue, a))
        _, _, ds, _ = simulate_file(sf, history, catalogue, data_dir=data_dir, fitted=fitted)
        tv = {"baseline": dict(sf.scenarios["baseline"].target_values)}
        runs[label] = (ds, evaluate(ds, catalogue, tv, history=history).table.set_index("target_id"))
    out = []
    for _, cr in catalogue.iterrows():
        row = cr.to_dict()
        ts, tm = runs["start"][1].loc[row["id"]], runs["mid"][1].loc[row["id"]]
        rec = dict(target_id=row["id"], target_set=row["target_set"], indicator=tm.get("indicator"),
                   kind=row["kind"], comparator=row["comparator"], value=tm.get("value"),
                   unit=row.get("unit"), status=tm.get("status"), reason=tm.get("reason"),
                   p_start=ts.get("probability"), p_mid=tm.get("probability"),
                   required_annual=tm.get("required_annual"), required_unit=tm.get("required_unit"))
        ps, pm = as_number(rec["p_start"]), as_number(rec["p_mid"])
        if ps is not None and pm is not None:
            rec["delta_p"] = pm - ps
            rec["delta_se"] = math.sqrt(float(ts["mc_se"]) ** 2 + float(tm["mc_se"]) ** 2)
        rec["achieved_annual"], rec["latest"] = _achieved(runs["start"][0], runs["mid"][0], row,
                                                          start_as_of, int(mid_as_of), indicator_for)
        out.append(rec)
    return pd.DataFrame(out)


def _achieved(ds_start, ds_mid, row, a0, a1, indicator_for):
    try:
        ind_mid = indicator_for(ds_mid, row)
    except Exception:
        return math.nan, math.nan
    if ind_mid.values is None:
        return math.nan, math.nan
    if ind_mid.kind == "level":
        ind0 = indicator_for(ds_start, row)
        if ind0.values is None or ind0.start is None or ind_mid.start is None:
            return math.nan, float(ind_mid.start[0]) if ind_mid.start is not None else math.nan
        s0, s1 = float(ind0.start[0]), float(ind_mid.start[0])
        if s0 > 0 and s1 > 0:
            return 100 * ((s1 / s0) ** (1 / (a1 - a0)) - 1), s1
        return math.nan, s1
    if ind_mid.kind == "cumulative_change":
        b = int(row["base_year"])
        if b < a1:
            return 100 * math.expm1(ind_mid.done / (a1 - b)), 100 * math.expm1(ind_mid.done)
    return math.nan, math.nan


def stderr_progress(msg: str) -> None:
    if sys.stderr.isatty():
        print(f"  backtest: {msg}", file=sys.stderr)
