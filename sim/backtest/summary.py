"""Scores of a backtest: the model's three forecasts and the references on the same rows.

Scores (:func:`summarize`) are means over rows with cluster-bootstrap intervals (a cluster = one
indicator in one target year: the rows of different origins and plans share the outcome).
Duplicates are dropped before scoring: P(met) scores count an event (origin, indicator, year,
comparator, value) once (:data:`EVENT_KEY`); distribution scores count an indicator forecast
(origin, indicator, year, kind, window) once (:data:`INDICATOR_KEY`). The indicator is the
target's series, or its id when no series measures it (:func:`indicator_key`).

Row sets (:data:`ROW_SETS`), each scored on the forecasters that have a P(met) on every row:

* ``common`` — every forecaster (the model's combined, trend and record forecasts, the base
  rate, the plan at P = 0.95 and 1, the straight line and the random walk);
* ``trend`` — every row with a trend forecast (no straight line or random walk, which need three
  observed years);
* ``all`` — every scored row: combined (= the record alone where no trend exists), record, base
  rate and the plan.

Per forecaster: Brier and log score of P(met) with their paired difference to the combined
forecast (``<score>_minus_combined``: > 0 means the combined forecast is better); for the
forecasters with a predictive distribution (:data:`~sim.backtest.references.DISTRIBUTIONS`), on
the indicator rows where all of the set's distributions exist: CRPS on the log / logit scale,
coverage of the 80 % and 95 % central intervals and **sharpness**, the median width of the 80 %
interval on the log / logit scale (``ln(hi/lo)`` for a level: 0.1 ≈ a 10 % wide interval).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.backtest import scores
from sim.backtest.references import DISTRIBUTIONS, FORECASTERS, LABELS, column_prefix

INTERVALS = (0.8, 0.95)
"""Central intervals of the predictive ensembles whose coverage is scored."""
GDP_BASED = ("gdp_nominal", "gdp_real", "gdp_per_capita", "gdp_per_capita_usd",
             "energy_intensity", "co2_intensity", "water_intensity", "land_per_gdp")
"""Series defined on GDP (levels or per unit of GDP): the ones a GDP revision moves."""

EVENT_KEY = ["origin", "indicator_key", "target_year", "kind", "comparator", "value",
             "value_high", "base_year"]
INDICATOR_KEY = ["origin", "indicator_key", "target_year", "kind", "base_year", "period_start"]
ROW_SETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "common": ("rows where every forecaster has a forecast (the comparison)", FORECASTERS),
    "trend": ("rows with a trend forecast", ("combined", "trend", "record", "base_rate",
                                              "plan95", "plan")),
    "all": ("every scored row (trend + record, trend only and record only)",
            ("combined", "record", "base_rate", "plan95", "plan")),
}
HEADLINE = "combined"


def indicator_key(rows: pd.DataFrame) -> pd.Series:
    """The indicator a row forecasts: its series, or ``id:<target_id>`` without a series."""
    series = rows["series"].fillna("").astype(str) if "series" in rows else \
        pd.Series("", index=rows.index)
    return series.where(series != "", "id:" + rows["target_id"].astype(str))


def dedupe(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """``df`` without the rows that repeat an earlier row's ``key`` columns."""
    return df.loc[~df.duplicated(subset=key)] if len(df) else df


def _ci(values, groups, n_boot, seed):
    return scores.bootstrap_mean_ci(values, groups=groups, n_boot=n_boot, seed=seed)


def _stat(mean, lo, hi):
    return {"mean": _r(mean), "low": _r(lo), "high": _r(hi)}


def _r(x, nd=6):
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df else pd.Series(np.nan, index=df.index)


