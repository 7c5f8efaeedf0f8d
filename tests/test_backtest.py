"""Backtest: references, scores on rows, no look-ahead (perturbation), CLI end to end, bad args."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sim.backtest import hindcast as bt
from sim.backtest import lopo, scores
from sim.backtest import summary as sm
from sim.backtest.lopo import PLAN_OF_SET
from sim.backtest.references import reference_forecasts, series_index
from sim.cli import main
from sim.errors import SimError
from sim.history import DECLARATION_FILES, History, load_history
from sim.paths import DEFAULT_DATA_DIR, SCENARIOS_DIR
from sim.plan_record import load_plan_records
from sim.targets import as_targets, targets_for_sets
from sim.vocabulary import SERIES, TARGET_SETS

DRAWS = 200


def _history(rows) -> History:
    """A History from (series, year, kind, value[, base_year]) tuples (no validation)."""
    recs = []
    for r in rows:
        series, year, kind, value = r[:4]
        recs.append(dict(series=series, year=year, base_year=r[4] if len(r) > 4 else None, kind=kind,
                         value=float(value), unit="", vintage="first", source="test", note="",
                         file="t.csv", line=0))
    f = pd.DataFrame(recs)
    f["base_year"] = f["base_year"].astype("Int64")
    return History(f, "test", DEFAULT_DATA_DIR)


def _row(**kw):
    row = dict(id="t", series="retail_sales", kind="level", comparator=">=", target_year=2015,
               base_year=None, period_start=None, period_end=None, value_high=None, tolerance=None)
    row.update(kw)
    return row


# --------------------------------------------------------------------------------------------
# references
# --------------------------------------------------------------------------------------------
def test_series_index_chains_changes_onto_levels():
    h = _history([("retail_sales", 2008, "level", 100.0), ("retail_sales", 2009, "change_pct", 10.0),
                  ("retail_sales", 2010, "change_pct", -50.0), ("retail_sales", 2012, "level", 80.0),
                  ("retail_sales", 2013, "level", 999.0)])
    idx = series_index(h, "retail_sales", 2012, "first")
    assert idx.years.tolist() == [2008, 2009, 2010, 2012]           # 2013 is after the origin
    np.testing.assert_allclose(np.exp(idx.z), [100, 110, 55, 80])
    assert idx.anchored


def test_line_reference_on_an_exact_exponential_trend():
    # 5 %/yr growth, no noise: the line predicts the trend with (almost) no spread
    h = _history([("retail_sales", y, "level", 100 * 1.05 ** (y - 2006)) for y in range(2006, 2011)])
    f = reference_forecasts(h, _row(), 120.0, 2010, "first", 1000, np.random.default_rng(0))
    assert np.median(f["line"].draws) == pytest.approx(100 * 1.05 ** 9, rel=1e-6)
    assert f["line"].p_met == 1.0
    assert f["rw"].p_met == 1.0 and np.median(f["rw"].draws) == pytest.approx(100 * 1.05 ** 9, rel=1e-6)
    assert f["plan"].p_met == 1.0 and np.all(f["plan"].draws == 120.0)


def test_reference_reasons_when_it_cannot_be_formed():
    h = _history([("retail_sales", 2009, "level", 1.0), ("retail_sales", 2010, "level", 2.0)])
    f = reference_forecasts(h, _row(), 1.0, 2010, "first", 100, np.random.default_rng(0))
    assert f["line"].p_met is None and "3 observed years" in f["line"].reason
    g = reference_forecasts(h, _row(series="pm25"), 1.0, 2010, "first", 100, np.random.default_rng(0))
    assert g["rw"].reason == "no observation of the series by the origin"


def test_cumulative_change_reference_uses_the_observed_base_year():
    h = _history([("energy_intensity", y, "level", 1.0 * 0.95 ** (y - 2005)) for y in range(2005, 2013)])
    row = _row(series="energy_intensity", kind="cumulative_change", comparator="<=", base_year=2010)
    f = reference_forecasts(h, row, -19.5, 2012, "first", 500, np.random.default_rng(1))
    assert np.median(f["rw"].draws) == pytest.approx(100 * (0.95 ** 5 - 1), abs=1e-4)
    assert f["rw"].p_met == 1.0  # -22.6 % <= -19.5 %


def test_synthetic_world_random_walk_coverage_is_nominal():
    """Histories drawn from a random walk with drift, forecast by the random-walk reference (the
    true model, with its estimation uncertainty): 80 % / 95 % intervals of the 5-year-ahead
    level cover the realised value at the nominal rates within the 99 % binomial band."""
    rng = np.random.default_rng(11)
    n, hits = 300, {0.8: 0, 0.95: 0}
    for i in range(n):
        mu, sd = rng.normal(0.05, 0.03), rng.uniform(0.02, 0.1)
        z = np.cumsum(np.r_[np.log(100), mu + sd * rng.standard_normal(14)])   # 2001..2015
        years = np.arange(2001, 2016)
        h = _history([("retail_sales", int(y), "level", float(np.exp(v))) for y, v in zip(years, z)])
        f = reference_forecasts(h, _row(), 1.0, 2010, "first", 400, rng)
        y = float(np.exp(z[-1]))
        for level in hits:
            lo, hi = scores.central_interval(f["rw"].draws, level)
            hits[level] += bool(scores.covered(lo, hi, y))
    for level, k in hits.items():
        # 99 % binomial band + 1 pp for the finite ensemble
        assert abs(k / n - level) < scores.coverage_tolerance(level, n) + 0.01, (level, k / n)


# --------------------------------------------------------------------------------------------
# scores on backtest rows
# --------------------------------------------------------------------------------------------
DIST_PREFIXES = ("", "trend_", "line_", "rw_", "plan_")


def _fake_rows():
    rng = np.random.default_rng(3)
    rows = []
    for origin in (2010, 2011, 2012):
        for series, met in (("gdp_nominal", 1), ("retail_sales", 0), ("tertiary_share", 1)):
            for dup in ("_ap", "_fyp12"):  # the same target in two plans: counted once
                r = dict(origin=origin, target_id=f"{series}{dup}", series=series, kind="level",
                         comparator=">=", value=10.0, value_high=np.nan, base_year=np.nan,
                         period_start=np.nan, target_year=2015, horizon=2015 - origin,
                         status="scored", outcome_met=met, realised=10.0,
                         plan95_p_met=0.95, base_rate_p_met=0.8)
                for pre in ("record_",) + DIST_PREFIXES:
                    r[f"{pre}p_met"] = 1.0 if pre == "plan_" else float(rng.uniform())
                for pre in DIST_PREFIXES:
                    r.update({f"{pre}pit": float(rng.uniform()), f"{pre}crps_log": float(rng.uniform()),
                              f"{pre}in80": bool(rng.uniform() < .8), f"{pre}in95": bool(rng.uniform() < .95),
                              f"{pre}width80_log": float(rng.uniform()),
                              f"{pre}width95_log": float(rng.uniform(1, 2))})
                rows.append(r)
    # a record-only target without a series, scored on its official verdict (no distribution)
    for origin in (2010, 2011):
        rows.append(dict(origin=origin, target_id="drug_pass_rate_2015_fyp12", series=np.nan,
                         kind="share", comparator=">=", value=95.0, value_high=np.nan,
                         base_year=np.nan, period_start=np.nan, target_year=2015,
                         horizon=2015 - origin, status="scored", outcome_met=1, realised=np.nan,
                         p_met=0.9, record_p_met=0.9, base_rate_p_met=0.8, plan95_p_met=0.95,
                         plan_p_met=1.0))
    return pd.DataFrame(rows)


def test_summarize_matches_direct_means_and_drops_duplicates():
    rows = _fake_rows()
    s = sm.summarize(rows, n_boot=200)
    block = s["sets"]["common"]
    assert block["n_event_rows"] == 9 and block["n_clusters"] == 3 and block["n_met"] == 6
    once = rows.iloc[:18].drop_duplicates(subset=["origin", "series"])
    for f, pre in (("combined", ""), ("trend", "trend_"), ("record", "record_"), ("line", "line_")):
        want = scores.brier_score(once[f"{pre}p_met"], once["outcome_met"]).mean()
        assert block["forecasters"][f]["brier"]["mean"] == pytest.approx(want, abs=1e-6)
    assert block["forecasters"]["plan"]["brier"]["mean"] == pytest.approx(3 / 9, abs=1e-6)
    assert block["forecasters"]["plan"]["log_score"]["mean"] == pytest.approx(
        3 / 9 * -math.log(scores.LOG_EPS) + 6 / 9 * -math.log(1 - scores.LOG_EPS), abs=1e-6)
    d = block["forecasters"]["line"]["brier_minus_combined"]["mean"]
    assert d == pytest.approx(block["forecasters"]["line"]["brier"]["mean"]
                              - block["forecasters"]["combined"]["brier"]["mean"], abs=3e-6)
    assert sum(block["forecasters"]["combined"]["pit_histogram"]) == 9
    assert "coverage80" not in block["forecasters"]["record"]
    assert "model: trend + record (headline)" in sm.summary_table(s)
    cov = sm.coverage_by_horizon(rows)
    assert set(cov["forecaster"]) == {"combined", "trend", "line", "rw", "plan"}
    assert cov["n"].sum() == 5 * 9


def test_references_are_scored_as_stated():
    """P = 0.95 and the base rate are constant forecasts: their Brier and log scores are the
    closed forms over the deduplicated events; sharpness is the median 80 % width."""
    rows = _fake_rows()
    s = sm.summarize(rows, n_boot=100)
    everything = s["sets"]["all"]
    assert everything["n_event_rows"] == 11 and everything["n_met"] == 8
    assert set(everything["forecasters"]) == {"combined", "record", "base_rate", "plan95", "plan"}
    o = np.array([1, 0, 1] * 3 + [1, 1], float)
    for f, p in (("plan95", 0.95), ("base_rate", 0.8), ("plan", 1.0)):
        fb = everything["forecasters"][f]
        assert fb["brier"]["mean"] == pytest.approx(np.mean((p - o) ** 2), abs=1e-6)
        pc = min(max(p, scores.LOG_EPS), 1 - scores.LOG_EPS)
        want = -np.mean(np.where(o == 1, np.log(pc), np.log(1 - pc)))
        assert fb["log_score"]["mean"] == pytest.approx(want, abs=1e-6)
    # the distribution scores of "all" are on the rows with every distribution (9, not 11)
    assert everything["n_indicator_rows"] == 9
    common = s["sets"]["common"]["forecasters"]["trend"]
    once = rows.iloc[:18].drop_duplicates(subset=["origin", "series"])
    assert common["sharpness80"]["median_width_log"] == pytest.approx(
        float(np.median(once["trend_width80_log"])), abs=1e-6)
    assert common["sharpness80"]["n"] == 9
    assert s["sets"]["trend"]["n_event_rows"] == 9


def test_record_only_rows_without_series_are_distinct_indicators():
    rows = _fake_rows()
    sc = sm.scored_rows(rows)
    assert set(sc["indicator_key"]) == {"gdp_nominal", "retail_sales", "tertiary_share",
                                        "id:drug_pass_rate_2015_fyp12"}
    assert sc["cluster"].nunique() == 4


# --------------------------------------------------------------------------------------------
# leave one plan out, verdicts as outcomes
# --------------------------------------------------------------------------------------------
SZ12 = ("深圳", "12th FYP")


def _interim(records, met: str, plan: str = "12th FYP", n: int = 6):
    """``n`` made-up records of Shenzhen's ``plan``, dated 2011, published 2012 (known at a 2012
    origin), all with verdict ``met``, in the social family."""
    template = next(r for r in records if r.plan_key == SZ12 and r.family == "social")
    return tuple(replace(template, plan=plan, period_start=2011, period_end=2011, met=met,
                         published=2012, published_month=None, published_source="made up",
                         line=9000 + i) for i in range(n))


def test_every_target_set_has_a_plan_key():
    assert set(PLAN_OF_SET) == set(TARGET_SETS)
    with pytest.raises(SimError, match="no plan key"):
        lopo.plan_of_set("fyp99")


def test_lopo_training_leaves_the_scored_plan_and_the_future_out():
    records = load_plan_records()
    fits = lopo.LeaveOnePlanOut(records + _interim(records, "no"))
    train = fits.training(2012, SZ12)
    assert train and all(r.known_at(2012) and r.plan_key != SZ12 for r in train)
    assert len(fits.training(2012, PLAN_OF_SET["action_plan_2015"])) == len(train) + 6
    # the scored plan's own records do not change its fit; another plan's do
    a = fits.fit(2012, "fyp12_2015")
    b = lopo.LeaveOnePlanOut(records + _interim(records, "yes")).fit(2012, "fyp12_2015")
    assert a.n_left_out == b.n_left_out == 6
    assert a.model.verdict.families == b.model.verdict.families
    assert a.base_rate == b.base_rate
    c = fits.fit(2012, "action_plan_2015")
    assert c.n_left_out == 0 and c.model.verdict.n_pooled == a.model.verdict.n_pooled + 6
    # sets whose training records are equal share one fit
    assert fits.key(2012, "fyp13_2020") == fits.key(2012, "quality_plan_2020")
    assert fits.fit(2012, "fyp13_2020").model is fits.fit(2012, "quality_plan_2020").model


def test_base_rate_is_the_pooled_share_of_met_verdicts():
    records = load_plan_records()
    fit = lopo.LeaveOnePlanOut(records).fit(2014, "fyp12_2015")
    judged = [r for r in records if r.known_at(2014) and r.plan_key != SZ12
              and r.verdict is not None]
    assert fit.base_rate == pytest.approx(sum(r.verdict for r in judged) / len(judged))
    assert fit.base_rate != pytest.approx(fit.model.verdict.pooled_rate, abs=1e-3)


def test_fyp12_targets_match_their_plan_records_exactly():
    records = load_plan_records()
    cat = targets_for_sets(["fyp12_2015"])
    matched = lopo.record_outcomes(cat, records)
    assert len(matched) == len(cat) == 32
    for t in as_targets(cat):
        rec = matched[t.id]
        assert rec.plan_key == SZ12 and rec.indicator == t.indicator_zh and rec.verdict is not None
    assert matched["tertiary_share_2015_fyp12"].met == "partly"          # 58.8 % of 60 %
    assert matched["disposable_income_2015_fyp12"].target_value == 4.02  # 专栏1, not the outline's 4.9
    assert lopo.unmatched_reasons(as_targets(cat), matched, {"fyp12_2015"}, records) == {}
    assert lopo.matched_sets(targets_for_sets(["fyp12_2015", "fyp13_2020"])) == {"fyp12_2015"}


def test_a_listed_match_that_is_not_exact_is_an_error(tmp_path):
    text = lopo.RECORD_MATCHES.read_text(encoding="utf-8")
    bad = tmp_path / "m.csv"
    bad.write_text(text.replace(",本市生产总值,15000,", ",本市生产总值 ,15000,"), encoding="utf-8")
    with pytest.raises(SimError, match="only exact matches"):
        lopo.record_outcomes(targets_for_sets(["fyp12_2015"]), load_plan_records(), bad)
    bad.write_text(text.replace(",本市生产总值,15000,", ",本市生产总值,16000,"), encoding="utf-8")
    with pytest.raises(SimError, match="0 records"):
        lopo.record_outcomes(targets_for_sets(["fyp12_2015"]), load_plan_records(), bad)
    # a target of the listing that is left out: no verdict, and the reason says why
    bad.write_text("\n".join(text.splitlines()[:-1]) + "\n", encoding="utf-8")
    cat = targets_for_sets(["fyp12_2015"])
    matched = lopo.record_outcomes(cat, load_plan_records(), bad)
    why = lopo.unmatched_reasons(as_targets(cat), matched, {"fyp12_2015"}, load_plan_records())
    assert list(why) == ["nox_cum_2015_fyp12"] and "none listed" in why["nox_cum_2015_fyp12"]


def test_vintage_table_flags_verdict_changes():
    a = pd.DataFrame([dict(origin=2012, target_id="gdp_2015_ap", series="gdp_nominal", target_year=2015,
                           value=15000.0, p_met=0.7, realised=14900.0, outcome="missed", status="scored")])
    b = a.assign(p_met=0.9, realised=15100.0, outcome="met")
    v = sm.vintage_table(a, b)
    assert v.loc[0, "delta_p"] == pytest.approx(0.2) and bool(v.loc[0, "verdict_differs"])


def test_parse_origins():
    assert bt.parse_origins("2008..2010") == [2008, 2009, 2010]
    assert bt.parse_origins("2012,2010") == [2010, 2012]
    with pytest.raises(SimError, match="reversed"):
        bt.parse_origins("2018..2008")
    with pytest.raises(SimError, match="expected years"):
        bt.parse_origins("soon")


# --------------------------------------------------------------------------------------------
# the real pipeline (small)
# --------------------------------------------------------------------------------------------
FORECAST_COLS = ["target_id", "status", "method", "p_met", "median", "lo80", "hi80", "lo95", "hi95",
                 "trend_p_met", "trend_median", "record_p_met", "base_rate_p_met",
                 "line_p_met", "line_median", "rw_p_met", "rw_median"]


def _perturbed(values: np.ndarray, kinds: pd.Series, series: pd.Series) -> list[float]:
    """Other but plausible values: amounts ×1.37, shares +0.5 on the logit scale (still inside
    0–100 %), changes −3.1 pp (still above −100 %)."""
    share = np.array([SERIES[s].scale == "logit" if s in SERIES else False for s in series])
    level = kinds.isin(["level", "period_sum"]).to_numpy()
    p = np.clip(values / 100, 1e-9, 1 - 1e-9)
    shifted = 100 / (1 + np.exp(-(np.log(p / (1 - p)) + 0.5)))
    out = np.where(level & share, shifted, np.where(level, values * 1.37, values - 3.1))
    return [repr(float(x)) for x in out]


@pytest.mark.slow
def test_no_data_after_the_origin_is_used(tmp_path):
    """Every observation dated after the origin is changed in a copy of the data; the forecasts
    from that origin (model and references) are identical, only the realised values move."""
    origin = 2012
    data = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, data)
    changed = 0
    for path in data.glob("*.csv"):
        if path.name in DECLARATION_FILES:          # breaks.csv etc.: declarations, not values
            continue
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        late = df["year"].astype(int) > origin
        df.loc[late, "value"] = _perturbed(df.loc[late, "value"].astype(float).to_numpy(),
                                           df.loc[late, "kind"], df.loc[late, "series"])
        changed += int(late.sum())
        df.to_csv(path, index=False)
    assert changed > 20
    assert load_history(data).data_hash != load_history(DEFAULT_DATA_DIR).data_hash

    a = bt.run_backtest([origin], ["fyp12_2015"], "first", DRAWS, seed=5)
    b = bt.run_backtest([origin], ["fyp12_2015"], "first", DRAWS, seed=5, data_dir=data)
    assert (a.rows["trend_p_met"].notna()).sum() >= 3
    pd.testing.assert_frame_equal(a.rows[FORECAST_COLS], b.rows[FORECAST_COLS])
    observed = a.rows["outcome_from"] == "data"
    assert not np.allclose(a.rows.loc[observed, "realised"], b.rows.loc[observed, "realised"])


@pytest.mark.slow
def test_leave_one_plan_out_the_scored_plans_records_do_not_change_its_forecasts():
    """Records of Shenzhen's 12th FYP known at the origin (made up: dated 2011) are left out of
    the forecasts of its own targets: flipping their verdicts changes none of them. The same
    records under another plan's name do change them (the test can fail)."""
    records = load_plan_records()
    cols = ["target_id", "method", "p_met", "trend_p_met", "record_p_met", "record_p_low",
            "record_p_high", "base_rate_p_met", "median", "lo80", "hi80"]

    def forecasts(extra):
        r = bt.run_backtest([2012], ["fyp12_2015"], "first", DRAWS, seed=5, records=records + extra)
        assert (r.rows["record_left_out"] == len(extra) * (extra[0].plan == "12th FYP")).all()
        return r.rows[r.rows["status"] == "scored"][cols].reset_index(drop=True)

    a = forecasts(_interim(records, "no"))
    b = forecasts(_interim(records, "yes"))
    assert len(a) >= 20 and (a["method"] == "record only").sum() >= 10
    pd.testing.assert_frame_equal(a, b)
    c = forecasts(_interim(records, "no", plan="another plan"))
    social = a["target_id"].isin(["unemployment_2015_fyp12", "life_expectancy_2015_fyp12"])
    assert (c.loc[social, "record_p_met"] < a.loc[social, "record_p_met"]).all()
    assert (c["base_rate_p_met"] < a["base_rate_p_met"]).all()


