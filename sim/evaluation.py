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
from sim.scenario.spec import DEFAULT_QUANTILES

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
    # the interval contains p exactly (rounding put the upper end at 0.99999999 for p = 1)
    return (min(max(0.0, centre - half), p), max(min(1.0, centre + half), p))


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


def _no_history_reason(ds, series: str, as_of: int) -> str:
    """Why a series is not in the ensemble, as precisely as calibration recorded it."""
    import json

    from sim.vocabulary import SERIES

    meta = SERIES.get(series)
    if meta is not None and meta.role == "context":
        return (f"not modelled: {series} ({meta.label_en}) is kept as context, not simulated "
                f"(see the target's note for how it differs from what the model projects)")
    why = json.loads(ds.attrs.get("not_simulated") or "{}").get(series)
    if why:
        return f"no history for {series} up to as_of {as_of} to calibrate it ({why})"
    from sim.vocabulary import COMPOSITION

    missing = [d for d, _ in COMPOSITION.get(series, ()) if d not in ds]
    if missing:
        return (f"{series} is not simulated as of {as_of}: it needs "
                f"{', '.join(missing)}, which could not be calibrated")
    return f"no history for {series} up to as_of {as_of}"


def as_number(v) -> float | None:
    """A finite float, or None for blanks, text and NaN (catalogue cells, table cells)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def as_int(v) -> int | None:
    """A whole number (years, counts) from a cell, or None for blanks, text and NaN."""
    f = as_number(v)
    return int(f) if f is not None else None


def indicator_for(ds, row) -> Indicator:
    """Compute the target's indicator per scenario and draw from the Dataset."""
    series = row.get("series") or ""
    kind = row["kind"]
    as_of, horizon = int(ds.attrs["as_of"]), int(ds["year"].values[-1])
    y = as_int(row.get("target_year"))
    if not isinstance(series, str) or not series:
        return Indicator(None, "not modelled: no series measures this indicator")
    if series not in ds:
        return Indicator(None, _no_history_reason(ds, series, as_of))
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
        b = as_int(row.get("base_year"))
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
        p0, p1 = as_int(row.get("period_start")), as_int(row.get("period_end")) or y
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
    met: dict = field(default_factory=dict)   # (scenario, target_id) -> bool (N,) (unless streamed)
    joint: pd.DataFrame | None = None


def evaluate(ds, catalogue: pd.DataFrame, target_values: dict[str, dict[str, float]] | None = None,
             history=None, quantiles=DEFAULT_QUANTILES) -> Evaluation:
    """Evaluate every catalogue row on every scenario of ``ds`` (all draws in memory).

    ``target_values[scenario][target_id]`` overrides or fills a plan value.
    ``history`` (optional, a :class:`sim.history.History`) supplies the observed value.
    """
    acc = EvaluationAccumulator(catalogue, [str(s) for s in ds["scenario"].values],
                                target_values, quantiles, keep_met=True)
    acc.add(ds)
    return acc.result(history)


