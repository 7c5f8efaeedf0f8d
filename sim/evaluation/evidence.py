"""The vocabulary of evidence: what each probability rests on, in words, once for every output.

Every P(met) states its *basis* (from the row's ``method``, :mod:`sim.evaluation.record`):

============================  ==========================================================
method                        basis
============================  ==========================================================
``trend only`` (and off)      本指标数据 this indicator's data
``trend+record``              数据与往期规划 data and past plans
``record only``               参考往期规划 past plans only
``not evaluable``             未能评估 not evaluable
============================  ==========================================================

Verdict rules (:func:`verdict`): a verdict (on track / at risk / off track) only where the
indicator's own data enter (:func:`has_verdict`); "already met" from an observation stays a
verdict whatever the method. A record-only row gets no verdict of its own but the record's
words (:func:`record_text`): "参考往期规划 past plans only: 34 of 40 targets of this family were
met". ΔP since the plan's start is *significant* beyond :data:`SIGNIFICANT_SE` standard errors
(:func:`significant`); a record-only ΔP is an update of the reference class, never progress
(:func:`delta_words`). A scenario "moves" a target when its paired ΔP against the baseline is
beyond :data:`SIGNIFICANT_SE` paired standard errors (:func:`responds_to_levers`).
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

import pandas as pd

from sim.evaluation.record import NOT_EVALUABLE, RECORD_OFF, RECORD_ONLY, TREND_ONLY, TREND_RECORD
from sim.numbers import as_number

DATA, DATA_AND_RECORD, RECORD, NONE = (
    "本指标数据 this indicator's data", "数据与往期规划 data and past plans",
    "参考往期规划 past plans only", "未能评估 not evaluable")
#: the basis in words, by method
BASIS = {TREND_ONLY: DATA, RECORD_OFF: DATA, TREND_RECORD: DATA_AND_RECORD, RECORD_ONLY: RECORD,
         NOT_EVALUABLE: NONE}
#: a short form for narrow places (terminal, figure notes)
BASIS_SHORT = {DATA: "data", DATA_AND_RECORD: "data+past plans", RECORD: "past plans only",
               NONE: "not evaluable"}
#: which draws a projection (median [80 % interval]) summarises, by method
DRAWS = {TREND_ONLY: "趋势 trend draws", RECORD_OFF: "趋势 trend draws",
         TREND_RECORD: "趋势与记录合并 combined trend+record draws (the headline)",
         RECORD_ONLY: "", NOT_EVALUABLE: ""}
#: verdict words by P(met): the IPCC bands of the traffic light (≥ 66 % likely, < 33 % unlikely)
VERDICTS = ((0.66, "有望完成 on track"), (0.33, "存在风险 at risk"), (0.0, "难以完成 off track"))
ALREADY_MET = "已达到 already met"
#: ΔP beyond this many standard errors is reported as a change
SIGNIFICANT_SE = 2.0
#: the sentence on how to read the basis column (tables, report, captions)
BASIS_NOTE = ("依据 Basis: 本指标数据 this indicator's data (the trend model of its series) · "
              "数据与往期规划 data and past plans (the trend combined with how past plans' targets "
              "of the family ended) · 参考往期规划 past plans only (no series measures it: no "
              "verdict of its own, only how often past targets of its family were met).")


def text_of(v: Any) -> str:
    """A text cell ('' for NaN / None)."""
    return v if isinstance(v, str) else ""


def basis(method: Any) -> str:
    """The basis in words of a row's ``method`` ('' for an unknown one)."""
    return BASIS.get(text_of(method), "")


def uses_data(method: Any) -> bool:
    """Whether the indicator's own data enter the probability (trend only / trend+record)."""
    return basis(method) in (DATA, DATA_AND_RECORD)


def has_verdict(method: Any) -> bool:
    """Whether a row of this method gets an on-track / at-risk / off-track verdict."""
    return uses_data(method)


def verdict(p: Any, method: Any = TREND_ONLY, already_met: bool = False) -> str:
    """The verdict of a row: '已达到 already met' where the latest data meet the target (and,
    for a row with a trend, P ≥ 66 %); else on track (≥ 66 %), at risk (33–66 %), off track
    (< 33 %) where the indicator's data enter; '' for past-plans-only rows and no P."""
    x = as_number(p)
    if already_met and (not has_verdict(method) or (x is not None and x >= VERDICTS[0][0])):
        return ALREADY_MET
    if x is None or not has_verdict(method):
        return ""
    return next(word for lo, word in VERDICTS if x >= lo)


