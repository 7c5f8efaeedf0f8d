"""``sim report DIR``: rebuild the derived files of a results folder from its ``ensemble.nc``.

Nothing is simulated: the targets are re-evaluated on the stored ensemble (``targets.csv``,
``joint.csv``), then figures, the evaluation table and ``report.html`` are written again by
:func:`sim.output.report.write_outputs`. The new folder is built by the one writer
(:class:`~sim.output.folder.ResultsFolder`) next to the old one; every file the rebuild does not
write (``ensemble.nc``, ``fitted_model.json``, ``compare/`` …) is carried over as a hard link,
and the new folder replaces the old one in one rename, so a failure leaves the old files as
they were. ``manifest.json`` keeps the run's content, with the file list brought up to date and a
``rebuilt`` entry added.
"""

from __future__ import annotations

import time
from pathlib import Path

from sim import __version__
from sim.ensemble import read_netcdf
from sim.errors import SimError
from sim.evaluation import evaluate
from sim.history import History, load_history
from sim.output.folder import ResultsFolder, check_results_folder, read_manifest
from sim.output.report import resolved_scenarios, write_outputs
from sim.paths import REPO_DIR
from sim.scenario.spec import DEFAULT_QUANTILES
from sim.targets import targets_for_sets


def rebuild(folder: Path, *, data_dir=None, figures: bool | None = None) -> dict:
    """Re-evaluate from ``ensemble.nc`` and rewrite every derived file of ``folder``.

    Parameters
    ----------
    folder : a results folder written by ``sim run`` (holds ``ensemble.nc`` with draws).
    data_dir : history for the observed part of the fans; default the run's
        (``manifest.data_dir``), else the bundled one.
    figures : False keeps the existing ``figures/`` untouched; None follows ``[output]``.

    Returns
    -------
    dict
        ``{"files", "timings", "figures", "table", "joint", "folder"}``.
    """
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
    manifest = read_manifest(folder)
    t0 = time.perf_counter()
    catalogue = targets_for_sets(list(run.get("target_sets", [])))
    target_values = {name: dict(e.get("target_values") or {})
                     for name, e in (doc.get("scenarios") or {}).items()}
    history = _load_history(data_dir, manifest)
    quantiles = tuple((doc.get("output") or {}).get("quantiles", DEFAULT_QUANTILES))
    ev = evaluate(ds, catalogue, target_values, history=history, quantiles=quantiles)
    t_eval = time.perf_counter() - t0

    with ResultsFolder(folder, force=True, command=(manifest or {}).get("command", "run")) as new:
        new.csv("targets.csv", ev.table)
        new.csv("joint.csv", ev.joint)
        if (folder / "scenario.resolved.toml").exists():
            new.keep(folder / "scenario.resolved.toml")
        out = write_outputs(new, ds, ev.table, ev.joint, history=history, catalogue=catalogue,
                            manifest=manifest, figures=figures)
        written = {p.name for p in new.path.iterdir()}
        for p in sorted(folder.iterdir()):
            # figures/ is replaced by the new one, or dropped when [output] turns figures off;
            # only --no-figures (figures=False) keeps the old charts
            regenerated = p.name == "figures" and figures is not False
            if p.name not in written and p.name != "manifest.json" and not regenerated:
                new.keep(p)
        out["timings"]["evaluate_s"] = t_eval
        new.manifest.update({k: v for k, v in (manifest or {}).items() if k != "files"})
        new.manifest["rebuilt"] = {"command": "report", "sim_version": __version__,
                                   "timings": out["timings"]}
    out["table"], out["joint"], out["folder"] = ev.table, ev.joint, folder
    out["files"] = ["targets.csv", "joint.csv"] + out["files"]
    return out


def _load_history(data_dir=None, manifest: dict | None = None) -> History | None:
    """The history the run used (``manifest.data_dir``), or the bundled one; None if unreadable."""
    candidates: list[Path | None] = []
    if data_dir:
        candidates.append(Path(data_dir))
    elif manifest and manifest.get("data_dir"):
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
        except SimError:
            if data_dir:
                raise
    return None
