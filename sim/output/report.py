"""Everything a person opens in a results folder, built from the ensemble and the evaluation.

:func:`write_outputs` is called by the run pipeline at the end of a run (inside the atomic
temporary folder) and by ``sim report``; it writes

* ``figures/`` — fan charts (one file per indicator view, one panel per scenario), scenario
  overlays (one per view on which a target is judged), ``pmet_by_scenario.png`` and
  ``pmet_heatmap.png``;
* ``targets_table.csv``, ``targets.md``, ``targets.xlsx``, ``targets.html`` — the evaluation
  table in the plan's layout (:mod:`sim.output.tables`);
* ``report.html`` — one self-contained page (figures as base64 PNG, inline CSS, the CJK font
  subset embedded as a ``data:`` URI; no external reference of any kind).

:func:`rebuild` (``sim report DIR``) re-evaluates the targets from ``ensemble.nc`` (no
simulation) and rewrites ``targets.csv``, ``joint.csv`` and all of the above;
:func:`compare_runs` (``sim compare DIR...``) sets several results folders side by side.
"""

from __future__ import annotations

import base64
import datetime as _dt
import io
import json
import math
import shutil
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from sim.output import tables as T
from sim.errors import SimError
from sim.scenario.spec import DEFAULT_QUANTILES, TABLE_FORMATS



# --------------------------------------------------------------------------------------------
# inputs of a results folder


def resolved_scenarios(ds, folder: Path | None = None) -> dict:
    """The resolved scenario document (dict) from ``scenario.resolved.toml`` or the Dataset attrs."""
    text = None
    if folder is not None and (Path(folder) / "scenario.resolved.toml").exists():
        text = (Path(folder) / "scenario.resolved.toml").read_text(encoding="utf-8")
    elif ds is not None and ds.attrs.get("scenario_resolved"):
        text = ds.attrs["scenario_resolved"]
    if not text:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def scenario_labels(doc: dict) -> dict[str, str]:
    return {k: v.get("label_zh", "") for k, v in (doc.get("scenarios") or {}).items()}


def target_windows(catalogue: pd.DataFrame | None = None) -> dict:
    """``{target_id: (period_start, period_end)}`` from the catalogue (for cumulative sums)."""
    if catalogue is None:
        from sim.targets import load_catalogue

        catalogue = load_catalogue()
    out = {}
    for r in catalogue.to_dict("records"):
        if "period_start" in r:
            out[r["id"]] = (T.as_int(r.get("period_start")), T.as_int(r.get("period_end")))
    return out


def _attr_json(ds, key: str):
    v = ds.attrs.get(key)
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


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
    versions = _attr_json(ds, "versions")
    if isinstance(versions, dict):
        out.update({f"version {k}": v for k, v in versions.items()})
    elif versions:
        out["versions"] = versions
    if manifest:
        for k in ("scenario_file", "scenario_sha256", "catalogue_sha256", "data_dir", "target_sets",
                  "fallbacks", "timings"):
            if k in manifest:
                v = manifest[k]
                out[k] = json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
    out["report generated 生成时间"] = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    return {k: v for k, v in out.items() if v is not None and v != ""}


def _load_history(data_dir=None, manifest: dict | None = None):
    """The history the run used (``manifest.data_dir``), or the bundled one; None if unreadable."""
    from sim.history import load_history

    candidates = []
    if data_dir:
        candidates.append(Path(data_dir))
    elif manifest and manifest.get("data_dir"):
        p = Path(manifest["data_dir"])
        candidates.append(p)
        if not p.is_absolute():
            from sim.paths import REPO_DIR

            candidates.append(REPO_DIR / p)
    candidates.append(None)
    for c in candidates:
        if c is not None and not c.is_dir():
            continue
        try:
            return load_history(c)
        except SimError:
            if data_dir:
                raise
    return None


# --------------------------------------------------------------------------------------------
# the embedded font


