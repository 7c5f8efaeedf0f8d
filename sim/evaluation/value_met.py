"""The target value met with probability p, and the curve of P(met) over target values.

For a target with a simulated indicator and a scenario, ``P(v)`` is the headline P(met) the run
would report if the target's value were ``v``: the evaluator's own comparison
(:func:`~sim.evaluation.probability.compare`) on the run's draws, and where the run combines the
trend with the plan record, its own combination, recomputed for ``v`` — the row record of
:func:`sim.evaluation.record._trend_row` for ``v`` (method, side and combination weight from the
pilot, draws ``0 .. PILOT_DRAWS-1``) and :meth:`~sim.evaluation.record.RecordSetup.combined`.
Nothing here decides "met" on its own.

``value_met(p)`` is the most demanding value met with probability at least ``p``::

    comparator ">=":  value_met(p) = sup {v : P(v) >= p}
    comparator "<=":  value_met(p) = inf {v : P(v) >= p}

* **trend only** (no record combination at any ``v``: record off, no base, or no plan record):
  ``P(v) = #{i : x_i ⋄ v} / n`` exactly, so ``value_met(p)`` is an order statistic of the kept
  draws ``x``: the ``k``-th smallest for ``<=`` and the ``k``-th largest for ``>=``, with
  ``k = ceil(p n)`` (numpy's ``inverted_cdf`` quantile). ``P(value_met(p)) >= p`` holds exactly;
  ties are counted as met (``x_i = v`` meets both comparators).
* **trend+record**: ``P(v)`` on a grid of :data:`GRID_POINTS` values, then
  :data:`BISECT_STEPS` halvings of the grid step that brackets the most demanding grid value with
  ``P >= p`` (the value returned has ``P >= p``; one grid step / 2^BISECT_STEPS more demanding
  has ``P < p``).
* **≈ with a side** (``approx`` with ``approx_sense`` higher / lower: met at ``x >= v (1 - tol)``
  / ``x <= v (1 + tol)``): one-sided, ``>=`` / ``<=``; ``P(v)`` on the grid as above (exact per
  value, the share of draws within the tolerance).
* **two-sided** (``range``, ``==``, ``approx`` both ways): the curve only (no single most
  demanding value).
* **record only**: nothing — ``P = P(U < θ)`` does not depend on the value.

Rows without a value (a blank the plan leaves to the province) get the same: ``P(v)`` is what the
run would report with the value ``v`` filled in by the scenario. Draws are the ones the
evaluator keeps (the first ``keep_draws``; all by default), as for the indicator's quantiles.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from sim.evaluation.probability import compare
from sim.evaluation.record import (PILOT_DRAWS, RECORD_OFF, RECORD_ONLY, TREND_RECORD,
                                   RecordSetup, RowRecord, _trend_row, transform_of)
from sim.plan_record.records import load_plan_records, targets_known_by
from sim.targets import Target

#: the probabilities whose value is reported (columns value_met_p50, _p80, _p90)
VALUE_MET_PROBS = (0.5, 0.8, 0.9)
VALUE_MET_COLUMNS = tuple(f"value_met_p{round(100 * p)}" for p in VALUE_MET_PROBS)
GRID_POINTS = 41        # values of v per curve
BISECT_STEPS = 12       # halvings of a grid step when the record makes P(v) a root-finding
GRID_QUANTILES = (0.001, 0.999)   # the grid spans these quantiles of the trend draws ...
GRID_PAD = 0.25                   # ... widened by this share of their distance on each side
ONE_SIDED = (">=", "<=")
CUMULATIVE = ("cumulative_change", "cumulative_sum")

NOTE_TREND = "quantile of the draws: P(met | v) = share of draws meeting v (trend only)"
NOTE_COMBINED = ("root of P(met | v), trend+record recomputed for each value v (weight from the "
                 "run's pilot draws)")
NOTE_APPROX = ("root of P(met | v), v on a grid: the share of draws meeting ≈ v within its "
               "tolerance (trend only)")
NOTE_TWO_SIDED = ("two-sided target ({}): no single value; P(met | v) is in value_curves.csv")
NOTE_RECORD_ONLY = ("record only: P(met) = past plans' record of this family, the same for any "
                    "target value (no data of this indicator)")


def direction(t: Target) -> str | None:
    """The one-sided comparator a target amounts to: ``>=`` / ``<=``, and for ``approx`` its
    sense (``higher``: met at ``x >= v (1 - tol)``, i.e. ``>=``; ``lower``: ``<=``); None for a
    two-sided target (``range``, ``==``, ``approx`` both ways)."""
    if t.comparator in ONE_SIDED:
        return t.comparator
    if t.comparator == "approx":
        return {"higher": ">=", "lower": "<="}.get(t.approx_sense)
    return None


def value_met_from_draws(x: np.ndarray, comparator: str, p: float) -> float:
    """The most demanding ``v`` with ``#{x_i ⋄ v} / n >= p`` (order statistic, see module).

    ``x`` (N,) finite draws; NaN when ``x`` is empty or not all finite (then whether a value
    is met is unknown, as in the evaluator).
    """
    x = np.asarray(x, dtype=float).ravel()
    if x.size == 0 or not np.isfinite(x).all() or comparator not in ONE_SIDED:
        return math.nan
    k = max(1, math.ceil(p * x.size - 1e-9))            # draws that must meet it
    xs = np.sort(x)
    return float(xs[k - 1] if comparator == "<=" else xs[x.size - k])


@dataclass
class CurveDraws:
    """Trend draws kept per ``(scenario, target_id)`` for ``P(met | v)``: rows without a value
    and ``trend+record`` rows (whose kept indicator draws are the combined ones); other rows use
    the evaluator's kept draws. ``{key: {first_draw: (N_chunk,) draws}}``, mergeable."""

    pieces: dict[tuple[str, str], dict[int, np.ndarray]] = field(default_factory=dict)
    as_of: int | None = None

    def add(self, acc: Any, t: Target, values: np.ndarray, first: int, as_of: int) -> None:
        """Keep the trend draws (S, n) of ``t`` from draw ``first`` that the accumulator
        ``acc`` does not keep as they are (up to its ``keep_draws``)."""
        self.as_of = int(as_of)
        room = (acc.keep_draws - first) if acc.keep_draws is not None else values.shape[-1]
        if room <= 0:
            return
        for s_idx, scen in enumerate(acc.scenarios):
            rec = acc.record.row(scen, t.id) if acc.record is not None else None
            if acc.value(t, scen)[0] is None or (rec is not None and rec.method == TREND_RECORD):
                self.pieces.setdefault((scen, t.id), {})[first] = np.array(values[s_idx, :room])

    def merge(self, other: "CurveDraws") -> None:
        for key, pieces in other.pieces.items():
            self.pieces.setdefault(key, {}).update(pieces)
        self.as_of = self.as_of if self.as_of is not None else other.as_of


