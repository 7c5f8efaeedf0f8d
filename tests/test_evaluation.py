"""Evaluation of targets on a hand-built ensemble with known answers."""

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from statsmodels.stats.proportion import proportion_confint

from sim.evaluation import compare, evaluate, likelihood_word, wilson_interval


def make_ds(values, years=(2015, 2016, 2017), scenarios=("baseline", "alt"), since=None, relative=False):
    """values: (S, N, Y) for series 'gdp_nominal'; optional since: (N,) log change 2010→2015."""
    ds = xr.Dataset(coords={"scenario": list(scenarios), "draw": np.arange(values.shape[1]),
                            "year": np.array(years)})
    attrs = {"units": "亿元", **({"relative_to_as_of": 1} if relative else {})}
    ds["gdp_nominal"] = xr.DataArray(values, dims=("scenario", "draw", "year"), attrs=attrs)
    if since is not None:
        ds["gdp_nominal_log_change_since_2010"] = xr.DataArray(since, dims=("draw",))
    ds.attrs["as_of"] = years[0]
    return ds


def target(**kw):
    row = dict(id="t1", target_set="fyp13_2020", series="gdp_nominal", indicator_en="GDP",
               indicator_zh="GDP", target_year=2017, kind="level", comparator=">=", value=100.0,
               value_high=None, tolerance=None, unit="亿元", base_year=None, period_start=None,
               period_end=None, binding="binding")
    row.update(kw)
    return row


@pytest.mark.parametrize("p,n", [(0.0, 10), (0.3, 50), (0.5, 1000), (0.97, 200), (1.0, 7)])
def test_wilson_equals_statsmodels(p, n):
    lo, hi = proportion_confint(round(p * n), n, alpha=0.05, method="wilson")
    ours = wilson_interval(round(p * n) / n, n)
    assert ours == pytest.approx((lo, hi), abs=1e-12)


@pytest.mark.parametrize("n", [1, 7, 2000, 20000, 10**7])
def test_wilson_interval_contains_the_estimate_at_the_edges(n):
    assert wilson_interval(1.0, n)[1] == 1.0
    assert wilson_interval(0.0, n)[0] == 0.0


def test_likelihood_words_follow_ipcc_bands():
    assert likelihood_word(0.995) == "virtually certain"
    assert likelihood_word(0.95) == "very likely"
    assert likelihood_word(0.7) == "likely"
    assert likelihood_word(0.5) == "about as likely as not"
    assert likelihood_word(0.2) == "unlikely"
    assert likelihood_word(0.05) == "very unlikely"
    assert likelihood_word(0.001) == "exceptionally unlikely"


def test_comparators():
    x = np.array([90.0, 100.0, 104.0, 110.0])
    assert compare(x, ">=", 100, None, None).tolist() == [False, True, True, True]
    assert compare(x, "<=", 100, None, None).tolist() == [True, True, False, False]
    assert compare(x, "approx", 100, None, 0.05).tolist() == [False, True, True, False]
    assert compare(x, "range", 95, 105, None).tolist() == [False, True, True, False]


def test_level_target_probability_counts_draws_exactly():
    # 10 draws at 2017: 91..100 in baseline; alt is 5 higher. Target >= 96 → P = 5/10 and 10/10.
    n = 10
    base = np.stack([np.full(n, 80.0), np.full(n, 85.0), 91.0 + np.arange(n)], axis=-1)
    ds = make_ds(np.stack([base, base + 5.0]))
    ev = evaluate(ds, pd.DataFrame([target(value=96.0)]))
    t = ev.table.set_index("scenario")
    assert t.loc["baseline", "probability"] == 0.5
    assert t.loc["alt", "probability"] == 1.0
    assert t.loc["baseline", "mc_se"] == pytest.approx(math.sqrt(0.25 / n))
    assert t.loc["baseline", "median"] == pytest.approx(95.5)
    # paired dP: alt meets in every draw, baseline in half → +0.5 with paired SE
    assert t.loc["alt", "delta_vs_baseline"] == pytest.approx(0.5)
    d = np.r_[np.ones(5), np.zeros(5)]
    assert t.loc["alt", "delta_se"] == pytest.approx(d.std(ddof=1) / math.sqrt(n))
    # required constant rate from as_of (median 80) to 96 over two years
    assert t.loc["baseline", "required_annual"] == pytest.approx(100 * ((96 / 80) ** 0.5 - 1))


