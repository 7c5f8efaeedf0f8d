"""Required effort: monotone k-section exact on synthetic curves; solve on common random numbers; CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.analysis.labels import plain
from sim.analysis.solve import LeverProbability, SolveResult, default_bounds, solve
from sim.analysis.solve_search import bisect_monotone, crossing, scan_shape, search
from sim.errors import SimError
from sim.run.context import RunContext
from sim.testing import synthetic_fitted

CO2 = "co2_intensity_cum_2020_fyp13"


def words(text):
    """The printed message with its line wrapping undone."""
    return " ".join(text.split())


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


def window_draws(n=4000, seed=1):
    """Synthetic common random numbers where P rises and falls: draw i is met iff a_i <= v <= b_i
    (a two-sided target moved through its window by the lever), with its exact answers."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(-4.0, 2.0, n), rng.normal(3.0, 2.0, n)

    def met_at(v):
        v = np.asarray(v, float)[:, None]
        return (a[None, :] <= v) & (v <= b[None, :])

    return met_at


def test_scan_shape_from_the_draws():
    v = np.linspace(-5, 5, 11)
    t = np.random.default_rng(0).normal(size=2000)
    up = t[None, :] <= v[:, None]                                     # each draw flips once, upwards
    assert scan_shape(v, up).shape == "increasing" and scan_shape(v, up).fall is None
    assert scan_shape(v[::-1].copy() * -1, up[::-1]).shape == "decreasing"
    assert scan_shape(v, np.tile(up[5], (11, 1))).shape == "flat"
    both = window_draws()(v)
    sc = scan_shape(v, both)
    assert sc.shape == "not monotone" and sc.rise.a < sc.rise.b <= sc.fall.a < sc.fall.b
    # noise only: every draw flips at random, P moves within its Monte Carlo error -> no reversal
    noise = np.random.default_rng(3).random((11, 2000)) < 0.5
    noise[-1] = noise[0]
    assert scan_shape(v, noise).rise is None and scan_shape(v, noise).fall is None


def test_search_reports_every_crossing_when_p_is_not_monotone():
    met_at = window_draws()
    s = search(met_at, -50, 50, 0.6, xtol=1e-6)
    assert s.status == "ok" and s.scan.shape == "not monotone" and s.direction == 0
    assert [c.direction for c in s.crossings] == [1, -1] and len(s.intervals) == 1
    lo_v, hi_v = s.intervals[0]
    # exact for these draws, to xtol: P >= 0.6 at both ends, below just outside
    P = lambda v: met_at(np.array(v)).mean(axis=1)                    # noqa: E731
    assert P([lo_v, hi_v]).min() >= 0.6 and P([lo_v - 1e-5, hi_v + 1e-5]).max() < 0.6
    assert -4 < lo_v < -1 < 0 < hi_v < 3
    assert s.value == 0.0                                             # 0 is inside: no change needed
    assert s.best_p == max(P(np.linspace(-50, 50, 41)).max(), s.best_p) >= P([0.0])[0] - 1e-12


def test_search_finds_the_maximum_the_old_bounds_search_missed():
    """Issue 13: P rising then falling, peak below p. Reading the direction from the ends
    reported the better end (-10) as the best; the scan reports the peak."""
    met_at = window_draws()
    s = search(met_at, -10, 10, 0.99)
    assert s.status == "unreachable" and s.scan.shape == "not monotone"
    assert -4 < s.best_value < 3 and s.best_p > 0.9
    ends = met_at(np.array([-10.0, 10.0])).mean(axis=1)
    assert s.best_p > ends.max() + 0.5


def test_search_monotone_answers_are_the_least_effort():
    t = np.random.default_rng(0).normal(size=1000)
    up = lambda v: t[None, :] <= np.asarray(v)[:, None]               # noqa: E731
    s = search(up, -50, 50, 0.9, xtol=1e-10)
    assert s.status == "ok" and s.direction == 1 and s.value == pytest.approx(np.sort(t)[899], abs=1e-9)
    down = lambda v: -t[None, :] >= np.asarray(v)[:, None]            # noqa: E731
    s = search(down, -50, 50, 0.9, xtol=1e-10)
    assert s.direction == -1 and s.value == pytest.approx(-np.sort(t)[899], abs=1e-9)
    assert search(up, 4, 50, 0.9).status == "always" and search(up, 4, 50, 0.9).value == 4
    flat = search(lambda v: np.tile(t < 0, (len(v), 1)), -1, 1, 0.9)
    assert flat.status == "flat" and flat.best_p == (t < 0).mean()
    with pytest.raises(SimError, match="the scan needs at least 3 values, got 2"):
        search(up, -1, 1, 0.9, points=2)


