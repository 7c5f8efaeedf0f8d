"""The rows of a backtest: one per origin and target, every forecaster's forecast and its scores.

For a target ``t`` forecast from origin ``o`` (a row of :func:`score_origin`):

* the outcome: the observation of the indicator in the target year in the backtest's vintage
  (:func:`outcome`; ``outcome_from = "data"``), else the official verdict of the target's plan
  record (:mod:`sim.backtest.lopo`; ``outcome_from = "official verdict"``, no realised value);
* the model's three probabilities from the evaluator's table of the baseline scenario, whose
  record model left the target's own plan out: ``p_met`` (the headline ``probability``,
  trend and record combined, or the record alone where no trend exists), ``trend_p_met``
  (``p_trend``) and ``record_p_met`` (``p_record``, with ``record_p_low``/``record_p_high``),
  and the row's ``method``;
* the references of :mod:`sim.backtest.references`, and ``base_rate_p_met`` (the share of the
  leave-one-plan-out training verdicts that were met);
* for every forecaster with a predictive ensemble of the indicator and a realised value: the
  median, the 80 % / 95 % central intervals and whether they cover it, their widths on the
  log / logit scale (``width80_log``: the sharpness), PIT and CRPS (also on that scale).
"""

from __future__ import annotations

import math
import zlib
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from sim.backtest import scores
from sim.backtest.lopo import LopoFit
from sim.backtest.references import column_prefix, reference_forecasts, to_scale
from sim.evaluation import EvaluationAccumulator, as_number, compare, indicator_for, observation_for
from sim.history import History
from sim.plan_record import PlanRecord
from sim.run.context import RunContext
from sim.targets import Target, as_targets
from sim.vocabulary import SERIES

INTERVALS = (0.8, 0.95)
"""Central intervals of the predictive ensembles whose coverage and width are scored."""


class _VintageView:
    """A History whose ``select`` prefers one vintage (for ``observation_for``)."""

    def __init__(self, history: History, vintage: str):
        self._h, self._v = history, vintage

    def select(self, series: str, vintage: str | None = None) -> pd.DataFrame:
        return self._h.select(series, self._v)


def outcome(history: History, target: Target, vintage: str = "revised") -> dict | None:
    """The outcome row (value, year, source, vintage) of a target, in the chosen vintage."""
    return observation_for(_VintageView(history, vintage), target)


def met(y: float, t: Target, value: float) -> bool:
    """Is the realised value ``y`` a met target (the evaluator's rule)?"""
    return bool(compare(np.array([y]), t.comparator, value, t.value_high, t.tolerance,
                        t.approx_sense)[0])


def score_scale(t: Target) -> Callable[[Any], np.ndarray]:
    """Transform under which CRPS and widths are comparable across indicators:
    ``log(1 + x/100)`` for a cumulative % change, ``logit(x/100)`` for a share series,
    ``log x`` otherwise — so CRPS is roughly a relative error (0.1 ≈ 10 %)."""
    if t.kind == "cumulative_change":
        return lambda x: np.log1p(np.maximum(np.asarray(x, float), -99.9999) / 100.0)
    scale = SERIES[t.series].scale
    return lambda x: to_scale(x, scale)


def forecast_columns(forecaster: str, x: np.ndarray | None, y: float | None, t: Target,
                     p: float | None) -> dict[str, Any]:
    """P(met) of one forecaster on one row and, with an ensemble ``x`` (N,) and a realised
    value ``y``: median, central intervals, their hits and log-scale widths, PIT, CRPS."""
    pre = column_prefix(forecaster)
    out: dict[str, Any] = {f"{pre}p_met": p}
    if x is None or y is None or not math.isfinite(y):
        return out
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return out
    f = score_scale(t)
    out[f"{pre}median"] = float(np.median(x))
    for level in INTERVALS:
        lo, hi = scores.central_interval(x, level)
        tag = f"{round(level * 100)}"
        out[f"{pre}lo{tag}"], out[f"{pre}hi{tag}"] = float(lo), float(hi)
        out[f"{pre}in{tag}"] = bool(scores.covered(lo, hi, y))
        width = float(f(np.array(hi)) - f(np.array(lo)))
        out[f"{pre}width{tag}_log"] = width if math.isfinite(width) else math.nan
    out[f"{pre}pit"] = float(scores.pit(x, y))
    out[f"{pre}crps"] = float(scores.crps_ensemble(x, y))
    fx, fy = f(x), f(np.array(y))
    ok = np.isfinite(fx)
    out[f"{pre}crps_log"] = (float(scores.crps_ensemble(fx[ok], fy))
                             if ok.any() and np.isfinite(fy) else math.nan)
    return out


def _year(v: int | None) -> float | None:
    return None if v is None else float(v)


def _number(v: Any) -> float | None:
    x = as_number(v)
    return None if x is None or not math.isfinite(x) else float(x)


