"""Issue 21: every number says what it rests on (sim/evaluation/evidence.py and the outputs).

A small mid-term run (``--as-of 2018``, few draws, no figures) is written once; the tests read
its files as a user would: no past-plans-only row carries an on-track / at-risk / off-track
verdict in any format, every ΔP beyond 2 SE says what changed, ``trend_weight`` is the trend's
weight, the projection and the fan chart summarise the same draws, every format lists the
targets that respond to levers, and the terminal summary fits 80 columns.
"""

import contextlib
import html
import io
import math
import os
import re

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from sim.cli import main
from sim.ensemble import read_netcdf
from sim.evaluation import evidence as E
from sim.evaluation.accumulator import EvaluationAccumulator
from sim.evaluation.record import (RECORD_ONLY, TREND_ONLY, TREND_RECORD, RecordSampler,
                                   RecordSetup, RowRecord)
from sim.output.fans import fan_job, target_view
from sim.output.summary import display_width, print_summary
from sim.paths import SCENARIOS_DIR

S2020 = SCENARIOS_DIR / "baseline_2020.toml"
#: the words of a verdict of its own (not "already met", which comes from an observation)
OWN_VERDICTS = ("on track", "at risk", "off track")
DATA_WORDS = ("this indicator's data", "data and past plans")


@pytest.fixture(scope="module")
def midterm(tmp_path_factory):
    """A mid-term run with the terminal 80 columns wide: (folder, terminal output)."""
    out = tmp_path_factory.mktemp("evidence") / "mid"
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            code = main(["run", str(S2020), "--as-of", "2018", "--draws", "600", "--out", str(out),
                         "--no-figures"])
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    assert code == 0
    return out, buf.getvalue()


def _has_own_verdict(text: str) -> bool:
    return any(v in text for v in OWN_VERDICTS)


@pytest.mark.slow
def test_no_past_plans_only_row_carries_a_verdict_in_any_format(midterm):
    out, terminal = midterm
    targets = pd.read_csv(out / "targets.csv")
    record_ids = set(targets.loc[targets["method"] == RECORD_ONLY, "target_id"])
    assert len(record_ids) > 50          # the 2020 sets are mostly record-only at mid-term
    # csv: the verdict column of record-only rows is empty or "already met" (an observation)
    plan = pd.read_csv(out / "targets_table.csv", encoding="utf-8-sig")
    rec = plan[plan["method"] == RECORD_ONLY]
    assert not rec["verdict"].fillna("").map(_has_own_verdict).any()
    assert rec["basis"].eq(E.RECORD).all()
    assert rec["evidence"].str.contains(r"\d+ of \d+ targets of this family").all()
    assert plan.loc[plan["method"] != RECORD_ONLY, "verdict"].fillna("").map(_has_own_verdict).any()
    # md and html: a row with a verdict of its own rests on the indicator's data
    md = (out / "targets.md").read_text(encoding="utf-8")
    verdict_lines = [line for line in md.splitlines() if _has_own_verdict(line)]
    assert verdict_lines and all(any(w in line for w in DATA_WORDS) for line in verdict_lines)
    assert f"### {E.RECORD}" in md               # their own section
    page = (out / "targets.html").read_text(encoding="utf-8")
    for report in (page, (out / "report.html").read_text(encoding="utf-8")):
        rows = [html.unescape(r) for r in re.findall(r"<tr>.*?</tr>", report)
                if _has_own_verdict(r)]
        assert rows and all(any(w in r for w in DATA_WORDS) for r in rows)
    # xlsx: their own sheet, none on the evaluation sheet
    wb = load_workbook(out / "targets.xlsx", read_only=True)
    assert "往期规划 Past plans only" in wb.sheetnames
    cells = [str(c) for row in wb["往期规划 Past plans only"].iter_rows(values_only=True)
             for c in row if c is not None]
    assert cells and not any(_has_own_verdict(c) for c in cells)
    head, *rows = list(wb["评估表 Evaluation"].iter_rows(values_only=True))
    method = head.index("方法 Method")
    assert rows and all(r[method] != RECORD_ONLY for r in rows)
    # terminal: past-plans-only rows come after their own heading, with basis "past"
    lines = terminal.splitlines()
    assert not any(_has_own_verdict(line) for line in lines)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"— {E.RECORD}"))
    row = re.compile(r" past +[\d–]")     # the basis column, then P
    assert len([line for line in lines[start:] if row.search(line)]) >= len(record_ids) - 5
    assert not any(row.search(line) for line in lines[:start])