def record_text(row: Mapping[str, Any]) -> str:
    """The record's words for a row: '参考往期规划 past plans only: 34 of 40 targets of this
    family (economy) were met 往期同类目标40项中34项完成'; without the counts, the record's P."""
    fam = text_of(row.get("family"))
    n, met = as_number(row.get("record_n_family")), as_number(row.get("record_met_family"))
    of = f" ({fam})" if fam else ""
    if n is not None and met is not None:
        return (f"{RECORD}: {int(met)} of {int(n)} targets of this family{of} were met "
                f"往期同类目标{int(n)}项中{int(met)}项完成")
    p = as_number(row.get("p_record", row.get("probability")))
    pn = f" from {int(n)} past targets of this family{of}" if n is not None else ""
    return f"{RECORD}: p_record {100 * p:.1f}%{pn}" if p is not None else RECORD


def evidence(row: Mapping[str, Any]) -> str:
    """The evidence cell of a row: the basis, and for past-plans-only rows the record's words."""
    method = text_of(row.get("method"))
    if method == RECORD_ONLY:
        return record_text(row)
    return basis(method)


def is_record_only(row: Mapping[str, Any]) -> bool:
    """Whether a row rests on past plans only (no verdict of its own)."""
    return text_of(row.get("method")) == RECORD_ONLY


def is_record_only_method(method: Any) -> bool:
    """Whether a ``method`` rests on past plans only."""
    return text_of(method) == RECORD_ONLY


def significant(dp: Any, se: Any) -> bool:
    """|ΔP| beyond :data:`SIGNIFICANT_SE` standard errors (False when either is missing)."""
    d, s = as_number(dp), as_number(se)
    return d is not None and s is not None and abs(d) > SIGNIFICANT_SE * s


def _pp(x: float) -> str:
    return f"{100 * x:+.1f} pp".replace("-", "−")


def delta_words(method: Any, dp_trend: float, dp_record: float,
                new_records: tuple[int, int, int, int] | None, since: int,
                p_trend_now: float = math.nan) -> str:
    """What changed behind a ΔP since the plan's start (``since``), split by source.

    ``dp_trend`` is the change of p_trend (the indicator's data, re-calibrated), ``dp_record``
    of p_record (the reference class); ``new_records`` ``(met, n)`` of the family at the plan's
    start and now; ``p_trend_now`` names a trend the plan's start did not have. A
    past-plans-only ΔP is an update of the reference class, never progress.
    """
    rec = ""
    if new_records is not None:
        m0, n0, m1, n1 = new_records
        rec = (f"{n1 - n0} more past targets of this family judged since {since} "
               f"({m0}/{n0} → {m1}/{n1} met)" if n1 != n0 else
               f"no past targets of this family judged since {since}: the rate pooled over all "
               "families moved")
    if text_of(method) == RECORD_ONLY:
        return ("参考类更新 update of the reference class, not progress: "
                + (rec or "the record model was refitted") + ".")
    parts = []
    if math.isfinite(dp_trend):
        parts.append(f"本指标数据 the indicator's data: p_trend {_pp(dp_trend)}")
    elif math.isfinite(p_trend_now):
        parts.append(f"本指标数据 the indicator's data: p_trend {100 * p_trend_now:.1f}% "
                     "(no trend at the plan's start)")
    if text_of(method) == TREND_RECORD and math.isfinite(dp_record):
        parts.append(f"往期规划 past plans: p_record {_pp(dp_record)}"
                     + (f" ({rec})" if rec else ""))
    return "; ".join(parts) + "." if parts else "模型更新 the model was refitted."


def responds_to_levers(table: pd.DataFrame) -> pd.DataFrame:
    """Targets whose P(met) in some scenario differs from the baseline's beyond Monte Carlo
    error (|ΔP| > :data:`SIGNIFICANT_SE` paired SE): one row per (target, scenario) with
    ``target_id, indicator, indicator_zh, scenario, delta, delta_se``; empty with one scenario."""
    cols = ["target_id", "indicator", "indicator_zh", "scenario", "delta", "delta_se"]
    if table.empty or "delta_vs_baseline" not in table:
        return pd.DataFrame(columns=cols)
    ev = table[table["status"] == "evaluated"]
    out = [dict(target_id=r["target_id"], indicator=text_of(r.get("indicator")),
                indicator_zh=text_of(r.get("indicator_zh")), scenario=r["scenario"],
                delta=float(r["delta_vs_baseline"]), delta_se=float(r["delta_se"]))
           for r in ev.to_dict("records")
           if significant(r.get("delta_vs_baseline"), r.get("delta_se"))
           or (as_number(r.get("delta_vs_baseline")) not in (None, 0.0)
               and as_number(r.get("delta_se")) == 0.0)]
    return pd.DataFrame(out, columns=cols)


