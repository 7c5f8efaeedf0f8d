"""The figures of a results folder: fan charts, scenario overlays, the P(met) chart and heat map.

:func:`write_figures` draws every figure of a run into ``folder/figures`` and returns one record
per file; :mod:`sim.output.report` embeds them in ``report.html``. This process prepares each
figure as a plain-data job (the fan quantiles, every label) and
:func:`sim.output.figure_pool.draw_jobs` draws them, in worker processes when there is more
than one CPU. Figures that would show nothing new are not drawn: a fan whose scenarios are all
identical is one panel, an overlay only exists when scenarios differ.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from sim.output.drawing import Job
from sim.output.fans import (FanSpec, fan_job, fan_quantiles, fan_specs, overlay_job, same_key,
                             scenario_groups, target_views, view_values)
from sim.output.figure_pool import draw_jobs
from sim.output.plots import heatmap_job, pmet_job

#: draw in worker processes only from this many figures (at most): a worker starts in ~1-2 s
POOL_FROM = 16


def write_figures(folder: Path, ds, table: pd.DataFrame, *, history=None, scenario_labels=None,
                  windows=None, vintage: str | None = None, workers: int | None = None) -> list[dict]:
    """Every figure of a results folder into ``folder/figures``; returns one record per file.

    Record: ``{"file", "kind" (fan|overlay|pmet|heatmap), "series", "view", "title",
    "scenario_groups"}`` — ``scenario_groups``: the scenarios drawn as one (identical draws),
    per panel of a fan or line of an overlay (``[]`` for the P(met) charts).
    ``history`` is a :class:`sim.history.History` (already cut at as_of) or None; ``workers``:
    drawing processes (default :func:`sim.output.figure_pool.figure_workers`, or 1 = here for
    fewer than :data:`POOL_FROM` figures).
    """
    figdir = Path(folder) / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    vintage = vintage or ds.attrs.get("vintage", "revised")
    records: list[dict] = []
    specs = fan_specs(ds, table, windows)
    if workers is None and 2 * len(specs) + 2 < POOL_FROM:   # starting workers costs more
        workers = 1
    jobs = _jobs(figdir, ds, table, specs, history, scenario_labels or {}, windows, vintage, records)
    draw_jobs(jobs, workers)
    records.sort(key=lambda r: r["kind"] in ("pmet", "heatmap"))   # the indicators first
    return records


def _jobs(figdir: Path, ds, table: pd.DataFrame, specs: list[FanSpec], history, labels: dict, windows,
          vintage: str, records: list[dict]) -> Iterator[Job]:
    """The figure jobs, biggest first (the P(met) charts), appending each one's record."""
    for name, make, kind, title in (("pmet_by_scenario.png", pmet_job, "pmet", "P(met) by scenario"),
                                    ("pmet_heatmap.png", heatmap_job, "heatmap", "P(met) heat map")):
        job = make(table, figdir / name, labels=labels)
        if job is not None:
            records.append(dict(file=f"figures/{name}", kind=kind, series="", view="", title=title,
                                scenario_groups=[]))
            yield job
    as_of = int(ds.attrs["as_of"])
    scenarios = [str(s) for s in ds["scenario"].values]
    views = target_views(table, ds, windows)
    rows_of: dict[FanSpec, list[dict]] = {}
    for r in table.to_dict("records") if table is not None else []:
        view = views.get(str(r["target_id"]))
        if view is not None:
            rows_of.setdefault(view, []).append(r)
    for spec in specs:
        hist = _history_of(history, spec.series, vintage)
        years, values = view_values(ds, spec)
        q = fan_quantiles(values)
        rows = rows_of.get(spec, [])
        job = fan_job(ds, spec, figdir / spec.filename, history=hist, scenario_labels=labels,
                      quantiles=q, rows=rows)
        records.append(dict(file=f"figures/{spec.filename}", kind="fan", series=spec.series,
                            view=spec.stem, title=job["title"],
                            scenario_groups=[p["scenarios"] for p in job["panels"]]))
        yield job
        groups = scenario_groups([same_key(q[:, k]) for k in range(len(scenarios))])
        if not rows or len(groups) < 2:   # no overlay of identical fans
            continue
        items = [(f"{labels.get(s, '')} · {s}".strip(" ·"), years, q[:, k]) for k, s in enumerate(scenarios)]
        first = [r for r in rows if str(r["scenario"]) == str(rows[0]["scenario"])]
        ov = overlay_job(items, figdir / spec.overlay_filename, title=job["title"],
                         ylabel=job["ylabel"], as_of=as_of, history=job["history"], targets=first)
        records.append(dict(file=f"figures/{spec.overlay_filename}", kind="overlay",
                            series=spec.series, view=spec.stem, title=job["title"],
                            scenario_groups=[[scenarios[k] for k in g] for g in groups]))
        yield ov


def _history_of(history, series: str, vintage: str) -> pd.DataFrame | None:
    if history is None:
        return None
    return history.select(series, vintage)   # an unknown series is an error naming it
