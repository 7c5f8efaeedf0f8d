"""Evaluate every target of the chosen sets on an ensemble: P(met) and what surrounds it.

For target j, scenario s and draw i the indicator ``x[s, i]`` is computed from the ensemble
Dataset (see :mod:`sim.ensemble`) according to the target kind:

* ``level`` / ``share`` / ``count``: ``x = S[target_year]`` (needs an observed level anchor);
* ``cumulative_change``: ``x = 100 * (S[y] / S[b] - 1)`` with ``log S[y]/S[b] =
  log S[y]/S[as_of] + log S[as_of]/S[b]``; the second term is the filtered, already-observed
  part when ``b < as_of``;
* ``cumulative_sum``: ``x = sum_{t in window} S[t]``; years ≤ as_of must be observed.

``met[s, i] = x[s, i] ⋄ value`` for the comparator ⋄; ``P = mean(met)`` with binomial standard
error ``sqrt(P (1 - P) / N)`` and the Wilson 95 % interval. Targets that cannot be evaluated are
kept, with ``status = "not evaluable"`` and the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.ensemble import SINCE

Z95 = 1.959963984540054

# IPCC AR5 calibrated language (Mastrandrea et al. 2010, guidance note for lead authors)
LIKELIHOOD = (
    (0.99, "virtually certain"),
    (0.90, "very likely"),
    (0.66, "likely"),
    (0.33, "about as likely as not"),
    (0.10, "unlikely"),
    (0.01, "very unlikely"),
    (0.0, "exceptionally unlikely"),
)

APPROX_TOLERANCE = 0.05  # relative, when the plan says 左右/约 and the catalogue gives none


def likelihood_word(p: float) -> str:
    """IPCC likelihood term for a probability (the most specific band that contains it)."""
    if not np.isfinite(p):
        return ""
    for lower, word in LIKELIHOOD:
        if p >= lower and lower > 0:
            return word
    return LIKELIHOOD[-1][1]


def wilson_interval(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``p`` observed in ``n`` trials."""
    if n <= 0 or not np.isfinite(p):
        return (math.nan, math.nan)
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def compare(x: np.ndarray, comparator: str, value: float, value_high: float | None,
            tolerance: float | None) -> np.ndarray:
    """Boolean array: does the indicator meet the target?"""
    if comparator == ">=":
        return x >= value
    if comparator == "<=":
        return x <= value
    if comparator in ("approx", "=="):
        tol = tolerance if tolerance is not None and np.isfinite(tolerance) else (
            APPROX_TOLERANCE if comparator == "approx" else 0.005)
        return np.abs(x - value) <= tol * abs(value)
    if comparator == "range":
        return (x >= value) & (x <= value_high)
    raise ValueError(f"unknown comparator {comparator!r}")


@dataclass
class Indicator:
    """The simulated indicator of one target: values (S, N) or the reason it has none.

    ``required(value, s)`` is what would just meet ``value`` in scenario ``s``: the constant
    annual rate (%/yr) from as_of for levels and cumulative changes, the amount per year for
    cumulative sums.
    """

    values: np.ndarray | None
    reason: str = ""
    kind: str = ""
    start: np.ndarray | None = None   # (S,) median level at as_of (level kinds)
    done: float = 0.0                 # log change already behind as_of (cumulative change)
    years_left: int = 0
    required_unit: str = ""
    observed_part: float = math.nan   # of a window, the part already behind as_of, in %

    def required(self, value: float, s: int) -> float:
        if self.kind == "level" and self.start is not None and self.start[s] > 0 and value > 0:
            return 100 * ((value / self.start[s]) ** (1 / self.years_left) - 1)
        if self.kind == "cumulative_change" and value > -100:
            return 100 * math.expm1((math.log1p(value / 100) - self.done) / self.years_left)
        if self.kind == "cumulative_sum":
            return value / self.years_left
        return math.nan


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def _int(v) -> int | None:
    f = _num(v)
    return int(f) if f is not None else None