@dataclass
class RowCurve:
    """``P(met | v)`` of one (scenario, target) row from its trend draws.

    ``pieces`` ``{first_draw: trend draws}``; ``setup`` the run's plan record and ``base`` the
    target's base when the record can combine at some ``v`` (None: trend only at every ``v``).
    """

    target: Target
    pieces: dict[int, np.ndarray]
    setup: RecordSetup | None = None
    base: float | None = None
    pilot: np.ndarray | None = None
    _rows: dict[float, RowRecord] = field(default_factory=dict, repr=False)

    @property
    def trend(self) -> np.ndarray:
        return np.concatenate([v for _, v in sorted(self.pieces.items())])

    @property
    def combines(self) -> bool:
        return self.setup is not None and self.base is not None and self.pilot is not None

    def row_for(self, v: float) -> RowRecord | None:
        """The run's row record if the value were ``v`` (None without the record)."""
        if not self.combines:
            return None
        if v not in self._rows:
            assert self.setup is not None and self.base is not None and self.pilot is not None
            self._rows[v] = _trend_row(self.setup, self.target, float(v), self.base, "",
                                       transform_of(self.target), self.pilot)
        return self._rows[v]

    def met_count(self, v: float) -> int:
        """Draws meeting value ``v`` through the run's path (combined where it combines)."""
        t, rec = self.target, self.row_for(v)
        hits = 0
        for first, x in sorted(self.pieces.items()):
            if rec is not None and rec.method == TREND_RECORD and self.setup is not None:
                x = self.setup.combined(t.id, rec, x, first)
            hits += int(compare(x, t.comparator, v, t.value_high, t.tolerance,
                                t.approx_sense).sum())
        return hits

    def n(self) -> int:
        return sum(v.size for v in self.pieces.values())

    def p_met(self, v: float) -> float:
        return self.met_count(v) / self.n()

    def p_trend(self, v: float) -> float:
        t = self.target
        return float(compare(self.trend, t.comparator, v, t.value_high, t.tolerance,
                             t.approx_sense).mean())

    def grid(self, extra: Sequence[float] = ()) -> np.ndarray:
        """:data:`GRID_POINTS` values over the trend draws' range (:data:`GRID_QUANTILES`,
        widened by :data:`GRID_PAD`) and the values of ``extra`` themselves (e.g. the plan's
        value, so the curve there is the headline P(met)), sorted."""
        lo, hi = np.quantile(self.trend, GRID_QUANTILES)
        finite = [float(e) for e in extra if e is not None and math.isfinite(float(e))]
        pad = GRID_PAD * (hi - lo)
        lo, hi = min([lo - pad] + finite), max([hi + pad] + finite)
        if self.target.kind == "share" and self.target.unit.strip() == "%":
            lo, hi = max(lo, 0.0), min(hi, 100.0)
        return np.union1d(np.linspace(lo, hi, GRID_POINTS), finite)   # the values themselves

    def value_met(self, p: float, grid: np.ndarray, probs: np.ndarray,
                  combined: bool = True) -> tuple[float, str]:
        """``value_met(p)`` and, when NaN, why (see module); ``combined``: the record combines
        at some value of the grid (else the exact order statistic)."""
        comp = direction(self.target)
        if comp is None:
            return math.nan, "two-sided target"
        if not (self.combines and combined) and self.target.comparator in ONE_SIDED:
            return value_met_from_draws(self.trend, comp, p), ""
        ok = probs >= p
        if not ok.any():
            return math.nan, (f"P(met) < {p:g} for every value from {grid[0]:.4g} to "
                              f"{grid[-1]:.4g}")
        i = int(np.argmax(ok)) if comp == "<=" else int(len(ok) - 1 - np.argmax(ok[::-1]))
        j = i - 1 if comp == "<=" else i + 1          # the next, more demanding grid value
        if j < 0 or j >= len(grid):
            return math.nan, (f"P(met) >= {p:g} even at {grid[i]:.4g}, the grid's most "
                              f"demanding value")
        good, bad = float(grid[i]), float(grid[j])
        for _ in range(BISECT_STEPS):
            mid = 0.5 * (good + bad)
            if self.p_met(mid) >= p:
                good = mid
            else:
                bad = mid
        m_good, m_bad = (_method(self.row_for(v)) for v in (good, bad))
        base = self.base
        if m_good != m_bad and base is not None and min(good, bad) <= base <= max(good, bad) \
                and self.p_met(base) >= p:
            # P jumps where the run's method changes: at the base the record no longer applies
            return base, (f"reached only at the base value {base:g} ({m_good} there); with the "
                          f"record ({m_bad}) P(met) < {p:g} for every more demanding value")
        return good, ""


