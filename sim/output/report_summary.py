"""The parts of ``report.html`` that summarise: the summary at the top (coverage, how many
targets are likely / unlikely by set and scenario, binding targets at risk), the joint
probabilities with the n of N targets they cover, and the not-evaluable targets grouped by
reason.

Likelihood classes use the traffic-light thresholds of :mod:`sim.output.tables` (IPCC
"likely" P ≥ 0.66, "unlikely" P < 0.33), for the rows where the indicator's data enter; rows
resting on past plans only are counted apart (:mod:`sim.evaluation.evidence`: no verdict of their
own). A binding target is *at risk* when its P(met) from data is below "likely" in at least one
scenario; binding targets with no probability are listed with it, because nothing is known about
them.
"""

from __future__ import annotations

import pandas as pd

from sim.evaluation import as_number
from sim.evaluation import evidence as E
from sim.output import html as H
from sim.output import tables as T
from sim.output.report_assets import cells_table
from sim.output.report_compare import indicator_cell, scenario_head


def likelihood_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Evaluated targets per (target_set, scenario) whose P from data is likely (P ≥ 0.66), in
    between and unlikely (P < 0.33), for all targets and the binding ones, and those resting on
    past plans only: columns ``target_set, group, scenario, likely, between, unlikely,
    past_plans_only, not_evaluable``."""
    rows: list[dict] = []
    if table.empty:
        return pd.DataFrame(rows)
    for (tset, scen), g in table.groupby(["target_set", "scenario"], sort=False):
        for group, sub in (("all", g), ("binding", g[g["binding"] == "binding"])):
            if sub.empty:
                continue
            ev = sub[sub["status"] == "evaluated"]
            rec = ev.get("method", pd.Series("", index=ev.index)).map(E.is_record_only_method)
            rec = rec.astype(bool)
            p = ev.loc[~rec, "probability"].astype(float)
            rows.append(dict(target_set=tset, group=group, scenario=scen,
                             past_plans_only=int(rec.sum()),
                             likely=int((p >= T.GREEN).sum()),
                             between=int(((p >= T.AMBER) & (p < T.GREEN)).sum()),
                             unlikely=int((p < T.AMBER).sum()),
                             not_evaluable=int((sub["status"] != "evaluated").sum())))
    return pd.DataFrame(rows)


def _counts_table(table: pd.DataFrame, labels: dict) -> str:
    """Scenarios (rows) × set and group (columns): likely · in between · unlikely counts."""
    counts = likelihood_counts(table)
    if counts.empty:
        return ""
    groups = list(dict.fromkeys(zip(counts["target_set"], counts["group"])))
    rows, classes = [], []
    for scen, g in counts.groupby("scenario", sort=False):
        by = {(r["target_set"], r["group"]): r for r in g.to_dict("records")}
        row = [scenario_head(str(scen), labels)]
        for key in groups:
            r = by.get(key)
            row.append("" if r is None else (
                f'<span class="counts"><span class="green">{r["likely"]}</span>'
                f'<span class="amber">{r["between"]}</span><span class="red">{r["unlikely"]}</span>'
                + (f'<span class="record" title="{H.esc(E.RECORD)}">{r["past_plans_only"]}</span>'
                   if r["past_plans_only"] else "")
                + (f'<span title="not evaluable">{r["not_evaluable"]}</span>' if r["not_evaluable"]
                   else "") + "</span>"))
        rows.append(row)
        classes.append(["ind"] + ["nowrap"] * len(groups))
    head = ["情景 Scenario"] + [
        f"{H.esc(tset)}<span class=\"sub\">{'约束性 binding' if group == 'binding' else '全部 all'}</span>"
        for tset, group in groups]
    return (cells_table(head, rows, classes, table_class="pm",
                        header_classes=["ind"] + [""] * len(groups))
            + '<p class="muted">Targets per scenario, set and group whose probability from data '
              "is likely (green, P ≥ 66%), in between (amber) and unlikely (red, P &lt; 33%); grey "
              f"italic: {H.esc(E.RECORD)} (no verdict 无判断); a plain number counts targets "
              "without a probability.</p>")


def _at_risk(table: pd.DataFrame, labels: dict) -> str:
    """Binding targets below "likely" in some scenario, and binding targets with no probability."""
    b = table[table["binding"] == "binding"] if not table.empty else table
    if b.empty:
        return "<p>No binding target in the chosen sets.</p>"
    ev = b[(b["status"] == "evaluated") & b["method"].map(E.has_verdict)] if "method" in b \
        else b[b["status"] == "evaluated"]
    base = str(table["scenario"].iloc[0])
    rows, classes = [], []
    for _, g in ev.groupby("target_id", sort=False):
        p = g["probability"].astype(float)
        if p.min() >= T.GREEN:
            continue
        low = g.loc[p.idxmin()]
        at_base = g[g["scenario"] == base]
        pb = as_number(at_base["probability"].iloc[0]) if not at_base.empty else None
        rows.append([indicator_cell(g.iloc[0].to_dict()),
                     H.esc(T.fmt_pct(pb)) if pb is not None else "–",
                     H.esc(f"{T.fmt_pct(low['probability'])} ({low['scenario']})")])
        classes.append(["ind", f"num {T.light(pb)}", f"num {T.light(low['probability'])}"])
    n_b, n_ev = b["target_id"].nunique(), ev["target_id"].nunique()
    out = [f"<p>{len(rows)} of the {n_ev} binding targets with a probability from data ({n_b} "
           "binding in all) are below “likely” (P &lt; 66%) in at least one scenario; binding "
           f"targets resting on past plans only get no verdict ({H.esc(E.RECORD)}).</p>"]
    if rows:
        out.append(cells_table(["约束性目标 Binding target", f"P(met) {H.esc(base)}",
                                "lowest P(met) (scenario)"], rows, classes, table_class="pm",
                               header_classes=["ind", "", ""]))
    ne = b[b["status"] != "evaluated"].drop_duplicates("target_id")
    if not ne.empty:
        items = "".join(f"<li>{H.esc(r.get('indicator_zh'))} / {H.esc(r.get('indicator'))} "
                        f"({H.esc(r.get('target_set'))}): {H.esc(r.get('reason'))}</li>"
                        for r in ne.to_dict("records"))
        out.append(f'<div class="box"><p>{len(ne)} binding targets have no probability, so '
                   f"nothing is known about their risk:</p><ul>{items}</ul></div>")
    return "".join(out)


def summary_section(table: pd.DataFrame, labels: dict) -> str:
    """Coverage, likely / unlikely counts by set and scenario, binding targets at risk."""
    levers = H.html_levers(table)
    return (H.html_coverage(table)
            + "<h3>可能 / 不太可能 · Likely and unlikely targets by set</h3>" + _counts_table(table, labels)
            + "<h3>有风险的约束性目标 · Binding targets at risk</h3>" + _at_risk(table, labels)
            + (f"<h3>受情景影响的目标 · Targets that respond to levers</h3>{levers}" if levers
               else ""))


# --------------------------------------------------------------------------------------------
# joint probabilities


def _group_size(table: pd.DataFrame, scenario: str, tset: str, group: str) -> tuple[int, list[str]]:
    """(N targets of the group in the set, the not-evaluated ones as 'indicator: reason')."""
    g = table[(table["scenario"] == scenario) & (table["target_set"] == tset)]
    if group == "binding":
        g = g[g["binding"] == "binding"]
    g = g.drop_duplicates("target_id")
    out = [f"{r.get('indicator_zh') or ''} {r.get('indicator') or ''}: {r.get('reason') or ''}".strip()
           for r in g[g["status"] != "evaluated"].to_dict("records")]
    return len(g), out


def joint_section(joint: pd.DataFrame | None, table: pd.DataFrame, labels: dict) -> str:
    """P(all evaluable targets of a group met), naming n evaluated of N in the group."""
    if joint is None or joint.empty:
        return "<p>No joint probability (no evaluable target).</p>"
    rows, classes, left_out = [], [], {}
    for r in joint.to_dict("records"):
        n = int(r["n_targets"])
        big_n, missing = _group_size(table, r["scenario"], r["target_set"], r["group"])
        if as_number(r.get("n_in_group")) is not None:      # joint.csv names its N (newer runs)
            big_n = int(r["n_in_group"])
        group = "约束性 binding" if r["group"] == "binding" else "全部 all"
        if missing:
            left_out[(r["target_set"], group)] = missing
        rows.append([scenario_head(str(r["scenario"]), labels), H.esc(r["target_set"]), H.esc(group),
                     H.esc(f"{n} of {big_n}" if big_n else str(n)),
                     H.esc(T.fmt_pm(r["p_all"], r.get("p_all_se"))),
                     H.esc(f"{r['expected_met']:.1f} of {n}")])
        classes.append(["ind", "", "nowrap", "num", f"num {T.light(r['p_all'])}", "num"])
    out = cells_table(["情景 Scenario", "目标集 Set", "范围 Group", "evaluated n of N",
                       "P(all n met) ± SE", "预期达标数 Expected met"], rows, classes,
                      table_class="pm", header_classes=["ind", "", "", "", "", ""])
    out += ('<p class="muted">P(all n met): the share of draws in which every <b>evaluated</b> '
            "target of the group is met at once — lower than any single P(met) when targets are not "
            "perfectly correlated. It says nothing about the N − n targets without a probability.</p>")
    for (tset, group), missing in left_out.items():
        items = "".join(f"<li>{H.esc(m)}</li>" for m in missing)
        out += (f"<details><summary>{H.esc(tset)} · {H.esc(group)}: {len(missing)} targets left "
                f"out of the joint probability</summary><ul>{items}</ul></details>")
    return out


# --------------------------------------------------------------------------------------------
# not-evaluable targets


def not_evaluable_section(table: pd.DataFrame) -> str:
    """Targets without a probability, grouped by reason: a count per reason, then one collapsed
    list per reason."""
    ne = T.not_evaluable(table)
    if ne.empty:
        return "<p>None: every target was evaluated. 全部目标均已评估。</p>"
    groups = list(ne.groupby("reason", sort=False))
    groups.sort(key=lambda kv: -len(kv[1]))
    summary = cells_table(["原因 Reason", "目标数 Targets"],
                          [[H.esc(E.bilingual(reason) or "(no reason given)"), str(len(g))]
                           for reason, g in groups],
                          [["", "num"] for _ in groups])
    parts = [f"<p>{len(ne)} targets (by target and reason) could not be given a probability, for "
             f"{len(groups)} reasons. Each list is collapsed: click a reason to open it.</p>", summary]
    for reason, g in groups:
        rows = [[H.esc(r["target_id"]), H.esc(r["target_set"]),
                 H.esc(f"{r['indicator_zh'] or ''} / {r['indicator'] or ''}"), H.esc(r["target_year"]),
                 H.esc(r["scenarios"])] for r in g.to_dict("records")]
        parts.append(f"<details><summary>{H.esc(E.bilingual(reason) or '(no reason given)')} — "
                     f"{len(g)}</summary>"
                     + cells_table(["编号 Target id", "来源 Set", "指标 Indicator", "年 Year",
                                    "情景 Scenarios"], rows) + "</details>")
    return "".join(parts)
