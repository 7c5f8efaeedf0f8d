"""The run's headline probability in the analyses (``sim sweep``, ``sim solve``, ``sim sensitivity``).

A run reports per target the headline ``probability`` (:mod:`sim.evaluation.record`): for a
``trend+record`` row draw ``i`` is ``g⁻¹(w g(x_trend,i) + (1 − w) g(x_record,i))``, for a
``record only`` row ``met_i = U_i < θ_i``, otherwise the trend's ``met_i``. The analyses ask the
same question at other lever values: they take the run's plan record of one scenario — each
row's method, the record draws keyed by ``(seed, target, draw)`` and the trend weight ``w`` fixed
by the run's pilot (draws ``0 .. PILOT_DRAWS-1`` of that scenario) — and give it to every lever
value (:func:`for_names`). Only the trend draws change with a lever; no new pilot is run, so at
the scenario's own lever values the analysis reproduces the run's probability draw by draw.

Vocabulary shared by the three commands:

* **not evaluable**: the run gives the target no probability (method ``not evaluable``: no
  target value, the target year already observed, or no series and the plan record off);
* **not moved by any swept lever**: a probability that is the same at every lever value — e.g.
  a ``record only`` target (past plans only: no lever moves it) or a trend the levers do not
  enter.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from sim.engine.simulation import simulate
from sim.ensemble import ensemble_of
from sim.evaluation import PILOT_DRAWS, RecordSetup, setup_from_pilot
from sim.evaluation.record import (METHODS, NOT_EVALUABLE, RECORD_OFF, RECORD_ONLY, TREND_ONLY,
                                   TREND_RECORD)
from sim.run.context import RunContext
from sim.run.stream import ensemble_attrs
from sim.targets import Target

#: the headline in words (titles, columns, messages), and the trend alone where a method cannot
HEADLINE = "P(met), the run's headline probability"
TREND_ALONE = "P(met) if trends continue (p_trend)"
NOT_EVALUABLE_WORDS = "not evaluable (the run gives it no probability)"
NOT_MOVED_WORDS = "not moved by any swept lever"

#: what each method's probability rests on, in words (Chinese and English)
METHOD_WORDS = {
    TREND_RECORD: "依据本指标数据与往期规划 this indicator's data and past plans",
    TREND_ONLY: "依据本指标数据 this indicator's data",
    RECORD_OFF: "依据本指标数据 this indicator's data (plan record off in this scenario)",
    RECORD_ONLY: "仅参考往期规划 past plans only",
    NOT_EVALUABLE: "无法评估 not evaluable",
}
assert set(METHOD_WORDS) == set(METHODS)


def run_record(ctx: RunContext, scenario: str, targets: Sequence[Target]) -> RecordSetup | None:
    """The run's plan record of ``scenario`` for ``targets``: methods, record draws and the
    weights of the run's pilot (draws ``0 .. PILOT_DRAWS-1`` of this scenario alone; with common
    random numbers a scenario's draws do not depend on which others are simulated with it).
    None when the context has no plan-record model (the headline is then the trend's)."""
    model = ctx.record_model
    if model is None:
        return None
    s = ctx.settings
    k = ctx.scenario_names.index(scenario)
    chunk = simulate(ctx.fitted, [ctx.levers[k]], draws=PILOT_DRAWS, first_draw=0,
                     **s.engine_kwargs())
    pilot = ensemble_of(chunk, ctx.fitted, ensemble_attrs(ctx)).assign_coords(scenario=[scenario])
    return setup_from_pilot(pilot, list(targets), model, seed=s.seed,
                            target_values=ctx.target_values,
                            enabled={scenario: ctx.scenarios[k].plan_record},
                            history=ctx.history, plan_start=ctx.plan_start)


def for_names(record: RecordSetup | None, scenario: str,
              names: Sequence[str]) -> RecordSetup | None:
    """``record`` with the rows of ``scenario`` given to every name in ``names`` (the lever
    values of an analysis): same methods, record draws and weights, so only the trend moves."""
    if record is None:
        return None
    rows = {(name, tid): row for (scen, tid), row in record.rows.items() if scen == scenario
            for name in names}
    return replace(record, rows=rows)


def methods_of(record: RecordSetup | None, scenario: str, ids: Sequence[str],
               reasons: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Per target its method and, for a target that is not evaluable, why (else "").

    Without a record (no plan-record model) a target is evaluable exactly when its trend is
    (``reasons`` are the evaluator's, :meth:`~sim.evaluation.EvaluationAccumulator.reasons`).
    """
    methods, why = [], []
    for tid, reason in zip(ids, reasons):
        row = record.row(scenario, tid) if record is not None else None
        if row is None:
            methods.append(NOT_EVALUABLE if reason else TREND_ONLY)
            why.append(reason)
        else:
            methods.append(row.method)
            why.append((row.note or reason or "not evaluable") if row.method == NOT_EVALUABLE
                       else "")
    return tuple(methods), tuple(why)


__all__ = ["HEADLINE", "METHOD_WORDS", "NOT_EVALUABLE_WORDS", "NOT_MOVED_WORDS", "TREND_ALONE",
           "for_names", "methods_of", "run_record"]
