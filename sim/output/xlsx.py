"""``targets.xlsx``: the evaluation table as a workbook people filter, sort and hand in.

Sheets: 评估表 Evaluation (the evaluated rows of :func:`sim.output.tables.plan_table`, with
readable bilingual headers: base value (year), target with its ≈ tolerance and the source of a
scenario's value, latest actual and its year, achieved and required pace with their unit,
"already met", P(met) ± SE, and in a mid-term run P at plan start and ΔP ± SE; verdict, method,
information), 达标概率 P(met) (targets × scenarios, with units), 未评估 Not evaluated (one row per
target and reason), 交表 Hand-in (the baseline only, one row per target with its "why",
past-plans-only rows after a blank row: :mod:`sim.output.handin`), 评估变化 Since plan start
(mid-term: drop-outs and method changes), 联合
Joint (n of N with the targets left out, P(≥ k met)) and 说明 About (provenance, the definition of
every column, caveats). Every sheet has a frozen, bold header row and set column widths; numbers
are rounded (:func:`_clean`) and carry number formats, P(met) columns a red–yellow–green colour
scale. openpyxl is imported when a workbook is written. No cell is ever a formula
(:func:`no_formulas`): text from user files that starts with ``=`` is stored as text.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from sim.evaluation import as_int
from sim.evaluation import evidence as E
from sim.output.handin import handin_rows
from sim.output.tables import (PACE_NOTE, dropouts, is_midterm, joint_rows, not_evaluable,
                               split_rows, target_text, wide_pmet)
from sim.output.value_met_cells import VALUE_MET_XLSX, blank_value_rows

P, PP, NUM = "0.0%", "0.00%", "#,##0.###"
XLSX_COLUMNS = (  # key, header, width, number format, definition (About sheet)
    ("scenario", "情景 Scenario", 16, None, "Scenario name in the scenario file."),
    ("scenario_zh", "情景名称", 14, None, "The scenario's Chinese label (label_zh)."),
    ("target_set", "目标来源 Target set", 16, None, "The plan the target is from."),
    ("target_id", "编号 Target id", 30, None, "Target id (python -m sim targets)."),
    ("indicator_zh", "指标", 26, None, "Indicator, as the plan names it."),
    ("indicator_en", "Indicator", 34, None, "Indicator in English."),
    ("type", "属性 Type", 16, None, "约束性 binding / 预期性 indicative / 未注明 unspecified."),
    ("unit", "单位 Unit", 12, None, "Unit of the indicator (base, target, actual, projection)."),
    ("base_value", "基期值 Base value", 14, NUM,
     "The indicator at the plan's start: the plan's stated base, else the observed level in the "
     "base year; 0 for a cumulative change. Never a model estimate."),
    ("base", "基期 Base (year, from)", 24, None, "The base value with its year and source."),
    ("target", "目标值 Target", 18, None, "Comparator and value; ≈ targets with their tolerance."),
    ("tolerance", "容差 Tolerance (≈)", 18, None,
     "For ≈ / = targets: the relative tolerance within which the target counts as met."),
    ("target_year", "目标年 Year", 9, "0", "The year the target is judged in."),
    ("target_source", "目标值来源 Target value from", 28, None,
     "规划 plan, or a value a scenario supplied, with the source the scenario file gives."),
    ("latest_value", "最新实际值 Latest actual", 14, NUM,
     "The latest observation dated <= as_of (for a cumulative change: the observed change in % "
     "since its base year). Blank without one: never a model estimate."),
    ("latest_year", "实际值年份 Year of actual", 10, "0", "The year of that observation."),
    ("latest_source", "实际值来源 Source of actual", 30, None, "Where the observation comes from."),
    ("achieved_pace", "已实现年均 Achieved per year", 13, "0.00",
     "Annual pace from the base value to the latest actual, in the pace unit."),
    ("required_pace", "尚需年均 Required per year", 13, "0.00",
     "Annual pace from the latest actual that would just meet the target, in the pace unit; "
     "blank where already met (or, without an actual, the model's rate from its as_of estimate)."),
    ("pace_unit", "年均单位 Pace unit", 10, None,
     "pp/yr for shares in %, %/yr (compound) for levels and cumulative changes, unit/yr for sums."),
    ("already_met", "已达到 Already met", 10, None,
     "TRUE where the latest actual already meets the target."),
    ("required", "尚需年均 Required (text)", 26, None, "The required pace with its years, or 'already met'."),
    ("median", "预测中位数 Median", 13, NUM,
     "Median of the indicator in the target year over the headline draws (those P(met) counts: "
     "the combined trend+record draws for 数据与往期规划 rows, the trend's otherwise)."),
    ("p10", "P10", 12, NUM, "10th percentile of the same draws."),
    ("p90", "P90", 12, NUM, "90th percentile of the same draws."),
    ("projection_draws", "预测依据 Projection of", 24, None,
     "Which draws median, P10 and P90 summarise (the fan charts draw the same at the target year)."),
    ("p_met", "达标概率 P(met)", 12, P, "Probability that the target is met (share of draws)."),
    ("p_se", "± SE", 9, PP, "Monte Carlo standard error of P(met)."),
    ("ci_low", "Wilson 95% 下限 low", 11, P, "Wilson 95% interval of the Monte Carlo estimate."),
    ("ci_high", "Wilson 95% 上限 high", 11, P, "Upper end of that interval."),
    ("p_at_plan_start", "规划初期 P at plan start", 12, P,
     "Mid-term runs: P(met) with the data as of the plan's start."),
    ("delta_p", "ΔP since plan start", 12, P, "P(met) now minus P at plan start."),
    ("delta_p_se", "ΔP ± SE", 9, PP, "Standard error of ΔP (the two runs independent)."),
    ("delta_p_data", "ΔP 数据 data (p_trend)", 12, P,
     "Mid-term runs: the change of p_trend since the plan's start (the indicator's data)."),
    ("delta_p_record", "ΔP 往期规划 record (p_record)", 12, P,
     "Mid-term runs: the change of p_record since the plan's start (past plans judged since)."),
    ("change_since_start", "评估变化 Change since plan start", 40, None,
     "Mid-term runs: a drop-out or method change, and what moved every ΔP beyond 2 SE (the "
     "indicator's data, or past plans judged since: an update of the reference class)."),
    ("verdict", "判断 Verdict", 16, None,
     "有望完成 on track (P ≥ 66%), 存在风险 at risk (33–66%), 难以完成 off track (< 33%), only "
     "where the indicator's data enter; 已达到 already met where the latest actual meets the "
     "target (and P ≥ 66%)."),
    ("basis", "依据 Basis", 22, None, E.BASIS_NOTE),
    ("likelihood", "可能性 Likelihood", 22, None, "IPCC calibrated likelihood term of P(met)."),
    ("evidence", "依据说明 Evidence", 30, None,
     "The basis; for past-plans-only rows how many past targets of the family were met."),
    ("method", "方法 Method", 14, None,
     "trend+record, trend only, record only (see the caveats below)."),
    ("low_information", "信息少 Low information", 10, None,
     "TRUE where the probability rests on few past verdicts of its family."),
    ("information", "信息 Information", 20, None, "How much information the probability rests on."),
    ("p_trend", "趋势 p_trend", 11, P, "P(met) if the calibrated trends continue under the scenario."),
    ("p_record", "规划记录 p_record", 11, P, "P(met) from the record of past plans alone."),
    *VALUE_MET_XLSX,
)
NOT_EVALUATED_NOTE = "Not-evaluable targets are on the sheet 未评估 Not evaluated, with the reason."
CAVEATS = (
    "A probability is conditional on the model, the data up to as_of and the plan records known "
    "then; it is a forecast, not an observation.",
    "p_trend continues the calibrated trends plus the scenario's levers; it does not know a "
    "plan's policies unless a scenario states them. p_record knows only how past targets of the "
    "same family ended.",
    "record only: no series measures the indicator (or it has no history by as_of): P(met) is "
    "the plan record's rate, flagged low information where its family has few verdicts.",
    "Base value and latest actual are observations (or the plan's own base); a cell saying "
    "'model estimate' is from the model.",
    "A joint probability covers only the targets with a probability (n of N); the others are "
    "listed as left out.",
)

#: red (0) – yellow (0.5) – green (1) colour scale on probabilities
SCALE = dict(start_type="num", start_value=0, start_color="F8696B",
             mid_type="num", mid_value=0.5, mid_color="FFEB84",
             end_type="num", end_value=1, end_color="63BE7B")


def write_xlsx(plan: pd.DataFrame, table: pd.DataFrame, path: Path, *, joint: pd.DataFrame | None = None,
               provenance: dict | None = None, scenario_labels: dict | None = None) -> Path:
    """Write ``targets.xlsx`` (the sheets listed in the module docstring) to ``path``.

    ``plan`` is :func:`~sim.output.tables.plan_table` of ``table`` (``targets.csv``); ``joint``
    is ``joint.csv``; ``provenance`` the key/value pairs of the About sheet.
    """
    from openpyxl import Workbook

    wb = Workbook()
    cols = _columns(plan)
    data, rec = split_rows(plan[plan["p_met_text"] != ""])
    _evaluation_sheet(wb.active, data, cols)
    if not rec.empty:
        _evaluation_sheet(wb.create_sheet(), rec, _record_columns(cols),
                          "往期规划 Past plans only")
    _pmet_sheet(wb.create_sheet("达标概率 P(met)"), table, scenario_labels or {})
    head, rows, rhead, rrows = handin_rows(plan, table)   # one scenario, one row per target
    _rows_sheet(wb.create_sheet("交表 Hand-in"), head, rows + ([[], rhead] + rrows if rrows else []))
    _not_evaluated_sheet(wb.create_sheet("未评估 Not evaluated"), table)
    head, blank = blank_value_rows(plan)   # not on the evaluation sheet: no probability of their own
    if blank:
        _rows_sheet(wb.create_sheet("留白目标值 Blank values"), head, blank)
    if is_midterm(plan):
        _dropout_sheet(wb.create_sheet("评估变化 Since plan start"), plan)
    moved = E.responds_to_levers(table)
    if table["scenario"].nunique() > 1:
        _levers_sheet(wb.create_sheet("受情景影响 Levers"), moved)
    if joint is not None and not joint.empty:
        _joint_sheet(wb.create_sheet("联合概率 Joint"), joint)
    _about_sheet(wb.create_sheet("说明 About"), cols, provenance or {})
    no_formulas(wb)
    wb.save(path)
    return Path(path)


def _columns(plan: pd.DataFrame) -> list[tuple]:
    """The evaluation sheet's columns: mid-term ones only in a mid-term run, ``information``
    only when the run has it."""
    mid = {"p_at_plan_start", "delta_p", "delta_p_se", "change_since_start"}
    has_info = "information" in plan and bool((plan["information"] != "").any())
    return [c for c in XLSX_COLUMNS if (c[0] not in mid or is_midterm(plan))
            and (c[0] != "information" or has_info)]


def _about_sheet(ws, cols: list[tuple], provenance: dict) -> None:
    """Provenance, the definition of every column of the evaluation sheet, and the caveats."""
    _header(ws, ["项目 Item", "说明 Value / definition"], [30, 110])
    for k, v in provenance.items():
        ws.append([str(k), str(v)])
    ws.append([])
    ws.append(["列 Column (评估表 Evaluation)", "定义 Definition"])
    for _, head, _, _, definition in cols:
        ws.append([head, definition])
    ws.append([])
    ws.append(["注意 Caveats", NOT_EVALUATED_NOTE])
    for c in CAVEATS:
        ws.append(["", c])
    ws.append(["", PACE_NOTE])
    from openpyxl.styles import Alignment, Font

    for row in ws.iter_rows(min_row=2):
        row[1].alignment = Alignment(wrap_text=True, vertical="top")
        if row[0].value in ("列 Column (评估表 Evaluation)", "注意 Caveats"):
            row[0].font = row[1].font = Font(bold=True)


def no_formulas(wb) -> int:
    """Make every cell whose text openpyxl took for a formula (a leading ``=``) a plain string.

    Text in the workbook comes from user files (scenario labels and descriptions, reasons,
    units); a label ``=HYPERLINK(...)`` must show as that text, never run as a formula. Other
    leading characters spreadsheet programs treat specially in CSV (``+ - @``, tab, CR) are
    inert in a string cell of an XLSX file. Returns the number of cells changed.
    """
    n = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
                    n += 1
    return n


def _header(ws, names, widths) -> None:
    """First row: bold names on a tinted fill, wrapped; column widths; frozen below."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws.append(list(names))
    for j, w in enumerate(widths, start=1):
        c = ws.cell(row=1, column=j)
        c.font, c.fill = Font(bold=True), PatternFill("solid", fgColor="DDE6F0")
        c.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[get_column_letter(j)].width = w
    ws.freeze_panes = "A2"