@pytest.mark.slow
def test_every_delta_p_beyond_two_se_says_what_changed(midterm):
    out, terminal = midterm
    t = pd.read_csv(out / "targets.csv")
    sig = t[[E.significant(d, s) for d, s in zip(t["delta_p_since_start"],
                                                   t["delta_p_since_start_se"])]]
    assert len(sig) > 20
    changed = sig["change_since_start"].fillna("")
    assert (changed != "").all()
    rec = sig[sig["method"] == RECORD_ONLY]
    assert len(rec) and rec["change_since_start"].str.contains(
        "update of the reference class, not progress").all()
    data = sig[sig["method"] != RECORD_ONLY]
    assert len(data) and data["change_since_start"].str.contains("the indicator's data").all()
    both = data[data["method"] == TREND_RECORD]
    assert np.allclose(both["delta_p_trend_since_start"],
                       both["p_trend"] - (both["p_trend"] - both["delta_p_trend_since_start"]))
    assert both["delta_p_record_since_start"].notna().all()
    # the hand-in table carries the text and the split
    plan = pd.read_csv(out / "targets_table.csv", encoding="utf-8-sig")
    psig = plan[[E.significant(d, s) for d, s in zip(plan["delta_p"], plan["delta_p_se"])]]
    assert (psig["change_since_start"].fillna("") != "").all()
    assert "delta_p_data" in plan and "delta_p_record" in plan
    # the terminal shows P at the plan's start and ΔP since
    assert re.search(r"\bP0\b", terminal) and "ΔP0" in terminal


@pytest.mark.slow
def test_trend_weight_is_the_weight_of_the_trend(midterm):
    out, _ = midterm
    t = pd.read_csv(out / "targets.csv")
    assert "trend_weight" in t and "record_weight" not in t
    tr = t[t["method"] == TREND_RECORD]
    assert tr["trend_weight"].between(0, 1).all()
    # a row where the trend has the weight has a headline P nearer its p_trend than its p_record
    # (not equal: sources that disagree add their extra spread, sim.plan_record.combine)
    dominated = tr[tr["trend_weight"] >= 0.9]
    assert len(dominated)
    to_trend = (dominated["probability"] - dominated["p_trend"]).abs()
    to_record = (dominated["probability"] - dominated["p_record"]).abs()
    assert (to_trend <= 0.05).all() and (to_trend < to_record).all()


class _ZeroSplit:
    """A split model whose record draws are all ``ln r = ln 2``: the record says 2 v − b."""

    def sample_log_ratio(self, theta, n, rng):
        return np.full(n, math.log(2.0))


def _accumulator_with_weight(w: float):
    import xarray as xr

    x = np.stack([np.full(1000, 100.0), np.linspace(50.0, 150.0, 1000)], axis=-1)[None]
    ds = xr.Dataset({"gdp_nominal": (("scenario", "draw", "year"), x)},
                    coords={"scenario": ["baseline"], "draw": np.arange(1000), "year": [2019, 2020]})
    ds.attrs.update(as_of=2019)
    cat = [dict(id="t", target_set="s", indicator="GDP", indicator_zh="GDP", series="gdp_nominal",
                target_year=2020, kind="level", comparator=">=", value=100.0, unit="",
                binding="binding", family="economy")]
    sampler = RecordSampler(np.ones(1), np.ones(1), np.ones(1), _ZeroSplit())
    rows = {("baseline", "t"): RowRecord(TREND_RECORD, "", 100.0, 0.0, 1, "log", w)}
    setup = RecordSetup(1, {}, {"t": sampler}, rows)
    acc = EvaluationAccumulator(cat, ["baseline"], record=setup)
    acc.add(ds)
    return acc.result().table.iloc[0]


