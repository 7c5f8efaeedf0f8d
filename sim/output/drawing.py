"""Drawing the figures from plain data: the style (CJK font, colours, PNG) and one function per kind.

Every chart is drawn on a :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot, no
global backend switch), inside an ``rc_context`` of :func:`style` that selects the CJK font
shipped in ``sim/output/fonts/`` (Noto Sans SC, subset; see ``sim/output/fonts/build_subset.py``),
so Chinese labels render on a machine without any CJK font installed. :func:`save_png` writes a
palette PNG.

A figure is a *job*: a dict of plain values (strings, numbers, numpy arrays) with ``kind`` and
``path``; :func:`draw` draws it. Every text (titles, target notes, P(met) values) is written by
the caller (:mod:`sim.output.fans`, :mod:`sim.output.plots`), so this module imports only numpy,
matplotlib and PIL: :mod:`sim.output.figure_pool` draws jobs in worker processes that start in
about a second and never import the simulation (numba) or evaluation code.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sim.numbers import fmt_number

FONT_FILE = Path(__file__).resolve().parent / "fonts" / "NotoSansSC-sim-subset.otf"
FONT_FAMILY = "Noto Sans SC sim"

# no red among the scenario colours: red is the target's colour
SCENARIO_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
                    "#17becf", "#7f7f7f", "#bcbd22", "#393b79")
SAME_COLOUR = "#333333"     # a target whose P(met) is the same in every scenario
DPI = 100

#: fan bands: (lower, upper) rows of the quantiles (0.025, 0.10, 0.25, 0.5, 0.75, 0.90, 0.975)
BANDS = ((0, 6, "#d5e3f1", "95%"), (1, 5, "#9dbddd", "80%"), (2, 4, "#5f93c6", "50%"))
MEDIAN_COLOUR = "#173a6b"
HISTORY_COLOUR = "#111111"
TARGET_COLOUR = "#c0392b"
HEADLINE_COLOUR = "#e08a00"   # the headline (combined trend+record) distribution at the target year
#: legend words of the two distributions (the fan's, and the headline's where they differ)
TREND_BAND_LABEL = "趋势单独 trend alone (p_trend)"
HEADLINE_LABEL = "本表预测 headline: median, 80% (table's projection)"

Job = dict[str, Any]
_font_ready = False


def use_cjk_font() -> str:
    """Register the shipped CJK font with matplotlib (once per process) and return its family."""
    global _font_ready
    if not _font_ready:
        from matplotlib import font_manager

        if FONT_FILE.exists():
            font_manager.fontManager.addfont(str(FONT_FILE))
        _font_ready = True
    return FONT_FAMILY


def style() -> dict:
    """rcParams for every figure: the CJK font first, DejaVu Sans as the per-glyph fallback."""
    use_cjk_font()
    return {
        # a list of families: matplotlib falls back glyph by glyph along it
        "font.family": [FONT_FAMILY, "DejaVu Sans"],
        "axes.unicode_minus": True,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.color": "#e6e6e6",
        "grid.linewidth": 0.6,
        "axes.titlesize": 10,
        "axes.labelsize": 9,
        "xtick.labelsize": 8,
        "ytick.labelsize": 8,
        "legend.fontsize": 8,
        "figure.dpi": DPI,
        "savefig.dpi": DPI,
    }


def save_png(fig, path: Path) -> Path:
    """Render with Agg and write a 256-colour palette PNG (a third of the size of RGBA, same look)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    img = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    img = img.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE,
                                       dither=Image.Dither.NONE)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG", compress_level=6)
    return path


def new_figure(width: float, height: float,
               layout: Literal["constrained", "compressed", "tight"] | None = "constrained"):
    """A matplotlib Figure of ``width`` × ``height`` inches (no pyplot, no global state)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout=layout)


def grid(width: float, height: float, *, left: float, right: float, top: float, bottom: float,
         hspace: float = 0.0, wspace: float = 0.0) -> dict:
    """GridSpec margins from inches (a fixed layout: constrained layout costs ~0.5 s a figure)."""
    return dict(left=left / width, right=1 - right / width, top=1 - top / height,
                bottom=bottom / height, hspace=hspace, wspace=wspace)


def axis_number(x: float, _pos: Any = None) -> str:
    """Tick label in the tables' number format (:func:`sim.numbers.fmt_number`)."""
    return fmt_number(x)


def draw(job: Job) -> str:
    """Draw one job (``job["kind"]``: fan, overlay, pmet, heatmap) into ``job["path"]``; its path."""
    drawers = {"fan": draw_fan, "overlay": draw_overlay, "pmet": draw_pmet, "heatmap": draw_heatmap}
    if job.get("kind") not in drawers:
        raise ValueError(f"unknown figure kind {job.get('kind')!r} (expected one of {sorted(drawers)})")
    drawers[job["kind"]](job)
    return str(job["path"])


