"""The plan record in the evaluation: ≈ direction, p_record, the method of every row, keyed
record draws (chunked = one-shot), plan_record = false, and the information rule."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sim.evaluation import (EvaluationAccumulator, compare, evaluate, setup_from_pilot,
                            targets_of)
from sim.evaluation.information import add_information
from sim.evaluation.record import (MIN_INFORMATIVE_TREND, NOT_EVALUABLE, RECORD_OFF, RECORD_ONLY,
                                   THIN_TREND, TREND_ONLY, TREND_RECORD, base_of,
                                   informative_count)
from sim.history import History
from sim.paths import SCENARIOS_DIR
from sim.plan_record import PlanRecordModel, fit_plan_record_model, load_plan_records
from sim.run.context import RunContext
from sim.run.stream import stream
from sim.targets import load_catalogue
from sim.testing import synthetic_fitted

AS_OF = 2015


def make_ds(n=3000, seed=0, scenarios=("baseline", "alt"), shift=(0.0, -0.1)):
    """GDP levels 2015–2017 (S, N, 3): 100 in 2015, lognormal growth; ``shift`` per scenario."""
    rng = np.random.default_rng(seed)
    growth = rng.normal(0.05, 0.05, size=(n, 2))
    years = np.array([2015, 2016, 2017])
    vals = np.empty((len(scenarios), n, 3))
    for s, sh in enumerate(shift):
        vals[s, :, 0] = 100.0
        vals[s, :, 1] = 100.0 * np.exp(growth[:, 0] + sh / 2)
        vals[s, :, 2] = 100.0 * np.exp(growth[:, :2].sum(axis=1) + sh)
    ds = xr.Dataset(coords={"scenario": list(scenarios), "draw": np.arange(n), "year": years})
    ds["gdp_nominal"] = xr.DataArray(vals, dims=("scenario", "draw", "year"),
                                     attrs={"units": "亿元"})
    ds.attrs["as_of"] = AS_OF
    return ds


def target(**kw):
    row = dict(id="t1", target_set="fyp13_2020", series="gdp_nominal", indicator_en="GDP",
               indicator_zh="GDP", target_year=2017, kind="level", comparator=">=", value=110.0,
               value_high=None, tolerance=None, unit="亿元", base_year=None, period_start=None,
               period_end=None, binding="binding", family="economic_growth", base_value=100.0,
               approx_sense="")
    row.update(kw)
    return row


CATALOGUE = [target(),
             target(id="t_approx", comparator="approx", approx_sense="higher", value=111.0),
             target(id="t_two", comparator="approx", approx_sense="both", value=111.0),
             target(id="t_nobase", base_value=None),
             target(id="t_rec", series="", family="social", binding="indicative"),
             target(id="t_rec2", series="", family="environment_quality", value=50.0),
             target(id="t_blank", series="", value=None)]


@pytest.fixture(scope="module")
def model():
    return fit_plan_record_model(AS_OF)


def setup_for(ds, model, **kw):
    return setup_from_pilot(ds.isel(draw=slice(0, 2000)), targets_of(CATALOGUE), model,
                            seed=7, **kw)


# --- ≈ direction --------------------------------------------------------------------------

def test_approx_direction_per_sense():
    x = np.array([90.0, 94.0, 96.0, 100.0, 104.0, 106.0, 120.0])
    assert compare(x, "approx", 100, None, None, "higher").tolist() == [
        False, False, True, True, True, True, True]
    assert compare(x, "approx", 100, None, None, "lower").tolist() == [
        True, True, True, True, True, False, False]
    both = [False, False, True, True, True, False, False]
    assert compare(x, "approx", 100, None, None, "both").tolist() == both
    assert compare(x, "approx", 100, None, None).tolist() == both      # the old rule
    assert compare(x, "approx", 100, None, 0.1, "higher").tolist() == [True] + [True] * 6


@pytest.mark.parametrize("family", ["economic_growth", "population_control"])
def test_approx_targets_of_the_catalogue_are_one_sided_per_family(family):
    cat = load_catalogue()
    rows = cat[(cat["comparator"] == "approx") & (cat["family"] == family)]
    assert not rows.empty
    want = {"economic_growth": "higher", "population_control": "lower"}[family]
    assert set(rows["approx_sense"]) == {want}


def test_a_growth_shock_lowers_p_of_an_approx_gdp_target():
    ds = make_ds()            # "alt" grows 10 % less
    tab = evaluate(ds, [target(id="g", comparator="approx", approx_sense="higher",
                               value=111.0)]).table.set_index("scenario")
    assert tab.loc["alt", "probability"] < tab.loc["baseline", "probability"]


# --- methods and p_record -----------------------------------------------------------------

def test_every_row_gets_its_method_and_p_record(model):
    ds = make_ds()
    ev = evaluate(ds, CATALOGUE, record=setup_for(ds, model)).table
    t = ev.set_index(["scenario", "target_id"])
    b = lambda tid: t.loc[("baseline", tid)]   # noqa: E731
    assert b("t1")["method"] == TREND_RECORD and b("t_approx")["method"] == TREND_RECORD
    assert b("t_two")["method"] == TREND_ONLY and "two-sided" in b("t_two")["record_note"]
    assert b("t_nobase")["method"] == TREND_ONLY and "no base" in b("t_nobase")["record_note"]
    assert b("t_rec")["method"] == RECORD_ONLY and b("t_rec")["status"] == "evaluated"
    assert b("t_blank")["method"] == NOT_EVALUABLE and b("t_blank")["status"] == "not evaluable"
    rp = model.verdict.p_record("social", "indicative")
    rec = b("t_rec")
    assert rec["p_record"] == pytest.approx(rp.mean)
    assert rec["p_record_low"] == pytest.approx(rp.lower)
    assert rec["record_n_family"] == rp.n_family and rec["low_information"] == rp.thin
    # record only: the probability estimates p_record (Monte Carlo over θ and U)
    assert abs(rec["probability"] - rp.mean) < 4 * rec["mc_se"] + 0.01
    assert np.isnan(rec["p_trend"]) and np.isnan(b("t_blank")["p_record"])
    # trend rows: p_trend is the trend's P(met); trend only: probability = p_trend
    assert b("t_two")["probability"] == b("t_two")["p_trend"]
    # record-only targets enter the joint table
    joint = evaluate(ds, CATALOGUE, record=setup_for(ds, model)).joint
    all_b = joint[(joint["scenario"] == "baseline") & (joint["group"] == "all")].iloc[0]
    assert all_b["n_targets"] == 6


def test_p_trend_is_the_old_probability_and_plan_record_off_is_trend_only(model):
    ds = make_ds()
    old = evaluate(ds, CATALOGUE).table.set_index(["scenario", "target_id"])
    on = evaluate(ds, CATALOGUE, record=setup_for(ds, model)).table.set_index(
        ["scenario", "target_id"])
    off = evaluate(ds, CATALOGUE, record=setup_for(
        ds, model, enabled={"baseline": False, "alt": False})).table.set_index(
        ["scenario", "target_id"])
    ev = old["status"] == "evaluated"
    assert (on.loc[ev, "p_trend"] == old.loc[ev, "probability"]).all()
    assert (off.loc[ev, "probability"] == old.loc[ev, "probability"]).all()
    assert (off.loc[ev, "method"] == RECORD_OFF).all()
    # without a trend and with the record off, a target is not evaluable (as before)
    assert off.loc[("baseline", "t_rec"), "status"] == "not evaluable"
    # the record moves the trend+record rows
    assert on.loc[("baseline", "t1"), "probability"] != old.loc[("baseline", "t1"), "probability"]


# --- keyed draws: chunks, merges and the information rule ---------------------------------

def test_record_draws_do_not_depend_on_chunks(model):
    ds = make_ds()
    setup = setup_for(ds, model)
    whole = setup.log_ratio("t1", 0, 2500)
    parts = np.concatenate([setup.log_ratio("t1", 0, 700), setup.log_ratio("t1", 700, 1800)])
    assert np.array_equal(whole, parts)
    assert np.array_equal(setup.met("t_rec", 0, 2500),
                          np.concatenate([setup.met("t_rec", 0, 1234),
                                          setup.met("t_rec", 1234, 1266)]))
    one = EvaluationAccumulator(CATALOGUE, ["baseline", "alt"], record=setup)
    one.add(ds)
    merged = None
    for a, b in ((2000, 3000), (0, 700), (700, 2000)):    # out of order
        acc = EvaluationAccumulator(CATALOGUE, ["baseline", "alt"], record=setup)
        acc.add(ds.isel(draw=slice(a, b)), first_draw=a)
        merged = acc if merged is None else merged.merge(acc)
    pd.testing.assert_frame_equal(one.result().table, merged.result().table)
    pd.testing.assert_frame_equal(one.result().joint, merged.result().joint)


def test_a_record_after_as_of_changes_nothing(model):
    records = load_plan_records()
    future = dataclasses.replace(records[0], period_start=AS_OF, period_end=AS_OF + 3,
                                 met="no", family="economic_growth", line=99999)
    later = PlanRecordModel.fit(records + (future,) * 20, AS_OF)
    ds = make_ds()
    a = evaluate(ds, CATALOGUE, record=setup_for(ds, model)).table
    b = evaluate(ds, CATALOGUE, record=setup_for(ds, later)).table
    pd.testing.assert_frame_equal(a, b)


def test_base_is_data_only():
    t = targets_of([target(base_value=None, series="", base_year=2010)])[0]
    assert base_of(t, None, 2015, 2015)[0] is None
    c = targets_of([target(kind="cumulative_change", base_value=None)])[0]
    assert base_of(c, None, 2015, 2015) == (0.0, "")
    late = targets_of([target(base_value=None, base_year=2016)])[0]
    assert "after as_of" in base_of(late, None, 2015, 2015)[1]


def _fitted(n_real: int, n_deflator: int = 10):
    """A stand-in fitted model: informative observations of GDP's drivers."""
    from types import SimpleNamespace as NS
    return NS(drivers={"gdp_real": NS(information=NS(n_informative=n_real)),
                       "gdp_deflator": NS(information=NS(n_informative=n_deflator))})


