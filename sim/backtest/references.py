"""Simple reference forecasters a planner might use instead of the model.

Each reference sees only the observations of the target's own series dated ≤ the origin and
returns, for one target, P(met) and a predictive ensemble of the indicator (the same indicator
as :func:`sim.evaluation.indicator_for`: the level in the target year, the % change from the base
year, or the sum over the window). They are scored on the same rows as the model
(:mod:`sim.backtest.hindcast`).

* ``line`` — **straight-line extrapolation of the last 5 years**: ordinary least squares
  ``z_t = a + b t + σ ε_t`` on the observed years ``origin − 4 … origin`` (if fewer than three
  fall in that window: the last five observations), on the series' model scale ``z`` (log for
  amounts, so a straight line is a constant growth rate; logit for shares in %). Predictive:
  the exact Bayesian predictive of the regression under the flat prior — ``σ² ~ s² (n − 2) /
  χ²_{n−2}``, ``(a, b) | σ² ~ N(β̂, σ² (XᵀX)⁻¹)``, independent ``ε_t``.
* ``rw`` — **random walk with drift**: ``z_t = z_{t−1} + μ + σ ε_t`` with
  ``μ̂ = (z_last − z_first) / (t_last − t_first)`` over every observed year ≤ origin and
  ``s² = Σ_k (Δz_k − μ̂ Δt_k)² / Δt_k / (K − 1)`` over the K gaps between consecutive
  observations (a gap of Δt years has variance Δt σ²); predictive with ``σ² ~ s² (K − 1) /
  χ²_{K−1}`` and ``μ | σ² ~ N(μ̂, σ² / (t_last − t_first))``.
* ``plan`` — **the plan is met**: P(met) = 1; the predictive distribution is a point mass at the
  target value (the midpoint for a range).
* ``plan95`` — **the plan is met, with P = 0.95** (:data:`PLAN_P`): a probability only. Unlike
  P = 1 it does not pay ``−ln ε`` for every miss, so it is the honest version of "plans are
  met" on the log score.
* ``base_rate`` — **the base rate of past targets**: the share of the plan records' verdicts
  that were met, all families pooled, over the records known at the origin without the scored
  plan's own (:attr:`sim.backtest.lopo.LopoFit.base_rate`; set by the hindcast, as it needs
  the leave-one-plan-out training records).

The model's three forecasts are scored next to them: ``combined`` (the headline probability,
trend and plan record together), ``trend`` (``p_trend``: trends continue) and ``record``
(``p_record``: the plan record alone). :data:`DISTRIBUTIONS` lists the forecasters with a
predictive distribution of the indicator (scored by CRPS, PIT, coverage and sharpness).

The series' annual values ``z_t`` come from ``level`` observations, extended with ``change_pct``
observations chained onto them (log-scale series). A series with changes but no level gives a
relative index — enough for a cumulative-change target, not for a level. A reference that cannot
be formed (fewer than three usable years, no level for a level target, base year unknown) gives
``None`` with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from sim.evaluation import as_target, compare
from sim.history import History
from sim.targets import Target
from sim.vocabulary import SERIES

MODEL_FORECASTS = ("combined", "trend", "record")
REFERENCES = ("base_rate", "plan95", "plan", "line", "rw")
FORECASTERS = MODEL_FORECASTS + REFERENCES
DISTRIBUTIONS = ("combined", "trend", "plan", "line", "rw")
"""Forecasters with a predictive ensemble of the indicator (the others give a probability only)."""
LABELS = {"combined": "model: trend + record (headline)", "trend": "model: trends continue",
          "record": "model: plan record", "base_rate": "base rate of past targets",
          "plan95": "the plan is met (P = 0.95)", "plan": "the plan is met (P = 1)",
          "line": "straight line, last 5 years", "rw": "random walk with drift"}
PLAN_P = 0.95
LINE_WINDOW = 5
MIN_POINTS = 3
SHARE_EPS = 1e-6


def column_prefix(forecaster: str) -> str:
    """Prefix of a forecaster's columns in backtest rows: "" for the headline (``combined``),
    ``"<name>_"`` else."""
    return "" if forecaster == "combined" else f"{forecaster}_"


@dataclass
class RefForecast:
    """One reference forecast of one target: P(met) and the predictive ensemble (N,), or None
    with the reason it cannot be formed."""

    name: str
    p_met: float | None
    draws: np.ndarray | None       # (N,) predictive ensemble of the indicator
    reason: str = ""


@dataclass
class SeriesIndex:
    """Annual values of a series on its model scale ``z`` (years ≤ origin), as known then."""

    years: np.ndarray       # (T,) int, increasing
    z: np.ndarray           # (T,)
    scale: str              # "log" | "logit"
    anchored: bool          # True when z comes from a level (else a relative index)

    def at(self, year: int) -> float | None:
        hit = np.nonzero(self.years == year)[0]
        return float(self.z[hit[0]]) if hit.size else None


def to_scale(x, scale: str) -> np.ndarray:
    """Natural scale to the model scale ``z``: ``log x``, or ``logit(x / 100)`` for a share."""
    x = np.asarray(x, dtype=float)
    if scale == "logit":
        p = np.clip(x / 100.0, SHARE_EPS, 1 - SHARE_EPS)
        return np.log(p) - np.log1p(-p)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


def from_scale(z, scale: str) -> np.ndarray:
    """The inverse of :func:`to_scale`."""
    z = np.asarray(z, dtype=float)
    if scale == "logit":
        return 100.0 / (1.0 + np.exp(-z))
    with np.errstate(over="ignore"):
        return np.exp(z)


def series_index(history: History, series: str, origin: int, vintage: str
                 ) -> SeriesIndex | None:
    """Build :class:`SeriesIndex` from the series' observations dated ≤ ``origin``."""
    scale = SERIES[series].scale
    rows = history.upto(origin).select(series, vintage)
    lv = rows[rows["kind"] == "level"]
    z = {int(y): float(v) for y, v in zip(lv["year"], to_scale(lv["value"].to_numpy(), scale))
         if np.isfinite(v)}
    anchored = bool(z)
    ch = rows[rows["kind"] == "change_pct"] if scale == "log" else rows.iloc[:0]
    dz = {int(y): math.log1p(v / 100.0) for y, v in zip(ch["year"], ch["value"]) if v > -100}
    if not z and dz:
        first = min(dz) - 1
        z[first] = 0.0
    changed = True
    while changed:  # chain changes forwards and backwards from known years
        changed = False
        for y, d in dz.items():
            if y not in z and (y - 1) in z:
                z[y] = z[y - 1] + d
                changed = True
            elif (y - 1) not in z and y in z:
                z[y - 1] = z[y] - d
                changed = True
    if not z:
        return None
    years = np.array(sorted(z))
    return SeriesIndex(years, np.array([z[y] for y in years]), scale, anchored)


