"""One run, end to end: scenario file → fitted model → engine → ensemble → evaluation → folder.

Kept apart from the CLI so tests, ``report`` and ``backtest`` call the same code.
"""

from __future__ import annotations

import gc
import hashlib
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim import __version__
from sim.errors import SimError
from sim.paths import DEFAULT_RESULTS_DIR, TARGET_CATALOGUE


@dataclass
class RunOutput:
    folder: Path
    table: pd.DataFrame
    joint: pd.DataFrame
    dataset: object  # xarray.Dataset


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def versions() -> dict:
    import numba, scipy, statsmodels, xarray

    return {"sim": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "scipy": scipy.__version__,
            "statsmodels": statsmodels.__version__, "xarray": xarray.__version__,
            "pandas": pd.__version__}


SUMMARY_CHUNK_DRAWS = 20_000    # draws per streamed chunk (~0.4 GB at 6 scenarios)
SUMMARY_KEEP_DRAWS = 100_000    # draws of each target indicator kept for its quantiles
# In --summaries-only runs the ensemble's series quantiles come from the first chunk.


def prepare(sf, catalogue, *, data_dir=None, fitted=None):
    """Fitted model (reused or calibrated) and the scenarios' lever arrays.

    Returns ``(fitted, levers, ignored)``; ``ignored`` lists levers on drivers with no history.
    """
    from sim.calibrate.cache import load_or_calibrate
    from sim.engine.simulation import levers_from_spec

    run = sf.run
    if fitted is None:
        base_years = sorted({int(b) for b in catalogue["base_year"].dropna() if int(b) < run.as_of}
                            | {int(p) - 1 for p in catalogue["period_start"].dropna()
                               if int(p) - 1 < run.as_of})
        fitted = load_or_calibrate(run.as_of, run.vintage, data_dir=data_dir, base_years=base_years)
    usable, ignored = usable_scenarios(sf, fitted)
    levers = [levers_from_spec(sc, fitted, run.horizon) for sc in usable]
    return fitted, levers, ignored


def ensemble_attrs(sf, fitted, ignored) -> dict:
    run = sf.run
    return {
        "title": f"sim ensemble: {Path(sf.path).name if sf.path else 'scenario'}",
        "source": f"sim {__version__}",
        "seed": int(run.seed), "draws": int(run.draws), "block_size": int(run.block_size),
        "horizon": int(run.horizon), "vintage": run.vintage, "data_hash": fitted.data_hash,
        "parameter_uncertainty": int(run.parameter_uncertainty),
        "correlated_shocks": int(run.correlated_shocks),
        "versions": versions(), "ignored_levers": list(ignored),
    }


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="draw", unit_scale=True, desc="simulating", leave=False)


