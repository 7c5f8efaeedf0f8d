"""Backtest: references, scores on rows, no look-ahead (perturbation), CLI end to end, bad args."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from sim.backtest import hindcast as bt
from sim.backtest import scores
from sim.backtest import summary as sm
from sim.backtest.references import reference_forecasts, series_index
from sim.cli import main
from sim.errors import SimError
from sim.history import History, load_history
from sim.paths import DEFAULT_DATA_DIR, SCENARIOS_DIR

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
def _fake_rows():
    rng = np.random.default_rng(3)
    rows = []
    for origin in (2010, 2011, 2012):
        for j, (series, met) in enumerate((("gdp_nominal", 1), ("retail_sales", 0), ("tertiary_share", 1))):
            for dup in ("_ap", "_fyp12"):  # the same target in two plans: counted once
                r = dict(origin=origin, target_id=f"{series}{dup}", series=series, kind="level",
                         comparator=">=", value=10.0, value_high=np.nan, base_year=np.nan,
                         period_start=np.nan, target_year=2015, horizon=2015 - origin,
                         status="scored", outcome_met=met, realised=10.0)
                for pre in ("", "line_", "rw_", "plan_"):
                    p = 1.0 if pre == "plan_" else float(rng.uniform())
                    r.update({f"{pre}p_met": p, f"{pre}pit": float(rng.uniform()),
                              f"{pre}crps_log": float(rng.uniform()), f"{pre}in80": bool(rng.uniform() < .8),
                              f"{pre}in95": bool(rng.uniform() < .95)})
                rows.append(r)
    return pd.DataFrame(rows)


def test_summarize_matches_direct_means_and_drops_duplicates():
    rows = _fake_rows()
    s = sm.summarize(rows, n_boot=200)
    block = s["sets"]["common"]
    assert block["n_event_rows"] == 9 and block["n_clusters"] == 3 and block["n_met"] == 6
    once = rows.drop_duplicates(subset=sm.EVENT_KEY)
    for f, pre in (("model", ""), ("line", "line_"), ("plan", "plan_")):
        want = scores.brier_score(once[f"{pre}p_met"], once["outcome_met"]).mean()
        assert block["forecasters"][f]["brier"]["mean"] == pytest.approx(want, abs=1e-6)
    assert block["forecasters"]["plan"]["brier"]["mean"] == pytest.approx(3 / 9, abs=1e-6)
    assert block["forecasters"]["plan"]["log_score"]["mean"] == pytest.approx(
        3 / 9 * -math.log(scores.LOG_EPS) + 6 / 9 * -math.log(1 - scores.LOG_EPS), abs=1e-6)
    d = block["forecasters"]["line"]["brier_minus_model"]["mean"]
    assert d == pytest.approx(block["forecasters"]["line"]["brier"]["mean"]
                              - block["forecasters"]["model"]["brier"]["mean"], abs=1e-6)
    assert sum(block["forecasters"]["model"]["pit_histogram"]) == 9
    assert "model (sim)" in sm.summary_table(s)
    cov = sm.coverage_by_horizon(rows)
    assert set(cov["forecaster"]) == {"model", "line", "rw", "plan"} and cov["n"].sum() == 4 * 9


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
FORECAST_COLS = ["target_id", "status", "p_met", "median", "lo80", "hi80", "lo95", "hi95",
                 "line_p_met", "line_median", "rw_p_met", "rw_median"]


@pytest.mark.slow
def test_no_data_after_the_origin_is_used(tmp_path):
    """Every observation dated after the origin is changed in a copy of the data; the forecasts
    from that origin (model and references) are identical, only the realised values move."""
    origin = 2012
    data = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, data)
    changed = 0
    for path in data.glob("*.csv"):
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        late = df["year"].astype(int) > origin
        v = df.loc[late, "value"].astype(float)
        kinds = df.loc[late, "kind"]
        v = np.where(kinds.isin(["level", "period_sum"]), v * 1.37 + 1, v - 3.1)
        df.loc[late, "value"] = [repr(float(x)) for x in v]
        changed += int(late.sum())
        df.to_csv(path, index=False)
    assert changed > 20
    assert load_history(data).data_hash != load_history(DEFAULT_DATA_DIR).data_hash

    a = bt.run_backtest([origin], ["fyp12_2015"], "first", DRAWS, seed=5)
    b = bt.run_backtest([origin], ["fyp12_2015"], "first", DRAWS, seed=5, data_dir=data)
    assert (a.rows["status"] == "scored").sum() >= 3
    pd.testing.assert_frame_equal(a.rows[FORECAST_COLS], b.rows[FORECAST_COLS])
    assert not np.allclose(a.rows["realised"], b.rows["realised"])


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
                 "--bootstrap", "100", "--format", "csv", "--out", str(out)])
    assert code == 0
    rows = pd.read_csv(out / "rows.csv")
    for col in ("origin", "target_id", "horizon", "p_met", "outcome", "realised", "median", "lo80",
                "hi80", "lo95", "hi95", "pit", "crps", "line_p_met", "rw_p_met", "plan_p_met",
                "line_crps", "rw_pit"):
        assert col in rows.columns, col
    assert set(rows["origin"]) == {2012, 2013}
    assert set(rows.loc[rows["status"] == "scored", "outcome"]) <= {"met", "missed"}
    stdout = capsys.readouterr().out
    assert stdout.splitlines()[0].startswith("origin,vintage,scenario_file,target_set,target_id")
    summary = json.loads((out / "scores.json").read_text())
    assert set(summary["sets"]["common"]["forecasters"]) == {"model", "line", "rw", "plan"}
    for name in ("skipped.csv", "scores.txt", "reliability.csv", "coverage_by_horizon.csv", "vintages.csv",
                 "manifest.json", "figures/reliability.png", "figures/pit_histogram.png",
                 "figures/coverage_by_horizon.png", "figures/p_met_over_origins.png"):
        assert (out / name).is_file(), name
    v = pd.read_csv(out / "vintages.csv")
    assert {"p_met_first", "p_met_revised", "outcome_first", "outcome_revised"} <= set(v.columns)
    # an existing folder is not replaced without --force
    assert main(["backtest", "--origins", "2013", "--targets", "fyp12_2015", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err


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
