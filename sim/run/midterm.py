"""Mid-term evaluation: a run as of a year inside the plan period, next to the plan's start.

A context whose ``as_of`` is after its file's own as_of (``ctx.is_midterm``) is evaluated a
second time from the plan's start: ``ctx.at_as_of(ctx.plan_start)`` (the same history, the file
as read at its own as_of, recalibrated) simulated through the same streaming evaluator
(:func:`sim.run.stream.evaluate_context`). The two calibrations are treated as independent.

``achieved`` is the annual pace achieved from the plan's start (or the target's base year) to
the mid-term year in the indicator's natural unit (pp/yr for a share in %, %/yr otherwise),
next to ``required_annual``, the rate still needed. A target evaluated at the plan's start that
has no probability at the mid-term year, or whose method changed (a trend lost, so only the
plan record is left), is named in ``change_since_start`` with the reason: a joint probability
over fewer targets is not progress.

ΔP since the plan's start is split by what changed (:func:`what_changed`): the indicator's data
(``delta_p_trend_since_start``, the change of p_trend) and the record (``delta_p_record_since_start``,
the change of p_record, with the past targets of the family judged since the plan's start,
:func:`records_since_start`). A past-plans-only ΔP is an update of the reference class, never
progress; every ΔP beyond 2 SE says what changed in ``change_since_start``. The two parts are
the changes of the two ingredients, not an additive decomposition of ΔP (the headline combines
them draw by draw with the run's weight).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from sim.evaluation import indicator_for
from sim.evaluation.evidence import (add_record_counts, delta_words, family_counts,
                                     significant)
from sim.run.context import RunContext
from sim.run.stream import evaluate_context
from sim.targets import Target, as_targets


def achieved(ds_start: xr.Dataset, ds_mid: xr.Dataset, target: Target, a0: int,
             a1: int) -> tuple[float, float]:
    """The pace achieved from ``a0`` (plan start) to ``a1`` (mid-term year), and the latest value.

    Returns ``(achieved_annual, latest)``, the pace in :func:`achieved_unit`. For a level
    target ``100 ((S_1 / S_0)^(1/(a1 - a0)) - 1)`` %/yr, for a share in %
    ``(S_1 - S_0) / (a1 - a0)`` pp/yr, with ``S`` the level at each as_of (the median of the
    draws: the observation where the data has one) and ``latest = S_1``; for a cumulative
    change from base year ``b < a1``, ``100 (exp(c / (a1 - b)) - 1)`` %/yr with ``c`` the
    filtered log change ``b -> a1`` and ``latest = 100 (exp(c) - 1)``; otherwise NaN (a
    cumulative sum is not in the ensemble).
    """
    ind_mid = indicator_for(ds_mid, target)
    if ind_mid.values is None:
        return math.nan, math.nan
    if ind_mid.kind == "level":
        ind0 = indicator_for(ds_start, target)
        if ind0.values is None or ind0.start is None or ind_mid.start is None:
            latest = float(ind_mid.start[0]) if ind_mid.start is not None else math.nan
            return math.nan, latest
        s0, s1 = float(ind0.start[0]), float(ind_mid.start[0])
        if target.kind == "share" and target.unit.strip() == "%":
            return (s1 - s0) / (a1 - a0), s1
        if s0 > 0 and s1 > 0:
            return 100 * ((s1 / s0) ** (1 / (a1 - a0)) - 1), s1
        return math.nan, s1
    if ind_mid.kind == "cumulative_change" and target.base_year is not None \
            and target.base_year < a1:
        b = target.base_year
        return 100 * math.expm1(ind_mid.done / (a1 - b)), 100 * math.expm1(ind_mid.done)
    return math.nan, math.nan


def achieved_unit(target: Target) -> str:
    """The unit of :func:`achieved`: pp/yr for a share in %, %/yr for levels and changes,
    '' for a cumulative sum (not computed)."""
    if target.kind == "cumulative_sum":
        return ""
    return "pp/yr" if target.kind == "share" and target.unit.strip() == "%" else "%/yr"


def change_since_start(row: dict, start: dict | None) -> str:
    """Why a target's evaluation differs from the plan start's: '' when it does not.

    ``row`` is the mid-term row of ``targets.csv``, ``start`` the plan-start row (None when the
    plan-start run has none). A drop-out (evaluated then, not now) gives the mid-term reason; a
    method change (e.g. trend+record → record only) gives the note saying why the trend went.
    """
    if start is None:
        return ""
    was, now = start.get("status"), row.get("status")
    why = next((str(v) for v in (row.get("reason"), row.get("record_note"))
                if isinstance(v, str) and v), "")
    if was == "evaluated" and now != "evaluated":
        return f"dropped out: evaluated at plan start ({start.get('method')}), not now: {why}"
    m0, m1 = start.get("method"), row.get("method")
    if was == "evaluated" and now == "evaluated" and m0 != m1:
        return f"method changed since plan start: {m0} → {m1}" + (f": {why}" if why else "")
    if was != "evaluated" and now == "evaluated":
        return "evaluated now, not at plan start"
    return ""


def records_since_start(model_start: Any, model_mid: Any,
                        family: Any) -> tuple[int, int, int, int] | None:
    """``(met, judged)`` past targets of ``family`` known at the plan's start and now:
    ``(m0, n0, m1, n1)``, from the two runs' plan-record models (each admits the records
    published by its as_of: today ``period_end <= as_of``, :func:`sim.plan_record.records.known_by`);
    None without both."""
    fam = family if isinstance(family, str) and family else "other"
    c0, c1 = family_counts(model_start, fam), family_counts(model_mid, fam)
    return None if c0 is None or c1 is None else (*c0, *c1)


def what_changed(row: dict, start: dict | None, since: int,
                 new_records: tuple[int, int, int, int] | None) -> str:
    """The ``change_since_start`` of a row: the drop-out / method change
    (:func:`change_since_start`) and, where ΔP is beyond 2 SE, what moved it
    (:func:`sim.evaluation.evidence.delta_words`)."""
    parts = [change_since_start(row, start)]
    if start is not None and significant(row.get("delta_p_since_start"),
                                         row.get("delta_p_since_start_se")):
        dt = _float(row.get("p_trend")) - _float(start.get("p_trend"))
        dr = _float(row.get("p_record")) - _float(start.get("p_record"))
        parts.append(delta_words(row.get("method"), dt, dr, new_records, since,
                                 _float(row.get("p_trend"))))
    return "; ".join(p for p in parts if p)


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def add_midterm_columns(ctx: RunContext, table: pd.DataFrame, ds_mid: xr.Dataset, *,
                        scheduler: Any = None) -> pd.DataFrame:
    """The mid-term run's ``table`` with the plan-start columns added.

    ``p_at_plan_start``, ``delta_p_since_start`` and ``delta_p_since_start_se`` (two
    calibrations: treated as independent, ``sqrt(se_mid^2 + se_start^2)``), ``achieved_annual``
    and ``achieved_unit`` (see :func:`achieved`), ``method_at_plan_start``,
    ``change_since_start`` (:func:`change_since_start`) and ``plan_start_as_of``.
    ``ds_mid`` is (a prefix of) the mid-term ensemble; the plan-start run is ``ctx.at_as_of(ctx.plan_start)``.
    """
    start_ctx = ctx.at_as_of(ctx.plan_start)
    start, ds_start = evaluate_context(start_ctx, scheduler=scheduler)
    start = add_record_counts(start, start_ctx.record_model).set_index(["scenario", "target_id"])
    table = table.copy()
    p0, dp, dse, changes, m0, dpt, dpr = [], [], [], [], [], [], []
    for _, r in table.iterrows():
        key = (r["scenario"], r["target_id"])
        srow = start.loc[key].to_dict() if key in start.index else None
        ps = srow.get("probability") if srow is not None else None
        m0.append(srow.get("method") if srow is not None else "")
        row = r.to_dict()
        if r.get("status") == "evaluated" and ps is not None and ps == ps:
            p0.append(ps)
            dp.append(r["probability"] - ps)
            dse.append(float(np.hypot(r["mc_se"], start["mc_se"][key])))
            dpt.append(_float(row.get("p_trend")) - _float(srow.get("p_trend")) if srow else np.nan)
            dpr.append(_float(row.get("p_record")) - _float(srow.get("p_record"))
                       if srow else np.nan)
        else:
            p0.append(np.nan)
            dp.append(np.nan)
            dse.append(np.nan)
            dpt.append(np.nan)
            dpr.append(np.nan)
        row.update(delta_p_since_start=dp[-1], delta_p_since_start_se=dse[-1])
        new = records_since_start(start_ctx.record_model, ctx.record_model, row.get("family"))
        changes.append(what_changed(row, srow, ctx.plan_start, new))
    targets = {t.id: t for t in as_targets(ctx.catalogue)}
    rate = {tid: achieved(ds_start, ds_mid, targets[tid], ctx.plan_start, ctx.as_of)[0]
            for tid in table["target_id"].unique()}
    table["p_at_plan_start"] = p0
    table["delta_p_since_start"] = dp
    table["delta_p_since_start_se"] = dse
    table["achieved_annual"] = table["target_id"].map(rate)
    table["achieved_unit"] = table["target_id"].map(lambda t: achieved_unit(targets[t]))
    table["delta_p_trend_since_start"] = dpt
    table["delta_p_record_since_start"] = dpr
    table["method_at_plan_start"] = m0
    table["change_since_start"] = changes
    table["plan_start_as_of"] = ctx.plan_start
    return table