def indicator_for(ds, row) -> Indicator:
    """Compute the target's indicator per scenario and draw from the Dataset."""
    series = row.get("series") or ""
    kind = row["kind"]
    as_of, horizon = int(ds.attrs["as_of"]), int(ds["year"].values[-1])
    y = _int(row.get("target_year"))
    if not isinstance(series, str) or not series:
        return Indicator(None, "not modelled: no series measures this indicator")
    if series not in ds:
        return Indicator(None, f"no history for {series}")
    var = ds[series]
    relative = bool(var.attrs.get("relative_to_as_of", 0))
    if y is None or y > horizon:
        return Indicator(None, f"target year {y} is after the horizon {horizon}")
    if y <= as_of:
        return Indicator(None, f"target year {y} is not after as_of {as_of} (already observed)")

    if kind in ("level", "share", "count"):
        if relative:
            return Indicator(None, f"no observed level of {series} to anchor a level target")
        x = var.sel(year=y).values
        start = np.nanmedian(var.sel(year=as_of).values, axis=1)
        return Indicator(x, kind="level", start=start, years_left=y - as_of, required_unit="%/yr")

    if kind == "cumulative_change":
        b = _int(row.get("base_year"))
        if b is None:
            return Indicator(None, "cumulative change without a base year")
        log_to_y = np.log(var.sel(year=y).values)
        if b >= as_of:
            log_change = log_to_y - np.log(var.sel(year=b).values)
            done, years_left = 0.0, y - b
        else:
            since = f"{series}{SINCE}{b}"
            if since not in ds:
                return Indicator(None, f"the {series} change from {b} to as_of {as_of} is unknown")
            log_change = log_to_y - np.log(var.sel(year=as_of).values) + ds[since].values[None, :]
            done, years_left = float(np.median(ds[since].values)), y - as_of
        x = 100.0 * np.expm1(log_change)
        return Indicator(x, kind="cumulative_change", done=done, years_left=years_left,
                         required_unit="%/yr",
                         observed_part=100 * math.expm1(done) if b < as_of else math.nan)

    if kind == "cumulative_sum":
        p0, p1 = _int(row.get("period_start")), _int(row.get("period_end")) or y
        if p0 is None:
            return Indicator(None, "cumulative sum without a period start")
        if p0 <= as_of:
            return Indicator(None, f"years {p0}–{as_of} of the window are before as_of and their "
                                   f"observed sum is not in the data")
        if relative:
            return Indicator(None, f"no observed level of {series} to add up")
        x = var.sel(year=slice(p0, p1)).sum("year", skipna=False).values
        return Indicator(x, kind="cumulative_sum", years_left=p1 - p0 + 1,
                         required_unit=f"{var.attrs.get('units', '')}/yr")

    return Indicator(None, f"kind {kind!r} is not evaluated")


@dataclass
class Evaluation:
    table: pd.DataFrame                       # one row per (scenario, target)
    met: dict = field(default_factory=dict)   # (scenario, target_id) -> bool (N,)
    joint: pd.DataFrame | None = None


def evaluate(ds, catalogue: pd.DataFrame, target_values: dict[str, dict[str, float]] | None = None,
             history=None, quantiles=(0.025, 0.1, 0.5, 0.9, 0.975)) -> Evaluation:
    """Evaluate every catalogue row on every scenario of ``ds``.

    ``target_values[scenario][target_id]`` overrides or fills a plan value.
    ``history`` (optional, a :class:`sim.history.History`) supplies the observed value.
    """
    target_values = target_values or {}
    scenarios = [str(s) for s in ds["scenario"].values]
    n = ds.sizes["draw"]
    rows, met_all = [], {}
    for _, row in catalogue.iterrows():
        row = row.to_dict()
        plan_value = _num(row.get("value"))
        base = dict(target_id=row["id"], target_set=row["target_set"],
                    indicator=row.get("indicator_en") or row.get("indicator_zh"),
                    indicator_zh=row.get("indicator_zh"), series=row.get("series") or "",
                    target_year=_int(row.get("target_year")), kind=row["kind"],
                    comparator=row["comparator"], unit=row.get("unit"),
                    base_year=_int(row.get("base_year")), binding=row.get("binding"))
        observed, observed_year = _observed(history, row)
        per_scenario = {}
        for s_idx, scen in enumerate(scenarios):
            override = target_values.get(scen, {}).get(row["id"])
            value = _num(override) if override is not None else plan_value
            out = dict(base, scenario=scen, value=value, value_high=_num(row.get("value_high")),
                       value_source="scenario" if override is not None else "plan",
                       observed=observed, observed_year=observed_year)
            if value is None:
                out.update(status="not evaluable", reason="no target value (left blank in the plan)")
                rows.append(out)
                continue
            if row["id"] not in per_scenario:  # values (S, N) are computed once for all scenarios
                per_scenario[row["id"]] = indicator_for(ds, row)
            ind = per_scenario[row["id"]]
            if ind.values is None:
                out.update(status="not evaluable", reason=ind.reason)
                rows.append(out)
                continue
            x = ind.values[s_idx]
            ok = compare(x, row["comparator"], value, _num(row.get("value_high")), _num(row.get("tolerance")))
            ok &= np.isfinite(x)
            met_all[(scen, row["id"])] = ok
            p = float(ok.mean())
            lo, hi = wilson_interval(p, n)
            qs = np.nanquantile(x, quantiles)
            out.update(status="evaluated", reason="", probability=p,
                       mc_se=math.sqrt(p * (1 - p) / n), ci_low=lo, ci_high=hi,
                       likelihood=likelihood_word(p),
                       required_annual=ind.required(value, s_idx), required_unit=ind.required_unit,
                       achieved_before_as_of=ind.observed_part)
            for q, v in zip(quantiles, qs):
                out[_qname(q)] = float(v)
            rows.append(out)
    table = pd.DataFrame(rows)
    table = _add_deltas(table, met_all, scenarios)
    return Evaluation(table=table, met=met_all, joint=joint_table(table, met_all, scenarios, n))


