"""Figures of a lever sweep: one PNG per target from the Dataset of :func:`sim.analysis.sweep.sweep_dataset`.

A heat map of P(met) (a grid of two or more levers; further axes are held at their middle value,
named in the subtitle) with the value of every cell in % and the contour of the chosen probability;
a line with a ±2 Monte Carlo SE band and the chosen probability (one lever); a scatter coloured by
P(met) (a Latin hypercube). Axes are the levers in words with their units, the title is the
target as the plan states it (:func:`sim.analysis.labels.target_statement`, kept in the Dataset's
``target_text`` coordinate).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Sequence

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.ticker import FuncFormatter

from sim.analysis.headline import METHOD_WORDS
from sim.analysis.labels import lever_label, plain
from sim.output.plots import new_figure, save_png, style

#: the most cells a heat map writes its values into (beyond that the numbers would not be legible)
MAX_ANNOTATED_CELLS = 300
DEFAULT_PROBABILITY = 0.9


def _label(ds: xr.Dataset, name: str) -> str:
    """Axis label of a lever dimension: the lever in words with its unit."""
    path = ds[name].attrs.get("long_name", name.replace("__", "."))
    text = lever_label(path, short=True).replace(": ", ":\n", 1)
    return text[0].upper() + text[1:]


def _pct(p: float) -> str:
    return f"{100 * p:.0f}" if np.isfinite(p) else ""


def _plot_lhs(fig: Any, ax: Any, ds: xr.Dataset, levers: list[str], p: xr.DataArray) -> None:
    x = ds[levers[0]].values
    if len(levers) >= 2:
        sc = ax.scatter(x, ds[levers[1]].values, c=100 * p.values, cmap="RdYlGn", vmin=0, vmax=100,
                        s=28)
        fig.colorbar(sc, ax=ax, label="P(target met), %")
        ax.set_ylabel(_label(ds, levers[1]))
    else:
        order = np.argsort(x)
        ax.plot(x[order], 100 * p.values[order], "o-", ms=3)
        ax.set_ylabel("P(target met), %")
        ax.set_ylim(-2, 102)
    ax.set_xlabel(_label(ds, levers[0]))


def _plot_line(ax: Any, ds: xr.Dataset, lever: str, p: xr.DataArray, se: xr.DataArray,
               probability: float) -> None:
    x = ds[lever].values
    ax.fill_between(x, 100 * np.clip(p - 2 * se, 0, 1), 100 * np.clip(p + 2 * se, 0, 1), alpha=0.25,
                    label="±2 Monte Carlo SE")
    ax.plot(x, 100 * p.values, "o-", ms=3, label="P(target met)")
    ax.axhline(100 * probability, color="k", lw=1.0, ls="--",
               label=f"chosen probability, {plain(100 * probability)} %")
    ax.set_ylim(-2, 102)
    ax.set_xlabel(_label(ds, lever))
    ax.set_ylabel("P(target met), %")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def _annotate(ax: Any, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> None:
    """Write every cell's P(met) in % into it, dark or light to stand out from the colour."""
    for j, yv in enumerate(y):
        for i, xv in enumerate(x):
            v = z[j, i]
            colour = "white" if np.isfinite(v) and (v < 0.2 or v > 0.85) else "black"
            ax.text(xv, yv, _pct(v), ha="center", va="center", fontsize=7, color=colour)


def _contour_note(ax: Any, x: np.ndarray, y: np.ndarray, z: np.ndarray, probability: float) -> str:
    """Draw the contour of ``probability``; return what to say when the grid never crosses it."""
    level = f"{plain(100 * probability)} %"
    if np.all(z >= probability):
        return f"P ≥ {level} in every cell"
    if np.all(z < probability):
        return f"P < {level} in every cell"
    if len(x) < 2 or len(y) < 2:
        return ""
    ax.contour(x, y, z, levels=[probability], colors="k", linewidths=1.8)   # named in the title
    return f"black line: P = {level}"


