"""Figures as jobs: identical scenarios drawn once, the P(met) charts, the worker pool."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sim.errors import SimError
from sim.output import drawing as D
from sim.output import fans as F
from sim.output import plots as P
from sim.output.figure_pool import draw_jobs, figure_workers
from sim.output.formatting import fmt_number

Q7 = np.linspace(1.0, 2.0, 7)[:, None] * np.array([1.0, 1.1, 1.2])   # (7, Y=3) quantiles


def _table(rows: list[dict]) -> pd.DataFrame:
    base = dict(target_set="fyp13_2020", indicator="GDP", indicator_zh="地区生产总值", unit="亿元",
                comparator=">=", value=2.0, value_high=np.nan, target_year=2020, status="evaluated",
                mc_se=0.01, method="trend only", low_information=False)
    return pd.DataFrame([{**base, **r} for r in rows])


def test_axis_labels_are_written_like_table_numbers():
    cases = {0.0: "0", 0.41234: "0.412", -0.005: "−0.005", 6.5: "6.5", -12.25: "−12.25",
             999.96: "1000", 15000.4: "15,000", -26000.0: "−26,000", float("nan"): "–"}
    for x, text in cases.items():
        assert D.axis_number(x) == fmt_number(x) == text, x


def test_wrap_counts_chinese_characters_as_two_cells():
    assert F.text_width("目标 ab") == 7
    text = "十三五 FYP13 2020: 目标 target ≥ 26,000 · P(达标 met) = 89.7%"
    lines = F.wrap(text, 20)
    assert len(lines) > 1 and all(F.text_width(line) <= 20 for line in lines)
    assert " ".join(lines) == text   # broken at spaces only: nothing lost


def test_fan_of_identical_scenarios_is_one_panel(make_dataset, tmp_path):
    ds = make_dataset(draws=60)   # 'faster' differs from 'baseline' only in the GDP series
    same = F.fan_job(ds, F.FanSpec("population_resident"), tmp_path / "p.png")
    assert [p["scenarios"] for p in same["panels"]] == [["baseline", "faster"]]
    assert same["panels"][0]["title"] == "所有2个情景相同 · all 2 scenarios identical"
    differ = F.fan_job(ds, F.FanSpec("gdp_nominal"), tmp_path / "g.png",
                       scenario_labels={"baseline": "基准情景"})
    assert [p["title"] for p in differ["panels"]] == ["基准情景 · baseline", "faster"]


def test_fan_panels_split_when_only_the_targets_differ(make_dataset, tmp_path):
    ds = make_dataset(draws=60)
    rows = _table([dict(target_id="t", scenario="baseline", probability=0.5),
                   dict(target_id="t", scenario="faster", probability=0.6)])
    job = F.fan_job(ds, F.FanSpec("population_resident"), tmp_path / "p.png", rows=rows)
    assert len(job["panels"]) == 2   # same draws, different P(met): both shown
    assert "P(达标 met) = 50.0%" in job["panels"][0]["notes"][0]


def test_overlay_draws_identical_scenarios_once_and_says_so(tmp_path):
    items = [("基准 · baseline", np.arange(3), Q7), ("b", np.arange(3), Q7.copy()),
             ("c", np.arange(3), Q7 + 1)]
    job = F.overlay_job(items, tmp_path / "o.png", title="t", ylabel="y", as_of=0,
                        history=(np.array([-6, -1, 0]), np.array([1.0, 1.0, 1.0])))
    assert [line["label"] for line in job["lines"]] == ["基准 · baseline = b (相同 identical)", "c"]
    assert job["history"][0].tolist() == [-1, 0]   # the last five years before as_of
    D.draw_overlay(job)
    assert (tmp_path / "o.png").stat().st_size > 5000


def test_pmet_chart_compares_only_targets_whose_probability_differs(tmp_path):
    rows = []
    for tid, pb, pf in (("a", 0.5, 0.5), ("b", 0.2, 0.4), ("c", 0.9, 0.9)):
        for s, p in (("baseline", pb), ("faster", pf)):
            rows.append(dict(target_id=tid, scenario=s, probability=p, ci_low=p - 0.05, ci_high=p + 0.05,
                             low_information=tid == "b"))
    table = _table(rows)
    job = P.pmet_job(table, tmp_path / "p.png")
    assert job is not None and job["p"].tolist() == [[0.2, 0.4]] and not job["same"].any()
    assert "1 / 3" in job["title"] and "the other 2: heat map" in job["title"]
    assert job["row_labels"][0].endswith(P.LOW_INFORMATION)
    heat = P.heatmap_job(table, tmp_path / "h.png")
    assert heat is not None and heat["same"].tolist() == [True, False, True]
    assert heat["cells"][1] == ["20%", "40%"]
    D.draw_heatmap(heat)
    assert (tmp_path / "h.png").stat().st_size > 5000


def test_low_information_cells():
    assert [P.low_information(v) for v in (True, "True", "false", "", None, np.nan, 0, 1)] == \
        [True, True, False, False, False, False, False, True]


def _jobs(tmp_path, make_dataset) -> list[dict]:
    ds = make_dataset(draws=60)
    rows = _table([dict(target_id="t", scenario=s, probability=p, ci_low=p - 0.1, ci_high=p + 0.1)
                   for s, p in (("baseline", 0.5), ("faster", 0.7))])
    rows["series"], rows["kind"] = "gdp_nominal", "level"
    fan = F.fan_job(ds, F.FanSpec("gdp_nominal"), tmp_path / "fan.png", rows=rows)
    ov = F.overlay_job([("a", fan["years"], p["q"]) for p in fan["panels"]], tmp_path / "ov.png",
                       title="t", ylabel="y", as_of=fan["as_of"], history=fan["history"], targets=rows)
    return [fan, ov, P.pmet_job(rows, tmp_path / "pm.png"), P.heatmap_job(rows, tmp_path / "hm.png")]


def test_pool_draws_the_same_bytes_as_one_process(tmp_path, make_dataset):
    serial = _jobs(tmp_path / "serial", make_dataset)
    pooled = _jobs(tmp_path / "pool", make_dataset)
    assert draw_jobs(serial, workers=1) == [j["path"] for j in serial]
    assert draw_jobs(iter(pooled), workers=2) == [j["path"] for j in pooled]
    for a, b in zip(serial, pooled):
        assert open(a["path"], "rb").read() == open(b["path"], "rb").read(), a["path"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_figure_is_one_error_naming_its_file(tmp_path, workers):
    good = dict(kind="heatmap", path=str(tmp_path / "ok.png"), values=np.array([[0.5]]),
                same=np.array([False]), cells=[["50%"]], col_labels=["a"], row_labels=["r"], title="t")
    bad = dict(kind="fan", path=str(tmp_path / "bad.png"))   # no panels
    with pytest.raises(SimError, match=r"figure .*bad\.png: KeyError: 'panels'"):
        draw_jobs([good, bad], workers=workers)
    with pytest.raises(SimError, match=r"unknown figure kind 'pie'"):
        draw_jobs([dict(kind="pie", path="x.png")], workers=1)


def test_workers_setting(monkeypatch):
    monkeypatch.setenv("SIM_FIGURE_WORKERS", "1")
    assert figure_workers() == 1
    monkeypatch.setenv("SIM_FIGURE_WORKERS", "two")
    with pytest.raises(SimError, match="SIM_FIGURE_WORKERS='two': expected a whole number"):
        figure_workers()


def test_drawing_imports_neither_the_engine_nor_the_evaluation():
    """A figure worker imports sim.output.drawing only: no numba, no statsmodels, no evaluation."""
    code = ("import sys, sim.output.drawing, sim.output.figure_pool; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numba', 'statsmodels', 'xarray')"
            " or m.startswith('sim.evaluation') or m.startswith('sim.engine')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
