"""Tables readable at any width, checked on the pages' structure (no browser needed, runs in CI).

At 420 px every table of targets.html and report.html becomes one card per row
(:data:`sim.output.html.CARDS_CSS`), each cell labelled by its header (``data-label``); at 1280
px the probability and verdict columns sit within the first :data:`COLUMNS_ON_SCREEN` columns.
Also here: the hand-in table, its one-line "why", the 时间过半·任务过半 chart and the one CJK
font subset per run.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.output import html as H
from sim.output.handin import HANDIN_COLUMNS, handin_rows, why
from sim.output.midterm_chart import FILE as MIDTERM_FILE
from sim.output.midterm_chart import progress_rows, write_midterm_chart

#: columns on screen at 1280 px: main is 1180 px wide less 32 px padding; a column is at least
#: 7em at .85rem plus 16 px padding (html.CSS: th,td min-width) = 111 px; 8 columns = 888 px,
#: which leaves ~260 px for the indicator text wider than its minimum
COLUMNS_ON_SCREEN = 8
#: a header naming a probability or a verdict
KEY_HEADER = re.compile(r"P\(met\)|Verdict|判断|p_all|P\(all")


class Tables(HTMLParser):
    """Every ``<table>`` of a page: its class, headers and, per row, each cell's attributes."""

    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self._cell: dict | None = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables.append(dict(cls=(a.get("class") or "").split(), head=[], rows=[]))
        elif tag == "tbody" and self.tables:
            self.tables[-1]["tbody_id"] = a.get("id")
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("th", "td") and self.tables:
            self._cell = dict(tag=tag, attrs=a, text="")
            if tag == "td":
                self.tables[-1]["rows"][-1].append(self._cell)

    def handle_endtag(self, tag):
        if tag == "th" and self._cell is not None and self.tables:
            self.tables[-1]["head"].append(self._cell["text"].strip())
        if tag in ("th", "td"):
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data


def tables_of(page: str) -> list[dict]:
    parser = Tables()
    parser.feed(page)
    return parser.tables


def style_of(page: str) -> str:
    return "".join(re.findall(r"<style>(.*?)</style>", page, flags=re.S))


@pytest.fixture(scope="module")
def run(tmp_path_factory, make_results) -> Path:
    """A synthetic results folder (2 scenarios) with every table format, no figures."""
    return make_results(tmp_path_factory.mktemp("layout") / "run", figures=False)


def _check_table(t: dict, where: str) -> None:
    """Cards at 420 px, labelled probability/verdict cells, those columns on screen at 1280."""
    assert "cards" in t["cls"], f"{where}: table {t['head'][:2]} is not a cards table"
    keys = [j for j, h in enumerate(t["head"]) if KEY_HEADER.search(h)]
    if "pm" in t["cls"]:           # targets × scenarios: every column after the first is a P
        keys = list(range(1, len(t["head"])))
    for row in t["rows"]:
        for j, cell in enumerate(row):
            if j in keys or j > 0:
                assert cell["attrs"].get("data-label"), f"{where}: {t['head']} cell {j} unlabelled"
            if j in keys:                  # the header's text (line breaks aside)
                assert (re.sub(r"\s", "", cell["attrs"]["data-label"])
                        == re.sub(r"\s", "", t["head"][j]))
    if keys:
        assert max(keys) < COLUMNS_ON_SCREEN, (
            f"{where}: {t['head'][max(keys)]} is column {max(keys) + 1} of {t['head']}")


