"""No process-global state (issue 19 item 1, DESIGN.md "A run's data travel in its context"):
loading a data directory with declared series and targets, validating it and running on it
leave every module-level dict, list and set of every ``sim`` module as it was, and the bundled
catalogue the same (298 targets before, during and after)."""

from __future__ import annotations

import importlib
import pickle
import pkgutil
from types import MappingProxyType

import pytest

import sim
from sim.errors import SimError
from sim.history import load_history
from sim.targets import load_catalogue
from sim.vocabulary import SERIES, Vocabulary
from test_declared import (FOREST, FOREST_TARGET, SCENARIO, SERIES_HEADER, TARGET_HEADER,
                           data_dir, forest_obs)

BUNDLED_TARGETS = 298


def every_module() -> list:
    """Every module of the ``sim`` package, imported (``sim.__main__`` would run the CLI)."""
    names = [m.name for m in pkgutil.walk_packages(sim.__path__, "sim.")
             if m.name != "sim.__main__"]
    return [sim] + [importlib.import_module(n) for n in sorted(names)]


def snapshot() -> dict:
    """``{(module, name): (object id, shallow contents)}`` of every module-level dict, list and
    set: a value added, removed or replaced, or the global rebound, changes the snapshot."""
    out = {}
    for mod in every_module():
        for name, value in vars(mod).items():
            if name.startswith("__") or not isinstance(value, (dict, list, set)):
                continue
            if isinstance(value, dict):
                contents: object = {k: id(v) for k, v in value.items()}
            elif isinstance(value, list):
                contents = [id(v) for v in value]
            else:
                contents = set(value)
            out[(mod.__name__, name)] = (id(value), contents)
    return out


def changed(before: dict, after: dict) -> list[str]:
    return sorted(f"{m}.{n}" for (m, n) in set(before) | set(after)
                  if before.get((m, n)) != after.get((m, n)))


def declared_dir(tmp_path):
    return data_dir(tmp_path, SERIES_HEADER + FOREST, TARGET_HEADER + FOREST_TARGET,
                    obs=forest_obs(range(2008, 2016)))


def test_the_snapshot_sees_a_changed_module_table():
    """The check can fail: a value put into a module's dict (or a list grown) is seen."""
    import sim.output.compare as target_module

    table = {}
    target_module._test_probe = table   # a new global dict
    try:
        before = snapshot()
        table["x"] = 1
        assert changed(before, snapshot()) == ["sim.output.compare._test_probe"]
    finally:
        del target_module._test_probe


def test_built_in_tables_are_read_only():
    assert isinstance(SERIES, MappingProxyType)
    with pytest.raises(TypeError):
        SERIES["x"] = SERIES["gdp_real"]  # type: ignore[index]
    from sim.vocabulary import COMPOSITION, FAMILIES, TARGET_SETS
    for table in (COMPOSITION, FAMILIES, TARGET_SETS):
        assert isinstance(table, MappingProxyType)


def test_a_data_directory_changes_no_module_state(tmp_path, run_cli):
    """Load and validate a data directory that declares a series and a target: every module's
    globals are unchanged, the bundled catalogue stays 298, and two histories coexist."""
    d = declared_dir(tmp_path)
    assert len(load_catalogue()) == BUNDLED_TARGETS
    before = snapshot()
    declared = load_history(d)
    assert len(load_catalogue()) == BUNDLED_TARGETS
    assert len(declared.catalogue()) == BUNDLED_TARGETS + 1
    code, out, err = run_cli("validate", "--data", d)
    assert (code, err) == (0, ""), err
    bundled = load_history()
    assert "forest_coverage" in declared.vocabulary and "forest_coverage" not in bundled.vocabulary
    assert len(declared.catalogue()) == BUNDLED_TARGETS + 1
    assert len(bundled.catalogue()) == BUNDLED_TARGETS
    assert changed(before, snapshot()) == []
    assert len(load_catalogue()) == BUNDLED_TARGETS


def test_the_vocabulary_is_a_picklable_value(tmp_path):
    """What a dask task receives: equal after a round trip, and not installed anywhere."""
    vocab = load_history(declared_dir(tmp_path)).vocabulary
    back = pickle.loads(pickle.dumps(vocab))
    assert isinstance(back, Vocabulary) and back == vocab and back.is_declared("forest_coverage")
    assert list(back) == list(vocab) and "forest_coverage" not in SERIES
    with pytest.raises(SimError, match="unknown series 'forest_cover' \\(did you mean "
                                       "'forest_coverage'\\?\\)"):
        back.series("forest_cover")


@pytest.mark.slow
def test_validate_and_run_on_declared_data_leave_globals_unchanged(tmp_path, run_cli):
    """Done when of issue 19: snapshot every ``sim.*`` module's dict/list/set globals after
    import, load a data directory with declared series and targets, validate and run (small
    draws), and find the globals unchanged and ``load_catalogue()`` stable."""
    d = declared_dir(tmp_path)
    scen = tmp_path / "s.toml"
    scen.write_text(SCENARIO.replace("draws = 2000", "draws = 1000")
                    + "\n[scenarios.baseline.target_values]\nforest_coverage_2020_test = 42.0\n",
                    encoding="utf-8")
    every_module()
    before = snapshot()
    assert len(load_catalogue()) == BUNDLED_TARGETS
    code, _, err = run_cli("validate", scen, "--data", d)
    assert code == 0, err
    code, _, err = run_cli("run", scen, "--data", d, "--out", tmp_path / "out", "--no-figures",
                           "--quiet")
    assert code == 0, err
    table = (tmp_path / "out" / "targets.csv").read_text(encoding="utf-8")
    assert "forest_coverage_2020_test" in table
    assert changed(before, snapshot()) == []
    assert len(load_catalogue()) == BUNDLED_TARGETS