def _clean(v, fmt: str | None = None):
    """A cell value openpyxl writes: NaN → empty, numpy scalars → Python numbers, rounded to
    what the number format ``fmt`` can show and a little more (probabilities to 0.01 pp, other
    numbers to 6 significant digits: no 0.9999999999999999)."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return None
        if fmt in (P, PP):
            return round(float(v), 5)
        return float(f"{float(v):.6g}")
    return v


def _format_column(ws, j: int, fmt: str) -> None:
    """Number format ``fmt`` on column ``j`` below the header."""
    for (cell,) in ws.iter_rows(min_row=2, max_row=ws.max_row, min_col=j, max_col=j):
        cell.number_format = fmt


def _colour_scale(ws, cells: str) -> None:
    from openpyxl.formatting.rule import ColorScaleRule

    ws.conditional_formatting.add(cells, ColorScaleRule(**SCALE))


#: columns a past-plans-only row has no use for (no verdict, no projection of its own)
NOT_FOR_RECORD = {"verdict", "likelihood", "median", "p10", "p90", "projection_draws", "p_trend",
                  "achieved_pace", "required_pace", "pace_unit", "required", "delta_p_data"}


def _record_columns(cols: list[tuple]) -> list[tuple]:
    return [c for c in cols if c[0] not in NOT_FOR_RECORD]


def _levers_sheet(ws, moved: pd.DataFrame) -> None:
    """Targets whose P(met) differs from the baseline's beyond Monte Carlo error."""
    _header(ws, ["编号 Target id", "指标", "Indicator", "情景 Scenario", "ΔP vs baseline",
                 "± paired SE"], [30, 26, 34, 16, 12, 10])
    if moved.empty:
        ws.append(["无 none: no target's P(met) differs from the baseline's beyond Monte Carlo "
                   "error"])
    for r in moved.to_dict("records"):
        ws.append([r["target_id"], r["indicator_zh"], r["indicator"], r["scenario"],
                   _clean(r["delta"], P), _clean(r["delta_se"], PP)])
    _format_column(ws, 5, P)
    _format_column(ws, 6, PP)


