"""Tables people read: the evaluation table in the plan's (mid-term evaluation) layout.

The evaluation table follows the layout of a plan's 中期评估 (指标 · 属性 · 单位 · 基期值 · 目标值 ·
最新实际值 · 进度 · 达标概率 · 判断): one row per target and scenario with

    indicator (zh, en) · binding/indicative · unit · base value (year, plan or data) · target
    (≈ with its tolerance) and where its value comes from · latest actual (data ≤ as_of, year,
    source) · pace achieved so far and required from now (pp/yr, %/yr or unit/yr; "already met")
    · projection median [80 % interval] · P(met) ± SE · [mid-term: P at plan start, ΔP ± SE,
    change since plan start] · verdict · likelihood · method, low-information flag, information
    · p_trend · p_record · status (reason)

built by :func:`plan_table` from the evaluation's ``targets.csv`` (base and pace:
:mod:`sim.output.midterm_table`; number formats: :mod:`sim.output.formatting`). Writers here:
:func:`write_csv` (``targets_table.csv``) and :func:`write_markdown` (``targets.md``);
:mod:`sim.output.xlsx` writes ``targets.xlsx`` and :mod:`sim.output.html` ``targets.html``.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from sim.evaluation import as_int, as_number
from sim.evaluation import evidence as E
from sim.evaluation.record import MEANINGS
from sim.output import midterm_table as M
from sim.output.midterm_table import PACE_NOTE, dropouts, is_midterm, joint_rows  # noqa: F401
from sim.output.evidence_table import (RECORD_DISPLAY, lever_markdown, method_text,  # noqa: F401
                                     split_rows, with_levers)
from sim.output.safe_text import SPREADSHEET_CSV, markdown_text, spreadsheet_frame

from sim.output.value_met_cells import (BLANK_HEAD, PLANNER_WORDS, blank_value_rows,
                                       value_met_cells)
from sim.output.value_met_cells import HEADER as VALUE_MET_HEADER
from sim.output.formatting import (AMBER, BINDING_TEXT, COMPARATOR_TEXT, GREEN, LIKELIHOOD_ZH,  # noqa: F401
                                   STATUS_TEXT, _nan, fmt_number, fmt_pct, fmt_pm, light,
                                   target_text, tolerance_text)

# --------------------------------------------------------------------------------------------
# the plan-layout table


def _latest_observed(history, series: str, kind: str, as_of: int, vintage: str,
                     base_year: int | None = None):
    """The latest observation of ``series`` dated <= ``as_of`` (a ``level``, or for a
    cumulative change a ``cumulative_change_pct`` from ``base_year``), as a data row, or None."""
    if history is None or not series:
        return None
    rows = history.select(series, vintage)   # an unknown series is an error naming it
    rows = rows[(rows["kind"] == kind) & (rows["year"] <= as_of)]
    if base_year is not None:
        rows = rows[rows["base_year"].astype("Float64") == base_year]
    if rows.empty:
        return None
    return rows.sort_values("year").iloc[-1]


def _latest(ds, row: dict, history=None, vintage: str = "revised") -> tuple[float, int | None, str, str]:
    """(value, year, text, source) of the latest *observed* value by as_of: a data row of the
    series, with its year. Never a model estimate: with no observation the value is NaN and the
    text empty, or, for the filtered part of a cumulative change already behind as_of, says
    "model estimate" (the value stays NaN). A cumulative change's value is the observed change
    in % since its base year."""
    as_of = int(ds.attrs["as_of"]) if ds is not None else None
    kind = row.get("kind")
    series = str(row["series"]) if isinstance(row.get("series"), str) else ""
    if as_of is None or kind == "cumulative_sum":
        return math.nan, None, "", ""
    if kind == "cumulative_change":
        b = as_int(row.get("base_year"))
        if b is None:                      # no window: nothing to compare an actual with
            return math.nan, None, "", ""
        if b == as_of:
            return 0.0, b, f"0% ({b} = 基期 base)", ""
        obs = _latest_observed(history, series, "cumulative_change_pct", as_of, vintage, b)
        if obs is not None:
            v = float(obs["value"])
            return v, int(obs["year"]), f"{fmt_number(v)}% ({b}→{int(obs['year'])})", _src(obs)
        done = _nan(row.get("achieved_before_as_of"))
        if math.isfinite(done) and b is not None:
            return math.nan, None, f"≈{fmt_number(done)}% ({b}→{as_of}, 模型估计 model estimate)", ""
        return math.nan, None, "", ""
    obs = _latest_observed(history, series, "level", as_of, vintage)
    if obs is None:
        return math.nan, None, "", ""
    v = float(obs["value"])
    return v, int(obs["year"]), f"{fmt_number(v)} ({int(obs['year'])})", _src(obs)


def _src(obs) -> str:
    src = obs.get("source") if hasattr(obs, "get") else None
    return src if isinstance(src, str) else ""


def _text(v) -> str:
    return v if isinstance(v, str) else ""


def _flag(v) -> bool | None:
    """A boolean cell of targets.csv (True/False, 'True'/'False'), None when blank."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, str) and v in ("True", "False", "true", "false"):
        return v.lower() == "true"
    return None


