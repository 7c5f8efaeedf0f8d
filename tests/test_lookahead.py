"""No look-ahead in a backtest under one information date (issue 18, item 1).

(a) revised observations that have a first-published twin never reach a ``--vintage first``
backtest's forecasts (calibration, base values, references); (b) plan records published after an
origin's information date (30 June of origin + 1) never reach that origin's forecasts. (c), the
scored plan's own records never enter, is ``tests/test_backtest.py::
test_leave_one_plan_out_the_scored_plans_records_do_not_change_its_forecasts``.
"""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sim.backtest import hindcast as bt
from sim.backtest.fallbacks import vintage_fallbacks
from sim.history import DECLARATION_FILES, load_history
from sim.paths import DEFAULT_DATA_DIR
from sim.plan_record import load_plan_records

DRAWS = 200
#: forecast columns (records and data are also outcomes: ``realised``/``outcome`` may move)
FORECAST = ["target_id", "status", "method", "p_met", "median", "lo80", "hi80", "lo95", "hi95",
            "trend_p_met", "trend_median", "trend_lo80", "trend_hi80", "record_p_met",
            "record_p_low", "record_p_high", "record_weight", "base_rate_p_met",
            "line_p_met", "line_median", "rw_p_met", "rw_median"]


def _forecasts(res) -> pd.DataFrame:
    rows = res.rows.sort_values(["origin", "target_id"]).reset_index(drop=True)
    return rows[[c for c in FORECAST if c in rows.columns]]


@pytest.mark.slow
def test_revised_twins_never_reach_a_first_vintage_backtest(tmp_path):
    """(a) Every revised row with a first-published twin scaled by 0.6: the forecasts of a
    first-vintage backtest (2016 and 2018, 2020 targets: population and GDP bases) are
    bit-identical. On main the record's base read the revised level (population 2016–18,
    gdp_2020_qdp at 2018)."""
    data = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, data)
    changed = 0
    for path in data.glob("*.csv"):
        if path.name in DECLARATION_FILES:
            continue
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        key = ["series", "year", "base_year", "kind"]
        first = set(map(tuple, df.loc[df["vintage"] == "first", key].to_numpy()))
        twin = (df["vintage"] == "revised") & np.array([tuple(k) in first for k in df[key].to_numpy()], dtype=bool)
        df.loc[twin, "value"] = [repr(float(v) * 0.6) for v in df.loc[twin, "value"]]
        changed += int(twin.sum())
        df.to_csv(path, index=False)
    assert changed >= 10
    a = bt.run_backtest([2016, 2018], ["fyp13_2020"], "first", DRAWS, seed=5)
    b = bt.run_backtest([2016, 2018], ["fyp13_2020"], "first", DRAWS, seed=5, data_dir=data)
    fa, fb = _forecasts(a), _forecasts(b)
    assert (fa["method"] == "trend+record").sum() >= 2
    pd.testing.assert_frame_equal(fa, fb)
    # the test can fail: the revised backtest reads the changed rows
    ra = bt.run_backtest([2018], ["fyp13_2020"], "revised", DRAWS, seed=5)
    rb = bt.run_backtest([2018], ["fyp13_2020"], "revised", DRAWS, seed=5, data_dir=data)
    assert not _forecasts(ra)["p_met"].equals(_forecasts(rb)["p_met"])


@pytest.mark.slow
def test_records_published_after_the_information_date_never_reach_the_forecasts():
    """(b) Every record not published by 30 June 2016 (its verdict flipped, its outcome
    halved) leaves the forecasts from origin 2015 bit-identical. On main the 2015 records
    (published in 2016 by default) entered at origin 2015."""
    records = load_plan_records()

    def changed(r):
        return replace(r, met={"yes": "no", "no": "yes"}.get(r.met, r.met),
                       actual_value=None if r.actual_value is None else r.actual_value * 0.5)

    origin = 2015
    late = tuple(r if r.known_at(origin) else changed(r) for r in records)
    assert sum(r.period_end <= origin and not r.known_at(origin) for r in records) >= 30
    a = bt.run_backtest([origin], ["fyp13_2020"], "first", DRAWS, seed=5, records=records)
    b = bt.run_backtest([origin], ["fyp13_2020"], "first", DRAWS, seed=5, records=late)
    fa = _forecasts(a)
    assert (fa["method"] == "record only").sum() >= 1 and (fa["method"] == "trend+record").sum() >= 2
    pd.testing.assert_frame_equal(fa, _forecasts(b))
    # the test can fail: the same change one origin later moves the record's forecasts
    c = bt.run_backtest([2016], ["fyp13_2020"], "first", DRAWS, seed=5, records=records)
    d = bt.run_backtest([2016], ["fyp13_2020"], "first", DRAWS, seed=5, records=late)
    assert not np.allclose(_forecasts(c)["record_p_met"], _forecasts(d)["record_p_met"])


def test_fallbacks_to_revised_are_listed():
    """Observations a first-vintage backtest reads in the revised vintage for want of a
    first-published (or undated) one: listed with the origins that read them."""
    h = load_history()
    fb = vintage_fallbacks(h, range(2008, 2019), "first")
    assert len(fb) >= 5 and set(fb["series"]) >= {"gdp_real"}
    sel = h.select("gdp_real", "first")
    for r in fb.itertuples():
        assert r.first_origin == max(2008, r.year) and r.origins == 2018 - r.first_origin + 1
        row = sel[(sel["year"] == r.year) & (sel["kind"] == r.kind)]
        assert r.series != "gdp_real" or row["vintage"].tolist() == ["revised"]
    assert vintage_fallbacks(h, range(2008, 2019), "revised").empty
