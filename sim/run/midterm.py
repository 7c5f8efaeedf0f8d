"""Mid-term evaluation: a run as of a year inside the plan period, next to the plan's start.

A context whose ``as_of`` is after its file's own as_of (``ctx.is_midterm``) is evaluated a
second time from the plan's start: ``ctx.at_as_of(ctx.plan_start)`` (the same history, the file
as read at its own as_of, recalibrated) simulated through the same streaming evaluator
(:func:`sim.run.stream.evaluate_context`). The two calibrations are treated as independent.

``achieved`` is the constant annual rate observed from the plan's start (or the target's base
year) to the mid-term year, next to ``required_annual``, the rate still needed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from sim.evaluation import indicator_for
from sim.run.context import RunContext
from sim.run.stream import evaluate_context
from sim.targets import Target, as_targets


def achieved(ds_start: xr.Dataset, ds_mid: xr.Dataset, target: Target, a0: int,
             a1: int) -> tuple[float, float]:
    """The rate achieved from ``a0`` (plan start) to ``a1`` (mid-term year), and the latest value.

    Returns ``(achieved_annual, latest)``. For a level target ``100 ((S_1 / S_0)^(1/(a1 - a0))
    - 1)`` with ``S`` the observed level at each as_of (the median of the draws, which all carry
    the observation) and ``latest = S_1``; for a cumulative change from base year ``b < a1``,
    ``100 (exp(c / (a1 - b)) - 1)`` with ``c`` the observed log change ``b -> a1`` and
    ``latest = 100 (exp(c) - 1)``; otherwise NaN (a cumulative sum is not in the ensemble).
    """
    ind_mid = indicator_for(ds_mid, target)
    if ind_mid.values is None:
        return math.nan, math.nan
    if ind_mid.kind == "level":
        ind0 = indicator_for(ds_start, target)
        if ind0.values is None or ind0.start is None or ind_mid.start is None:
            return math.nan, float(ind_mid.start[0]) if ind_mid.start is not None else math.nan
        s0, s1 = float(ind0.start[0]), float(ind_mid.start[0])
        if s0 > 0 and s1 > 0:
            return 100 * ((s1 / s0) ** (1 / (a1 - a0)) - 1), s1
        return math.nan, s1
    if ind_mid.kind == "cumulative_change" and target.base_year is not None \
            and target.base_year < a1:
        b = target.base_year
        return 100 * math.expm1(ind_mid.done / (a1 - b)), 100 * math.expm1(ind_mid.done)
    return math.nan, math.nan


def add_midterm_columns(ctx: RunContext, table: pd.DataFrame, ds_mid: xr.Dataset, *,
                        scheduler: Any = None) -> pd.DataFrame:
    """The mid-term run's ``table`` with the plan-start columns added.

    ``p_at_plan_start``, ``delta_p_since_start`` and ``delta_p_since_start_se`` (two
    calibrations: treated as independent, ``sqrt(se_mid^2 + se_start^2)``), ``achieved_annual``
    (see :func:`achieved`) and ``plan_start_as_of``. ``ds_mid`` is (a prefix of) the mid-term
    ensemble; the plan-start run is ``ctx.at_as_of(ctx.plan_start)``.
    """
    start_ctx = ctx.at_as_of(ctx.plan_start)
    start, ds_start = evaluate_context(start_ctx, scheduler=scheduler)
    start = start.set_index(["scenario", "target_id"])
    table = table.copy()
    p0, dp, dse = [], [], []
    for _, r in table.iterrows():
        key = (r["scenario"], r["target_id"])
        ps = start["probability"].get(key) if "probability" in start else None
        if r.get("status") == "evaluated" and ps is not None and ps == ps:
            p0.append(ps)
            dp.append(r["probability"] - ps)
            dse.append(float(np.hypot(r["mc_se"], start["mc_se"][key])))
        else:
            p0.append(np.nan)
            dp.append(np.nan)
            dse.append(np.nan)
    targets = {t.id: t for t in as_targets(ctx.catalogue)}
    rate = {tid: achieved(ds_start, ds_mid, targets[tid], ctx.plan_start, ctx.as_of)[0]
            for tid in table["target_id"].unique()}
    table["p_at_plan_start"] = p0
    table["delta_p_since_start"] = dp
    table["delta_p_since_start_se"] = dse
    table["achieved_annual"] = table["target_id"].map(rate)
    table["plan_start_as_of"] = ctx.plan_start
    return table
