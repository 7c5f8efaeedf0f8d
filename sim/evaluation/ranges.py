"""Evaluation of ranges of draws: the task every dispatch runs, and adaptive draws.

:func:`evaluate_range` simulates draws ``first_draw .. first_draw+draws-1`` and returns their
:class:`~sim.evaluation.accumulator.EvaluationAccumulator`; it is what
:func:`sim.engine.dispatch.map_ranges` runs in this process or in a dask worker, for runs,
sweeps, solves and adaptive draws. Accumulators of disjoint ranges merge exactly, and draw ``i``
never depends on how the draws are split, so every split gives the same result.
"""

from __future__ import annotations

import gc
import math
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import xarray as xr

from sim.bounds import DRAWS, MAX_DRAWS, TOLERANCE
from sim.engine.dispatch import Scheduler, chunk_ranges, connect, map_ranges
from sim.engine.settings import RunSettings
from sim.engine.simulation import ScenarioLevers, set_threads, simulate
from sim.ensemble import ensemble_of
from sim.errors import SimError
from sim.evaluation.accumulator import Catalogue, EvaluationAccumulator, TargetValues
from sim.evaluation.record import RecordSetup
from sim.model import FittedModel
from sim.vocabulary import SERIES, Series

ADAPTIVE_CHUNK_BLOCKS = 5   # blocks of draws per range of an adaptive batch


def evaluate_range(fitted: FittedModel, levers: Sequence[ScenarioLevers], settings: RunSettings,
                   catalogue: Catalogue, scenarios: Sequence[str] | None,
                   target_values: TargetValues | None, quantiles: Sequence[float],
                   keep_draws: int | None, attrs: Mapping[str, Any], first_draw: int, draws: int,
                   *, threads: int | None = None, want_dataset: bool = False,
                   keep_met: bool = False, record: RecordSetup | None = None,
                   vocabulary: Mapping[str, Series] = SERIES
                   ) -> tuple[EvaluationAccumulator, xr.Dataset | None]:
    """Simulate draws ``first_draw .. first_draw+draws-1`` and evaluate them.

    Parameters
    ----------
    fitted, levers, settings
        The model, the scenarios' levers (S) and how draws are produced.
    catalogue, scenarios, target_values, quantiles, keep_draws
        As :class:`~sim.evaluation.accumulator.EvaluationAccumulator` (``scenarios=None``: the
        levers' names).
    attrs
        Global attributes of the ensemble Dataset (:func:`sim.ensemble.build_dataset`).
    threads
        Numba threads to use (set in a dask worker); None leaves numba as it is.
    want_dataset
        Also return (a copy of) the ensemble Dataset of these draws, dims (S, draws, Y+1).
    keep_met
        Keep every draw's met flag in the accumulator.
    record
        The run's plan record (:func:`~sim.evaluation.record.build_record_setup`), or None for
        the trend alone.
    vocabulary
        The run's series (``ctx.vocabulary``: built in plus declared), shipped with the task.

    Returns
    -------
    (EvaluationAccumulator, xarray.Dataset or None)
        The evaluation of just these draws (mergeable with the others) and the Dataset.
    """
    set_threads(threads)
    chunk = simulate(fitted, levers, draws=draws, first_draw=first_draw,
                     **settings.engine_kwargs())
    ds = ensemble_of(chunk, fitted, attrs, vocabulary)
    del chunk
    names = [lv.name for lv in levers] if scenarios is None else scenarios
    acc = EvaluationAccumulator(catalogue, names, target_values, quantiles,
                                keep_draws=keep_draws, keep_met=keep_met, record=record)
    acc.add(ds, first_draw=first_draw)
    out = (acc, ds.copy(deep=True) if want_dataset else None)
    del ds
    # xarray objects form reference cycles; a few huge arrays never trip the cyclic
    # collector's object-count thresholds, so chunks would pile up (3.3 GB at 4e5 draws)
    gc.collect()
    return out


