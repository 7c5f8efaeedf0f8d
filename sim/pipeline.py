"""One run, end to end: scenario file → fitted model → engine → ensemble → evaluation → folder.

Kept apart from the CLI so tests, ``report`` and ``backtest`` call the same code.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim import __version__
from sim.paths import DEFAULT_RESULTS_DIR


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


def simulate_file(sf, history, catalogue, *, data_dir=None, progress=False, fitted=None):
    """Calibrate (or reuse) and simulate every scenario of a loaded scenario file.

    Returns ``(fitted, simulation, dataset, timings)``.
    """
    from sim.calibrate import load_or_calibrate
    from sim.engine import levers_from_spec, series_paths, simulate
    from sim.ensemble import build_dataset

    timings = {}
    t0 = time.perf_counter()
    run = sf.run
    if fitted is None:
        base_years = sorted({int(b) for b in catalogue["base_year"].dropna()
                             if int(b) < run.as_of} | {int(p) - 1 for p in catalogue["period_start"].dropna()
                                                        if int(p) - 1 < run.as_of})
        fitted = load_or_calibrate(run.as_of, run.vintage, data_dir=data_dir, base_years=base_years)
    timings["calibrate_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    usable, ignored = usable_scenarios(sf, fitted)
    levers = [levers_from_spec(sc, fitted, run.horizon) for sc in usable]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=run.draws, unit="draw", unit_scale=True, desc="simulating", leave=False)
    try:
        simulation = simulate(fitted, levers, horizon=run.horizon, draws=run.draws, seed=run.seed,
                              block_size=run.block_size,
                              parameter_uncertainty=run.parameter_uncertainty,
                              correlated_shocks=run.correlated_shocks,
                              progress=(bar.update if bar is not None else None))
    finally:
        if bar is not None:
            bar.close()
    timings["simulate_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    paths = series_paths(simulation, fitted)
    attrs = {
        "title": f"sim ensemble: {sf.path.name}",
        "source": f"sim {__version__}",
        "seed": int(run.seed), "draws": int(run.draws), "block_size": int(run.block_size),
        "horizon": int(run.horizon), "vintage": run.vintage,
        "data_hash": fitted.data_hash,
        "parameter_uncertainty": int(run.parameter_uncertainty),
        "correlated_shocks": int(run.correlated_shocks),
        "versions": versions(),
    }
    dataset = build_dataset(simulation, fitted, paths, attrs)
    dataset.attrs["ignored_levers"] = json.dumps(ignored, ensure_ascii=False)
    timings["ensemble_s"] = time.perf_counter() - t0
    return fitted, simulation, dataset, timings


def usable_scenarios(sf, fitted):
    """Scenarios without levers/shocks on drivers the fitted model could not calibrate.

    A driver with no history ≤ as_of is not simulated (its targets are reported not
    evaluable); a lever on it cannot act, so it is dropped with a message instead of failing
    the whole run. Returns ``(scenarios, ignored)`` with ``ignored`` a list of messages.
    """
    from sim.engine import HOUSING_LEVER

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
             summaries_only=False, progress=False) -> RunOutput:
    """``sim run``: everything, written atomically into ``out`` (default results/<stem>)."""
    from sim.ensemble import write_netcdf
    from sim.evaluation import evaluate
    from sim.history import load_history
    from sim.results import atomic_folder, check_writable
    from sim.scenario import load_scenario_file, resolved_toml
    from sim.targets import targets_for_sets

    t_start = time.perf_counter()
    sf = load_scenario_file(path, overrides=overrides or None)
    out = Path(out) if out else DEFAULT_RESULTS_DIR / Path(path).stem
    check_writable(out, force)  # fail before minutes of simulation, not after
    history = load_history(data_dir)
    catalogue = targets_for_sets(list(sf.run.target_sets))
    fitted, simulation, ds, timings = simulate_file(sf, history, catalogue, data_dir=data_dir,
                                                    progress=progress)
    ds.attrs["scenario_resolved"] = resolved_toml(sf)

    t0 = time.perf_counter()
    target_values = {name: dict(sc.target_values) for name, sc in sf.scenarios.items()}
    ev = evaluate(ds, catalogue, target_values, history=history,
                  quantiles=tuple(sf.output.quantiles))
    timings["evaluate_s"] = time.perf_counter() - t0

    with atomic_folder(out, force) as tmp:
        ev.table.to_csv(tmp / "targets.csv", index=False)
        ev.joint.to_csv(tmp / "joint.csv", index=False)
        (tmp / "scenario.resolved.toml").write_text(resolved_toml(sf), encoding="utf-8")
        fitted.save(tmp / "fitted_model.json")
        if summaries_only:
            ds_out = _summaries(ds, tuple(sf.output.quantiles))
        else:
            ds_out = ds
        write_netcdf(ds_out, tmp / "ensemble.nc")
        timings["total_s"] = time.perf_counter() - t_start
        manifest = {
            "sim_version": __version__,
            "scenario_file": str(path), "scenario_sha256": _sha256(path),
            "catalogue_sha256": _sha256(Path(__file__).parent / "data" / "targets.csv"),
            "data_dir": str(data_dir or "calibration/data"), "data_hash": fitted.data_hash,
            "as_of": sf.run.as_of, "horizon": sf.run.horizon, "draws": sf.run.draws,
            "seed": sf.run.seed, "vintage": sf.run.vintage, "block_size": sf.run.block_size,
            "scenarios": list(sf.scenarios), "target_sets": list(sf.run.target_sets),
            "summaries_only": bool(summaries_only),
            "fallbacks": list(fitted.fallbacks),
            "ignored_levers": json.loads(ds.attrs.get("ignored_levers", "[]")),
            "versions": versions(), "timings": {k: round(v, 3) for k, v in timings.items()},
            "files": sorted(p.name for p in tmp.iterdir()) + ["manifest.json"],
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False),
                                           encoding="utf-8")
    return RunOutput(folder=out, table=ev.table, joint=ev.joint, dataset=ds)


def _summaries(ds, quantiles):
    """Replace the draw dimension by quantiles (for very large runs)."""
    q = ds.quantile(list(quantiles), dim="draw", skipna=True)
    q.attrs.update(ds.attrs)
    q.attrs["summaries_only"] = 1
    return q
