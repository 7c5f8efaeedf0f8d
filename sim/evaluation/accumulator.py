"""The one evaluator: P(met) of every target, fed chunk by chunk of draws and merged over ranges.

``met[s, i] = x[s, i] ⋄ value`` for the target's comparator ⋄ (:func:`~sim.evaluation.probability.compare`)
on its indicator ``x`` (:func:`~sim.evaluation.indicator.indicator_for`); an ``x`` that is NaN or
infinite in any draw is an error (:class:`~sim.errors.SimError` naming the series, scenario and
year), never "not met". ``P = mean(met)`` with binomial standard error ``sqrt(P (1 - P) / N)``
and the Wilson 95 % interval. With the run's plan record (:mod:`sim.evaluation.record`) one pass
counts two things per row: ``p_trend`` (the trend indicator's hits) and the headline
``probability`` (hits of the combined draws for ``trend+record`` rows, of ``U_i < θ_i`` for
``record only`` rows, the trend's otherwise); joint and k-of-n use the headline's met flags.
Targets that cannot be evaluated are kept, with
``status = "not evaluable"`` and the reason. :class:`EvaluationAccumulator` is the only code
that decides "met": runs, sweeps, solves, adaptive draws and the sensitivity analysis all read
it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence, TypeAlias

import numpy as np
import pandas as pd
import xarray as xr

from sim.errors import SimError, did_you_mean
from sim.evaluation.indicator import Indicator, as_target, indicator_for, observation_for
from sim.evaluation.probability import compare, likelihood_word, wilson_interval
from sim.evaluation.record import (NOT_EVALUABLE, RECORD_ONLY, TREND_ONLY, TREND_RECORD,
                                   RecordSetup)
from sim.evaluation.value_met import CurveDraws, merge_value_met, value_met_rows
from sim.numbers import as_number
from sim.scenario.spec import DEFAULT_QUANTILES
from sim.targets import Target, as_targets

NO_VALUE = "no target value (left blank in the plan)"

#: a catalogue DataFrame (:func:`sim.targets.load_catalogue`), typed targets or catalogue rows
Catalogue: TypeAlias = "pd.DataFrame | Sequence[Target] | Sequence[Mapping[str, Any]]"
#: ``{scenario: {target_id: value}}``: the scenarios' overrides of blank/plan values
TargetValues: TypeAlias = Mapping[str, Mapping[str, Any]]
Key: TypeAlias = tuple[str, str]   # (scenario, target id)


def targets_of(catalogue: Catalogue) -> list[Target]:
    """The targets of a catalogue DataFrame, a list of :class:`~sim.targets.Target` or of rows."""
    if isinstance(catalogue, pd.DataFrame):
        return as_targets(catalogue)
    return [as_target(t) for t in catalogue]


def select_targets(catalogue: Catalogue, ids: Sequence[str] | None) -> list[Target]:
    """The targets with these ids, in that order (all when ``ids`` is empty or None).

    An unknown id is an error naming the closest known one.
    """
    targets = targets_of(catalogue)
    if not ids:
        return targets
    known = {t.id: t for t in targets}
    for tid in ids:
        if tid not in known:
            raise SimError(f"unknown target '{tid}'{did_you_mean(tid, known)} "
                           f"(see `python -m sim targets` for the ids of the run's target sets)")
    return [known[t] for t in ids]


@dataclass
class Evaluation:
    """The evaluation of a run: one table row per (scenario, target), the joint table and,
    when kept, every draw's met flag per ``(scenario, target_id)``."""

    table: pd.DataFrame
    met: dict[Key, np.ndarray] = field(default_factory=dict)
    joint: pd.DataFrame | None = None
    curves: pd.DataFrame | None = None   # P(met | v) per scenario, target and value v


def evaluate(ds: xr.Dataset, catalogue: Catalogue, target_values: TargetValues | None = None,
             history: Any = None, quantiles: Sequence[float] = DEFAULT_QUANTILES,
             record: RecordSetup | None = None) -> Evaluation:
    """Evaluate every target on every scenario of ``ds`` (all draws in memory).

    ``target_values[scenario][target_id]`` overrides or fills a plan value. ``history``
    (optional, a :class:`sim.history.History`) supplies the observed value; ``record`` the
    run's plan record (None: the trend alone).
    """
    acc = EvaluationAccumulator(catalogue, [str(s) for s in ds["scenario"].values],
                                target_values, quantiles, keep_met=True, record=record)
    acc.add(ds)
    return acc.result(history)


