"""sim — how likely is each planning target to be met, under each policy scenario, as of a year.

The data flow: scenario file → spec (:func:`load_scenario_file`); ``calibration/data`` → history
(:func:`load_history`, observations ≤ as_of) → :func:`load_or_calibrate` → :class:`FittedModel`; spec +
catalogue (:func:`load_catalogue`, :class:`Target`) + history + fitted model → :class:`RunContext`
→ engine → ensemble → :func:`evaluate` → results (:func:`run_file` does it all)::

    import sim
    ctx = sim.RunContext.build("scenarios/baseline_2020.toml", overrides={"draws": 2000})
    out = sim.run_file(ctx, out="results/try")

The names below are imported on first use (PEP 562), so ``import sim`` stays cheap (no numba,
statsmodels or xarray until a name that needs them is used).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sim.version import __version__

if TYPE_CHECKING:   # what the lazy names are, for type checkers and editors
    from sim.calibrate.cache import load_or_calibrate
    from sim.engine.settings import RunSettings
    from sim.errors import ProblemList, SimError
    from sim.evaluation import EvaluationAccumulator, evaluate
    from sim.history import History, load_history
    from sim.model import FittedModel
    from sim.run.context import RunContext
    from sim.run.pipeline import run_file
    from sim.scenario.read import json_schema, load_scenario_file, resolved_toml
    from sim.scenario.spec import ScenarioFile, ScenarioSpec
    from sim.targets import TARGET_SETS, Target, as_targets, load_catalogue, targets_for_sets

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors
    "SimError": "sim.errors",
    "ProblemList": "sim.errors",
    # scenario files
    "load_scenario_file": "sim.scenario.read",
    "resolved_toml": "sim.scenario.read",
    "json_schema": "sim.scenario.read",
    "ScenarioFile": "sim.scenario.spec",
    "ScenarioSpec": "sim.scenario.spec",
    # targets
    "TARGET_SETS": "sim.targets",
    "load_catalogue": "sim.targets",
    "targets_for_sets": "sim.targets",
    "Target": "sim.targets",
    "as_targets": "sim.targets",
    # history and calibration
    "History": "sim.history",
    "load_history": "sim.history",
    # (``sim.calibrate`` is the subpackage; a fit without the cache: sim.calibrate.fit.calibrate)
    "load_or_calibrate": "sim.calibrate.cache",
    "FittedModel": "sim.model",
    # running and evaluating
    "RunSettings": "sim.engine.settings",
    "RunContext": "sim.run.context",
    "run_file": "sim.run.pipeline",
    "evaluate": "sim.evaluation",
    "EvaluationAccumulator": "sim.evaluation",
}

__all__ = [
    "__version__", "SimError", "ProblemList", "load_scenario_file", "resolved_toml", "json_schema",
    "ScenarioFile", "ScenarioSpec", "TARGET_SETS", "load_catalogue", "targets_for_sets", "Target",
    "as_targets", "History", "load_history", "load_or_calibrate", "FittedModel", "RunSettings",
    "RunContext", "run_file", "evaluate", "EvaluationAccumulator",
]
assert __all__ == ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Import the module of a public name on first use and cache the name here."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