def scored_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The scored rows with their ``indicator_key`` and ``cluster`` columns."""
    if rows.empty or "status" not in rows:
        return rows.iloc[:0]
    sc = rows[rows["status"] == "scored"].copy()
    if sc.empty:
        return sc
    sc["indicator_key"] = indicator_key(sc)
    sc["cluster"] = sc["indicator_key"] + "|" + sc["target_year"].astype(str)
    return sc


def summarize(rows: pd.DataFrame, n_boot: int = 2000, seed: int = 0, n_bins: int = 10) -> dict:
    """Scores of the model's forecasts and of the references per row set (module docstring).

    Returns
    -------
    dict
        ``sets[<row set>]`` with counts and ``forecasters[<name>]``: ``brier``, ``log_score``
        (mean with the cluster-bootstrap 95 % interval), ``<score>_minus_combined``,
        ``mean_p_met``, ``reliability``; with a distribution also ``crps_log``,
        ``coverage80``/``coverage95``, ``sharpness80``/``sharpness95`` and ``pit_histogram``.
    """
    out: dict[str, Any] = {"log_score_eps": scores.LOG_EPS, "n_boot": n_boot,
                           "bootstrap_seed": seed, "cluster": "indicator × target year",
                           "headline": HEADLINE,
                           "forecasters": {f: LABELS[f] for f in FORECASTERS}}
    sc = scored_rows(rows)
    out["n_scored_rows"] = int(len(sc))
    out["sets"] = {}
    if sc.empty:
        return out
    for set_name, (_, fs) in ROW_SETS.items():
        have = np.logical_and.reduce([_col(sc, f"{column_prefix(f)}p_met").notna().to_numpy()
                                      for f in fs])
        out["sets"][set_name] = _block(sc[have], fs, n_boot, seed, n_bins)
    return out


def _block(df: pd.DataFrame, fs: tuple[str, ...], n_boot: int, seed: int, n_bins: int) -> dict:
    """The scores of one row set."""
    ev = dedupe(df, EVENT_KEY)
    block: dict[str, Any] = {"n_event_rows": int(len(ev)),
                             "n_clusters": int(ev["cluster"].nunique()) if len(ev) else 0,
                             "n_met": int(ev["outcome_met"].sum()) if len(ev) else 0,
                             "n_indicator_rows": 0, "forecasters": {}}
    if ev.empty:
        return block
    o = ev["outcome_met"].to_numpy(float)
    P = np.c_[[ev[f"{column_prefix(f)}p_met"].to_numpy(float) for f in fs]].T      # (n, k)
    bs, ls = scores.brier_score(P, o[:, None]), scores.log_score(P, o[:, None])
    # paired differences to the combined forecast (forecaster − combined: > 0, combined better)
    h = fs.index(HEADLINE)
    bs_ci = _ci(np.c_[bs, bs - bs[:, h:h + 1]], ev["cluster"], n_boot, seed)
    ls_ci = _ci(np.c_[ls, ls - ls[:, h:h + 1]], ev["cluster"], n_boot, seed)
    k = len(fs)
    dist = _distribution_scores(df, [f for f in fs if f in DISTRIBUTIONS], n_boot, seed)
    block["n_indicator_rows"] = dist.pop("n", 0)
    for j, f in enumerate(fs):
        fb: dict[str, Any] = {"label": LABELS[f],
                              "brier": _stat(bs_ci.mean[j], bs_ci.low[j], bs_ci.high[j]),
                              "log_score": _stat(ls_ci.mean[j], ls_ci.low[j], ls_ci.high[j]),
                              "mean_p_met": _r(float(P[:, j].mean()))}
        if f != HEADLINE:
            fb["brier_minus_combined"] = _stat(bs_ci.mean[k + j], bs_ci.low[k + j],
                                               bs_ci.high[k + j])
            fb["log_score_minus_combined"] = _stat(ls_ci.mean[k + j], ls_ci.low[k + j],
                                                   ls_ci.high[k + j])
        fb.update(dist.get(f, {}))
        rel = scores.reliability_bins(P[:, j], o, n_bins=n_bins)
        fb["reliability"] = [{k2: (_r(v) if isinstance(v, float) else int(v))
                              for k2, v in r.items()} for r in rel.to_dict("records")]
        block["forecasters"][f] = fb
    return block


def _distribution_scores(df: pd.DataFrame, fs: list[str], n_boot: int, seed: int) -> dict:
    """CRPS (log scale), coverage, sharpness and PIT of the forecasters ``fs`` on the indicator
    rows where every one of them has a distribution; ``{"n": rows, f: {...}}``."""
    if not fs:
        return {}
    ind = dedupe(df, INDICATOR_KEY)
    ok = np.logical_and.reduce([np.isfinite(_col(ind, f"{column_prefix(f)}crps_log")
                                            .to_numpy(float)) for f in fs])
    ind = ind[ok]
    out: dict[str, Any] = {"n": int(len(ind))}
    if ind.empty:
        return out
    crps = np.c_[[ind[f"{column_prefix(f)}crps_log"].to_numpy(float) for f in fs]].T
    cols = [crps]
    if HEADLINE in fs:
        h = fs.index(HEADLINE)
        cols.append(crps - crps[:, h:h + 1])
    ci = _ci(np.hstack(cols), ind["cluster"], n_boot, seed)
    n = len(ind)
    for j, f in enumerate(fs):
        pre = column_prefix(f)
        fb: dict[str, Any] = {"crps_log": _stat(ci.mean[j], ci.low[j], ci.high[j])}
        if HEADLINE in fs and f != HEADLINE:
            d = len(fs) + j
            fb["crps_log_minus_combined"] = _stat(ci.mean[d], ci.low[d], ci.high[d])
        for level in INTERVALS:
            tag = f"{round(level * 100)}"
            hits = ind[f"{pre}in{tag}"].astype(float).to_numpy()
            hc = _ci(hits, ind["cluster"], n_boot, seed)
            fb[f"coverage{tag}"] = {"observed": _r(hits.mean()), "low": _r(hc.low),
                                    "high": _r(hc.high), "nominal": level, "n": n,
                                    "binomial_99_halfwidth":
                                        _r(scores.coverage_tolerance(level, n))}
            width = _col(ind, f"{pre}width{tag}_log").to_numpy(float)
            width = width[np.isfinite(width)]
            fb[f"sharpness{tag}"] = {"median_width_log": _r(float(np.median(width)))
                                     if width.size else None, "n": int(width.size)}
        fb["pit_histogram"] = np.histogram(ind[f"{pre}pit"].to_numpy(float), bins=10,
                                           range=(0, 1))[0].tolist()
        out[f] = fb
    return out


def coverage_by_horizon(rows: pd.DataFrame) -> pd.DataFrame:
    """80 % / 95 % coverage, median 80 % width (log / logit scale) and mean log-scale CRPS per
    horizon and forecaster with a distribution (indicator rows, duplicates dropped; each
    forecaster on its own available rows)."""
    cols = ["forecaster", "horizon", "n", "coverage80", "coverage95", "width80_log", "crps_log"]
    sc = scored_rows(rows)
    if sc.empty:
        return pd.DataFrame(columns=cols)
    sc = dedupe(sc, INDICATOR_KEY)
    out = []
    for f in DISTRIBUTIONS:
        pre = column_prefix(f)
        if f"{pre}pit" not in sc:
            continue
        df = sc[sc[f"{pre}pit"].notna()]
        for h, g in df.groupby("horizon"):
            out.append(dict(forecaster=f, horizon=int(h), n=len(g),
                            coverage80=float(g[f"{pre}in80"].astype(float).mean()),
                            coverage95=float(g[f"{pre}in95"].astype(float).mean()),
                            width80_log=float(_col(g, f"{pre}width80_log").median()),
                            crps_log=float(g[f"{pre}crps_log"].mean())))
    return pd.DataFrame(out, columns=cols)


PIT_COLUMNS = ["forecaster", "origin", "scenario_file", "target_id", "series", "target_year",
               "horizon", "realised", "pit"]


def pit_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The PIT value ``F(y)`` of every indicator forecast with a distribution and a realised
    value, one row per forecaster and row (``PIT_COLUMNS``; all scored rows, duplicates kept
    apart by target): uniform on [0, 1] when the forecasts are calibrated."""
    sc = scored_rows(rows)
    out = []
    for f in DISTRIBUTIONS:
        pre = column_prefix(f)
        if sc.empty or f"{pre}pit" not in sc:
            continue
        df = sc[sc[f"{pre}pit"].notna()]
        out.append(pd.DataFrame(dict(forecaster=f, origin=df["origin"],
                                     scenario_file=df["scenario_file"],
                                     target_id=df["target_id"], series=df["series"],
                                     target_year=df["target_year"], horizon=df["horizon"],
                                     realised=df["realised"], pit=df[f"{pre}pit"])))
    return (pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=PIT_COLUMNS)
            )[PIT_COLUMNS]


