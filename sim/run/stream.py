"""Simulate a context's draws chunk by chunk and evaluate them as they come.

Every run streams: :func:`stream` cuts draws ``0 .. draws-1`` into chunks
(:func:`~sim.engine.dispatch.chunk_ranges`) and hands them to the one dispatcher
(:func:`~sim.engine.dispatch.map_ranges`, in this process or as dask tasks); each chunk is
simulated and evaluated by :func:`~sim.evaluation.evaluate_range` where it runs and only its
partial :class:`~sim.evaluation.EvaluationAccumulator` (and, when asked, its Dataset) comes
back. The accumulators merge exactly, so memory stays bounded by one chunk whatever the draw
count and the result does not depend on the split or on where the chunks ran.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
import xarray as xr
from tqdm import tqdm

from sim.version import __version__
from sim.engine.dispatch import chunk_ranges, map_ranges
from sim.engine.settings import RunSettings
from sim.engine.simulation import ScenarioLevers, simulate
from sim.ensemble import ensemble_of
from sim.evaluation import (PILOT_DRAWS, EvaluationAccumulator, RecordSetup, evaluate_range,
                            setup_from_pilot, targets_of)
from sim.model import FittedModel
from sim.output.folder import versions
from sim.run.context import RunContext
from sim.vocabulary import BUILTIN, Vocabulary

SUMMARY_CHUNK_DRAWS = 20_000    # draws per streamed chunk (~0.4 GB at 6 scenarios)
SUMMARY_KEEP_DRAWS = 100_000    # draws of each target indicator kept for its quantiles


@dataclass
class Streamed:
    """What :func:`stream` returns: the evaluation of every draw and the first chunk.

    ``acc`` is the :class:`~sim.evaluation.EvaluationAccumulator` over draws
    ``0 .. draws-1``; ``prefix`` the ensemble Dataset of the first chunk (every draw when the
    run fits in one chunk); ``seconds`` the wall time of simulating and evaluating.
    """

    acc: EvaluationAccumulator
    prefix: xr.Dataset
    seconds: float


def ensemble_attrs(ctx: RunContext) -> dict[str, Any]:
    """Attributes of the context's ensemble Dataset (and of ``ensemble.nc``)."""
    s = ctx.settings
    return {
        "title": f"sim ensemble: {Path(ctx.spec.path).name if ctx.spec.path else 'scenario'}",
        "source": f"sim {__version__}",
        "seed": s.seed, "draws": s.draws, "block_size": s.block_size,
        "horizon": s.horizon, "vintage": s.vintage, "data_hash": ctx.fitted.data_hash,
        "parameter_uncertainty": int(s.parameter_uncertainty),
        "correlated_shocks": int(s.correlated_shocks),
        "versions": versions(), "ignored_levers": list(ctx.ignored),
    }


def record_setup(ctx: RunContext, attrs: dict[str, Any] | None = None) -> RecordSetup | None:
    """The run's plan record: every row's method, and the combination weights from a pilot of
    draws ``0 .. PILOT_DRAWS-1`` (simulated once, whatever the run's draws and chunks).
    None when the context has no plan-record model."""
    model = ctx.record_model
    if model is None:
        return None
    s = ctx.settings
    chunk = simulate(ctx.fitted, list(ctx.levers), draws=PILOT_DRAWS, first_draw=0,
                     **s.engine_kwargs())
    pilot = ensemble_of(chunk, ctx.fitted, attrs if attrs is not None else ensemble_attrs(ctx),
                        ctx.vocabulary)
    pilot = pilot.assign_coords(scenario=ctx.scenario_names)
    return setup_from_pilot(pilot, targets_of(ctx.catalogue), model, seed=s.seed,
                            target_values=ctx.target_values,
                            enabled={sc.name: sc.plan_record for sc in ctx.scenarios},
                            history=ctx.history, plan_start=ctx.plan_start, fitted=ctx.fitted)


def _evaluate_chunk(fitted: FittedModel, levers: list[ScenarioLevers], settings: RunSettings,
                    catalogue: pd.DataFrame, scenarios: list[str],
                    target_values: dict[str, dict[str, float]], quantiles: tuple[float, ...],
                    keep_draws: int | None, attrs: dict[str, Any], first_draw: int, draws: int,
                    *, threads: int | None = None, every_dataset: bool = False,
                    record: RecordSetup | None = None, vocabulary: Vocabulary = BUILTIN
                    ) -> tuple[EvaluationAccumulator, xr.Dataset | None]:
    """:func:`~sim.evaluation.evaluate_range` of one chunk, with its Dataset for the first
    chunk (or every chunk when ``every_dataset``)."""
    return evaluate_range(fitted, levers, settings, catalogue, scenarios, target_values,
                          quantiles, keep_draws, attrs, first_draw, draws, threads=threads,
                          want_dataset=every_dataset or first_draw == 0, record=record,
                          vocabulary=vocabulary)


