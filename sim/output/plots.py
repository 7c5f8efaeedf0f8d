"""Figures people look at: the shared style (CJK font, colours, PNG output) and the P(met) charts.

Every chart is drawn on a :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot, no
global backend switch), inside an ``rc_context`` of :func:`style` that selects the CJK font
shipped in ``sim/output/fonts/`` (Noto Sans SC, subset; see ``sim/output/fonts/build_subset.py``),
so Chinese labels render on a machine without any CJK font installed. :func:`save_png` writes a
palette PNG.

Charts here: :func:`pmet_chart` (dot-and-whisker, P(met) with its Wilson interval per target and
scenario) and :func:`pmet_heatmap` (targets × scenarios); the fan charts and scenario overlays
of the indicators are in :mod:`sim.output.fans`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from sim.evaluation import as_int
from sim.output.tables import fmt_pct, target_text

FONT_FILE = Path(__file__).resolve().parent / "fonts" / "NotoSansSC-sim-subset.otf"
FONT_FAMILY = "Noto Sans SC sim"

# no red among the scenario colours: red is the target's colour
SCENARIO_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
                    "#17becf", "#7f7f7f", "#bcbd22", "#393b79")
DPI = 100

#: short bilingual names of the target sets, for annotations
SET_LABELS = {
    "action_plan_2015": "行动计划 AP",
    "fyp12_2015": "十二五 FYP12",
    "fyp13_2020": "十三五 FYP13",
    "quality_plan_2020": "质量规划 QDP",
}
_font_ready = False


def use_cjk_font() -> str:
    """Register the shipped CJK font with matplotlib (once) and return its family name."""
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


# --------------------------------------------------------------------------------------------
# P(met) charts


def _row_label(r: dict) -> str:
    zh = r.get("indicator_zh") or ""
    en = r.get("indicator") or ""
    tag = SET_LABELS.get(str(r.get("target_set")), r.get("target_set", ""))
    y = as_int(r.get("target_year"))
    return f"{zh} {target_text(r)} ({y}, {tag})\n{en}"


def _evaluated(table: pd.DataFrame, column: str):
    """Evaluated rows, the ``column`` values and the target ids, in order (None when empty)."""
    ev = table[table["status"] == "evaluated"] if not table.empty else table
    if ev.empty:
        return None, [], []
    return ev, list(dict.fromkeys(ev[column])), list(dict.fromkeys(ev["target_id"]))


def pmet_chart(table: pd.DataFrame, path: Path, *, column: str = "scenario",
               labels: dict | None = None, title: str = "") -> Path | None:
    """Dot-and-whisker: P(met) with its Wilson 95 % interval, per target (rows) and ``column``."""
    import matplotlib
    from matplotlib.lines import Line2D

    ev, groups, targets = _evaluated(table, column)
    if ev is None:
        return None
    first = ev.drop_duplicates("target_id").set_index("target_id")
    labels = labels or {}
    height = 0.55 * len(targets) * max(1.0, len(groups) / 5) + 1.6
    with matplotlib.rc_context(style()):
        fig = new_figure(9.5, height)
        ax = fig.subplots()
        step = 0.7 / max(1, len(groups))
        for g_i, g in enumerate(groups):
            sub = ev[ev[column] == g].set_index("target_id")
            c = SCENARIO_COLOURS[g_i % len(SCENARIO_COLOURS)]
            for t_i, tid in enumerate(targets):
                if tid not in sub.index:
                    continue
                r = sub.loc[tid]
                y = t_i - 0.35 + step * (g_i + 0.5)
                ax.errorbar(r["probability"], y,
                            xerr=[[max(0.0, r["probability"] - r["ci_low"])],
                                  [max(0.0, r["ci_high"] - r["probability"])]],
                            fmt="o", color=c, ms=4.5, capsize=2.5, lw=1.2)
        ax.set_yticks(range(len(targets)))
        ax.set_yticklabels([_row_label({**first.loc[t].to_dict(), "target_id": t}) for t in targets],
                           fontsize=7.5)
        ax.invert_yaxis()
        ax.set_xlim(-0.02, 1.02)
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        for x, c in ((0.33, "#e3a008"), (0.66, "#2e8b57")):
            ax.axvline(x, color=c, ls=":", lw=0.8)
        ax.set_xlabel("P(达标 target met) · Wilson 95% 区间 interval")
        handles = [Line2D([], [], color=SCENARIO_COLOURS[i % len(SCENARIO_COLOURS)], marker="o", ls="-",
                          label=(f"{labels[g]} · {g}" if labels.get(g) else g))
                   for i, g in enumerate(groups)]
        fig.legend(handles=handles, loc="outside lower center", ncol=min(3, len(handles)), frameon=False)
        fig.suptitle(title or "各情景达标概率 · P(target met) by scenario", fontsize=11, x=0.01, ha="left")
        save_png(fig, path)
    return path


def pmet_heatmap(table: pd.DataFrame, path: Path, *, column: str = "scenario",
                 labels: dict | None = None, title: str = "") -> Path | None:
    """Traffic-light heat map: targets (rows) × scenarios (columns), cells = P(met)."""
    import matplotlib

    ev, groups, targets = _evaluated(table, column)
    if ev is None:
        return None
    wide = ev.pivot_table(index="target_id", columns=column, values="probability", sort=False)
    wide = wide.reindex(index=targets, columns=groups)
    first = ev.drop_duplicates("target_id").set_index("target_id")
    labels = labels or {}
    with matplotlib.rc_context(style()):
        fig = new_figure(3.2 + 1.25 * len(groups) + 3.5, 0.42 * len(targets) + 1.9)
        ax = fig.subplots()
        ax.grid(False)
        im = ax.imshow(wide.values, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
        for i in range(len(targets)):
            for j in range(len(groups)):
                v = wide.values[i, j]
                if np.isfinite(v):
                    ax.text(j, i, fmt_pct(v, 0), ha="center", va="center", fontsize=8,
                            color="black" if 0.2 < v < 0.85 else "white")
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([f"{labels.get(g, '')}\n{g}".strip() for g in groups], fontsize=7.5,
                           rotation=30, ha="right")
        ax.set_yticks(range(len(targets)))
        ax.set_yticklabels([_row_label({**first.loc[t].to_dict(), "target_id": t}).replace("\n", " · ")
                            for t in targets], fontsize=7.5)
        fig.colorbar(im, ax=ax, format=matplotlib.ticker.PercentFormatter(1.0), shrink=0.8,
                     label="P(达标 met)")
        fig.suptitle(title or "达标概率热图 · P(target met) heat map", fontsize=11, x=0.01, ha="left")
        save_png(fig, path)
    return path