# --------------------------------------------------------------------------------------------
# indicators: fan charts and overlays


def _target_marks(ax, marks: list[dict], as_of: int) -> None:
    """Each target as drawn on ``ax``: a dashed line from as_of to a marker at the target year
    (``^`` at least, ``v`` at most, ``D`` about), or a bar for a range.

    ``marks``: ``{"value", "value_high" (NaN unless a range), "comparator", "year"}`` and, where
    the headline draws differ from the fan's (trend+record), ``"headline": {"median", "p10",
    "p90"}``: drawn at the target year as an orange bar (10–90 %) with a diamond (median).
    """
    for m in marks:
        h = m.get("headline")
        if h and all(math.isfinite(h[k]) for k in ("median", "p10", "p90")):
            x = m["year"] + 0.18
            ax.vlines(x, h["p10"], h["p90"], color=HEADLINE_COLOUR, lw=4, zorder=7)
            ax.plot([x], [h["median"]], marker="D", color=HEADLINE_COLOUR, mec="black", mew=0.6,
                    ms=6, zorder=8, ls="none")
        v, y = m["value"], m["year"]
        if m["comparator"] == "range" and math.isfinite(m["value_high"]):
            ax.vlines(y, v, m["value_high"], color=TARGET_COLOUR, lw=3, zorder=5)
            continue
        ax.hlines(v, as_of, y, color=TARGET_COLOUR, ls="--", lw=1.1, zorder=5)
        marker = {">=": "^", "<=": "v"}.get(m["comparator"], "D")
        ax.plot([y], [v], marker=marker, color=TARGET_COLOUR, ms=6, zorder=6, ls="none")


def _fan_handles(targets: bool, headline: bool = False) -> list:
    """Legend handles; with ``headline`` the bands are the trend's alone and the headline bar is
    named."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    trend = f" ({TREND_BAND_LABEL})" if headline else ""
    handles: list = [
        Line2D([], [], color=HISTORY_COLOUR, lw=1.8, marker="o", ms=2.5, label="实际 observed"),
        Line2D([], [], color=MEDIAN_COLOUR, lw=1.6, label=f"中位数 median{trend}")]
    handles += [Patch(color=c, label=f"{lab} 区间 band") for _, _, c, lab in BANDS[::-1]]
    if headline:
        handles += [Line2D([], [], color=HEADLINE_COLOUR, lw=4, marker="D", mec="black",
                           label=HEADLINE_LABEL)]
    if targets:
        handles += [Line2D([], [], color=TARGET_COLOUR, ls="--", marker="^", label="目标 target")]
    return handles


def has_headline(marks: list[dict]) -> bool:
    """Whether some mark carries a headline distribution different from the fan's."""
    return any(m.get("headline") for m in marks)


