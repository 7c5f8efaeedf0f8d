"""The package's public API (``sim.__all__``) and a cheap ``import sim``.

(Import cycles, module sizes and imports at the top: tests/test_architecture.py.)
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import sim


def test_public_api_names_resolve():
    assert sim.__all__[0] == "__version__"
    for name in sim.__all__:
        assert getattr(sim, name) is not None, name
        assert name in dir(sim)
    assert sim.load_scenario_file is importlib.import_module("sim.scenario.read").load_scenario_file
    assert sim.RunContext is importlib.import_module("sim.run.context").RunContext
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sim.nope  # noqa: B018


def test_import_sim_is_cheap():
    """``import sim`` loads none of the heavy packages; the names load them on first use."""
    code = ("import sys, sim; heavy = [m for m in ('numba', 'xarray', 'pandas', 'statsmodels', "
            "'scipy', 'pydantic') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
