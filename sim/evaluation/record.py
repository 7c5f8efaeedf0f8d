"""The plan record in the evaluation: p_record, the method of every row and the record's draws.

Per target and scenario the evaluation reports ``p_trend`` (the trend model's P(met) under the
scenario's levers), ``p_record`` (the verdict model's P(met) for the target's family and binding
status, :meth:`~sim.plan_record.verdict.VerdictModel.p_record`) and the headline
``probability`` with its ``method``:

* ``trend+record``: the target has a trend indicator, a base ``b`` (the catalogue's
  ``base_value``, else the observed level of its series at the plan's base year; 0 for
  cumulative changes and sums) and a side (:func:`~sim.plan_record.combine.meet_side` ≠ 0).
  Draw ``i`` of the indicator is the combination of :mod:`sim.plan_record.combine` of the trend
  draw and the record draw ``b + exp(side · ℓ_i) (v − b)``, ``ℓ_i`` from the split model
  (:meth:`~sim.plan_record.model.PlanRecordModel.log_ratio_draws`); the weight comes from a
  fixed pilot of draws ``0 .. PILOT_DRAWS-1``. P(met), quantiles, joint and k-of-n use it.
  A draw whose combination falls outside the transform's domain keeps its trend value.
* ``trend only``: a trend indicator, but no base, a two-sided target, a cap above the base
  (``meet_side`` = −1: the outcome model's records all ask for improvement, so it says nothing
  about how caps end), or the plan record off
  for the scenario (``plan_record = false``): probability = p_trend, why in ``record_note``.
* ``record only`` also where the row would be ``trend only`` but its trend is thin: fewer than
  :data:`MIN_INFORMATIVE_TREND` informative observations behind its series
  (:func:`informative_count`): thin evidence does not decide alone against the record of
  past plans (the trend's draws still give ``p_trend``).
* ``record only``: no series measures the indicator, or it has no history: per draw
  ``met_i = U_i < θ_i`` with ``θ_i`` from the verdict model's posterior and ``U_i`` uniform,
  so the target enters joint and k-of-n, independent of the others given θ (no quantiles).
* ``not evaluable``: no target value, or the target year is already observed.

Record draws are keyed by ``(seed, crc32(target id), block of RECORD_BLOCK draws)``: draw ``i``
never depends on how many draws are run or how they are split into chunks.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import xarray as xr

from sim.evaluation.indicator import indicator_for
from sim.numbers import as_number
from sim.plan_record.combine import Weight, combine, forward, meet_side, record_values
from sim.plan_record.model import PlanRecordModel
from sim.plan_record.split import SplitPredictive
from sim.plan_record.verdict import RecordProbability
from sim.targets import Target
from sim.vocabulary import COMPOSITION, HOUSING_DRIVER, HOUSING_SERIES

PILOT_DRAWS = 4000      # draws 0 .. PILOT_DRAWS-1 set the combination weight of a run
#: Fixed beforehand (issue 18 item 5), not tuned on the backtest: a local linear trend has a
#: level, a slope and a noise scale; with fewer than four informative observations (three
#: changes) it cannot tell a slope from noise, so a trend-only row on it defers to the record.
MIN_INFORMATIVE_TREND = 4
RECORD_BLOCK = 1000     # record draws are generated block by block of this many draws
TREND_RECORD, TREND_ONLY, RECORD_ONLY, NOT_EVALUABLE = (
    "trend+record", "trend only", "record only", "not evaluable")
RECORD_OFF = "trend only (plan record off)"
THIN_TREND = "the trend is thin, the record decides"
METHODS = (TREND_RECORD, TREND_ONLY, RECORD_OFF, RECORD_ONLY, NOT_EVALUABLE)
_LOG_RATIO, _VERDICT, _DISAGREE = 0, 1, 2   # streams of the record's generator

MEANINGS = {
    "p_trend": "p_trend: trends continue under this scenario's levers",
    "p_record": "p_record: how past plans' targets of this family ended",
    "probability": "probability: both combined, the headline",
}


def informative_count(fitted: Any, series: str | None) -> int | None:
    """Informative observations behind ``series`` in ``fitted`` (a ``FittedModel``): the
    fewest of its drivers' (:data:`~sim.vocabulary.COMPOSITION`; housing supplied rests on the
    delivery ratio), or None when a driver is not fitted or has no information measure."""
    if fitted is None or not series:
        return None
    names = ([d for d, _ in COMPOSITION[series]] if series in COMPOSITION
             else [HOUSING_DRIVER] if series == HOUSING_SERIES else [series])
    counts = []
    for name in names:
        fit = fitted.drivers.get(name)
        if fit is None or fit.information is None:
            return None
        counts.append(int(fit.information.n_informative))
    return min(counts)


def transform_of(t: Target) -> str:
    """The combination scale of a target: ``log1p_pct`` for cumulative % changes,
    ``logit_pct`` for shares in %, ``log`` otherwise."""
    if t.kind == "cumulative_change":
        return "log1p_pct"
    if t.kind == "share" and t.unit.strip() == "%":
        return "logit_pct"
    return "log"


def base_of(t: Target, history: Any, plan_start: int, as_of: int,
            vintage: str = "revised") -> tuple[float | None, str]:
    """The target's base (its indicator at the plan's start) and, when None, why.

    Cumulative changes and sums have base 0; otherwise the catalogue's ``base_value``, else the
    observed level of the series in the base year (``base_year``, else the year before
    ``period_start``, else the plan's start), known by ``as_of``: data only, never an estimate,
    in the run's ``vintage`` (``History.select``: that vintage, else ``unknown``, else the other;
    a backtest lists where ``first`` falls back to ``revised``,
    :mod:`sim.backtest.fallbacks`).
    """
    if t.kind in ("cumulative_change", "cumulative_sum"):
        return 0.0, ""
    if t.base_value is not None:
        return float(t.base_value), ""
    year = t.base_year or (t.period_start - 1 if t.period_start else None) or plan_start
    if year > as_of:
        return None, f"no base: the base year {year} is after as_of {as_of}"
    if history is None or not t.series:
        return None, "no base value in the plan and no series to observe it"
    obs = history.select(t.series, vintage)   # an unknown series is an error naming it
    hit = obs[(obs["kind"] == "level") & (obs["year"] == year)]
    if hit.empty:
        return None, f"no base: no observed level of {t.series} in {year}"
    return float(hit.iloc[0]["value"]), ""


@dataclass(frozen=True)
class RecordSampler:
    """Draws of the verdict rate θ (a mixture of betas) and of ``ln r`` (split model) for one
    family and binding status: :meth:`PlanRecordModel.log_ratio_draws` with the mixture kept."""

    weights: np.ndarray
    a: np.ndarray
    b: np.ndarray
    split: SplitPredictive

    @classmethod
    def of(cls, model: PlanRecordModel, family: str, binding: str) -> "RecordSampler":
        w, a, b = model.verdict._mixture(family, binding)
        return cls(w, a, b, model.split.predictive(family))

    def theta(self, n: int, rng: np.random.Generator) -> np.ndarray:
        j = (rng.choice(len(self.weights), size=n, p=self.weights) if len(self.weights) > 1
             else np.zeros(n, dtype=int))
        return rng.beta(self.a[j], self.b[j])

    def log_ratio(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.split.sample_log_ratio(self.theta(n, rng), n, rng)

    def met(self, n: int, rng: np.random.Generator) -> np.ndarray:
        theta = self.theta(n, rng)
        return rng.random(n) < theta


@dataclass(frozen=True)
class RowRecord:
    """How one (scenario, target) row is evaluated: its method, why, and what the
    combination needs (value, base, side, transform, weight)."""

    method: str
    note: str = ""
    value: float = math.nan
    base: float = math.nan
    side: int = 0
    transform: str = "log"
    weight: float = math.nan
    spread: float = 0.0      # sd of the disagreement term on the transformed scale


@dataclass(frozen=True)
class RecordSetup:
    """The plan record of one run: per target its p_record and sampler, per row its method.

    Built once per run (:func:`build_record_setup`) and passed to every chunk's accumulator.
    """

    seed: int
    probabilities: Mapping[str, RecordProbability]
    samplers: Mapping[str, RecordSampler]
    rows: Mapping[tuple[str, str], RowRecord] = field(default_factory=dict)

    def row(self, scen: str, tid: str) -> RowRecord | None:
        return self.rows.get((scen, tid))

    def _blocks(self, tid: str, first: int, n: int, stream: int) -> tuple[list[np.ndarray], int]:
        sampler = self.samplers[tid]
        out = []
        b0, b1 = first // RECORD_BLOCK, (first + n - 1) // RECORD_BLOCK
        for block in range(b0, b1 + 1):
            rng = np.random.default_rng(np.random.SeedSequence(
                [int(self.seed), zlib.crc32(tid.encode()), block, stream]))
            out.append(sampler.log_ratio(RECORD_BLOCK, rng) if stream == _LOG_RATIO
                       else sampler.met(RECORD_BLOCK, rng) if stream == _VERDICT
                       else rng.standard_normal(RECORD_BLOCK))
        return out, first - b0 * RECORD_BLOCK

    def log_ratio(self, tid: str, first: int, n: int) -> np.ndarray:
        """Draws ``first .. first+n-1`` of ``ln r`` for target ``tid`` (keyed, split-free)."""
        if n <= 0:
            return np.empty(0)
        blocks, skip = self._blocks(tid, first, n, _LOG_RATIO)
        return np.concatenate(blocks)[skip:skip + n]

    def met(self, tid: str, first: int, n: int) -> np.ndarray:
        """Draws ``first .. first+n-1`` of "met" of a record-only target: ``U_i < θ_i``."""
        if n <= 0:
            return np.zeros(0, dtype=bool)
        blocks, skip = self._blocks(tid, first, n, _VERDICT)
        return np.concatenate(blocks)[skip:skip + n]

    def disagreement(self, tid: str, first: int, n: int) -> np.ndarray:
        """Draws ``first .. first+n-1`` of ``ε`` ~ N(0, 1), the disagreement term's (keyed)."""
        if n <= 0:
            return np.empty(0)
        blocks, skip = self._blocks(tid, first, n, _DISAGREE)
        return np.concatenate(blocks)[skip:skip + n]

    def combined(self, tid: str, rec: RowRecord, trend: np.ndarray, first: int) -> np.ndarray:
        """The combined draws of a trend+record row for trend draws ``first ..`` (1-D)."""
        n = trend.shape[-1]
        ell = self.log_ratio(tid, first, n)
        extra = rec.spread * self.disagreement(tid, first, n) if rec.spread > 0 else None
        with np.errstate(all="ignore"):
            x = combine(trend, record_values(ell, rec.value, rec.base, rec.side), rec.weight,
                        rec.transform, extra)
        return np.where(np.isfinite(x), x, trend)