@pytest.mark.parametrize("page", ["targets.html", "report.html"])
def test_every_table_is_cards_on_a_phone_and_shows_p_and_verdict_at_1280(run, page):
    text = (run / page).read_text(encoding="utf-8")
    tables = tables_of(text)
    assert len(tables) >= 4
    n_key = 0
    for t in tables:
        if t.get("tbody_id") == "cmp-body":     # filled by the script: labelled there (below)
            continue
        _check_table(t, page)
        n_key += any(KEY_HEADER.search(h) for h in t["head"])
    assert n_key >= 3                      # the overview, the per-scenario and hand-in tables
    css = style_of(text)
    # the narrow-screen rule exists and applies to the cards tables and the interactive one
    media = css[css.index(f"@media (max-width:{H.NARROW_PX}px){{table.cards thead"):]
    assert "table.cards thead,.cmp table thead{display:none}" in media
    assert "table.cards td[data-label]::before,.cmp td[data-label]::before" in media
    assert "content:attr(data-label)" in media
    if page == "report.html":
        assert 'setAttribute("data-label"' in text     # the script labels the rows it adds


def test_the_overview_of_six_scenarios_keeps_every_probability_on_screen():
    rows = []
    for k in range(6):
        for tid, p, method in (("gdp", 0.9, "trend+record"), ("jobs", 0.5, "record only")):
            rows.append(dict(target_id=tid, scenario=f"scenario_{k}", status="evaluated",
                             probability=p, mc_se=0.01, method=method, indicator="Ind",
                             indicator_zh="指标", target_set="s", binding="binding",
                             comparator=">=", value=1.0, unit="%"))
    (t,) = tables_of(H.html_pmet_heat(pd.DataFrame(rows)))
    assert len(t["head"]) == 7            # one text column, then the six scenarios
    t["cls"].append("pm")
    _check_table(t, "overview")


def test_fourteen_compared_scenarios_are_split_into_tables_that_fit():
    rows = [dict(target_id="gdp", scenario=f"R{k // 7 + 1} · s{k}", status="evaluated",
                 probability=0.7, mc_se=0.01, method="trend only", indicator="Ind",
                 indicator_zh="指标", target_set="s", binding="binding", comparator=">=",
                 value=1.0, unit="%") for k in range(14)]
    tables = tables_of(H.html_pmet_heat(pd.DataFrame(rows)))
    assert [len(t["head"]) for t in tables] == [7, 7, 3]
    assert sum(len([r for r in t["rows"] if r][0]) - 1 for t in tables) == 14   # each once
    for t in tables:
        t["cls"].append("pm")
        _check_table(t, "compare overview")


def test_the_evaluation_table_puts_indicator_target_p_and_verdict_first():
    cols = [("indicator_zh", "a"), ("indicator_en", "b"), ("type", "c"), ("unit", "d"),
            ("target", "e"), ("latest_actual", "f"), ("p_met_text", "g"), ("verdict", "h"),
            ("method_text", "i")]
    assert [k for k, _ in H.key_first(cols)] == [
        "indicator_zh", "indicator_en", "target", "p_met_text", "verdict", "type", "unit",
        "latest_actual", "method_text"]


def test_the_hand_in_table_has_one_row_per_target_of_the_baseline_with_why(run):
    from openpyxl import load_workbook

    from sim.ensemble import read_netcdf
    from sim.output.report import target_windows
    from sim.output.tables import plan_table

    table = pd.read_csv(run / "targets.csv")
    plan = plan_table(table, read_netcdf(run / "ensemble.nc"), windows=target_windows())
    base = table[(table["scenario"] == "baseline") & (table["status"] == "evaluated")]
    head, rows, rhead, rrows = handin_rows(plan, table)
    assert head == [h for _, h in HANDIN_COLUMNS]
    assert len(rows) + len(rrows) == base["target_id"].nunique() > 0
    assert all(r[-1] for r in rows + rrows)            # every row says why
    for page in ("targets.html", "report.html"):
        text = (run / page).read_text(encoding="utf-8")
        assert "交表 · Hand-in table" in text
    assert "## 交表 · Hand-in table (baseline)" in (run / "targets.md").read_text(encoding="utf-8")
    ws = load_workbook(run / "targets.xlsx", read_only=True)["交表 Hand-in"]
    got = list(ws.iter_rows(values_only=True))
    assert list(got[0]) == head and len(got) == 1 + len(rows) + (2 + len(rrows) if rrows else 0)