def stream(ctx: RunContext, *, keep_draws: int | None = None, scheduler: Any = None,
           on_chunk: Callable[[xr.Dataset, int], object] | None = None, progress: bool = False,
           chunk_draws: int = SUMMARY_CHUNK_DRAWS) -> Streamed:
    """Simulate and evaluate every draw of ``ctx`` in chunks of ``chunk_draws``.

    Parameters
    ----------
    ctx : RunContext
        What to simulate (fitted model, levers, settings) and evaluate (``ctx.catalogue``).
    keep_draws : int, optional
        Indicator draws kept per target for its quantiles (default: every draw).
    scheduler : str or dask Client, optional
        ``None`` runs in this process; otherwise every chunk is a dask task
        (:func:`~sim.engine.dispatch.map_ranges`).
    on_chunk : callable(Dataset, first_draw), optional
        Receives every chunk's ensemble Dataset on this process, in completion order (e.g.
        :meth:`~sim.ensemble.EnsembleWriter.write`); without it only the first chunk's Dataset
        leaves the worker.
    progress : bool
        Show a progress bar of the draws.
    """
    s = ctx.settings
    attrs = ensemble_attrs(ctx)
    args = (s, ctx.catalogue, ctx.scenario_names, ctx.target_values,
            tuple(ctx.spec.output.quantiles), keep_draws, attrs)
    record = record_setup(ctx, attrs)
    parts: list[EvaluationAccumulator] = []
    prefix: list[xr.Dataset] = []
    t0 = time.perf_counter()
    with _progress_bar(s.draws, progress) as update:
        def take(result: tuple[EvaluationAccumulator, xr.Dataset | None], first: int,
                 n: int) -> None:
            acc, ds = result
            parts.append(acc)
            if ds is not None and on_chunk is not None:
                on_chunk(ds, first)
            if first == 0 and ds is not None:
                prefix.append(ds)
            update(n)

        map_ranges(_evaluate_chunk, chunk_ranges(s.draws, s.block_size, chunk_draws),
                   shared=(ctx.fitted, list(ctx.levers)), args=args,
                   kwargs={"every_dataset": on_chunk is not None, "record": record,
                           "vocabulary": ctx.vocabulary},
                   scheduler=scheduler,
                   on_result=take)
    total = parts[0]
    for part in parts[1:]:
        total = total.merge(part)
    return Streamed(acc=total, prefix=prefix[0], seconds=time.perf_counter() - t0)


def evaluate_context(ctx: RunContext, *, scheduler: Any = None, with_history: bool = True,
                     chunk_draws: int | None = None) -> tuple[pd.DataFrame, xr.Dataset]:
    """Simulate and evaluate every draw of ``ctx``: its target table and its first chunk.

    Parameters
    ----------
    ctx : RunContext
        The run (evaluated on ``ctx.catalogue``).
    scheduler : str or dask Client, optional
        Where the chunks run (:func:`sim.engine.dispatch.map_ranges`).
    with_history : bool
        Fill the observed outcome columns from ``ctx.history``.
    chunk_draws : int, optional
        Draws per chunk (default :data:`SUMMARY_CHUNK_DRAWS`); the Dataset
        returned holds the first chunk's draws.

    Returns
    -------
    table : DataFrame
        One row per (scenario, target), as ``targets.csv``.
    dataset : xarray.Dataset
        The ensemble of the first chunk, dims (scenario, draw, year).
    """
    res = stream(ctx, scheduler=scheduler, chunk_draws=chunk_draws or SUMMARY_CHUNK_DRAWS)
    return res.acc.result(ctx.history if with_history else None).table, res.prefix


@contextmanager
def _progress_bar(total: int, enabled: bool) -> Iterator[Callable[[int], object]]:
    """``with _progress_bar(total, enabled) as update: update(n)`` (a tqdm bar on stderr, or
    nothing).

    The bar's size is the terminal's (:func:`_terminal_size`): tqdm alone takes the 0 x 0 size
    of a pseudo-terminal nobody sized (``script``, an IDE console) literally and draws nothing.
    """
    if not enabled:
        yield lambda n: None
        return
    cols, rows = _terminal_size(sys.stderr)
    bar = tqdm(total=total, unit="draw", unit_scale=True, desc="simulating", leave=False,
               file=sys.stderr, ncols=min(cols, 100) - 1, nrows=rows)
    try:
        yield bar.update
    finally:
        bar.close()


def _terminal_size(stream: Any) -> tuple[int, int]:
    """``(columns, rows)`` of the terminal ``stream`` writes to; 80 x 24 where it reports no
    size (0 x 0) or is not a terminal."""
    try:
        cols, rows = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        cols, rows = 0, 0
    fallback = shutil.get_terminal_size((80, 24))
    return cols or fallback.columns, rows or fallback.lines