def test_target_at_the_median_gives_one_half_within_its_error():
    rng = np.random.default_rng(7)
    n = 20000
    x = rng.lognormal(np.log(100), 0.1, size=n)
    vals = np.stack([np.full(n, 90.0), np.full(n, 95.0), x], axis=-1)[None]
    ds = make_ds(vals, scenarios=("baseline",))
    ev = evaluate(ds, pd.DataFrame([target(value=float(np.exp(np.log(100))))]))
    r = ev.table.iloc[0]
    assert abs(r["probability"] - 0.5) < 4 * r["mc_se"]  # 4 SE: fails with prob. < 1e-4


def test_cumulative_change_uses_the_part_before_as_of():
    # S grows 10% from as_of to 2017 in every draw; before as_of it grew by log 0.2.
    n = 4
    vals = np.stack([np.full(n, 100.0), np.full(n, 105.0), np.full(n, 110.0)], axis=-1)[None]
    ds = make_ds(vals, scenarios=("baseline",), since=np.full(n, 0.2))
    row = target(kind="cumulative_change", base_year=2010, comparator=">=", value=30.0)
    ev = evaluate(ds, pd.DataFrame([row]))
    r = ev.table.iloc[0]
    expected = 100 * (math.exp(math.log(1.1) + 0.2) - 1)  # = 34.35 %
    assert r["median"] == pytest.approx(expected)
    assert r["probability"] == 1.0
    assert r["achieved_before_as_of"] == pytest.approx(100 * math.expm1(0.2))


def test_not_evaluable_targets_say_why():
    n = 3
    vals = np.ones((1, n, 3))
    ds = make_ds(vals, scenarios=("baseline",), relative=True)
    ds.attrs["not_simulated"] = '{"water_intensity": "no usable observation dated 2015 or earlier"}'
    rows = [target(id="blank", value=None), target(id="nohist", series="pm25"),
            target(id="notfitted", series="water_intensity"),
            target(id="derived", series="water_use"),
            target(id="context", series="affordable_housing_planned"),
            target(id="unmodelled", series=""), target(id="late", target_year=2030),
            target(id="nolevel")]
    ev = evaluate(ds, pd.DataFrame(rows))
    why = dict(zip(ev.table["target_id"], ev.table["reason"]))
    assert why["blank"] == "no target value (left blank in the plan)"
    assert why["nohist"] == "no history for pm25 up to as_of 2015"
    assert why["notfitted"] == ("no history for water_intensity up to as_of 2015 to calibrate it "
                                "(no usable observation dated 2015 or earlier)")
    assert why["context"].startswith("not modelled: affordable_housing_planned (Affordable "
                                      "housing: programme units (plan)) is kept as context")
    assert why["derived"] == ("water_use is not simulated as of 2015: it needs gdp_real, "
                              "water_intensity, which could not be calibrated")
    assert why["unmodelled"].startswith("not modelled")
    assert why["late"] == "target year 2030 is after the horizon 2017"
    assert why["nolevel"] == "no observed level of gdp_nominal to anchor a level target"
    assert set(ev.table["status"]) == {"not evaluable"}


def test_scenario_value_fills_a_blank_target():
    n = 4
    vals = np.stack([np.full(n, 1.0), np.full(n, 1.0), np.full(n, 0.8)], axis=-1)[None]
    ds = make_ds(vals, scenarios=("baseline",), relative=True)
    row = target(kind="cumulative_change", base_year=2015, comparator="<=", value=None)
    ev = evaluate(ds, pd.DataFrame([row]), target_values={"baseline": {"t1": -15.0}})
    r = ev.table.iloc[0]
    assert r["value_source"] == "scenario" and r["probability"] == 1.0
    assert r["median"] == pytest.approx(-20.0)


def test_joint_probabilities_all_and_k_of_n():
    n = 4
    # draw-wise values chosen so target A is met in draws 0,1 and B in draws 1,2
    a = np.array([10.0, 10.0, 0.0, 0.0])
    b = np.array([0.0, 10.0, 10.0, 0.0])
    ds = xr.Dataset(coords={"scenario": ["baseline"], "draw": np.arange(n), "year": [2015, 2016]})
    for name, v in (("gdp_nominal", a), ("population_resident", b)):
        ds[name] = xr.DataArray(np.stack([np.ones(n), v], axis=-1)[None], dims=("scenario", "draw", "year"))
    ds.attrs["as_of"] = 2015
    rows = [target(id="A", target_year=2016, value=5.0),
            target(id="B", series="population_resident", target_year=2016, value=5.0)]
    ev = evaluate(ds, pd.DataFrame(rows))
    j = ev.joint[(ev.joint["group"] == "binding")].iloc[0]
    assert j["n_targets"] == 2
    assert j["p_all"] == 0.25
    assert j["p_at_least_1"] == 0.75
    assert j["p_at_least_2"] == 0.25


