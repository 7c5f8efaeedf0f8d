"""``sim compare DIR...``: scenarios and runs side by side, where their targets are shared.

:func:`compare_runs` reads the ``targets.csv`` (and, for the charts and paired errors,
``ensemble.nc``) of one or more results folders and writes, through the one writer
(:class:`~sim.output.folder.ResultsFolder`), its own folder (default
``results/compare_<folder names>``) with ``compare.csv`` (P(met), Wilson interval and ΔP with
its standard error per target and run/scenario; for spreadsheets: :mod:`sim.output.safe_text`),
``compare.md``, a self-contained ``compare.html``, ``figures/`` (dot-and-whisker, heat map,
overlaid fans of every shared target view with the observed history) and ``manifest.json``.
:func:`print_compare` prints one P(met) table and the largest differences.

A run is labelled by what made it: ``<scenario file> · as of <year> · seed <seed>`` (from its
``manifest.json``, else its resolved scenario). ΔP compares each (run, scenario) with a
reference: within the first run a scenario with its baseline (the run's own paired ΔP), a later
run's scenario with the same scenario of the first run (else its baseline). Between runs with
the same seed and draw count the draws are paired (draw *i* has the same random numbers), and
where both probabilities are the trend's alone (method "trend only") the error is the paired
one, ``sd(met_b,i − met_a,i)/√n`` over the re-evaluated draws; otherwise the conservative
unpaired ``√(se_a² + se_b²)``. Column ``delta_se_kind`` says which.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sim.ensemble import read_netcdf
from sim.errors import SimError
from sim.evaluation import evaluate, evidence as E
from sim.history import load_history
from sim.output import html as H
from sim.output import tables as T
from sim.output.fans import (FAN_QUANTILES, fan_quantiles, history_points, overlay_chart,
                             target_view, view_title, view_values)
from sim.output.folder import ResultsFolder, check_results_folder, read_manifest
from sim.output.owned import safe_name
from sim.output.plots import pmet_chart, pmet_heatmap
from sim.output.report import resolved_scenarios, scenario_labels, target_windows
from sim.output.safe_text import SPREADSHEET_CSV, spreadsheet_frame
from sim.output.summary import display_width, pad
from sim.output.targets_check import check_targets_table
from sim.paths import DEFAULT_RESULTS_DIR
from sim.targets import targets_for_sets

#: columns of compare.csv taken from each run's targets.csv (when present)
COLUMNS = ("run", "scenario", "group", "target_id", "target_set", "indicator_zh", "indicator",
           "target_year", "comparator", "value", "unit", "status", "reason", "method",
           "probability", "mc_se", "ci_low", "ci_high", "likelihood", "median", "p10", "p90")
#: longest ``<folder names>`` part of the default output folder (longer: cut, plus a hash)
MAX_NAME = 60


def default_out(folders: list[Path]) -> Path:
    """``results/compare_<name1>_<name2>…`` (the folder names; cut with a hash when long)."""
    names = "_".join(safe_name(Path(f).resolve().name) for f in folders)
    if len(names) > MAX_NAME:
        names = names[:MAX_NAME - 9] + "_" + hashlib.sha1(names.encode()).hexdigest()[:8]
    return DEFAULT_RESULTS_DIR / f"compare_{names}"


def compare_runs(folders: list[Path], out: Path | None = None, *, figures: bool = True,
                 wait: bool = False) -> dict:
    """Set results folders side by side: P(met) per target and (run, scenario), where targets are shared.

    Writes into ``out`` (default :func:`default_out`): ``compare.csv``, ``compare.md``,
    ``compare.html`` (self-contained), figures (dot-and-whisker, heat map, overlaid fans of
    every shared target view) and ``manifest.json``. An existing ``out`` is replaced only when
    it is empty or was written by ``sim compare`` (:mod:`sim.output.owned`); anything else is
    refused untouched. ``wait``: wait for another process writing ``out``.

    Returns
    -------
    dict
        ``{"table" (compare.csv), "wide" (targets × groups of P(met)), "files", "timings",
        "folder", "labels" ({group: label_zh}), "runs" ([{label, folder, facts}])}``.
    """
    if not folders:
        raise SimError("compare needs at least one results folder")
    t_all = time.perf_counter()
    folders = [check_results_folder(f) for f in folders]
    out = Path(out) if out else default_out(folders)
    folder = ResultsFolder(out, force=True, command="compare", wait=wait, inputs=folders,
                           replaces="compare")   # refused before reading anything
    with folder.lock:
        return _compare_into(folder, folders, figures, t_all)


def _compare_into(folder: ResultsFolder, folders: list[Path], figures: bool,
                  t_all: float) -> dict:
    """:func:`compare_runs` with the output folder locked."""
    out = folder.out
    runs = _read_runs(folders, figures=figures)
    multi = len(runs) > 1
    table, groups, labels = _shared_table(runs, multi)

    ev = table[table["status"] == "evaluated"]
    order = list(dict.fromkeys(table["target_id"]))
    wide = ev.pivot_table(index="target_id", columns="group", values="probability", sort=False)
    wide = wide.reindex(index=[t for t in order if t in set(ev["target_id"])], columns=groups)
    cmp_tab = _delta_table(table, runs)

    timings: dict[str, float] = {}
    with folder:
        files = [folder.csv("compare.csv", spreadsheet_frame(cmp_tab), **SPREADSHEET_CSV).name]
        t0 = time.perf_counter()
        fig_records = []
        if figures:
            fig_records = _write_figures(folder.file("figures"), table, runs, labels, multi)
            files += [f["file"] for f in fig_records]
        timings["figures_s"] = time.perf_counter() - t0
        first = table.drop_duplicates("target_id").set_index("target_id")
        head = ["指标 Indicator", "目标 Target"] + [f"{labels.get(g, '')} {g}".strip() for g in groups]
        md = (f"# 情景比较 · Scenario comparison\n\n{_runs_markdown(runs)}\n\n{len(order)} shared "
              f"targets, {len(wide)} evaluated in at least one run.\n\n"
              + T.md_table(head, T.pmet_rows(wide, first)) + "\n\n## ΔP\n\n" + DELTA_NOTE
              + "\n\n" + _delta_markdown(cmp_tab) + "\n")
        files.append(folder.text("compare.md", md).name)
        page = _compare_html(folder.path, table, cmp_tab, runs, labels, fig_records)
        files.append(folder.text("compare.html", page).name)
        timings["total_s"] = time.perf_counter() - t_all
        folder.manifest.update(
            runs=[{"label": r["label"], "folder": str(r["folder"]), **r["facts"]} for r in runs],
            shared_targets=len(order), timings=timings)
    return {"table": cmp_tab, "wide": wide, "files": files, "timings": timings, "folder": out,
            "labels": labels, "runs": [{"code": r["code"], "label": r["label"],
                                        "folder": r["folder"], **r["facts"]} for r in runs]}


def print_compare(result: dict, *, top: int = 15, width: int | None = None) -> None:
    """On the terminal: the runs, one P(met) table (targets × run/scenario, numbered columns
    with a legend, in blocks of columns that fit ``width``, default the terminal's), and the
    ``top`` largest non-zero ΔP with their standard errors."""
    for r in result["runs"]:
        print(f"{r['code']}: {r['label']}  ({r['folder']}, {r['draws']} draws)")
    wide = result["wide"]
    groups = list(wide.columns) if not wide.empty else list(dict.fromkeys(result["table"]["group"]))
    code = {g: f"C{k}" for k, g in enumerate(groups, 1)}
    print(f"\nP(target met) in {len(wide)} shared targets; columns:")
    for g in groups:
        print(f"  {code[g]:>4}  {g}")
    if wide.empty:
        print("no shared target was evaluated in any run")
    else:
        idw = min(48, max(len(str(i)) for i in wide.index))
        per = max(1, ((width or shutil.get_terminal_size((100, 24)).columns) - idw) // 8)
        for first in range(0, len(groups), per):   # blocks of columns that fit the terminal
            cols = groups[first:first + per]
            head = pad("target", idw) + "".join("  " + pad(code[g], 6, right=True) for g in cols)
            print(("\n" if first else "") + head)
            print("-" * display_width(head))
            for tid, r in wide[cols].iterrows():
                print(pad(str(tid), idw) + "".join(
                    "  " + pad(f"{v:.3f}" if np.isfinite(v) else "–", 6, right=True)
                    for v in r.values))
    d = result["table"].dropna(subset=["delta_p"])
    d = d[d["delta_p"] != 0]
    if not d.empty:
        d = d.reindex(d["delta_p"].abs().sort_values(ascending=False, kind="stable").index)
        same = d.groupby(["target_id", "delta_p", "delta_se"], sort=False)["group"].transform("size")
        d = d.assign(same=same).drop_duplicates(["target_id", "delta_p", "delta_se"])
        print(f"\nLargest differences ΔP = P − P(reference) (top {min(top, len(d))} of {len(d)} "
              "distinct non-zero; every row in compare.csv):")
        for r in d.head(top).to_dict("records"):
            pair = f"{code.get(r['group'], r['group'])} − {code.get(r['reference'], r['reference'])}"
            also = f", same in {r['same'] - 1} more column{'s' if r['same'] > 2 else ''}" \
                if r["same"] > 1 else ""
            print(f"  {pad(str(r['target_id']), 44)}  {pair:>9}  {r['delta_p']:+.3f} ± "
                  f"{r['delta_se']:.3f} ({r['delta_se_kind']}{also})")
    print(f"\nWritten: {result['folder']} ({', '.join(result['files'][:4])}"
          f"{', …' if len(result['files']) > 4 else ''})")


# --------------------------------------------------------------------------------------------
# reading the runs


def _read_runs(folders: list[Path], *, figures: bool) -> list[dict]:
    """One record per folder: ``folder``, ``label`` (unique), ``facts``, ``table``, ``ds`` (the
    ensemble when figures are drawn or the run can be paired with the first), ``doc``."""
    runs: list[dict] = []
    taken: set[str] = set()
    for f in folders:
        doc = resolved_scenarios(None, f)
        facts = _run_facts(f, doc)
        runs.append(dict(folder=f, facts=facts, table=read_targets(f / "targets.csv"), doc=doc,
                         label=_run_label(f.resolve(), facts, taken)))
    for k, r in enumerate(runs, 1):
        r["code"] = f"R{k}"
        paired = len(runs) > 1 and _same_draws(runs[0], r)
        r["ds"] = read_netcdf(r["folder"] / "ensemble.nc") if figures else \
            _ensemble_for_pairing(r["folder"]) if paired else None
        if r["ds"] is not None and "scenario_resolved" in r["ds"].attrs and not r["doc"]:
            r["doc"] = resolved_scenarios(r["ds"])
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
    missing_p = table.index[(table["status"] == "evaluated") & table["probability"].isna()]
    if len(missing_p):
        i = missing_p[0]
        raise SimError(f"{path}: line {int(i) + 2}: probability of {table['target_id'][i]} "
                       f"({table['scenario'][i]}): expected a number in [0, 1] on an evaluated row")
    check_targets_table(table, path)
    return table


def _ensemble_for_pairing(folder: Path):
    """The run's ensemble for paired errors only, or None when it cannot be read (the
    comparison then uses unpaired errors instead of failing: without figures nothing else
    needs it)."""
    try:
        return read_netcdf(folder / "ensemble.nc")
    except (SimError, OSError, ValueError):
        return None


def _run_facts(folder: Path, doc: dict) -> dict:
    """``scenario_file``, ``as_of``, ``seed``, ``draws`` of a run: from its manifest.json, else
    its resolved scenario ('?' when neither says)."""
    manifest = read_manifest(folder) or {}
    found = doc.get("run")
    run: dict = found if isinstance(found, dict) else {}
    out: dict = {}
    for key in ("as_of", "seed", "draws"):
        v = manifest.get(key, run.get(key))
        out[key] = v if isinstance(v, int) and not isinstance(v, bool) else "?"
    file = manifest.get("scenario_file")
    out["scenario_file"] = Path(file).name if isinstance(file, str) and file else "?"
    return out


def _run_label(folder: Path, facts: dict, taken: set[str]) -> str:
    """``baseline_2020.toml · as of 2018 · seed 20160315`` (the folder name added when two runs
    would read the same)."""
    file = facts["scenario_file"] if facts["scenario_file"] != "?" else (folder.name or str(folder))
    label = f"{file} · as of {facts['as_of']} · seed {facts['seed']}"
    if label in taken:
        label = f"{label} · {folder.name or folder}"
    base, k = label, 2
    while label in taken:
        label, k = f"{base} #{k}", k + 1
    taken.add(label)
    return label


def _same_draws(a: dict, b: dict) -> bool:
    """Runs whose draw *i* uses the same random numbers: same seed, same number of draws."""
    fa, fb = a["facts"], b["facts"]
    return "?" not in (fa["seed"], fa["draws"]) and (fa["seed"], fa["draws"]) == (fb["seed"],
                                                                                   fb["draws"])


def _group(run: dict, scenario: str, multi: bool) -> str:
    """The column of a (run, scenario) pair: ``R1 · scenario`` (the run's code, listed with its
    label on every page), or the scenario alone for one run."""
    return f"{run['code']} · {scenario}" if multi else scenario


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


DELTA_NOTE = ("ΔP = P(met) − P(met) of the reference: within the first run a scenario's "
              "baseline (the run's paired error), in a later run the first run's same scenario "
              "(else its baseline). Errors are paired where the runs share seed and draws and "
              "both probabilities are the trend's alone, else unpaired √(se₁² + se₂²) "
              "(conservative).")


def _met_flags(run: dict) -> dict | None:
    """Every draw's met flag of the trend, ``{(scenario, target_id): (draws,) bool}``, from the
    run's ensemble re-evaluated; None when it holds no draws or its scenario is unreadable."""
    ds, doc = run.get("ds"), run["doc"]
    if ds is None or "draw" not in ds.dims or ds.sizes["draw"] != run["facts"]["draws"]:
        return None
    try:
        sets = [str(x) for x in doc["run"]["target_sets"]]
        values = {str(n): {str(k): float(v) for k, v in (e.get("target_values") or {}).items()}
                  for n, e in doc["scenarios"].items()}
        history = _history(run)   # the run's own targets (a data directory may declare some)
        declared = history.declarations if history is not None else None
        return evaluate(ds, targets_for_sets(sets, declarations=declared), values).met
    except (KeyError, TypeError, ValueError, AttributeError, SimError):
        return None


