"""The mid-term evaluation table (issue 13 items 1–2): base value, pace in natural units,
"already met", verdict, ≈ tolerance, scenario value sources, drop-outs, and targets.html's font.

Exact checks on injected rows and a tiny injected history (no simulation)."""

from __future__ import annotations

import math
import textwrap

import pandas as pd
import pytest

from sim.errors import ProblemList
from sim.history import History
from sim.output import html as H
from sim.output import midterm_table as M
from sim.output import tables as T
from sim.run.midterm import change_since_start
from sim.scenario.read import load_scenario_file, resolved_toml


def history(rows: list[tuple]) -> History:
    """A History of ``(series, year, kind, value, base_year)`` rows."""
    frame = pd.DataFrame([dict(series=s, year=y, kind=k, value=v, base_year=b, vintage="revised",
                               source=f"test table {s}") for s, y, k, v, b in rows])
    return History(frame, "test", None)


HIST = history([
    ("tertiary_share", 2015, "level", 58.8, None), ("tertiary_share", 2018, "level", 60.0, None),
    ("gdp_nominal", 2015, "level", 18000.0, None), ("gdp_nominal", 2018, "level", 24000.0, None),
    ("co2_intensity", 2018, "cumulative_change_pct", -12.0, 2015),
    ("affordable_housing_supplied", 2016, "level", 60000.0, None),
    ("affordable_housing_supplied", 2017, "level", 80000.0, None),
])


def row(**kw) -> dict:
    base = dict(target_id="t", scenario="baseline", comparator=">=", target_year=2020,
                value_source="plan", status="evaluated", probability=0.8, mc_se=0.01)
    return {**base, **kw}


def plan_row(r: dict, as_of: int = 2018, plan_start: int = 2015) -> dict:
    """Base and pace of one injected row, as plan_table computes them."""
    base = M.base_cell(r, HIST, plan_start, as_of)
    ds = type("DS", (), {"attrs": {"as_of": as_of}})()
    value, year, _, _ = T._latest(ds, r, HIST)
    obs_sum = (M.observed_sum(HIST, r["series"], base.year, as_of, "revised")
               if r["kind"] == "cumulative_sum" else None)
    return dict(base=base, pace=M.pace(r, base, (value, year), as_of, obs_sum))


def test_share_pace_is_in_percentage_points_per_year():
    r = row(series="tertiary_share", kind="share", unit="%", value=61.0)
    got = plan_row(r)
    assert got["base"].value == 58.8 and got["base"].text == "58.8 % (2015, 数据 data)"
    p = got["pace"]
    assert p.unit == "pp/yr"
    assert p.achieved == pytest.approx((60.0 - 58.8) / 3)
    assert p.required == pytest.approx((61.0 - 60.0) / 2)
    assert p.required_text == "0.5 pp/yr (2018→2020)" and p.achieved_text == "0.4 pp/yr (2015→2018)"


def test_level_pace_is_compound_percent_and_plan_base_is_shown_with_the_data():
    r = row(series="gdp_nominal", kind="level", unit="亿元", value=26000.0, base_value=17500.0)
    got = plan_row(r)
    # the plan's stated base is the base value; the observation differs and is shown beside it
    assert got["base"].value == 17500.0
    assert got["base"].text == "17,500 亿元 (2015, 规划 plan; 数据 data 18,000)"
    p = got["pace"]
    assert p.unit == "%/yr"     # achieved from the observed base: like for like with the actual
    assert p.achieved == pytest.approx(100 * ((24000 / 18000) ** (1 / 3) - 1))
    assert p.required == pytest.approx(100 * ((26000 / 24000) ** (1 / 2) - 1))


def test_target_already_met_shows_already_met_not_a_negative_pace():
    r = row(series="gdp_nominal", kind="level", unit="亿元", value=20000.0)
    p = plan_row(r)["pace"]
    assert p.already_met and math.isnan(p.required)
    assert p.required_text == "已达到 already met (2018)"
    assert M.verdict(0.97, p.already_met) == M.ALREADY_MET
    assert M.verdict(0.5, p.already_met) == "存在风险 at risk"     # the data met it, the model doubts


def test_cumulative_change_pace_and_already_met_from_the_observed_change():
    r = row(series="co2_intensity", kind="cumulative_change", unit="%", value=-10.0,
            comparator="<=", base_year=2015)
    got = plan_row(r)
    assert got["base"].text == "0% (2015 = 基期 base year)"
    p = got["pace"]
    assert p.already_met and p.achieved == pytest.approx(100 * (0.88 ** (1 / 3) - 1))
    r = dict(r, value=-20.0)
    p = plan_row(r)["pace"]
    assert not p.already_met
    assert p.required == pytest.approx(100 * ((0.80 / 0.88) ** (1 / 2) - 1))