class EvaluationAccumulator:
    """Evaluation fed chunk by chunk of draws (``add``), so 10^7 draws need not fit in memory.

    Exact over every draw: P(met) (hit counts), the paired ΔP and its standard error (sums of
    ``d`` and ``d^2``, ``d = met_s - met_baseline``), and the joint distribution of the number
    of targets met (a histogram of ``k`` per draw). Quantiles of the indicator use the first
    ``keep_draws`` draws (all when None); the required rate uses the first chunk's medians.
    """

    def __init__(self, catalogue: pd.DataFrame, scenarios, target_values=None,
                 quantiles=DEFAULT_QUANTILES, keep_draws: int | None = None,
                 keep_met: bool = False):
        self.rows = [r.to_dict() for _, r in catalogue.iterrows()]
        self.scenarios = list(scenarios)
        self.target_values = target_values or {}
        self.quantiles = tuple(quantiles)
        self.keep_draws = keep_draws
        self.keep_met = keep_met
        self.n = 0
        self.indicators: dict[str, Indicator] = {}     # first chunk's (values dropped)
        self.indicators_from = None                    # first draw of that chunk
        self.hits: dict = {}
        self.kept: dict = {}                           # key -> {first_draw: values}
        self.met: dict = {}
        self.dsum: dict = {}
        self.dsq: dict = {}
        self.k_hist: dict = {}

    def value(self, row, scen) -> tuple[float | None, str]:
        override = self.target_values.get(scen, {}).get(row["id"])
        if override is not None:
            return as_number(override), "scenario"
        return as_number(row.get("value")), "plan"

    def add(self, ds, first_draw: int | None = None) -> None:
        """Evaluate one chunk of draws (a Dataset in the :mod:`sim.ensemble` layout) whose
        first draw has global index ``first_draw`` (default: right after the draws so far)."""
        n = ds.sizes["draw"]
        first = self.n if first_draw is None else int(first_draw)
        take_indicators = self.indicators_from is None or first < self.indicators_from
        if take_indicators:
            self.indicators_from = first
        met_chunk = {}
        for row in self.rows:
            tid = row["id"]
            ind = indicator_for(ds, row)
            if take_indicators:
                self.indicators[tid] = Indicator(None, ind.reason, ind.kind, ind.start, ind.done,
                                                 ind.years_left, ind.required_unit,
                                                 ind.observed_part)
            if ind.values is None:
                continue
            for s_idx, scen in enumerate(self.scenarios):
                value, _ = self.value(row, scen)
                if value is None:
                    continue
                x = ind.values[s_idx]
                ok = compare(x, row["comparator"], value, as_number(row.get("value_high")),
                             as_number(row.get("tolerance"))) & np.isfinite(x)
                key = (scen, tid)
                met_chunk[key] = ok
                self.hits[key] = self.hits.get(key, 0) + int(ok.sum())
                room = (self.keep_draws - first) if self.keep_draws is not None else n
                if room > 0:
                    self.kept.setdefault(key, {})[first] = np.array(x[:room])
                if self.keep_met:
                    self.met[key] = np.concatenate([self.met[key], ok]) if key in self.met else ok
        base = self.scenarios[0]
        for (scen, tid), ok in met_chunk.items():
            if scen == base or (base, tid) not in met_chunk:
                continue
            d = ok.astype(np.int64) - met_chunk[(base, tid)].astype(np.int64)
            self.dsum[(scen, tid)] = self.dsum.get((scen, tid), 0) + int(d.sum())
            self.dsq[(scen, tid)] = self.dsq.get((scen, tid), 0) + int((d * d).sum())
        for scen in self.scenarios:
            by_set: dict = {}
            for row in self.rows:
                if (scen, row["id"]) in met_chunk:
                    by_set.setdefault(row["target_set"], []).append(row)
            for tset, rows in by_set.items():
                groups = (("binding", [r for r in rows if r.get("binding") == "binding"]),
                          ("all", rows))
                for label, grp in groups:
                    if not grp:
                        continue
                    k = np.sum([met_chunk[(scen, r["id"])] for r in grp], axis=0)
                    hist = np.bincount(k, minlength=len(grp) + 1)
                    key = (scen, tset, label)
                    self.k_hist[key] = self.k_hist.get(key, 0) + hist
        self.n += n

    def merge(self, other: "EvaluationAccumulator") -> "EvaluationAccumulator":
        """Add the counts of ``other`` (a disjoint range of draws of the same run) to this one."""
        for name in ("hits", "dsum", "dsq", "k_hist"):
            mine, theirs = getattr(self, name), getattr(other, name)
            for key, v in theirs.items():
                mine[key] = mine[key] + v if key in mine else v
        for key, pieces in other.kept.items():
            self.kept.setdefault(key, {}).update(pieces)
        if other.indicators_from is not None and (
                self.indicators_from is None or other.indicators_from < self.indicators_from):
            self.indicators, self.indicators_from = other.indicators, other.indicators_from
        if self.keep_met:
            self.met.update(other.met)  # only meaningful for a single range
        self.n += other.n
        return self

    def result(self, history=None) -> Evaluation:
        """The evaluation table and joint table over every draw added so far."""
        n, rows = self.n, []
        for row in self.rows:
            tid = row["id"]
            obs = observation_for(history, row) or {}
            base = dict(target_id=tid, target_set=row["target_set"],
                        indicator=row.get("indicator_en") or row.get("indicator_zh"),
                        indicator_zh=row.get("indicator_zh"), series=row.get("series") or "",
                        target_year=as_int(row.get("target_year")), kind=row["kind"],
                        comparator=row["comparator"], unit=row.get("unit"),
                        base_year=as_int(row.get("base_year")), binding=row.get("binding"),
                        value_high=as_number(row.get("value_high")),
                        observed=obs.get("value"), observed_year=obs.get("year"),
                        observed_source=obs.get("source"))
            ind = self.indicators.get(tid)
            for s_idx, scen in enumerate(self.scenarios):
                value, source = self.value(row, scen)
                out = dict(base, scenario=scen, value=value, value_source=source)
                key = (scen, tid)
                if value is None:
                    out.update(status="not evaluable", reason="no target value (left blank in the plan)")
                elif key not in self.hits:
                    out.update(status="not evaluable", reason=ind.reason if ind else "not evaluated")
                else:
                    p = self.hits[key] / n
                    lo, hi = wilson_interval(p, n)
                    x = np.concatenate([v for _, v in sorted(self.kept[key].items())])
                    out.update(status="evaluated", reason="", probability=p,
                               mc_se=math.sqrt(p * (1 - p) / n), ci_low=lo, ci_high=hi,
                               likelihood=likelihood_word(p),
                               required_annual=ind.required(value, s_idx),
                               required_unit=ind.required_unit,
                               achieved_before_as_of=ind.observed_part)
                    for q, v in zip(self.quantiles, np.nanquantile(x, self.quantiles)):
                        out[_qname(q)] = float(v)
                    if key in self.dsum:
                        mean = self.dsum[key] / n
                        var = (self.dsq[key] - n * mean * mean) / (n - 1) if n > 1 else math.nan
                        out["delta_vs_baseline"] = mean
                        out["delta_se"] = math.sqrt(max(var, 0.0) / n) if n > 1 else math.nan
                rows.append(out)
        table = pd.DataFrame(rows)
        for col in ("delta_vs_baseline", "delta_se"):
            if col not in table:
                table[col] = math.nan
        return Evaluation(table=table, met=self.met if self.keep_met else {},
                          joint=self._joint())

    def _joint(self) -> pd.DataFrame:
        """P(all targets of a group met) and P(at least k of n met), per scenario and set."""
        out = []
        for (scen, tset, label), hist in self.k_hist.items():
            m = len(hist) - 1
            p = hist / self.n
            rec = dict(scenario=scen, target_set=tset, group=label, n_targets=m,
                       p_all=float(p[m]), expected_met=float(np.dot(np.arange(m + 1), p)))
            rec["p_all_se"] = math.sqrt(rec["p_all"] * (1 - rec["p_all"]) / self.n)
            tail = np.cumsum(p[::-1])[::-1]  # tail[j] = P(k >= j)
            for j in range(1, m + 1):
                rec[f"p_at_least_{j}"] = float(tail[j])
            out.append(rec)
        return pd.DataFrame(out)


