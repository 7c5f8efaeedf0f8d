"""The simulated indicator of a target, and its observed value in the data.

For target ``t``, scenario ``s`` and draw ``i`` the indicator ``x[s, i]`` is computed from the
ensemble Dataset (see :mod:`sim.ensemble`) according to the target kind:

* ``level`` / ``share`` / ``count``: ``x = S[target_year]`` (needs an observed level anchor);
* ``cumulative_change``: ``x = 100 * (S[y] / S[b] - 1)`` with ``log S[y]/S[b] =
  log S[y]/S[as_of] + log S[as_of]/S[b]``; the second term is the filtered, already-observed
  part when ``b < as_of``;
* ``cumulative_sum``: ``x = sum_{t in window} S[t]``; years <= as_of must be observed.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import xarray as xr

from sim.ensemble import SINCE, ensemble_facts
from sim.targets import Target
from sim.vocabulary import COMPOSITION, SERIES

LEVEL_KINDS = ("level", "share", "count")


def as_target(target: Target | Mapping[str, Any]) -> Target:
    """``target`` itself, or the :class:`~sim.targets.Target` of a catalogue row (dict)."""
    return target if isinstance(target, Target) else Target.from_row(target)


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
        """The rate (or amount per year) that would just meet ``value`` in scenario ``s``."""
        if self.kind == "level" and self.start is not None and self.start[s] > 0 and value > 0:
            return 100 * ((value / self.start[s]) ** (1 / self.years_left) - 1)
        if self.kind == "cumulative_change" and value > -100:
            return 100 * math.expm1((math.log1p(value / 100) - self.done) / self.years_left)
        if self.kind == "cumulative_sum":
            return value / self.years_left
        return math.nan

    def without_values(self) -> "Indicator":
        """The same indicator without its (S, N) values (what an accumulator keeps)."""
        return Indicator(None, self.reason, self.kind, self.start, self.done, self.years_left,
                         self.required_unit, self.observed_part)


def _no_history_reason(ds: xr.Dataset, series: str, as_of: int) -> str:
    """Why a series is not in the ensemble, as precisely as calibration recorded it."""
    meta = SERIES.get(series)
    if meta is not None and meta.role == "context":
        return (f"not modelled: {series} ({meta.label_en}) is kept as context, not simulated "
                f"(see the target's note for how it differs from what the model projects)")
    why = ensemble_facts(ds).not_simulated.get(series)
    if why:
        return f"no history for {series} up to as_of {as_of} to calibrate it ({why})"
    missing = [d for d, _ in COMPOSITION.get(series, ()) if d not in ds]
    if missing:
        return (f"{series} is not simulated as of {as_of}: it needs "
                f"{', '.join(missing)}, which could not be calibrated")
    return f"no history for {series} up to as_of {as_of}"


def indicator_for(ds: xr.Dataset, target: Target | Mapping[str, Any]) -> Indicator:
    """The target's indicator per scenario and draw, (S, N), from the ensemble Dataset.

    Parameters
    ----------
    ds : xarray.Dataset
        An ensemble (:mod:`sim.ensemble` layout, dims scenario, draw, year).
    target : Target
        The target (a catalogue row dict is converted).

    Returns
    -------
    Indicator
        ``values`` (S, N), or None with ``reason`` when the target cannot be evaluated.
    """
    t = as_target(target)
    # A broken ensemble (NaN, zero or negative levels) gives NaN or infinite values here: the
    # accumulator refuses them by name, so numpy's warnings about them would only be noise.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _indicator(ds, t)


def _indicator(ds: xr.Dataset, t: Target) -> Indicator:
    series, kind, y = t.series, t.kind, t.target_year
    as_of, horizon = int(ds.attrs["as_of"]), int(ds["year"].values[-1])
    if not series:
        return Indicator(None, "not modelled: no series measures this indicator")
    if series not in ds:
        return Indicator(None, _no_history_reason(ds, series, as_of))
    var = ds[series]
    relative = bool(var.attrs.get("relative_to_as_of", 0))
    if y is None or y > horizon:
        return Indicator(None, f"target year {y} is after the horizon {horizon}")
    if y <= as_of:
        return Indicator(None, f"target year {y} is not after as_of {as_of} (already observed)")
    if kind in LEVEL_KINDS:
        if relative:
            return Indicator(None, f"no observed level of {series} to anchor a level target")
        x = var.sel(year=y).values
        start = np.nanmedian(var.sel(year=as_of).values, axis=1)
        return Indicator(x, kind="level", start=start, years_left=y - as_of, required_unit="%/yr")
    if kind == "cumulative_change":
        return _cumulative_change(ds, var, t, as_of)
    if kind == "cumulative_sum":
        return _cumulative_sum(var, t, as_of, relative)
    return Indicator(None, f"kind {kind!r} is not evaluated")


def _cumulative_change(ds: xr.Dataset, var: xr.DataArray, t: Target, as_of: int) -> Indicator:
    b, y = t.base_year, int(t.target_year or 0)
    if b is None:
        return Indicator(None, "cumulative change without a base year")
    log_to_y = np.log(var.sel(year=y).values)
    if b >= as_of:
        log_change = log_to_y - np.log(var.sel(year=b).values)
        done, years_left = 0.0, y - b
    else:
        since = f"{t.series}{SINCE}{b}"
        if since not in ds:
            return Indicator(None, f"the {t.series} change from {b} to as_of {as_of} is unknown")
        log_change = log_to_y - np.log(var.sel(year=as_of).values) + ds[since].values[None, :]
        done, years_left = float(np.median(ds[since].values)), y - as_of
    x = 100.0 * np.expm1(log_change)
    return Indicator(x, kind="cumulative_change", done=done, years_left=years_left,
                     required_unit="%/yr",
                     observed_part=100 * math.expm1(done) if b < as_of else math.nan)


def _cumulative_sum(var: xr.DataArray, t: Target, as_of: int, relative: bool) -> Indicator:
    p0, p1 = t.period_start, t.period_end or int(t.target_year or 0)
    if p0 is None:
        return Indicator(None, "cumulative sum without a period start")
    if p0 <= as_of:
        return Indicator(None, f"years {p0}–{as_of} of the window are before as_of and their "
                               f"observed sum is not in the data")
    if relative:
        return Indicator(None, f"no observed level of {t.series} to add up")
    x = var.sel(year=slice(p0, p1)).sum("year", skipna=False).values
    return Indicator(x, kind="cumulative_sum", years_left=p1 - p0 + 1,
                     required_unit=f"{var.attrs.get('units', '')}/yr")


def observation_for(history: Any, target: Target | Mapping[str, Any]) -> dict | None:
    """The observed value of a target's indicator in its target year, from the data.

    Returns ``{"value", "year", "source", "vintage"}`` of the matching history row (the
    history's vintage choice applies), or None. This is the outcome a backtest scores against.
    """
    if history is None:
        return None
    t = as_target(target)
    series, kind, y = t.series, t.kind, t.target_year
    if not series or y is None:
        return None
    obs = history.select(series)   # an unknown series is an error naming it
    if kind in LEVEL_KINDS:
        hit = obs[(obs["kind"] == "level") & (obs["year"] == y)]
    elif kind == "cumulative_change":
        hit = obs[(obs["kind"] == "cumulative_change_pct") & (obs["year"] == y)
                  & (obs["base_year"].astype("Float64") == t.base_year)]
    elif kind == "cumulative_sum":
        p0 = t.period_start
        hit = obs[(obs["kind"] == "period_sum") & (obs["year"] == y)
                  & (obs["base_year"].astype("Float64") == (p0 - 1 if p0 else None))]
    else:
        return None
    if hit.empty:
        return None
    first = hit.iloc[0]
    return {"value": float(first["value"]), "year": y, "source": str(first.get("source", "")),
            "vintage": str(first.get("vintage", ""))}