def _reference(run: int, scenario: str, present: set[tuple[int, str]]) -> tuple[int, str] | None:
    """The (run, scenario) a row is compared with (None for the first run's baseline)."""
    if run == 0:
        return None if scenario == "baseline" else (0, "baseline")
    if (0, scenario) in present:
        return 0, scenario
    return (0, "baseline") if (0, "baseline") in present else None


def _delta_table(table: pd.DataFrame, runs: list[dict]) -> pd.DataFrame:
    """compare.csv: the shared rows with ``reference``, ``delta_p``, ``delta_se`` and
    ``delta_se_kind`` (paired / unpaired)."""
    cmp_tab = table[[c for c in COLUMNS if c in table.columns]].copy()
    cmp_tab = cmp_tab.assign(basis=cmp_tab["method"].map(E.basis)) if "method" in cmp_tab else cmp_tab
    index = {r["label"]: k for k, r in enumerate(runs)}
    ev = table[table["status"] == "evaluated"]
    rows = {(index[r["run"]], str(r["scenario"]), r["target_id"]): r
            for r in ev.to_dict("records")}
    present = {(k, s) for k, s, _ in rows}
    flags = {k: _met_flags(r) for k, r in enumerate(runs) if k == 0 or _same_draws(runs[0], r)}
    group = {(index[r["run"]], str(r["scenario"])): r["group"] for r in table.to_dict("records")}
    out: list[tuple] = []
    for r in cmp_tab.to_dict("records"):
        k, s, tid = index[r["run"]], str(r["scenario"]), r["target_id"]
        ref = _reference(k, s, present)
        b = rows.get((ref[0], ref[1], tid)) if ref else None
        if r["status"] != "evaluated" or b is None or ref is None:
            out.append(("" if ref is None else group[ref], math.nan, math.nan, ""))
            continue
        a = rows[(k, s, tid)]
        se, kind = _delta_se(a, b, k, ref, flags, s, tid)
        out.append((group[ref], a["probability"] - b["probability"], se, kind))
    cmp_tab["reference"], cmp_tab["delta_p"], cmp_tab["delta_se"], cmp_tab["delta_se_kind"] = \
        zip(*out) if out else ((), (), (), ())
    return cmp_tab