def _qname(q: float) -> str:
    return "median" if q == 0.5 else f"p{q * 100:g}".replace(".", "_")


def _add_deltas(table: pd.DataFrame, met: dict, scenarios: list[str]) -> pd.DataFrame:
    """ΔP against the baseline (first scenario) with the paired standard error."""
    if table.empty:
        return table
    base = scenarios[0]
    dp, se = [], []
    for _, r in table.iterrows():
        a, b = met.get((r["scenario"], r["target_id"])), met.get((base, r["target_id"]))
        if a is None or b is None or r["scenario"] == base:
            dp.append(math.nan)
            se.append(math.nan)
            continue
        d = a.astype(float) - b.astype(float)
        dp.append(float(d.mean()))
        se.append(float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.nan)
    table["delta_vs_baseline"] = dp
    table["delta_se"] = se
    return table


def joint_table(table: pd.DataFrame, met: dict, scenarios: list[str], n: int) -> pd.DataFrame:
    """P(all binding targets met) and P(at least k of n met), per scenario and target set."""
    out = []
    if table.empty:
        return pd.DataFrame(out)
    ev = table[(table["status"] == "evaluated")]
    for scen in scenarios:
        for tset, grp in ev[ev["scenario"] == scen].groupby("target_set"):
            for label, sub in (("binding", grp[grp["binding"] == "binding"]), ("all", grp)):
                ids = list(sub["target_id"])
                if not ids:
                    continue
                k = np.sum([met[(scen, t)] for t in ids], axis=0)
                rec = dict(scenario=scen, target_set=tset, group=label, n_targets=len(ids),
                           p_all=float((k == len(ids)).mean()),
                           expected_met=float(k.mean()))
                rec["p_all_se"] = math.sqrt(rec["p_all"] * (1 - rec["p_all"]) / n)
                for j in range(1, len(ids) + 1):
                    rec[f"p_at_least_{j}"] = float((k >= j).mean())
                out.append(rec)
    return pd.DataFrame(out)


def _observed(history, row) -> tuple[float | None, int | None]:
    """The observed value of the target's indicator in the target year, from the data (if any)."""
    if history is None:
        return None, None
    series, kind, y = row.get("series"), row["kind"], _int(row.get("target_year"))
    if not isinstance(series, str) or not series or y is None:
        return None, None
    try:
        obs = history.select(series)
    except Exception:
        return None, None
    if kind in ("level", "share", "count"):
        hit = obs[(obs["kind"] == "level") & (obs["year"] == y)]
    elif kind == "cumulative_change":
        b = _int(row.get("base_year"))
        hit = obs[(obs["kind"] == "cumulative_change_pct") & (obs["year"] == y)
                  & (obs["base_year"].astype("Float64") == b)]
    elif kind == "cumulative_sum":
        p0 = _int(row.get("period_start"))
        hit = obs[(obs["kind"] == "period_sum") & (obs["year"] == y)
                  & (obs["base_year"].astype("Float64") == (p0 - 1 if p0 else None))]
    else:
        return None, None
    if hit.empty:
        return None, None
    return float(hit["value"].iloc[0]), y
