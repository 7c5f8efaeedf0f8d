"""The evidence in the readable tables (:mod:`sim.evaluation.evidence` applied to the plan table).

Rows resting on past plans only are set apart (:func:`split_rows`) and shown with their own
columns (:data:`RECORD_DISPLAY`: no verdict of their own, the record's words instead); every
row's method cell leads with its basis in words (:func:`method_text`); the
"responds to levers" list goes into Markdown (:func:`lever_markdown`) and, per row, into
``targets_table.csv`` (:func:`with_levers`).
"""

from __future__ import annotations

from typing import Callable

import pandas as pd

from sim.evaluation import evidence as E

#: the past-plans-only rows (their own section): no verdict, the record's words instead
RECORD_DISPLAY = (("indicator_zh", "指标"), ("indicator_en", "Indicator"), ("type", "属性 Type"),
                  ("unit", "单位 Unit"), ("target", "目标值 Target"), ("target_year", "目标年 Year"),
                  ("target_source", "目标值来源 Target value from"),
                  ("latest_actual", "最新实际值 Latest actual (year)"),
                  ("p_met_text", "往期同类达标率 P(met) from past plans ± SE"),
                  ("evidence", "依据 Evidence (no verdict of its own)"),
                  ("verdict", "判断 Verdict (only already met, from data)"))


def split_rows(sub: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(rows resting on the indicator's data, rows resting on past plans only)`` of ``sub``."""
    rec = sub["method"] == E.RECORD_ONLY if "method" in sub else pd.Series(False, index=sub.index)
    return sub[~rec], sub[rec]


def with_levers(plan: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """``plan`` with ``responds_to_levers``: True where the row's P(met) differs from the
    baseline's beyond Monte Carlo error (:func:`sim.evaluation.evidence.responds_to_levers`)."""
    moved = E.responds_to_levers(table)
    keys = set(zip(moved["scenario"], moved["target_id"]))
    return plan.assign(responds_to_levers=[(s, t) in keys for s, t in
                                           zip(plan["scenario"], plan["target_id"])])


def lever_markdown(table: pd.DataFrame, md_text: Callable[[str], str]) -> list[str]:
    """The "responds to levers" section of ``targets.md`` (runs with more than one scenario);
    ``md_text`` makes user text inert in Markdown."""
    lines = E.lever_lines(table)
    if not lines:
        return []
    items = [f"- {md_text(x.strip())}" for x in lines[1:]] or [md_text(lines[0])]
    return ["## 受情景影响的目标 · Targets that respond to levers", ""] + items + [""]


def method_text(r: dict) -> str:
    """'数据与往期规划 data and past plans (trend+record)', with '⚠ 信息少 low information' and
    the information column when given."""
    method = str(r.get("method") or "")
    parts = [f"{E.basis(method)} ({method})" if E.basis(method) else method]
    if r.get("low_information") is True:
        parts.append("⚠ 信息少 low information")
    if r.get("information"):
        parts.append(str(r["information"]))
    return "; ".join(p for p in parts if p)