def _delta_se(a: dict, b: dict, k: int, ref: tuple[int, str], flags: dict, s: str,
              tid: str) -> tuple[float, str]:
    """Standard error of ``P(a) − P(b)`` and whether it is paired."""
    if k == 0 and "delta_se" in a and np.isfinite(_num(a.get("delta_se"))):
        return _num(a["delta_se"]), "paired"          # the run's own ΔP vs its baseline
    fa, fb = flags.get(k), flags.get(ref[0])
    trend = all(str(x.get("method", "trend only")) == "trend only" for x in (a, b))
    if trend and fa is not None and fb is not None and (s, tid) in fa and (ref[1], tid) in fb:
        d = fa[(s, tid)].astype(float) - fb[(ref[1], tid)].astype(float)
        if len(d) > 1:
            return float(d.std(ddof=1) / math.sqrt(len(d))), "paired"
    return math.sqrt(_num(a["mc_se"]) ** 2 + _num(b["mc_se"]) ** 2), "unpaired"


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _history(run: dict):
    """The history the run used (its manifest's data_dir, else the bundled data), or None."""
    data_dir = (read_manifest(run["folder"]) or {}).get("data_dir")
    for d in ((data_dir, None) if isinstance(data_dir, str) else (None,)):
        try:
            return load_history(d)
        except (SimError, OSError):
            continue
    return None