def value_sources(ds) -> dict[str, dict[str, str]]:
    """``{scenario: {target_id: source}}`` of scenario-supplied target values, from the resolved
    scenario document in the Dataset's attributes (``target_value_sources``); {} without."""
    text = ds.attrs.get("scenario_resolved") if ds is not None else None
    if not text:
        return {}
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}
    out = {}
    for name, entry in (doc.get("scenarios") or {}).items():
        src = entry.get("target_value_sources") if isinstance(entry, dict) else None
        if isinstance(src, dict):
            out[str(name)] = {str(k): str(v) for k, v in src.items()}
    return out


def target_source(r: dict, sources: dict) -> str:
    """Where a row's target value comes from: '规划 plan', or the scenario and its source."""
    if r.get("value_source") != "scenario":
        return "规划 plan" if as_number(r.get("value")) is not None else ""
    src = sources.get(str(r.get("scenario")), {}).get(str(r.get("target_id")), "")
    return (f"情景设定 scenario value: {src}" if src
            else "情景设定 scenario value (no source given 未注明来源)")


def _midterm_cells(r: dict, evaluated: bool) -> dict:
    """P at plan start, ΔP ± SE since then, and the drop-out / method change (mid-term runs)."""
    p0, dp, dse = _nan(r.get("p_at_plan_start")), _nan(r.get("delta_p_since_start")), \
        _nan(r.get("delta_p_since_start_se"))
    return {"p_at_plan_start": p0, "delta_p": dp, "delta_p_se": dse,
            "p_at_plan_start_text": fmt_pct(p0) if math.isfinite(p0) else "",
            "delta_p_text": (f"{100 * dp:+.1f} pp ± {100 * dse:.1f}".replace("-", "−")
                             + (" (参考类更新 reference-class update, not progress)"
                                if E.is_record_only(r) else "")
                             if evaluated and math.isfinite(dp) else ""),
            "method_at_plan_start": _text(r.get("method_at_plan_start")),
            "change_since_start": E.bilingual(r.get("change_since_start"))}