def test_joint_names_n_of_n_and_its_tails_are_exact():
    """Issue 13: a joint probability over fewer targets is not progress; it says n of N and
    which binding targets it leaves out. Tails are integer ratios (no 0.9999999999999999)."""
    n = 10
    a = np.where(np.arange(n) < 9, 10.0, 0.0)    # A met in draws 0–8
    b = np.where(np.arange(n) < 7, 10.0, 0.0)    # B met in draws 0–6
    ds = xr.Dataset(coords={"scenario": ["baseline"], "draw": np.arange(n), "year": [2015, 2016]})
    for name, v in (("gdp_nominal", a), ("population_resident", b)):
        ds[name] = xr.DataArray(np.stack([np.ones(n), v], axis=-1)[None],
                                dims=("scenario", "draw", "year"))
    ds.attrs["as_of"] = 2015
    rows = [target(id="A", target_year=2016, value=5.0),
            target(id="blank", target_year=2016, value=None),
            target(id="B", series="population_resident", target_year=2016, value=5.0,
                   binding="indicative")]
    ev = evaluate(ds, pd.DataFrame(rows))
    j = ev.joint.set_index("group")
    assert (j.loc["binding", "n_targets"], j.loc["binding", "n_in_group"]) == (1, 2)
    assert j.loc["binding", "left_out"] == "blank"
    assert (j.loc["all", "n_targets"], j.loc["all", "n_in_group"]) == (2, 3)
    # k = 2 in 7 draws, 1 in 2, 0 in 1: summing shares would give 0.7 + 0.2 = 0.8999999999999999
    assert j.loc["all", "p_at_least_1"] == 0.9 and j.loc["all", "p_at_least_2"] == 0.7
    assert j.loc["all", "expected_met"] == 1.6


def test_streaming_in_chunks_equals_one_pass():
    """P(met), ΔP and its SE, and the joint table are exact over chunks; quantiles too when
    every draw is kept."""
    from sim.evaluation import EvaluationAccumulator

    rng = np.random.default_rng(3)
    n = 1000
    vals = np.stack([np.full((2, n), 100.0), np.full((2, n), 104.0),
                     rng.lognormal(np.log(110), 0.1, size=(2, n))], axis=-1)
    vals[1] *= 1.03
    ds = make_ds(vals)
    rows = pd.DataFrame([target(id="A", value=110.0), target(id="B", value=100.0, binding="indicative")])
    whole = evaluate(ds, rows)
    acc = EvaluationAccumulator(rows, ["baseline", "alt"])
    for a in range(0, n, 300):  # uneven chunks: 300, 300, 300, 100
        acc.add(ds.isel(draw=slice(a, a + 300)))
    streamed = acc.result()
    cols = ["probability", "mc_se", "median", "p10", "delta_vs_baseline", "delta_se"]
    pd.testing.assert_frame_equal(streamed.table[cols], whole.table[cols], rtol=1e-12)
    pd.testing.assert_frame_equal(streamed.joint, whole.joint, rtol=1e-12)


def test_accumulators_of_ranges_merge_in_any_order():
    """Workers return partial accumulators; merged out of order they equal one sequential pass,
    including the quantile prefix (keep_draws = 450 ends inside the second chunk)."""
    from sim.evaluation import EvaluationAccumulator

    rng = np.random.default_rng(5)
    n = 900
    vals = np.stack([np.full((2, n), 100.0), np.full((2, n), 104.0),
                     rng.lognormal(np.log(110), 0.1, size=(2, n))], axis=-1)
    ds = make_ds(vals)
    rows = pd.DataFrame([target(id="A", value=110.0)])
    seq = EvaluationAccumulator(rows, ["baseline", "alt"], keep_draws=450)
    for a in range(0, n, 300):
        seq.add(ds.isel(draw=slice(a, a + 300)))
    parts = []
    for a in (600, 0, 300):  # as dask's as_completed might deliver them
        part = EvaluationAccumulator(rows, ["baseline", "alt"], keep_draws=450)
        part.add(ds.isel(draw=slice(a, a + 300)), first_draw=a)
        parts.append(part)
    merged = parts[0]
    for p in parts[1:]:
        merged.merge(p)
    pd.testing.assert_frame_equal(merged.result().table, seq.result().table)
    pd.testing.assert_frame_equal(merged.result().joint, seq.result().joint)
    # quantiles come from exactly the first 450 draws
    x = ds["gdp_nominal"].values[0, :450, -1]
    assert seq.result().table.iloc[0]["median"] == pytest.approx(np.median(x))