def evaluate_draws(fitted: FittedModel, levers: Sequence[ScenarioLevers], settings: RunSettings,
                   catalogue: Catalogue, target_values: TargetValues | None,
                   ranges: Sequence[tuple[int, int]], *, scheduler: Scheduler = None,
                   keep_met: bool = False, progress: Callable[[int], object] | None = None
                   ) -> EvaluationAccumulator:
    """The merged accumulator of ``ranges`` (``(first_draw, draws)`` pairs) of every scenario
    of ``levers``, no indicator values kept (P(met), ΔP, joint; met flags with ``keep_met``)."""
    total: list[EvaluationAccumulator] = []

    def take(res: tuple[EvaluationAccumulator, None], first: int, n: int) -> None:
        acc = res[0]
        if total:
            total[0].merge(acc)
        else:
            total.append(acc)
        if progress is not None:
            progress(n)

    map_ranges(evaluate_range, ranges, shared=(fitted,),
               args=(list(levers), settings, catalogue, None, target_values, (), 0, {}),
               kwargs={"keep_met": keep_met}, scheduler=scheduler, on_result=take)
    if not total:
        raise SimError("no draws to evaluate")
    return total[0]


@dataclass
class AdaptiveResult:
    """Outcome of :func:`run_adaptive`: the draws used (a whole number of blocks unless capped),
    the evaluation of exactly draws ``0 .. draws-1`` (equal to a fixed run of that many),
    whether every evaluable P(met) reached ``se < tolerance``, and the history of
    (draws, worst SE)."""

    draws: int
    accumulator: EvaluationAccumulator
    converged: bool
    tolerance: float
    history: list[tuple[int, float]] = field(default_factory=list)

    @property
    def se(self) -> np.ndarray:
        """Binomial standard error of every P(met), (S, T); NaN where not evaluated."""
        return standard_errors(self.accumulator)


def standard_errors(acc: EvaluationAccumulator) -> np.ndarray:
    """``sqrt(P (1 - P) / n)`` of every P(met) of ``acc``, (S, T); NaN where not evaluated."""
    p = acc.probabilities()
    return np.sqrt(p * (1 - p) / max(acc.n, 1))


def run_adaptive(fitted: FittedModel, levers: Sequence[ScenarioLevers], settings: RunSettings,
                 catalogue: Catalogue, target_values: TargetValues | None = None, *,
                 tolerance: float, min_draws: int | None = None, max_draws: int = 10_000_000,
                 scheduler: Scheduler = None, progress: Callable[[int], object] | None = None
                 ) -> AdaptiveResult:
    """Add blocks of draws until every evaluable P(met) has a binomial SE below ``tolerance``.

    Starts with ``min_draws`` (default one block of ``settings.block_size``); after each batch,
    the draws still needed are estimated from the worst ``P (1 - P) / tolerance**2`` and rounded
    up to whole blocks (at least one more block, at most doubling), capped by ``max_draws``.
    Draw ``i`` never depends on how many draws are run, so the result is exactly a fixed-draws
    run of ``result.draws`` (``settings.draws`` is ignored); pass that number to the normal
    pipeline (``--draws``) to write the full results.
    """
    if not TOLERANCE.contains(tolerance):
        raise SimError(f"tolerance must be > 0 and < {TOLERANCE.hi} (a standard error of P(met); "
                       f"got {tolerance})")
    tolerance = float(tolerance)
    max_draws = int(MAX_DRAWS.check(max_draws, "max_draws"))
    if min_draws is not None:
        DRAWS.check(min_draws, "min_draws")
    block_size = int(settings.block_size)
    n = min(int(min_draws or block_size), max_draws)
    total: EvaluationAccumulator | None = None
    done, history = 0, []
    with (connect(scheduler) if scheduler is not None else nullcontext(None)) as client:
        while True:
            ranges = chunk_ranges(n - done, block_size, ADAPTIVE_CHUNK_BLOCKS * block_size, done)
            part = evaluate_draws(fitted, levers, settings, catalogue, target_values, ranges,
                                  scheduler=client, progress=progress)
            total = part if total is None else total.merge(part)
            done = n
            se = standard_errors(total)
            worst = float(np.nanmax(se)) if np.any(np.isfinite(se)) else 0.0
            history.append((done, worst))
            if worst < tolerance or done >= max_draws:
                break
            p = total.probabilities()
            var = np.nanmax(p * (1 - p)) if np.any(np.isfinite(p)) else 0.0
            need = int(math.ceil(var / tolerance ** 2)) + 1
            need = -(-need // block_size) * block_size
            n = min(max(need, done + block_size), 2 * done if done >= block_size else block_size,
                    max_draws)
            n = max(n, done + 1) if n <= done else n
    return AdaptiveResult(draws=done, accumulator=total, converged=worst < tolerance,
                          tolerance=tolerance, history=history)