def _overlay_items(runs: list[dict], spec, labels: dict, multi: bool) -> list[tuple]:
    """``(label, years, quantiles)`` of every (run, scenario) on one view, labelled ``R1 ·
    scenario`` when there are several runs (the page lists what R1 is); a fan equal to one
    already listed is not drawn again but named in its label (``a = b``)."""
    items: list[list] = []
    for r in runs:
        years, values = view_values(r["ds"], spec)
        q = fan_quantiles(values, FAN_QUANTILES)
        for k, s in enumerate(str(x) for x in r["ds"]["scenario"].values):
            g = _group(r, s, multi)
            name = g if multi else f"{labels.get(g, '')} {s}".strip()
            same = next((it for it in items if len(it[1]) == len(years)
                         and np.array_equal(it[1], years) and np.allclose(it[2], q[:, k],
                                                                           equal_nan=True)), None)
            if same is not None:
                same[0] += f" = {s}"
            else:
                items.append([name, years, q[:, k]])
    return [tuple(it) for it in items]


def _write_figures(figdir: Path, table: pd.DataFrame, runs: list[dict], labels: dict,
                   multi: bool) -> list[dict]:
    """P(met) dots and heat map over every group, and one overlay per shared target view (with
    the history known to the latest run)."""
    figdir.mkdir(parents=True, exist_ok=True)
    out = []
    if pmet_chart(table, figdir / "pmet_by_scenario.png", column="group", labels=labels,
                  title="各运行与情景的达标概率 · P(target met) by run and scenario"):
        out.append(dict(file="figures/pmet_by_scenario.png", kind="pmet",
                        title="P(met) by run and scenario"))
    if pmet_heatmap(table, figdir / "pmet_heatmap.png", column="group", labels=labels):
        out.append(dict(file="figures/pmet_heatmap.png", kind="heatmap", title="P(met) heat map"))
    ds0 = runs[0]["ds"]
    latest = max(runs, key=lambda r: int(r["ds"].attrs["as_of"]))
    as_of = int(latest["ds"].attrs["as_of"])
    history = _history(latest)
    windows = target_windows(history.catalogue() if history is not None else None)
    first_group = _group(runs[0], str(ds0["scenario"].values[0]), multi)
    seen = []
    for row in table.drop_duplicates("target_id").to_dict("records"):
        specs = [target_view(r["ds"], row, windows) for r in runs]
        spec = specs[0]
        if spec is None or any(s is None for s in specs) or spec in seen:
            continue
        seen.append(spec)
        title, ylabel = view_title(ds0, spec)
        rows = pd.DataFrame([x for x in table[table["group"] == first_group].to_dict("records")
                             if target_view(ds0, x, windows) == spec])
        hist = None
        if history is not None:
            hist = history.upto(as_of).select(spec.series, str(ds0.attrs.get("vintage",
                                                                              "revised")))
        relative = bool(ds0[spec.series].attrs.get("relative_to_as_of", 0))
        overlay_chart(_overlay_items(runs, spec, labels, multi), figdir / spec.overlay_filename,
                      title=title, ylabel=ylabel, as_of=as_of, targets=rows,
                      history=history_points(hist, spec, as_of, relative))
        out.append(dict(file=f"figures/{spec.overlay_filename}", kind="overlay", title=title))
    return out