def test_a_thin_trend_does_not_decide_alone(model):
    """Issue 18 item 5: a trend-only row (two-sided, no base) whose series rests on fewer than
    MIN_INFORMATIVE_TREND informative observations is decided by the record; trend+record rows
    keep combining; the threshold is fixed (4: level, slope and noise need three changes)."""
    assert MIN_INFORMATIVE_TREND == 4
    assert informative_count(_fitted(2, 7), "gdp_nominal") == 2          # the fewest driver
    assert informative_count(_fitted(2), "pm25") is None                  # not fitted: unknown
    ds = make_ds()
    thick = evaluate(ds, CATALOGUE, record=setup_for(ds, model, fitted=_fitted(4))).table
    thin = evaluate(ds, CATALOGUE, record=setup_for(ds, model, fitted=_fitted(3))).table
    thick, thin = (x.set_index(["scenario", "target_id"]) for x in (thick, thin))
    for tid in ("t_two", "t_nobase"):
        a, b = thick.loc[("baseline", tid)], thin.loc[("baseline", tid)]
        assert a["method"] == TREND_ONLY and a["probability"] == a["p_trend"]
        assert b["method"] == RECORD_ONLY and b["record_note"].startswith(
            f"{THIN_TREND}: 3 informative observations (< 4)")
        assert b["p_trend"] == a["p_trend"]                  # the trend is still reported
        assert abs(b["probability"] - b["p_record"]) < 4 * b["mc_se"] + 0.01
        assert np.isfinite(a["median"]) and np.isnan(b["median"])   # no distribution kept
    assert thin.loc[("baseline", "t1"), "method"] == TREND_RECORD
    pd.testing.assert_series_equal(thick.loc[("baseline", "t1")], thin.loc[("baseline", "t1")])
    info = add_information(thin.reset_index(), synthetic_fitted(as_of=AS_OF))
    row = info[(info["scenario"] == "baseline") & (info["target_id"] == "t_two")].iloc[0]
    assert row["information"].startswith(THIN_TREND) and row["low_information"]