def _evaluation_sheet(ws, plan: pd.DataFrame, cols: list[tuple],
                      title: str = "评估表 Evaluation") -> None:
    """The evaluated rows of the plan table (not-evaluable ones have their own sheet)."""
    from openpyxl.utils import get_column_letter

    ws.title = title
    _header(ws, [c[1] for c in cols], [c[2] for c in cols])
    for r in plan[plan["p_met_text"] != ""].to_dict("records"):
        ws.append([_clean(r.get(c[0]), c[3]) for c in cols])
    n = ws.max_row
    for j, (key, _, _, fmt, _) in enumerate(cols, start=1):
        if fmt:
            _format_column(ws, j, fmt)
        if key == "p_met" and n > 1:
            col = get_column_letter(j)
            _colour_scale(ws, f"{col}2:{col}{n}")
    ws.auto_filter.ref = ws.dimensions


def _pmet_sheet(ws, table: pd.DataFrame, scenario_labels: dict) -> None:
    from openpyxl.utils import get_column_letter

    wide = wide_pmet(table)
    first = table.drop_duplicates("target_id").set_index("target_id")
    scen = list(wide.columns)
    _header(ws, ["编号 Target id", "指标", "Indicator", "目标值 Target", "单位 Unit", "年 Year",
                 "依据 Basis"] + [f"{scenario_labels.get(s, '')} {s}".strip() for s in scen],
            [30, 26, 34, 18, 10, 8, 22] + [16] * len(scen))
    for tid, r in wide.iterrows():
        f = first.loc[tid].to_dict()
        ws.append([tid, f.get("indicator_zh"), f.get("indicator"), target_text(f, with_tolerance=True),
                   f.get("unit") if isinstance(f.get("unit"), str) else None,
                   as_int(f.get("target_year")), E.basis(f.get("method"))]
                  + [_clean(v, P) for v in r.values])
    if len(wide) and scen:
        cells = f"H2:{get_column_letter(7 + len(scen))}{ws.max_row}"
        for row in ws[cells]:
            for cell in row:
                cell.number_format = P
        _colour_scale(ws, cells)