@pytest.mark.slow
def test_official_verdicts_are_scored_where_the_data_have_no_outcome():
    r = bt.run_backtest([2013], ["fyp12_2015"], "first", DRAWS, seed=5)
    sc = r.rows[r.rows["status"] == "scored"].set_index("target_id")
    assert len(sc) == 32
    v = sc.loc["drug_pass_rate_2015_fyp12"]          # no series: the record alone, on the verdict
    assert v["outcome_from"] == "official verdict" and v["outcome_met"] == 1
    assert v["method"] == "record only"     # the headline is U < θ per draw: p_record ± MC error
    assert abs(v["p_met"] - v["record_p_met"]) < 5 * v["mc_se"]
    assert math.isnan(v["realised"]) and math.isnan(v["trend_p_met"])
    g = sc.loc["gdp_2015_fyp12"]                     # observed: scored on the data
    assert g["outcome_from"] == "data" and g["record_verdict"] == "met"
    assert 0 < g["base_rate_p_met"] < 1 and g["plan95_p_met"] == 0.95 and g["plan_p_met"] == 1


@pytest.mark.slow
def test_origin_that_cannot_be_calibrated_is_skipped_with_a_reason():
    r = bt.run_backtest([1985, 2016], ["fyp12_2015"], "first", DRAWS)
    assert r.rows.empty
    reasons = dict(zip(r.skipped["origin"], r.skipped["reason"]))
    assert "as_of" in reasons[1985] and "1985" in reasons[1985]
    assert reasons[2016] == "no target year after 2016"


