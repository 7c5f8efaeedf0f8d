"""``targets.xlsx``: the evaluation table as a workbook people filter and sort.

Sheets 评估表 Evaluation (the plan-layout table of :func:`sim.output.tables.plan_table`),
达标概率 P(met) (targets × scenarios), 未评估 Not evaluated, 联合 Joint (when given) and
说明 About (provenance). Every sheet has a frozen, bold header row and set column widths;
probabilities carry a percentage number format, and P(met) columns a red–yellow–green colour
scale. openpyxl is imported when a workbook is written. No cell is ever a formula
(:func:`no_formulas`): text from user files that starts with ``=`` is stored as text.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from sim.evaluation import as_int
from sim.output.tables import not_evaluable, target_text, wide_pmet

XLSX_COLUMNS = (  # key, header, width, number format
    ("scenario", "情景 Scenario", 16, None),
    ("scenario_zh", "情景名称", 14, None),
    ("target_set", "目标来源 Target set", 16, None),
    ("target_id", "编号 Target id", 30, None),
    ("indicator_zh", "指标", 26, None),
    ("indicator_en", "Indicator", 34, None),
    ("type", "属性 Type", 16, None),
    ("unit", "单位 Unit", 12, None),
    ("base", "基期 Base", 12, None),
    ("target", "目标值 Target", 14, None),
    ("target_year", "目标年 Year", 9, "0"),
    ("latest_value", "最新实际值 Latest actual (data ≤ as_of)", 16, "#,##0.###"),
    ("median", "预测中位数 Median", 14, "#,##0.###"),
    ("p10", "P10", 12, "#,##0.###"),
    ("p90", "P90", 12, "#,##0.###"),
    ("p_met", "达标概率 P(met)", 12, "0.0%"),
    ("p_se", "± SE", 9, "0.00%"),
    ("ci_low", "Wilson 95% 下限 low", 11, "0.0%"),
    ("ci_high", "Wilson 95% 上限 high", 11, "0.0%"),
    ("method", "方法 Method", 16, None),
    ("p_trend", "趋势 p_trend", 11, "0.0%"),
    ("p_record", "规划记录 p_record", 11, "0.0%"),
    ("likelihood", "可能性 Likelihood", 22, None),
    ("required_annual", "所需年均变化 Required per year", 14, "0.00"),
    ("status", "状态 Status", 18, None),
    ("reason", "原因 Reason", 50, None),
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
    _evaluation_sheet(wb.active, plan)
    _pmet_sheet(wb.create_sheet("达标概率 P(met)"), table, scenario_labels or {})
    _not_evaluated_sheet(wb.create_sheet("未评估 Not evaluated"), table)
    if joint is not None and not joint.empty:
        _joint_sheet(wb.create_sheet("联合概率 Joint"), joint)
    ws = wb.create_sheet("说明 About")
    _header(ws, ["项目 Item", "值 Value"], [24, 90])
    for k, v in (provenance or {}).items():
        ws.append([str(k), str(v)])
    no_formulas(wb)
    wb.save(path)
    return Path(path)


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


def _clean(v):
    """A cell value openpyxl writes: NaN → empty, numpy scalars → Python numbers."""
    if v is None:
        return None
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, (np.integer,)):
        return int(v)
    return v


def _format_column(ws, j: int, fmt: str) -> None:
    """Number format ``fmt`` on column ``j`` below the header."""
    for (cell,) in ws.iter_rows(min_row=2, max_row=ws.max_row, min_col=j, max_col=j):
        cell.number_format = fmt


def _colour_scale(ws, cells: str) -> None:
    from openpyxl.formatting.rule import ColorScaleRule

    ws.conditional_formatting.add(cells, ColorScaleRule(**SCALE))


def _evaluation_sheet(ws, plan: pd.DataFrame) -> None:
    from openpyxl.utils import get_column_letter

    ws.title = "评估表 Evaluation"
    _header(ws, [h for _, h, _, _ in XLSX_COLUMNS], [w for _, _, w, _ in XLSX_COLUMNS])
    for r in plan.to_dict("records"):
        ws.append([_clean(r.get(k)) for k, _, _, _ in XLSX_COLUMNS])
    n = ws.max_row
    for j, (key, _, _, fmt) in enumerate(XLSX_COLUMNS, start=1):
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
    _header(ws, ["编号 Target id", "指标", "Indicator", "目标值 Target", "年 Year"]
            + [f"{scenario_labels.get(s, '')} {s}".strip() for s in scen],
            [30, 26, 34, 14, 8] + [16] * len(scen))
    for tid, r in wide.iterrows():
        f = first.loc[tid].to_dict()
        ws.append([tid, f.get("indicator_zh"), f.get("indicator"), target_text(f),
                   as_int(f.get("target_year"))] + [_clean(v) for v in r.values])
    if len(wide) and scen:
        cells = f"F2:{get_column_letter(5 + len(scen))}{ws.max_row}"
        for row in ws[cells]:
            for cell in row:
                cell.number_format = "0.0%"
        _colour_scale(ws, cells)


def _not_evaluated_sheet(ws, table: pd.DataFrame) -> None:
    _header(ws, ["编号 Target id", "目标来源 Set", "指标", "Indicator", "年 Year", "原因 Reason",
                 "情景 Scenarios"], [30, 16, 26, 34, 8, 60, 20])
    for r in not_evaluable(table).to_dict("records"):
        ws.append([_clean(r[k]) for k in ("target_id", "target_set", "indicator_zh", "indicator",
                                          "target_year", "reason", "scenarios")])


def _joint_sheet(ws, joint: pd.DataFrame) -> None:
    from openpyxl.utils import get_column_letter

    cols = list(joint.columns)
    _header(ws, cols, [max(10, min(24, len(c) + 2)) for c in cols])
    for r in joint.to_dict("records"):
        ws.append([_clean(r[c]) for c in cols])
    for j, c in enumerate(cols, start=1):
        if c.startswith("p_"):
            _format_column(ws, j, "0.00%" if c.endswith("_se") else "0.0%")
        if c == "p_all" and ws.max_row > 1:
            col = get_column_letter(j)
            _colour_scale(ws, f"{col}2:{col}{ws.max_row}")