def _not_evaluated_sheet(ws, table: pd.DataFrame) -> None:
    _header(ws, ["编号 Target id", "目标来源 Set", "指标", "Indicator", "年 Year", "原因 Reason",
                 "情景 Scenarios"], [30, 16, 26, 34, 8, 60, 20])
    for r in not_evaluable(table).to_dict("records"):
        r = dict(r, reason=E.bilingual(r["reason"]))
        ws.append([_clean(r[k]) for k in ("target_id", "target_set", "indicator_zh", "indicator",
                                          "target_year", "reason", "scenarios")])


def _rows_sheet(ws, head: list[str], rows: list[list[str]]) -> None:
    _header(ws, head, [max(12, min(60, len(h) + 4)) for h in head])
    for r in rows:
        ws.append([_clean(c) for c in r])


def _dropout_sheet(ws, plan: pd.DataFrame) -> None:
    _header(ws, ["编号 Target id", "指标", "Indicator", "属性 Type", "变化 Change since plan start",
                 "情景 Scenarios"], [30, 26, 34, 16, 80, 20])
    for r in dropouts(plan).to_dict("records"):
        ws.append([r[k] for k in ("target_id", "indicator_zh", "indicator_en", "type",
                                  "change_since_start", "scenarios")])


JOINT_COLUMNS = (  # key, header, width, format
    ("scenario", "情景 Scenario", 16, None), ("target_set", "目标集 Set", 18, None),
    ("group", "范围 Group", 10, None), ("what", "概率 Probability", 36, None),
    ("n_targets", "可评估 n evaluable", 10, "0"), ("n_in_group", "总数 N in group", 10, "0"),
    ("p_all", "全部达标 P(all n met)", 12, P), ("p_all_se", "± SE", 9, PP),
    ("expected_met", "预期达标数 Expected met", 12, "0.0"),
    ("left_out", "未计入 Left out (no probability)", 60, None),
)