class EvaluationAccumulator:
    """Evaluation fed chunk by chunk of draws (``add``), so 10^7 draws need not fit in memory.

    Exact over every draw: P(met) (hit counts), the paired ΔP and its standard error (sums of
    ``d`` and ``d^2``, ``d = met_s - met_baseline``), and the joint distribution of the number
    of targets met (a histogram of ``k`` per draw). Quantiles of the indicator use the first
    ``keep_draws`` draws (all when None); the required rate uses the first chunk's medians.
    With ``keep_met`` every draw's met flag is kept (:meth:`met_array`). Accumulators of
    disjoint ranges of draws of one run :meth:`merge` in any order.
    """

    def __init__(self, catalogue: Catalogue, scenarios: Sequence[str],
                 target_values: TargetValues | None = None,
                 quantiles: Sequence[float] = DEFAULT_QUANTILES, keep_draws: int | None = None,
                 keep_met: bool = False, record: RecordSetup | None = None):
        self.targets = targets_of(catalogue)
        self.record = record
        self.scenarios = [str(s) for s in scenarios]
        self.target_values = target_values or {}
        self.quantiles = tuple(quantiles)
        self.keep_draws = keep_draws
        self.keep_met = keep_met
        self.n = 0
        self.indicators: dict[str, Indicator] = {}     # first chunk's (values dropped)
        self.indicators_from: int | None = None        # first draw of that chunk
        self.hits: dict[Key, int] = {}           # the headline (combined) probability's
        self.trend_hits: dict[Key, int] = {}     # the trend model's alone (p_trend)
        self.kept: dict[Key, dict[int, np.ndarray]] = {}   # key -> {first_draw: indicator}
        self.met: dict[Key, dict[int, np.ndarray]] = {}    # key -> {first_draw: met} (keep_met)
        self.dsum: dict[Key, int] = {}
        self.dsq: dict[Key, int] = {}
        self.k_hist: dict[tuple[str, str, str], np.ndarray] = {}
        self.curve_draws = CurveDraws()   # trend draws for P(met | v) (sim.evaluation.value_met)

    def value(self, target: Target, scen: str) -> tuple[float | None, str]:
        """The value ``target`` asks for in scenario ``scen`` and where it comes from."""
        override = self.target_values.get(scen, {}).get(target.id)
        if override is not None:
            return as_number(override), "scenario"
        return target.value, "plan"

    # -- adding draws ---------------------------------------------------------------------
    def add(self, ds: xr.Dataset, first_draw: int | None = None) -> None:
        """Evaluate one chunk of draws (a Dataset in the :mod:`sim.ensemble` layout) whose
        first draw has global index ``first_draw`` (default: right after the draws so far)."""
        n = ds.sizes["draw"]
        first = self.n if first_draw is None else int(first_draw)
        take_indicators = self.indicators_from is None or first < self.indicators_from
        if take_indicators:
            self.indicators_from = first
        met_chunk: dict[Key, np.ndarray] = {}
        for t in self.targets:
            ind = indicator_for(ds, t)
            if take_indicators:
                self.indicators[t.id] = ind.without_values()
            if ind.values is not None:
                self.curve_draws.add(self, t, ind.values, first, int(ds.attrs["as_of"]))
                try:
                    self._add_target(t, ind.values, first, n, met_chunk)
                except SimError as exc:   # name the ensemble file when the draws come from one
                    source = ds.encoding.get("source")
                    raise SimError(f"{source}: {exc}" if source else str(exc)) from None
            elif self.record is not None:
                self._add_record_only(t, first, n, met_chunk)
        self._add_paired(met_chunk)
        self._add_joint(met_chunk)
        self.n += n

    def _add_target(self, t: Target, values: np.ndarray, first: int, n: int,
                    met_chunk: dict[Key, np.ndarray]) -> None:
        for s_idx, scen in enumerate(self.scenarios):
            value, _ = self.value(t, scen)
            if value is None:
                continue
            x = values[s_idx]
            finite = np.isfinite(x)
            if not finite.all():
                raise SimError(_not_finite(t, scen, int(x.size - finite.sum()), int(x.size), first))
            ok = compare(x, t.comparator, value, t.value_high, t.tolerance, t.approx_sense)
            key = (scen, t.id)
            self.trend_hits[key] = self.trend_hits.get(key, 0) + int(ok.sum())
            rec = self.record.row(scen, t.id) if self.record is not None else None
            if rec is not None and rec.method == TREND_RECORD and self.record is not None:
                x = self.record.combined(t.id, rec, x, first)
                ok = compare(x, t.comparator, value, t.value_high, t.tolerance, t.approx_sense)
            elif rec is not None and rec.method == RECORD_ONLY and self.record is not None:
                ok = self.record.met(t.id, first, n)   # a thin trend: the record decides
                x = np.empty(0)                        # no indicator distribution kept
            met_chunk[key] = ok
            self.hits[key] = self.hits.get(key, 0) + int(ok.sum())
            room = (self.keep_draws - first) if self.keep_draws is not None else n
            if room > 0 and x.size:
                self.kept.setdefault(key, {})[first] = np.array(x[:room])
            if self.keep_met:
                self.met.setdefault(key, {})[first] = ok

    def _add_record_only(self, t: Target, first: int, n: int,
                         met_chunk: dict[Key, np.ndarray]) -> None:
        """Record-only rows: ``met_i = U_i < θ_i`` (keyed draws, the same in every scenario)."""
        assert self.record is not None
        met = None
        for scen in self.scenarios:
            rec = self.record.row(scen, t.id)
            if rec is None or rec.method != RECORD_ONLY:
                continue
            if met is None:
                met = self.record.met(t.id, first, n)
            key = (scen, t.id)
            met_chunk[key] = met
            self.hits[key] = self.hits.get(key, 0) + int(met.sum())
            if self.keep_met:
                self.met.setdefault(key, {})[first] = met

    def _add_paired(self, met_chunk: dict[Key, np.ndarray]) -> None:
        base = self.scenarios[0]
        for (scen, tid), ok in met_chunk.items():
            if scen == base or (base, tid) not in met_chunk:
                continue
            d = ok.astype(np.int64) - met_chunk[(base, tid)].astype(np.int64)
            self.dsum[(scen, tid)] = self.dsum.get((scen, tid), 0) + int(d.sum())
            self.dsq[(scen, tid)] = self.dsq.get((scen, tid), 0) + int((d * d).sum())

    def _add_joint(self, met_chunk: dict[Key, np.ndarray]) -> None:
        for scen in self.scenarios:
            by_set: dict[str, list[Target]] = {}
            for t in self.targets:
                if (scen, t.id) in met_chunk:
                    by_set.setdefault(t.target_set, []).append(t)
            for tset, targets in by_set.items():
                groups = (("binding", [t for t in targets if t.is_binding]), ("all", targets))
                for label, grp in groups:
                    if not grp:
                        continue
                    k = np.sum([met_chunk[(scen, t.id)] for t in grp], axis=0)
                    hist = np.bincount(k, minlength=len(grp) + 1)
                    key = (scen, tset, label)
                    self.k_hist[key] = self.k_hist.get(key, 0) + hist

    def merge(self, other: "EvaluationAccumulator") -> "EvaluationAccumulator":
        """Add the counts of ``other`` (a disjoint range of draws of the same run) to this one."""
        for name in ("hits", "trend_hits", "dsum", "dsq", "k_hist"):
            mine, theirs = getattr(self, name), getattr(other, name)
            for key, v in theirs.items():
                mine[key] = mine[key] + v if key in mine else v
        for key, pieces in other.kept.items():
            self.kept.setdefault(key, {}).update(pieces)
        for key, pieces in other.met.items():
            self.met.setdefault(key, {}).update(pieces)
        self.curve_draws.merge(other.curve_draws)
        if other.indicators_from is not None and (
                self.indicators_from is None or other.indicators_from < self.indicators_from):
            self.indicators, self.indicators_from = other.indicators, other.indicators_from
        self.n += other.n
        return self

    # -- reading --------------------------------------------------------------------------
    def _ids(self, target_ids: Sequence[str] | None) -> list[str]:
        return [t.id for t in self.targets] if target_ids is None else list(target_ids)

    def reasons(self, target_ids: Sequence[str] | None = None) -> tuple[str, ...]:
        """Per target, why it is not evaluable ("" when it is): no value in any scenario, or
        its indicator's reason."""
        by_id = {t.id: t for t in self.targets}
        out = []
        for tid in self._ids(target_ids):
            t = by_id[tid]
            if all(self.value(t, s)[0] is None for s in self.scenarios):
                out.append(NO_VALUE)
            else:
                ind = self.indicators.get(tid)
                out.append(ind.reason if ind is not None else "not evaluated")
        return tuple(out)

    def hit_counts(self, target_ids: Sequence[str] | None = None) -> np.ndarray:
        """Draws meeting each target, (S, T) int64 (0 where not evaluated)."""
        ids = self._ids(target_ids)
        return np.array([[self.hits.get((s, tid), 0) for tid in ids] for s in self.scenarios],
                        dtype=np.int64).reshape(len(self.scenarios), len(ids))

    def probabilities(self, target_ids: Sequence[str] | None = None) -> np.ndarray:
        """P(met), (S, T); NaN where not evaluated."""
        ids = self._ids(target_ids)
        p = np.full((len(self.scenarios), len(ids)), np.nan)
        for i, s in enumerate(self.scenarios):
            for j, tid in enumerate(ids):
                if (s, tid) in self.hits:
                    p[i, j] = self.hits[(s, tid)] / self.n
        return p

    def met_array(self, target_ids: Sequence[str] | None = None) -> np.ndarray:
        """Every draw's met flag, (S, T, N) bool in draw order (False where not evaluated);
        needs ``keep_met``."""
        if not self.keep_met:
            raise ValueError("met_array needs an accumulator made with keep_met=True")
        ids = self._ids(target_ids)
        out = np.zeros((len(self.scenarios), len(ids), self.n), dtype=bool)
        for i, s in enumerate(self.scenarios):
            for j, tid in enumerate(ids):
                pieces = self.met.get((s, tid))
                if pieces:
                    out[i, j] = np.concatenate([v for _, v in sorted(pieces.items())])
        return out

    def result(self, history: Any = None) -> Evaluation:
        """The evaluation table and joint table over every draw added so far."""
        rows = []
        for t in self.targets:
            obs = observation_for(history, t) or {}
            base = dict(target_id=t.id, target_set=t.target_set, indicator=t.indicator,
                        indicator_zh=t.indicator_zh, series=t.series, target_year=t.target_year,
                        kind=t.kind, comparator=t.comparator, unit=t.unit,
                        base_year=t.base_year, binding=t.binding, value_high=t.value_high,
                        tolerance=t.tolerance, base_value=t.base_value,
                        period_start=t.period_start, period_end=t.period_end,
                        observed=obs.get("value"), observed_year=obs.get("year"),
                        observed_source=obs.get("source"))
            for s_idx, scen in enumerate(self.scenarios):
                rows.append(self._row(t, s_idx, scen, base))
        table = pd.DataFrame(rows)
        for col in ("delta_vs_baseline", "delta_se"):
            if col not in table:
                table[col] = math.nan
        met = {key: np.concatenate([v for _, v in sorted(pieces.items())])
               for key, pieces in self.met.items()} if self.keep_met else {}
        value_met, curves = value_met_rows(self, self.curve_draws)
        return Evaluation(table=merge_value_met(table, value_met), met=met, joint=self._joint(),
                          curves=curves)

    def _row(self, t: Target, s_idx: int, scen: str, base: dict[str, Any]) -> dict[str, Any]:
        n = self.n
        value, source = self.value(t, scen)
        out = dict(base, scenario=scen, value=value, value_source=source)
        key = (scen, t.id)
        ind = self.indicators.get(t.id)
        out.update(self._record_columns(t, scen, value))
        if value is None:
            out.update(status="not evaluable", reason=NO_VALUE, method=NOT_EVALUABLE,
                       record_note=NO_VALUE)
            return out
        if key not in self.hits:
            why = ind.reason if ind else "not evaluated"
            out.update(status="not evaluable", reason=why, method=NOT_EVALUABLE,
                       record_note=out.get("record_note") or why)
            return out
        assert ind is not None
        if key in self.trend_hits:
            pt = self.trend_hits[key] / n
            out.update(p_trend=pt, p_trend_se=math.sqrt(pt * (1 - pt) / n))
        p = self.hits[key] / n
        lo, hi = wilson_interval(p, n)
        out.update(status="evaluated", reason="", probability=p,
                   mc_se=math.sqrt(p * (1 - p) / n), ci_low=lo, ci_high=hi,
                   likelihood=likelihood_word(p), required_annual=ind.required(value, s_idx),
                   required_unit=ind.required_unit, achieved_before_as_of=ind.observed_part)
        kept = self.kept.get(key)
        if kept and self.quantiles:
            x = np.concatenate([v for _, v in sorted(kept.items())])
            for q, v in zip(self.quantiles, np.nanquantile(x, self.quantiles)):
                out[_qname(q)] = float(v)
        if key in self.dsum:
            mean = self.dsum[key] / n
            var = (self.dsq[key] - n * mean * mean) / (n - 1) if n > 1 else math.nan
            out["delta_vs_baseline"] = mean
            out["delta_se"] = math.sqrt(max(var, 0.0) / n) if n > 1 else math.nan
        return out

    def _record_columns(self, t: Target, scen: str, value: float | None) -> dict[str, Any]:
        """p_record and its interval and counts, the row's method and why (record columns)."""
        out: dict[str, Any] = dict(method=TREND_ONLY, record_note="", low_information=False,
                                   p_trend=math.nan, p_trend_se=math.nan, p_record=math.nan,
                                   p_record_low=math.nan, p_record_high=math.nan,
                                   record_n_family=math.nan, record_thin=math.nan,
                                   trend_weight=math.nan, family=t.family,
                                   approx_sense=t.approx_sense)
        if self.record is None:
            out["record_note"] = "no plan-record model in this evaluation"
            return out
        rp = self.record.probabilities.get(t.id)
        if rp is not None and value is not None:
            out.update(p_record=rp.mean, p_record_low=rp.lower, p_record_high=rp.upper,
                       record_n_family=rp.n_family, record_thin=bool(rp.thin))
        rec = self.record.row(scen, t.id)
        if rec is not None:
            out.update(method=rec.method, record_note=rec.note, trend_weight=rec.weight,
                       low_information=bool(rec.method == RECORD_ONLY and rp is not None
                                            and rp.thin))
        return out

    def _joint(self) -> pd.DataFrame:
        """P(all targets of a group met) and P(at least k of n met), per scenario and set.

        ``n_targets`` (n) counts the group's targets with a probability in the scenario,
        ``n_in_group`` (N) all of the set's targets of that group (binding, or all), and
        ``left_out`` names the N - n without one: a joint probability covers the n only.
        ``p_at_least_j`` is an exact ratio of integer counts (no 0.9999999999999999).
        """
        out = []
        for (scen, tset, label), hist in self.k_hist.items():
            m = len(hist) - 1
            p = hist / self.n
            members = [t for t in self.targets if t.target_set == tset
                       and (label == "all" or t.is_binding)]
            left_out = [t.id for t in members if (scen, t.id) not in self.hits]
            rec: dict[str, Any] = dict(scenario=scen, target_set=tset, group=label, n_targets=m,
                                       n_in_group=len(members), left_out="; ".join(left_out),
                                       p_all=float(p[m]),
                                       expected_met=float(np.dot(np.arange(m + 1), hist)) / self.n)
            rec["p_all_se"] = math.sqrt(rec["p_all"] * (1 - rec["p_all"]) / self.n)
            tail = np.cumsum(np.asarray(hist)[::-1])[::-1]  # tail[j] = draws with k >= j
            for j in range(1, m + 1):
                rec[f"p_at_least_{j}"] = int(tail[j]) / self.n
            out.append(rec)
        return pd.DataFrame(out)


def _not_finite(t: Target, scen: str, bad: int, n: int, first: int) -> str:
    """The error of an indicator that is NaN or infinite in some draws: never "not met"."""
    what = f"{t.series or t.indicator} in {t.target_year}"
    if t.kind == "cumulative_change" and t.base_year is not None:
        what += f" (change since {t.base_year})"
    elif t.kind == "cumulative_sum" and t.period_start is not None:
        what = f"{t.series or t.indicator} summed over {t.period_start}–{t.period_end or t.target_year}"
    draws = f"draws {first}–{first + n - 1}" if n > 1 else f"draw {first}"
    return (f"scenario '{scen}': {what} is not a finite number in {bad} of {n} draws ({draws}) "
            f"for target {t.id}: the simulation broke down (NaN or infinity), so whether the "
            f"target is met is unknown; check the scenario's levers and the history data")


def _qname(q: float) -> str:
    return "median" if q == 0.5 else f"p{q * 100:g}".replace(".", "_")
