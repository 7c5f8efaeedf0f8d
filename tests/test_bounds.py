"""Bounded inputs, one place (issue 14): sim.bounds states every plausible range with its reason;
the scenario models, the history loader, the evaluator and the engine use it, so ``validate`` and
``data`` refuse what ``run`` would choke on, and valid bounded input never simulates NaN."""

from __future__ import annotations

import math
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest

from sim import bounds
from sim.bounds import Range
from sim.engine.rng import split_seed
from sim.errors import ProblemList, SimError
from sim.scenario.read import load_scenario_file

RUN = """\
[run]
as_of = 2015
horizon = 2020
draws = 1000
seed = 1
target_sets = ["fyp13_2020"]
"""

ALL_RANGES = {name: r for name, r in vars(bounds).items() if isinstance(r, Range)}


def scenario(tmp_path, body: str, run: str = RUN):
    path = tmp_path / "s.toml"
    path.write_text(run + "\n" + textwrap.dedent(body), encoding="utf-8")
    return path


def problems(path) -> list[str]:
    with pytest.raises(ProblemList) as info:
        load_scenario_file(path)
    return [str(p).replace(str(path.parent) + "/", "") for p in info.value.problems]


# ---------------------------------------------------------------- the ranges themselves

def test_every_range_states_its_reason():
    assert len(ALL_RANGES) >= 20
    for name, r in ALL_RANGES.items():
        assert len(r.why) > 20, name
        assert r.lo is not None or r.hi is not None, name


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, "5", None])
def test_no_range_contains_nan_inf_bool_or_text(value):
    for name, r in ALL_RANGES.items():
        assert not r.contains(value), name
        assert r.problem(value), name


def test_range_words_and_check():
    r = Range(-50, 50, "why")
    assert r.expected() == "-50 <= value <= 50"
    assert r.contains(-50) and r.contains(50) and not r.contains(50.0001)
    assert r.problem(51) == "out of range (expected -50 <= value <= 50, got 51)"
    assert r.problem(math.nan) == "not a finite number (expected -50 <= value <= 50, got nan)"
    assert Range(0, None, "w", lo_open=True).expected() == "value > 0"
    assert Range(None, 1, "w", hi_open=True).expected() == "value < 1"
    with pytest.raises(SimError, match=r"^--tolerance: out of range \(expected 0 < value < 0.5, got 0\)$"):
        bounds.TOLERANCE.check(0, "--tolerance")
    assert bounds.TOLERANCE.check(0.01, "--tolerance") == 0.01
    assert bounds.TOLERANCE.constraints() == {"gt": 0, "lt": 0.5}
    assert bounds.SEED.constraints() == {"ge": 0, "lt": 2 ** 64}


def test_seed_range_is_what_the_rng_accepts():
    """validate must refuse what run refuses: the seed range is split_seed's."""
    split_seed(0)
    split_seed(2 ** 64 - 1)
    assert bounds.SEED.contains(2 ** 64 - 1) and not bounds.SEED.contains(2 ** 64)
    with pytest.raises(ValueError):
        split_seed(2 ** 64)


def test_check_as_of():
    assert bounds.check_as_of(2015) == 2015
    assert bounds.check_as_of(np.int64(2015)) == 2015
    for bad in (3000, 1990, 2015.0, "2015", True):
        with pytest.raises(SimError, match="as_of"):
            bounds.check_as_of(bad)


# ---------------------------------------------------------------- the scenario models use them