def test_trend_weight_one_means_the_trend_alone():
    """z = w·trend + (1 − w)·record: ``trend_weight`` 1 gives the trend's P, 0 the record's."""
    trend = _accumulator_with_weight(1.0)
    assert trend["trend_weight"] == 1.0 and "record_weight" not in trend
    assert trend["probability"] == pytest.approx(trend["p_trend"], abs=2e-3)
    record = _accumulator_with_weight(0.0)
    assert record["trend_weight"] == 0.0 and record["probability"] == 1.0   # 2 v − b ≥ v


@pytest.mark.slow
def test_projection_and_fan_chart_summarise_the_same_draws(midterm):
    out, _ = midterm
    ds = read_netcdf(out / "ensemble.nc")
    t = pd.read_csv(out / "targets.csv")
    plan = pd.read_csv(out / "targets_table.csv", encoding="utf-8-sig").set_index(
        ["scenario", "target_id"])
    base = t[(t["scenario"] == "baseline") & (t["status"] == "evaluated")]
    checked = {TREND_ONLY: 0, TREND_RECORD: 0}
    for r in base.to_dict("records"):
        spec = target_view(ds, r)
        if spec is None or spec.mode != "level" or r["method"] not in checked:
            continue
        rows = t[t["target_id"] == r["target_id"]]
        job = fan_job(ds, spec, out / "x.png", table=t, rows=rows)
        panel = next(p for p in job["panels"] if "baseline" in p["scenarios"])
        mark = next(m for m in panel["marks"] if m["year"] == r["target_year"]
                    and m["value"] == r["value"])
        median = plan.loc[("baseline", r["target_id"]), "median"]
        assert median == pytest.approx(r["median"])
        if r["method"] == TREND_ONLY:        # the fan is the headline: its median is the table's
            k = list(job["years"]).index(int(r["target_year"]))
            assert panel["q"][3][k] == pytest.approx(median, rel=1e-5)
            assert "headline" not in mark
        else:                                # drawn at the target year as the headline bar
            assert mark["headline"]["median"] == pytest.approx(median)
            assert mark["headline"]["p10"] == pytest.approx(plan.loc[("baseline", r["target_id"]),
                                                                     "p10"])
            assert any("headline" in n for n in panel["notes"])
        checked[r["method"]] += 1
    assert checked[TREND_ONLY] and checked[TREND_RECORD]
    assert plan["projection_draws"].fillna("").str.contains("headline").any()


@pytest.mark.slow
def test_every_format_lists_the_targets_that_respond_to_levers(midterm):
    out, terminal = midterm
    t = pd.read_csv(out / "targets.csv")
    moved = E.responds_to_levers(t)
    assert "co2_intensity_cum_2020_fyp13" in set(moved["target_id"])   # the low-carbon lever
    still = set(t["target_id"]) - set(moved["target_id"])
    assert "emerging_industries_va_share_2020_fyp13" in still           # past plans only
    assert "Responds to levers" in terminal and "co2_intensity_cum_2020_fyp13" in terminal
    md = (out / "targets.md").read_text(encoding="utf-8")
    assert "Targets that respond to levers" in md and "- co2_intensity_cum_2020_fyp13:" in md
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Targets that respond to levers" in page
    assert "<li>co2_intensity_cum_2020_fyp13:" in page
    wb = load_workbook(out / "targets.xlsx", read_only=True)
    ids = {r[0] for r in wb["受情景影响 Levers"].iter_rows(min_row=2, values_only=True)}
    assert "co2_intensity_cum_2020_fyp13" in ids
    plan = pd.read_csv(out / "targets_table.csv", encoding="utf-8-sig")
    hit = plan[plan["responds_to_levers"]]
    assert set(zip(hit["scenario"], hit["target_id"])) == set(zip(moved["scenario"],
                                                                  moved["target_id"]))