def test_met_flags_kept_over_ranges_merged_in_any_order():
    """keep_met: every draw's met flag, in draw order, whatever order the ranges arrive in; the
    counts and probabilities read from the accumulator agree with the table."""
    from sim.evaluation import EvaluationAccumulator

    rng = np.random.default_rng(11)
    n = 900
    vals = np.stack([np.full((2, n), 100.0), np.full((2, n), 104.0),
                     rng.lognormal(np.log(110), 0.1, size=(2, n))], axis=-1)
    vals[1] *= 1.02
    ds = make_ds(vals)
    rows = pd.DataFrame([target(id="A", value=110.0), target(id="B", value=None),
                         target(id="C", target_year=2030, value=1.0)])
    whole = evaluate(ds, rows)
    parts = []
    for a in (600, 0, 300):
        part = EvaluationAccumulator(rows, ["baseline", "alt"], keep_draws=0, keep_met=True)
        part.add(ds.isel(draw=slice(a, a + 300)), first_draw=a)
        parts.append(part)
    acc = parts[0].merge(parts[1]).merge(parts[2])
    met = acc.met_array(["A", "B"])
    assert met.shape == (2, 2, n) and not met[:, 1].any()          # B: no value, never met
    for s, scen in enumerate(["baseline", "alt"]):
        assert np.array_equal(met[s, 0], whole.met[(scen, "A")])
        assert np.array_equal(met[s, 0], vals[s, :, -1] >= 110.0)
    assert acc.hit_counts(["A"]).ravel().tolist() == met[:, 0].sum(axis=1).tolist()
    p = whole.table.set_index(["scenario", "target_id"])["probability"]
    assert acc.probabilities(["A"]).ravel().tolist() == [p[("baseline", "A")], p[("alt", "A")]]
    assert np.isnan(acc.probabilities(["B", "C"])).all()
    assert acc.reasons() == ("", "no target value (left blank in the plan)",
                             "target year 2030 is after the horizon 2017")
    with pytest.raises(ValueError, match="keep_met"):
        EvaluationAccumulator(rows, ["baseline"]).met_array()


def test_typed_targets_and_rows_give_the_same_evaluation():
    from sim.evaluation import as_target
    from sim.targets import as_targets

    rng = np.random.default_rng(2)
    ds = make_ds(rng.lognormal(np.log(100), 0.1, size=(2, 50, 3)))
    rows = pd.DataFrame([target(id="A", value=100.0), target(id="R", comparator="range",
                                                             value=95.0, value_high=105.0)])
    typed = as_targets(rows)
    pd.testing.assert_frame_equal(evaluate(ds, typed).table, evaluate(ds, rows).table)
    assert as_target(typed[1]) is typed[1] and as_target(rows.iloc[1].to_dict()) == typed[1]


def test_select_targets_keeps_order_and_suggests_a_near_id():
    from sim.errors import SimError
    from sim.evaluation import select_targets

    rows = pd.DataFrame([target(id="gdp_2020"), target(id="co2_2020")])
    assert [t.id for t in select_targets(rows, ["co2_2020", "gdp_2020"])] == ["co2_2020", "gdp_2020"]
    assert [t.id for t in select_targets(rows, None)] == ["gdp_2020", "co2_2020"]
    with pytest.raises(SimError, match=r"unknown target 'co2_202' \(did you mean 'co2_2020'\?\)"):
        select_targets(rows, ["co2_202"])


def test_as_number_and_as_int_parse_cells():
    from sim.evaluation import as_int, as_number

    assert as_number("2.5") == 2.5 and as_number(3) == 3.0
    assert as_number("") is None and as_number(None) is None and as_number("abc") is None
    assert as_number(float("nan")) is None and as_number(float("inf")) is None
    assert as_int("2020.0") == 2020 and as_int(pd.NA) is None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_draws_are_an_error_not_not_met(bad):
    """Defect 4: NaN draws counted as "not met" (P = 0 on an all-NaN ensemble)."""
    from sim.errors import SimError

    values = np.full((2, 40, 3), 120.0)
    values[1, 5, 2] = bad            # one draw of scenario 'alt' in 2017
    values[1, 7, 2] = bad
    with pytest.raises(SimError) as info:
        evaluate(make_ds(values), [target()])
    msg = str(info.value)
    assert msg.startswith("scenario 'alt': gdp_nominal in 2017 is not a finite number in 2 of 40 draws")
    assert "target t1" in msg
    # all NaN: the same error, never P = 0
    with pytest.raises(SimError, match=r"scenario 'baseline': gdp_nominal in 2017 .* in 40 of 40 draws"):
        evaluate(make_ds(np.full((2, 40, 3), np.nan)), [target()])


def test_non_finite_draws_of_a_target_without_a_value_are_not_evaluated():
    values = np.full((2, 10, 3), np.nan)
    ev = evaluate(make_ds(values), [target(value=None)])
    assert ev.table["status"].eq("not evaluable").all()