def draw_fan(job: Job) -> None:
    """Fan chart: one panel per group of scenarios with identical draws (small multiples only
    when scenarios differ), shared y axis.

    ``job``: ``path, title, ylabel, as_of, years (Y,), history (years, values)`` and ``panels``:
    ``{"title", "title_lines", "q" (7, Y) quantiles, "marks" (see :func:`_target_marks`),
    "notes" [str]}``.
    """
    import matplotlib

    panels, years, as_of = job["panels"], job["years"], int(job["as_of"])
    hy, hv = job["history"]
    n = len(panels)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    n_notes = max(len(p["notes"]) for p in panels)
    n_title = max(p.get("title_lines", 1) for p in panels)
    panel_w, panel_h = (3.7, 2.2) if n > 1 else (6.4, 3.0)
    head = 0.2 + 0.17 * n_title          # panel title above the axes, inches
    row_gap = 0.42 + head + 0.15 * n_notes
    legend_rows = 1 if n > 1 else 2
    left, right, top, bottom = 0.85, 0.15, 0.5 + head, 0.45 + 0.15 * n_notes + 0.22 * legend_rows
    width = left + right + ncols * panel_w + (ncols - 1) * 0.12
    height = top + bottom + nrows * panel_h + (nrows - 1) * row_gap
    with matplotlib.rc_context(style()):
        fig = new_figure(width, height, layout=None)
        axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False, gridspec_kw=grid(
            width, height, left=left, right=right, top=top, bottom=bottom,
            hspace=row_gap / panel_h, wspace=0.12 / panel_w))
        for k, ax in enumerate(axes.flat):
            if k >= n:
                ax.set_visible(False)
                continue
            p = panels[k]
            q = p["q"]
            for lo, hi, colour, _ in BANDS:
                ax.fill_between(years, q[lo], q[hi], color=colour, lw=0, zorder=2)
            ax.plot(years, q[3], color=MEDIAN_COLOUR, lw=1.6, zorder=3)
            if len(hy):
                ax.plot(hy, hv, color=HISTORY_COLOUR, lw=1.8, marker="o", ms=2.5, zorder=4)
            ax.axvline(as_of, color="#777777", ls=":", lw=1, zorder=1)
            _target_marks(ax, p["marks"], as_of)
            # a plain text, not set_title: title placement costs a tight-bbox pass per panel
            ax.text(0, 1.03, p["title"], transform=ax.transAxes, fontsize=9, ha="left", va="bottom")
            ax.set_xlabel("\n".join(p["notes"]), fontsize=7.5, color=TARGET_COLOUR, loc="left")
            ax.xaxis.get_major_locator().set_params(integer=True)
            if k % ncols == 0:
                ax.set_ylabel(job["ylabel"])
            ax.text(as_of, 1.0, f" 截至 as of {as_of}", transform=ax.get_xaxis_transform(),
                    fontsize=7, color="#555555", va="top", ha="left")
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(axis_number))
        handles = _fan_handles(any(p["marks"] for p in panels),
                               any(has_headline(p["marks"]) for p in panels))
        fig.legend(handles=handles, loc="lower center", frameon=False,
                   ncol=len(handles) if legend_rows == 1 else math.ceil(len(handles) / 2),
                   bbox_to_anchor=(0.5, 0.0))
        fig.suptitle(job["title"], fontsize=11, x=0.01, y=1 - 0.12 / height, ha="left", va="top")
        save_png(fig, job["path"])


def draw_overlay(job: Job) -> None:
    """One panel, the median and 80 % band of each distinct scenario (identical ones share one
    line and one legend entry), history, targets; title above, legend right of the plot.

    ``job``: ``path, title, subtitle, ylabel, as_of, history (years, values), marks, notes`` and
    ``lines``: ``{"label", "years" (Y,), "q" (7, Y)}``.
    """
    import matplotlib
    from matplotlib.lines import Line2D

    notes = job.get("notes") or []
    legend_w, plot_w, plot_h = 3.1, 6.0, 3.4
    left, top, bottom = 0.9, 0.75, 0.5 + 0.16 * len(notes)
    width, height = left + plot_w + legend_w, top + plot_h + bottom
    as_of = int(job["as_of"])
    with matplotlib.rc_context(style()):
        fig = new_figure(width, height, layout=None)
        ax = fig.subplots(gridspec_kw=grid(width, height, left=left, right=legend_w, top=top,
                                           bottom=bottom))
        handles = []
        for k, line in enumerate(job["lines"]):
            c = SCENARIO_COLOURS[k % len(SCENARIO_COLOURS)]
            years, q = line["years"], line["q"]
            ax.fill_between(years, q[1], q[5], color=c, alpha=0.13, lw=0)
            ax.plot(years, q[1], color=c, lw=0.6, ls=":")
            ax.plot(years, q[5], color=c, lw=0.6, ls=":")
            ax.plot(years, q[3], color=c, lw=1.8)
            handles.append(Line2D([], [], color=c, lw=1.8, label=line["label"]))
        hy, hv = job["history"]
        if len(hy):
            ax.plot(hy, hv, color=HISTORY_COLOUR, lw=1.8, marker="o", ms=2.5)
            handles.append(Line2D([], [], color=HISTORY_COLOUR, lw=1.8, marker="o", ms=2.5,
                                  label="实际 observed"))
        ax.axvline(as_of, color="#777777", ls=":", lw=1)
        if job.get("marks"):
            _target_marks(ax, job["marks"], as_of)
            handles.append(Line2D([], [], color=TARGET_COLOUR, ls="--", marker="^", label="目标 target"))
            if has_headline(job["marks"]):
                handles.append(Line2D([], [], color=HEADLINE_COLOUR, lw=4, marker="D", mec="black",
                                      label=HEADLINE_LABEL))
        ax.set_xlabel("\n".join(notes), fontsize=8, color=TARGET_COLOUR, loc="left")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(axis_number))
        ax.set_ylabel(job["ylabel"])
        fig.text(0.01, 1 - 0.1 / height, job["title"], fontsize=11, ha="left", va="top")
        fig.text(0.01, 1 - 0.4 / height, job["subtitle"], fontsize=9, ha="left", va="top",
                 color="#444444")
        fig.legend(handles=handles, loc="upper left", frameon=False,
                   bbox_to_anchor=((left + plot_w + 0.15) / width, 1 - top / height))
        save_png(fig, job["path"])


