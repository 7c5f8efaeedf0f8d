"""``sim report DIR``: rebuild the derived files of a results folder from its ``ensemble.nc``.

Nothing is simulated. A run's ``targets.csv`` and ``joint.csv`` with the plan-record columns
are kept as they are (their combined probabilities used record draws that ``ensemble.nc`` does
not store); older folders are re-evaluated on the stored ensemble. Then figures, the
evaluation table and ``report.html`` are written again by
:func:`sim.output.report.write_outputs`. The new folder is built by the one writer
(:class:`~sim.output.folder.ResultsFolder`) next to the old one; every file the rebuild does not
write (``ensemble.nc``, ``fitted_model.json``, ``compare/`` …) is carried over as a hard link,
and the new folder replaces the old one in one rename, so a failure leaves the old files as
they were. ``manifest.json`` keeps the run's content, with the file list brought up to date and a
``rebuilt`` entry added.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pandas as pd

from sim.version import __version__
from sim.ensemble import read_netcdf
from sim.errors import SimError
from sim.evaluation import evaluate
from sim.evaluation.information import add_information
from sim.history import History, load_history
from sim.model import FittedModel
from sim.output.folder import (ResultsFolder, check_free_space, check_results_folder,
                               check_writable, read_manifest)
from sim.output.lock import OutputLock
from sim.output.owned import MARKER, TRANSIENT_MARKER
from sim.output.report import resolved_scenarios, write_outputs
from sim.output.targets_check import check_targets_table
from sim.paths import REPO_DIR
from sim.scenario.spec import DEFAULT_QUANTILES
from sim.targets import targets_for_sets


def rebuild(folder: Path, *, data_dir=None, figures: bool | None = None,
            wait: bool = False) -> dict:
    """Re-evaluate from ``ensemble.nc`` and rewrite every derived file of ``folder``.

    Parameters
    ----------
    folder : a results folder written by ``sim run`` (holds ``ensemble.nc`` with draws) and
        owned by sim (:func:`sim.output.owned.owner`: its ``.sim-results`` marker, or a
        ``manifest.json`` naming ``sim_version``); any other folder is refused untouched.
    data_dir : history for the observed part of the fans; default the run's
        (``manifest.data_dir``), else the bundled one.
    figures : False keeps the existing ``figures/`` untouched; None follows ``[output]``.
    wait : wait for another process writing ``folder`` instead of failing at once.

    Returns
    -------
    dict
        ``{"files", "timings", "figures", "table", "joint", "folder"}``.
    """
    folder = check_results_folder(folder)
    check_writable(folder, True, inputs=(data_dir,),   # sim's own folder, not a refused path
                   hint="`sim report` rewrites only results folders sim wrote")
    with OutputLock(folder, wait=wait):   # no other process rewrites it while we read it
        return _rebuild(folder, data_dir, figures)


def _run_tables(folder: Path, evaluated: pd.DataFrame
                ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The run's own ``targets.csv`` and ``joint.csv`` when they hold the plan-record columns
    (``method``): their combined probabilities used record draws that ``ensemble.nc`` does not
    store, so re-evaluating the ensemble alone would silently give trend-only numbers. Older
    folders (no ``method`` column) return ``(None, None)`` and are re-evaluated. A kept table is
    checked against the rows the ensemble's evaluation ``evaluated`` has
    (:func:`~sim.output.targets_check.check_targets_table`): a damaged one is an error."""
    try:
        table = pd.read_csv(folder / "targets.csv")
        joint = pd.read_csv(folder / "joint.csv")
    except (OSError, ValueError, UnicodeDecodeError):
        return None, None
    if "method" not in table.columns or "target_id" not in table.columns:
        return None, None
    if "record_weight" in table.columns and "trend_weight" not in table.columns:
        # runs before the rename: that column held the trend's weight w (z = w·trend + (1−w)·record)
        table = table.rename(columns={"record_weight": "trend_weight"})
    check_targets_table(table, folder / "targets.csv",
                        expected=zip(evaluated["scenario"].astype(str),
                                     evaluated["target_id"].astype(str)))
    return table, joint