@pytest.mark.slow
def test_terminal_summary_of_a_midterm_run_fits_80_columns(midterm):
    _, terminal = midterm
    lines = terminal.splitlines()
    assert max(display_width(line) for line in lines) <= 80
    head = next(line for line in lines if line.startswith("indicator"))
    assert "basis" in head and "ΔP0" in head


def _six_scenarios() -> pd.DataFrame:
    rows = []
    names = ["baseline", "low_carbon", "new_normal", "water_saving", "housing_push",
             "pandemic_stress"]
    for k, s in enumerate(names):
        for tid, ind, method in (("gdp_per_capita_cny_2020_fyp13", "GDP per capita (CNY)",
                                  TREND_RECORD),
                                 ("emerging_industries_va_share_2020_fyp13",
                                  "Emerging industries value added share of GDP", RECORD_ONLY)):
            rows.append(dict(target_id=tid, indicator=ind, scenario=s, status="evaluated",
                             probability=0.9, value=176000.0, comparator=">=", unit="元",
                             method=method, delta_vs_baseline=0.0 if k == 0 else -0.05 * k,
                             delta_se=0.01, p_at_plan_start=0.8, delta_p_since_start=0.1,
                             delta_p_since_start_se=0.01, target_set="fyp13_2020"))
    return pd.DataFrame(rows)


def test_terminal_summary_fits_the_terminal_width(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    print_summary(_six_scenarios(), "results/a_results_folder")
    out = capsys.readouterr().out
    assert max(display_width(line) for line in out.splitlines()) <= 80
    assert "ΔS6" in out and "−25.0" in out            # ΔP vs baseline, in pp, every scenario
    assert "d+past" in out and "past" in out         # the basis of each row
    assert "P0" in out and "+10.0" in out            # P at the plan's start and ΔP since


def test_verdict_rules():
    assert E.verdict(0.9, RECORD_ONLY) == ""
    assert E.verdict(0.9, RECORD_ONLY, already_met=True) == E.ALREADY_MET   # an observation
    assert E.verdict(0.9, TREND_RECORD) == "有望完成 on track"
    assert E.verdict(0.5, TREND_ONLY) == "存在风险 at risk"
    assert E.verdict(0.5, TREND_ONLY, already_met=True) == "存在风险 at risk"
    assert E.verdict(float("nan"), TREND_ONLY) == ""
    row = dict(method=RECORD_ONLY, family="economy", record_n_family=40, record_met_family=34)
    assert E.evidence(row) == ("参考往期规划 past plans only: 34 of 40 targets of this family "
                               "(economy) were met 往期同类目标40项中34项完成")
    assert "not progress" in E.delta_words(RECORD_ONLY, math.nan, 0.05, (3, 3, 8, 8), 2015)
    assert E.bilingual("no target value (left blank in the plan)").startswith("规划未给出目标值 ")


@pytest.mark.slow
def test_sim_report_reads_an_older_targets_csv_with_record_weight(midterm, tmp_path):
    import shutil

    from sim.output.rebuild import rebuild

    out, _ = midterm
    old = tmp_path / "old"
    shutil.copytree(out, old)
    t = pd.read_csv(old / "targets.csv")
    t.rename(columns={"trend_weight": "record_weight"}).to_csv(old / "targets.csv", index=False)
    rebuild(old, figures=False)
    back = pd.read_csv(old / "targets.csv")
    assert "record_weight" not in back
    assert np.allclose(back["trend_weight"], t["trend_weight"], equal_nan=True)