def build_record_setup(targets: Sequence[Target], scenarios: Sequence[str],
                       values: Mapping[tuple[str, str], float | None], model: PlanRecordModel,
                       enabled: Mapping[str, bool], seed: int,
                       bases: Mapping[str, tuple[float | None, str]],
                       pilot: Mapping[str, np.ndarray | None], reasons: Mapping[str, str],
                       informative: Mapping[str, int | None] | None = None) -> RecordSetup:
    """Decide every row's method and fix the combination weights from the pilot draws.

    ``values[(scen, tid)]`` is the value the row asks for (None: none); ``pilot[tid]`` the
    trend indicator of draws ``0 .. PILOT_DRAWS-1`` (S, P) or None with ``reasons[tid]`` why;
    ``bases[tid]`` the target's base or why it has none; ``informative[tid]`` the informative
    observations behind its trend (a trend-only row below :data:`MIN_INFORMATIVE_TREND`
    becomes record only; None: unknown, no change).
    """
    probs = {t.id: model.verdict.p_record(t.family or "other", t.binding) for t in targets}
    samplers = {t.id: RecordSampler.of(model, t.family or "other", t.binding) for t in targets}
    setup = RecordSetup(int(seed), probs, samplers)
    rows: dict[tuple[str, str], RowRecord] = {}
    for t in targets:
        trend = pilot.get(t.id)
        base, base_note = bases.get(t.id, (None, "no base"))
        transform = transform_of(t)
        for s_idx, scen in enumerate(scenarios):
            value = values.get((scen, t.id))
            if value is None:
                rows[(scen, t.id)] = RowRecord(NOT_EVALUABLE, "no target value")
            elif trend is None:
                reason = reasons.get(t.id, "")
                if "already observed" in reason or not enabled.get(scen, True):
                    rows[(scen, t.id)] = RowRecord(NOT_EVALUABLE, reason)
                else:
                    rows[(scen, t.id)] = RowRecord(RECORD_ONLY, reason)
            elif not enabled.get(scen, True):
                rows[(scen, t.id)] = RowRecord(RECORD_OFF, "plan_record = false in this scenario")
            else:
                row = _trend_row(setup, t, float(value), base, base_note, transform,
                                 trend[s_idx])
                n_info = (informative or {}).get(t.id)
                if row.method == TREND_ONLY and n_info is not None \
                        and n_info < MIN_INFORMATIVE_TREND:
                    row = RowRecord(RECORD_ONLY, f"{THIN_TREND}: {n_info} informative "
                                                 f"observation{'' if n_info == 1 else 's'} "
                                                 f"(< {MIN_INFORMATIVE_TREND}); {row.note}")
                rows[(scen, t.id)] = row
    return RecordSetup(setup.seed, probs, samplers, rows)