def test_base_is_read_in_the_runs_vintage():
    """A first-vintage run reads the first-published base level, not the revised one."""
    rows = [dict(series="population_resident", year=2015, base_year=None, kind="level",
                 value=v, unit="万人", vintage=vin, source="s", note="", file="f.csv", line=i)
            for i, (v, vin) in enumerate(((1137.9, "first"), (1408.0, "revised")))]
    f = pd.DataFrame(rows)
    f["base_year"] = f["base_year"].astype("Int64")
    h = History(f, "test", None)
    t = targets_of([target(series="population_resident", base_value=None, base_year=2015)])[0]
    assert base_of(t, h, 2015, 2016, "first") == (1137.9, "")
    assert base_of(t, h, 2015, 2016, "revised") == (1408.0, "")


def test_context_fits_the_record_model_at_its_as_of_and_streams_split_free():
    ctx = RunContext.build(SCENARIOS_DIR / "baseline_2020.toml", fitted=synthetic_fitted(as_of=2015),
                           overrides={"draws": 600})
    assert ctx.record_model is not None and ctx.record_model.as_of == 2015
    a = stream(ctx, chunk_draws=600).acc.result().table
    b = stream(ctx, chunk_draws=200).acc.result().table
    pd.testing.assert_frame_equal(a, b)
    assert {TREND_RECORD, RECORD_ONLY} <= set(a["method"])
    mine = fit_plan_record_model(2012)
    assert RunContext.from_spec(ctx.spec, fitted=ctx.fitted, history=ctx.history,
                                record_model=mine).record_model is mine
