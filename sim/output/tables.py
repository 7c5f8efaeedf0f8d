"""Tables people read: the terminal summary of a run and the evaluation table in the plan's layout.

The evaluation table follows the layout of a plan's mid-term evaluation (指标 · 属性 · 单位 ·
基期 · 目标值 · 最新实际值 · 预测 · 达标概率): one row per target and scenario with

    indicator (zh, en) · binding/indicative · unit · base · target · latest actual (data ≤ as_of) ·
    projection median [80 % interval] · P(met) ± SE · method · p_trend · p_record ·
    likelihood · status (reason)

built by :func:`plan_table` from the evaluation's ``targets.csv`` (and the ensemble, for the
value at as_of). Writers here: :func:`write_csv` (``targets_table.csv``) and
:func:`write_markdown` (``targets.md``); :mod:`sim.output.xlsx` writes ``targets.xlsx`` and
:mod:`sim.output.html` ``targets.html``.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd

from sim.evaluation import as_int, as_number
from sim.evaluation.record import MEANINGS

#: IPCC likelihood terms in Chinese (IPCC AR5 Chinese edition wording)
LIKELIHOOD_ZH = {
    "virtually certain": "几乎确定",
    "very likely": "很可能",
    "likely": "可能",
    "about as likely as not": "可能性中等",
    "unlikely": "不太可能",
    "very unlikely": "很不可能",
    "exceptionally unlikely": "极不可能",
}
BINDING_TEXT = {"binding": "约束性 binding", "indicative": "预期性 indicative",
                "unspecified": "未注明 unspecified"}
STATUS_TEXT = {"evaluated": "已评估 evaluated", "not evaluable": "未评估 not evaluable"}
COMPARATOR_TEXT = {">=": "≥", "<=": "≤", "approx": "≈", "==": "=", "range": ""}

#: traffic-light thresholds on P(met): IPCC "likely" (≥ 66 %) and "unlikely" (< 33 %)
GREEN, AMBER = 0.66, 0.33


# --------------------------------------------------------------------------------------------
# formatting helpers


def _nan(v) -> float:
    """A cell as a float for the numeric columns: NaN where :func:`as_number` finds no number."""
    x = as_number(v)
    return math.nan if x is None else x


def fmt_number(x) -> str:
    """15000 → '15,000'; 0.4123 → '0.412'; 6.50 → '6.5'; NaN → '–'."""
    x = as_number(x)
    if x is None:
        return "–"
    ax = abs(x)
    if ax >= 1000:
        s = f"{x:,.0f}"
    elif ax >= 100:
        s = f"{x:.1f}".rstrip("0").rstrip(".")
    elif ax >= 1:
        s = f"{x:.2f}".rstrip("0").rstrip(".")
    elif ax == 0:
        s = "0"
    else:
        s = f"{x:.3g}"
    return s.replace("-", "−")


def fmt_pct(p, digits: int = 1) -> str:
    """0.623 → '62.3%'; NaN → '–'."""
    p = as_number(p)
    return f"{100 * p:.{digits}f}%" if p is not None else "–"


def fmt_pm(p, se) -> str:
    """'62.3% ± 0.3%'."""
    p, se = as_number(p), as_number(se)
    if p is None:
        return "–"
    se_txt = "<0.1%" if se is not None and 100 * se < 0.05 else fmt_pct(se)
    return f"{fmt_pct(p)} ± {se_txt}"


def target_text(row: dict) -> str:
    """'≥ 26,000', '≤ −10', '5–6', or '（空白）blank' when the target has no value."""
    v, hi = as_number(row.get("value")), as_number(row.get("value_high"))
    if v is None:
        return "（空白）blank"
    cmp = row.get("comparator")
    if cmp == "range" and hi is not None:
        return f"{fmt_number(v)}–{fmt_number(hi)}"
    return f"{COMPARATOR_TEXT.get(str(cmp), cmp)} {fmt_number(v)}".strip()


def light(p) -> str:
    """'green' / 'amber' / 'red' / '' (not evaluated)."""
    p = as_number(p)
    if p is None:
        return ""
    return "green" if p >= GREEN else ("amber" if p >= AMBER else "red")


# --------------------------------------------------------------------------------------------
# the plan-layout table


def _latest_observed(history, series: str, kind: str, as_of: int, vintage: str,
                     base_year: int | None = None):
    """The latest observation of ``series`` dated <= ``as_of`` (a ``level``, or for a
    cumulative change a ``cumulative_change_pct`` from ``base_year``), as a data row, or None."""
    if history is None or not series:
        return None
    try:
        rows = history.select(series, vintage)
    except Exception:      # a series this history does not know: nothing observed
        return None
    rows = rows[(rows["kind"] == kind) & (rows["year"] <= as_of)]
    if base_year is not None:
        rows = rows[rows["base_year"].astype("Float64") == base_year]
    if rows.empty:
        return None
    return rows.sort_values("year").iloc[-1]


def _latest(ds, row: dict, history=None, vintage: str = "revised") -> tuple[float, str]:
    """(value, text) of the latest *observed* value by as_of: a data row of the series, with its
    year. Never a model estimate: with no observation the value is NaN and the text empty, or,
    for the filtered part of a cumulative change already behind as_of, says "model estimate"."""
    as_of = int(ds.attrs["as_of"]) if ds is not None else None
    kind = row.get("kind")
    series = str(row["series"]) if isinstance(row.get("series"), str) else ""
    if as_of is None or kind == "cumulative_sum":
        return math.nan, ""
    if kind == "cumulative_change":
        b = as_int(row.get("base_year"))
        if b is None:                      # no window: nothing to compare an actual with
            return math.nan, ""
        if b == as_of:
            return 0.0, f"0% ({b} = 基期 base)"
        obs = _latest_observed(history, series, "cumulative_change_pct", as_of, vintage, b)
        if obs is not None:
            v = float(obs["value"])
            return v, f"{fmt_number(v)}% ({b}→{int(obs['year'])})"
        done = _nan(row.get("achieved_before_as_of"))
        if math.isfinite(done) and b is not None:
            return math.nan, f"≈{fmt_number(done)}% ({b}→{as_of}, 模型估计 model estimate)"
        return math.nan, ""
    obs = _latest_observed(history, series, "level", as_of, vintage)
    if obs is None:
        return math.nan, ""
    v = float(obs["value"])
    return v, f"{fmt_number(v)} ({int(obs['year'])})"


def _base_text(row: dict, windows: dict | None) -> str:
    kind = row.get("kind")
    if kind == "cumulative_change":
        b = as_int(row.get("base_year"))
        return f"{b}" if b is not None else ""
    if kind == "cumulative_sum":
        p0, p1 = (windows or {}).get(row.get("target_id"), (None, None))
        p0, p1 = as_int(p0), as_int(p1) or as_int(row.get("target_year"))
        return f"{p0}–{p1} 累计 total" if p0 is not None else "累计 total"
    return ""


def plan_table(table: pd.DataFrame, ds=None, *, scenario_labels: dict | None = None,
               windows: dict | None = None, history=None,
               vintage: str = "revised") -> pd.DataFrame:
    """The evaluation table in the plan's layout (one row per target and scenario).

    Text columns are formatted for reading; numeric twins (``p_met``, ``p_se``, ``median``,
    ``p10``, ``p90``, ``target_value``, ``latest_value``, ``required_annual``) keep the numbers
    of ``targets.csv`` unchanged. ``latest_actual`` is the latest observation dated <= as_of in
    ``history`` (its year in the text); without ``history`` no actual is shown.
    """
    scenario_labels = scenario_labels or {}
    rows = []
    for r in table.to_dict("records"):
        evaluated = r.get("status") == "evaluated"
        latest_v, latest_t = _latest(ds, r, history, vintage)
        med, lo, hi = _nan(r.get("median")), _nan(r.get("p10")), _nan(r.get("p90"))
        unit = r.get("unit") if isinstance(r.get("unit"), str) else ""
        req = _nan(r.get("required_annual"))
        req_unit = r.get("required_unit") if isinstance(r.get("required_unit"), str) else ""
        word = r.get("likelihood") if isinstance(r.get("likelihood"), str) else ""
        scen = str(r.get("scenario"))
        rows.append({
            "scenario": scen,
            "scenario_zh": scenario_labels.get(scen, ""),
            "target_set": r.get("target_set"),
            "target_id": r.get("target_id"),
            "indicator_zh": r.get("indicator_zh") if isinstance(r.get("indicator_zh"), str) else "",
            "indicator_en": r.get("indicator") if isinstance(r.get("indicator"), str) else "",
            "binding": r.get("binding"),
            "type": BINDING_TEXT.get(r.get("binding"), str(r.get("binding") or "")),
            "unit": unit,
            "base": _base_text(r, windows),
            "target": target_text(r),
            "target_value": _nan(r.get("value")),
            "target_year": as_int(r.get("target_year")),
            "latest_actual": latest_t,
            "latest_value": latest_v,
            "projection": (f"{fmt_number(med)} [{fmt_number(lo)}, {fmt_number(hi)}]"
                           if evaluated and math.isfinite(med) else ""),
            "median": med, "p10": lo, "p90": hi,
            "p_met": _nan(r.get("probability")) if evaluated else math.nan,
            "p_se": _nan(r.get("mc_se")) if evaluated else math.nan,
            "ci_low": _nan(r.get("ci_low")), "ci_high": _nan(r.get("ci_high")),
            "p_met_text": fmt_pm(r.get("probability"), r.get("mc_se")) if evaluated else "",
            "method": r.get("method") if isinstance(r.get("method"), str) else "",
            "p_trend": _nan(r.get("p_trend")), "p_record": _nan(r.get("p_record")),
            "p_trend_text": fmt_pct(_nan(r.get("p_trend"))) if evaluated else "",
            "p_record_text": (f"{fmt_pct(_nan(r.get('p_record')))}"
                              f"{' (thin)' if r.get('record_thin') is True else ''}"
                              if evaluated else ""),
            "likelihood": f"{LIKELIHOOD_ZH.get(word, '')} {word}".strip() if evaluated else "",
            "light": light(r.get("probability")) if evaluated else "",
            "required": (f"{fmt_number(req)} {req_unit}".strip()
                         if evaluated and math.isfinite(req) else ""),
            "required_annual": req,
            "status": STATUS_TEXT.get(r.get("status"), r.get("status")),
            "reason": r.get("reason") if isinstance(r.get("reason"), str) else "",
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
    parts = [f"{int(v)} {m}" for m, v in total.items() if m != "not evaluable" and v]
    with_p = sum(int(v) for m, v in total.items() if m != "not evaluable")
    out = [f"{with_p} of {n} targets have a probability ({', '.join(parts)})."]
    if len(reasons):
        out.append(f"{n - with_p} not evaluable: " + "; ".join(
            f"{r['targets']} × {r['reason']}" for r in reasons.to_dict("records")) + ".")
    return out


def wide_pmet(table: pd.DataFrame) -> pd.DataFrame:
    """Evaluated targets (rows, catalogue order) × scenarios (columns, run order): P(met)."""
    ev = table[table["status"] == "evaluated"]
    if ev.empty:
        return pd.DataFrame()
    scen = list(dict.fromkeys(ev["scenario"]))
    ids = list(dict.fromkeys(ev["target_id"]))
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
               "binding", "unit", "base", "target", "target_value", "target_year", "latest_actual",
               "latest_value", "median", "p10", "p90", "projection", "p_met", "p_se", "ci_low",
               "ci_high", "method", "p_trend", "p_record", "likelihood", "required_annual", "status",
               "reason", "observed")


def write_csv(plan: pd.DataFrame, path: Path) -> Path:
    """The plan-layout table as CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese)."""
    plan.loc[:, list(CSV_COLUMNS)].to_csv(path, index=False, encoding="utf-8-sig")
    return Path(path)


def md_text(x) -> str:
    """Text from user files made inert in Markdown: ``&``, ``<`` and ``>`` as HTML entities
    (Markdown passes raw HTML through: a label ``<img onerror=...>`` must stay text), newlines
    flattened."""
    return html.escape(str(x), quote=False).replace("\r", " ").replace("\n", " ")


def _md_cell(x) -> str:
    s = "" if x is None or (isinstance(x, float) and not math.isfinite(x)) else str(x)
    return md_text(s).replace("|", "\\|")


def md_table(header: list[str], rows: list[list]) -> str:
    """A Markdown pipe table (HTML escaped by :func:`md_text`, ``|`` in cells escaped, newlines
    flattened)."""
    out = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


LIGHT_MARK = {"green": "🟢", "amber": "🟡", "red": "🔴", "": ""}
MD_KEYS = ("indicator_zh", "indicator_en", "type", "unit", "base", "target", "target_year",
           "latest_actual", "projection", "p_met_text", "method", "p_trend_text", "p_record_text",
           "likelihood", "required")
MD_HEAD = ("指标", "Indicator", "属性 Type", "单位 Unit", "基期 Base", "目标值 Target", "年 Year",
           "最新实际值 Latest actual", "预测中位数 [80%区间] Projection", "达标概率 P(met) ± SE",
           "方法 Method", "趋势 p_trend", "规划记录 p_record", "可能性 Likelihood",
           "所需年均变化 Required")
#: one sentence per probability column (tables and report)
MEANING_TEXT = "; ".join(MEANINGS.values()) + "."


def pmet_rows(wide: pd.DataFrame, first: pd.DataFrame) -> list[list[str]]:
    """Rows of the P(met) overview: indicator, target, then a traffic light and P per column.

    ``wide`` is targets × scenarios (or runs) of P(met); ``first`` one catalogue row per target.
    """
    rows = []
    for tid, r in wide.iterrows():
        f = first.loc[tid].to_dict()
        rows.append([f"{f.get('indicator_zh', '')} / {f.get('indicator', '')}",
                     f"{target_text(f)} ({as_int(f.get('target_year'))})"]
                    + [f"{LIGHT_MARK[light(v)]} {fmt_pct(v)}".strip() for v in r.values])
    return rows


def markdown(plan: pd.DataFrame, table: pd.DataFrame, *, title: str = "",
             scenario_labels: dict | None = None) -> str:
    """``targets.md``: P(met) overview, one evaluation table per scenario, the non-evaluable list."""
    scenario_labels = scenario_labels or {}
    parts = [f"# {md_text(title or '目标达成概率 · Probability that the targets are met')}", ""]
    wide = wide_pmet(table)
    first = table.drop_duplicates("target_id").set_index("target_id")
    if not wide.empty:
        parts += ["## 达标概率一览 · P(met) by scenario", "",
                  "🟢 ≥ 66% (likely) · 🟡 33–66% · 🔴 < 33% (unlikely)", ""]
        head = ["指标 Indicator", "目标 Target"] + [
            f"{scenario_labels.get(s, '')} {s}".strip() for s in wide.columns]
        parts += [md_table(head, pmet_rows(wide, first)), ""]
    parts += [md_text(MEANING_TEXT), ""]
    for scen in dict.fromkeys(plan["scenario"]):
        sub = plan[(plan["scenario"] == scen) & (plan["p_met_text"] != "")]
        label = scenario_labels.get(scen, "")
        parts += [f"## {md_text(label)} {md_text(scen)}".replace("  ", " "), ""]
        if sub.empty:
            parts += ["（无可评估目标）No evaluable target.", ""]
            continue
        parts += [md_table(list(MD_HEAD), [[r[k] for k in MD_KEYS] for r in sub.to_dict("records")]), ""]
    ne = not_evaluable(table)
    parts += ["## 未能评估的目标 · Targets not evaluated", ""]
    if ne.empty:
        parts += ["None: every target was evaluated.", ""]
    else:
        head = ["编号 Target id", "来源 Set", "指标 Indicator", "年 Year", "原因 Reason", "情景 Scenarios"]
        rows = [[r["target_id"], r["target_set"], f"{r['indicator_zh']} / {r['indicator']}",
                 r["target_year"], r["reason"], r["scenarios"]] for r in ne.to_dict("records")]
        parts += [md_table(head, rows), ""]
    return "\n".join(parts)


def write_markdown(plan: pd.DataFrame, table: pd.DataFrame, path: Path, **kw) -> Path:
    """Write :func:`markdown` (keywords ``title``, ``scenario_labels``) to ``path``."""
    Path(path).write_text(markdown(plan, table, **kw), encoding="utf-8")
    return Path(path)