def plan_table(table: pd.DataFrame, ds=None, *, scenario_labels: dict | None = None,
               windows: dict | None = None, history=None,
               vintage: str = "revised") -> pd.DataFrame:
    """The evaluation table in the plan's (mid-term evaluation) layout, one row per target and
    scenario.

    Text columns are formatted for reading; numeric twins (``p_met``, ``p_se``, ``median``,
    ``p10``, ``p90``, ``target_value``, ``base_value``, ``latest_value``, ``achieved_pace``,
    ``required_pace`` in ``pace_unit``, ``p_at_plan_start``, ``delta_p``, ``delta_p_se``) keep
    the numbers. ``latest_actual`` is the latest observation dated <= as_of in ``history`` (its
    year in the text); without ``history`` no actual, base or pace from data is shown. Base and
    pace: :mod:`sim.output.midterm_table`.
    """
    scenario_labels = scenario_labels or {}
    history = M.CachedHistory(history) if history is not None else None
    sources = value_sources(ds)
    as_of = int(ds.attrs["as_of"]) if ds is not None else None
    rows = []
    for r in table.to_dict("records"):
        evaluated = r.get("status") == "evaluated"
        latest_v, latest_y, latest_t, latest_src = _latest(ds, r, history, vintage)
        med, lo, hi = _nan(r.get("median")), _nan(r.get("p10")), _nan(r.get("p90"))
        word = _text(r.get("likelihood"))
        scen = str(r.get("scenario"))
        start = as_int(r.get("plan_start_as_of")) or as_of
        base = (M.base_cell(r, history, start, as_of, (windows or {}).get(r.get("target_id")),
                            vintage)
                if as_of is not None and start is not None else M.Base(math.nan, None, ""))
        window_sum = (M.observed_sum(history, _text(r.get("series")), base.year, as_of, vintage)
                      if r.get("kind") == "cumulative_sum" and base.year is not None
                      and as_of is not None else None)
        pace = M.pace(r, base, (latest_v, latest_y), as_of or 0, window_sum)
        info = r.get("information")
        method = _text(r.get("method"))
        rows.append({
            "scenario": scen,
            "scenario_zh": scenario_labels.get(scen, ""),
            "target_set": r.get("target_set"),
            "target_id": r.get("target_id"),
            "indicator_zh": _text(r.get("indicator_zh")),
            "indicator_en": _text(r.get("indicator")),
            "binding": r.get("binding"),
            "type": BINDING_TEXT.get(r.get("binding"), str(r.get("binding") or "")),
            "unit": _text(r.get("unit")),
            "base": base.text, "base_value": base.value, "base_year": base.year,
            "target": target_text(r, with_tolerance=True),
            "tolerance": tolerance_text(r),
            "target_value": _nan(r.get("value")),
            "target_year": as_int(r.get("target_year")),
            "target_source": target_source(r, sources),
            "latest_actual": latest_t,
            "latest_value": latest_v, "latest_year": latest_y, "latest_source": latest_src,
            "achieved": pace.achieved_text, "required": pace.required_text,
            "achieved_pace": pace.achieved, "required_pace": pace.required,
            "pace_unit": pace.unit if (pace.achieved_text or pace.required_text) else "",
            "already_met": pace.already_met,
            "projection": (f"{fmt_number(med)} [{fmt_number(lo)}, {fmt_number(hi)}]"
                           if evaluated and math.isfinite(med) else ""),
            "median": med, "p10": lo, "p90": hi,
            "p_met": _nan(r.get("probability")) if evaluated else math.nan,
            "p_se": _nan(r.get("mc_se")) if evaluated else math.nan,
            "ci_low": _nan(r.get("ci_low")), "ci_high": _nan(r.get("ci_high")),
            "p_met_text": fmt_pm(r.get("probability"), r.get("mc_se")) if evaluated else "",
            **_midterm_cells(r, evaluated),
            "verdict": E.verdict(r.get("probability"), method, pace.already_met) if evaluated else "",
            "basis": E.basis(method), "evidence": E.evidence(r) if evaluated else "",
            "projection_draws": E.DRAWS.get(method, "") if evaluated and math.isfinite(med) else "",
            "delta_p_data": _nan(r.get("delta_p_trend_since_start")),
            "delta_p_record": _nan(r.get("delta_p_record_since_start")),
            "method": method,
            "low_information": _flag(r.get("low_information")),
            "information": E.bilingual(info),
            "p_trend": _nan(r.get("p_trend")), "p_record": _nan(r.get("p_record")),
            "p_trend_text": fmt_pct(_nan(r.get("p_trend"))) if evaluated else "",
            "p_record_text": (f"{fmt_pct(_nan(r.get('p_record')))}"
                              f"{' (thin)' if _flag(r.get('record_thin')) else ''}"
                              if evaluated else ""),
            **value_met_cells(r),
            "likelihood": f"{LIKELIHOOD_ZH.get(word, '')} {word}".strip() if evaluated else "",
            "light": light(r.get("probability")) if evaluated and E.has_verdict(method) else "",
            "required_annual": _nan(r.get("required_annual")),
            "status": STATUS_TEXT.get(r.get("status"), r.get("status")),
            "reason": E.bilingual(r.get("reason")),
            "observed": _nan(r.get("observed")),
        })
    return pd.DataFrame(rows)


