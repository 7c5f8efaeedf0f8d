"""Scenario comparison in ``report.html``: the P(met) table of every scenario side by side, the
change against the baseline, and an interactive view of one target across chosen scenarios.

The interactive part is progressive enhancement. The page always holds the static tables
(:func:`pmet_table`, :func:`delta_table`); :func:`compare_widget` adds a hidden form and the
data it needs as JSON (:func:`compare_data`), which the inline script of
:mod:`sim.output.report_assets` shows and draws: for the chosen target and scenarios, the
projection of its indicator (median and 80 % band of the draws, observed history, the target)
and P(met) ± SE, ΔP against the baseline ± paired SE, method and information of each scenario.
With JavaScript off the form stays hidden and a ``<noscript>`` note points to the tables.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.evaluation import as_int, as_number
from sim.evaluation import evidence as E
from sim.output import html as H
from sim.output import tables as T
from sim.output.fans import history_points, target_view, view_title, view_values
from sim.output.plots import SCENARIO_COLOURS
from sim.output.report_assets import cells_table, json_script

#: quantiles of the draws sent to the page per view and year: 95 % band, 80 % band, median
PAGE_QUANTILES = (0.025, 0.10, 0.50, 0.90, 0.975)
#: significant digits of the numbers in the embedded data (the tables keep the full numbers)
DIGITS = 5


def is_true(value) -> bool:
    """A flag cell of ``targets.csv`` as bool: True, "True", "true", 1 → True; NaN, "" → False."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return bool(value) and not (isinstance(value, float) and math.isnan(value))
    return str(value).strip().lower() in ("true", "1", "yes")


def text_of(value) -> str:
    """A text cell, empty for NaN / None."""
    return value.strip() if isinstance(value, str) else ""


def method_note(row: dict) -> str:
    """Method of a row and, when flagged, 'low information' with the ``information`` text
    (column added by the information measure; absent in older results)."""
    out = text_of(row.get("method"))
    if is_true(row.get("low_information")):
        info = text_of(row.get("information"))
        out += f" · low information{': ' + info if info else ''}"
    return out.strip(" ·")


def by_target(table: pd.DataFrame) -> dict[str, list[dict]]:
    """``{target_id: [row, ...]}`` in the order of ``table`` (one pass: ``to_dict`` per group
    is slow on the ~50 columns of ``targets.csv``)."""
    out: dict[str, list[dict]] = {}
    for r in table.to_dict("records"):
        out.setdefault(str(r["target_id"]), []).append(r)
    return out


def _round(x) -> float | None:
    x = as_number(x)
    if x is None:
        return None
    return float(f"{x:.{DIGITS}g}")


def _quantiles(values: np.ndarray) -> np.ndarray:
    """(Q, S, Y) quantiles over the draws of (S, N, Y) values; NaN draws are left out."""
    if not np.isnan(values).any():
        return np.quantile(values, PAGE_QUANTILES, axis=1)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanquantile(values, PAGE_QUANTILES, axis=1)


def _history(history, series: str, vintage: str) -> pd.DataFrame | None:
    if history is None or not hasattr(history, "select"):
        return None
    return history.select(series, vintage)   # an unknown series is an error naming it


def _view_entry(ds, spec, scenarios: list[str], history, vintage: str) -> dict:
    """Years, quantiles per scenario (5 × Y, :data:`PAGE_QUANTILES`) and observed points."""
    years, values = view_values(ds, spec)
    q = _quantiles(values)
    as_of = int(ds.attrs["as_of"])
    relative = bool(ds[spec.series].attrs.get("relative_to_as_of", 0))
    hx, hy = history_points(_history(history, spec.series, vintage), spec, as_of, relative)
    title, ylabel = view_title(ds, spec)
    return {"title": title, "ylabel": ylabel, "years": [int(y) for y in years],
            "q": {s: [[_round(v) for v in q[i, k]] for i in range(q.shape[0])]
                  for k, s in enumerate(scenarios)},
            "hist": [[int(y) for y in hx], [_round(v) for v in hy]]}


