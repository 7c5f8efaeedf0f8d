"""The hand-in table: one scenario, one row per target, and a one-line "why" per target.

The overview tables stack every scenario; a mid-term evaluation team hands in one table for the
plan as it stands (the baseline: the run's first scenario). :func:`handin_rows` gives its rows —
the targets resting on the indicator's own data, then, apart, the targets resting on past plans
only (:func:`sim.output.evidence_table.split_rows`: no verdict of their own) — each with
:func:`why`, the evidence in one line: which data (series and how informative), which records
(how many targets of the family past plans met) and which weights (``trend_weight`` w of
``z = w·trend + (1 − w)·record``, :mod:`sim.evaluation.combine`).
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from sim.evaluation import evidence as E
from sim.evaluation.record import NOT_EVALUABLE, RECORD_OFF, RECORD_ONLY, TREND_ONLY, TREND_RECORD
from sim.numbers import as_number
from sim.output.evidence_table import split_rows

#: (key, header) of the hand-in rows resting on the indicator's data
HANDIN_COLUMNS = (("indicator_zh", "指标"), ("indicator_en", "Indicator"),
                  ("target", "目标值 Target"), ("unit", "单位 Unit"),
                  ("p_met_text", "达标概率 P(met) ± SE"), ("verdict", "判断 Verdict"),
                  ("basis", "依据 Basis"), ("target_year", "目标年 Year"),
                  ("latest_actual", "最新实际值 Latest actual (year)"),
                  ("achieved", "已实现年均 Achieved per year"),
                  ("required", "尚需年均 Required per year"),
                  ("why", "依据 Why (data · records · weights)"))
#: (key, header) of the past-plans-only rows (no verdict of their own)
HANDIN_RECORD_COLUMNS = (("indicator_zh", "指标"), ("indicator_en", "Indicator"),
                         ("target", "目标值 Target"), ("unit", "单位 Unit"), ("target_year", "目标年 Year"),
                         ("latest_actual", "最新实际值 Latest actual (year)"),
                         ("p_met_text", "往期同类达标率 P(met) from past plans ± SE"),
                         ("why", "依据 Why (no verdict of its own)"))
#: the columns of ``targets.csv`` the "why" reads, joined onto the plan table
WHY_SOURCE = ("series", "trend_weight", "record_n_family", "record_met_family", "family")


def _family(row: Mapping[str, Any]) -> str:
    """'5 of 5 past targets of its family (economic_growth) were met' ('' without counts)."""
    n, met = as_number(row.get("record_n_family")), as_number(row.get("record_met_family"))
    if n is None or met is None:
        return ""
    fam = E.text_of(row.get("family"))
    return f"{int(met)} of {int(n)} past targets of its family{f' ({fam})' if fam else ''} were met"


def why(row: Mapping[str, Any]) -> str:
    """One line on what a row's probability rests on, e.g. 'data: series gdp_nominal (15
    informative observations; …), weight 87 % · past plans: 5 of 5 past targets of its family
    (economic_growth) were met, weight 13 %'."""
    method = E.text_of(row.get("method"))
    series = E.text_of(row.get("series"))
    info = E.text_of(row.get("information"))
    data = f"data: series {series}" + (f" ({info})" if info else "") if series else ""
    fam = _family(row)
    if method == RECORD_ONLY:
        return ("no series measures it · past plans: " + (fam or "record of its family")
                + " — P(met) is that rate")
    if method == TREND_RECORD:
        w = as_number(row.get("trend_weight"))
        if w is None:
            return f"{data} · past plans: {fam}".strip(" ·")
        return (f"{data}, weight {100 * w:.0f}% · past plans: {fam or 'record of its family'}, "
                f"weight {100 * (1 - w):.0f}%")
    if method in (TREND_ONLY, RECORD_OFF):
        rec = ("record of its family not used" if method == TREND_ONLY
               else "record of past plans switched off")
        low = " ⚠ low information" if row.get("low_information") is True else ""
        return f"{data}{low}, weight 100% · {rec}" + (f" ({fam})" if fam else "")
    if method == NOT_EVALUABLE:
        return f"not evaluable: {E.text_of(row.get('reason'))}".strip(": ")
    return info


def handin_scenario(plan: pd.DataFrame) -> str | None:
    """The scenario of the hand-in table: the run's first (the baseline); None without rows."""
    return str(plan["scenario"].iloc[0]) if not plan.empty else None


def _with_why(plan: pd.DataFrame, table: pd.DataFrame, scenario: str) -> pd.DataFrame:
    """The plan rows of ``scenario`` that have a probability, with the ``why`` column."""
    sub = plan[(plan["scenario"] == scenario) & (plan["p_met_text"] != "")]
    src = table[table["scenario"] == scenario] if "scenario" in table else table.iloc[0:0]
    cols = [c for c in WHY_SOURCE if c in src.columns]
    if cols and not sub.empty:
        extra = src.drop_duplicates("target_id").set_index("target_id")[cols]
        sub = sub.drop(columns=[c for c in cols if c in sub.columns]).join(extra, on="target_id")
    return sub.assign(why=[why(r) for r in sub.to_dict("records")]) if not sub.empty else \
        sub.assign(why=pd.Series(dtype=object))


def handin_rows(plan: pd.DataFrame, table: pd.DataFrame, scenario: str | None = None
                ) -> tuple[list[str], list[list], list[str], list[list]]:
    """``(header, rows, record_header, record_rows)`` of the hand-in table of ``scenario``
    (default :func:`handin_scenario`): one row per target, past-plans-only rows apart."""
    scenario = scenario or handin_scenario(plan)
    if scenario is None:
        return [h for _, h in HANDIN_COLUMNS], [], [h for _, h in HANDIN_RECORD_COLUMNS], []
    data, rec = split_rows(_with_why(plan, table, scenario))

    def cells(cols, part: pd.DataFrame) -> list[list]:
        return [[r.get(k) for k, _ in cols] for r in part.to_dict("records")]

    return ([h for _, h in HANDIN_COLUMNS], cells(HANDIN_COLUMNS, data),
            [h for _, h in HANDIN_RECORD_COLUMNS], cells(HANDIN_RECORD_COLUMNS, rec))


def handin_markdown(plan: pd.DataFrame, table: pd.DataFrame, md_table, md_text) -> list[str]:
    """The hand-in section of ``targets.md`` (``md_table``/``md_text`` of
    :mod:`sim.output.tables`); [] without rows."""
    scen = handin_scenario(plan)
    head, rows, rhead, rrows = handin_rows(plan, table, scen)
    if not rows and not rrows:
        return []
    out = [f"## 交表 · Hand-in table ({md_text(scen)}): one row per target", ""]
    if rows:
        out += [md_table(head, rows), ""]
    if rrows:
        out += [f"### {E.RECORD}: {len(rrows)} targets without data of their own (no verdict)",
                "", md_table(rhead, rrows), ""]
    return out