# --------------------------------------------------------------------------------------------
def _line_paths(idx: SeriesIndex, origin: int, years: np.ndarray, n: int, rng) -> np.ndarray | str:
    sel = idx.years >= origin - LINE_WINDOW + 1
    if sel.sum() < MIN_POINTS:
        sel = np.zeros_like(sel)
        sel[-LINE_WINDOW:] = True
    t, z = idx.years[sel].astype(float), idx.z[sel]
    k = len(t)
    if k < MIN_POINTS:
        return f"straight line needs {MIN_POINTS} observed years, has {k}"
    tc = t - t.mean()
    X = np.c_[np.ones(k), tc]
    xtx_inv = np.linalg.inv(X.T @ X)
    beta = xtx_inv @ X.T @ z
    resid = z - X @ beta
    df = k - 2
    s2 = float(resid @ resid) / df
    s2 = max(s2, 1e-12)
    sigma2 = s2 * df / rng.chisquare(df, size=n)                               # (n,)
    L = np.linalg.cholesky(xtx_inv)
    coef = beta + (rng.standard_normal((n, 2)) @ L.T) * np.sqrt(sigma2)[:, None]  # (n, 2)
    tf = years.astype(float) - t.mean()
    eps = rng.standard_normal((n, len(years)))
    return coef[:, :1] + coef[:, 1:] * tf[None, :] + np.sqrt(sigma2)[:, None] * eps


def _rw_paths(idx: SeriesIndex, origin: int, years: np.ndarray, n: int, rng) -> np.ndarray | str:
    t, z = idx.years.astype(float), idx.z
    K = len(t) - 1
    if K + 1 < MIN_POINTS:
        return f"random walk with drift needs {MIN_POINTS} observed years, has {K + 1}"
    span = t[-1] - t[0]
    mu = (z[-1] - z[0]) / span
    dt, dz = np.diff(t), np.diff(z)
    s2 = max(float(np.sum((dz - mu * dt) ** 2 / dt)) / (K - 1), 1e-12)
    sigma2 = s2 * (K - 1) / rng.chisquare(K - 1, size=n)
    drift = mu + rng.standard_normal(n) * np.sqrt(sigma2 / span)
    h = years.astype(float) - t[-1]                                            # steps from t_last
    steps = np.diff(np.r_[0.0, h])
    eps = rng.standard_normal((n, len(years))) * np.sqrt(steps)[None, :]
    return z[-1] + drift[:, None] * h[None, :] + np.sqrt(sigma2)[:, None] * np.cumsum(eps, axis=1)