def _row_entry(r: dict) -> dict:
    return {"p": _round(r.get("probability")), "se": _round(r.get("mc_se")),
            "d": _round(r.get("delta_vs_baseline")), "dse": _round(r.get("delta_se")),
            "start": _round(r.get("p_at_plan_start")),
            "word": text_of(r.get("likelihood")), "method": text_of(r.get("method")),
            "low": is_true(r.get("low_information")), "info": text_of(r.get("information"))}


def _target_note(rows: list[dict]) -> str:
    if any(text_of(r.get("method")) == "trend+record" for r in rows):
        return ("The band shows the draws of the trend; P(met) combines them with the plan "
                "record of targets like this one (see p_trend / p_record in the tables).")
    return ""


def compare_data(ds, table: pd.DataFrame, *, history=None, windows: dict | None = None,
                 labels: dict | None = None, vintage: str = "revised") -> dict:
    """What the comparison script needs, JSON-ready.

    ``{"as_of", "baseline", "midterm", "green", "amber", "colours", "scenarios": [{id, name}],
    "views": {stem: {title, ylabel, years (Y), q: {scenario: 5 × Y}, hist: [years, values]}},
    "targets": [{id, label, set, target, unit, year, value, value_high, view, method, note,
    rows: {scenario: {p, se, d, dse, start, word, method, low, info}}}]}`` — evaluated targets
    only, in the order of ``table``; ``q`` rows are :data:`PAGE_QUANTILES` of the draws.
    """
    labels = labels or {}
    scenarios = [str(s) for s in ds["scenario"].values]
    ev = table[table["status"] == "evaluated"] if not table.empty else table
    views: dict[str, dict] = {}
    targets = []
    for tid, rows in by_target(ev).items():
        first = rows[0]
        spec = target_view(ds, first, windows)
        if spec is not None and spec.stem not in views:
            views[spec.stem] = _view_entry(ds, spec, scenarios, history, vintage)
        hi = as_number(first.get("value_high")) if first.get("comparator") == "range" else None
        targets.append({
            "id": str(tid), "set": text_of(first.get("target_set")),
            "label": f"{text_of(first.get('indicator_zh'))} / {text_of(first.get('indicator'))}",
            "target": T.target_text(first), "unit": text_of(first.get("unit")),
            "year": as_int(first.get("target_year")), "value": _round(first.get("value")),
            "value_high": _round(hi), "view": spec.stem if spec is not None else None,
            "binding": text_of(first.get("binding")), "method": text_of(first.get("method")),
            "note": _target_note(rows),
            "rows": {str(r["scenario"]): _row_entry(r) for r in rows}})
    midterm = "p_at_plan_start" in ev and bool(ev["p_at_plan_start"].notna().any())
    return {"as_of": int(ds.attrs["as_of"]), "baseline": scenarios[0] if scenarios else "",
            "midterm": midterm,
            "green": T.GREEN, "amber": T.AMBER, "colours": list(SCENARIO_COLOURS),
            "scenarios": [{"id": s, "name": f"{labels.get(s, '')} {s}".strip()} for s in scenarios],
            "views": views, "targets": targets}


def _default_target(targets: list[dict]) -> int:
    """The first target with a projection whose P(met) differs between scenarios, else the
    first with a projection, else the first."""
    with_view = [i for i, t in enumerate(targets) if t["view"] is not None]
    for i in with_view:
        ps = {r["p"] for r in targets[i]["rows"].values()}
        if len(ps) > 1:
            return i
    return with_view[0] if with_view else 0