def _plot_heat(fig: Any, ax: Any, ds: xr.Dataset, levers: list[str], p: xr.DataArray,
               probability: float) -> str:
    """Heat map of the first two levers; returns the subtitle's notes (other levers, contour)."""
    extra = {d: ds.sizes[d] // 2 for d in levers[2:]}
    q = p.isel(extra) if extra else p
    x, y = ds[levers[0]].values, ds[levers[1]].values
    z = q.transpose(levers[1], levers[0]).values
    mesh = ax.pcolormesh(x, y, 100 * z, cmap="RdYlGn", vmin=0, vmax=100, shading="nearest")
    fig.colorbar(mesh, ax=ax, label="P(target met), %")
    if z.size <= MAX_ANNOTATED_CELLS:
        _annotate(ax, x, y, z)
    notes = [_contour_note(ax, x, y, z, probability)]
    notes += [f"{ds[d].attrs.get('long_name', d)} held at {plain(float(ds[d].values[i]))}"
              for d, i in extra.items()]
    ax.set_xlabel(_label(ds, levers[0]))
    ax.set_ylabel(_label(ds, levers[1]))
    ax.grid(False)
    return "; ".join(n for n in notes if n)


def _title(ds: xr.Dataset, tid: str, note: str) -> str:
    """Target as the plan states it, then scenario, draws and the figure's notes."""
    text = (str(ds["target_text"].sel(target=tid).values) if "target_text" in ds.coords
            else tid)
    se = float(ds["mc_se"].sel(target=tid).max())
    sub = (f"scenario '{ds.attrs.get('scenario', '')}' · {int(ds.attrs.get('draws', 0)):,} draws per "
           f"point (common random numbers) · Monte Carlo SE ≤ {plain(100 * se, 2)} pp")
    lines = textwrap.wrap(f"P(met): {text}", 90) + textwrap.wrap(sub, 110)
    if "method" in ds.coords:   # what the run's headline probability rests on
        lines.append(f"P(met) of the run: {METHOD_WORDS.get(str(ds['method'].sel(target=tid).values), '')}")
    return "\n".join(lines + ([note] if note else []))


def _levers(ds: xr.Dataset) -> tuple[bool, list[str]]:
    """(Latin hypercube?, the lever dimensions / coordinates of the sweep)."""
    if "point" in ds["p_met"].dims:
        return True, [s.replace(".", "__") for s in str(ds.attrs.get("levers", "")).split(", ")]
    return False, [str(c) for c in ds["p_met"].dims if c not in ("target", "point")]


def sweep_figure(ds: xr.Dataset, tid: str, probability: float) -> Any:
    """The figure of one target (see :func:`plot_sweep`); call inside
    ``matplotlib.rc_context(style())``."""
    lhs, levers = _levers(ds)
    p = ds["p_met"].sel(target=tid)
    note = ""
    fig = new_figure(7.6, 5.4)
    ax = fig.subplots()
    if lhs:
        _plot_lhs(fig, ax, ds, levers, p)
    elif len(levers) == 1:
        _plot_line(ax, ds, levers[0], p, ds["mc_se"].sel(target=tid), probability)
    else:
        note = _plot_heat(fig, ax, ds, levers, p, probability)
    ax.set_title(_title(ds, tid, note), fontsize=8.5, loc="left")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: plain(v)))   # 25,000 not 25000
    if not (len(levers) == 1 and not lhs):
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: plain(v)))
    return fig


def plot_sweep(ds: xr.Dataset, folder: Path, targets: Sequence[str] | None = None,
               probability: float | None = None) -> list[Path]:
    """One PNG per target (``sweep_<id>.png`` in ``folder``): heat map with cell values and the
    contour of ``probability`` (default the Dataset's ``probability`` attribute, else 0.9) for a
    grid of two or more levers, a line with a ±2 SE band for one lever, a scatter for a Latin
    hypercube."""
    folder = Path(folder)
    prob = float(probability if probability is not None
                 else ds.attrs.get("probability", DEFAULT_PROBABILITY))
    out = []
    for tid in (targets if targets is not None else [str(t) for t in ds["target"].values]):
        with matplotlib.rc_context(style()):
            out.append(save_png(sweep_figure(ds, tid, prob), folder / f"sweep_{tid}.png"))
    return out