def font_face_css(text: str) -> str:
    """``@font-face`` with the shipped CJK font subset to the characters of ``text`` (data: URI).

    Empty string when the font or fontTools is unavailable (the page then falls back to the
    reader's system fonts, listed in the CSS).
    """
    from sim.output.plots import FONT_FAMILY, FONT_FILE

    if not FONT_FILE.exists():
        return ""
    try:
        from fontTools import subset
        from fontTools.ttLib import TTFont
    except ImportError:  # pragma: no cover - fontTools comes with matplotlib
        return ""
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


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (f'<img loading="lazy" alt="{T.esc(alt)}" src="data:image/png;base64,{data}">')


# --------------------------------------------------------------------------------------------
# report.html


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


def _scenario_section(doc: dict, ds) -> str:
    scen = doc.get("scenarios") or {}
    names = [str(s) for s in ds["scenario"].values]
    rows = []
    for name in names:
        entry = scen.get(name, {})
        lev = entry.get("levers") or {}
        lever_txt = "; ".join(lever_text(d, v) for d, v in lev.items() if isinstance(v, dict) and v)
        shocks = "; ".join(f"{s.get('driver')} {s.get('year')} {s.get('shift_pp'):+g} pp"
                           + (f" ({s['note']})" if s.get("note") else "")
                           for s in entry.get("shocks") or [])
        tv = entry.get("target_values") or {}
        tv_txt = "; ".join(f"{k} = {v:g}" for k, v in tv.items())
        rows.append([name, entry.get("label_zh", ""), entry.get("description", ""), lever_txt or "—",
                     shocks or "—", tv_txt or "—"])
    run = doc.get("run") or {}
    intro = ""
    if run:
        intro = (f"<p>数据截至 as_of <b>{T.esc(run.get('as_of'))}</b> · 预测至 horizon "
                 f"<b>{T.esc(run.get('horizon'))}</b> · {T.esc(run.get('draws'))} 次模拟 draws · "
                 f"目标集 target sets: {T.esc(', '.join(run.get('target_sets', [])))}. "
                 "Every scenario uses the same random draws (common random numbers), so "
                 "differences between scenarios come from the levers alone.</p>")
    return intro + T.html_table(["情景 Scenario", "名称", "说明 Description", "政策杠杆 Levers",
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
    return (T.html_table(["情景 Scenario", "目标集 Set", "范围 Group", "目标数 n", "全部达标 P(all met) ± SE",
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
                     f"{T.target_text(r)} ({T.as_int(r.get('target_year'))})",
                     f"{100 * dp:+.1f} pp ± {100 * se:.1f}" if np.isfinite(se) else f"{100 * dp:+.1f} pp"])
        sig = np.isfinite(se) and abs(dp) > 1.96 * se
        classes.append(["", "", "nowrap", "num " + (("green" if dp > 0 else "red") if sig else "")])
    return (f"<h3>与基准情景相比 · Change against the baseline ({T.esc(base)})</h3>"
            + T.html_table(["情景 Scenario", "指标 Indicator", "目标 Target", "ΔP ± paired SE"], rows, classes)
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
        sections.append((id_, head, f'<section id="{id_}"><h2>{T.esc(head)}</h2>{body}</section>'))

    sec("scenarios", "情景 · Scenarios", _scenario_section(doc, ds))
    overview = T.html_pmet_heat(table, labels)
    pm = [f for f in figures if f["kind"] in ("pmet", "heatmap")]
    for f in pm:
        if f["kind"] == "pmet":
            overview += (f"<figure>{_img(folder / f['file'], f['title'])}<figcaption>{T.esc(f['title'])}: "
                         "dots are P(met), whiskers the Wilson 95% interval of the Monte Carlo estimate."
                         "</figcaption></figure>")
        else:
            overview += (f"<details><summary>热图图片 · The same as an image ({T.esc(f['file'])})</summary>"
                         f"<figure>{_img(folder / f['file'], f['title'])}</figure></details>")
    overview += _delta_section(table, labels)
    sec("overview", "达标概率一览 · P(met) by scenario", overview)
    sec("joint", "联合概率 · Joint probabilities", _joint_section(joint, labels))
    tabs = []
    for i, scen in enumerate(dict.fromkeys(plan["scenario"]) if not plan.empty else []):
        tabs.append(f"<details{' open' if i == 0 else ''}><summary>{T.esc(labels.get(scen, ''))} "
                    f"{T.esc(scen)}</summary>{T.html_plan_table(plan, scen)}</details>")
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
            out.append(f"<figure>{_img(folder / f['file'], f['title'])}<figcaption>{T.esc(f['title'])} "
                       f"— {T.esc(f['file'])}</figcaption></figure>")
        return "".join(out)

    fan_note = ('<p class="muted">Black: observed (数据截至 as of the dotted line). Shading: 50%, 80% '
                "and 95% of the draws (darker = more likely); line: median. Red: the target and its "
                "P(met) ± Monte Carlo standard error, per scenario.</p>")
    sec("charts", "目标指标扇形图 · Fan charts of the target indicators",
        fan_note + figs(("fan", "overlay"), True))
    drivers = figs(("fan",), False)
    sec("drivers", "驱动因素 · Drivers and other simulated series",
        f"<details><summary>Show {sum(1 for f in figures if f['kind'] == 'fan') - sum(1 for f in figures if f['kind'] == 'overlay')} "
        f"charts</summary>{drivers}</details>" if drivers else "<p>None.</p>")
    sec("not-evaluable", f"未能评估的目标 · Targets not evaluated ({n_ne})",
        "<p>Every target of the chosen sets is listed; these could not be given a probability, "
        "for the reason shown.</p>" + T.html_not_evaluable(table))
    prov = "".join(f"<dt>{T.esc(k)}</dt><dd>{T.esc(v)}</dd>" for k, v in provenance_items.items())
    resolved = ds.attrs.get("scenario_resolved") or ""
    if not resolved and (folder / "scenario.resolved.toml").exists():
        resolved = (folder / "scenario.resolved.toml").read_text(encoding="utf-8")
    sec("provenance", "来源与可重复性 · Provenance",
        f"<dl>{prov}</dl>" + (f"<details><summary>scenario.resolved.toml</summary><pre>{T.esc(resolved)}</pre>"
                              "</details>" if resolved else ""))

    nav = "".join(f'<li><a href="#{i}">{T.esc(h)}</a></li>' for i, h, _ in sections)
    head = (f"<h1>{T.esc(title)}</h1><p class=\"muted\">{n_ev} targets evaluated, {n_ne} not evaluable · "
            f"{len(ds['scenario'])} scenarios · {ds.sizes.get('draw')} draws · seed {T.esc(ds.attrs.get('seed'))}"
            f" · data {T.esc(str(ds.attrs.get('data_hash', ''))[:12])}</p><nav><ul>{nav}</ul></nav>")
    body = head + "".join(s for _, _, s in sections)
    font_css = font_face_css(title + body)
    return T.html_page(title, body, font_css)


# --------------------------------------------------------------------------------------------
# the one entry point of the pipeline


def write_outputs(folder: Path, ds, table: pd.DataFrame, joint: pd.DataFrame | None = None, *,
                  history=None, catalogue: pd.DataFrame | None = None, manifest: dict | None = None,
                  figures: bool | None = None, table_formats=None) -> dict:
    """Write figures, tables and ``report.html`` into ``folder``; return ``{"files", "timings"}``.

    Parameters
    ----------
    folder : results folder (the pipeline's temporary folder); ``targets.csv`` is not written here.
    ds : the ensemble Dataset (scenario × draw × year), as written to ``ensemble.nc``.
    table, joint : ``Evaluation.table`` and ``Evaluation.joint`` (``targets.csv``, ``joint.csv``).
    history : :class:`sim.history.History` for the observed part of the fans (cut at as_of
        here); None draws the fans without history.
    catalogue : the target catalogue rows (for cumulative-sum windows); default the bundled one.
    manifest : the run manifest, for the provenance section (optional).
    figures, table_formats : default from ``[output]`` of the resolved scenario (``figures =
        true``, all four formats). ``report.html`` is always written.
    """
    from sim.output.plots import write_figures

    folder = Path(folder)
    t_all = time.perf_counter()
    doc = resolved_scenarios(ds, folder)
    output = doc.get("output") or {}
    figures = output.get("figures", True) if figures is None else figures
    formats = tuple(table_formats if table_formats is not None else output.get("table_formats", TABLE_FORMATS))
    labels = scenario_labels(doc)
    windows = target_windows(catalogue)
    as_of = int(ds.attrs["as_of"])
    vintage = ds.attrs.get("vintage") or (doc.get("run") or {}).get("vintage") or "revised"
    timings, files = {}, []

    t0 = time.perf_counter()
    fig_records = []
    if figures:
        hist = history.upto(as_of) if history is not None and hasattr(history, "upto") else history
        fig_records = write_figures(folder, ds, table, history=hist, scenario_labels=labels,
                                    windows=windows, vintage=vintage)
        files += [f["file"] for f in fig_records]
    timings["figures_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    plan = T.plan_table(table, ds, scenario_labels=labels, windows=windows)
    prov = provenance(ds, manifest)
    title = f"目标达成概率 · Probability that the targets are met (as of {as_of})"
    if "csv" in formats:
        T.write_csv(plan, folder / "targets_table.csv")
        files.append("targets_table.csv")
    if "md" in formats:
        T.write_markdown(plan, table, folder / "targets.md", title=title, scenario_labels=labels)
        files.append("targets.md")
    if "xlsx" in formats:
        T.write_xlsx(plan, table, folder / "targets.xlsx", joint=joint, provenance=prov,
                     scenario_labels=labels)
        files.append("targets.xlsx")
    if "html" in formats:
        T.write_html(plan, table, folder / "targets.html", title=title, scenario_labels=labels)
        files.append("targets.html")
    timings["tables_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    page = build_report_html(folder, ds, table, joint, plan, fig_records, doc=doc, provenance_items=prov)
    (folder / "report.html").write_text(page, encoding="utf-8")
    files.append("report.html")
    timings["report_s"] = time.perf_counter() - t0
    timings["outputs_total_s"] = time.perf_counter() - t_all
    return {"files": files, "timings": timings, "figures": fig_records}


# --------------------------------------------------------------------------------------------
# sim report


def check_results_folder(folder: Path) -> Path:
    folder = Path(folder)
    if not folder.exists():
        raise SimError(f"{folder}: no such results folder")
    if not folder.is_dir():
        raise SimError(f"{folder}: not a folder (expected a results folder written by `sim run`)")
    if not (folder / "ensemble.nc").exists():
        found = ", ".join(sorted(p.name for p in folder.iterdir())[:8]) or "nothing"
        raise SimError(f"{folder}: not a results folder (no ensemble.nc; found {found})")
    return folder


def rebuild(folder: Path, *, data_dir=None, figures: bool | None = None) -> dict:
    """``sim report``: re-evaluate from ``ensemble.nc`` and rewrite every derived file of ``folder``."""
    from sim.ensemble import read_netcdf
    from sim.evaluation import evaluate
    from sim.targets import targets_for_sets

    folder = check_results_folder(folder)
    ds = read_netcdf(folder / "ensemble.nc")
    if ds.attrs.get("summaries_only"):
        raise SimError(f"{folder}: ensemble.nc holds summaries only (run without --summaries-only "
                       "to rebuild probabilities)")
    if "as_of" not in ds.attrs:
        raise SimError(f"{folder / 'ensemble.nc'}: no as_of attribute (not written by sim run)")
    doc = resolved_scenarios(ds, folder)
    if not doc:
        raise SimError(f"{folder}: no resolved scenario (scenario.resolved.toml or the ensemble's "
                       "scenario_resolved attribute) to know the target sets")
    run = doc.get("run") or {}
    manifest = None
    if (folder / "manifest.json").exists():
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        except ValueError:
            manifest = None
    t0 = time.perf_counter()
    catalogue = targets_for_sets(list(run.get("target_sets", [])))
    target_values = {name: dict(e.get("target_values") or {})
                     for name, e in (doc.get("scenarios") or {}).items()}
    history = _load_history(data_dir, manifest)
    quantiles = tuple((doc.get("output") or {}).get("quantiles", DEFAULT_QUANTILES))
    ev = evaluate(ds, catalogue, target_values, history=history, quantiles=quantiles)
    t_eval = time.perf_counter() - t0

    # write into a scratch folder, then move over (a failure leaves the old files in place)
    tmp = folder / ".report-partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        ev.table.to_csv(tmp / "targets.csv", index=False)
        ev.joint.to_csv(tmp / "joint.csv", index=False)
        if (folder / "scenario.resolved.toml").exists():
            shutil.copy2(folder / "scenario.resolved.toml", tmp / "scenario.resolved.toml")
        out = write_outputs(tmp, ds, ev.table, ev.joint, history=history, catalogue=catalogue,
                            manifest=manifest, figures=figures)
        (tmp / "scenario.resolved.toml").unlink(missing_ok=True)
        if (tmp / "figures").exists() or figures is not False:
            shutil.rmtree(folder / "figures", ignore_errors=True)
        for p in tmp.iterdir():
            target = folder / p.name
            if target.is_dir():
                shutil.rmtree(target)
            p.replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out["timings"]["evaluate_s"] = t_eval
    out["table"], out["joint"], out["folder"] = ev.table, ev.joint, folder
    out["files"] = ["targets.csv", "joint.csv"] + out["files"]
    return out


# --------------------------------------------------------------------------------------------
# sim compare


def _run_label(folder: Path, taken: set) -> str:
    label = folder.name or str(folder)
    if label in taken:
        label = f"{folder.parent.name}/{folder.name}"
    k = 2
    base = label
    while label in taken:
        label, k = f"{base}#{k}", k + 1
    taken.add(label)
    return label


def compare_runs(folders: list[Path], out: Path | None = None, *, figures: bool = True) -> dict:
    """Set results folders side by side: P(met) per target and (run, scenario), where targets are shared.

    Writes into ``out`` (default ``<first folder>/compare``): ``compare.csv``, ``compare.md``,
    ``compare.html`` (self-contained), and figures (dot-and-whisker, heat map, overlaid fans of
    every shared target view). Returns ``{"table", "wide", "files", "timings"}``.
    """
    from sim.ensemble import read_netcdf
    from sim.output.plots import (FAN_QUANTILES, fan_quantiles, overlay_chart, pmet_chart, pmet_heatmap,
                           target_view, view_title, view_values)

    if not folders:
        raise SimError("compare needs at least one results folder")
    t_all = time.perf_counter()
    runs, taken = [], set()
    for f in folders:
        f = check_results_folder(f)
        if not (f / "targets.csv").exists():
            raise SimError(f"{f}: no targets.csv (rebuild it with `python -m sim report {f}`)")
        table = pd.read_csv(f / "targets.csv")
        runs.append(dict(folder=f, label=_run_label(f.resolve(), taken), table=table))
    multi = len(runs) > 1
    shared = set.intersection(*(set(r["table"]["target_id"]) for r in runs))
    if not shared:
        raise SimError("the results folders share no target (compare needs runs over the same target sets); "
                       + "; ".join(f"{r['folder']}: {r['table']['target_id'].nunique()} targets" for r in runs))
    frames, labels = [], {}
    for r in runs:
        t = r["table"][r["table"]["target_id"].isin(shared)].copy()
        t["run"] = r["label"]
        t["group"] = (r["label"] + " · " + t["scenario"].astype(str)) if multi else t["scenario"].astype(str)
        frames.append(t)
        r["ds"] = read_netcdf(r["folder"] / "ensemble.nc") if figures else None
        doc = resolved_scenarios(r["ds"], r["folder"])
        for s, zh in scenario_labels(doc).items():
            labels[(r["label"] + " · " + s) if multi else s] = zh
        r["doc"] = doc
    table = pd.concat(frames, ignore_index=True)
    order = list(dict.fromkeys(t for r in runs for t in r["table"]["target_id"] if t in shared))
    table["_o"] = table["target_id"].map({t: i for i, t in enumerate(order)})
    table = table.sort_values(["_o"], kind="stable").drop(columns="_o").reset_index(drop=True)
    out = Path(out) if out else runs[0]["folder"] / "compare"
    out.mkdir(parents=True, exist_ok=True)
    files = []

    groups = list(dict.fromkeys(g for fr in frames for g in fr["group"]))
    ev = table[table["status"] == "evaluated"]
    wide = ev.pivot_table(index="target_id", columns="group", values="probability", sort=False)
    wide = wide.reindex(index=[t for t in order if t in set(ev["target_id"])], columns=groups)
    cols = ["run", "scenario", "group", "target_id", "target_set", "indicator_zh", "indicator",
            "target_year", "comparator", "value", "unit", "status", "reason", "probability", "mc_se",
            "ci_low", "ci_high", "likelihood", "median", "p10", "p90"]
    cmp_tab = table[[c for c in cols if c in table.columns]].copy()
    first_group = groups[0]
    base = ev[ev["group"] == first_group].set_index("target_id")
    d, dse = [], []
    for r in cmp_tab.to_dict("records"):
        if r["status"] != "evaluated" or r["target_id"] not in base.index or r["group"] == first_group:
            d.append(math.nan)
            dse.append(math.nan)
            continue
        b = base.loc[r["target_id"]]
        d.append(r["probability"] - b["probability"])
        dse.append(math.sqrt(r["mc_se"] ** 2 + b["mc_se"] ** 2))
    cmp_tab[f"delta_vs_{first_group}"] = d
    cmp_tab["delta_se_unpaired"] = dse
    cmp_tab.to_csv(out / "compare.csv", index=False)
    files.append("compare.csv")

    timings = {}
    t0 = time.perf_counter()
    fig_records = []
    if figures:
        figdir = out / "figures"
        shutil.rmtree(figdir, ignore_errors=True)
        figdir.mkdir()
        if pmet_chart(table, figdir / "pmet_by_scenario.png", column="group", labels=labels,
                      title="各运行与情景的达标概率 · P(target met) by run and scenario"):
            fig_records.append(dict(file="figures/pmet_by_scenario.png", kind="pmet", title="P(met) by run and scenario"))
        if pmet_heatmap(table, figdir / "pmet_heatmap.png", column="group", labels=labels):
            fig_records.append(dict(file="figures/pmet_heatmap.png", kind="heatmap", title="P(met) heat map"))
        windows = target_windows()
        seen = []
        for row in table.drop_duplicates("target_id").to_dict("records"):
            specs = [target_view(r["ds"], row, windows) for r in runs]
            if any(s is None for s in specs) or specs[0] in seen:
                continue
            spec = specs[0]
            seen.append(spec)
            items = []
            for r in runs:
                years, values = view_values(r["ds"], spec)
                q = fan_quantiles(values, FAN_QUANTILES)
                for k, s in enumerate(str(x) for x in r["ds"]["scenario"].values):
                    g = (r["label"] + " · " + s) if multi else s
                    items.append((f"{labels.get(g, '')} {g}".strip(), years, q[:, k]))
            title, ylabel = view_title(runs[0]["ds"], spec)
            rows = table[(table["group"] == first_group)]
            rows = pd.DataFrame([x for x in rows.to_dict("records")
                                 if target_view(runs[0]["ds"], x, windows) == spec])
            overlay_chart(items, figdir / spec.overlay_filename, title=title, ylabel=ylabel,
                          as_of=int(runs[0]["ds"].attrs["as_of"]), targets=rows)
            fig_records.append(dict(file=f"figures/{spec.overlay_filename}", kind="overlay", title=title))
        files += [f["file"] for f in fig_records]
    timings["figures_s"] = time.perf_counter() - t0

    # compare.md and compare.html
    first = table.drop_duplicates("target_id").set_index("target_id")
    head = ["指标 Indicator", "目标 Target"] + [f"{labels.get(g, '')} {g}".strip() for g in groups]
    md_rows = T.pmet_rows(wide, first)
    runs_txt = "\n".join(f"- **{r['label']}**: `{r['folder']}` (as of "
                         f"{(r['doc'].get('run') or {}).get('as_of', '?')}, "
                         f"{(r['doc'].get('run') or {}).get('draws', '?')} draws)" for r in runs)
    md = (f"# 情景比较 · Scenario comparison\n\n{runs_txt}\n\n{len(shared)} shared targets, "
          f"{len(wide)} evaluated in at least one run.\n\n" + T._md_table(head, md_rows) + "\n")
    (out / "compare.md").write_text(md, encoding="utf-8")
    files.append("compare.md")
    body = ["<h1>情景比较 · Scenario comparison</h1><ul>"
            + "".join(f"<li><b>{T.esc(r['label'])}</b>: {T.esc(str(r['folder']))} — as of "
                      f"{T.esc((r['doc'].get('run') or {}).get('as_of', '?'))}, "
                      f"{T.esc((r['doc'].get('run') or {}).get('draws', '?'))} draws</li>" for r in runs)
            + "</ul>",
            f"<h2>达标概率 · P(met)</h2>{T.html_pmet_heat(table, labels, column='group')}"]
    if multi:
        body.append('<p class="muted">Between different runs the ΔP in compare.csv uses the unpaired '
                    "standard error (conservative: runs with the same seed share their draws).</p>")
    for f in fig_records:
        body.append(f"<figure>{_img(out / f['file'], f['title'])}<figcaption>{T.esc(f['title'])}"
                    "</figcaption></figure>")
    ne = table[table["status"] != "evaluated"]
    body.append("<h2>未能评估的目标 · Targets not evaluated</h2>" + T.html_not_evaluable(
        ne.assign(scenario=ne["group"]) if not ne.empty else ne))
    page_body = "".join(body)
    (out / "compare.html").write_text(
        T.html_page("情景比较 · Scenario comparison", page_body,
                    font_face_css(page_body)), encoding="utf-8")
    files.append("compare.html")
    timings["total_s"] = time.perf_counter() - t_all
    return {"table": cmp_tab, "wide": wide, "files": files, "timings": timings, "folder": out,
            "labels": labels}


def print_compare(result: dict) -> None:
    """P(met) per shared target (rows) and scenario (columns), one block per run, on the terminal."""
    wide = result["wide"]
    if wide.empty:
        print("no shared target was evaluated in any run")
        return
    width = max(len(str(i)) for i in wide.index)
    blocks: dict[str, list[str]] = {}
    for c in wide.columns:
        run, _, scen = c.rpartition(" · ")
        blocks.setdefault(run, []).append(c)
    for run, cols in blocks.items():
        names = [c.rpartition(" · ")[2] for c in cols]
        w = max(8, min(18, max(len(n) for n in names)))
        print(f"P(target met){' — ' + run if run else ''}")
        head = "target".ljust(width) + "".join(f"  {n[:w]:>{w}}" for n in names)
        print(head)
        print("-" * len(head))
        for tid, r in wide[cols].iterrows():
            print(str(tid).ljust(width) + "".join(
                f"  {v:{w}.3f}" if np.isfinite(v) else f"  {'–':>{w}}" for v in r.values))
        print()
    print(f"Written: {result['folder']} ({', '.join(result['files'][:4])}"
          f"{', …' if len(result['files']) > 4 else ''})")