# --------------------------------------------------------------------------------------------
# P(met) charts


def draw_pmet(job: Job) -> None:
    """Dot-and-whisker: P(met) with its Wilson 95 % interval, targets (rows) × groups (colours);
    a target with the same P(met) in every group is one dark dot.

    ``job``: ``path, title, xlabel, row_labels [T], groups [G] (legend labels), p, lo, hi (T, G)
    (NaN = no row), same (T,) bool``.
    """
    import matplotlib
    from matplotlib.lines import Line2D

    p, lo, hi, same = job["p"], job["lo"], job["hi"], job["same"]
    n_t, n_g = p.shape
    height = 0.55 * n_t * max(1.0, n_g / 5) + 1.6
    with matplotlib.rc_context(style()):
        fig = new_figure(9.5, height)
        ax = fig.subplots()
        step = 0.7 / max(1, n_g)
        rows = np.arange(n_t, dtype=float)
        for g in range(n_g):
            show = np.isfinite(p[:, g]) & ~same
            if show.any():
                _whiskers(ax, p[show, g], lo[show, g], hi[show, g], rows[show] - 0.35 + step * (g + 0.5),
                          SCENARIO_COLOURS[g % len(SCENARIO_COLOURS)])
        one = same & np.isfinite(p[:, 0])
        if one.any():
            _whiskers(ax, p[one, 0], lo[one, 0], hi[one, 0], rows[one], SAME_COLOUR)
        ax.set_yticks(range(n_t))
        ax.set_yticklabels(job["row_labels"], fontsize=7.5)
        ax.set_ylim(n_t - 0.5, -0.5)
        ax.set_xlim(-0.02, 1.02)
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        for x, c in ((0.33, "#e3a008"), (0.66, "#2e8b57")):
            ax.axvline(x, color=c, ls=":", lw=0.8)
        ax.set_xlabel(job["xlabel"])
        handles = [Line2D([], [], color=SCENARIO_COLOURS[i % len(SCENARIO_COLOURS)], marker="o", ls="-",
                          label=g) for i, g in enumerate(job["groups"])]
        if same.any() and n_g > 1:
            handles.append(Line2D([], [], color=SAME_COLOUR, marker="o", ls="-",
                                  label="各情景相同 same in every scenario"))
        fig.legend(handles=handles, loc="outside lower center", ncol=min(3, len(handles)), frameon=False)
        fig.suptitle(job["title"], fontsize=11, x=0.01, ha="left")
        save_png(fig, job["path"])


def _whiskers(ax, p, lo, hi, y, colour: str) -> None:
    """Dots at ``p`` with whiskers ``lo``–``hi`` at heights ``y`` (one errorbar call)."""
    err = np.vstack([np.maximum(0.0, p - lo), np.maximum(0.0, hi - p)])
    ax.errorbar(p, y, xerr=err, fmt="o", color=colour, ms=4.5, capsize=2.5, lw=1.2)


def draw_heatmap(job: Job) -> None:
    """Traffic-light heat map: targets (rows) × groups (columns), cells = P(met).

    ``job``: ``path, title, row_labels [T], col_labels [G], values (T, G), cells [[str]] (T × G),
    same (T,) bool`` (a row equal in every column: its number once, in the middle).
    """
    import matplotlib

    values = job["values"]
    n_t, n_g = values.shape
    with matplotlib.rc_context(style()):
        fig = new_figure(3.2 + 1.25 * n_g + 3.5, 0.42 * n_t + 1.9)
        ax = fig.subplots()
        ax.grid(False)
        im = ax.imshow(values, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
        same = job.get("same", np.zeros(n_t, dtype=bool))
        for i in range(n_t):
            for j in range(n_g):
                v = values[i, j]
                if not np.isfinite(v) or (same[i] and j > 0):
                    continue
                # a row the same in every scenario: one number in its middle
                ax.text((n_g - 1) / 2 if same[i] else j, i, job["cells"][i][j], ha="center",
                        va="center", fontsize=8, color="black" if 0.2 < v < 0.85 else "white")
        ax.set_xticks(range(n_g))
        ax.set_xticklabels(job["col_labels"], fontsize=7.5, rotation=30, ha="right")
        ax.set_yticks(range(n_t))
        ax.set_yticklabels(job["row_labels"], fontsize=7.5)
        fig.colorbar(im, ax=ax, format=matplotlib.ticker.PercentFormatter(1.0), shrink=0.8,
                     label="P(达标 met)")
        fig.suptitle(job["title"], fontsize=11, x=0.01, ha="left")
        save_png(fig, job["path"])