@pytest.mark.parametrize("body, where, message", [
    ("[scenarios.baseline.levers.gdp_real]\nshift_pp = 50.5",
     "scenarios.baseline.levers.gdp_real.shift_pp", "out of range (expected -50 <= value <= 50, got 50.5)"),
    ("[scenarios.baseline.levers.gdp_real]\nshift_pp = nan",
     "scenarios.baseline.levers.gdp_real.shift_pp", "not a finite number (expected -50 <= value <= 50, got nan)"),
    ("[scenarios.baseline.levers.usdcny]\npath = { 2016 = 1e308 }",
     "scenarios.baseline.levers.usdcny.path.2016", "out of range (expected 0.1 <= value <= 100, got 1e+308)"),
    ("[scenarios.baseline.levers.usdcny]\npath = { 2016 = 1e-308 }",
     "scenarios.baseline.levers.usdcny.path.2016", "out of range (expected 0.1 <= value <= 100, got 1e-308)"),
    ("[scenarios.baseline.levers.usdcny]\npath = { 2016 = inf }",
     "scenarios.baseline.levers.usdcny.path.2016", "not a finite number (expected 0.1 <= value <= 100, got inf)"),
    ("[scenarios.baseline.levers.affordable_housing]\nunits_per_year = 100000000",
     "scenarios.baseline.levers.affordable_housing.units_per_year",
     "out of range (expected 0 <= value <= 10000000, got 100000000)"),
    ("[scenarios.baseline.levers.affordable_housing]\nprogramme_units = { 2016 = -1 }",
     "scenarios.baseline.levers.affordable_housing.programme_units.2016",
     "out of range (expected 0 <= value <= 10000000, got -1)"),
    ("[[scenarios.baseline.shocks]]\ndriver = \"gdp_real\"\nyear = 2018\nshift_pp = -inf",
     "scenarios.baseline.shocks[0].shift_pp",
     "not a finite number (expected -100 <= value <= 100, got -inf)"),
    ("[scenarios.baseline.target_values]\nco2_intensity_cum_2020_fyp13 = nan",
     "scenarios.baseline.target_values.co2_intensity_cum_2020_fyp13", "not a finite number"),
    ("[scenarios.baseline.target_values]\ngdp_2020_fyp13 = inf",
     "scenarios.baseline.target_values.gdp_2020_fyp13", "not a finite number"),
    ("[scenarios.baseline.target_values]\ngdp_2020_fyp13 = 1e300",
     "scenarios.baseline.target_values.gdp_2020_fyp13", "out of range"),
    ("[scenarios.baseline.target_values]\nco2_intensity_cum_2020_fyp13 = -100.0",
     "scenarios.baseline.target_values.co2_intensity_cum_2020_fyp13",
     "out of range for a cumulative change target (expected -100 < value <= 1000000, got -100)"),
    ("[scenarios.baseline.target_values]\ntertiary_share_2020_fyp13 = 120.0",
     "scenarios.baseline.target_values.tertiary_share_2020_fyp13",
     "out of range for a share target (expected 0 <= value <= 100, got 120)"),
])
def test_scenario_numbers_out_of_bounds_name_key_expected_got(tmp_path, body, where, message):
    path = scenario(tmp_path, '[scenarios.baseline]\ndescription = "b"\n' + body)
    got = problems(path)
    assert len(got) == 1, got
    assert got[0].startswith(f"s.toml: {where}: {message}"), got


@pytest.mark.parametrize("key, value, message", [
    ("seed", "18446744073709551616", "run.seed: out of range (expected 0 <= value < 2**64, got 18446744073709551616)"),
    ("seed", "-1", "run.seed: out of range"),
    ("draws", "0", "run.draws: out of range (expected 1 <= value <= 100000000, got 0)"),
    ("block_size", "999", "run.block_size: out of range"),
    ("as_of", "3000", "run.as_of: out of range (expected 2000 <= value <= 2035, got 3000)"),
])
def test_run_numbers_out_of_bounds(tmp_path, key, value, message):
    run = RUN.replace(f"{key} = ", f"{key}_old = ") if key in RUN else RUN
    run = "\n".join(ln for ln in run.splitlines() if not ln.startswith(f"{key}_old")) + "\n"
    path = scenario(tmp_path, '[scenarios.baseline]\ndescription = "b"\n', run + f"{key} = {value}\n")
    got = problems(path)
    assert any(g.startswith(f"s.toml: {message}") for g in got), got


def test_seed_2_64_refused_by_validate_exit_2(tmp_path, run_cli):
    """Defect 7: validate accepted seed 2**64, which run rejects after calibrating."""
    path = scenario(tmp_path, '[scenarios.baseline]\ndescription = "b"\n',
                    RUN.replace("seed = 1", "seed = 18446744073709551616"))
    code, out, err = run_cli("validate", path)
    assert code == 2 and "run.seed: out of range" in err and "Traceback" not in err
    code, out, err = run_cli("validate", scenario(tmp_path, '[scenarios.baseline]\ndescription = "b"\n',
                                                  RUN.replace("seed = 1", "seed = 18446744073709551615")))
    assert code == 0, err


def test_edges_of_the_ranges_are_accepted(tmp_path):
    path = scenario(tmp_path, """\
        [scenarios.baseline]
        description = "b"
        [scenarios.baseline.levers.gdp_real]
        shift_pp = -50
        [scenarios.baseline.levers.usdcny]
        path = { 2016 = 0.1, 2017 = 100 }
        [scenarios.baseline.levers.affordable_housing]
        units_per_year = 10000000
        [[scenarios.baseline.shocks]]
        driver = "energy_intensity"
        year = 2019
        shift_pp = 100
        """)
    sf = load_scenario_file(path)
    assert sf.baseline.levers["usdcny"].path == {2016: 0.1, 2017: 100.0}


def test_sweep_values_are_bounded_like_their_lever(tmp_path):
    path = scenario(tmp_path, """\
        [scenarios.baseline]
        description = "b"
        [sweep]
        levers = { "gdp_real.shift_pp" = [0.0, 80.0] }
        """)
    assert problems(path) == ["s.toml: sweep.levers: gdp_real.shift_pp: out of range (expected "
                              "-50 <= value <= 50, got 80)"]
    path = scenario(tmp_path, """\
        [scenarios.baseline]
        description = "b"
        [sweep]
        levers = { "affordable_housing.units_per_year" = { start = 0, stop = nan, num = 3 } }
        """)
    assert problems(path) == ['s.toml: sweep.levers."affordable_housing.units_per_year".stop: not a '
                              'finite number (expected a finite number, got nan)']