def test_plain_numbers():
    assert [plain(x) for x in (85740.3, -6.52817, 0.083147, 50.0, 0.0, 1e-5, 1e7, float("nan"))] == [
        "85,740", "-6.528", "0.08315", "50", "0", "0.00001", "10,000,000", "n/a"]


def test_default_bounds_are_the_levers_valid_range():
    assert default_bounds("energy_intensity.shift_pp") == (-50.0, 50.0)
    assert default_bounds("affordable_housing.units_per_year") == (0.0, 10_000_000.0)
    with pytest.raises(SimError, match="unknown lever path 'energy.shift_pp'"):
        default_bounds("energy.shift_pp")


def test_message_of_a_p_that_rises_and_falls():
    from sim.analysis.solve import Crossing

    r = SolveResult(target="t", lever="population_resident.shift_pp", scenario="baseline",
                    probability=0.9, bounds=(-50.0, 50.0), draws=2000, status="ok", value=0.0,
                    direction=0, p_value=0.95, se_p=0.0049, shape="not monotone", best_value=-1.0,
                    best_p=0.97, crossings=[Crossing(-4.25, True, 0.9, 0.1, 0.05, 0.12, (-4.4, -4.1)),
                                            Crossing(2.5, False, 0.9005, 0.2, -0.03)],
                    intervals=[(-4.25, 2.5)], evaluations={-50.0: 0.0, 50.0: 0.0}, scanned=41,
                    default_bounds=True)
    text = words(r.message())
    assert "searched from -50 to 50 pp/yr (the lever's whole valid range): 41 values scanned" in text
    assert ("P(met) is NOT monotone in this lever: it rises and falls over the range (changes larger "
            "than 3 Monte Carlo standard errors); it is highest, 0.970 ± 0.004, at -1 pp/yr.") in text
    assert "P(met) ≥ 0.9 holds from -4.25 to 2.5 pp/yr:" in text
    assert ("P reaches 0.9 at -4.25 pp/yr (P ≥ 0.9 just above it); Monte Carlo error ± 0.1 pp/yr "
            "(delta method: P changes by 0.05 per 1 pp/yr there); bootstrap over draws: SD 0.12, "
            "90% interval -4.4 to -4.1 pp/yr") in text
    assert "P drops below 0.9 at 2.5 pp/yr (P ≥ 0.9 just below it)" in text
    assert "The value nearest to 0 (the smallest change) is 0 pp/yr, P there = 0.950 ± 0.005." in text
    assert "e+0" not in text


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
    assert "needs energy_intensity.shift_pp at most" in words(r.message())


def test_solve_reports_unreachable(ctx):
    r = solve(ctx, target=CO2, probability=0.999, lever="energy_intensity.shift_pp", bounds=(-0.5, 0.5),
              points=5)
    # less is better: the highest P is at the lower bound (or, a step function, just above it)
    assert r.status == "unreachable" and r.shape == "decreasing"
    assert r.best_p == r.evaluations[-0.5] == max(r.evaluations.values()) and -0.5 <= r.best_value < -0.25
    assert ("No value from -0.5 to 0.5 pp/yr gives P(met) ≥ 0.999: the highest is "
            f"{r.best_p:.3f} ± {r.se_of(r.best_p):.3f}, at {plain(r.best_value)} pp/yr. Widen "
            "--bounds, or combine levers (see `sim sweep`).") in words(r.message())
    assert max(map(len, r.message().splitlines())) <= 100


def test_solve_searches_the_whole_valid_range_by_default(ctx):
    r = solve(ctx, target=CO2, probability=0.5, lever="carbon_factor.shift_pp", points=5, xtol=0.5,
              bootstrap=20, draws=400)
    assert r.bounds == (-50.0, 50.0) and r.default_bounds and r.scanned == 5
    assert r.status == "ok" and r.shape == "decreasing" and len(r.crossings) == 1
    assert r.crossings[0].value == r.value and r.p_value >= 0.5 and np.isfinite(r.se_delta)
    assert "searched from -50 to 50 pp/yr (the lever's whole valid range)" in words(r.message())
    assert "P(met) falls as the lever rises" in words(r.message())
    with pytest.raises(SimError, match=r"--bounds HI of carbon_factor.shift_pp: out of range "
                                       r"\(expected -50 <= value <= 50, got 60\)"):
        solve(ctx, target=CO2, probability=0.5, lever="carbon_factor.shift_pp", bounds=(0, 60))