def test_cumulative_sum_pace_in_units_per_year():
    r = row(series="affordable_housing_supplied", kind="cumulative_sum", unit="套", value=350000.0,
            period_start=2016, period_end=2020)
    got = plan_row(r)
    p = got["pace"]
    assert got["base"].text == "2016–2020 累计 total"
    assert p.unit == "套/yr"
    assert p.achieved == pytest.approx(70000.0)               # 2016–2017 observed, 2018 not
    assert p.required == pytest.approx((350000 - 140000) / 3)
    assert p.required_text.endswith("(2018–2020)")
    # a window whose first years are not in the data: what is left to do is unknown
    p = M.pace(r, M.Base(math.nan, 2016, ""), (math.nan, None), 2018, None)
    assert math.isnan(p.required) and p.required_text == "– (2016–2018 not in the data 无数据)"
    # at the plan's start nothing is done yet: the whole amount over the window
    p = M.pace(r, M.Base(math.nan, 2016, ""), (math.nan, None), 2015, None)
    assert p.required == 70000.0 and p.required_text == "70,000 套/yr (2016–2020)"


def test_without_an_observation_nothing_is_shown_as_observed():
    r = row(series="tertiary_share", kind="share", unit="%", value=61.0, required_annual=2.0)
    got = M.base_cell(dict(r, series="green_coverage"), HIST, 2015, 2018)
    assert math.isnan(got.value) and got.text == "– (2015: no observation)"
    p = M.pace(r, got, (math.nan, None), 2018)
    # the model's required pace, converted to pp/yr and labelled as a model estimate
    s = 61.0 / 1.02 ** 2
    assert p.required == pytest.approx((61.0 - s) / 2) and M.MODEL in p.required_text
    assert p.achieved_text == "" and not p.already_met


def test_tolerance_is_shown_for_approx_targets():
    assert T.tolerance_text({"comparator": "approx", "value": 1480.0, "approx_sense": "lower"}) \
        == "met at ≤ 1,554, ± 5% 默认 default"
    assert T.target_text({"comparator": "approx", "value": 26000.0, "tolerance": 0.02,
                          "approx_sense": "higher"}, True) == "≈ 26,000 (met at ≥ 25,480, ± 2%)"
    assert T.target_text({"comparator": "approx", "value": 30.0}, True) == "≈ 30 (± 5% 默认 default)"
    assert T.target_text({"comparator": "approx", "value": 30.0}) == "≈ 30"
    assert T.target_with_unit({"comparator": "approx", "value": 30.0, "unit": "%",
                               "target_year": 2020}) == "≈ 30 % (± 5% 默认 default; 2020)"
    assert T.target_with_unit({"comparator": ">=", "value": 26000.0, "unit": "亿元",
                               "target_year": 2020}) == "≥ 26,000 亿元 (2020)"
    assert T.tolerance_text({"comparator": ">=", "value": 1.0}) == ""


def test_verdict_bands():
    assert [M.verdict(p) for p in (0.9, 0.66, 0.5, 0.33, 0.1)] == [
        "有望完成 on track", "有望完成 on track", "存在风险 at risk", "存在风险 at risk",
        "难以完成 off track"]
    assert M.verdict(float("nan")) == ""


def test_change_since_start_names_drop_outs_and_method_changes():
    start = {"status": "evaluated", "method": "trend+record", "probability": 0.6}
    lost = {"status": "evaluated", "method": "record only",
            "record_note": "years 2016–2018 of the window are before as_of"}
    assert change_since_start(lost, start) == ("method changed since plan start: trend+record → "
                                               "record only: years 2016–2018 of the window are "
                                               "before as_of")
    gone = {"status": "not evaluable", "method": "not evaluable", "reason": "no history"}
    assert change_since_start(gone, start) == ("dropped out: evaluated at plan start "
                                               "(trend+record), not now: no history")
    assert change_since_start(dict(start), start) == ""
    assert change_since_start(gone, None) == ""


