"""Shared fixtures and settings of the test suite.

* Every test session gets its own calibration cache (``SIM_CACHE_DIR`` in a temporary folder):
  no test reads or writes ``calibration/fitted/`` or the user's cache.
* ``fitted_real(as_of, vintage)``: the model calibrated on the shipped history, once per session
  and as_of (real-data calibration costs seconds; tests share it).
* Markers: ``slow`` (more than a few seconds of CPU) and ``dask`` (starts a dask cluster);
  ``-m "not slow"`` gives the quick suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BASELINE_2020 = SCENARIOS / "baseline_2020.toml"
BASELINE_2015 = SCENARIOS / "baseline_2015.toml"


@pytest.fixture(scope="session", autouse=True)
def _private_calibration_cache(tmp_path_factory):
    """Point the calibration cache at a session folder (the repository is never written)."""
    mp = pytest.MonkeyPatch()
    cache = tmp_path_factory.mktemp("sim-cache")
    mp.setenv("SIM_CACHE_DIR", str(cache))
    yield cache
    mp.undo()


@pytest.fixture(scope="session")
def fitted_real(_private_calibration_cache):
    """``fitted_real(as_of, vintage="revised")``: shipped history calibrated once per session."""
    from sim.calibrate.cache import load_or_calibrate

    cache: dict = {}

    def get(as_of: int, vintage: str = "revised", base_years=()):
        key = (int(as_of), vintage, tuple(base_years))
        if key not in cache:
            cache[key] = load_or_calibrate(int(as_of), vintage, base_years=base_years)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def shipped():
    """Paths of the shipped scenario files."""
    return {"2020": BASELINE_2020, "2015": BASELINE_2015}


@pytest.fixture
def run_cli(capsys):
    """``run_cli(*argv)`` -> ``(exit_code, stdout, stderr)`` of ``python -m sim`` in-process."""
    from sim.cli import main

    def run(*argv):
        code = main([str(a) for a in argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


# --- H3-output ---
# A small results folder made without the engine (tests of sim.output, `sim report`, `sim compare`):
# lognormal paths in the ensemble layout of sim.ensemble, evaluated with sim.evaluation.evaluate
# against the real catalogue of the 13th-FYP target set (so `sim report` can rebuild it), then
# written like `sim run` does.

SYNTH_AS_OF, SYNTH_HORIZON, SYNTH_DRAWS = 2015, 2020, 300
SYNTH_TARGET_SETS = ["fyp13_2020"]

SYNTH_RESOLVED = """# Resolved scenario file (test fixture)
[run]
as_of = 2015
horizon = 2020
draws = 300
seed = 7
target_sets = ["fyp13_2020"]
vintage = "revised"

[output]
quantiles = [0.025, 0.1, 0.5, 0.9, 0.975]
figures = true
table_formats = ["csv", "md", "xlsx", "html"]

[scenarios.baseline]
description = "Continuation of trends."
label_zh = "基准情景"

[scenarios.baseline.target_values]
co2_intensity_cum_2020_fyp13 = -10.0

[scenarios.baseline.levers.affordable_housing]
programme_units = { 2016 = 70000, 2017 = 70000, 2018 = 70000, 2019 = 70000, 2020 = 70000 }

[scenarios.faster]
description = "Faster growth and a bigger housing programme."
label_zh = "加速"

[scenarios.faster.target_values]
co2_intensity_cum_2020_fyp13 = -10.0

[scenarios.faster.levers.gdp_real]
shift_pp = 1.0
"""

#: series → (as_of value or None for an index, mean log growth, sd, units, zh, en)
SYNTH_SERIES = {
    "gdp_nominal": (17500.0, 0.08, 0.03, "亿元", "地区生产总值", "GDP (current prices)"),
    "gdp_per_capita": (153000.0, 0.05, 0.03, "元", "人均地区生产总值", "GDP per capita"),
    "population_resident": (1138.0, 0.03, 0.01, "万人", "常住人口", "Resident population"),
    "water_intensity": (11.0, -0.045, 0.02, "立方米/万元", "万元GDP水耗",
                        "Water use per 10,000 yuan of GDP"),
    "co2_intensity": (0.7, -0.03, 0.02, "tCO2/万元", "万元GDP二氧化碳排放", "CO2 per 10,000 yuan of GDP"),
    "carbon_factor": (None, -0.02, 0.01, "1", "单位能耗二氧化碳排放", "CO2 per unit of energy"),
    "affordable_housing_supplied": (60000.0, 0.0, 0.15, "套", "保障性住房供应套数",
                                    "Affordable housing units supplied"),
}

#: an external reference in an HTML page (a page must have none)
EXTERNAL_REF = (r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|@import|"""
                r"""url\(\s*["']?\s*(?:https?:)?//""")