def _ci_text(s: dict | None, signed: bool = False) -> str:
    if not s or s.get("mean") is None:
        return "–"
    f = "+.3f" if signed else ".3f"
    return f"{s['mean']:{f}} [{s['low']:{f}}, {s['high']:{f}}]"


def _width(fb: dict) -> str:
    w = (fb.get("sharpness80") or {}).get("median_width_log")
    return "–" if w is None else f"{w:.3f}"


def _block_lines(set_name: str, block: dict) -> list[str]:
    """The lines of one row set in :func:`summary_table`."""
    lines = [f"{set_name} — {ROW_SETS[set_name][0]}: {block['n_event_rows']} target events "
             f"({block['n_met']} met), {block['n_clusters']} indicator-years; "
             f"{block['n_indicator_rows']} indicator forecasts with every distribution"]
    if not block["forecasters"]:
        return lines + ["  (none)", ""]
    head = (f"  {'forecaster':34s} {'Brier [95% CI]':>22s} {'log score [95% CI]':>22s} "
            f"{'cov80':>5s} {'cov95':>5s} {'width80':>7s} {'CRPS(log) [95% CI]':>22s}")
    lines += [head, "  " + "-" * (len(head) - 2)]
    for fb in block["forecasters"].values():
        cov = {t: _pct((fb.get(f"coverage{t}") or {}).get("observed")) for t in (80, 95)}
        lines.append(f"  {fb['label']:34s} {_ci_text(fb['brier']):>22s} "
                     f"{_ci_text(fb['log_score']):>22s} {cov[80]:>5s} {cov[95]:>5s} "
                     f"{_width(fb):>7s} {_ci_text(fb.get('crps_log')):>22s}")
    lines.append(f"  {'minus the headline (> 0: headline better)':44s} {'ΔBrier [95% CI]':>24s} "
                 f"{'Δlog score [95% CI]':>24s}")
    for f, fb in block["forecasters"].items():
        if f != HEADLINE:
            lines.append(f"  {fb['label']:44s} {_ci_text(fb['brier_minus_combined'], True):>24s} "
                         f"{_ci_text(fb['log_score_minus_combined'], True):>24s}")
    with_cov = [fb for fb in block["forecasters"].values() if "coverage80" in fb]
    n = block["n_indicator_rows"]
    if with_cov and n:
        lines.append("  coverage, cluster-bootstrap 95% CI: " + "; ".join(
            f"{fb['label']} 80% [{_pct(fb['coverage80']['low'])}, "
            f"{_pct(fb['coverage80']['high'])}] 95% [{_pct(fb['coverage95']['low'])}, "
            f"{_pct(fb['coverage95']['high'])}]" for fb in with_cov))
        lines.append(f"  nominal coverage 80% / 95%; were the {n} intervals independent, the "
                     f"observed rate would fall within "
                     f"±{100 * scores.coverage_tolerance(0.8, n):.0f} / "
                     f"±{100 * scores.coverage_tolerance(0.95, n):.0f} pp (99%); they are not: "
                     f"the forecasts of one indicator-year from successive origins move "
                     f"together, so the indicator-years are the effective sample size")
    return lines + [""]


def summary_table(summary: dict) -> str:
    """Plain-text table of :func:`summarize` (one block per row set)."""
    lines = []
    for set_name, block in summary.get("sets", {}).items():
        lines += _block_lines(set_name, block)
    lines.append(f"Brier and log score (nats, P clipped to [{scores.LOG_EPS:g}, "
                 f"1 − {scores.LOG_EPS:g}]) of P(met); model forecasts leave the scored plan's "
                 f"own records out; width80 = sharpness, the median width of the 80% interval "
                 f"on the log / logit scale; CRPS of the indicator on the same scale (≈ relative "
                 f"error); intervals: cluster bootstrap over indicator-years, "
                 f"{summary.get('n_boot')} resamples.")
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