class CachedRecord(RecordSetup):
    """The run's :class:`~sim.evaluation.record.RecordSetup`, its keyed record draws generated
    once per (target, first draw, count) instead of once per value ``v`` (same numbers)."""

    @classmethod
    def of(cls, setup: RecordSetup | None) -> "CachedRecord | None":
        if setup is None:
            return None
        return cls(**{f.name: getattr(setup, f.name) for f in fields(setup)})

    def log_ratio(self, tid: str, first: int, n: int) -> np.ndarray:
        cache = self.__dict__.setdefault("_log_ratio_cache", {})
        if (tid, first, n) not in cache:
            cache[(tid, first, n)] = super().log_ratio(tid, first, n)
        return cache[(tid, first, n)]


def curve_for(t: Target, scen: str, acc: Any, curve_draws: CurveDraws,
              setup: RecordSetup | None = None) -> RowCurve | None:
    """The :class:`RowCurve` of a row of the accumulator ``acc``, or None (no trend draws);
    ``setup``: the run's plan record (default ``acc.record``; e.g. a :class:`CachedRecord`)."""
    key = (scen, t.id)
    pieces = curve_draws.pieces.get(key) or acc.kept.get(key)
    if not pieces:
        return None
    setup = acc.record if setup is None else setup
    rec = setup.row(scen, t.id) if setup is not None else None
    if (setup is None or rec is None or rec.method in (RECORD_OFF, RECORD_ONLY)
            or record_off(setup, scen)):
        return RowCurve(t, pieces)
    if rec.method == TREND_RECORD:
        base: float | None = rec.base
    elif t.kind in CUMULATIVE:
        base = 0.0
    else:
        base = t.base_value
    curve = RowCurve(t, pieces)
    x = curve.trend
    if base is None or x.size < 2 or not np.isfinite(x).all():
        return curve
    return RowCurve(t, pieces, setup, base, x[:PILOT_DRAWS])


