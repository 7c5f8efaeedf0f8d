"""Self-contained HTML: the page frame, tables with traffic lights, the embedded font and images.

Every page written here (``targets.html``, ``report.html``, ``compare.html``) stands alone:
inline CSS, figures as base64 PNG, the shipped CJK font subset to the page's characters as a
``data:`` URI; no external reference of any kind.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from pathlib import Path

import pandas as pd

from sim.evaluation import evidence as E
from sim.output.handin import handin_rows, handin_scenario
from sim.output.plots import FONT_FAMILY, FONT_FILE
from sim.output.value_met_cells import BLANK_HEAD, PLANNER_WORDS, blank_value_rows
from sim.output.tables import (BINDING_TEXT, JOINT_HEAD, JOINT_KEYS, MEANING_TEXT, PACE_NOTE,
                               coverage, coverage_lines, display_columns, display_rows, dropouts,
                               fmt_pm, is_midterm, joint_rows, light, not_evaluable,
                               record_columns, split_rows, target_with_unit)

#: below this width every table is shown as one labelled card per row (no horizontal scrolling)
NARROW_PX = 600
#: the narrow-screen rule: each row a card, each cell labelled by its ``data-label`` (the header)
CARDS_CSS = (f"@media (max-width:{NARROW_PX}px){{"
             "table.cards thead,.cmp table thead{display:none}"
             "table.cards,table.cards tbody,table.cards tr,table.cards td,"
             ".cmp table,.cmp tbody,.cmp tr,.cmp td"
             "{display:block;min-width:0;max-width:none;width:auto;position:static}"
             "table.cards tr,.cmp tr{border-bottom:2px solid var(--line);padding:4px 0}"
             "table.cards td,.cmp td{border:0;padding:1px 8px;text-align:left;white-space:normal}"
             "table.cards td:first-child{font-weight:600}"
             "table.cards td[data-label]::before,.cmp td[data-label]::before"
             "{content:attr(data-label) \": \";font-weight:600;color:var(--muted)}"
             ".scroll{overflow-x:visible}}")

CSS = "\n".join([
    "",
    ":root{--ink:#1d2630;--muted:#5b6773;--line:#d9dee4;--head:#eef2f6;--green:#cdebd6;"
    "--amber:#fbedc2;--red:#f6d0cc}",
    "*{box-sizing:border-box}",
    'body{font-family:"Noto Sans SC sim","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",'
    '"Source Han Sans SC",system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;'
    "color:var(--ink);margin:0;line-height:1.5;background:#fff}",
    "main{max-width:1180px;margin:0 auto;padding:16px}",
    "h1{font-size:1.5rem;margin:.4em 0}h2{font-size:1.2rem;margin:1.6em 0 .5em;"
    "border-bottom:2px solid var(--line);padding-bottom:.2em}h3{font-size:1.05rem;"
    "margin:1.2em 0 .4em}",
    "p,li{max-width:75ch}",
    ".muted{color:var(--muted);font-size:.9em}",
    "td .sub{display:block;color:var(--muted);font-size:.85em}",
    # probability columns of a targets × scenarios table: narrow, wrapping, all on a 1280 px screen
    "td.p{min-width:5.5em;white-space:normal}td.p .sub{font-style:normal}",
    ".scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:.5em 0 1em;"
    "border:1px solid var(--line);border-radius:4px}",
    "table{border-collapse:collapse;font-size:.85rem;min-width:100%}",
    "th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;"
    "vertical-align:top;min-width:7em;max-width:36em}",
    "th{background:var(--head);position:sticky;top:0;font-weight:600}",
    "td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}",
    "td.nowrap{white-space:nowrap}",
    "td.green{background:var(--green)}td.amber{background:var(--amber)}"
    "td.red{background:var(--red)}td.record{background:#eceff3;font-style:italic}",
    ".legend span{display:inline-block;padding:1px 8px;margin-right:6px;border-radius:3px}",
    "figure{margin:1em 0}",
    "figure img{max-width:100%;height:auto;border:1px solid var(--line)}",
    "figcaption{font-size:.85em;color:var(--muted)}",
    "details{margin:.4em 0}summary{cursor:pointer;font-weight:600}",
    "nav ul{padding-left:1.2em}",
    "pre{white-space:pre-wrap;word-break:break-word;background:#f7f8fa;padding:8px;"
    "border:1px solid var(--line);font-size:.8rem}",
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}dt{font-weight:600}"
    "dd{margin:0;word-break:break-all}",
    "@media (max-width:600px){main{padding:8px}h1{font-size:1.25rem}table{font-size:.78rem}"
    "dl{grid-template-columns:1fr}}",
    CARDS_CSS,
    "",
])


def esc(x) -> str:
    """HTML-escaped text of a cell; empty for None and NaN."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return html.escape(str(x))