@pytest.mark.slow
def test_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / "bt"
    code = main(["backtest", "--origins", "2012..2013", "--targets", "fyp12_2015", "--draws", str(DRAWS),
                 "--bootstrap", "100", "--format", "json", "--out", str(out)])
    assert code == 0
    rows = pd.read_csv(out / "rows.csv")
    for col in ("origin", "target_id", "horizon", "method", "p_met", "trend_p_met", "record_p_met",
                "base_rate_p_met", "plan95_p_met", "plan_p_met", "outcome", "outcome_from",
                "realised", "median", "lo80", "hi80", "lo95", "hi95", "width80_log", "pit", "crps",
                "trend_width80_log", "line_p_met", "rw_p_met", "line_crps", "rw_pit"):
        assert col in rows.columns, col
    assert set(rows["origin"]) == {2012, 2013}
    assert set(rows.loc[rows["status"] == "scored", "outcome"]) <= {"met", "missed"}
    printed = json.loads(capsys.readouterr().out)
    summary = json.loads((out / "scores.json").read_text())
    assert printed["sets"].keys() == summary["sets"].keys() == {"common", "trend", "all"}
    assert set(summary["sets"]["common"]["forecasters"]) == {
        "combined", "trend", "record", "base_rate", "plan95", "plan", "line", "rw"}
    assert set(summary["sets"]["all"]["forecasters"]) == {
        "combined", "record", "base_rate", "plan95", "plan"}
    for block in summary["sets"].values():
        assert block["n_event_rows"] > 0
        for f, fb in block["forecasters"].items():
            assert 0 <= fb["brier"]["low"] <= fb["brier"]["mean"] <= fb["brier"]["high"] <= 1
            assert 0 <= fb["log_score"]["mean"] <= -math.log(scores.LOG_EPS)
            if f != "combined":
                assert abs(fb["brier_minus_combined"]["mean"]) <= 1
            if "coverage80" in fb:
                assert 0 <= fb["coverage80"]["observed"] <= fb["coverage95"]["observed"] + 1e-9 <= 1 + 1e-9
                assert fb["sharpness80"]["median_width_log"] >= 0
    for name in ("skipped.csv", "scores.txt", "reliability.csv", "coverage_by_horizon.csv", "vintages.csv",
                 "manifest.json", "figures/reliability.png", "figures/pit_histogram.png",
                 "figures/coverage_by_horizon.png", "figures/p_met_over_origins.png"):
        assert (out / name).is_file(), name
    text = (out / "scores.txt").read_text()
    assert "base rate of past targets" in text and "the plan is met (P = 0.95)" in text
    assert "width80" in text
    v = pd.read_csv(out / "vintages.csv")
    assert {"p_met_first", "p_met_revised", "outcome_first", "outcome_revised"} <= set(v.columns)
    # the protocol: fixed choices with reasons, the pooling rule chosen per origin and fit
    proto = pd.read_csv(out / "protocol.csv")
    assert proto["reason"].notna().all() and "information date" in set(proto["choice"])
    rolling = proto[proto["origin"].notna()]
    assert set(rolling["origin"]) == {2012, 2013} and set(rolling["value"]) <= {"partial", "pooled"}
    assert rolling["reason"].str.contains("prequential log loss|no earlier").all()
    assert "nothing tuned on the scored events" in summary["protocol"]
    pit = pd.read_csv(out / "pit.csv")
    assert set(pit["forecaster"]) >= {"combined", "trend"} and pit["pit"].between(0, 1).all()
    mine = rows[rows["pit"].notna()].set_index(["origin", "target_id"])["pit"]
    got = pit[pit["forecaster"] == "combined"].set_index(["origin", "target_id"])["pit"]
    pd.testing.assert_series_equal(got.sort_index(), mine.sort_index(), check_names=False)
    fb = pd.read_csv(out / "vintage_fallbacks.csv")
    assert len(fb) == summary["vintage_fallbacks"] > 0 and set(fb["first_origin"]) <= {2012, 2013}
    # an existing folder is not replaced without --force
    assert main(["backtest", "--origins", "2013", "--targets", "fyp12_2015", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err


def test_sim_data_lists_the_plan_records_and_families(capsys):
    assert main(["data", "--show", "records"]) == 0
    out = capsys.readouterr().out
    n = len(load_plan_records())
    assert f"({n} past targets" in out
    for word in ("by family", "by level", "by binding", "energy_intensity", "province", "partly"):
        assert word in out
    assert main(["data", "--show", "records", "--format", "csv"]) == 0
    rows = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert len(rows) == n and {"jurisdiction", "plan", "family", "met", "source"} <= set(rows.columns)
    assert main(["data", "--show", "families", "--format", "csv"]) == 0
    fam = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out)).set_index("family")
    assert fam["targets"].sum() == len(targets_for_sets(list(TARGET_SETS)))
    assert fam["records"].sum() == n
    assert fam.loc["energy_intensity", "judged"] >= fam.loc["energy_intensity", "met"] > 0


@pytest.mark.parametrize("argv, message", [
    (["--origins", "2018..2008"], "the range is reversed"),
    (["--targets", "fyp99"], "unknown target set 'fyp99'"),
    (["--origins", "20x8"], "expected years as FIRST..LAST"),
    (["--draws", "0"], "--draws must be at least 1"),
    (["--midterm", "scenarios/baseline_2020.toml"], "needs --as-of YEAR"),
])
def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys, argv, message):
    code = main(["backtest", *argv, "--out", str(tmp_path / "x")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("sim backtest: error:") and message in err
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_midterm_table(tmp_path):
    t = bt.midterm_table(SCENARIOS_DIR / "baseline_2015.toml", 2013, draws=DRAWS, seed=1)
    ev = t[t["status"] == "evaluated"].set_index("target_id")
    assert {"p_start", "p_mid", "delta_p", "delta_se", "achieved_annual", "required_annual"} <= set(t.columns)
    g = ev.loc["gdp_2015_fyp12"]
    assert g["delta_p"] == pytest.approx(g["p_mid"] - g["p_start"])
    # GDP grew between 2010 and 2013: the achieved rate is positive and finite
    assert 0 < g["achieved_annual"] < 30
