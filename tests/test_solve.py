"""Required effort: monotone k-section exact on synthetic curves; solve on common random numbers; CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.analysis.solve import LeverProbability, bisect_monotone, crossing, solve
from sim.errors import SimError
from sim.run.context import RunContext
from sim.testing import synthetic_fitted

CO2 = "co2_intensity_cum_2020_fyp13"


def test_bisection_exact_on_a_linear_curve():
    b = bisect_monotone(lambda v: np.clip((v + 3) / 4, 0, 1), -5, 5, 0.9, xtol=1e-9)
    assert b.status == "ok" and b.direction == 1
    assert b.value == pytest.approx(0.6, abs=1e-9) and b.value >= 0.6   # P >= p holds at the answer
    assert b.p_value >= 0.9


def test_bisection_less_is_better_gives_the_largest_value():
    b = bisect_monotone(lambda v: np.clip(-v / 10, 0, 1), -10, 10, 0.25, xtol=1e-9)
    assert b.direction == -1 and b.value == pytest.approx(-2.5, abs=1e-9) and b.value <= -2.5


def test_bisection_on_a_step_function_like_common_random_numbers():
    thresholds = np.random.default_rng(0).normal(size=1000)        # draw i met iff v >= t_i
    prob = lambda v: (thresholds[None, :] <= np.asarray(v)[:, None]).mean(axis=1)  # noqa: E731
    b = bisect_monotone(prob, -5, 5, 0.9, xtol=1e-10)
    exact = np.sort(thresholds)[899]                                 # smallest v with 900 draws met
    assert b.value == pytest.approx(exact, abs=1e-9) and prob([b.value])[0] >= 0.9
    assert prob([b.value - 1e-8])[0] < 0.9


def test_bisection_unreachable_always_and_flat():
    f = lambda v: np.clip((v + 3) / 4, 0, 1)                         # noqa: E731
    b = bisect_monotone(f, -3, -1, 0.9)
    assert b.status == "unreachable" and b.value == -1 and b.p_value == 0.5
    b = bisect_monotone(f, 1, 2, 0.9)
    assert b.status == "always" and b.value == 1
    b = bisect_monotone(lambda v: np.full(len(v), 0.3), 0, 1, 0.9)
    assert b.status == "flat"
    with pytest.raises(SimError, match="LO < HI"):
        bisect_monotone(f, 1, 1, 0.9)
    with pytest.raises(SimError, match=r"probability must be in \(0, 1\)"):
        bisect_monotone(f, 0, 1, 1.0)


def test_crossing_interpolates_and_clips():
    v = np.array([0.0, 1.0, 2.0])
    assert crossing(v, np.array([0.2, 0.6, 1.0]), 0.8, 1) == pytest.approx(1.5)
    assert crossing(v, np.array([1.0, 0.6, 0.2]), 0.8, -1) == pytest.approx(0.5)
    assert list(crossing(v, np.array([[0.0, 0.1, 0.2], [0.9, 1, 1]]), 0.8, 1)) == [2.0, 0.0]


@pytest.fixture(scope="module")
def ctx(shipped):
    return RunContext.build(shipped["2020"], overrides={"draws": 1500}, fitted=synthetic_fitted())


@pytest.mark.slow
def test_solve_on_common_random_numbers(ctx):
    r = solve(ctx, target=CO2, probability=0.8, lever="energy_intensity.shift_pp", bounds=(-10, 5),
              xtol=0.01, bootstrap=50)
    assert r.status == "ok" and r.direction == -1
    P = LeverProbability(ctx, CO2, "energy_intensity.shift_pp", draws=1500)
    assert P([r.value])[0] >= 0.8 > P([r.value + 0.01])[0]            # least effort, to xtol
    assert r.slope < 0 and 0 < r.se_delta < 2 and 0 < r.se_boot < 2
    assert r.interval[0] <= r.value + 3 * r.se_delta and r.interval[1] >= r.value - 3 * r.se_delta
    assert "needs energy_intensity.shift_pp at most" in r.message()


def test_solve_reports_unreachable(ctx):
    r = solve(ctx, target=CO2, probability=0.999, lever="energy_intensity.shift_pp", bounds=(-0.5, 0.5))
    assert r.status == "unreachable"
    assert "no value of energy_intensity.shift_pp within the bounds reaches P(met) >= 0.999" in r.message()


def test_solve_errors(ctx):
    with pytest.raises(SimError, match="unknown target 'co2_intensity_cum_2020_fyp1'.*did you mean "
                                       "'co2_intensity_cum_2020_fyp13'"):
        solve(ctx, target="co2_intensity_cum_2020_fyp1", probability=0.9,
              lever="energy_intensity.shift_pp")
    with pytest.raises(SimError, match="not evaluable"):
        solve(ctx, target="energy_intensity_2020_qdp", probability=0.9, lever="energy_intensity.shift_pp")


@pytest.mark.slow
def test_solve_cli_end_to_end_on_shipped_scenario(tmp_path, shipped, run_cli):
    """The CLI solves on the real calibration: the JSON answer is the least effort, to xtol, and
    reaches the probability on the same draws (checked again through the library)."""
    out = tmp_path / "r.json"
    code, text, err = run_cli("solve", shipped["2020"], "--target", CO2, "--probability", "0.7",
                              "--lever", "carbon_factor.shift_pp", "--bounds", "-8", "2",
                              "--draws", "800", "--xtol", "0.05", "--json", out)
    res = json.loads(out.read_text(encoding="utf-8"))
    assert code == (0 if res["status"] in ("ok", "always") else 1), err
    assert CO2 in text and "800 draws" in text
    assert (res["target"], res["lever"], res["draws"], res["probability"]) == (
        CO2, "carbon_factor.shift_pp", 800, 0.7)
    # a cumulative "<=" change target: a faster fall of the carbon factor helps, so less is
    # better, and the shipped plan is reachable within the bounds
    assert res["status"] == "ok" and res["direction"] == -1
    assert -8 <= res["value"] <= 2 and res["p_value"] >= 0.7
    assert res["se_p"] == pytest.approx(np.sqrt(res["p_value"] * (1 - res["p_value"]) / 800))
    p_at = {e["value"]: e["p_met"] for e in res["evaluations"]}
    assert p_at[res["value"]] == res["p_value"]
    assert all(p < 0.7 for v, p in p_at.items() if v > res["value"] + 0.05)   # least effort
    # the same answer from the library on the context the CLI built
    ctx = RunContext.build(shipped["2020"], overrides={"draws": 800})
    P = LeverProbability(ctx, CO2, "carbon_factor.shift_pp")
    assert P([res["value"]])[0] == res["p_value"] >= 0.7 > P([res["value"] + 0.05])[0]