def _indicator(idx: SeriesIndex, paths: np.ndarray, years: np.ndarray,
               t: Target) -> np.ndarray | str:
    """The target's indicator from paths of z over ``years`` (observed years come from idx)."""
    col = {int(v): j for j, v in enumerate(years)}

    def z_of(year: int | None) -> np.ndarray | None:
        if year is None:
            return None
        if year in col:
            return paths[:, col[year]]
        v = idx.at(year)
        return None if v is None else np.full(paths.shape[0], v)

    if t.kind in ("level", "share", "count"):
        if not idx.anchored:
            return "no level observation to anchor a level forecast"
        return from_scale(z_of(t.target_year), idx.scale)
    if t.kind == "cumulative_change":
        if idx.scale != "log":
            return "cumulative change of a share is not formed"
        if t.base_year is None:
            return "cumulative change without a base year"
        zb = z_of(t.base_year)
        if zb is None:
            return f"base year {t.base_year} not observed"
        return 100.0 * np.expm1(z_of(t.target_year) - zb)
    if t.kind == "cumulative_sum":
        return _window_sum(idx, z_of, t)
    return f"kind {t.kind!r} is not forecast"


def _window_sum(idx: SeriesIndex, z_of: Callable[[int], np.ndarray | None],
                t: Target) -> np.ndarray | str:
    """The sum of the natural-scale values over the target's window (a cumulative sum)."""
    if not idx.anchored:
        return "no level observation to add up"
    p1 = t.target_year if t.period_end is None else t.period_end
    if t.period_start is None or p1 is None:
        return "cumulative sum without a window"
    parts = [z_of(y) for y in range(t.period_start, p1 + 1)]
    if any(p is None for p in parts):
        return "a year of the window is neither observed nor forecast"
    return np.sum([from_scale(p, idx.scale) for p in parts], axis=0)


def _met(x: np.ndarray, t: Target, value: float) -> float:
    ok = compare(x, t.comparator, value, t.value_high, t.tolerance, t.approx_sense)
    return float((ok & np.isfinite(x)).mean())


def plan_point(target: Target, value: float) -> float:
    """The indicator value 'the plan is met' forecasts: the target value (range: its midpoint)."""
    hi = target.value_high
    return (value + hi) / 2.0 if target.comparator == "range" and hi is not None else value


def reference_forecasts(history: History, target: Target | Mapping[str, Any], value: float,
                        origin: int, vintage: str, n: int, rng: np.random.Generator
                        ) -> dict[str, RefForecast]:
    """The reference forecasts of one target from the data known at ``origin`` (all but
    ``base_rate``, which needs the plan records).

    Parameters
    ----------
    history : sim.history.History
        Full history; only rows dated ≤ origin are read (``History.upto``).
    target : Target
        The target (a catalogue row dict is converted).
    value : float
        Target value (from the plan or the scenario).
    n : int
        Ensemble size.
    rng : numpy.random.Generator
    """
    t = as_target(target)
    out = {"plan": RefForecast("plan", 1.0, np.full(n, plan_point(t, value))),
           "plan95": RefForecast("plan95", PLAN_P, None)}
    idx = series_index(history, t.series, origin, vintage) if t.series else None
    y = t.target_year
    if y is None:
        return {**out, **{name: RefForecast(name, None, None, "no target year")
                          for name in ("line", "rw")}}
    for name, fn in (("line", _line_paths), ("rw", _rw_paths)):
        if idx is None:
            out[name] = RefForecast(name, None, None, "no observation of the series by the origin")
            continue
        years = np.arange(int(idx.years[-1]) + 1, y + 1) if name == "rw" else \
            np.array([t for t in range(min(int(idx.years[0]), origin + 1), y + 1)
                      if t > origin or idx.at(t) is None])
        paths = fn(idx, origin, years, n, rng)
        if isinstance(paths, str):
            out[name] = RefForecast(name, None, None, paths)
            continue
        x = _indicator(idx, paths, years, t)
        if isinstance(x, str):
            out[name] = RefForecast(name, None, None, x)
            continue
        out[name] = RefForecast(name, _met(x, t, value), x)
    return out
