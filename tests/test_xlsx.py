"""``targets.xlsx`` a team can hand in: readable headers, rounded values, evaluated and
not-evaluable targets on separate sheets, the latest actual with its year, a readable Joint
sheet naming n of N, and an About sheet defining every column."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import load_workbook

from sim.output import tables as T
from sim.output.xlsx import XLSX_COLUMNS, write_xlsx


@pytest.mark.slow
def test_xlsx_formatting(results_folder):
    folder = results_folder
    table = pd.read_csv(folder / "targets.csv")
    wb = load_workbook(folder / "targets.xlsx")
    assert wb.sheetnames[:3] == ["评估表 Evaluation", "达标概率 P(met)", "交表 Hand-in"]
    assert "未评估 Not evaluated" in wb.sheetnames
    assert wb.sheetnames[-1] == "说明 About"
    ws = wb["评估表 Evaluation"]
    assert ws.freeze_panes == "A2"
    header = [c.value for c in ws[1]]
    j = header.index("达标概率 P(met)") + 1
    col = ws.cell(row=1, column=j).column_letter
    assert ws.column_dimensions[col].width == 12
    assert ws.column_dimensions["D"].width == 30
    # only the evaluated rows, in order, rounded to 0.001 pp
    ev = table[table["status"] == "evaluated"]
    values = [ws.cell(row=i, column=j).value for i in range(2, ws.max_row + 1)]
    assert values == pytest.approx(list(ev["probability"]), abs=5e-6)
    assert all(ws.cell(row=i, column=j).number_format == "0.0%" for i in range(2, ws.max_row + 1))
    ranges = [str(cf.sqref) for cf in ws.conditional_formatting]
    assert f"{col}2:{col}{ws.max_row}" in ranges
    # the latest actual comes with its year; the pace with its unit
    assert {"最新实际值 Latest actual", "实际值年份 Year of actual", "年均单位 Pace unit",
            "已实现年均 Achieved per year", "尚需年均 Required per year", "判断 Verdict",
            "基期值 Base value", "容差 Tolerance (≈)"} <= set(header)
    wide = wb["达标概率 P(met)"]
    assert [c.value for c in wide[1]][3:6] == ["目标值 Target", "单位 Unit", "年 Year"]
    assert wide["G1"].value == "依据 Basis" and wide["H2"].number_format == "0.0%"
    ne = wb["未评估 Not evaluated"]
    listed = {ne.cell(row=i, column=1).value for i in range(2, ne.max_row + 1)}
    assert listed == set(table.loc[table["status"] != "evaluated", "target_id"])


@pytest.mark.slow
def test_about_sheet_defines_every_column_and_joint_is_readable(results_folder):
    wb = load_workbook(results_folder / "targets.xlsx")
    about = {r[0]: r[1] for r in wb["说明 About"].iter_rows(values_only=True) if r[0]}
    header = [c.value for c in wb["评估表 Evaluation"][1]]
    for h in header:
        assert about.get(h), f"no definition of column {h!r}"
    assert "注意 Caveats" in about
    joint = wb["联合概率 Joint"]
    head = [c.value for c in joint[1]]
    assert not [h for h in head if h.startswith("p_")]          # no raw column names
    assert "P(≥ 1 met)" in head and "总数 N in group" in head
    numbers = [c.value for row in joint.iter_rows(min_row=2) for c in row
               if isinstance(c.value, float)]
    assert numbers and all(round(x, 5) == x for x in numbers)     # no 0.9999999999999999
    what = [r[head.index("概率 Probability")] for r in joint.iter_rows(min_row=2, values_only=True)]
    assert all(w.startswith("P(all ") and w.endswith(" met)") for w in what)


def test_midterm_workbook_has_the_plan_start_columns_and_drop_outs(tmp_path):
    rows = [dict(target_id=tid, scenario="baseline", target_set="fyp13_2020", indicator=tid,
                 indicator_zh="指标", kind="level", unit="元", comparator=">=", value=10.0,
                 target_year=2020, binding="binding", value_source="plan", status="evaluated",
                 probability=0.8, mc_se=0.01, method=m, p_at_plan_start=0.7,
                 delta_p_since_start=0.1, delta_p_since_start_se=0.015, change_since_start=ch)
            for tid, m, ch in (("a", "trend+record", ""),
                               ("b", "record only", "method changed since plan start: x"))]
    rows.append(dict(rows[0], target_id="c", status="not evaluable", reason="no value",
                     probability=None))
    table = pd.DataFrame(rows)
    plan = T.plan_table(table)
    path = write_xlsx(plan, table, tmp_path / "t.xlsx")
    wb = load_workbook(path)
    ws = wb["评估表 Evaluation"]
    header = [c.value for c in ws[1]]
    assert [r[3] for r in ws.iter_rows(min_row=2, values_only=True)] == ["a"]
    # issue 21: a record-only row has its own sheet (no verdict of its own)
    rec = wb["往期规划 Past plans only"]
    assert [r[3] for r in rec.iter_rows(min_row=2, values_only=True)] == ["b"]
    assert {"规划初期 P at plan start", "ΔP since plan start", "ΔP ± SE"} <= set(header)
    r = dict(zip(header, next(ws.iter_rows(min_row=2, values_only=True))))
    assert (r["规划初期 P at plan start"], r["ΔP since plan start"], r["ΔP ± SE"]) == (0.7, 0.1, 0.015)
    assert [c.value for c in wb["评估变化 Since plan start"]["A"]][1:] == ["b"]
    assert [c.value for c in wb["未评估 Not evaluated"]["A"]][1:] == ["c"]
    # a run that is not a mid-term has neither the columns nor the sheet
    plain = T.plan_table(table.drop(columns=["p_at_plan_start", "change_since_start"]))
    wb = load_workbook(write_xlsx(plain, table, tmp_path / "p.xlsx"))
    assert "评估变化 Since plan start" not in wb.sheetnames
    assert "规划初期 P at plan start" not in [c.value for c in wb["评估表 Evaluation"][1]]
    assert len({c[1] for c in XLSX_COLUMNS}) == len(XLSX_COLUMNS)      # headers are unique
