"""Figures of a lever sweep: one PNG per target from the Dataset of :func:`sim.analysis.sweep.sweep_dataset`.

A line with a ±2 SE band (one lever), a heat map with the 50 % and 90 % contours (a grid of two or
more levers; further axes are shown at their middle value) or a scatter coloured by P(met) (a
Latin hypercube).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib
import numpy as np
import xarray as xr

from sim.output.plots import new_figure, save_png, style


def _label(ds: xr.Dataset, name: str) -> str:
    return ds[name].attrs.get("long_name", name)


def _plot_lhs(fig: Any, ax: Any, ds: xr.Dataset, levers: list[str], p: xr.DataArray) -> None:
    x = ds[levers[0]].values
    if len(levers) >= 2:
        sc = ax.scatter(x, ds[levers[1]].values, c=p.values, cmap="RdYlGn", vmin=0, vmax=1, s=28)
        fig.colorbar(sc, ax=ax, label="P(met)")
        ax.set_ylabel(_label(ds, levers[1]))
    else:
        order = np.argsort(x)
        ax.plot(x[order], p.values[order], "o-", ms=3)
        ax.set_ylabel("P(met)")
        ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(_label(ds, levers[0]))


def _plot_line(ax: Any, ds: xr.Dataset, lever: str, p: xr.DataArray, se: xr.DataArray) -> None:
    x = ds[lever].values
    ax.fill_between(x, np.clip(p - 2 * se, 0, 1), np.clip(p + 2 * se, 0, 1), alpha=0.25,
                    label="±2 MC s.e.")
    ax.plot(x, p.values, "o-", ms=3, label="P(met)")
    for level, ls in ((0.5, "--"), (0.9, ":")):
        ax.axhline(level, color="grey", lw=0.8, ls=ls)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(_label(ds, lever))
    ax.set_ylabel("P(met)")
    ax.legend(loc="best")


def _plot_heat(fig: Any, ax: Any, ds: xr.Dataset, levers: list[str], p: xr.DataArray) -> None:
    extra = {d: ds.sizes[d] // 2 for d in levers[2:]}
    q = p.isel(extra) if extra else p
    x, y = ds[levers[0]].values, ds[levers[1]].values
    z = q.transpose(levers[1], levers[0]).values
    mesh = ax.pcolormesh(x, y, z, cmap="RdYlGn", vmin=0, vmax=1, shading="nearest")
    fig.colorbar(mesh, ax=ax, label="P(met)")
    levels = [(v, ls) for v, ls in ((0.5, "--"), (0.9, "-")) if np.nanmin(z) < v < np.nanmax(z)]
    if len(x) >= 2 and len(y) >= 2 and levels:
        cs = ax.contour(x, y, z, levels=[v for v, _ in levels], colors="k",
                        linestyles=[ls for _, ls in levels], linewidths=1.0)
        ax.clabel(cs, fmt={0.5: "50%", 0.9: "90%"}, fontsize=8)
    ax.set_xlabel(_label(ds, levers[0]))
    ax.set_ylabel(_label(ds, levers[1]))
    ax.grid(False)


def plot_sweep(ds: xr.Dataset, folder: Path, targets: Sequence[str] | None = None) -> list[Path]:
    """One PNG per target (``sweep_<id>.png`` in ``folder``): line plot (1 lever, ±2 SE band),
    heat map with the 50 % and 90 % contours (2-lever grid; other grids are shown at their first
    two axes, the rest at the middle value), or a scatter coloured by P(met) (Latin hypercube)."""
    folder = Path(folder)
    out = []
    lhs = "point" in ds["p_met"].dims
    if lhs:
        levers = [s.replace(".", "__") for s in str(ds.attrs.get("levers", "")).split(", ")]
    else:
        levers = [str(c) for c in ds["p_met"].dims if c not in ("target", "point")]
    for tid in (targets or [str(t) for t in ds["target"].values]):
        p = ds["p_met"].sel(target=tid)
        with matplotlib.rc_context(style()):
            fig = new_figure(6.4, 4.4)
            ax = fig.subplots()
            if lhs:
                _plot_lhs(fig, ax, ds, levers, p)
            elif len(levers) == 1:
                _plot_line(ax, ds, levers[0], p, ds["mc_se"].sel(target=tid))
            else:
                _plot_heat(fig, ax, ds, levers, p)
            ax.set_title(f"P(met): {tid}\n{ds.attrs.get('scenario', '')}, "
                         f"{ds.attrs.get('draws', '')} draws, common random numbers", fontsize=9)
            out.append(save_png(fig, folder / f"sweep_{tid}.png"))
    return out