def test_solve_errors(ctx):
    with pytest.raises(SimError, match="unknown target 'co2_intensity_cum_2020_fyp1'.*did you mean "
                                       "'co2_intensity_cum_2020_fyp13'"):
        solve(ctx, target="co2_intensity_cum_2020_fyp1", probability=0.9,
              lever="energy_intensity.shift_pp")
    # no target value (the 2020 file leaves it blank): the run gives it no probability either
    with pytest.raises(SimError, match=r"target 'energy_intensity_cum_2020_fyp13' is not evaluable: "
                                       r"no target value .*\(the run gives it no probability\)"):
        solve(ctx, target="energy_intensity_cum_2020_fyp13", probability=0.9,
              lever="energy_intensity.shift_pp")


def test_solve_at_the_scenarios_lever_value_gives_the_runs_headline_probability(shipped):
    """P(v) is the run's headline probability: at the baseline's own lever value (0 pp/yr: it has
    no energy lever) it equals the run's P exactly (same seed and draws, the run's record draws
    and weight), not p_trend; a past-plans-only target is answered, not refused: its P is the
    run's at every lever value and the message says no lever moves it."""
    from sim.run.stream import stream

    small = RunContext.build(shipped["2020"], overrides={"draws": 600}, fitted=synthetic_fitted())
    run = stream(small).acc
    k = small.scenario_names.index("baseline")
    P = LeverProbability(small, CO2, "energy_intensity.shift_pp", draws=600, chunk_draws=250)
    assert P([0.0])[0] == run.probabilities([CO2])[k, 0]
    assert P([0.0])[0] != run.trend_hits[("baseline", CO2)] / 600
    assert P.method == "trend+record" and 0 < P.weight < 1
    r = solve(small, target="energy_intensity_2020_qdp", probability=0.9,
              lever="energy_intensity.shift_pp", points=3, bootstrap=0)
    p_run = run.probabilities(["energy_intensity_2020_qdp"])[k, 0]
    assert r.method == "record only" and r.shape == "flat" and set(r.evaluations.values()) == {p_run}
    text = words(r.message())
    assert "P(met), the run's headline probability (仅参考往期规划 past plans only)" in text
    assert "no lever moves it" in text and "does not change with the lever" in text


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
    assert CO2 in text and "800 draws" in words(text)
    assert (res["target"], res["lever"], res["draws"], res["probability"]) == (
        CO2, "carbon_factor.shift_pp", 800, 0.7)
    # a cumulative "<=" change target: a faster fall of the carbon factor helps, so less is
    # better, and the shipped plan is reachable within the bounds
    assert res["status"] == "ok" and res["direction"] == -1 and res["shape"] == "decreasing"
    assert res["bounds"] == [-8, 2] and not res["default_bounds"]
    assert [c["value"] for c in res["crossings"]] == [res["value"]] and not res["crossings"][0]["rising"]
    assert "e+0" not in text and "P(met) falls as the lever rises" in words(text)
    assert -8 <= res["value"] <= 2 and res["p_value"] >= 0.7
    assert res["se_p"] == pytest.approx(np.sqrt(res["p_value"] * (1 - res["p_value"]) / 800))
    p_at = {e["value"]: e["p_met"] for e in res["evaluations"]}
    assert p_at[res["value"]] == res["p_value"]
    assert all(p < 0.7 for v, p in p_at.items() if v > res["value"] + 0.05)   # least effort
    # the same answer from the library on the context the CLI built
    ctx = RunContext.build(shipped["2020"], overrides={"draws": 800})
    P = LeverProbability(ctx, CO2, "carbon_factor.shift_pp")
    assert P([res["value"]])[0] == res["p_value"] >= 0.7 > P([res["value"] + 0.05])[0]


def test_solve_cli_flag_errors_before_any_work(shipped, run_cli):
    code, _, err = run_cli("solve", shipped["2020"], "--target", CO2, "--lever",
                           "energy_intensity.shift_pp", "--points", "2")
    assert code == 2 and err.strip() == "sim solve: error: --points must be at least 3, got 2"
