"""Everything a person opens in a results folder, built from the ensemble and the evaluation.

:func:`write_outputs` is called by the run pipeline at the end of a run (inside the atomic
temporary folder) and by ``sim report`` (:mod:`sim.output.rebuild`); it writes

* ``figures/`` — fan charts (one file per indicator view, one panel per scenario), scenario
  overlays (one per view on which a target is judged), ``pmet_by_scenario.png`` and
  ``pmet_heatmap.png`` (:func:`sim.output.figures.write_figures`);
* ``targets_table.csv``, ``targets.md``, ``targets.xlsx``, ``targets.html`` — the evaluation
  table in the plan's layout (:mod:`sim.output.tables`, :mod:`sim.output.xlsx`,
  :mod:`sim.output.html`);
* ``report.html`` — one self-contained page (figures as base64 PNG, inline CSS, the CJK font
  subset embedded as a ``data:`` URI; no external reference of any kind).
"""

from __future__ import annotations

import datetime as _dt
import json
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from sim.ensemble import ensemble_facts
from sim.evaluation import as_int
from sim.output import html as H
from sim.output import tables as T
from sim.output.figures import write_figures
from sim.output.folder import ResultsFolder
from sim.output.xlsx import write_xlsx
from sim.scenario.spec import TABLE_FORMATS
from sim.targets import load_catalogue


# --------------------------------------------------------------------------------------------
# inputs of a results folder


def resolved_scenarios(ds, folder: Path | None = None) -> dict:
    """The resolved scenario document (dict) from ``scenario.resolved.toml`` or the Dataset attrs."""
    text = None
    if folder is not None and (Path(folder) / "scenario.resolved.toml").exists():
        try:
            text = (Path(folder) / "scenario.resolved.toml").read_text(encoding="utf-8")
        except UnicodeDecodeError:      # a damaged copy: shown without labels and levers
            text = None
    elif ds is not None and ds.attrs.get("scenario_resolved"):
        text = ds.attrs["scenario_resolved"]
    if not text:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def scenario_labels(doc: dict) -> dict[str, str]:
    """``{scenario: label_zh}`` of a resolved scenario document."""
    found = doc.get("scenarios")
    scenarios: dict = found if isinstance(found, dict) else {}
    return {str(k): str(v.get("label_zh", "")) for k, v in scenarios.items() if isinstance(v, dict)}


def target_windows(catalogue: pd.DataFrame | None = None) -> dict:
    """``{target_id: (period_start, period_end)}`` from the catalogue (for cumulative sums)."""
    if catalogue is None:
        catalogue = load_catalogue()
    out = {}
    for r in catalogue.to_dict("records"):
        if "period_start" in r:
            out[r["id"]] = (as_int(r.get("period_start")), as_int(r.get("period_end")))
    return out


def provenance(ds, manifest: dict | None = None) -> dict:
    """Key → value: what produced these numbers (versions, seed, data hash, as_of, draws…)."""
    a = ds.attrs
    out = {
        "as_of 数据截至": a.get("as_of"),
        "horizon 预测期末": int(ds["year"].values[-1]),
        "draws 模拟次数": ds.sizes.get("draw"),
        "seed 随机种子": a.get("seed"),
        "vintage 数据版本": a.get("vintage"),
        "data_hash 数据哈希": a.get("data_hash"),
        "parameter_uncertainty": a.get("parameter_uncertainty"),
        "correlated_shocks": a.get("correlated_shocks"),
        "scenarios 情景": ", ".join(str(s) for s in ds["scenario"].values),
    }
    out.update({f"version {k}": v for k, v in ensemble_facts(ds).versions.items()})
    if manifest:
        for k in ("scenario_file", "scenario_sha256", "catalogue_sha256", "data_dir", "target_sets",
                  "fallbacks", "timings"):
            if k in manifest:
                v = manifest[k]
                out[k] = json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
    out["report generated 生成时间"] = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    return {k: v for k, v in out.items() if v is not None and v != ""}


# --------------------------------------------------------------------------------------------
# report.html

#: characters of user text shown in report.html (the files keep all of it)
MAX_DESCRIPTION = 2_000
MAX_LABEL = 200
MAX_RESOLVED = 200_000