def test_overlong_texts_are_refused(tmp_path):
    """Defect 7: a 52 MB description made a 104 MB report."""
    path = scenario(tmp_path, f'[scenarios.baseline]\ndescription = "{"x" * 6000}"\nlabel_zh = "{"字" * 300}"\n')
    got = problems(path)
    assert "s.toml: scenarios.baseline.description: too long (expected at most 5000 characters, got 6000)" in got
    assert "s.toml: scenarios.baseline.label_zh: too long (expected at most 200 characters, got 300)" in got
    big = tmp_path / "big.toml"
    big.write_text(RUN + '[scenarios.baseline]\ndescription = "b"\n' + "#" * 2_000_000 + "\n")
    size = big.stat().st_size
    assert problems(big) == [f"big.toml: file too large ({size} bytes; expected a scenario file of "
                             "at most 1000000 bytes)"]


# ---------------------------------------------------------------- engine, adaptive, history

def test_as_of_out_of_range_is_refused_by_history_and_calibrate(tmp_path, run_cli):
    """Defect 7: `calibrate --as-of 3000` was accepted (every observation relabelled 3000)."""
    from sim.history import load_history

    with pytest.raises(SimError, match=r"as_of: out of range \(expected 2000 <= value <= 2035, got 3000\)"):
        load_history().upto(3000)
    code, out, err = run_cli("calibrate", "--as-of", "3000", "--out", tmp_path / "fit")
    assert code == 2 and "as_of: out of range" in err and "Traceback" not in err
    assert not (tmp_path / "fit").exists() or not any((tmp_path / "fit").iterdir())


def test_adaptive_tolerance_and_max_draws_are_bounded():
    """Defect 6/7: --max-draws -5 ended in AttributeError; --tolerance must be in (0, 0.5)."""
    from sim.engine.settings import RunSettings
    from sim.evaluation.ranges import run_adaptive
    from sim.testing import synthetic_fitted

    fm = synthetic_fitted()
    settings = RunSettings(as_of=2015, horizon=2020, draws=1000, seed=1)
    with pytest.raises(SimError, match=r"max_draws: out of range \(expected 1 <= value <= 100000000, got -5\)"):
        run_adaptive(fm, [], settings, [], tolerance=0.05, max_draws=-5)
    for tol in (0, -1, 0.5, math.nan, math.inf):
        with pytest.raises(SimError, match="tolerance must be > 0"):
            run_adaptive(fm, [], settings, [], tolerance=tol)


def test_engine_refuses_a_non_finite_path_given_in_code():
    """Defect 4: `inf` in an exchange-rate path was silently ignored (log(inf) fixed nothing)."""
    from sim.engine.simulation import levers_from_spec
    from sim.testing import synthetic_fitted

    fm = synthetic_fitted()
    for bad in (math.inf, 0.0, -1.0, math.nan):
        spec = SimpleNamespace(name="s", levers={"usdcny": SimpleNamespace(path={2016: bad})}, shocks=())
        with pytest.raises(SimError, match=r"scenario 's': levers.usdcny.path.2016"):
            levers_from_spec(spec, fm, 2020)


def test_extreme_but_valid_levers_simulate_finite_paths():
    """Valid bounded input never gives NaN or infinity: every lever at the edge of its range."""
    from sim.engine.simulation import levers_from_spec, series_paths, simulate
    from sim.scenario.levers import RATE_DRIVERS
    from sim.testing import synthetic_fitted

    fm = synthetic_fitted()
    lo, hi = bounds.SHIFT_PP.lo, bounds.SHIFT_PP.hi
    specs = []
    for name, pp, fx, shock, units in (("down", lo, bounds.FX_RATE.lo, bounds.SHOCK_PP.lo, 0),
                                       ("up", hi, bounds.FX_RATE.hi, bounds.SHOCK_PP.hi,
                                        bounds.PROGRAMME_UNITS.hi)):
        levers = {d: SimpleNamespace(shift_pp=pp, from_year=2016, to_year=2020)
                  for d in RATE_DRIVERS if d != "usdcny"}
        levers["usdcny"] = SimpleNamespace(path={y: fx for y in range(2016, 2021)})
        levers["affordable_housing"] = SimpleNamespace(units_per_year=int(units))
        shocks = tuple(SimpleNamespace(driver=d, year=2018, shift_pp=shock) for d in RATE_DRIVERS)
        specs.append(levers_from_spec(SimpleNamespace(name=name, levers=levers, shocks=shocks), fm, 2020))
    sim = simulate(fm, specs, horizon=2020, draws=400, seed=bounds.SEED.hi - 1)
    paths = series_paths(sim, fm)
    assert len(paths) >= 10
    for series, values in paths.items():
        later = values[..., 1:]   # every simulated year
        if np.isnan(later).all():
            continue   # a series without an observed level (e.g. carbon_factor): NaN by design
        assert np.all(np.isfinite(later)), series
    assert np.isfinite(paths["gdp_nominal"]).all() and np.isfinite(paths["usdcny"][..., 1:]).all()
