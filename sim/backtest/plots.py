"""Figures of a backtest (matplotlib, Agg): reliability diagram, PIT histograms, coverage by
horizon, and P(met) over origins for each target. Each function writes one PNG and returns its
path."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from sim.backtest.references import DISTRIBUTIONS, LABELS, column_prefix
from sim.backtest.summary import INDICATOR_KEY, dedupe, scored_rows

COLORS = {"combined": "#1f5fa8", "trend": "#5aa0d8", "record": "#c0392b", "base_rate": "#7f7f7f",
          "plan95": "#c77dbd", "plan": "#9b4f96", "line": "#d9822b", "rw": "#6a9f3a"}


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    _plt().close(fig)
    return path


def reliability_diagram(summary: dict, path, row_set: str = "common") -> Path:
    """Observed frequency of 'met' against mean forecast probability per bin (Wilson 95 %
    interval), one colour per forecaster; the diagonal is perfect calibration; the marker area
    grows with the number of forecasts in the bin."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 5.2))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
    block = summary.get("sets", {}).get(row_set, {})
    for f, fb in block.get("forecasters", {}).items():
        bins = [b for b in fb["reliability"] if b["n"] > 0]
        if not bins:
            continue
        x = np.array([b["mean_forecast"] for b in bins], float)
        y = np.array([b["observed_freq"] for b in bins], float)
        lo = np.array([b["observed_low"] for b in bins], float)
        hi = np.array([b["observed_high"] for b in bins], float)
        n = np.array([b["n"] for b in bins], float)
        ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt="none", ecolor=COLORS[f], alpha=0.5, lw=1)
        ax.scatter(x, y, s=12 + 10 * np.sqrt(n), color=COLORS[f], alpha=0.8,
                   label=f"{fb['label']} (Brier {fb['brier']['mean']:.3f})")
        ax.plot(x, y, color=COLORS[f], lw=1, alpha=0.6)
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="forecast P(met)",
           ylabel="observed frequency of 'met'",
           title=f"Reliability ({block.get('n_event_rows', 0)} target events, "
                 f"{block.get('n_clusters', 0)} indicator-years)")
    ax.legend(fontsize=7, loc="upper left", markerscale=0.5)
    ax.text(0.99, 0.01, "marker area ∝ √(forecasts in bin); bars: Wilson 95%", fontsize=6,
            ha="right", va="bottom", transform=ax.transAxes, color="0.4")
    return _save(fig, path)


def pit_histograms(rows: pd.DataFrame, path) -> Path:
    """Histogram of PIT values per forecaster with a distribution (flat = calibrated; U-shape =
    too narrow; hump = too wide; slope = biased)."""
    plt = _plt()
    sc = dedupe(scored_rows(rows), INDICATOR_KEY)
    fig, axes = plt.subplots(1, len(DISTRIBUTIONS), figsize=(3.2 * len(DISTRIBUTIONS), 3),
                             sharey=True)
    for ax, f in zip(np.atleast_1d(axes), DISTRIBUTIONS):
        col = f"{column_prefix(f)}pit"
        v = sc[col].dropna().to_numpy(float) if col in sc else np.array([])
        ax.hist(v, bins=10, range=(0, 1), color=COLORS[f], alpha=0.8, edgecolor="white")
        if len(v):
            ax.axhline(len(v) / 10, color="0.3", ls="--", lw=1)
        ax.set(title=f"{LABELS[f]}\n(n = {len(v)})", xlabel="PIT")
        ax.title.set_fontsize(8)
    np.atleast_1d(axes)[0].set_ylabel("indicator forecasts")
    return _save(fig, path)


def coverage_by_horizon(cov: pd.DataFrame, path) -> Path:
    """Empirical 80 % and 95 % coverage against forecast horizon, per forecaster."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, level in zip(axes, (80, 95)):
        ax.axhline(level / 100, color="0.4", ls="--", lw=1, label=f"nominal {level}%")
        for f, g in cov.groupby("forecaster", sort=False) if len(cov) else []:
            ax.plot(g["horizon"], g[f"coverage{level}"], marker="o", color=COLORS[f],
                    label=LABELS[f], alpha=0.85)
            for h, c, n in zip(g["horizon"], g[f"coverage{level}"], g["n"]):
                if f == "combined":
                    ax.annotate(str(n), (h, c), fontsize=6, xytext=(2, 3), textcoords="offset points")
        ax.set(xlabel="horizon (target year − origin)", title=f"{level}% central interval",
               ylim=(-0.05, 1.05))
    axes[0].set_ylabel("share of realised values inside")
    axes[1].legend(fontsize=7, loc="lower left")
    return _save(fig, path)


def p_met_over_origins(rows: pd.DataFrame, path, max_panels: int = 30) -> Path:
    """P(met) of each target against the forecast origin (how the odds moved as data arrived),
    with the references; the outcome is the background (green: met, red: missed)."""
    plt = _plt()
    sc = rows[rows["status"] == "scored"] if len(rows) else rows
    ids = list(dict.fromkeys(sc["target_id"])) if len(sc) else []
    ids = ids[:max_panels]
    n = max(len(ids), 1)
    cols = min(4, n)
    nrows = math.ceil(n / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.4 * cols, 2.5 * nrows), squeeze=False,
                             sharex=True, sharey=True)
    for ax in axes.ravel()[len(ids):]:
        ax.axis("off")
    for ax, tid in zip(axes.ravel(), ids):
        g = sc[sc["target_id"] == tid].sort_values("origin")
        met = bool(g["outcome_met"].iloc[0])
        ax.axhspan(-0.05, 1.05, color="#d8f0d8" if met else "#f6d6d6", zorder=0)
        for f in ("plan95", "base_rate", "line", "rw", "record", "trend", "combined"):
            col = f"{column_prefix(f)}p_met"
            if col in g and g[col].notna().any():
                ax.plot(g["origin"], g[col], marker="o" if f == "combined" else None,
                        ms=3, lw=2 if f == "combined" else 1, ls="-" if f == "combined" else ":",
                        color=COLORS[f], label=LABELS[f])
        y = g["realised"].iloc[0]
        seen = "official verdict" if y != y else f"realised {y:.4g}"
        ax.set_title(f"{tid}\n{'met' if met else 'missed'} ({seen})",
                     fontsize=7)
        ax.set_ylim(-0.05, 1.05)
        ax.tick_params(labelsize=7)
    axes[0, 0].set_ylabel("P(met)")
    if ids:
        axes[0, 0].legend(fontsize=6, loc="lower left")
    return _save(fig, path)


def write_all(result_rows: pd.DataFrame, summary: dict, cov: pd.DataFrame, folder) -> list[Path]:
    """Every backtest figure into ``folder``; returns the paths written."""
    folder = Path(folder)
    return [reliability_diagram(summary, folder / "reliability.png"),
            pit_histograms(result_rows, folder / "pit_histogram.png"),
            coverage_by_horizon(cov, folder / "coverage_by_horizon.png"),
            p_met_over_origins(result_rows, folder / "p_met_over_origins.png")]