def _synthetic_dataset(seed: int = 0, shift: float = 0.0, draws: int = SYNTH_DRAWS):
    """Lognormal paths; scenario 'faster' grows ``0.01 + shift`` faster (same shocks: CRN)."""
    import json

    import numpy as np
    import xarray as xr

    rng = np.random.default_rng(seed)
    years = np.arange(SYNTH_AS_OF, SYNTH_HORIZON + 1)
    scen = ["baseline", "faster"]
    ds = xr.Dataset(coords={"scenario": scen, "draw": np.arange(draws), "year": years})
    for name, (v0, mu, sd, unit, zh, en) in SYNTH_SERIES.items():
        eps = rng.standard_normal((draws, len(years) - 1))
        paths = []
        for k in range(len(scen)):
            m = mu + (0.01 + shift) * k if name.startswith("gdp") else mu
            if name == "affordable_housing_supplied":
                level = np.exp(np.log(v0 * (1 + 0.1 * k)) + sd * eps)
                paths.append(np.concatenate([np.full((draws, 1), v0), level], axis=1))
                continue
            logs = np.concatenate([np.zeros((draws, 1)), np.cumsum(m + sd * eps, axis=1)], axis=1)
            paths.append((v0 or 1.0) * np.exp(logs))
        attrs = {"units": unit, "long_name": en, "long_name_zh": zh, "scale": "log"}
        if v0 is None:
            attrs["relative_to_as_of"] = 1
        ds[name] = xr.DataArray(np.stack(paths), dims=("scenario", "draw", "year"), attrs=attrs)
    ds["co2_intensity_log_change_since_2010"] = xr.DataArray(
        -0.2 + 0.02 * rng.standard_normal(draws), dims=("draw",), attrs={"units": "1"})
    ds.attrs.update(as_of=SYNTH_AS_OF, seed=7, draws=draws, horizon=SYNTH_HORIZON, vintage="revised",
                    data_hash="abc123def4567890", title="test ensemble",
                    versions=json.dumps({"sim": "test", "numpy": np.__version__}),
                    scenario_resolved=SYNTH_RESOLVED)
    return ds


def _synthetic_results(folder: Path, *, seed: int = 0, shift: float = 0.0, outputs: bool = True,
                       figures: bool = True) -> Path:
    """A results folder as `sim run` writes it (ensemble.nc, targets.csv, joint.csv, …)."""
    import json

    from sim.ensemble import write_netcdf
    from sim.evaluation import evaluate
    from sim.history import load_history
    from sim.output.report import write_outputs
    from sim.targets import targets_for_sets

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ds = _synthetic_dataset(seed, shift)
    history = load_history()
    catalogue = targets_for_sets(SYNTH_TARGET_SETS)
    target_values = {s: {"co2_intensity_cum_2020_fyp13": -10.0} for s in ("baseline", "faster")}
    ev = evaluate(ds, catalogue, target_values, history=history)
    write_netcdf(ds, folder / "ensemble.nc")
    ev.table.to_csv(folder / "targets.csv", index=False)
    ev.joint.to_csv(folder / "joint.csv", index=False)
    (folder / "scenario.resolved.toml").write_text(SYNTH_RESOLVED, encoding="utf-8")
    (folder / "manifest.json").write_text(json.dumps({"seed": 7, "as_of": SYNTH_AS_OF}),
                                          encoding="utf-8")
    if outputs:
        write_outputs(folder, ds, ev.table, ev.joint, history=history, catalogue=catalogue,
                      figures=figures)
    return folder


@pytest.fixture(scope="session")
def make_dataset():
    """``make_dataset(seed=0, shift=0.0, draws=300)``: the synthetic ensemble (2 scenarios)."""
    return _synthetic_dataset


@pytest.fixture(scope="session")
def make_results():
    """``make_results(folder, seed=, shift=, outputs=, figures=)``: a synthetic results folder."""
    return _synthetic_results


@pytest.fixture(scope="session")
def results_folder(tmp_path_factory) -> Path:
    """One synthetic results folder with every output (figures too), shared read-only."""
    return _synthetic_results(tmp_path_factory.mktemp("run") / "baseline_2020")


@pytest.fixture(scope="session")
def external_ref():
    """Regex matching an external reference (``src=//…``, ``@import``, ``url(http…)``)."""
    import re

    return re.compile(EXTERNAL_REF, re.I)


@pytest.fixture(scope="session")
def synthetic_series():
    """Names of the series of the synthetic ensemble."""
    return tuple(SYNTH_SERIES)


# --- I14-A ---
# Results folders written by sim carry the ownership marker `.sim-results` (sim.output.owned);
# `sim report` rewrites only such folders. The synthetic folders above stand for folders
# `sim run` wrote, so they get the marker too (a wrapper: the fixtures look the function up
# when they run).
_synthetic_results_without_marker = _synthetic_results


def _synthetic_results(folder: Path, **kwargs) -> Path:  # noqa: F811
    """:func:`_synthetic_results_without_marker` plus the ownership marker of `sim run`."""
    from sim.output.owned import MARKER, marker_text

    folder = _synthetic_results_without_marker(folder, **kwargs)
    (folder / MARKER).write_text(marker_text("run"), encoding="utf-8")
    return folder