def shorten(text, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with a note saying how much was left out."""
    text = "" if text is None else str(text)
    if len(text) <= limit:
        return text
    return (f"{text[:limit]} … [{len(text) - limit:,} more characters not shown; see "
            "scenario.resolved.toml]")


def _years_text(path: dict) -> str:
    """{2016: 7e4, ..., 2020: 7e4} → '2016–2020: 70,000 a year'; else 'y: v, ...'."""
    items = sorted((int(k), v) for k, v in path.items())
    if not items:
        return ""
    ys = [y for y, _ in items]
    vals = {v for _, v in items}
    if len(vals) == 1 and ys == list(range(ys[0], ys[-1] + 1)):
        return f"{ys[0]}–{ys[-1]}: {T.fmt_number(items[0][1])} a year"
    return ", ".join(f"{y}: {T.fmt_number(v)}" for y, v in items)


def lever_text(driver: str, lever: dict) -> str:
    """One lever of the resolved TOML in words."""
    parts = []
    if "shift_pp" in lever:
        span = ""
        if lever.get("from_year") or lever.get("to_year"):
            span = f" ({lever.get('from_year', '')}–{lever.get('to_year', '')})"
        parts.append(f"{lever['shift_pp']:+g} pp/yr{span}")
    for key in ("programme_units", "path"):
        if isinstance(lever.get(key), dict):
            parts.append(f"{key.replace('_', ' ')} {_years_text(lever[key])}")
    if lever.get("units_per_year") is not None:
        parts.append(f"{T.fmt_number(lever['units_per_year'])} units a year")
    rest = {k: v for k, v in lever.items()
            if k not in ("shift_pp", "from_year", "to_year", "programme_units", "path", "units_per_year")}
    parts += [f"{k} {v}" for k, v in rest.items()]
    return f"{driver}: " + ", ".join(parts)


def _scenario_texts(entry: dict) -> tuple[str, str, str]:
    """Levers, shocks and target values of one resolved scenario in words; a document edited
    out of shape (it is a file in the results folder) reads as "unreadable", not a crash."""
    try:
        lev = entry.get("levers") or {}
        lever_txt = "; ".join(lever_text(d, v) for d, v in lev.items() if isinstance(v, dict) and v)
        shocks = "; ".join(f"{s.get('driver')} {s.get('year')} {s.get('shift_pp'):+g} pp"
                           + (f" ({s['note']})" if s.get("note") else "")
                           for s in entry.get("shocks") or [])
        tv = entry.get("target_values") or {}
        tv_txt = "; ".join(f"{k} = {v:g}" for k, v in tv.items())
    except (TypeError, ValueError, AttributeError, KeyError):
        return "(unreadable in scenario.resolved.toml)", "", ""
    return lever_txt, shocks, tv_txt


def _scenario_section(doc: dict, ds) -> str:
    scen = doc.get("scenarios") or {}
    names = [str(s) for s in ds["scenario"].values]
    rows = []
    for name in names:
        entry = scen.get(name, {})
        if not isinstance(entry, dict):
            entry = {}
        lever_txt, shocks, tv_txt = _scenario_texts(entry)
        rows.append([name, shorten(entry.get("label_zh", ""), MAX_LABEL),
                     shorten(entry.get("description", ""), MAX_DESCRIPTION), lever_txt or "—",
                     shocks or "—", tv_txt or "—"])
    run = doc.get("run") or {}
    intro = ""
    if run:
        intro = (f"<p>数据截至 as_of <b>{H.esc(run.get('as_of'))}</b> · 预测至 horizon "
                 f"<b>{H.esc(run.get('horizon'))}</b> · {H.esc(run.get('draws'))} 次模拟 draws · "
                 f"目标集 target sets: {H.esc(', '.join(run.get('target_sets', [])))}. "
                 "Every scenario uses the same random draws (common random numbers), so "
                 "differences between scenarios come from the levers alone.</p>")
    return intro + H.html_table(["情景 Scenario", "名称", "说明 Description", "政策杠杆 Levers",
                                 "冲击 Shocks", "目标值设定 Target values"], rows)


def _joint_section(joint: pd.DataFrame | None, labels: dict) -> str:
    if joint is None or joint.empty:
        return "<p>No joint probability (no evaluable target).</p>"
    rows, classes = [], []
    for r in joint.to_dict("records"):
        rows.append([f"{labels.get(r['scenario'], '')} {r['scenario']}".strip(), r["target_set"],
                     "约束性 binding" if r["group"] == "binding" else "全部 all", r["n_targets"],
                     T.fmt_pm(r["p_all"], r.get("p_all_se")), f"{r['expected_met']:.2f}"])
        classes.append(["", "", "", "num", f"num {T.light(r['p_all'])}", "num"])
    return (H.html_table(["情景 Scenario", "目标集 Set", "范围 Group", "目标数 n", "全部达标 P(all met) ± SE",
                          "预期达标数 Expected met"], rows, classes)
            + '<p class="muted">P(all met): the share of draws in which every target of the group is '
              "met at once — lower than any single P(met) when targets are not perfectly correlated.</p>")


def _delta_section(table: pd.DataFrame, labels: dict) -> str:
    if "delta_vs_baseline" not in table:
        return ""
    d = table[(table["status"] == "evaluated") & table["delta_vs_baseline"].notna()]
    d = d[(d["delta_vs_baseline"] != 0) | (d["delta_se"].fillna(0) > 0)]
    if d.empty:
        return "<p class=\"muted\">No scenario changes any P(met) against the baseline.</p>"
    base = str(table["scenario"].iloc[0])
    rows, classes = [], []
    for r in d.to_dict("records"):
        dp, se = r["delta_vs_baseline"], r.get("delta_se")
        rows.append([f"{labels.get(r['scenario'], '')} {r['scenario']}".strip(),
                     f"{r.get('indicator_zh', '')} / {r.get('indicator', '')}",
                     f"{T.target_text(r)} ({as_int(r.get('target_year'))})",
                     f"{100 * dp:+.1f} pp ± {100 * se:.1f}" if np.isfinite(se)
                     else f"{100 * dp:+.1f} pp"])
        sig = np.isfinite(se) and abs(dp) > 1.96 * se
        classes.append(["", "", "nowrap", "num " + (("green" if dp > 0 else "red") if sig else "")])
    return (f"<h3>与基准情景相比 · Change against the baseline ({H.esc(base)})</h3>"
            + H.html_table(["情景 Scenario", "指标 Indicator", "目标 Target", "ΔP ± paired SE"],
                           rows, classes)
            + '<p class="muted">Paired over the same draws; coloured where |ΔP| &gt; 1.96 SE. '
              "Targets a scenario leaves unchanged (ΔP = 0 in every draw) are omitted.</p>")


def build_report_html(folder: Path, ds, table: pd.DataFrame, joint: pd.DataFrame | None,
                      plan: pd.DataFrame, figures: list[dict], *, doc: dict,
                      provenance_items: dict) -> str:
    """The text of ``report.html`` (figures read from ``folder``)."""
    labels = scenario_labels(doc)
    as_of = ds.attrs.get("as_of")
    n_ev = table.loc[table["status"] == "evaluated", "target_id"].nunique() if not table.empty else 0
    n_ne = table.loc[table["status"] != "evaluated", "target_id"].nunique() if not table.empty else 0
    title = f"规划目标达成概率 · Probability that the planning targets are met (as of {as_of})"
    sections = []

    def sec(id_, head, body):
        sections.append((id_, head, f'<section id="{id_}"><h2>{H.esc(head)}</h2>{body}</section>'))

    sec("scenarios", "情景 · Scenarios", _scenario_section(doc, ds))
    overview = H.html_pmet_heat(table, labels)
    pm = [f for f in figures if f["kind"] in ("pmet", "heatmap")]
    for f in pm:
        if f["kind"] == "pmet":
            overview += (f"<figure>{H.img(folder / f['file'], f['title'])}<figcaption>{H.esc(f['title'])}: "
                         "dots are P(met), whiskers the Wilson 95% interval of the Monte Carlo estimate."
                         "</figcaption></figure>")
        else:
            overview += (f"<details><summary>热图图片 · The same as an image ({H.esc(f['file'])})</summary>"
                         f"<figure>{H.img(folder / f['file'], f['title'])}</figure></details>")
    overview += _delta_section(table, labels)
    sec("overview", "达标概率一览 · P(met) by scenario", overview)
    sec("joint", "联合概率 · Joint probabilities", _joint_section(joint, labels))
    tabs = []
    for i, scen in enumerate(dict.fromkeys(plan["scenario"]) if not plan.empty else []):
        tabs.append(f"<details{' open' if i == 0 else ''}><summary>{H.esc(labels.get(scen, ''))} "
                    f"{H.esc(scen)}</summary>{H.html_plan_table(plan, scen)}</details>")
    sec("tables", "评估表 · Evaluation tables",
        "<p class=\"muted\">Projection: median with the 80% interval (10th–90th percentile) of the "
        "draws. Required rate: the constant annual change from as_of that would just meet the "
        "target. Also as targets.csv, targets_table.csv, targets.md, targets.xlsx.</p>" + "".join(tabs))

    def figs(kinds, with_targets):
        out = []
        target_views = {f["view"] for f in figures if f["kind"] == "overlay"}
        for f in figures:
            if f["kind"] not in kinds:
                continue
            if (f["view"] in target_views) != with_targets and f["kind"] == "fan":
                continue
            out.append(f"<figure>{H.img(folder / f['file'], f['title'])}<figcaption>{H.esc(f['title'])} "
                       f"— {H.esc(f['file'])}</figcaption></figure>")
        return "".join(out)

    fan_note = ('<p class="muted">Black: observed (数据截至 as of the dotted line). Shading: 50%, 80% '
                "and 95% of the draws (darker = more likely); line: median. Red: the target and its "
                "P(met) ± Monte Carlo standard error, per scenario.</p>")
    sec("charts", "目标指标扇形图 · Fan charts of the target indicators",
        fan_note + figs(("fan", "overlay"), True))
    drivers = figs(("fan",), False)
    n_drivers = (sum(1 for f in figures if f["kind"] == "fan")
                 - sum(1 for f in figures if f["kind"] == "overlay"))
    sec("drivers", "驱动因素 · Drivers and other simulated series",
        f"<details><summary>Show {n_drivers} charts</summary>{drivers}</details>"
        if drivers else "<p>None.</p>")
    sec("not-evaluable", f"未能评估的目标 · Targets not evaluated ({n_ne})",
        "<p>Every target of the chosen sets is listed; these could not be given a probability, "
        "for the reason shown.</p>" + H.html_not_evaluable(table))
    prov = "".join(f"<dt>{H.esc(k)}</dt><dd>{H.esc(v)}</dd>" for k, v in provenance_items.items())
    resolved = ds.attrs.get("scenario_resolved") or ""
    if not resolved and (folder / "scenario.resolved.toml").exists():
        resolved = (folder / "scenario.resolved.toml").read_text(encoding="utf-8")
    resolved_html = (f"<details><summary>scenario.resolved.toml</summary>"
                     f"<pre>{H.esc(shorten(resolved, MAX_RESOLVED))}</pre></details>"
                     if resolved else "")
    sec("provenance", "来源与可重复性 · Provenance", f"<dl>{prov}</dl>" + resolved_html)

    nav = "".join(f'<li><a href="#{i}">{H.esc(h)}</a></li>' for i, h, _ in sections)
    head = (f"<h1>{H.esc(title)}</h1><p class=\"muted\">{n_ev} targets evaluated, {n_ne} not evaluable · "
            f"{len(ds['scenario'])} scenarios · {ds.sizes.get('draw')} draws · "
            f"seed {H.esc(ds.attrs.get('seed'))}"
            f" · data {H.esc(str(ds.attrs.get('data_hash', ''))[:12])}</p>"
            f"{H.html_coverage(table)}<nav><ul>{nav}</ul></nav>")
    body = head + "".join(s for _, _, s in sections)
    font_css = H.font_face_css(title + body)
    return H.html_page(title, body, font_css)


# --------------------------------------------------------------------------------------------
# the one entry point of the pipeline


def write_outputs(folder: Path | ResultsFolder, ds, table: pd.DataFrame,
                  joint: pd.DataFrame | None = None, *, history=None,
                  catalogue: pd.DataFrame | None = None, manifest: dict | None = None,
                  figures: bool | None = None, table_formats=None) -> dict:
    """Write figures, tables and ``report.html`` into ``folder``; return ``{"files", "timings"}``.

    Parameters
    ----------
    folder : the open :class:`~sim.output.folder.ResultsFolder` (or its temporary path) of the
        run; ``targets.csv`` and ``joint.csv`` are not written here.
    ds : the ensemble Dataset (scenario × draw × year), as written to ``ensemble.nc``.
    table, joint : ``Evaluation.table`` and ``Evaluation.joint`` (``targets.csv``, ``joint.csv``).
    history : :class:`sim.history.History` for the observed part of the fans (cut at as_of
        here); None draws the fans without history.
    catalogue : the target catalogue rows (for cumulative-sum windows); default the bundled one.
    manifest : the run manifest, for the provenance section (optional).
    figures, table_formats : default from ``[output]`` of the resolved scenario (``figures =
        true``, all four formats). ``report.html`` is always written.
    """
    folder = folder.path if isinstance(folder, ResultsFolder) else Path(folder)
    t_all = time.perf_counter()
    doc = resolved_scenarios(ds, folder)
    output = doc.get("output") or {}
    figures = output.get("figures", True) if figures is None else figures
    if table_formats is None:
        table_formats = output.get("table_formats", TABLE_FORMATS)
    labels = scenario_labels(doc)
    windows = target_windows(catalogue)
    as_of = int(ds.attrs["as_of"])
    vintage = ds.attrs.get("vintage") or (doc.get("run") or {}).get("vintage") or "revised"
    timings: dict[str, float] = {}
    files: list[str] = []

    t0 = time.perf_counter()
    fig_records = []
    if figures:
        hist = history.upto(as_of) if history is not None and hasattr(history, "upto") else history
        fig_records = write_figures(folder, ds, table, history=hist, scenario_labels=labels,
                                    windows=windows, vintage=vintage)
        files += [f["file"] for f in fig_records]
    timings["figures_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    observed = history.upto(as_of) if history is not None and hasattr(history, "upto") else history
    plan = T.plan_table(table, ds, scenario_labels=labels, windows=windows, history=observed,
                        vintage=vintage)
    prov = provenance(ds, manifest)
    files += _write_tables(folder, plan, table, joint, tuple(table_formats), provenance=prov,
                           labels=labels, as_of=as_of)
    timings["tables_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    page = build_report_html(folder, ds, table, joint, plan, fig_records, doc=doc,
                             provenance_items=prov)
    (folder / "report.html").write_text(page, encoding="utf-8")
    files.append("report.html")
    timings["report_s"] = time.perf_counter() - t0
    timings["outputs_total_s"] = time.perf_counter() - t_all
    return {"files": files, "timings": timings, "figures": fig_records}


def _write_tables(folder: Path, plan: pd.DataFrame, table: pd.DataFrame, joint: pd.DataFrame | None,
                  formats: tuple[str, ...], *, provenance: dict, labels: dict, as_of: int) -> list[str]:
    """The evaluation table in each of ``formats`` (csv, md, xlsx, html); returns the file names."""
    title = f"目标达成概率 · Probability that the targets are met (as of {as_of})"
    files = []
    if "csv" in formats:
        T.write_csv(plan, folder / "targets_table.csv")
        files.append("targets_table.csv")
    if "md" in formats:
        T.write_markdown(plan, table, folder / "targets.md", title=title, scenario_labels=labels)
        files.append("targets.md")
    if "xlsx" in formats:
        write_xlsx(plan, table, folder / "targets.xlsx", joint=joint, provenance=provenance,
                   scenario_labels=labels)
        files.append("targets.xlsx")
    if "html" in formats:
        H.write_html(plan, table, folder / "targets.html", title=title, scenario_labels=labels)
        files.append("targets.html")
    return files
