"""Tables people read: the terminal summary of a run and the evaluation table in four formats.

The evaluation table follows the layout of a plan's mid-term evaluation (指标 · 属性 · 单位 ·
基期 · 目标值 · 最新实际值 · 预测 · 达标概率): one row per target and scenario with

    indicator (zh, en) · binding/indicative · unit · base · target · latest actual (as_of) ·
    projection median [80 % interval] · P(met) ± SE · likelihood · status (reason)

built by :func:`plan_table` from the evaluation's ``targets.csv`` (and the ensemble, for the
value at as_of). Writers: :func:`write_csv` (``targets_table.csv``), :func:`write_markdown`
(``targets.md``), :func:`write_xlsx` (``targets.xlsx``: frozen header, percentage formats, a
colour scale on P(met), column widths) and :func:`write_html` (``targets.html``, self-contained).
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

from sim.evaluation import as_int

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

#: columns of the plan-layout table: (key, header)
COLUMNS = (
    ("scenario", "情景 Scenario"),
    ("target_set", "目标来源 Target set"),
    ("target_id", "编号 Target id"),
    ("indicator_zh", "指标"),
    ("indicator_en", "Indicator"),
    ("type", "属性 Type"),
    ("unit", "单位 Unit"),
    ("base", "基期 Base"),
    ("target", "目标值 Target"),
    ("target_year", "目标年 Year"),
    ("latest_actual", "最新实际值 Latest actual"),
    ("projection", "预测中位数 [80%区间] Projection median [80% interval]"),
    ("p_met", "达标概率 P(met)"),
    ("p_se", "± SE"),
    ("likelihood", "可能性 Likelihood"),
    ("required", "所需年均变化 Required rate"),
    ("status", "状态 Status"),
    ("reason", "原因 Reason"),
)


# --------------------------------------------------------------------------------------------
# terminal


def print_summary(table: pd.DataFrame, folder) -> None:
    """P(met) per target (rows) and scenario (columns), evaluable targets only."""
    if table.empty:
        print("no targets in the chosen sets")
        return
    ev = table[table["status"] == "evaluated"]
    if not ev.empty:
        wide = ev.pivot_table(index=["target_id"], columns="scenario", values="probability",
                              sort=False)
        scen_order = list(dict.fromkeys(ev["scenario"]))
        wide = wide[scen_order]
        width = max(len(str(i)) for i in wide.index)
        head = "target".ljust(width) + "".join(f"  {s[:14]:>14}" for s in wide.columns)
        print("P(target met)")
        print(head)
        print("-" * len(head))
        for tid, r in wide.iterrows():
            print(str(tid).ljust(width) + "".join(f"  {v:14.3f}" for v in r.values))
    not_ev = table[table["status"] != "evaluated"].drop_duplicates("target_id")
    print(f"\n{ev['target_id'].nunique()} targets evaluated, {len(not_ev)} not evaluable "
          f"(reasons in targets.csv). Results: {folder}")


# --------------------------------------------------------------------------------------------
# formatting helpers


def _f(v) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return math.nan
    return x


def fmt_number(x) -> str:
    """15000 → '15,000'; 0.4123 → '0.412'; 6.50 → '6.5'; NaN → '–'."""
    x = _f(x)
    if not math.isfinite(x):
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
    p = _f(p)
    return f"{100 * p:.{digits}f}%" if math.isfinite(p) else "–"


def fmt_pm(p, se) -> str:
    """'62.3% ± 0.3%'."""
    p, se = _f(p), _f(se)
    if not math.isfinite(p):
        return "–"
    se_txt = "<0.1%" if math.isfinite(se) and 100 * se < 0.05 else fmt_pct(se)
    return f"{fmt_pct(p)} ± {se_txt}"


def target_text(row: dict) -> str:
    """'≥ 26,000', '≤ −10', '5–6', or 'no value'."""
    v, hi = _f(row.get("value")), _f(row.get("value_high"))
    if not math.isfinite(v):
        return "（空白）blank"
    cmp = row.get("comparator")
    if cmp == "range" and math.isfinite(hi):
        return f"{fmt_number(v)}–{fmt_number(hi)}"
    return f"{COMPARATOR_TEXT.get(cmp, cmp)} {fmt_number(v)}".strip()


def light(p) -> str:
    """'green' / 'amber' / 'red' / '' (not evaluated)."""
    p = _f(p)
    if not math.isfinite(p):
        return ""
    return "green" if p >= GREEN else ("amber" if p >= AMBER else "red")


# --------------------------------------------------------------------------------------------
# the plan-layout table


def _latest(ds, row: dict) -> tuple[float, str]:
    """(value, text) of the indicator at as_of: the level, or the change already achieved."""
    as_of = int(ds.attrs["as_of"]) if ds is not None else None
    kind = row.get("kind")
    if kind == "cumulative_change":
        done = _f(row.get("achieved_before_as_of"))
        b = as_int(row.get("base_year"))
        if b is not None and as_of is not None and b == as_of:
            return 0.0, f"0% ({b} = 基期 base)"
        if math.isfinite(done) and b is not None:
            return done, f"{fmt_number(done)}% ({b}→{as_of})"
        return math.nan, ""
    series = row.get("series")
    if ds is None or not isinstance(series, str) or series not in ds or kind == "cumulative_sum":
        return math.nan, ""
    var = ds[series]
    if var.attrs.get("relative_to_as_of") or "year" not in var.dims or as_of not in var["year"].values:
        return math.nan, ""
    with np.errstate(all="ignore"):
        vals = np.asarray(var.sel(year=as_of).values, dtype=float)
        if not np.isfinite(vals).any():
            return math.nan, ""
        v = float(np.nanmedian(vals))
    return v, f"{fmt_number(v)} ({as_of})"


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
               windows: dict | None = None) -> pd.DataFrame:
    """The evaluation table in the plan's layout (one row per target and scenario).

    Text columns are formatted for reading; numeric twins (``p_met``, ``p_se``, ``median``,
    ``p10``, ``p90``, ``target_value``, ``latest_value``, ``required_annual``) keep the numbers
    of ``targets.csv`` unchanged.
    """
    scenario_labels = scenario_labels or {}
    rows = []
    for r in table.to_dict("records"):
        evaluated = r.get("status") == "evaluated"
        latest_v, latest_t = _latest(ds, r)
        med, lo, hi = _f(r.get("median")), _f(r.get("p10")), _f(r.get("p90"))
        unit = r.get("unit") if isinstance(r.get("unit"), str) else ""
        req = _f(r.get("required_annual"))
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
            "target_value": _f(r.get("value")),
            "target_year": as_int(r.get("target_year")),
            "latest_actual": latest_t,
            "latest_value": latest_v,
            "projection": (f"{fmt_number(med)} [{fmt_number(lo)}, {fmt_number(hi)}]"
                           if evaluated and math.isfinite(med) else ""),
            "median": med, "p10": lo, "p90": hi,
            "p_met": _f(r.get("probability")) if evaluated else math.nan,
            "p_se": _f(r.get("mc_se")) if evaluated else math.nan,
            "ci_low": _f(r.get("ci_low")), "ci_high": _f(r.get("ci_high")),
            "p_met_text": fmt_pm(r.get("probability"), r.get("mc_se")) if evaluated else "",
            "likelihood": f"{LIKELIHOOD_ZH.get(word, '')} {word}".strip() if evaluated else "",
            "light": light(r.get("probability")) if evaluated else "",
            "required": (f"{fmt_number(req)} {req_unit}".strip()
                         if evaluated and math.isfinite(req) else ""),
            "required_annual": req,
            "status": STATUS_TEXT.get(r.get("status"), r.get("status")),
            "reason": r.get("reason") if isinstance(r.get("reason"), str) else "",
            "observed": _f(r.get("observed")),
        })
    return pd.DataFrame(rows)


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
               "ci_high", "likelihood", "required_annual", "status", "reason", "observed")


def write_csv(plan: pd.DataFrame, path: Path) -> Path:
    """The plan-layout table as CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese)."""
    plan.loc[:, list(CSV_COLUMNS)].to_csv(path, index=False, encoding="utf-8-sig")
    return Path(path)


def _md_cell(x) -> str:
    s = "" if x is None or (isinstance(x, float) and not math.isfinite(x)) else str(x)
    return s.replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


LIGHT_MARK = {"green": "🟢", "amber": "🟡", "red": "🔴", "": ""}
MD_KEYS = ("indicator_zh", "indicator_en", "type", "unit", "base", "target", "target_year",
           "latest_actual", "projection", "p_met_text", "likelihood", "required")
MD_HEAD = ("指标", "Indicator", "属性 Type", "单位 Unit", "基期 Base", "目标值 Target", "年 Year",
           "最新实际值 Latest actual", "预测中位数 [80%区间] Projection", "达标概率 P(met) ± SE",
           "可能性 Likelihood", "所需年均变化 Required")


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
    parts = [f"# {title or '目标达成概率 · Probability that the targets are met'}", ""]
    wide = wide_pmet(table)
    first = table.drop_duplicates("target_id").set_index("target_id")
    if not wide.empty:
        parts += ["## 达标概率一览 · P(met) by scenario", "",
                  "🟢 ≥ 66% (likely) · 🟡 33–66% · 🔴 < 33% (unlikely)", ""]
        head = ["指标 Indicator", "目标 Target"] + [
            f"{scenario_labels.get(s, '')} {s}".strip() for s in wide.columns]
        parts += [_md_table(head, pmet_rows(wide, first)), ""]
    for scen in dict.fromkeys(plan["scenario"]):
        sub = plan[(plan["scenario"] == scen) & (plan["p_met_text"] != "")]
        label = scenario_labels.get(scen, "")
        parts += [f"## {label} {scen}".replace("  ", " "), ""]
        if sub.empty:
            parts += ["（无可评估目标）No evaluable target.", ""]
            continue
        parts += [_md_table(list(MD_HEAD), [[r[k] for k in MD_KEYS] for r in sub.to_dict("records")]), ""]
    ne = not_evaluable(table)
    parts += ["## 未能评估的目标 · Targets not evaluated", ""]
    if ne.empty:
        parts += ["None: every target was evaluated.", ""]
    else:
        parts += [_md_table(["编号 Target id", "来源 Set", "指标 Indicator", "年 Year", "原因 Reason", "情景 Scenarios"],
                            [[r["target_id"], r["target_set"], f"{r['indicator_zh']} / {r['indicator']}",
                              r["target_year"], r["reason"], r["scenarios"]] for r in ne.to_dict("records")]), ""]
    return "\n".join(parts)


def write_markdown(plan: pd.DataFrame, table: pd.DataFrame, path: Path, **kw) -> Path:
    Path(path).write_text(markdown(plan, table, **kw), encoding="utf-8")
    return Path(path)


# --------------------------------------------------------------------------------------------
# XLSX

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
    ("latest_value", "最新实际值 Latest actual (as_of)", 16, "#,##0.###"),
    ("median", "预测中位数 Median", 14, "#,##0.###"),
    ("p10", "P10", 12, "#,##0.###"),
    ("p90", "P90", 12, "#,##0.###"),
    ("p_met", "达标概率 P(met)", 12, "0.0%"),
    ("p_se", "± SE", 9, "0.00%"),
    ("ci_low", "Wilson 95% 下限 low", 11, "0.0%"),
    ("ci_high", "Wilson 95% 上限 high", 11, "0.0%"),
    ("likelihood", "可能性 Likelihood", 22, None),
    ("required_annual", "所需年均变化 Required per year", 14, "0.00"),
    ("status", "状态 Status", 18, None),
    ("reason", "原因 Reason", 50, None),
)


def write_xlsx(plan: pd.DataFrame, table: pd.DataFrame, path: Path, *, joint: pd.DataFrame | None = None,
               provenance: dict | None = None, scenario_labels: dict | None = None) -> Path:
    """``targets.xlsx``: sheets 评估表 Evaluation, 达标概率 P(met), 未评估 Not evaluated, 联合 Joint, 说明 About.

    Every sheet has a frozen, bold header row and set column widths; probabilities carry a
    percentage number format, and P(met) columns a red–yellow–green colour scale.
    """
    from openpyxl import Workbook
    from openpyxl.formatting.rule import ColorScaleRule
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    scenario_labels = scenario_labels or {}
    head_font = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDE6F0")
    scale = dict(start_type="num", start_value=0, start_color="F8696B",
                 mid_type="num", mid_value=0.5, mid_color="FFEB84",
                 end_type="num", end_value=1, end_color="63BE7B")

    def header(ws, names, widths):
        ws.append(list(names))
        for j, w in enumerate(widths, start=1):
            c = ws.cell(row=1, column=j)
            c.font, c.fill = head_font, head_fill
            c.alignment = Alignment(wrap_text=True, vertical="top")
            ws.column_dimensions[get_column_letter(j)].width = w
        ws.freeze_panes = "A2"

    def clean(v):
        if v is None:
            return None
        if isinstance(v, (float, np.floating)):
            return float(v) if math.isfinite(v) else None
        if isinstance(v, (np.integer,)):
            return int(v)
        return v

    wb = Workbook()
    ws = wb.active
    ws.title = "评估表 Evaluation"
    header(ws, [h for _, h, _, _ in XLSX_COLUMNS], [w for _, _, w, _ in XLSX_COLUMNS])
    for r in plan.to_dict("records"):
        ws.append([clean(r.get(k)) for k, _, _, _ in XLSX_COLUMNS])
    n = ws.max_row
    for j, (key, _, _, fmt) in enumerate(XLSX_COLUMNS, start=1):
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, max_row=n, min_col=j, max_col=j):
                cell.number_format = fmt
        if key == "p_met" and n > 1:
            col = get_column_letter(j)
            ws.conditional_formatting.add(f"{col}2:{col}{n}", ColorScaleRule(**scale))
    ws.auto_filter.ref = ws.dimensions

    wide = wide_pmet(table)
    ws2 = wb.create_sheet("达标概率 P(met)")
    first = table.drop_duplicates("target_id").set_index("target_id")
    scen = list(wide.columns)
    header(ws2, ["编号 Target id", "指标", "Indicator", "目标值 Target", "年 Year"]
           + [f"{scenario_labels.get(s, '')} {s}".strip() for s in scen],
           [30, 26, 34, 14, 8] + [16] * len(scen))
    for tid, r in wide.iterrows():
        f = first.loc[tid].to_dict()
        ws2.append([tid, f.get("indicator_zh"), f.get("indicator"), target_text(f),
                    as_int(f.get("target_year"))] + [clean(v) for v in r.values])
    if len(wide) and scen:
        rng = f"F2:{get_column_letter(5 + len(scen))}{ws2.max_row}"
        for row in ws2[rng]:
            for cell in row:
                cell.number_format = "0.0%"
        ws2.conditional_formatting.add(rng, ColorScaleRule(**scale))

    ne = not_evaluable(table)
    ws3 = wb.create_sheet("未评估 Not evaluated")
    header(ws3, ["编号 Target id", "目标来源 Set", "指标", "Indicator", "年 Year", "原因 Reason", "情景 Scenarios"],
           [30, 16, 26, 34, 8, 60, 20])
    for r in ne.to_dict("records"):
        ws3.append([clean(r[k]) for k in ("target_id", "target_set", "indicator_zh", "indicator",
                                          "target_year", "reason", "scenarios")])

    if joint is not None and not joint.empty:
        ws4 = wb.create_sheet("联合概率 Joint")
        cols = list(joint.columns)
        header(ws4, cols, [max(10, min(24, len(c) + 2)) for c in cols])
        for r in joint.to_dict("records"):
            ws4.append([clean(r[c]) for c in cols])
        for j, c in enumerate(cols, start=1):
            if c.startswith("p_"):
                for (cell,) in ws4.iter_rows(min_row=2, max_row=ws4.max_row, min_col=j, max_col=j):
                    cell.number_format = "0.00%" if c.endswith("_se") else "0.0%"
            if c == "p_all" and ws4.max_row > 1:
                col = get_column_letter(j)
                ws4.conditional_formatting.add(f"{col}2:{col}{ws4.max_row}", ColorScaleRule(**scale))

    ws5 = wb.create_sheet("说明 About")
    header(ws5, ["项目 Item", "值 Value"], [24, 90])
    for k, v in (provenance or {}).items():
        ws5.append([str(k), str(v)])
    wb.save(path)
    return Path(path)


# --------------------------------------------------------------------------------------------
# HTML

CSS = """
:root{--ink:#1d2630;--muted:#5b6773;--line:#d9dee4;--head:#eef2f6;--green:#cdebd6;--amber:#fbedc2;--red:#f6d0cc}
*{box-sizing:border-box}
body{font-family:"Noto Sans SC sim","Noto Sans CJK SC","PingFang SC","Microsoft YaHei","Source Han Sans SC",system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0;line-height:1.5;background:#fff}
main{max-width:1180px;margin:0 auto;padding:16px}
h1{font-size:1.5rem;margin:.4em 0}h2{font-size:1.2rem;margin:1.6em 0 .5em;border-bottom:2px solid var(--line);padding-bottom:.2em}h3{font-size:1.05rem;margin:1.2em 0 .4em}
p,li{max-width:75ch}
.muted{color:var(--muted);font-size:.9em}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:.5em 0 1em;border:1px solid var(--line);border-radius:4px}
table{border-collapse:collapse;font-size:.85rem;min-width:100%}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top;min-width:7em;max-width:36em}
th{background:var(--head);position:sticky;top:0;font-weight:600}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.nowrap{white-space:nowrap}
td.green{background:var(--green)}td.amber{background:var(--amber)}td.red{background:var(--red)}
.legend span{display:inline-block;padding:1px 8px;margin-right:6px;border-radius:3px}
figure{margin:1em 0}
figure img{max-width:100%;height:auto;border:1px solid var(--line)}
figcaption{font-size:.85em;color:var(--muted)}
details{margin:.4em 0}summary{cursor:pointer;font-weight:600}
nav ul{padding-left:1.2em}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f8fa;padding:8px;border:1px solid var(--line);font-size:.8rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}dt{font-weight:600}dd{margin:0;word-break:break-all}
@media (max-width:600px){main{padding:8px}h1{font-size:1.25rem}table{font-size:.78rem}dl{grid-template-columns:1fr}}
"""


def esc(x) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return html.escape(str(x))


def html_table(header: list[str], rows: list[list], classes: list[list[str]] | None = None) -> str:
    """A horizontally scrolling table; ``classes[i][j]`` is the CSS class of cell (i, j)."""
    out = ['<div class="scroll"><table><thead><tr>']
    out += [f"<th>{esc(h)}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for i, r in enumerate(rows):
        out.append("<tr>")
        for j, c in enumerate(r):
            cls = classes[i][j] if classes else ""
            out.append(f'<td class="{cls}">{esc(c)}</td>' if cls else f"<td>{esc(c)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


LEGEND_HTML = ('<p class="legend muted"><span class="green" style="background:var(--green)">≥ 66% likely 可能</span>'
               '<span style="background:var(--amber)">33–66%</span>'
               '<span style="background:var(--red)">&lt; 33% unlikely 不太可能</span></p>')


def html_pmet_heat(table: pd.DataFrame, scenario_labels: dict | None = None, column: str = "scenario") -> str:
    """Traffic-light table: targets × scenarios, P(met) ± SE in coloured cells."""
    scenario_labels = scenario_labels or {}
    ev = table[table["status"] == "evaluated"]
    if ev.empty:
        return "<p>No evaluable target.</p>"
    groups = list(dict.fromkeys(ev[column]))
    ids = list(dict.fromkeys(ev["target_id"]))
    idx = ev.set_index(["target_id", column])
    first = ev.drop_duplicates("target_id").set_index("target_id")
    head = ["指标 Indicator", "目标 Target", "属性 Type"] + [f"{scenario_labels.get(g, '')} {g}".strip() for g in groups]
    rows, classes = [], []
    for tid in ids:
        f = first.loc[tid].to_dict()
        row = [f"{f.get('indicator_zh', '')} / {f.get('indicator', '')}",
               f"{target_text(f)} ({as_int(f.get('target_year'))}, {f.get('target_set')})",
               BINDING_TEXT.get(f.get("binding"), f.get("binding"))]
        cls = ["", "nowrap", "nowrap"]
        for g in groups:
            if (tid, g) in idx.index:
                r = idx.loc[(tid, g)]
                if isinstance(r, pd.DataFrame):
                    r = r.iloc[0]
                row.append(fmt_pm(r["probability"], r["mc_se"]))
                cls.append(f"num {light(r['probability'])}")
            else:
                row.append("")
                cls.append("")
        rows.append(row)
        classes.append(cls)
    return LEGEND_HTML + html_table(head, rows, classes)


HTML_KEYS = ("indicator_zh", "indicator_en", "type", "unit", "base", "target", "target_year",
             "latest_actual", "projection", "p_met_text", "likelihood", "required", "status")
HTML_HEAD = ("指标", "Indicator", "属性 Type", "单位 Unit", "基期 Base", "目标值 Target", "年 Year",
             "最新实际值 Latest actual", "预测中位数 [80%区间] Projection median [80% interval]",
             "达标概率 P(met) ± SE", "可能性 Likelihood", "所需年均变化 Required rate", "状态 Status")


def html_plan_table(plan: pd.DataFrame, scenario: str) -> str:
    """The evaluation table of one scenario (evaluated rows; not-evaluable ones are listed apart)."""
    sub = plan[(plan["scenario"] == scenario) & (plan["p_met_text"] != "")]
    if sub.empty:
        return "<p>（无可评估目标）No evaluable target in this scenario.</p>"
    rows, classes = [], []
    num = {"target_year", "latest_actual", "projection", "p_met_text", "required"}
    for r in sub.to_dict("records"):
        rows.append([r[k] for k in HTML_KEYS])
        classes.append([("num " + r["light"]) if k == "p_met_text" else ("num" if k in num else "")
                        for k in HTML_KEYS])
    return html_table(list(HTML_HEAD), rows, classes)


def html_not_evaluable(table: pd.DataFrame) -> str:
    ne = not_evaluable(table)
    if ne.empty:
        return "<p>None: every target was evaluated. 全部目标均已评估。</p>"
    rows = [[r["target_id"], r["target_set"], r["indicator_zh"], r["indicator"], r["target_year"],
             r["reason"], r["scenarios"]] for r in ne.to_dict("records")]
    return html_table(["编号 Target id", "来源 Set", "指标", "Indicator", "年 Year", "原因 Reason",
                       "情景 Scenarios"], rows)


def html_page(title: str, body: str, extra_css: str = "") -> str:
    """A complete, self-contained HTML page (inline CSS, no external reference)."""
    return ("<!DOCTYPE html>\n<html lang=\"zh-Hans\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{extra_css}{CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n")


def write_html(plan: pd.DataFrame, table: pd.DataFrame, path: Path, *, title: str = "",
               scenario_labels: dict | None = None, font_css: str = "") -> Path:
    """``targets.html``: overview heat table, one evaluation table per scenario, not-evaluable list."""
    scenario_labels = scenario_labels or {}
    title = title or "目标达成概率 · Probability that the targets are met"
    body = [f"<h1>{esc(title)}</h1>", "<h2>达标概率一览 · P(met) by scenario</h2>",
            html_pmet_heat(table, scenario_labels)]
    for scen in dict.fromkeys(plan["scenario"]):
        body += [f"<h2>{esc(scenario_labels.get(scen, ''))} {esc(scen)}</h2>", html_plan_table(plan, scen)]
    body += ["<h2>未能评估的目标 · Targets not evaluated</h2>", html_not_evaluable(table)]
    Path(path).write_text(html_page(title, "".join(body), font_css), encoding="utf-8")
    return Path(path)
