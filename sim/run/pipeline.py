"""``sim run``, end to end: context → streamed simulation and evaluation → results folder.

:func:`run_file` builds (or takes) one :class:`~sim.run.context.RunContext` — the scenario file
read once, history loaded once, the model calibrated once, levers made once — streams its draws
through the one evaluator (:func:`sim.run.stream.stream`), adds the mid-term columns when the
run is as of a year after the plan's start (:mod:`sim.run.midterm`), and writes everything
through the one results writer (:class:`~sim.output.folder.ResultsFolder`). Kept apart from the
CLI so tests and other commands call the same code.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from sim.engine.dispatch import RemoteScheduler, connect
from sim.ensemble import EnsembleWriter, write_netcdf
from sim.errors import SimError
from sim.evaluation import AdaptiveResult, run_adaptive
from sim.evaluation.evidence import add_record_counts
from sim.evaluation.information import add_information
from sim.output.folder import ResultsFolder, check_free_space, versions
from sim.output.owned import safe_name
from sim.output.report import write_outputs
from sim.paths import DEFAULT_DATA_DIR, DEFAULT_RESULTS_DIR, TARGET_CATALOGUE
from sim.run.context import RunContext
from sim.run.midterm import add_midterm_columns
from sim.run.stream import SUMMARY_KEEP_DRAWS, Streamed, stream
from sim.scenario.read import resolved_toml
from sim.vocabulary import COMPOSITION

ADAPTIVE_SUMMARIES_ABOVE = 200_000   # --tolerance runs needing more draws keep summaries only


@dataclass
class RunOutput:
    """What :func:`run_file` wrote: the folder, the target and joint tables, the ensemble
    (first chunk) and the levers/shocks ignored (no history to calibrate their driver)."""

    folder: Path
    table: pd.DataFrame
    joint: pd.DataFrame
    dataset: xr.Dataset
    ignored: tuple[str, ...] = ()


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_file(source: str | Path | RunContext, *, overrides: Mapping[str, Any] | None = None,
             data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
             out: str | Path | None = None, force: bool = False, summaries_only: bool = False,
             progress: bool = False, figures: bool = True, scheduler: Any = None,
             tolerance: float | None = None, max_draws: int = 10_000_000,
             wait: bool = False) -> RunOutput:
    """``sim run``: everything, written atomically into ``out`` (default results/<stem>).

    Parameters
    ----------
    source : path or RunContext
        The scenario file (read with ``overrides`` of ``[run]`` keys, history from
        ``data_dir``, calibration cache ``cache_dir``), or a context already built from one.
    out, force : results folder and whether to replace an existing one (only a folder sim
        wrote, or an empty one: :mod:`sim.output.owned`).
    summaries_only : keep quantiles instead of every draw in ``ensemble.nc``.
    figures : ``False`` skips the charts (as ``[output] figures = false`` does).
    scheduler : ``None`` (this process), ``local[:N]``, ``tcp://HOST:PORT``, a
        :class:`~sim.engine.dispatch.RemoteScheduler` (``tls://`` with certificates) or a dask
        Client.
    tolerance, max_draws : add blocks of draws until every P(met) has SE < ``tolerance`` (at
        most ``max_draws``), then run with exactly that many draws (prefix-stable: the same
        draws the search measured).
    wait : when another process is writing ``out``, wait for it instead of failing at once.
        The output folder is locked from before calibration until the results are in place.
    """
    check_adaptive(tolerance, max_draws)
    path = _scenario_path(source)
    out = Path(out) if out else DEFAULT_RESULTS_DIR / safe_name(path.stem)
    inputs = (path, data_dir if data_dir is not None else DEFAULT_DATA_DIR, cache_dir)
    folder = ResultsFolder(out, force=force, command="run", wait=wait,
                           inputs=inputs)   # fails before any simulation
    with folder.lock:
        return _run_locked(folder, source, path, overrides=overrides, data_dir=data_dir,
                           cache_dir=cache_dir, summaries_only=summaries_only,
                           progress=progress, figures=figures, scheduler=scheduler,
                           tolerance=tolerance, max_draws=max_draws)


def check_adaptive(tolerance: float | None, max_draws: int) -> None:
    """SimError unless ``tolerance`` (when given) is in (0, 0.5) and ``max_draws`` >= 1."""
    if tolerance is not None and not 0 < tolerance < 0.5:
        raise SimError(f"--tolerance {tolerance}: expected a standard error in (0, 0.5), "
                       f"e.g. 0.005")
    if isinstance(max_draws, bool) or not isinstance(max_draws, int) or max_draws < 1:
        raise SimError(f"--max-draws {max_draws}: expected a whole number of draws >= 1")


def _run_locked(folder: ResultsFolder, source: str | Path | RunContext, path: Path, *,
                overrides: Mapping[str, Any] | None, data_dir: str | Path | None,
                cache_dir: str | Path | None, summaries_only: bool, progress: bool,
                figures: bool, scheduler: Any, tolerance: float | None,
                max_draws: int) -> RunOutput:
    """:func:`run_file` once the output folder is locked."""
    t_start = time.perf_counter()
    ctx = source if isinstance(source, RunContext) else RunContext.build(
        path, overrides=overrides, data_dir=data_dir, cache_dir=cache_dir)
    timings = {"calibrate_s": time.perf_counter() - t_start}
    # one dask client (when asked for) for the adaptive search, the run and the mid-term run
    with (connect(scheduler) if scheduler is not None else nullcontext(None)) as client:
        adaptive = None
        if tolerance is not None:
            adaptive = run_adaptive(ctx.fitted, ctx.levers, ctx.settings, ctx.catalogue,
                                    ctx.target_values, tolerance=tolerance, max_draws=max_draws,
                                    scheduler=client)
            ctx = ctx.with_draws(adaptive.draws)
        summaries_only = bool(summaries_only or ctx.spec.output.summaries_only or (
            adaptive is not None and adaptive.draws > ADAPTIVE_SUMMARIES_ABOVE))
        if not summaries_only:
            check_free_space(folder.out.parent, ensemble_bytes(ctx) + outputs_bytes(ctx),
                             "ensemble.nc", "run with --summaries-only (quantiles instead of "
                             "every draw), fewer --draws, or another --out")
        else:
            check_free_space(folder.out.parent, summaries_bytes(ctx) + outputs_bytes(ctx),
                             "the results", "free some space, or choose another --out")
        with folder:
            streamed = _stream_into(folder, ctx, summaries_only, client, progress)
            timings["simulate_and_evaluate_s"] = streamed.seconds
            full_ds = streamed.prefix  # figures and mid-term use the first chunk
            ctx.check_as_of(full_ds)
            t0 = time.perf_counter()
            ev = streamed.acc.result(ctx.history)
            timings["evaluate_s"] = time.perf_counter() - t0
            series_q_draws = _write_summaries(folder, ctx, full_ds) if summaries_only \
                else ctx.settings.draws
            table = add_record_counts(add_information(ev.table, ctx.fitted), ctx.record_model)
            if ctx.is_midterm:
                t0 = time.perf_counter()
                table = add_midterm_columns(ctx, table, full_ds, scheduler=client)
                timings["midterm_s"] = time.perf_counter() - t0
            folder.csv("targets.csv", table)
            folder.csv("joint.csv", ev.joint)
            if ev.curves is not None:   # P(met | v): sim.evaluation.value_met
                folder.csv("value_curves.csv", ev.curves)
            folder.text("scenario.resolved.toml", full_ds.attrs["scenario_resolved"])
            ctx.fitted.save(folder.file("fitted_model.json"))
            outputs = write_outputs(folder.path, full_ds, table, ev.joint, history=ctx.history,
                                    catalogue=ctx.catalogue,
                                    figures=ctx.spec.output.figures and figures,
                                    table_formats=tuple(ctx.spec.output.table_formats))
            timings.update(outputs["timings"])
            timings["total_s"] = time.perf_counter() - t_start
            folder.manifest.update(_manifest(ctx, path, summaries_only, scheduler, adaptive,
                                             max_draws, series_q_draws, full_ds, timings))
    return RunOutput(folder=folder.out, table=table, joint=ev.joint, dataset=full_ds,
                     ignored=ctx.ignored)


def ensemble_bytes(ctx: RunContext) -> int:
    """An estimate of the size of a full-draw ``ensemble.nc`` of ``ctx``: scenarios x draws x
    years x series x bytes per value (4 for float32, 8 for float64) x 0.9 (zlib gains little on
    random draws)."""
    s = ctx.settings
    series = len(ctx.fitted.drivers) + len(COMPOSITION) + 1
    itemsize = np.dtype(s.ensemble_dtype).itemsize
    return int(len(ctx.scenarios) * s.draws * (s.horizon - s.as_of + 1) * series * itemsize * 0.9)


def summaries_bytes(ctx: RunContext) -> int:
    """The size of a ``--summaries-only`` ``ensemble.nc``: as :func:`ensemble_bytes` with
    the quantiles in place of the draws."""
    s = ctx.settings
    series = len(ctx.fitted.drivers) + len(COMPOSITION) + 1
    return int(len(ctx.scenarios) * len(ctx.spec.output.quantiles) * (s.horizon - s.as_of + 1)
               * series * np.dtype(s.ensemble_dtype).itemsize)


#: bytes of tables, figures and report.html per (scenario, target) row, a little under what
#: the shipped files measure (6.1 kB for baseline_2020, 6.3 kB for baseline_2015, 2,000 draws)
OUTPUT_BYTES_PER_ROW = 5_000


def outputs_bytes(ctx: RunContext) -> int:
    """An estimate of the size of everything but ``ensemble.nc`` in a results folder."""
    return OUTPUT_BYTES_PER_ROW * len(ctx.scenarios) * len(ctx.catalogue)


def _scenario_path(source: str | Path | RunContext) -> Path:
    """The scenario file of a run (a path, or the file a context was built from)."""
    if not isinstance(source, RunContext):
        return Path(source)
    if source.path is None:
        raise SimError("run_file needs a context built from a scenario file")
    return source.path


def _write_summaries(folder: ResultsFolder, ctx: RunContext, full_ds: xr.Dataset) -> int:
    """``ensemble.nc`` of quantiles (``--summaries-only``); returns the draws they are of."""
    ds_out = _summaries(full_ds, tuple(ctx.spec.output.quantiles))
    write_netcdf(ds_out, folder.file("ensemble.nc"), dtype=ctx.settings.ensemble_dtype)
    return int(ds_out.attrs["quantiles_from_draws"])


def _stream_into(folder: ResultsFolder, ctx: RunContext, summaries_only: bool, scheduler: Any,
                 progress: bool) -> Streamed:
    """Stream the run; unless summaries only, every chunk goes straight into its slice of
    ``ensemble.nc`` (memory: one chunk, any draw count)."""
    writer = None if summaries_only else EnsembleWriter(folder.file("ensemble.nc"),
                                                        ctx.settings.draws,
                                                        dtype=ctx.settings.ensemble_dtype)
    try:
        streamed = stream(ctx, scheduler=scheduler, progress=progress,
                          keep_draws=SUMMARY_KEEP_DRAWS if summaries_only else None,
                          on_chunk=writer.write if writer is not None else None)
        resolved = resolved_toml(ctx.spec)
        streamed.prefix.attrs["scenario_resolved"] = resolved
        if writer is not None:
            writer.close({"scenario_resolved": resolved})
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return streamed


def _manifest(ctx: RunContext, path: Path, summaries_only: bool, scheduler: Any,
              adaptive: AdaptiveResult | None, max_draws: int, series_q_draws: int,
              full_ds: xr.Dataset, timings: dict[str, float]) -> dict[str, Any]:
    """The keys of a run's ``manifest.json`` (ResultsFolder adds version, command and files)."""
    s = ctx.settings
    return {
        "scenario_file": str(path), "scenario_sha256": _sha256(path),
        "catalogue_sha256": _sha256(TARGET_CATALOGUE),
        "data_dir": str(ctx.data_dir or "calibration/data"), "data_hash": ctx.fitted.data_hash,
        "as_of": s.as_of, "horizon": s.horizon, "draws": s.draws, "seed": s.seed,
        "vintage": s.vintage, "block_size": s.block_size,
        "scenarios": list(ctx.spec.scenarios), "target_sets": list(ctx.spec.run.target_sets),
        "summaries_only": summaries_only,
        "scheduler": (str(scheduler) if isinstance(scheduler, (str, RemoteScheduler)) else
                      f"dask client {getattr(scheduler, 'scheduler', '')}".strip()
                      if scheduler else "single process"),
        "adaptive": None if adaptive is None else {
            "tolerance": adaptive.tolerance, "draws": int(adaptive.draws),
            "converged": bool(adaptive.converged), "max_draws": int(max_draws)},
        "target_quantiles_from_draws": min(SUMMARY_KEEP_DRAWS, s.draws)
        if summaries_only else s.draws,
        "series_quantiles_from_draws": series_q_draws,
        "figures_from_draws": int(full_ds.sizes["draw"]),
        "fallbacks": list(ctx.fitted.fallbacks),
        "ignored_levers": list(ctx.ignored),
        "versions": versions(), "timings": {k: round(v, 3) for k, v in timings.items()},
    }


def _summaries(ds: xr.Dataset, quantiles: tuple[float, ...]) -> xr.Dataset:
    """Replace the draw dimension by quantiles (``--summaries-only``)."""
    with warnings.catch_warnings():  # all-NaN slices by design (e.g. housing at as_of)
        warnings.filterwarnings("ignore", message="All-NaN slice", category=RuntimeWarning)
        q = ds.quantile(list(quantiles), dim="draw", skipna=True)
    for name in q.data_vars:
        q[name].attrs.update(ds[name].attrs)
    q.attrs.update(ds.attrs)
    q.attrs["summaries_only"] = 1
    q.attrs["quantiles_from_draws"] = int(ds.sizes["draw"])
    return q
