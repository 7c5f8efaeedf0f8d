"""Scores of a backtest: the model and the references on the same rows, with intervals.

Scores (:func:`summarize`) are means over rows with cluster-bootstrap intervals (a cluster = one
indicator in one target year: the rows of different origins and plans share the outcome).
Duplicates are dropped before scoring: P(met) scores count an event (origin, series, year,
comparator, value) once (:data:`EVENT_KEY`); distribution scores count an indicator forecast
(origin, series, year, kind, window) once (:data:`INDICATOR_KEY`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.backtest import scores
from sim.backtest.references import FORECASTERS, LABELS, column_prefix

INTERVALS = (0.8, 0.95)
"""Central intervals of the predictive ensembles whose coverage is scored."""
GDP_BASED = ("gdp_nominal", "gdp_real", "gdp_per_capita", "gdp_per_capita_usd",
             "energy_intensity", "co2_intensity", "water_intensity", "land_per_gdp")
"""Series defined on GDP (levels or per unit of GDP): the ones a GDP revision moves."""

EVENT_KEY = ["origin", "series", "target_year", "kind", "comparator", "value", "value_high", "base_year"]
INDICATOR_KEY = ["origin", "series", "target_year", "kind", "base_year", "period_start"]


def dedupe(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """``df`` without the rows that repeat an earlier row's ``key`` columns."""
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
    out: dict[str, Any] = {"log_score_eps": scores.LOG_EPS, "n_boot": n_boot, "bootstrap_seed": seed,
           "cluster": "series × target year", "forecasters": {f: LABELS[f] for f in FORECASTERS}}
    sc = rows[rows.get("status", pd.Series(dtype=str)) == "scored"].copy() if len(rows) else rows
    out["n_scored_rows"] = int(len(sc))
    if sc.empty:
        out["sets"] = {}
        return out
    sc["cluster"] = sc["series"] + "|" + sc["target_year"].astype(str)
    nan = pd.Series(np.nan, index=sc.index)
    have = {f: sc[f"{column_prefix(f)}p_met"].notna() & sc.get(f"{column_prefix(f)}pit", nan).notna()
            for f in FORECASTERS}
    common = np.logical_and.reduce([have[f] for f in FORECASTERS])
    sets = {"common": (sc[common], FORECASTERS), "all": (sc[have["model"]], ("model", "plan"))}
    out["sets"] = {}
    for set_name, (df, fs) in sets.items():
        ev, ind = dedupe(df, EVENT_KEY), dedupe(df, INDICATOR_KEY)
        block: dict[str, Any] = {"n_event_rows": int(len(ev)), "n_indicator_rows": int(len(ind)),
                 "n_clusters": int(ev["cluster"].nunique()) if len(ev) else 0,
                 "n_met": int(ev["outcome_met"].sum()) if len(ev) else 0,
                 "forecasters": {}}
        if len(ev) == 0:
            out["sets"][set_name] = block
            continue
        o = ev["outcome_met"].to_numpy(float)
        P = np.c_[[ev[f"{column_prefix(f)}p_met"].to_numpy(float) for f in fs]].T           # (n, k)
        bs = scores.brier_score(P, o[:, None])
        ls = scores.log_score(P, o[:, None])
        k = len(fs)
        # paired differences to the model (reference − model: > 0 means the model is better)
        bs_ci = _ci(np.c_[bs, bs[:, 1:] - bs[:, :1]], ev["cluster"], n_boot, seed)
        ls_ci = _ci(np.c_[ls, ls[:, 1:] - ls[:, :1]], ev["cluster"], n_boot, seed)
        crps = np.c_[[ind[f"{column_prefix(f)}crps_log"].to_numpy(float) for f in fs]].T
        okc = np.isfinite(crps).all(axis=1)
        crps_ci = _ci(np.c_[crps[okc], crps[okc][:, 1:] - crps[okc][:, :1]], ind["cluster"][okc],
                      n_boot, seed)
        for j, f in enumerate(fs):
            pre = column_prefix(f)
            fb: dict[str, Any] = {"label": LABELS[f],
                  "brier": _stat(bs_ci.mean[j], bs_ci.low[j], bs_ci.high[j]),
                  "log_score": _stat(ls_ci.mean[j], ls_ci.low[j], ls_ci.high[j]),
                  "crps_log": _stat(crps_ci.mean[j], crps_ci.low[j], crps_ci.high[j]),
                  "mean_p_met": _r(float(P[:, j].mean()))}
            if j > 0:
                d = k + j - 1   # column of the paired difference to the model
                fb["brier_minus_model"] = _stat(bs_ci.mean[d], bs_ci.low[d], bs_ci.high[d])
                fb["log_score_minus_model"] = _stat(ls_ci.mean[d], ls_ci.low[d], ls_ci.high[d])
                fb["crps_log_minus_model"] = _stat(crps_ci.mean[d], crps_ci.low[d], crps_ci.high[d])
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
    sc = dedupe(sc, INDICATOR_KEY)
    out = []
    for f in FORECASTERS:
        pre = column_prefix(f)
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
# vintages
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
