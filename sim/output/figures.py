"""The figures of a results folder: fan charts, scenario overlays, the P(met) chart and heat map.

:func:`write_figures` draws every figure of a run into ``folder/figures`` and returns one record
per file; :mod:`sim.output.report` embeds them in ``report.html``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.output.fans import (fan_chart, fan_quantiles, fan_specs, history_points, overlay_chart,
                             targets_for, view_title, view_values)
from sim.output.plots import pmet_chart, pmet_heatmap

def write_figures(folder: Path, ds, table: pd.DataFrame, *, history=None, scenario_labels=None,
                  windows=None, vintage: str | None = None) -> list[dict]:
    """Every figure of a results folder into ``folder/figures``; returns one record per file.

    Record: ``{"file", "kind" (fan|overlay|pmet|heatmap), "series", "view", "title"}``.
    ``history`` is a :class:`sim.history.History` (already cut at as_of) or None.
    """
    folder = Path(folder)
    figdir = folder / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    as_of = int(ds.attrs["as_of"])
    vintage = vintage or ds.attrs.get("vintage", "revised")
    scenario_labels = scenario_labels or {}
    out = []
    for spec in fan_specs(ds, table, windows):
        hist = _history_of(history, spec.series, vintage)
        years, values = view_values(ds, spec)
        q = fan_quantiles(values)
        title, ylabel = view_title(ds, spec)
        fan_chart(ds, spec, figdir / spec.filename, table=table, history=hist,
                  scenario_labels=scenario_labels, windows=windows, quantiles=q)
        out.append(dict(file=f"figures/{spec.filename}", kind="fan", series=spec.series,
                        view=spec.stem, title=title))
        rows = targets_for(table, ds, spec, windows)
        differ = len(ds["scenario"]) > 1 and not np.allclose(q, q[:, :1], equal_nan=True)
        if rows is not None and not rows.empty and differ:  # no overlay of identical fans
            relative = bool(ds[spec.series].attrs.get("relative_to_as_of", 0))
            items = [(f"{scenario_labels.get(s, '')} · {s}".strip(" ·"), years, q[:, k])
                     for k, s in enumerate(str(x) for x in ds["scenario"].values)]
            overlay_chart(items, figdir / spec.overlay_filename, title=title, ylabel=ylabel,
                          as_of=as_of, history=history_points(hist, spec, as_of, relative),
                          targets=rows[rows["scenario"] == rows["scenario"].iloc[0]])
            out.append(dict(file=f"figures/{spec.overlay_filename}", kind="overlay",
                            series=spec.series, view=spec.stem, title=title))
    if pmet_chart(table, figdir / "pmet_by_scenario.png", labels=scenario_labels):
        out.append(dict(file="figures/pmet_by_scenario.png", kind="pmet", series="", view="",
                        title="P(met) by scenario"))
    if pmet_heatmap(table, figdir / "pmet_heatmap.png", labels=scenario_labels):
        out.append(dict(file="figures/pmet_heatmap.png", kind="heatmap", series="", view="",
                        title="P(met) heat map"))
    return out


def _history_of(history, series: str, vintage: str) -> pd.DataFrame | None:
    if history is None:
        return None
    try:
        return history.select(series, vintage)
    except Exception:  # unknown series or vintage: draw the fan without history
        return None