def coverage(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Targets with a probability by method and target set (first scenario's rows), and the
    targets without one by reason: ``(by_set, reasons)``; ``by_set`` has a ``total`` row."""
    if table.empty or "method" not in table:
        return pd.DataFrame(), pd.DataFrame(columns=["reason", "targets"])
    first = table[table["scenario"] == table["scenario"].iloc[0]]
    by_set = pd.crosstab(first["target_set"], first["method"])
    by_set.loc["total"] = by_set.sum()
    ne = first[first["status"] != "evaluated"]
    reasons = (ne.groupby("reason", sort=False).size().rename("targets").reset_index()
               if not ne.empty else pd.DataFrame(columns=["reason", "targets"]))
    return by_set, reasons


def coverage_lines(table: pd.DataFrame) -> list[str]:
    """The coverage in words: targets with a probability by method, and those without."""
    by_set, reasons = coverage(table)
    if by_set.empty:
        return []
    total = by_set.loc["total"]
    n = int(total.sum())
    parts = [f"{int(v)} {E.basis(m)} ({m})" if E.basis(m) else f"{int(v)} {m}"
             for m, v in total.items() if m != "not evaluable" and v]
    with_p = sum(int(v) for m, v in total.items() if m != "not evaluable")
    out = [f"{with_p} of {n} targets have a probability ({', '.join(parts)})."]
    if len(reasons):
        out.append(f"{n - with_p} not evaluable: " + "; ".join(
            f"{r['targets']} × {r['reason']}" for r in reasons.to_dict("records")) + ".")
    return out


def wide_pmet(table: pd.DataFrame, values: str = "probability") -> pd.DataFrame:
    """Evaluated targets (rows, catalogue order) × scenarios (columns, run order): P(met) (or
    another column, e.g. ``method``)."""
    ev = table[table["status"] == "evaluated"]
    if ev.empty or values not in ev:
        return pd.DataFrame()
    scen = list(dict.fromkeys(ev["scenario"]))
    ids = list(dict.fromkeys(ev["target_id"]))
    if values != "probability":
        return ev.drop_duplicates(["target_id", "scenario"]).pivot(
            index="target_id", columns="scenario", values=values).reindex(index=ids, columns=scen)
    return ev.pivot_table(index="target_id", columns="scenario", values="probability",
                          sort=False).reindex(index=ids, columns=scen)


def not_evaluable(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (target, reason): target_id, target_set, indicator_zh, indicator, reason, scenarios."""
    ne = table[table["status"] != "evaluated"]
    cols = ["target_id", "target_set", "indicator_zh", "indicator", "target_year", "reason", "scenarios"]
    if ne.empty:
        return pd.DataFrame(columns=cols)
    all_scen = list(dict.fromkeys(table["scenario"]))
    out = []
    for (tid, reason), g in ne.groupby(["target_id", "reason"], sort=False, dropna=False):
        first = g.iloc[0]
        scen = list(g["scenario"])
        out.append(dict(target_id=tid, target_set=first["target_set"],
                        indicator_zh=first.get("indicator_zh"), indicator=first.get("indicator"),
                        target_year=as_int(first.get("target_year")),
                        reason=reason if isinstance(reason, str) else "",
                        scenarios="all" if len(scen) == len(all_scen) else ", ".join(scen)))
    return pd.DataFrame(out, columns=cols)


# --------------------------------------------------------------------------------------------
# CSV and Markdown

CSV_COLUMNS = ("scenario", "scenario_zh", "target_set", "target_id", "indicator_zh", "indicator_en",
               "binding", "unit", "base", "base_value", "base_year", "target", "tolerance",
               "target_value", "target_year", "target_source", "latest_actual", "latest_value",
               "latest_year", "latest_source", "achieved", "achieved_pace", "required",
               "required_pace", "pace_unit", "already_met", "projection", "median", "p10", "p90",
               "projection_draws", "p_met", "p_se", "ci_low", "ci_high", "p_at_plan_start",
               "delta_p", "delta_p_se", "delta_p_data", "delta_p_record", "verdict", "basis",
               "evidence", "likelihood", "method", "low_information", "p_trend", "p_record",
               "value_met_p50", "value_met_p80", "value_met_p90", "value_met",
               "change_since_start", "responds_to_levers", "status", "reason", "observed")


def csv_columns(plan: pd.DataFrame) -> list[str]:
    """:data:`CSV_COLUMNS`, with ``information`` after ``low_information`` when the run's
    ``targets.csv`` has that column (filled in some row)."""
    cols = [c for c in CSV_COLUMNS if c in plan or c != "responds_to_levers"]
    if "information" in plan and (plan["information"] != "").any():
        cols.insert(cols.index("low_information") + 1, "information")
    return cols


def write_csv(plan: pd.DataFrame, path: Path, table: pd.DataFrame | None = None) -> Path:
    """The plan-layout table as CSV for spreadsheets: UTF-8 with BOM (so spreadsheet programs read
    the Chinese), a text cell a spreadsheet would take for a formula with a leading apostrophe
    (:func:`~sim.output.safe_text.spreadsheet_frame`; numbers stay as they are), CRLF line ends
    (RFC 4180; a cell holding a CR is then quoted instead of splitting its row). With the run's
    ``table``, ``responds_to_levers`` marks rows whose P(met) differs from the baseline's beyond
    Monte Carlo error (:func:`sim.evaluation.evidence.responds_to_levers`)."""
    plan = with_levers(plan, table) if table is not None else plan
    spreadsheet_frame(plan.loc[:, csv_columns(plan)]).to_csv(path, index=False, **SPREADSHEET_CSV)
    return Path(path)


#: the evaluation table as people read it (Markdown, HTML): (key, header); the mid-term columns
#: (:data:`MIDTERM_DISPLAY`) follow P(met) in a mid-term run
DISPLAY = (("indicator_zh", "指标"), ("indicator_en", "Indicator"), ("type", "属性 Type"),
           ("unit", "单位 Unit"), ("base", "基期值 Base value (year)"),
           ("target", "目标值 Target"), ("target_year", "目标年 Year"),
           ("target_source", "目标值来源 Target value from"),
           ("latest_actual", "最新实际值 Latest actual (year)"),
           ("achieved", "已实现年均 Achieved so far, per year"),
           ("required", "尚需年均 Required from now, per year"),
           ("projection", "预测中位数 [80%区间] Projection (of the headline draws)"),
           ("p_met_text", "达标概率 P(met) ± SE"))
MIDTERM_DISPLAY = (("p_at_plan_start_text", "规划初期 P at plan start"),
                   ("delta_p_text", "变化 ΔP since plan start ± SE"),
                   ("change_since_start", "评估变化 Change since plan start"))
TAIL_DISPLAY = (("verdict", "判断 Verdict"), ("likelihood", "可能性 Likelihood"),
                ("method_text", "依据 Basis (method) · information"), ("p_trend_text", "趋势 p_trend"),
                ("p_record_text", "规划记录 p_record"), ("value_met", VALUE_MET_HEADER))


def record_columns(plan: pd.DataFrame) -> list[tuple[str, str]]:
    """(key, header) of the past-plans-only section; mid-term columns only in a mid-term run."""
    return list(RECORD_DISPLAY) + (list(MIDTERM_DISPLAY) if is_midterm(plan) else [])


def display_columns(plan: pd.DataFrame) -> list[tuple[str, str]]:
    """(key, header) of the readable evaluation table; mid-term columns only in a mid-term run."""
    return list(DISPLAY) + (list(MIDTERM_DISPLAY) if is_midterm(plan) else []) + list(TAIL_DISPLAY)


def display_rows(plan: pd.DataFrame, keys: list[str]) -> list[list]:
    """The cells of ``keys`` per row of ``plan`` (``method_text`` composed)."""
    return [[method_text(r) if k == "method_text" else r.get(k) for k in keys]
            for r in plan.to_dict("records")]


def md_text(x) -> str:
    """Text from user files made inert in Markdown (:func:`~sim.output.safe_text.markdown_text`:
    CommonMark backslash escapes, so ``[a](b)``, ``![x](u)``, ``<b>``, backticks and ``|`` show
    as typed; newlines flattened)."""
    return markdown_text(x)


def _md_cell(x) -> str:
    s = "" if x is None or (isinstance(x, float) and not math.isfinite(x)) else str(x)
    return md_text(s)


def md_table(header: list[str], rows: list[list]) -> str:
    """A Markdown pipe table (every header and cell through :func:`md_text`: ``|`` escaped,
    links, images, HTML and code inert, newlines flattened)."""
    out = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


LIGHT_MARK = {"green": "🟢", "amber": "🟡", "red": "🔴", "": "", "record": "⚪"}
#: one sentence per probability column (tables and report)
MEANING_TEXT = "; ".join(MEANINGS.values()) + "."


def pmet_rows(wide: pd.DataFrame, first: pd.DataFrame,
              methods: pd.DataFrame | None = None) -> list[list[str]]:
    """Rows of the P(met) overview: indicator, target, then a traffic light and P per column.

    ``wide`` is targets × scenarios (or runs) of P(met); ``first`` one catalogue row per target;
    ``methods`` (same shape) marks past-plans-only cells ⚪ instead of a traffic light and adds
    the basis in words after the target.
    """
    rows = []
    for tid, r in wide.iterrows():
        f = first.loc[tid].to_dict()
        meth = (list(methods.loc[tid].values) if methods is not None and tid in methods.index
                else [""] * len(r))
        rows.append([f"{f.get('indicator_zh', '')} / {f.get('indicator', '')}",
                     target_with_unit(f)]
                    + ([" / ".join(dict.fromkeys(E.basis(m) for m in meth))] if methods is not None
                       else [])
                    + [f"{LIGHT_MARK['record' if m == E.RECORD_ONLY else light(v)]} {fmt_pct(v)}"
                       .strip() for v, m in zip(r.values, meth)])
    return rows


def target_with_unit(f: dict) -> str:
    """'≥ 26,000 亿元 (2020)': the target with its unit and year ('≈ 1,480 万人 (met at ≤
    1,554, ± 5%; 2020)' with the tolerance of an ≈ target)."""
    unit = f.get("unit") if isinstance(f.get("unit"), str) else ""
    tol, year = tolerance_text(f), as_int(f.get("target_year"))
    return f"{target_text(f)} {unit} ({f'{tol}; ' if tol else ''}{year})".replace("  ", " ")


def markdown(plan: pd.DataFrame, table: pd.DataFrame, *, title: str = "",
             scenario_labels: dict | None = None, joint: pd.DataFrame | None = None) -> str:
    """``targets.md``: P(met) overview, one evaluation table per scenario, the targets whose
    evaluation changed since the plan's start (mid-term), the joint probabilities with their
    n of N (when ``joint`` is given), the non-evaluable list."""
    scenario_labels = scenario_labels or {}
    parts = [f"# {md_text(title or '目标达成概率 · Probability that the targets are met')}", ""]
    wide = wide_pmet(table)
    first = table.drop_duplicates("target_id").set_index("target_id")
    if not wide.empty:
        parts += ["## 达标概率一览 · P(met) by scenario", "",
                  "🟢 ≥ 66% (likely) · 🟡 33–66% · 🔴 < 33% (unlikely) · "
                  f"⚪ {E.RECORD} (no verdict)", ""]
        head = ["指标 Indicator", "目标 Target", "依据 Basis"] + [
            f"{scenario_labels.get(s, '')} {s}".strip() for s in wide.columns]
        parts += [md_table(head, pmet_rows(wide, first, wide_pmet(table, "method"))), ""]
    parts += [md_text(MEANING_TEXT), "", md_text(PACE_NOTE), ""]
    parts += [md_text(E.BASIS_NOTE), ""]
    for scen in dict.fromkeys(plan["scenario"]):
        sub = plan[(plan["scenario"] == scen) & (plan["p_met_text"] != "")]
        label = scenario_labels.get(scen, "")
        parts += [f"## {md_text(label)} {md_text(scen)}".replace("  ", " "), ""]
        if sub.empty:
            parts += ["（无可评估目标）No evaluable target.", ""]
            continue
        data, rec = split_rows(sub)
        cols = display_columns(plan)
        if not data.empty:
            parts += [md_table([h for _, h in cols], display_rows(data, [k for k, _ in cols])), ""]
        if not rec.empty:
            rcols = record_columns(plan)
            parts += [f"### {E.RECORD} · {len(rec)} targets without data of their own", "",
                      md_table([h for _, h in rcols], display_rows(rec, [k for k, _ in rcols])),
                      ""]
    parts += lever_markdown(table, md_text) + _md_dropouts(plan) + _md_joint(joint)
    head, blank = blank_value_rows(plan)   # not in the tables above: no probability of their own
    if blank:
        parts += [f"## {BLANK_HEAD}", "", md_text(PLANNER_WORDS), "", md_table(head, blank), ""]
    ne = not_evaluable(table)
    parts += ["## 未能评估的目标 · Targets not evaluated", ""]
    if ne.empty:
        parts += ["None: every target was evaluated.", ""]
    else:
        head = ["编号 Target id", "来源 Set", "指标 Indicator", "年 Year", "原因 Reason", "情景 Scenarios"]
        rows = [[r["target_id"], r["target_set"], f"{r['indicator_zh']} / {r['indicator']}",
                 r["target_year"], E.bilingual(r["reason"]), r["scenarios"]]
                for r in ne.to_dict("records")]
        parts += [md_table(head, rows), ""]
    return "\n".join(parts)


def _md_dropouts(plan: pd.DataFrame) -> list[str]:
    if not is_midterm(plan):
        return []
    drop = dropouts(plan)
    head = ["编号 Target id", "指标 Indicator", "属性 Type", "变化 Change", "情景 Scenarios"]
    rows = [[r["target_id"], f"{r['indicator_zh']} / {r['indicator_en']}", r["type"],
             r["change_since_start"], r["scenarios"]] for r in drop.to_dict("records")]
    return ["## 规划初期以来的评估变化 · Targets whose evaluation changed since the plan's start", "",
            md_table(head, rows) if rows else "None: every target is evaluated as at the plan's start.", ""]


JOINT_HEAD = ["情景 Scenario", "目标集 Set", "概率 Probability", "P ± SE", "预期达标数 Expected met",
              "未计入 Left out (no probability)"]
JOINT_KEYS = ["scenario", "target_set", "what", "p", "expected", "left_out"]


def _md_joint(joint: pd.DataFrame | None) -> list[str]:
    jr = joint_rows(joint)
    if not jr:
        return []
    return ["## 联合概率 · Joint probabilities", "",
            md_table(JOINT_HEAD, [[r[k] for k in JOINT_KEYS] for r in jr]), ""]


def write_markdown(plan: pd.DataFrame, table: pd.DataFrame, path: Path, **kw) -> Path:
    """Write :func:`markdown` (keywords ``title``, ``scenario_labels``, ``joint``) to ``path``."""
    Path(path).write_text(markdown(plan, table, **kw), encoding="utf-8")
    return Path(path)
