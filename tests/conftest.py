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
