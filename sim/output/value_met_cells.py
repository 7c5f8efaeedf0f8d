"""The ``value_met_*`` cells of the evaluation tables: the target value met with P 0.5/0.8/0.9.

``targets.csv`` carries ``value_met_p50``, ``value_met_p80``, ``value_met_p90`` and
``value_met_note`` (:mod:`sim.evaluation.value_met`); the plan-layout table keeps the numbers and
one text cell, e.g. ``≤ −21.8 (50%) · ≤ −11.6 (80%) · ≤ 0 (90%)``: a target at that value or
less demanding is met with at least that probability. Record-only rows say in words that their
P(met) does not depend on the value; two-sided rows point to the curve.
"""

from __future__ import annotations

import math
from typing import Any

from sim.evaluation.value_met import NOTE_RECORD_ONLY, VALUE_MET_COLUMNS, VALUE_MET_PROBS
from sim.output.formatting import COMPARATOR_TEXT, fmt_number

HEADER = "可达目标值 (达标概率 50/80/90%) Value met with P = 50/80/90%"
RECORD_ONLY_TEXT = ("不取决于目标值：仅依据以往规划记录 · does not depend on the value "
                    "(record only: past plans' record, no data of this indicator)")
TWO_SIDED_TEXT = "双向目标，见 value_curves.csv · two-sided: see the curve in value_curves.csv"


def _number(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def value_met_text(r: dict) -> str:
    """The readable cell of one ``targets.csv`` row (see module)."""
    cell = r.get("value_met_note")
    note = cell if isinstance(cell, str) else ""
    if note.startswith(NOTE_RECORD_ONLY[:12]):
        return RECORD_ONLY_TEXT
    if note.startswith("two-sided"):
        return TWO_SIDED_TEXT
    values = [_number(r.get(c)) for c in VALUE_MET_COLUMNS]
    if not any(math.isfinite(v) for v in values):
        return ""
    sign = COMPARATOR_TEXT.get(str(r.get("comparator")), str(r.get("comparator") or ""))
    return " · ".join(f"{sign} {fmt_number(v)} ({round(100 * p)}%)" if math.isfinite(v)
                      else f"– ({round(100 * p)}%)" for v, p in zip(values, VALUE_MET_PROBS))


def value_met_cells(r: dict) -> dict[str, Any]:
    """The plan-layout columns of one row: the three numbers and :func:`value_met_text`."""
    out: dict[str, Any] = {c: _number(r.get(c)) for c in VALUE_MET_COLUMNS}
    out["value_met"] = value_met_text(r)
    return out


_NUM = "#,##0.###"
#: the columns of targets.xlsx (key, header, width, number format, definition for the About sheet)
VALUE_MET_XLSX = tuple(
    (c, f"P = {round(100 * p)}% 可达目标值 Value met with P {p:g}", 13, _NUM,
     f"The most demanding target value met with probability at least {p:g} (in the target's "
     f"unit and direction; for a blank target, what each value the province could set would "
     f"mean). Blank for two-sided and record-only targets: see value_met.")
    for c, p in zip(VALUE_MET_COLUMNS, VALUE_MET_PROBS)) + (
    ("value_met", HEADER, 34, None,
     "The three values above in one cell, or why there are none: a record-only P(met) does not "
     "depend on the value; a two-sided target has a curve (value_curves.csv), not one value."),)


BLANK_HEAD = "规划留待省里确定的目标值 · Target values the plan leaves to the province"
PLANNER_WORDS = ("规划将此目标值留给省里确定；下面是每个可能的目标值所对应的达标概率。"
                 " · The plan leaves this value to the province; here is what each value would "
                 "mean.")
BLANK_COLUMNS = (("scenario", "情景 Scenario"), ("indicator_zh", "指标"),
                 ("indicator_en", "Indicator"), ("target", "目标值 Target"),
                 ("target_source", "目标值来源 Target value from"), ("value_met", HEADER))


def blank_value_rows(plan) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the targets whose value the plan leaves blank (none in the plan, or
    a scenario's), with their values met: the tables list only evaluated rows, so these
    would otherwise be missing. ``plan`` is :func:`sim.output.tables.plan_table`'s frame."""
    if plan.empty or "value_met" not in plan:
        return [h for _, h in BLANK_COLUMNS], []
    blank = plan["target_value"].isna() | plan["target_source"].astype(str).str.startswith("情景")
    sub = plan[blank & (plan["value_met"] != "")]
    rows = [[str(r.get(k) if r.get(k) is not None else "") for k, _ in BLANK_COLUMNS]
            for r in sub.to_dict("records")]
    return [h for _, h in BLANK_COLUMNS], rows