def _joint_sheet(ws, joint: pd.DataFrame) -> None:
    """Joint probabilities with readable headers: n of N, the left-out targets, P(≥ k met)."""
    from openpyxl.utils import get_column_letter

    ks = sorted(int(c.rsplit("_", 1)[1]) for c in joint.columns if c.startswith("p_at_least_"))
    cols = list(JOINT_COLUMNS) + [(f"p_at_least_{k}", f"P(≥ {k} met)", 10, P) for k in ks]
    _header(ws, [c[1] for c in cols], [c[2] for c in cols])
    what = {(r["scenario"], r["target_set"], r["group"]): r["what"] for r in _joint_words(joint)}
    for r in joint.to_dict("records"):
        r = dict(r, what=what.get((r["scenario"], r["target_set"], r["group"]), ""))
        ws.append([_clean(r.get(c[0]), c[3]) for c in cols])
    for j, (key, _, _, fmt) in enumerate(cols, start=1):
        if fmt:
            _format_column(ws, j, fmt)
        if key == "p_all" and ws.max_row > 1:
            col = get_column_letter(j)
            _colour_scale(ws, f"{col}2:{col}{ws.max_row}")


def _joint_words(joint: pd.DataFrame) -> list[dict]:
    return [dict(w, group=g) for w, g in zip(joint_rows(joint), joint["group"])]