def test_why_names_the_data_the_records_and_the_weights():
    common = dict(series="gdp_nominal", information="15 informative observations",
                  record_n_family=5.0, record_met_family=4, family="economic_growth")
    assert why(dict(common, method="trend+record", trend_weight=0.87)) == (
        "data: series gdp_nominal (15 informative observations), weight 87% · past plans: "
        "4 of 5 past targets of its family (economic_growth) were met, weight 13%")
    assert why(dict(common, method="record only", series=np.nan)) == (
        "no series measures it · past plans: 4 of 5 past targets of its family "
        "(economic_growth) were met — P(met) is that rate")
    w = why(dict(common, method="trend only", low_information=True))
    assert w.startswith("data: series gdp_nominal (15 informative observations) ⚠ low "
                        "information, weight 100% · record of its family not used")


def test_the_midterm_chart_places_each_target_by_time_and_task_elapsed(tmp_path):
    plan = pd.DataFrame([
        # 3 of 5 years gone, 40 % of the way from 100 to 200: behind the straight-line path
        dict(scenario="b", target_id="a", indicator_zh="甲", base_value=100.0, base_year=2015,
             latest_value=140.0, latest_year=2018, target_value=200.0, target_year=2020,
             p_met_text="50%", p_met=0.5),
        # a decrease target 10 → 5, at 6 by 2018: 80 % done
        dict(scenario="b", target_id="c", indicator_zh="乙", base_value=10.0, base_year=2015,
             latest_value=6.0, latest_year=2018, target_value=5.0, target_year=2020,
             p_met_text="90%", p_met=0.9),
        # no latest value: left out and counted
        dict(scenario="b", target_id="d", indicator_zh="丙", base_value=1.0, base_year=2015,
             latest_value=None, latest_year=None, target_value=2.0, target_year=2020,
             p_met_text="90%", p_met=0.9),
        # a cap above the base (population ≤ 1480 from 1138) and a ≈ target: no task of change,
        # left out (at 359 % of the way a cap is breached, not done)
        dict(scenario="b", target_id="e", indicator_zh="丁", base_value=1138.0, base_year=2015,
             latest_value=2366.0, latest_year=2018, target_value=1480.0, target_year=2020,
             p_met_text="10%", p_met=0.1, comparator="<="),
        dict(scenario="b", target_id="f", indicator_zh="戊", base_value=1138.0, base_year=2015,
             latest_value=1300.0, latest_year=2018, target_value=1480.0, target_year=2020,
             p_met_text="60%", p_met=0.6, comparator="approx")])
    plan["comparator"] = plan["comparator"].fillna(">=")
    plan.loc[plan["target_id"] == "c", "comparator"] = "<="
    rows, left = progress_rows(plan, "b")
    assert left == 3 and list(rows["target_id"]) == ["a", "c"]
    np.testing.assert_allclose(rows["elapsed"], [0.6, 0.6])
    np.testing.assert_allclose(rows["achieved"], [0.4, 0.8])
    rec = write_midterm_chart(tmp_path, plan, "b")
    assert rec is not None and rec["file"] == MIDTERM_FILE and (tmp_path / MIDTERM_FILE).stat().st_size > 1000
    assert write_midterm_chart(tmp_path, plan.iloc[2:], "b") is None


def test_a_run_subsets_the_cjk_font_once_for_all_its_pages(tmp_path, make_results, monkeypatch):
    calls = []
    real = H.font_face_css

    def counted(text):
        calls.append(len(text))
        return real(text)

    monkeypatch.setattr(H, "font_face_css", counted)
    run = make_results(tmp_path / "run", figures=False)
    assert len(calls) == 1
    faces = [re.search(r"@font-face\{[^}]*\}", (run / p).read_text(encoding="utf-8"))
             for p in ("targets.html", "report.html")]
    if faces[0] is not None:               # the font ships with the package: both pages share it
        assert faces[1] is not None and faces[0].group(0) == faces[1].group(0)