def _identity(t: Target, origin: int, vintage: str, file: str) -> dict[str, Any]:
    return dict(origin=origin, vintage=vintage, scenario_file=file, target_set=t.target_set,
                target_id=t.id, series=t.series, family=t.family, binding=t.binding,
                kind=t.kind, comparator=t.comparator, value_high=t.value_high,
                base_year=_year(t.base_year), period_start=_year(t.period_start),
                target_year=t.target_year, horizon=(t.target_year or origin) - origin)


def _outcome_columns(t: Target, value: float, obs: dict | None,
                     rec: PlanRecord | None) -> dict[str, Any]:
    """The realised value (if observed) and the outcome the row is scored on."""
    verdict = "" if rec is None or rec.verdict is None else ("met" if rec.verdict else "missed")
    out: dict[str, Any] = {"record_verdict": verdict}
    if obs is not None:
        y = float(obs["value"])
        hit = met(y, t, value)
        out.update(realised=y, outcome_source=obs["source"], outcome_vintage=obs["vintage"],
                   outcome_from="data")
    else:
        hit = bool(rec.verdict) if rec is not None else False
        out.update(realised=math.nan, outcome_source=f"plan record line {rec.line}"
                   if rec is not None else "", outcome_vintage="", outcome_from="official verdict")
    out.update(outcome="met" if hit else "missed", outcome_met=int(hit))
    return out


def score_origin(ctx: RunContext, acc: EvaluationAccumulator, ds: xr.Dataset,
                 outcomes: Mapping[str, dict], verdicts: Mapping[str, PlanRecord], fit: LopoFit,
                 origin: int, vintage: str, file: str) -> list[dict]:
    """The rows of one origin: every forecaster's forecast of every target of
    ``ctx.catalogue`` (each with an observed outcome or an official verdict), scored on it.

    ``acc`` is the evaluator of the baseline scenario over every draw, with every draw of each
    target's indicator kept (``ctx``'s record model is ``fit.model``); ``ds`` the ensemble of
    those draws (the trend).
    """
    table = acc.result(None).table.set_index("target_id")
    rows = []
    for t in as_targets(ctx.catalogue):
        tr = table.loc[t.id]
        value = _number(tr.get("value"))
        rec: dict[str, Any] = _identity(t, origin, vintage, file)
        rec["value"] = value
        obs, verdict = outcomes.get(t.id), verdicts.get(t.id)
        if value is None or tr["status"] != "evaluated":
            rec.update(status="not evaluable", reason=tr.get("reason") or "no target value",
                       method=tr.get("method", ""))
            rows.append(rec)
            continue
        rec.update(_outcome_columns(t, value, obs, verdict))
        rec.update(status="scored", reason="", method=tr.get("method", ""),
                   mc_se=_number(tr.get("mc_se")), record_left_out=fit.n_left_out)
        rec.update(_model_columns(acc, ds, tr, t, rec["realised"]))
        rec["base_rate_p_met"] = fit.base_rate
        rng = np.random.default_rng([ctx.settings.seed, origin, zlib.crc32(t.id.encode())])
        refs = reference_forecasts(ctx.history, t, value, origin, vintage, ctx.settings.draws,
                                   rng)
        for name, rf in refs.items():
            rec.update(forecast_columns(name, rf.draws, rec["realised"], t, rf.p_met))
            if rf.reason:
                rec[f"{name}_reason"] = rf.reason
        rows.append(rec)
    return rows


def _model_columns(acc: EvaluationAccumulator, ds: xr.Dataset, tr: pd.Series, t: Target,
                   y: float) -> dict[str, Any]:
    """The combined, trend and record forecasts of one evaluated target."""
    out: dict[str, Any] = {"record_p_low": _number(tr.get("p_record_low")),
                           "record_p_high": _number(tr.get("p_record_high")),
                           "trend_weight": _number(tr.get("trend_weight"))}
    trend, combined = model_draws(acc, ds, t)
    out.update(forecast_columns("combined", combined, y, t, _number(tr.get("probability"))))
    out.update(forecast_columns("trend", trend, y, t, _number(tr.get("p_trend"))))
    out.update(forecast_columns("record", None, y, t, _number(tr.get("p_record"))))
    return out


def model_draws(acc: EvaluationAccumulator, ds: xr.Dataset, t: Target
                ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The baseline's draws of the target's indicator, each (N,) or None: the trend's (from
    the ensemble) and the headline's, as the evaluator kept them (the combined draws of a
    trend+record row, the trend's of a trend-only row; none for a record-only row)."""
    ind = indicator_for(ds, t).values
    trend = None if ind is None else ind[0]
    kept = acc.kept.get((acc.scenarios[0], t.id))
    headline = np.concatenate([v for _, v in sorted(kept.items())]) if kept else None
    return trend, headline