def compare_widget(data: dict) -> str:
    """The hidden interactive form, its JSON data and the ``<noscript>`` note."""
    if not data["targets"]:
        return ""
    default = _default_target(data["targets"])
    options, current = [], None
    for i, t in enumerate(data["targets"]):
        if t["set"] != current:
            if current is not None:
                options.append("</optgroup>")
            options.append(f'<optgroup label="{H.esc(t["set"])}">')
            current = t["set"]
        star = "★ " if t["binding"] == "binding" else ""
        text = f"{star}{t['label']} — {t['target']} {t['unit']} ({t['year']})"
        options.append(f'<option value="{i}"{" selected" if i == default else ""}>{H.esc(text)}</option>')
    options.append("</optgroup>")
    boxes = "".join(f'<label><input type="checkbox" checked value="{H.esc(s["id"])}"> '
                    f'{H.esc(s["name"])}</label>' for s in data["scenarios"])
    cols = ["情景 Scenario", "达标概率 P(met) ± SE", "ΔP vs baseline ± paired SE"]
    cols += ["规划初期 P at plan start"] if data["midterm"] else []
    head = "".join(f"<th>{h}</th>" for h in cols + ["可能性 Likelihood",
                                                    "方法 Method (hover: information)"])
    return (
        '<div id="cmp" class="cmp" hidden>'
        '<label>目标 Target (★ binding 约束性)<br><select id="cmp-target">'
        + "".join(options) + "</select></label>"
        f'<form id="cmp-scen"><fieldset><legend>情景 Scenarios</legend>{boxes}</fieldset></form>'
        '<div id="cmp-chart"></div><p id="cmp-key" class="key"></p>'
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody id="cmp-body"></tbody>'
        '</table></div><p id="cmp-note" class="muted"></p>'
        '<p class="muted">Lines: median of the draws; shading: 80 % of the draws (10th–90th '
        "percentile); dots: observed; red: the target; dashed vertical: as_of. Scenarios with the "
        "same projection are drawn once and named together. ΔP is paired over the same draws.</p>"
        "</div>"
        '<noscript><p class="box">JavaScript is off, so the interactive comparison is not shown. '
        "The table below lists P(met) of every target in every scenario side by side, the next "
        "one the changes against the baseline, and the fan charts further down show the "
        "projections.</p></noscript>" + json_script(data, "cmp-data"))


# --------------------------------------------------------------------------------------------
# the static tables


def _pm_cell(r: dict, first_method: str) -> tuple[str, str]:
    """(HTML, class) of one P(met) cell: the percentage, its SE (hidden on phones), a tooltip
    with the Wilson interval, method and information; a flag where information is low."""
    p, se = as_number(r.get("probability")), as_number(r.get("mc_se"))
    if p is None:
        return '<span class="na">–</span>', "num"
    tip = [f"P(met) {T.fmt_pm(p, se)}"]
    lo, hi = as_number(r.get("ci_low")), as_number(r.get("ci_high"))
    if lo is not None and hi is not None:
        tip.append(f"Wilson 95% [{T.fmt_pct(lo)}, {T.fmt_pct(hi)}]")
    tip.append(method_note(r))
    flag = '<span class="flag">⚑</span>' if is_true(r.get("low_information")) else ""
    meth = text_of(r.get("method"))
    other = f'<span class="sub meth">{H.esc(meth)}</span>' if meth and meth != first_method else ""
    se_txt = T.fmt_pm(p, se).split(" ± ", 1)[-1]
    body = (f'<span title="{H.esc(" · ".join(t for t in tip if t))}">{T.fmt_pct(p)}{flag}'
            f'<span class="se"> ± {H.esc(se_txt)}</span></span>{other}')
    return body, "num record" if meth == E.RECORD_ONLY else f"num {T.light(p)}"  # no verdict


def indicator_cell(first: dict) -> str:
    """Indicator (zh / en), then target with unit and year, set, binding, method and the
    low-information flag (its text as tooltip)."""
    unit = text_of(first.get("unit"))
    binding = text_of(first.get("binding"))
    flag = ""
    if is_true(first.get("low_information")):
        info = text_of(first.get("information")) or "few observations behind this probability"
        flag = f' <span class="flag" title="{H.esc(info)}">⚑ low information</span>'
    zh, en = text_of(first.get("indicator_zh")), text_of(first.get("indicator"))
    name = f'{H.esc(zh)}<span class="wide"> / {H.esc(en)}</span>' if zh else H.esc(en)
    target = (f"{T.target_text(first)} {unit} ({as_int(first.get('target_year'))})")
    rest = f" · {first.get('target_set')} · {T.BINDING_TEXT.get(binding, binding)}"
    basis = E.basis(first.get("method"))     # shown on phones too (issue 21)
    return (f'{name}<span class="sub">{H.esc(target)}{" · " + H.esc(basis) if basis else ""}'
            f'<span class="wide">{H.esc(rest)} · '
            f'<span class="meth">{H.esc(text_of(first.get("method")))}</span></span>{flag}</span>')