def _rebuild(folder: Path, data_dir, figures: bool | None) -> dict:
    """:func:`rebuild` with the folder locked."""
    ds = read_netcdf(folder / "ensemble.nc")
    if not ds.sizes.get("draw") or not ds.sizes.get("scenario") or not ds.sizes.get("year"):
        raise SimError(f"{folder / 'ensemble.nc'}: empty ensemble ({ds.sizes.get('scenario', 0)} "
                       f"scenarios, {ds.sizes.get('draw', 0)} draws, {ds.sizes.get('year', 0)} "
                       "years): nothing to evaluate")
    if ds.attrs.get("summaries_only"):
        raise SimError(f"{folder}: ensemble.nc holds summaries only (run without --summaries-only "
                       "to rebuild probabilities)")
    if "as_of" not in ds.attrs:
        raise SimError(f"{folder / 'ensemble.nc'}: no as_of attribute (not written by sim run)")
    doc = resolved_scenarios(ds, folder)
    if not doc:
        raise SimError(f"{folder}: no resolved scenario (scenario.resolved.toml or the ensemble's "
                       "scenario_resolved attribute) to know the target sets")
    target_sets, target_values, quantiles = _resolved_facts(doc, _resolved_name(ds, folder))
    manifest = read_manifest(folder)
    t0 = time.perf_counter()
    history = _load_history(data_dir, manifest)
    catalogue = targets_for_sets(target_sets, declarations=history.declarations
                                 if history is not None else None)
    # always evaluated: it checks the stored draws (non-finite draws are an error)
    ev = evaluate(ds, catalogue, target_values, history=history, quantiles=quantiles)
    table, joint = _run_tables(folder, ev.table)
    if table is None or joint is None:
        table, joint = ev.table, ev.joint
        table = _with_information(table, folder / "fitted_model.json")
    t_eval = time.perf_counter() - t0

    check_free_space(folder.parent, _rewritten_bytes(folder), "the rebuilt files",
                     "free some space first")
    command = (manifest or {}).get("command", "run")
    with ResultsFolder(folder, force=True,
                       command=command if isinstance(command, str) else "run") as new:
        new.csv("targets.csv", table)
        new.csv("joint.csv", joint)
        for name in ("scenario.resolved.toml", "value_curves.csv"):   # the run's, read below
            if (folder / name).exists():
                new.keep(folder / name)
        out = write_outputs(new, ds, table, joint, history=history, catalogue=catalogue,
                            manifest=manifest, figures=figures)
        written = {p.name for p in new.path.iterdir()}
        for p in sorted(folder.iterdir()):
            # figures/ is replaced by the new one, or dropped when [output] turns figures off;
            # only --no-figures (figures=False) keeps the old charts
            regenerated = p.name == "figures" and figures is not False
            transient = p.name == TRANSIENT_MARKER or p.name.startswith(".") and (
                p.name.endswith(".lock") or ".partial-" in p.name or ".old-" in p.name)
            if p.name not in written and p.name not in ("manifest.json", MARKER) \
                    and not regenerated and not transient:   # another writer's lock/temp
                new.keep(p)
        out["timings"]["evaluate_s"] = t_eval
        new.manifest.update({k: v for k, v in (manifest or {}).items() if k != "files"})
        new.manifest["rebuilt"] = {"command": "report", "sim_version": __version__,
                                   "timings": out["timings"]}
    out["table"], out["joint"], out["folder"] = table, joint, folder
    out["files"] = ["targets.csv", "joint.csv"] + out["files"]
    return out


def _rewritten_bytes(folder: Path) -> int:
    """About what a rebuild writes anew: the folder's files but the ensemble and the fitted
    model, which are carried over as hard links."""
    total = 0
    for p in folder.rglob("*"):
        try:
            if p.is_file() and p.name not in ("ensemble.nc", "fitted_model.json"):
                total += p.stat().st_size
        except OSError:
            continue
    return total


def _with_information(table: pd.DataFrame, fitted_path: Path) -> pd.DataFrame:
    """The information columns of a re-evaluated table, from the run's fitted model; without a
    readable ``fitted_model.json`` (a folder from before it, or damaged) the columns stay out
    and the tables say nothing about information rather than something wrong."""
    try:
        fitted = FittedModel.load(fitted_path)
    except (OSError, SimError):
        return table
    return add_information(table, fitted)


def _resolved_name(ds, folder: Path) -> str:
    """Where the resolved scenario was read from (for messages)."""
    if (folder / "scenario.resolved.toml").exists():
        return str(folder / "scenario.resolved.toml")
    return f"{folder / 'ensemble.nc'} (attribute scenario_resolved)"


def _resolved_facts(doc: dict, where: str
                    ) -> tuple[list[str], dict[str, dict[str, float]], tuple[float, ...]]:
    """Target sets, target values and quantiles of a resolved scenario, checked: a hand-edited
    ``scenario.resolved.toml`` gives a clear error, not a traceback or a silent blank."""
    run = doc.get("run") or {}
    if not isinstance(run, dict):
        raise SimError(f"{where}: run: expected a table, got {type(run).__name__}")
    sets = run.get("target_sets", [])
    if not isinstance(sets, list) or not all(isinstance(x, str) for x in sets):
        raise SimError(f"{where}: run.target_sets: expected a list of target-set names, got "
                       f"{sets!r}"[:300])
    scenarios = doc.get("scenarios") or {}
    if not isinstance(scenarios, dict):
        raise SimError(f"{where}: scenarios: expected a table, got {type(scenarios).__name__}")
    values: dict[str, dict[str, float]] = {}
    for name, entry in scenarios.items():
        tv = (entry.get("target_values") if isinstance(entry, dict) else None) or {}
        if not isinstance(tv, dict):
            raise SimError(f"{where}: scenarios.{name}.target_values: expected a table")
        for tid, v in tv.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise SimError(f"{where}: scenarios.{name}.target_values.{tid}: expected a finite "
                               f"number, got {v!r}"[:300])
        values[str(name)] = {str(k): float(v) for k, v in tv.items()}
    output = doc.get("output") or {}
    q = output.get("quantiles", DEFAULT_QUANTILES) if isinstance(output, dict) \
        else DEFAULT_QUANTILES
    if not isinstance(q, list | tuple) or not q or not all(
            isinstance(x, int | float) and not isinstance(x, bool) and 0 < x < 1 for x in q):
        raise SimError(f"{where}: output.quantiles: expected numbers in (0, 1), got {q!r}"[:300])
    return list(sets), values, tuple(float(x) for x in q)


def _load_history(data_dir=None, manifest: dict | None = None) -> History | None:
    """The history the run used (``manifest.data_dir``), or the bundled one; None if unreadable."""
    candidates: list[Path | None] = []
    if data_dir:
        candidates.append(Path(data_dir))
    elif manifest and isinstance(manifest.get("data_dir"), str) and manifest["data_dir"]:
        p = Path(manifest["data_dir"])
        candidates.append(p)
        if not p.is_absolute():
            candidates.append(REPO_DIR / p)
    candidates.append(None)
    for c in candidates:
        if c is not None and not c.is_dir():
            continue
        try:
            return load_history(c)
        except (SimError, OSError):
            if data_dir:
                raise
    return None