def setup_from_pilot(pilot: xr.Dataset, targets: Sequence[Target], model: PlanRecordModel, *,
                     seed: int, target_values: Mapping[str, Mapping[str, Any]] | None = None,
                     enabled: Mapping[str, bool] | None = None, history: Any = None,
                     plan_start: int | None = None, fitted: Any = None) -> RecordSetup:
    """:func:`build_record_setup` from a pilot ensemble (draws ``0 .. PILOT_DRAWS-1`` of the
    run, every scenario): values from the plan or ``target_values``, bases from the catalogue
    or ``history`` (base year default ``plan_start``, else the pilot's as_of), informative
    observations from ``fitted`` (the run's ``FittedModel``; None: not checked)."""
    scenarios = [str(s) for s in pilot["scenario"].values]
    as_of = int(pilot.attrs["as_of"])
    tv = target_values or {}
    values: dict[tuple[str, str], float | None] = {}
    for t in targets:
        for scen in scenarios:
            override = tv.get(scen, {}).get(t.id)
            values[(scen, t.id)] = as_number(override) if override is not None else t.value
    trend, reasons = {}, {}
    for t in targets:
        ind = indicator_for(pilot, t)
        trend[t.id], reasons[t.id] = ind.values, ind.reason
    start = plan_start if plan_start is not None else as_of
    vintage = str(pilot.attrs.get("vintage", "revised"))
    bases = {t.id: base_of(t, history, start, as_of, vintage) for t in targets}
    informative = {t.id: informative_count(fitted, t.series) for t in targets}
    return build_record_setup(targets, scenarios, values, model, enabled or {}, seed, bases,
                              trend, reasons, informative)