def _runs_markdown(runs: list[dict]) -> str:
    """One Markdown bullet per run: label, folder, draws."""
    return "\n".join(f"- {r['code']}: **{T.md_text(r['label'])}**: {T.md_text(r['folder'])} "
                     f"({T.md_text(r['facts']['draws'])} draws)" for r in runs)


def _top_deltas(cmp_tab: pd.DataFrame, n: int = 30) -> pd.DataFrame:
    """The ``n`` rows with the largest |ΔP|."""
    d = cmp_tab.dropna(subset=["delta_p"])
    return d.reindex(d["delta_p"].abs().sort_values(ascending=False, kind="stable").index).head(n)


def _delta_rows(cmp_tab: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    head = ["指标 Indicator", "目标 id", "运行·情景 Run · scenario", "参照 Reference", "ΔP",
            "SE", "配对 Paired", "依据 Basis"]
    rows = [[str(r.get("indicator", "")), str(r["target_id"]), str(r["group"]),
             str(r["reference"]), f"{100 * r['delta_p']:+.1f} pp",
             f"{100 * r['delta_se']:.1f} pp", str(r["delta_se_kind"]), E.basis(r.get("method"))]
            for r in _top_deltas(cmp_tab).to_dict("records")]
    return head, rows


def _delta_markdown(cmp_tab: pd.DataFrame) -> str:
    head, rows = _delta_rows(cmp_tab)
    if not rows:
        return "No difference to show (one scenario in one run)."
    return "Largest 30 by |ΔP| (every row in compare.csv):\n\n" + T.md_table(head, rows)


def _compare_html(folder: Path, table: pd.DataFrame, cmp_tab: pd.DataFrame, runs: list[dict],
                  labels: dict, fig_records: list[dict]) -> str:
    """The text of compare.html (figures read from ``folder``)."""
    head, rows = _delta_rows(cmp_tab)
    body = ["<h1>情景比较 · Scenario comparison</h1><ul>"
            + "".join(f"<li>{r['code']}: <b>{H.esc(r['label'])}</b>: {H.esc(str(r['folder']))} — "
                      f"{H.esc(r['facts']['draws'])} draws</li>" for r in runs)
            + "</ul>",
            f"<h2>达标概率 · P(met)</h2>{H.html_pmet_heat(table, labels, column='group')}",
            f"<h2>差异 · ΔP (largest 30)</h2><p class=\"muted\">{H.esc(DELTA_NOTE)}</p>"
            + (H.html_table(head, rows) if rows else "<p>No difference to show.</p>")]
    for f in fig_records:
        body.append(f"<figure>{H.img(folder / f['file'], f['title'])}<figcaption>{H.esc(f['title'])}"
                    "</figcaption></figure>")
    ne = table[table["status"] != "evaluated"]
    body.append("<h2>未能评估的目标 · Targets not evaluated</h2>" + H.html_not_evaluable(
        ne.assign(scenario=ne["group"]) if not ne.empty else ne))
    page_body = "".join(body)
    return H.html_page("情景比较 · Scenario comparison", page_body, H.font_face_css(page_body))