def scenario_head(s: str, labels: dict) -> str:
    """A scenario's column head: its Chinese label with the id below (the id alone on phones
    when there is no label)."""
    label = labels.get(s, "")
    if not label:
        return H.esc(s)
    return f'{H.esc(label)}<span class="sub wide">{H.esc(s)}</span>'


def pmet_table(table: pd.DataFrame, labels: dict | None = None) -> str:
    """Evaluated targets × scenarios: P(met) in traffic-light cells.

    The indicator column stays on screen when the table scrolls; on a phone the SE is hidden
    (it stays in the tooltip) so the probability columns fit beside it.
    """
    labels = labels or {}
    ev = table[table["status"] == "evaluated"] if not table.empty else table
    if ev.empty:
        return "<p>No evaluable target.</p>"
    scen = list(dict.fromkeys(ev["scenario"]))
    head = ["指标 · 目标 Indicator · target"] + [
        scenario_head(s, labels) for s in scen]
    rows, classes = [], []
    for rows_of in by_target(ev).values():
        by = {str(r["scenario"]): r for r in rows_of}
        first = rows_of[0]
        row, cls = [indicator_cell(first)], ["ind"]
        for s in scen:
            cell, c = _pm_cell(by[s], text_of(first.get("method"))) if s in by else ("", "")
            row.append(cell)
            cls.append(c)
        rows.append(row)
        classes.append(cls)
    legend = ('<p class="legend muted"><span style="background:var(--green)">≥ 66% likely 可能</span>'
              '<span style="background:var(--amber)">33–66%</span>'
              '<span style="background:var(--red)">&lt; 33% unlikely 不太可能</span> '
              '<span class="flag">⚑</span> low information (hover for why)</p>')
    return legend + cells_table(head, rows, classes, table_class="pm",
                                header_classes=["ind"] + ["sc"] * len(scen))


def delta_table(table: pd.DataFrame, labels: dict | None = None) -> str:
    """Targets a scenario moves: ΔP against the baseline ± paired SE (coloured where
    |ΔP| > 1.96 SE)."""
    labels = labels or {}
    if "delta_vs_baseline" not in table or table.empty:
        return ""
    d = table[(table["status"] == "evaluated") & table["delta_vs_baseline"].notna()]
    d = d[(d["delta_vs_baseline"] != 0) | (d["delta_se"].fillna(0) > 0)]
    base = str(table["scenario"].iloc[0])
    head = (f"<h3>与基准情景相比 · Change against the baseline ({H.esc(base)})</h3>")
    if d.empty:
        return head + '<p class="muted">No scenario changes any P(met) against the baseline.</p>'
    rows, classes = [], []
    for r in d.to_dict("records"):
        dp, se = float(r["delta_vs_baseline"]), as_number(r.get("delta_se"))
        sig = se is not None and abs(dp) > 1.96 * se
        rows.append([indicator_cell(r),
                     H.esc(f"{labels.get(r['scenario'], '')} {r['scenario']}".strip()),
                     H.esc(f"{100 * dp:+.1f} pp" + (f" ± {100 * se:.1f}" if se is not None else "")),
                     H.esc(T.fmt_pm(r.get("probability"), r.get("mc_se")))])
        classes.append(["ind", "", "num " + (("green" if dp > 0 else "red") if sig else ""), "num"])
    return (head + cells_table(["指标 · 目标 Indicator · target", "情景 Scenario", "ΔP ± paired SE",
                                "P(met) ± SE"], rows, classes, table_class="pm",
                               header_classes=["ind", "", "", ""])
            + '<p class="muted">Paired over the same draws; coloured where |ΔP| &gt; 1.96 SE. '
              "Targets a scenario leaves unchanged (ΔP = 0 in every draw) are omitted.</p>")
