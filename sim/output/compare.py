"""``sim compare DIR...``: scenarios and runs side by side, where their targets are shared.

:func:`compare_runs` reads the ``targets.csv`` (and, for the charts, ``ensemble.nc``) of one or
more results folders and writes, through the one writer
(:class:`~sim.output.folder.ResultsFolder`), a folder (default ``<first folder>/compare``) with
``compare.csv`` (P(met), Wilson interval and ΔP per target and run/scenario), ``compare.md``, a
self-contained ``compare.html``, ``figures/`` (dot-and-whisker, heat map, overlaid fans of every
shared target view) and ``manifest.json``. :func:`print_compare` prints the P(met) table.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sim.ensemble import read_netcdf
from sim.errors import SimError
from sim.output import html as H
from sim.output import tables as T
from sim.output.fans import (FAN_QUANTILES, fan_quantiles, overlay_chart, target_view, view_title,
                             view_values)
from sim.output.folder import ResultsFolder, check_results_folder
from sim.output.plots import pmet_chart, pmet_heatmap
from sim.output.report import resolved_scenarios, scenario_labels, target_windows

#: columns of compare.csv taken from each run's targets.csv (when present)
COLUMNS = ("run", "scenario", "group", "target_id", "target_set", "indicator_zh", "indicator",
           "target_year", "comparator", "value", "unit", "status", "reason", "probability", "mc_se",
           "ci_low", "ci_high", "likelihood", "median", "p10", "p90")


def compare_runs(folders: list[Path], out: Path | None = None, *, figures: bool = True,
                 wait: bool = False) -> dict:
    """Set results folders side by side: P(met) per target and (run, scenario), where targets are shared.

    Writes into ``out`` (default ``<first folder>/compare``): ``compare.csv``, ``compare.md``,
    ``compare.html`` (self-contained), figures (dot-and-whisker, heat map, overlaid fans of
    every shared target view) and ``manifest.json``. An existing ``out`` is replaced only when
    it is empty or was written by ``sim compare`` (:mod:`sim.output.owned`); anything else is
    refused untouched. ``wait``: wait for another process writing ``out``.

    Returns
    -------
    dict
        ``{"table" (compare.csv), "wide" (targets × groups of P(met)), "files", "timings",
        "folder", "labels"}``.
    """
    if not folders:
        raise SimError("compare needs at least one results folder")
    t_all = time.perf_counter()
    out = Path(out) if out else check_results_folder(folders[0]) / "compare"
    folder = ResultsFolder(out, force=True, command="compare", wait=wait, inputs=folders,
                           replaces="compare")   # refused before reading anything
    with folder.lock:
        return _compare_into(folder, folders, figures, t_all)


def _compare_into(folder: ResultsFolder, folders: list[Path], figures: bool,
                  t_all: float) -> dict:
    """:func:`compare_runs` with the output folder locked."""
    out = folder.out
    runs = _read_runs(folders, with_ensemble=figures)
    multi = len(runs) > 1
    table, groups, labels = _shared_table(runs, multi)

    ev = table[table["status"] == "evaluated"]
    order = list(dict.fromkeys(table["target_id"]))
    wide = ev.pivot_table(index="target_id", columns="group", values="probability", sort=False)
    wide = wide.reindex(index=[t for t in order if t in set(ev["target_id"])], columns=groups)
    cmp_tab = _delta_table(table, ev, groups[0])

    timings: dict[str, float] = {}
    with folder:
        files = [folder.csv("compare.csv", cmp_tab).name]
        t0 = time.perf_counter()
        fig_records = []
        if figures:
            fig_records = _write_figures(folder.file("figures"), table, runs, labels, multi, groups[0])
            files += [f["file"] for f in fig_records]
        timings["figures_s"] = time.perf_counter() - t0
        first = table.drop_duplicates("target_id").set_index("target_id")
        head = ["指标 Indicator", "目标 Target"] + [f"{labels.get(g, '')} {g}".strip() for g in groups]
        md = (f"# 情景比较 · Scenario comparison\n\n{_runs_markdown(runs)}\n\n{len(order)} shared "
              f"targets, {len(wide)} evaluated in at least one run.\n\n"
              + T.md_table(head, T.pmet_rows(wide, first)) + "\n")
        files.append(folder.text("compare.md", md).name)
        page = _compare_html(folder.path, table, runs, labels, fig_records, multi)
        files.append(folder.text("compare.html", page).name)
        timings["total_s"] = time.perf_counter() - t_all
        folder.manifest.update(
            runs=[{"label": r["label"], "folder": str(r["folder"]), **_run_facts(r)} for r in runs],
            shared_targets=len(order), timings=timings)
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


# --------------------------------------------------------------------------------------------
# reading the runs


def _read_runs(folders: list[Path], *, with_ensemble: bool) -> list[dict]:
    """One record per folder: ``folder``, ``label`` (unique), ``table``, ``ds``, ``doc``."""
    runs: list[dict] = []
    taken: set[str] = set()
    for f in folders:
        f = check_results_folder(f)
        table = read_targets(f / "targets.csv")
        ds = read_netcdf(f / "ensemble.nc") if with_ensemble else None
        runs.append(dict(folder=f, label=_run_label(f.resolve(), taken),
                         table=table, ds=ds, doc=resolved_scenarios(ds, f)))
    return runs


#: columns compare needs in a run's targets.csv
REQUIRED = ("scenario", "target_id", "status", "probability", "mc_se")


def read_targets(path: Path) -> pd.DataFrame:
    """A run's ``targets.csv``, checked: readable, not empty, with the columns compare needs and
    a probability in [0, 1] on every evaluated row (else a SimError naming the file)."""
    folder = path.parent
    if not path.is_file():
        raise SimError(f"{folder}: no targets.csv (rebuild it with `python -m sim report {folder}`)")
    try:
        table = pd.read_csv(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:   # empty, not CSV, not UTF-8
        raise SimError(f"{path}: cannot read as a targets table "
                       f"({' '.join(str(exc).split())[:200]})") from None
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise SimError(f"{path}: missing column{'s' if len(missing) > 1 else ''} "
                       f"{', '.join(missing)} (expected the targets.csv of `sim run`; rebuild it "
                       f"with `python -m sim report {folder}`)")
    if table.empty:
        raise SimError(f"{path}: no rows (expected one row per scenario and target)")
    for col in ("probability", "mc_se"):
        table[col] = pd.to_numeric(table[col], errors="coerce")
    table["target_id"] = table["target_id"].astype(str)
    table["scenario"] = table["scenario"].astype(str)
    ev = table["status"] == "evaluated"
    bad = table[ev & ~table["probability"].between(0, 1)]
    if not bad.empty:
        r = bad.iloc[0]
        raise SimError(f"{path}: row {int(bad.index[0]) + 2}: probability of {r['target_id']} "
                       f"({r['scenario']}): expected a number in [0, 1] on an evaluated row")
    return table


def _run_label(folder: Path, taken: set[str]) -> str:
    label = folder.name or str(folder)
    if label in taken:
        label = f"{folder.parent.name}/{folder.name}"
    k = 2
    base = label
    while label in taken:
        label, k = f"{base}#{k}", k + 1
    taken.add(label)
    return label


def _run_facts(run: dict) -> dict:
    """as_of and draws of a run, from its resolved scenario ('?' when unknown)."""
    r = run["doc"].get("run") or {}
    return {"as_of": r.get("as_of", "?"), "draws": r.get("draws", "?")}


def _group(run: dict, scenario: str, multi: bool) -> str:
    """The column of a (run, scenario) pair: ``run · scenario``, or the scenario alone for one run."""
    return f"{run['label']} · {scenario}" if multi else scenario


def _shared_table(runs: list[dict], multi: bool) -> tuple[pd.DataFrame, list[str], dict]:
    """The rows of the targets every run shares, in first-seen target order, with columns
    ``run`` and ``group`` (``run · scenario`` when several runs); the groups in run order;
    ``{group: label_zh}``."""
    shared = set.intersection(*(set(r["table"]["target_id"]) for r in runs))
    if not shared:
        raise SimError("the results folders share no target (compare needs runs over the same target "
                       "sets); " + "; ".join(f"{r['folder']}: {r['table']['target_id'].nunique()} targets"
                                            for r in runs))
    frames, labels = [], {}
    for r in runs:
        t = r["table"][r["table"]["target_id"].isin(shared)].copy()
        t["run"] = r["label"]
        t["group"] = [_group(r, s, multi) for s in t["scenario"].astype(str)]
        frames.append(t)
        for s, zh in scenario_labels(r["doc"]).items():
            labels[_group(r, s, multi)] = zh
    table = pd.concat(frames, ignore_index=True)
    order = list(dict.fromkeys(t for r in runs for t in r["table"]["target_id"] if t in shared))
    table["_o"] = table["target_id"].map({t: i for i, t in enumerate(order)})
    table = table.sort_values(["_o"], kind="stable").drop(columns="_o").reset_index(drop=True)
    groups = list(dict.fromkeys(g for fr in frames for g in fr["group"]))
    return table, groups, labels


# --------------------------------------------------------------------------------------------
# the files


def _delta_table(table: pd.DataFrame, ev: pd.DataFrame, first_group: str) -> pd.DataFrame:
    """compare.csv: the shared rows with ΔP against ``first_group`` and its unpaired SE."""
    cmp_tab = table[[c for c in COLUMNS if c in table.columns]].copy()
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
    return cmp_tab


def _write_figures(figdir: Path, table: pd.DataFrame, runs: list[dict], labels: dict, multi: bool,
                   first_group: str) -> list[dict]:
    """P(met) dots and heat map over every group, and one overlay per shared target view."""
    figdir.mkdir(parents=True, exist_ok=True)
    out = []
    if pmet_chart(table, figdir / "pmet_by_scenario.png", column="group", labels=labels,
                  title="各运行与情景的达标概率 · P(target met) by run and scenario"):
        out.append(dict(file="figures/pmet_by_scenario.png", kind="pmet",
                        title="P(met) by run and scenario"))
    if pmet_heatmap(table, figdir / "pmet_heatmap.png", column="group", labels=labels):
        out.append(dict(file="figures/pmet_heatmap.png", kind="heatmap", title="P(met) heat map"))
    windows = target_windows()
    ds0 = runs[0]["ds"]
    seen = []
    for row in table.drop_duplicates("target_id").to_dict("records"):
        specs = [target_view(r["ds"], row, windows) for r in runs]
        spec = specs[0]
        if spec is None or any(s is None for s in specs) or spec in seen:
            continue
        seen.append(spec)
        items = []
        for r in runs:
            years, values = view_values(r["ds"], spec)
            q = fan_quantiles(values, FAN_QUANTILES)
            for k, s in enumerate(str(x) for x in r["ds"]["scenario"].values):
                g = _group(r, s, multi)
                items.append((f"{labels.get(g, '')} {g}".strip(), years, q[:, k]))
        title, ylabel = view_title(ds0, spec)
        rows = pd.DataFrame([x for x in table[table["group"] == first_group].to_dict("records")
                             if target_view(ds0, x, windows) == spec])
        overlay_chart(items, figdir / spec.overlay_filename, title=title, ylabel=ylabel,
                      as_of=int(ds0.attrs["as_of"]), targets=rows)
        out.append(dict(file=f"figures/{spec.overlay_filename}", kind="overlay", title=title))
    return out


def _runs_markdown(runs: list[dict]) -> str:
    """One Markdown bullet per run: label, folder, as_of, draws."""
    return "\n".join(f"- **{T.md_text(r['label'])}**: {T.md_text(r['folder'])} (as of "
                     f"{T.md_text(_run_facts(r)['as_of'])}, {T.md_text(_run_facts(r)['draws'])} "
                     "draws)" for r in runs)


def _compare_html(folder: Path, table: pd.DataFrame, runs: list[dict], labels: dict,
                  fig_records: list[dict], multi: bool) -> str:
    """The text of compare.html (figures read from ``folder``)."""
    body = ["<h1>情景比较 · Scenario comparison</h1><ul>"
            + "".join(f"<li><b>{H.esc(r['label'])}</b>: {H.esc(str(r['folder']))} — as of "
                      f"{H.esc(_run_facts(r)['as_of'])}, {H.esc(_run_facts(r)['draws'])} draws</li>"
                      for r in runs)
            + "</ul>",
            f"<h2>达标概率 · P(met)</h2>{H.html_pmet_heat(table, labels, column='group')}"]
    if multi:
        body.append('<p class="muted">Between different runs the ΔP in compare.csv uses the unpaired '
                    "standard error (conservative: runs with the same seed share their draws).</p>")
    for f in fig_records:
        body.append(f"<figure>{H.img(folder / f['file'], f['title'])}<figcaption>{H.esc(f['title'])}"
                    "</figcaption></figure>")
    ne = table[table["status"] != "evaluated"]
    body.append("<h2>未能评估的目标 · Targets not evaluated</h2>" + H.html_not_evaluable(
        ne.assign(scenario=ne["group"]) if not ne.empty else ne))
    page_body = "".join(body)
    return H.html_page("情景比较 · Scenario comparison", page_body, H.font_face_css(page_body))