def _trend_row(setup: RecordSetup, t: Target, value: float, base: float | None, base_note: str,
               transform: str, pilot: np.ndarray) -> RowRecord:
    """The method of a row with a trend indicator: trend+record when the record combines."""
    if base is None:
        return RowRecord(TREND_ONLY, base_note)
    side = meet_side(t.comparator, value, base, t.approx_sense)
    if side == 0:
        why = ("the target equals its base" if value == base and t.comparator in (">=", "<=")
               else f"two-sided target ({t.comparator}): the record says nothing about a side")
        return RowRecord(TREND_ONLY, why)
    if side < 0:
        # the outcome model is fitted on records of targets that ask for improvement over
        # their base; how caps above the base end (e.g. population) is not in the record
        return RowRecord(TREND_ONLY, "a cap above the base: the plan record's outcome model "
                                     "holds targets that ask for improvement, not caps")
    with np.errstate(all="ignore"):
        if not np.isfinite(forward(np.array([value]), transform)[0]):
            return RowRecord(TREND_ONLY, f"target value outside the {transform} scale")
        rec = record_values(setup.log_ratio(t.id, 0, pilot.size), value, base, side)
        w = Weight.from_pilot(forward(pilot, transform), forward(rec, transform))
    if not math.isfinite(w.trend):
        return RowRecord(TREND_ONLY, "no finite pilot variance to weigh the record")
    return RowRecord(TREND_RECORD, "", value, base, side, transform, w.trend, w.spread)