def test_plan_table_midterm_columns_and_dropouts():
    table = pd.DataFrame([
        row(target_id="a", indicator="A", kind="level", unit="元", value=10.0, binding="binding",
            p_at_plan_start=0.6, delta_p_since_start=0.2, delta_p_since_start_se=0.014,
            method="trend+record", method_at_plan_start="trend+record", change_since_start=""),
        row(target_id="b", indicator="B", kind="level", unit="元", value=10.0, binding="binding",
            method="record only", p_at_plan_start=0.5, delta_p_since_start=0.3,
            delta_p_since_start_se=0.02, method_at_plan_start="trend+record",
            change_since_start="method changed since plan start: trend+record → record only: x",
            low_information=True, information="2 verdicts"),
    ])
    plan = T.plan_table(table)
    assert T.is_midterm(plan)
    assert list(plan["delta_p_text"]) == [    # a record-only ΔP is not progress (issue 21)
        "+20.0 pp ± 1.4", "+30.0 pp ± 2.0 (参考类更新 reference-class update, not progress)"]
    assert list(plan["p_at_plan_start_text"]) == ["60.0%", "50.0%"]
    assert T.method_text(plan.iloc[1].to_dict()) == (
        "参考往期规划 past plans only (record only); ⚠ 信息少 low information; 2 verdicts")
    assert "information" in T.csv_columns(plan)
    assert "information" not in T.csv_columns(plan.assign(information=""))
    drop = T.dropouts(plan)
    assert list(drop["target_id"]) == ["b"] and drop["scenarios"].iloc[0] == "all"
    keys = [k for k, _ in T.display_columns(plan)]
    assert {"p_at_plan_start_text", "delta_p_text", "verdict", "achieved", "required"} <= set(keys)
    not_mid = T.plan_table(table.drop(columns=["p_at_plan_start"]))
    assert "delta_p_text" not in [k for k, _ in T.display_columns(not_mid)]


def test_joint_rows_name_n_of_n_and_the_left_out():
    joint = pd.DataFrame([dict(scenario="baseline", target_set="fyp13_2020", group="binding",
                               n_targets=4, n_in_group=14, left_out="x; y", p_all=0.227,
                               p_all_se=0.004, expected_met=3.1)])
    (r,) = T.joint_rows(joint)
    assert r["what"] == "P(all 4 evaluable of 14 binding met)" and r["left_out"] == "x; y"
    assert r["p"] == "22.7% ± 0.4%" and r["expected"] == "3.1 of 4"


def test_targets_html_embeds_the_cjk_font(external_ref, tmp_path):
    table = pd.DataFrame([row(target_id="a", indicator="A", indicator_zh="绿化覆盖率", kind="level",
                              unit="%", value=50.0, binding="binding", method="trend only")])
    path = H.write_html(T.plan_table(table), table, tmp_path / "targets.html", title="目标")
    page = path.read_text(encoding="utf-8")
    assert "@font-face" in page and "data:font/woff;base64," in page
    assert not external_ref.search(page)


SOURCES = """\
[run]
as_of = 2015
horizon = 2020
draws = 1000
seed = 1
target_sets = ["fyp13_2020"]

[scenarios.baseline]
description = "trends"
[scenarios.baseline.target_values]
co2_intensity_cum_2020_fyp13 = -10.0
energy_intensity_cum_2020_fyp13 = -19.0
[scenarios.baseline.target_value_sources]
co2_intensity_cum_2020_fyp13 = "C40 Cities, Urban Efficiency II"

[scenarios.variant]
extends = "baseline"
description = "another CO2 value"
[scenarios.variant.target_values]
co2_intensity_cum_2020_fyp13 = -12.0
"""


def test_target_value_sources_are_read_inherited_and_round_trip(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SOURCES, encoding="utf-8")
    sf = load_scenario_file(path)
    assert sf.scenarios["baseline"].target_value_sources == {
        "co2_intensity_cum_2020_fyp13": "C40 Cities, Urban Efficiency II"}
    # the variant overrides the value: the parent's source does not describe the new value
    assert sf.scenarios["variant"].target_value_sources == {}
    again = tmp_path / "resolved.toml"
    again.write_text(resolved_toml(sf), encoding="utf-8")
    assert load_scenario_file(again).scenarios == sf.scenarios
    ds = type("DS", (), {"attrs": {"scenario_resolved": resolved_toml(sf)}})()
    sources = T.value_sources(ds)
    r = {"value_source": "scenario", "value": -10.0, "scenario": "baseline",
         "target_id": "co2_intensity_cum_2020_fyp13"}
    assert T.target_source(r, sources) == "情景设定 scenario value: C40 Cities, Urban Efficiency II"
    assert "no source given" in T.target_source(dict(r, scenario="variant"), sources)
    assert T.target_source({"value_source": "plan", "value": 1.0}, sources) == "规划 plan"


def test_a_source_without_a_value_is_an_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(SOURCES + textwrap.dedent("""\
        [scenarios.variant.target_value_sources]
        cod_cum_2020_fyp13 = "somewhere"
        """), encoding="utf-8")
    with pytest.raises(ProblemList) as err:
        load_scenario_file(path)
    text = str(err.value)
    assert "scenarios.variant.target_value_sources.cod_cum_2020_fyp13" in text
    assert "a source for 'cod_cum_2020_fyp13', which has no value in target_values" in text