def simulate_file(sf, history, catalogue, *, data_dir=None, progress=False, fitted=None,
                  scheduler=None):
    """Calibrate (or reuse) and simulate every scenario of a loaded scenario file.

    Returns ``(fitted, simulation, dataset, timings)`` with every draw in memory. With
    ``scheduler`` (``local[:N]`` or ``tcp://HOST:PORT``) the blocks of draws run as
    dask.distributed tasks; the result is bit-identical.
    """
    from sim.engine.simulation import series_paths, simulate
    from sim.ensemble import build_dataset

    timings = {}
    t0 = time.perf_counter()
    run = sf.run
    fitted, levers, ignored = prepare(sf, catalogue, data_dir=data_dir, fitted=fitted)
    timings["calibrate_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    bar = _progress_bar(run.draws, progress)
    if scheduler:
        from sim.engine.dispatch import simulate_distributed

        run_sim = simulate_distributed  # same signature plus scheduler, bit-identical result
    else:
        run_sim = simulate
    try:
        simulation = run_sim(fitted, levers, horizon=run.horizon, draws=run.draws, seed=run.seed,
                              block_size=run.block_size,
                              parameter_uncertainty=run.parameter_uncertainty,
                              correlated_shocks=run.correlated_shocks,
                              progress=(bar.update if bar is not None else None),
                              **({"scheduler": scheduler} if scheduler else {}))
    finally:
        if bar is not None:
            bar.close()
    timings["simulate_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    dataset = build_dataset(simulation, fitted, series_paths(simulation, fitted),
                            ensemble_attrs(sf, fitted, ignored))
    timings["ensemble_s"] = time.perf_counter() - t0
    return fitted, simulation, dataset, timings


def evaluate_range(fitted, levers, catalogue, scenarios, target_values, quantiles, keep_draws,
                   attrs, run, first_draw: int, draws: int, want_dataset: bool = False,
                   threads: int | None = None):
    """Simulate draws ``first_draw .. first_draw+draws-1`` and evaluate them.

    Returns ``(accumulator, dataset or None)``: an
    :class:`~sim.evaluation.EvaluationAccumulator` of just these draws (mergeable with the
    others) and, when ``want_dataset``, their ensemble Dataset. Runs in this process or in a
    dask worker (``threads`` limits numba there).
    """
    from sim.engine.simulation import series_paths, simulate
    from sim.ensemble import build_dataset
    from sim.evaluation import EvaluationAccumulator

    if threads:
        import numba

        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    chunk = simulate(fitted, levers, horizon=run.horizon, draws=draws, seed=run.seed,
                     block_size=run.block_size, parameter_uncertainty=run.parameter_uncertainty,
                     correlated_shocks=run.correlated_shocks, first_draw=first_draw)
    ds = build_dataset(chunk, fitted, series_paths(chunk, fitted), attrs)
    del chunk
    acc = EvaluationAccumulator(catalogue, scenarios, target_values, quantiles,
                                keep_draws=keep_draws)
    acc.add(ds, first_draw=first_draw)
    out = (acc, ds.copy(deep=True) if want_dataset else None)
    del ds
    # xarray objects form reference cycles; a few huge arrays never trip the cyclic
    # collector's object-count thresholds, so chunks would pile up (3.3 GB at 4e5 draws)
    gc.collect()
    return out


def stream_file(sf, catalogue, *, data_dir=None, progress=False, fitted=None,
                chunk_draws=SUMMARY_CHUNK_DRAWS, keep_draws=SUMMARY_KEEP_DRAWS, scheduler=None,
                on_chunk=None):
    """Simulate in chunks of draws and evaluate as they come (``--summaries-only``).

    Memory stays bounded by one chunk whatever the draw count. With ``scheduler`` every chunk
    is a dask task that returns only its partial evaluation (client memory stays flat); the
    result is identical to the single-process one. ``on_chunk(ds, first_draw)`` receives every
    chunk's Dataset on this process (e.g. :class:`~sim.ensemble.EnsembleWriter.write`), in
    completion order. Returns ``(fitted, acc, prefix, timings)``:
    the :class:`~sim.evaluation.EvaluationAccumulator` over every draw and the Dataset of the
    first chunk (for the ensemble's series quantiles).
    """
    from sim.engine.dispatch import connect, draw_ranges

    run = sf.run
    timings = {}
    t0 = time.perf_counter()
    fitted, levers, ignored = prepare(sf, catalogue, data_dir=data_dir, fitted=fitted)
    timings["calibrate_s"] = time.perf_counter() - t0
    target_values = {name: dict(sc.target_values) for name, sc in sf.scenarios.items()}
    args = (catalogue, list(sf.scenarios), target_values, tuple(sf.output.quantiles),
            keep_draws, ensemble_attrs(sf, fitted, ignored), run)
    chunk = max(1, -(-int(chunk_draws) // run.block_size)) * run.block_size
    ranges = draw_ranges(run.draws, run.block_size, -(-run.draws // chunk))
    acc, prefix = None, None

    def take(part, ds, first):
        nonlocal acc, prefix
        acc = part if acc is None else acc.merge(part)
        if on_chunk is not None:
            on_chunk(ds, first)
        if first == 0:
            prefix = ds
        if bar is not None:
            bar.update(part.n)

    t0 = time.perf_counter()
    bar = _progress_bar(run.draws, progress)
    try:
        if scheduler:
            from dask.distributed import as_completed

            with connect(scheduler) as client:
                threads = getattr(client, "_sim_threads", None)
                fit_f = client.scatter(fitted, broadcast=True)
                lev_f = client.scatter(list(levers), broadcast=True)
                futures = {client.submit(evaluate_range, fit_f, lev_f, *args, a, n,
                                         a == 0 or on_chunk is not None, threads,
                                         pure=False): a for a, n in ranges}
                for fut in as_completed(futures):
                    take(*fut.result(), futures[fut])
                    fut.release()
        else:
            for a, n in ranges:
                take(*evaluate_range(fitted, levers, *args, a, n,
                                     want_dataset=(a == 0 or on_chunk is not None)), a)
    finally:
        if bar is not None:
            bar.close()
    timings["simulate_and_evaluate_s"] = time.perf_counter() - t0
    return fitted, acc, prefix, timings


def usable_scenarios(sf, fitted):
    """Scenarios without levers/shocks on drivers the fitted model could not calibrate.

    A driver with no history ≤ as_of is not simulated (its targets are reported not
    evaluable); a lever on it cannot act, so it is dropped with a message instead of failing
    the whole run. Returns ``(scenarios, ignored)`` with ``ignored`` a list of messages.
    """
    from sim.vocabulary import HOUSING_LEVER

    def available(driver: str) -> bool:
        if driver == HOUSING_LEVER:
            return True
        return driver in fitted.drivers

    out, ignored = [], []
    for sc in sf.scenarios.values():
        drop = [d for d in sc.levers if not available(d)]
        drop_shocks = [k for k in sc.shocks if not available(k.driver)]
        for d in drop:
            ignored.append(f"scenario '{sc.name}': lever on {d} ignored: no history of {d} "
                           f"up to as_of {fitted.as_of} to calibrate it")
        for k in drop_shocks:
            ignored.append(f"scenario '{sc.name}': shock on {k.driver} in {k.year} ignored: no "
                           f"history of {k.driver} up to as_of {fitted.as_of}")
        if drop or drop_shocks:
            sc = sc.model_copy(update={
                "levers": {d: v for d, v in sc.levers.items() if d not in drop},
                "shocks": tuple(k for k in sc.shocks if k not in drop_shocks)})
        out.append(sc)
    return out, ignored


def run_file(path: Path, *, overrides=None, data_dir=None, out: Path | None = None, force=False,
             summaries_only=False, progress=False, figures=True, scheduler=None,
             tolerance=None, max_draws=10_000_000) -> RunOutput:
    """``sim run``: everything, written atomically into ``out`` (default results/<stem>).

    ``figures=False`` skips the charts (as ``[output] figures = false`` does). ``tolerance``
    adds blocks of draws until every P(met) has SE < tolerance (at most ``max_draws``), then
    runs with exactly that many draws (prefix-stable: the same draws the search measured).
    """
    from sim.ensemble import EnsembleWriter, write_netcdf
    from sim.history import load_history
    from sim.output.folder import atomic_folder, check_writable
    from sim.scenario.read import load_scenario_file, resolved_toml
    from sim.targets import targets_for_sets

    t_start = time.perf_counter()
    sf = load_scenario_file(path, overrides=overrides or None)
    summaries_only = bool(summaries_only or sf.output.summaries_only)
    out = Path(out) if out else DEFAULT_RESULTS_DIR / Path(path).stem
    check_writable(out, force)  # fail before minutes of simulation, not after
    history = load_history(data_dir)
    catalogue = targets_for_sets(list(sf.run.target_sets))
    adaptive = None
    if tolerance:
        from sim.engine.dispatch import make_checks, run_adaptive

        if not 0 < tolerance < 0.5:
            raise SimError(f"--tolerance {tolerance}: expected a standard error in (0, 0.5), e.g. 0.005")
        fitted0, levers, _ = prepare(sf, catalogue, data_dir=data_dir)
        checks = make_checks(catalogue, [dict(sc.target_values) for sc in sf.scenarios.values()])
        adaptive = run_adaptive(fitted0, levers, checks, horizon=sf.run.horizon, seed=sf.run.seed,
                                tolerance=tolerance, block_size=sf.run.block_size,
                                max_draws=max_draws,
                                parameter_uncertainty=sf.run.parameter_uncertainty,
                                correlated_shocks=sf.run.correlated_shocks, scheduler=scheduler)
        sf = sf.model_copy(update={"run": sf.run.model_copy(update={"draws": int(adaptive.draws)})})
        summaries_only = summaries_only or adaptive.draws > 200_000

    plan_start = load_scenario_file(path).run.as_of
    resolved = resolved_toml(sf)
    with atomic_folder(out, force) as tmp:
        # every draw streams: chunks are evaluated as they come and, unless summaries only,
        # written straight into their slice of ensemble.nc (memory: one chunk, any draw count)
        writer = None if summaries_only else EnsembleWriter(tmp / "ensemble.nc", sf.run.draws)
        try:
            fitted, acc, prefix, timings = stream_file(
                sf, catalogue, data_dir=data_dir, progress=progress, scheduler=scheduler,
                keep_draws=SUMMARY_KEEP_DRAWS if summaries_only else None,
                on_chunk=writer.write if writer is not None else None)
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        t0 = time.perf_counter()
        ev = acc.result(history)
        timings["evaluate_s"] = time.perf_counter() - t0
        full_ds = prefix  # figures and mid-term use the first chunk (every draw when <= 20,000)
        full_ds.attrs["scenario_resolved"] = resolved
        ignored = json.loads(full_ds.attrs.get("ignored_levers") or "[]")  # JSON in attrs
        if summaries_only:
            ds_out = _summaries(prefix, tuple(sf.output.quantiles))
            ds_out.attrs["scenario_resolved"] = resolved
            write_netcdf(ds_out, tmp / "ensemble.nc")
            series_q_draws = int(ds_out.attrs["quantiles_from_draws"])
        else:
            writer.close({"scenario_resolved": resolved})
            series_q_draws = sf.run.draws
        if sf.run.as_of > plan_start:
            t0 = time.perf_counter()
            ev.table = add_midterm_columns(path, sf, ev.table, full_ds, history, catalogue,
                                           plan_start, data_dir=data_dir)
            timings["midterm_s"] = time.perf_counter() - t0
        ev.table.to_csv(tmp / "targets.csv", index=False)
        ev.joint.to_csv(tmp / "joint.csv", index=False)
        (tmp / "scenario.resolved.toml").write_text(resolved, encoding="utf-8")
        fitted.save(tmp / "fitted_model.json")
        from sim.output.report import write_outputs

        outputs = write_outputs(tmp, full_ds, ev.table, ev.joint, history=history,
                                catalogue=catalogue, figures=sf.output.figures and figures,
                                table_formats=tuple(sf.output.table_formats))
        timings.update(outputs["timings"])
        timings["total_s"] = time.perf_counter() - t_start
        manifest = {
            "sim_version": __version__,
            "scenario_file": str(path), "scenario_sha256": _sha256(path),
            "catalogue_sha256": _sha256(TARGET_CATALOGUE),
            "data_dir": str(data_dir or "calibration/data"), "data_hash": fitted.data_hash,
            "as_of": sf.run.as_of, "horizon": sf.run.horizon, "draws": sf.run.draws,
            "seed": sf.run.seed, "vintage": sf.run.vintage, "block_size": sf.run.block_size,
            "scenarios": list(sf.scenarios), "target_sets": list(sf.run.target_sets),
            "summaries_only": summaries_only,
            "scheduler": (scheduler if isinstance(scheduler, str) else
                          f"dask client {getattr(scheduler, 'scheduler', '')}".strip()
                          if scheduler else "single process"),
            "adaptive": None if adaptive is None else {
                "tolerance": tolerance, "draws": int(adaptive.draws),
                "converged": bool(adaptive.converged), "max_draws": int(max_draws)},
            "target_quantiles_from_draws": min(SUMMARY_KEEP_DRAWS, sf.run.draws)
            if summaries_only else sf.run.draws,
            "series_quantiles_from_draws": series_q_draws,
            "figures_from_draws": int(full_ds.sizes["draw"]),
            "fallbacks": list(fitted.fallbacks),
            "ignored_levers": ignored,
            "versions": versions(), "timings": {k: round(v, 3) for k, v in timings.items()},
            "files": sorted(p.name for p in tmp.iterdir()) + ["manifest.json"],
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False),
                                           encoding="utf-8")
    return RunOutput(folder=out, table=ev.table, joint=ev.joint, dataset=full_ds)


def add_midterm_columns(path, sf, table, ds_mid, history, catalogue, plan_start, *, data_dir=None):
    """Mid-term evaluation: the same file simulated from the plan's start (its own as_of).

    Adds ``p_at_plan_start``, ``delta_p_since_start`` and ``delta_p_since_start_se`` (two
    calibrations: treated as independent, ``sqrt(se_mid^2 + se_start^2)``), and
    ``achieved_annual`` — the constant annual rate observed from the plan's start (or the
    target's base year) to as_of — next to ``required_annual``, the rate still needed.
    """
    from sim.backtest.hindcast import _achieved
    from sim.evaluation import evaluate, indicator_for
    from sim.scenario.read import load_scenario_file

    overrides = {"draws": sf.run.draws, "seed": sf.run.seed}
    start_sf = load_scenario_file(path, overrides=overrides)
    _, _, ds_start, _ = simulate_file(start_sf, history, catalogue, data_dir=data_dir)
    tv = {name: dict(sc.target_values) for name, sc in start_sf.scenarios.items()}
    start = evaluate(ds_start, catalogue, tv, history=history).table
    start = start.set_index(["scenario", "target_id"])
    table = table.copy()
    p0, dp, dse, achieved = [], [], [], {}
    for _, r in table.iterrows():
        key = (r["scenario"], r["target_id"])
        ps = start["probability"].get(key) if "probability" in start else None
        if r.get("status") == "evaluated" and ps is not None and ps == ps:
            p0.append(ps)
            dp.append(r["probability"] - ps)
            dse.append(float(np.hypot(r["mc_se"], start["mc_se"][key])))
        else:
            p0.append(np.nan), dp.append(np.nan), dse.append(np.nan)
    rows = {row["id"]: row for row in (c.to_dict() for _, c in catalogue.iterrows())}
    for tid in table["target_id"].unique():
        achieved[tid] = _achieved(ds_start, ds_mid, rows[tid], plan_start, sf.run.as_of,
                                  indicator_for)[0]
    table["p_at_plan_start"] = p0
    table["delta_p_since_start"] = dp
    table["delta_p_since_start_se"] = dse
    table["achieved_annual"] = table["target_id"].map(achieved)
    table["plan_start_as_of"] = plan_start
    return table


def _summaries(ds, quantiles):
    """Replace the draw dimension by quantiles (``--summaries-only``)."""
    import warnings

    with warnings.catch_warnings():  # all-NaN slices by design (e.g. housing at as_of)
        warnings.filterwarnings("ignore", message="All-NaN slice", category=RuntimeWarning)
        q = ds.quantile(list(quantiles), dim="draw", skipna=True)
    for name in q.data_vars:
        q[name].attrs.update(ds[name].attrs)
    q.attrs.update(ds.attrs)
    q.attrs["summaries_only"] = 1
    q.attrs["quantiles_from_draws"] = int(ds.sizes["draw"])
    return q
