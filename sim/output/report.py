"""Everything a person opens in a results folder, built from the ensemble and the evaluation.

:func:`write_outputs` is called by the run pipeline at the end of a run (inside the atomic
temporary folder) and by ``sim report`` (:mod:`sim.output.rebuild`); it writes

* ``figures/`` — fan charts (one file per indicator view, one panel per scenario), scenario
  overlays (one per view on which a target is judged), ``pmet_by_scenario.png`` and
  ``pmet_heatmap.png`` (:func:`sim.output.figures.write_figures`);
* ``targets_table.csv``, ``targets.md``, ``targets.xlsx``, ``targets.html`` — the evaluation
  table in the plan's layout (:mod:`sim.output.tables`, :mod:`sim.output.xlsx`,
  :mod:`sim.output.html`);
* ``report.html`` — one self-contained page (figures as base64 PNG, inline CSS and script, the
  CJK font subset embedded as a ``data:`` URI; no external reference of any kind).

The page, top to bottom: summary (coverage, likely / unlikely by set, binding targets at risk:
:mod:`sim.output.report_summary`) · scenarios, with levers the run did not apply marked
(:mod:`sim.output.report_scenarios`) · scenario comparison, interactive with JavaScript and as
static tables without it (:mod:`sim.output.report_compare`) · joint probabilities with their n of
N · evaluation tables · fan charts (click for full size) · not-evaluable targets by reason ·
provenance. CSS, script and HTML building blocks: :mod:`sim.output.report_assets`.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
import tomllib
from pathlib import Path

import pandas as pd

from sim.ensemble import ensemble_facts
from sim.errors import SimError
from sim.evaluation import as_int
from sim.evaluation import evidence as E
from sim.output import html as H
from sim.output import tables as T
from sim.output.figures import write_figures
from sim.output.folder import ResultsFolder
from sim.output.handin import handin_markdown, handin_scenario
from sim.output.midterm_chart import with_comparator, write_midterm_chart
from sim.output.report_assets import REPORT_CSS, REPORT_JS, zoom_figure
from sim.output.report_compare import compare_data, compare_widget, delta_table, pmet_table
from sim.output.report_scenarios import MAX_RESOLVED, scenario_section, shorten
from sim.output.report_summary import joint_section, not_evaluable_section, summary_section
from sim.output.value_curves import SECTION_HEAD, value_section, write_value_figures
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


def _figure(folder: Path, f: dict) -> str:
    """One figure record as a zoomable figure with its title and file name."""
    return zoom_figure(H.img(folder / f["file"], f["title"]),
                       f"{H.esc(f['title'])} — {H.esc(f['file'])}")


def _figures(folder: Path, figures: list[dict], kinds: tuple[str, ...], with_targets: bool) -> str:
    """The figures of ``kinds``; fans only of views with (``with_targets``) or without a target."""
    target_views = {f["view"] for f in figures if f["kind"] == "overlay"}
    return "".join(_figure(folder, f) for f in figures if f["kind"] in kinds
                   and not (f["kind"] == "fan" and (f["view"] in target_views) != with_targets))


def _overview(folder: Path, table: pd.DataFrame, figures: list[dict], compare: dict,
              labels: dict) -> str:
    """The comparison section: interactive view, P(met) table, ΔP table, P(met) figures."""
    out = [compare_widget(compare), "<h3>所有情景的达标概率 · P(met) of every target in every "
           "scenario</h3>", pmet_table(table, labels), delta_table(table, labels)]
    for f in figures:
        if f["kind"] == "pmet":
            out.append(zoom_figure(H.img(folder / f["file"], f["title"]),
                                   f"{H.esc(f['title'])}: dots are P(met), whiskers the Wilson 95% "
                                   "interval of the Monte Carlo estimate."))
        elif f["kind"] == "heatmap":
            out.append(_figure(folder, f))
    return "".join(out)


def _provenance_html(folder: Path, ds, provenance_items: dict) -> str:
    prov = "".join(f"<dt>{H.esc(k)}</dt><dd>{H.esc(v)}</dd>" for k, v in provenance_items.items())
    resolved = ds.attrs.get("scenario_resolved") or ""
    if not resolved and (folder / "scenario.resolved.toml").exists():
        resolved = (folder / "scenario.resolved.toml").read_text(encoding="utf-8")
    resolved_html = (f"<details><summary>scenario.resolved.toml</summary>"
                     f"<pre>{H.esc(shorten(resolved, MAX_RESOLVED))}</pre></details>"
                     if resolved else "")
    return f"<dl>{prov}</dl>" + resolved_html


def build_report_html(folder: Path, ds, table: pd.DataFrame, joint: pd.DataFrame | None,
                      plan: pd.DataFrame, figures: list[dict], *, doc: dict,
                      provenance_items: dict, compare: dict | None = None,
                      font_css: str | None = None) -> str:
    """The text of ``report.html`` (figures read from ``folder``).

    ``compare`` is the data of the interactive comparison (:func:`compare_data`); None builds
    it from ``ds`` and ``table`` without observed history. ``font_css``: the run's CJK subset
    (:func:`sim.output.html.font_face_css`); None subsets the font to this page.
    """
    title, body = report_page_body(folder, ds, table, joint, plan, figures, doc=doc,
                                   provenance_items=provenance_items, compare=compare)
    font_css = H.font_face_css(title + body) if font_css is None else font_css
    return H.html_page(title, body, font_css + REPORT_CSS)


def report_page_body(folder: Path, ds, table: pd.DataFrame, joint: pd.DataFrame | None,
                     plan: pd.DataFrame, figures: list[dict], *, doc: dict,
                     provenance_items: dict, compare: dict | None = None) -> tuple[str, str]:
    """``(title, body)`` of ``report.html`` (:func:`build_report_html`) without the frame."""
    labels = scenario_labels(doc)
    if compare is None:
        compare = compare_data(ds, table, labels=labels)
    as_of = ds.attrs.get("as_of")
    n_ev = table.loc[table["status"] == "evaluated", "target_id"].nunique() if not table.empty else 0
    n_ne = table.loc[table["status"] != "evaluated", "target_id"].nunique() if not table.empty else 0
    title = f"规划目标达成概率 · Probability that the planning targets are met (as of {as_of})"
    sections = []

    def sec(id_, head, body):
        sections.append((id_, head, f'<section id="{id_}"><h2>{H.esc(head)}</h2>{body}</section>'))

    sec("summary", "摘要 · Summary", summary_section(table, labels))
    if values := value_section(folder, table, figures, labels):
        sec("values", SECTION_HEAD, values)
    sec("scenarios", "情景 · Scenarios", scenario_section(doc, ds))
    sec("overview", "情景比较 · Compare scenarios", _overview(folder, table, figures, compare, labels))
    sec("joint", "联合概率 · Joint probabilities", joint_section(joint, table, labels))
    tabs = []
    for i, scen in enumerate(dict.fromkeys(plan["scenario"]) if not plan.empty else []):
        tabs.append(f"<details{' open' if i == 0 else ''}><summary>{H.esc(labels.get(scen, ''))} "
                    f"{H.esc(scen)}</summary>{H.html_plan_table(plan, scen)}</details>")
    sec("tables", "评估表 · Evaluation tables",
        "<p class=\"muted\">Projection: median with the 80% interval (10th–90th percentile) of the "
        "headline draws, those P(met) counts (combined trend+record draws for 数据与往期规划 rows, "
        "the trend's for 本指标数据 rows; the fan charts draw the same). "
        f"{H.esc(E.BASIS_NOTE)} Also as targets.csv, targets_table.csv, targets.md, "
        "targets.xlsx.</p>" + "".join(tabs))
    if handin := H.html_handin(plan, table):
        midterm = "".join(_figure(folder, f) for f in figures if f["kind"] == "midterm")
        sec("handin", "交表 · Hand-in table", handin + midterm)
    if T.is_midterm(plan):
        sec("since-start", "规划初期以来的评估变化 · Changes since the plan's start", H.html_dropouts(plan))
    fan_note = ('<p class="muted">Black: observed (数据截至 as of the dotted line). Shading: 50%, 80% '
                "and 95% of the trend model's draws (darker = more likely); line: median. For a "
                "target resting on the trend alone (本指标数据 this indicator's data) these are the "
                "headline draws: the median in the target year is the table's projection. Where the "
                "headline combines the trend with past plans (数据与往期规划), the orange bar at "
                "the target year is the headline's 80% interval and ◆ its median (the table's "
                "projection), and the shading is the trend alone (p_trend). Red: the target and its "
                "P(met) ± Monte Carlo standard error, per scenario. Click a chart for full size.</p>")
    sec("charts", "目标指标扇形图 · Fan charts of the target indicators",
        fan_note + _figures(folder, figures, ("fan", "overlay"), True))
    drivers = _figures(folder, figures, ("fan",), False)
    n_drivers = drivers.count("<figure>")
    sec("drivers", "驱动因素 · Drivers and other simulated series",
        f"<details><summary>Show {n_drivers} charts</summary>{drivers}</details>"
        if drivers else "<p>None.</p>")
    sec("not-evaluable", f"未能评估的目标 · Targets not evaluated ({n_ne})",
        "<p>Every target of the chosen sets is listed; these could not be given a probability, "
        "for the reason shown.</p>" + not_evaluable_section(table))
    sec("provenance", "来源与可重复性 · Provenance", _provenance_html(folder, ds, provenance_items))

    nav = "".join(f'<li><a href="#{i}">{H.esc(h)}</a></li>' for i, h, _ in sections)
    head = (f"<h1>{H.esc(title)}</h1><p class=\"muted\">{n_ev} targets evaluated, {n_ne} not evaluable · "
            f"{len(ds['scenario'])} scenarios · {ds.sizes.get('draw')} draws · "
            f"seed {H.esc(ds.attrs.get('seed'))}"
            f" · data {H.esc(str(ds.attrs.get('data_hash', ''))[:12])}</p>"
            f"<nav><ul>{nav}</ul></nav>")
    body = head + "".join(s for _, _, s in sections) + f"<script>{REPORT_JS}</script>"
    return title, body


# --------------------------------------------------------------------------------------------
# what the report reads of targets.csv and joint.csv

#: columns the report cannot do without
TABLE_REQUIRED = ("target_id", "target_set", "scenario", "status", "probability")
JOINT_REQUIRED = ("scenario", "target_set", "group", "n_targets", "p_all", "expected_met")
#: numbers of targets.csv the report computes with (counts, colours, differences)
TABLE_NUMERIC = ("probability", "mc_se", "ci_low", "ci_high", "delta_vs_baseline", "delta_se")
#: columns read when present; missing ones (older or edited files) read as empty
TABLE_OPTIONAL = ("binding", "reason", "method", "low_information", "likelihood", "indicator",
                  "indicator_zh", "unit", "value", "value_high", "comparator", "target_year")


def report_tables(folder: Path, table: pd.DataFrame, joint: pd.DataFrame | None
                  ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """``table`` and ``joint`` as the report reads them. A required column that is missing, or a
    cell of :data:`TABLE_NUMERIC` that is not a number, is a :class:`SimError` naming the file,
    column and row (a results folder is a user's file: it may have been edited)."""
    path = Path(folder) / "targets.csv"
    missing = [c for c in TABLE_REQUIRED if c not in table.columns]
    if missing:
        raise SimError(f"{path}: no column {', '.join(missing)} (expected the columns of "
                       f"`sim run`: {', '.join(TABLE_REQUIRED)}, ...)")
    table = table.copy()
    for c in TABLE_NUMERIC:
        if c not in table.columns:
            table[c] = float("nan")
            continue
        num = pd.to_numeric(table[c], errors="coerce")
        bad = (num.isna() & table[c].notna()).to_numpy().nonzero()[0]
        if len(bad):
            raise SimError(f"{path}: column {c}, row {bad[0] + 1}: {table[c].iloc[bad[0]]!r} is "
                           "not a number")
        table[c] = num
    for c in TABLE_OPTIONAL:
        if c not in table.columns:
            table[c] = None
    if joint is not None and not joint.empty:
        missing = [c for c in JOINT_REQUIRED if c not in joint.columns]
        if missing:
            raise SimError(f"{Path(folder) / 'joint.csv'}: no column {', '.join(missing)} "
                           f"(expected {', '.join(JOINT_REQUIRED)})")
    return table, joint


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
    named = folder.out if isinstance(folder, ResultsFolder) else Path(folder)  # in messages
    folder = folder.path if isinstance(folder, ResultsFolder) else Path(folder)
    t_all = time.perf_counter()
    table, joint = report_tables(named, table, joint)
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
        fig_records += write_value_figures(folder, table, labels)   # blank targets' P(met | v)
        files += [f["file"] for f in fig_records]
    timings["figures_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    observed = history.upto(as_of) if history is not None and hasattr(history, "upto") else history
    plan = T.plan_table(table, ds, scenario_labels=labels, windows=windows, history=observed,
                        vintage=vintage)
    prov = provenance(ds, manifest)
    if figures and T.is_midterm(plan) and (
            chart := write_midterm_chart(folder, with_comparator(plan, table),
                                         str(handin_scenario(plan)))):
        fig_records.append(chart)
        files.append(chart["file"])
    timings["tables_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    compare = compare_data(ds, table, history=observed, windows=windows, labels=labels,
                           vintage=vintage)
    title, body = report_page_body(folder, ds, table, joint, plan, fig_records, doc=doc,
                                   provenance_items=prov, compare=compare)
    # one CJK subset per run, to the characters of every page (report.html, targets.html)
    tables_title = f"目标达成概率 · Probability that the targets are met (as of {as_of})"
    targets_text = (H.targets_page_text(plan, table, title=tables_title, scenario_labels=labels,
                                        joint=joint) if "html" in table_formats else "")
    font_css = H.font_face_css(title + body + tables_title + targets_text)
    (folder / "report.html").write_text(H.html_page(title, body, font_css + REPORT_CSS),
                                        encoding="utf-8")
    timings["report_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    files += _write_tables(folder, plan, table, joint, tuple(table_formats), provenance=prov,
                           labels=labels, as_of=as_of, font_css=font_css, targets_text=targets_text)
    files.append("report.html")
    timings["tables_s"] += time.perf_counter() - t0
    timings["outputs_total_s"] = time.perf_counter() - t_all
    return {"files": files, "timings": timings, "figures": fig_records}


def _write_tables(folder: Path, plan: pd.DataFrame, table: pd.DataFrame, joint: pd.DataFrame | None,
                  formats: tuple[str, ...], *, provenance: dict, labels: dict, as_of: int,
                  font_css: str, targets_text: str) -> list[str]:
    """The evaluation table in each of ``formats`` (csv, md, xlsx, html; ``targets_text`` is
    the body of targets.html, ``font_css`` the run's font); returns the file names."""
    title = f"目标达成概率 · Probability that the targets are met (as of {as_of})"
    files = []
    if "csv" in formats:
        T.write_csv(plan, folder / "targets_table.csv", table)
        files.append("targets_table.csv")
    if "md" in formats:
        T.write_markdown(plan, table, folder / "targets.md", title=title, scenario_labels=labels,
                         joint=joint)
        if handin := handin_markdown(plan, table, T.md_table, T.md_text):
            with open(folder / "targets.md", "a", encoding="utf-8") as md:
                md.write("\n" + "\n".join(handin) + "\n")
        files.append("targets.md")
    if "xlsx" in formats:
        write_xlsx(plan, table, folder / "targets.xlsx", joint=joint, provenance=provenance,
                   scenario_labels=labels)
        files.append("targets.xlsx")
    if "html" in formats:
        (folder / "targets.html").write_text(H.html_page(title, targets_text, font_css),
                                             encoding="utf-8")
        files.append("targets.html")
    return files