def lever_lines(table: pd.DataFrame) -> list[str]:
    """The "responds to levers" list in words, one line per target (scenarios with ΔP ± SE)."""
    if "delta_vs_baseline" not in table or "scenario" not in table:
        return []
    moved = responds_to_levers(table)
    if moved.empty:
        n = table["scenario"].nunique() if "scenario" in table else 0
        return (["受情景影响的目标 Responds to levers: none (no target's P(met) differs from the "
                 "baseline's beyond Monte Carlo error)."] if n > 1 else [])
    out = [f"受情景影响的目标 Responds to levers ({moved['target_id'].nunique()} targets; ΔP vs "
           "baseline ± paired SE):"]
    for tid, g in moved.groupby("target_id", sort=False):
        cells = ", ".join(f"{r['scenario']} {_pp(r['delta'])} ± {100 * r['delta_se']:.1f}"
                          for r in g.to_dict("records"))
        out.append(f"  {tid}: {cells}")
    return out


# --------------------------------------------------------------------------------------------
# bilingual reasons and information (hand-in formats)

#: English phrases of reasons / notes / information and their Chinese (first match wins)
_ZH = (
    (r"^dropped out", "已退出评估"),
    (r"^method changed", "方法已变"),
    (r"^evaluated now", "现可评估"),
    (r"^no target value", "规划未给出目标值"),
    (r"already observed", "目标年已有观测值"),
    (r"^not modelled: no series", "未建模：无数据序列度量该指标"),
    (r"^not modelled", "未建模"),
    (r"^no series", "无对应数据序列"),
    (r"cumulative change without a base year", "累计变化目标无基期年"),
    (r"no history", "无历史数据"),
    (r"not in the ensemble|not simulated", "未模拟该序列"),
    (r"before as_of", "窗口早于评估年"),
    (r"^no base", "无基期值"),
    (r"two-sided target", "双向目标"),
    (r"a cap above the base", "高于基期的上限"),
    (r"plan_record = false", "本情景不用往期规划"),
    (r"informative observation", "有效观测数；先验方差占比"),
    (r"^no trend forecast", "无趋势预测"),
    (r"information measure unavailable", "无信息量度"),
)


def zh_of(text: str) -> str:
    """The Chinese gloss of an English reason or note ('' when none is known)."""
    return next((zh for pat, zh in _ZH if re.search(pat, text)), "")


def bilingual(text: Any) -> str:
    """``text`` with its Chinese gloss in front ('无历史数据 no history of …'), part by part
    (parts separated by '; '); a part that already holds Chinese, or that has no known gloss,
    is kept as it is."""
    s = text_of(text)
    if "; " in s:                          # glossed part by part ("method changed …; …")
        return "; ".join(bilingual(part) for part in s.split("; "))
    if not s or re.search(r"[\u4e00-\u9fff]", s):
        return s
    zh = zh_of(s)
    return f"{zh} {s}" if zh else s


# --------------------------------------------------------------------------------------------
# the record's counts behind a row


def family_counts(model: Any, family: Any) -> tuple[int, int] | None:
    """``(met, judged)`` past targets of ``family`` the run's plan-record model knows (its
    verdict model's counts: records whose publication the model admits by as_of), or None."""
    verdicts = getattr(model, "verdict", None)
    fams = getattr(verdicts, "families", None)
    if fams is None or not isinstance(family, str) or not family:
        return None
    met, n = fams.get(family, (0, 0))
    return int(met), int(n)


def add_record_counts(table: pd.DataFrame, model: Any) -> pd.DataFrame:
    """``table`` with ``record_met_family`` (met past targets of the row's family; with
    ``record_n_family`` the "N of M" of :func:`record_text`); unchanged without a model."""
    if model is None or table.empty or "family" not in table:
        return table
    out = table.copy()
    fams = [f if isinstance(f, str) and f else "other" for f in out["family"]]
    counts = {f: family_counts(model, f) for f in set(fams)}
    out["record_met_family"] = [c[0] if (c := counts[f]) is not None else math.nan
                                for f in fams]
    return out