def record_off(setup: RecordSetup, scen: str) -> bool:
    """Is the plan record off in scenario ``scen`` (``plan_record = false``: its rows with a
    trend are ``trend only (plan record off)``)?"""
    return any(r.method == RECORD_OFF for (s, _), r in setup.rows.items() if s == scen)


def allocation_range(t: Target, as_of: int | None,
                     records: Sequence[Any] | None = None) -> tuple[float, float] | None:
    """The range of past five-year allocations of the target's family in the plan records
    known by ``as_of`` (``% reduction`` targets, as a cumulative % change: ``-value``), or None.

    These are what provinces and cities were given before (e.g. energy intensity −10 … −25 %
    in the 11th/12th FYP provincial allocations): a plausible range for a blank target.
    """
    if t.kind != "cumulative_change" or t.comparator != "<=" or as_of is None:
        return None
    if records is None:
        records = targets_known_by(load_plan_records(), as_of)
    vals = [-float(r.target_value) for r in records
            if r.family == t.family and r.unit == "% reduction" and r.target_value is not None
            and r.period_end - r.period_start == 4]
    return (min(vals), max(vals)) if vals else None


def value_met_rows(acc: Any, curve_draws: CurveDraws,
                   allocations: Callable[[Target], tuple[float, float] | None] | None = None
                   ) -> tuple[dict[tuple[str, str], dict[str, Any]], pd.DataFrame]:
    """``value_met_*`` columns per ``(scenario, target_id)`` and the curves, one row per
    (scenario, target, value): ``scenario, target_id, value, probability, p_trend, method``.

    ``allocations(t)`` gives the plausible range added to the grid of a blank target
    (default :func:`allocation_range` from the bundled plan records known by as_of).
    """
    if allocations is None:
        cache: list[Any] = []

        def allocations(t: Target) -> tuple[float, float] | None:
            if not cache:
                cache.append(targets_known_by(load_plan_records(), curve_draws.as_of)
                             if curve_draws.as_of is not None else [])
            return allocation_range(t, curve_draws.as_of, cache[0])
    cols: dict[tuple[str, str], dict[str, Any]] = {}
    curves: list[dict[str, Any]] = []
    setup = CachedRecord.of(acc.record)
    done: dict[tuple, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for t in acc.targets:
        for scen in acc.scenarios:
            curve = curve_for(t, scen, acc, curve_draws, setup)
            # scenarios with the same draws and record give the same curve: computed once
            same = None if curve is None else (
                t.id, acc.value(t, scen)[0], curve.base, curve.combines,
                hashlib.sha1(curve.trend.tobytes()).hexdigest())
            if same is not None and same in done:
                cols[(scen, t.id)] = dict(done[same][0])
                curves.extend(dict(r, scenario=scen) for r in done[same][1])
                continue
            mine: list[dict[str, Any]] = []
            cols[(scen, t.id)] = _row(t, scen, acc, curve, allocations, mine)
            curves.extend(mine)
            if same is not None:
                done[same] = (cols[(scen, t.id)], mine)
    return cols, pd.DataFrame(curves, columns=["scenario", "target_id", "value", "probability",
                                               "p_trend", "method", "plausible_low",
                                               "plausible_high"])


def _row(t: Target, scen: str, acc: Any, curve: RowCurve | None,
         allocations: Callable[[Target], tuple[float, float] | None],
         curves: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {c: math.nan for c in VALUE_MET_COLUMNS}
    out["value_met_note"] = ""
    rec = acc.record.row(scen, t.id) if acc.record is not None else None
    value = acc.value(t, scen)[0]
    if rec is not None and rec.method == RECORD_ONLY:
        out["value_met_note"] = NOTE_RECORD_ONLY
        return out
    if curve is None:
        return out
    if not np.isfinite(curve.trend).all():
        out["value_met_note"] = "the indicator is not a finite number in every draw"
        return out
    plausible = allocations(t) if value is None else None
    grid = curve.grid([value] + list(plausible or ()))
    probs = np.array([curve.p_met(v) for v in grid])
    trend_p = np.array([curve.p_trend(v) for v in grid]) if curve.combines else probs
    methods = [_method(curve.row_for(v)) for v in grid]
    lo, hi = plausible or (math.nan, math.nan)
    curves.extend(dict(scenario=scen, target_id=t.id, value=float(v), probability=float(p),
                       p_trend=float(q), method=m, plausible_low=lo, plausible_high=hi)
                  for v, p, q, m in zip(grid, probs, trend_p, methods))
    if direction(t) is None:
        out["value_met_note"] = NOTE_TWO_SIDED.format(t.comparator)
        return out
    combined = curve.combines and any(m == TREND_RECORD for m in methods)
    why = []
    for col, p in zip(VALUE_MET_COLUMNS, VALUE_MET_PROBS):
        out[col], note = curve.value_met(p, grid, probs, combined)
        if note:
            why.append(f"p{round(100 * p)}: {note}")
    basis = NOTE_COMBINED if combined else NOTE_TREND if t.comparator in ONE_SIDED else NOTE_APPROX
    if combined and curve.n() < PILOT_DRAWS:
        basis += f" (only {curve.n()} draws kept: the weight is from them, not a 4000-draw pilot)"
    out["value_met_note"] = "; ".join([basis] + why)
    return out


def merge_value_met(table: pd.DataFrame, cols: Mapping[tuple[str, str], Mapping[str, Any]]
                    ) -> pd.DataFrame:
    """``table`` (one row per scenario and target) with the ``value_met_*`` columns added."""
    names = list(VALUE_MET_COLUMNS) + ["value_met_note"]
    keys = list(zip(table["scenario"].astype(str), table["target_id"].astype(str)))
    empty = {c: (math.nan if c != "value_met_note" else "") for c in names}
    extra = pd.DataFrame([dict(cols.get(k, empty)) for k in keys], columns=names,
                         index=table.index)
    return pd.concat([table, extra], axis=1)


def _method(rec: RowRecord | None) -> str:
    return rec.method if rec is not None else "trend only"