def html_table(header: list[str], rows: list[list], classes: list[list[str]] | None = None,
               labels: list[str] | None = None) -> str:
    """A table that scrolls on a wide screen and turns into one card per row on a narrow one
    (:data:`CARDS_CSS`: every cell carries its header as ``data-label``); ``classes[i][j]`` is the
    CSS class of cell (i, j). A cell given as a tuple is shown as lines: the first, then the
    others smaller (``.sub``). ``labels``: the card labels when not the headers ('' for none,
    e.g. a first column that titles the card)."""
    labels = header if labels is None else labels
    out = ['<div class="scroll"><table class="cards"><thead><tr>']
    out += [f"<th>{esc(h)}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for i, r in enumerate(rows):
        out.append("<tr>")
        for j, c in enumerate(r):
            cls = f' class="{classes[i][j]}"' if classes and classes[i][j] else ""
            lab = f' data-label="{esc(labels[j])}"' if j < len(labels) and labels[j] else ""
            out.append(f"<td{cls}{lab}>{cell_html(c)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def cell_html(c) -> str:
    """A cell's escaped HTML; a tuple is its first line and the others as ``.sub`` lines."""
    if isinstance(c, tuple):
        parts = [esc(x) for x in c if esc(x)]
        return (parts[0] if parts else "") + "".join(f'<span class="sub">{x}</span>'
                                                     for x in parts[1:])
    return esc(c)


LEGEND_HTML = ('<p class="legend muted">'
               '<span class="green" style="background:var(--green)">≥ 66% likely 可能</span>'
               '<span style="background:var(--amber)">33–66%</span>'
               '<span style="background:var(--red)">&lt; 33% unlikely 不太可能</span>'
               f'<span class="record" style="background:#eceff3">{html.escape(E.RECORD)}: '
               'no verdict 无判断</span></p>')


#: scenario columns per overview table: more (e.g. two compared runs) continue in the next table
MAX_HEAT_COLUMNS = 6


def html_pmet_heat(table: pd.DataFrame, scenario_labels: dict | None = None, column: str = "scenario") -> str:
    """Traffic-light table: targets × scenarios, P(met) ± SE in coloured cells; at most
    :data:`MAX_HEAT_COLUMNS` scenarios per table, so every probability fits a 1280 px screen."""
    scenario_labels = scenario_labels or {}
    ev = table[table["status"] == "evaluated"]
    if ev.empty:
        return "<p>No evaluable target.</p>"
    groups = list(dict.fromkeys(ev[column]))
    if len(groups) > MAX_HEAT_COLUMNS:
        parts = [groups[i:i + MAX_HEAT_COLUMNS] for i in range(0, len(groups), MAX_HEAT_COLUMNS)]
        return "".join(
            (f'<p class="muted">{k + 1} / {len(parts)}: {esc(", ".join(map(str, part)))}</p>'
             + html_pmet_heat(ev[ev[column].isin(part)], scenario_labels, column)
             .removeprefix(LEGEND_HTML if k else "")) for k, part in enumerate(parts))
    ids = list(dict.fromkeys(ev["target_id"]))
    idx = ev.set_index(["target_id", column])
    first = ev.drop_duplicates("target_id").set_index("target_id")
    head = (["指标 · 目标 · 属性 · 依据 Indicator · target · type · basis"]
            + [f"{scenario_labels.get(g, '')} {g}".strip() for g in groups])
    rows, classes = [], []
    for tid in ids:   # one text column, then the scenarios: all P(met) fit beside it at 1280 px
        f = first.loc[tid].to_dict()
        row: list = [(f"{f.get('indicator_zh', '')} / {f.get('indicator', '')}",
                f"{target_with_unit(f)}, {f.get('target_set')} · "
                f"{BINDING_TEXT.get(f.get('binding'), f.get('binding'))} · {E.basis(f.get('method'))}")]
        cls = [""]
        for g in groups:
            if (tid, g) in idx.index:
                r = idx.loc[(tid, g)]
                if isinstance(r, pd.DataFrame):
                    r = r.iloc[0]
                if E.is_record_only(r):
                    row.append((fmt_pm(r["probability"], r["mc_se"]), "往期 past plans"))
                    cls.append("num p record")
                else:
                    row.append(fmt_pm(r["probability"], r["mc_se"]))
                    cls.append(f"num p {light(r['probability'])}")
            else:
                row.append("")
                cls.append("")
        rows.append(row)
        classes.append(cls)
    return LEGEND_HTML + html_table(head, rows, classes, labels=[""] + head[1:])


#: cells right-aligned as numbers
NUM_KEYS = {"target_year", "projection", "p_met_text", "p_at_plan_start_text",
            "delta_p_text"}


#: the columns a reader must see without scrolling (after the indicator), in this order
KEY_FIRST = ("indicator_zh", "indicator_en", "target", "p_met_text", "verdict")


def key_first(cols: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``cols`` with the indicator, target, P(met) and verdict first (:data:`KEY_FIRST`), the
    others after them in their order: on a 1280 px screen the probability and the verdict are
    within the first five columns of a table that scrolls."""
    front = [c for k in KEY_FIRST for c in cols if c[0] == k]
    return front + [c for c in cols if c[0] not in KEY_FIRST]


def html_plan_table(plan: pd.DataFrame, scenario: str) -> str:
    """The evaluation table of one scenario (evaluated rows; not-evaluable ones are listed
    apart): the columns of :func:`sim.output.tables.display_columns` and the status."""
    sub = plan[(plan["scenario"] == scenario) & (plan["p_met_text"] != "")]
    if sub.empty:
        return "<p>（无可评估目标）No evaluable target in this scenario.</p>"
    data, rec = split_rows(sub)
    out = []
    if not data.empty:
        cols = key_first(display_columns(plan) + [("status", "状态 Status")])
        keys = [k for k, _ in cols]
        classes = [[("num " + r["light"]) if k == "p_met_text" else r["light"] if k == "verdict"
                    else ("num" if k in NUM_KEYS else "") for k in keys]
                   for r in data.to_dict("records")]
        out.append(html_table([h for _, h in cols], display_rows(data, keys), classes))
    if not rec.empty:
        rcols = key_first(record_columns(plan))
        keys = [k for k, _ in rcols]
        classes = [["num record" if k == "p_met_text" else ("num" if k in NUM_KEYS else "")
                    for k in keys] for _ in range(len(rec))]
        out.append(f"<h3>{esc(E.RECORD)} · {len(rec)} targets without data of their own "
                   f"(no verdict 无判断)</h3>"
                   + html_table([h for _, h in rcols], display_rows(rec, keys), classes))
    return "".join(out) + f'<p class="muted">{esc(E.BASIS_NOTE)} {esc(PACE_NOTE)}</p>'


def html_handin(plan: pd.DataFrame, table: pd.DataFrame) -> str:
    """The hand-in table of the baseline (:mod:`sim.output.handin`): one row per target with
    its one-line "why", the past-plans-only rows apart ('' without rows)."""
    head, rows, rhead, rrows = handin_rows(plan, table)
    if not rows and not rrows:
        return ""
    out = [f'<p class="muted">情景 Scenario: {esc(handin_scenario(plan))} · one row per target · '
           "why: which data (series, how informative), which records (past plans of the family) "
           "and which weights (trend_weight w: z = w·trend + (1 − w)·record).</p>"]
    if rows:
        classes = [["num p" if h.startswith("达标概率") else ("num" if h.startswith("目标年") else "")
                    for h in head] for _ in rows]
        out.append(html_table(head, rows, classes))
    if rrows:
        out.append(f"<h3>{esc(E.RECORD)} · {len(rrows)} targets without data of their own "
                   "(no verdict 无判断)</h3>" + html_table(rhead, rrows))
    return "".join(out)


def html_dropouts(plan: pd.DataFrame) -> str:
    """Mid-term: the targets whose evaluation changed since the plan's start, with why."""
    drop = dropouts(plan)
    if drop.empty:
        return "<p>None: every target is evaluated as at the plan's start.</p>"
    rows = [[r["target_id"], f"{r['indicator_zh']} / {r['indicator_en']}", r["type"],
             r["change_since_start"], r["scenarios"]] for r in drop.to_dict("records")]
    return html_table(["编号 Target id", "指标 Indicator", "属性 Type", "变化 Change",
                       "情景 Scenarios"], rows)


def html_levers(table: pd.DataFrame) -> str:
    """The "responds to levers" list ('' with one scenario)."""
    lines = E.lever_lines(table)
    if not lines:
        return ""
    if len(lines) == 1:
        return f"<p>{esc(lines[0])}</p>"
    return (f"<p>{esc(lines[0])}</p><ul>"
            + "".join(f"<li>{esc(x.strip())}</li>" for x in lines[1:]) + "</ul>")


def html_joint(joint: pd.DataFrame | None) -> str:
    """The joint probabilities with their n of N and the targets left out ('' without)."""
    jr = joint_rows(joint)
    if not jr:
        return ""
    return html_table(JOINT_HEAD, [[r[k] for k in JOINT_KEYS] for r in jr])


def html_coverage(table: pd.DataFrame) -> str:
    """Coverage: targets with a probability by method and target set, and why the others
    have none (the report's first lines)."""
    by_set, _ = coverage(table)
    if by_set.empty:
        return ""
    lines = "".join(f"<p>{esc(line)}</p>" for line in coverage_lines(table))
    head = ["目标来源 Target set"] + [str(c) for c in by_set.columns]
    rows = [[str(i)] + [str(int(v)) for v in r.values] for i, r in by_set.iterrows()]
    return (lines + html_table(head, rows) + f'<p class="muted">{esc(MEANING_TEXT)}</p>')


def html_not_evaluable(table: pd.DataFrame) -> str:
    """The targets not evaluated, one row per (target, reason), or a sentence saying there are none."""
    ne = not_evaluable(table)
    if ne.empty:
        return "<p>None: every target was evaluated. 全部目标均已评估。</p>"
    rows = [[r["target_id"], r["target_set"], r["indicator_zh"], r["indicator"], r["target_year"],
             E.bilingual(r["reason"]), r["scenarios"]] for r in ne.to_dict("records")]
    return html_table(["编号 Target id", "来源 Set", "指标", "Indicator", "年 Year", "原因 Reason",
                       "情景 Scenarios"], rows)


def html_page(title: str, body: str, extra_css: str = "") -> str:
    """A complete, self-contained HTML page (inline CSS, no external reference)."""
    return ("<!DOCTYPE html>\n<html lang=\"zh-Hans\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{extra_css}{CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n")


def write_html(plan: pd.DataFrame, table: pd.DataFrame, path: Path, *, title: str = "",
               scenario_labels: dict | None = None, font_css: str | None = None,
               joint: pd.DataFrame | None = None) -> Path:
    """``targets.html``: overview heat table, one evaluation table per scenario, the changes
    since the plan's start (mid-term), the joint probabilities (with ``joint``), the
    not-evaluable list. Self-contained: the CJK font subset to the page's characters is
    embedded (:func:`font_face_css`) unless ``font_css`` is given (a run builds one subset
    for all its pages)."""
    title = title or "目标达成概率 · Probability that the targets are met"
    text = targets_page_text(plan, table, title=title, scenario_labels=scenario_labels, joint=joint)
    css = font_face_css(title + text) if font_css is None else font_css
    Path(path).write_text(html_page(title, text, css), encoding="utf-8")
    return Path(path)


def targets_page_text(plan: pd.DataFrame, table: pd.DataFrame, *, title: str,
                      scenario_labels: dict | None = None,
                      joint: pd.DataFrame | None = None) -> str:
    """The body of ``targets.html`` (:func:`write_html`) without the page frame."""
    scenario_labels = scenario_labels or {}
    body = [f"<h1>{esc(title)}</h1>", "<h2>达标概率一览 · P(met) by scenario</h2>",
            f'<p class="muted">{esc(MEANING_TEXT)}</p>', html_pmet_heat(table, scenario_labels)]
    if handin := html_handin(plan, table):
        body += ["<h2>交表 · Hand-in table (one scenario, one row per target)</h2>", handin]
    for scen in dict.fromkeys(plan["scenario"]):
        body += [f"<h2>{esc(scenario_labels.get(scen, ''))} {esc(scen)}</h2>", html_plan_table(plan, scen)]
    if html_levers(table):
        body += ["<h2>受情景影响的目标 · Targets that respond to levers</h2>", html_levers(table)]
    if is_midterm(plan):
        body += ["<h2>规划初期以来的评估变化 · Changes since the plan's start</h2>", html_dropouts(plan)]
    if joint_rows(joint):
        body += ["<h2>联合概率 · Joint probabilities</h2>", html_joint(joint)]
    head, blank = blank_value_rows(plan)   # not in the tables above: no probability of their own
    if blank:
        body += [f"<h2>{esc(BLANK_HEAD)}</h2><p>{esc(PLANNER_WORDS)}</p>", html_table(head, blank)]
    body += ["<h2>未能评估的目标 · Targets not evaluated</h2>", html_not_evaluable(table)]
    return "".join(body)


# --------------------------------------------------------------------------------------------
# the embedded font and images


def font_face_css(text: str) -> str:
    """``@font-face`` with the shipped CJK font subset to the characters of ``text`` (data: URI).

    Empty string when the font or fontTools is unavailable (the page then falls back to the
    reader's system fonts, listed in the CSS).
    """
    if not FONT_FILE.exists():
        return ""
    try:
        from fontTools import subset
        from fontTools.ttLib import TTFont
    except ImportError:  # pragma: no cover - fontTools comes with matplotlib
        return ""
    # base64 figures carry no character to draw: drop them before collecting the characters
    text = re.sub(r"base64,[A-Za-z0-9+/=]+", "", text)
    chars = {ord(c) for c in text if ord(c) >= 0x2E80} | set(range(0x20, 0x7F))
    font = TTFont(str(FONT_FILE))
    opts = subset.Options()
    opts.flavor = "woff"
    opts.layout_features = ["kern", "liga", "palt"]
    opts.notdef_outline = True
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=sorted(chars))
    sub.subset(font)
    buf = io.BytesIO()
    font.flavor = "woff"
    font.save(buf)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f"@font-face{{font-family:\"{FONT_FAMILY}\";src:url(data:font/woff;base64,{data}) "
            f"format(\"woff\");font-weight:400;font-style:normal;font-display:swap}}\n")


def img(path: Path, alt: str) -> str:
    """An ``<img>`` with the PNG at ``path`` inline (base64)."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (f'<img loading="lazy" alt="{esc(alt)}" src="data:image/png;base64,{data}">')