def _qname(q: float) -> str:
    return "median" if q == 0.5 else f"p{q * 100:g}".replace(".", "_")


def observation_for(history, row) -> dict | None:
    """The observed value of a target's indicator in its target year, from the data.

    Returns ``{"value", "year", "source", "vintage"}`` of the matching history row (the
    history's vintage choice applies), or None. This is the outcome a backtest scores against.
    """
    if history is None:
        return None
    series, kind, y = row.get("series"), row["kind"], as_int(row.get("target_year"))
    if not isinstance(series, str) or not series or y is None:
        return None
    try:
        obs = history.select(series)
    except Exception:  # a series the history does not know: no observation
        return None
    if kind in ("level", "share", "count"):
        hit = obs[(obs["kind"] == "level") & (obs["year"] == y)]
    elif kind == "cumulative_change":
        b = as_int(row.get("base_year"))
        hit = obs[(obs["kind"] == "cumulative_change_pct") & (obs["year"] == y)
                  & (obs["base_year"].astype("Float64") == b)]
    elif kind == "cumulative_sum":
        p0 = as_int(row.get("period_start"))
        hit = obs[(obs["kind"] == "period_sum") & (obs["year"] == y)
                  & (obs["base_year"].astype("Float64") == (p0 - 1 if p0 else None))]
    else:
        return None
    if hit.empty:
        return None
    first = hit.iloc[0]
    return {"value": float(first["value"]), "year": y, "source": str(first.get("source", "")),
            "vintage": str(first.get("vintage", ""))}
