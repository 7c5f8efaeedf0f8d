"""Figures people look at: fan charts with history, scenario overlays, P(met) by scenario.

Every chart is drawn on a :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot, no
global backend switch), inside an ``rc_context`` that selects the CJK font shipped in
``sim/output/fonts/`` (Noto Sans SC, subset; see ``sim/output/fonts/build_subset.py``), so Chinese labels render
on a machine without any CJK font installed.

Fan charts follow the Bank of England layout: observed history as a solid line, the projection
as shaded central bands (50 %, 80 %, 95 % of the draws; darker = more likely) anchored at the
last observed year (as_of, observed in every draw), the median as a line, a dotted vertical line
at as_of, the target as a dashed line ending in a marker at the target year, and P(met) ± its
Monte Carlo standard error under each panel. One file per indicator view, with one panel per
scenario (small multiples, shared y axis).

An *indicator view* (:class:`FanSpec`) is a series in one of three modes:

* ``level``  — the series on its natural scale (an index with as_of = 1 when no level is
  observed);
* ``change`` — the cumulative % change from a base year ``b``: ``100 (S_t / S_b - 1)``; for
  ``b < as_of`` the part already behind as_of comes from ``<series>_log_change_since_<b>``;
* ``sum``    — the running total over a target window ``p0..p1`` (0 at ``p0 - 1``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.evaluation import as_int
from sim.output.tables import fmt_number, fmt_pct, fmt_pm, target_text

FONT_FILE = Path(__file__).resolve().parent / "fonts" / "NotoSansSC-sim-subset.otf"
FONT_FAMILY = "Noto Sans SC sim"
SINCE = "_log_change_since_"

#: quantiles drawn for the fans (pairs of the 95 %, 80 % and 50 % central bands, and the median)
FAN_QUANTILES = (0.025, 0.10, 0.25, 0.50, 0.75, 0.90, 0.975)
BANDS = ((0, 6, "#d5e3f1", "95%"), (1, 5, "#9dbddd", "80%"), (2, 4, "#5f93c6", "50%"))
MEDIAN_COLOUR = "#173a6b"
HISTORY_COLOUR = "#111111"
TARGET_COLOUR = "#c0392b"
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


def _figure(width: float, height: float, layout: str | None = "constrained"):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout=layout)


def _grid(width: float, height: float, *, left: float, right: float, top: float, bottom: float,
          hspace: float = 0.0, wspace: float = 0.0) -> dict:
    """GridSpec margins from inches (a fixed layout: constrained layout costs ~0.5 s a figure)."""
    return dict(left=left / width, right=1 - right / width, top=1 - top / height,
                bottom=bottom / height, hspace=hspace, wspace=wspace)


# --------------------------------------------------------------------------------------------
# what to draw


@dataclass(frozen=True)
class FanSpec:
    """One indicator view: ``series`` in ``mode`` (``level``/``change``/``sum``)."""

    series: str
    mode: str = "level"
    base: int | None = None   # base year (change) or first year of the window (sum)
    end: int | None = None    # last year of the window (sum)

    @property
    def stem(self) -> str:
        if self.mode == "change":
            return f"{self.series}_change_since_{self.base}"
        if self.mode == "sum":
            return f"{self.series}_sum_{self.base}_{self.end}"
        return self.series

    @property
    def filename(self) -> str:
        return f"fan_{self.stem}.png"

    @property
    def overlay_filename(self) -> str:
        return f"overlay_{self.stem}.png"


def series_variables(ds) -> list[str]:
    """Names of the simulated series in ``ds`` (variables over scenario × draw × year)."""
    return [n for n, v in ds.data_vars.items()
            if v.dims == ("scenario", "draw", "year") and np.isfinite(v.values).any()]


def target_view(ds, row: dict, windows: dict | None = None) -> FanSpec | None:
    """The indicator view on which a target row (of ``targets.csv``) is judged, or None."""
    series = row.get("series")
    if not isinstance(series, str) or series not in ds or ds[series].dims != ("scenario", "draw", "year"):
        return None
    kind = row.get("kind")
    as_of = int(ds.attrs["as_of"])
    if kind in ("level", "share", "count"):
        return FanSpec(series)
    if kind == "cumulative_change":
        b = as_int(row.get("base_year"))
        if b is None or (b < as_of and f"{series}{SINCE}{b}" not in ds):
            return None
        return FanSpec(series, "change", b)
    if kind == "cumulative_sum":
        p0, p1 = (windows or {}).get(row.get("target_id"), (None, None))
        p1 = p1 or as_int(row.get("target_year"))
        if p0 is None or p0 <= as_of or p1 is None:
            return None
        return FanSpec(series, "sum", p0, p1)
    return None


def fan_specs(ds, table: pd.DataFrame, windows: dict | None = None) -> list[FanSpec]:
    """Every indicator view to draw: drivers, derived series and target indicators as levels,
    then each target view (cumulative change from a base year, window total).

    ``windows[target_id] = (period_start, period_end)`` for cumulative-sum targets (from the
    catalogue; ``targets.csv`` does not carry the window).
    """
    from sim.vocabulary import SERIES

    with_targets = set(table["series"].dropna()) if "series" in table else set()
    specs = [FanSpec(s) for s in series_variables(ds)
             if s in with_targets or s not in SERIES or SERIES[s].role in ("driver", "derived")]
    for row in table.drop_duplicates("target_id").to_dict("records"):
        spec = target_view(ds, row, windows)
        if spec is not None and spec not in specs:
            specs.append(spec)
    return specs


def view_values(ds, spec: FanSpec) -> tuple[np.ndarray, np.ndarray]:
    """``(years (Y,), values (S, N, Y))`` of an indicator view."""
    var = ds[spec.series]
    years = ds["year"].values.astype(int)
    v = np.asarray(var.values, dtype=float)
    as_of = int(ds.attrs["as_of"])
    if spec.mode == "level":
        return years, v
    if spec.mode == "change":
        b = spec.base
        if b >= as_of:
            keep = years >= b
            ib = int(np.nonzero(years == b)[0][0])
            return years[keep], 100.0 * (v[..., keep] / v[..., ib:ib + 1] - 1.0)
        since = np.asarray(ds[f"{spec.series}{SINCE}{b}"].values, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_rel = np.log(v / v[..., :1]) + since[None, :, None]
        return years, 100.0 * np.expm1(log_rel)
    if spec.mode == "sum":
        keep = (years >= spec.base) & (years <= spec.end)
        run = np.cumsum(v[..., keep], axis=-1)
        zero = np.zeros(run.shape[:-1] + (1,))
        return np.r_[spec.base - 1, years[keep]], np.concatenate([zero, run], axis=-1)
    raise ValueError(f"unknown view mode {spec.mode!r}")


def fan_quantiles(values: np.ndarray, quantiles=FAN_QUANTILES) -> np.ndarray:
    """(Q, S, Y) quantiles over draws of (S, N, Y) values (NaN draws ignored)."""
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanquantile(values, quantiles, axis=1)


def history_points(hist: pd.DataFrame | None, spec: FanSpec, as_of: int, relative: bool,
                   window: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Observed values (≤ as_of) on the scale of the view, from ``History.select(series)`` rows.

    Levels are drawn as they are; a series with only year-on-year changes is chained into an
    index with as_of = 1; a cumulative change from ``b`` uses levels when both ends are
    observed, else the published cumulative changes with that base year, else chained changes.
    """
    empty = (np.array([], dtype=int), np.array([], dtype=float))
    if hist is None or hist.empty or spec.mode == "sum":
        return empty
    h = hist[hist["year"] <= as_of]
    lv = h[h["kind"] == "level"].set_index("year")["value"].sort_index()
    ch = h[h["kind"] == "change_pct"].set_index("year")["value"].sort_index()
    first = as_of - window
    if spec.mode == "level":
        if not relative:
            lv = lv[lv.index >= first]
            return lv.index.values.astype(int), lv.values.astype(float)
        idx = {as_of: 1.0}
        y = as_of
        while y in ch.index and y - 1 >= first:
            idx[y - 1] = idx[y] / (1 + ch[y] / 100)
            y -= 1
        if len(idx) < 2:
            return empty
        ys = np.array(sorted(idx))
        return ys, np.array([idx[k] for k in ys])
    # change since b
    b = spec.base
    if b in lv.index:
        sub = lv[(lv.index >= b) & (lv.index <= as_of)]
        return sub.index.values.astype(int), 100.0 * (sub.values / lv[b] - 1)
    cum = h[(h["kind"] == "cumulative_change_pct") & (h["base_year"].astype("Float64") == b)]
    if not cum.empty:
        cum = cum.sort_values("year")
        return np.r_[b, cum["year"].values.astype(int)], np.r_[0.0, cum["value"].values.astype(float)]
    ys, vals, acc = [b], [0.0], 0.0
    for y in range(b + 1, as_of + 1):
        if y not in ch.index:
            break
        acc += math.log1p(ch[y] / 100)
        ys.append(y)
        vals.append(100 * math.expm1(acc))
    if len(ys) < 2:
        return empty
    return np.array(ys), np.array(vals)


# --------------------------------------------------------------------------------------------
# labels


def series_labels(ds, series: str) -> tuple[str, str, str]:
    """(Chinese label, English label, unit) of a series, from the Dataset attrs or the vocabulary."""
    from sim.vocabulary import SERIES

    attrs = ds[series].attrs if series in ds else {}
    meta = SERIES.get(series)
    zh = attrs.get("long_name_zh") or (meta.label_zh if meta else "")
    en = attrs.get("long_name") or (meta.label_en if meta else series)
    unit = attrs.get("units") or (meta.unit if meta else "")
    return zh, en, unit


def view_title(ds, spec: FanSpec) -> tuple[str, str]:
    """(title, y-axis label) of a view, bilingual, with the plan's unit."""
    zh, en, unit = series_labels(ds, spec.series)
    as_of = int(ds.attrs["as_of"])
    relative = bool(ds[spec.series].attrs.get("relative_to_as_of", 0))
    if spec.mode == "change":
        return (f"{zh}：较{spec.base}年累计变化  ·  {en}: cumulative change since {spec.base}",
                f"% 较{spec.base}年 / vs {spec.base}")
    if spec.mode == "sum":
        return (f"{zh}：{spec.base}–{spec.end}年累计  ·  {en}: total {spec.base}–{spec.end}",
                f"{unit}（累计 cumulative）")
    if relative:
        return (f"{zh}  ·  {en} (指数 index, {as_of} = 1)", f"指数 index ({as_of} = 1)")
    return f"{zh}  ·  {en}", unit


# --------------------------------------------------------------------------------------------
# charts


def _targets_for(table: pd.DataFrame, ds, spec: FanSpec, windows) -> pd.DataFrame:
    """Rows of ``table`` judged on this view (evaluated or with a value)."""
    if table is None or table.empty:
        return table
    rows = [r for r in table.to_dict("records") if target_view(ds, r, windows) == spec]
    return pd.DataFrame(rows)


def _draw_targets(ax, rows: pd.DataFrame, as_of: int) -> list[str]:
    lines = []
    if rows is None or rows.empty:
        return lines
    for r in rows.to_dict("records"):
        v, y = r.get("value"), as_int(r.get("target_year"))
        tag = SET_LABELS.get(r.get("target_set"), r.get("target_set", ""))
        if y is None:
            continue
        if v is None or not np.isfinite(v):
            lines.append(f"{tag} {y}: 目标值空白 no target value · 未评估 not evaluated")
            continue
        cmp = r.get("comparator")
        if cmp == "range" and np.isfinite(r.get("value_high", np.nan)):
            ax.vlines(y, v, r["value_high"], color=TARGET_COLOUR, lw=3, zorder=5)
        else:
            ax.hlines(v, as_of, y, color=TARGET_COLOUR, ls="--", lw=1.1, zorder=5)
            marker = {">=": "^", "<=": "v"}.get(cmp, "D")
            ax.plot([y], [v], marker=marker, color=TARGET_COLOUR, ms=6, zorder=6, ls="none")
        head = f"{tag} {y}: 目标 target {target_text(r)}"
        if r.get("status") == "evaluated":
            lines.append(f"{head}  ·  P(达标 met) = {fmt_pm(r.get('probability'), r.get('mc_se'))}")
        else:
            lines.append(f"{head}  ·  未评估 not evaluable")
    return lines


def fan_chart(ds, spec: FanSpec, path: Path, *, table: pd.DataFrame | None = None,
              history: pd.DataFrame | None = None, scenario_labels: dict | None = None,
              windows: dict | None = None, quantiles: np.ndarray | None = None) -> Path:
    """Small multiples (one panel per scenario) of one indicator view; writes ``path`` (PNG)."""
    import matplotlib
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    scenario_labels = scenario_labels or {}
    scenarios = [str(s) for s in ds["scenario"].values]
    as_of = int(ds.attrs["as_of"])
    relative = bool(ds[spec.series].attrs.get("relative_to_as_of", 0))
    years, values = view_values(ds, spec)
    q = fan_quantiles(values) if quantiles is None else quantiles
    hy, hv = history_points(history, spec, as_of, relative)
    rows = _targets_for(table, ds, spec, windows)
    title, ylabel = view_title(ds, spec)

    n = len(scenarios)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    n_notes = 0
    if rows is not None and not rows.empty:
        n_notes = int(rows.groupby("scenario").size().max())
    panel_w, panel_h = 3.7, 2.2
    row_gap = 0.62 + 0.15 * n_notes      # title above + tick labels and notes below, inches
    left, right, top, bottom = 0.85, 0.15, 0.62 + 0.3, 0.45 + 0.15 * n_notes + 0.25
    width = left + right + ncols * panel_w + (ncols - 1) * 0.12
    height = top + bottom + nrows * panel_h + (nrows - 1) * row_gap
    with matplotlib.rc_context(style()):
        fig = _figure(width, height, layout=None)
        axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False, gridspec_kw=_grid(
            width, height, left=left, right=right, top=top, bottom=bottom,
            hspace=row_gap / panel_h, wspace=0.12 / panel_w))
        for k, ax in enumerate(axes.flat):
            if k >= n:
                ax.set_visible(False)
                continue
            scen = scenarios[k]
            for lo, hi, colour, _ in BANDS:
                ax.fill_between(years, q[lo, k], q[hi, k], color=colour, lw=0, zorder=2)
            ax.plot(years, q[3, k], color=MEDIAN_COLOUR, lw=1.6, zorder=3)
            if len(hy):
                ax.plot(hy, hv, color=HISTORY_COLOUR, lw=1.8, marker="o", ms=2.5, zorder=4)
            ax.axvline(as_of, color="#777777", ls=":", lw=1, zorder=1)
            sub = rows[rows["scenario"] == scen] if rows is not None and not rows.empty else None
            notes = _draw_targets(ax, sub, as_of)
            label = scenario_labels.get(scen)
            # a plain text, not set_title: title placement costs a tight-bbox pass per panel
            ax.text(0, 1.04, f"{label} · {scen}" if label else scen, transform=ax.transAxes,
                    fontsize=10, ha="left", va="bottom")
            ax.set_xlabel("\n".join(notes), fontsize=7.5, color=TARGET_COLOUR, loc="left")
            ax.xaxis.get_major_locator().set_params(integer=True)
            if k % ncols == 0:
                ax.set_ylabel(ylabel)
            ax.text(as_of, 1.0, f" 截至 as of {as_of}", transform=ax.get_xaxis_transform(),
                    fontsize=7, color="#555555", va="top", ha="left")
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _p: fmt_number(x)))
        handles = [Line2D([], [], color=HISTORY_COLOUR, lw=1.8, marker="o", ms=2.5, label="实际 observed"),
                   Line2D([], [], color=MEDIAN_COLOUR, lw=1.6, label="中位数 median")]
        handles += [Patch(color=c, label=f"{lab} 区间 band") for _, _, c, lab in BANDS[::-1]]
        handles += [Line2D([], [], color=TARGET_COLOUR, ls="--", marker="^", label="目标 target")]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
                   bbox_to_anchor=(0.5, 0.0))
        fig.suptitle(title, fontsize=11, x=0.01, y=1 - 0.12 / height, ha="left", va="top")
        save_png(fig, path)
    return path


def overlay_chart(items: list[tuple[str, np.ndarray, np.ndarray]], path: Path, *, title: str,
                  ylabel: str, as_of: int, history: tuple[np.ndarray, np.ndarray] | None = None,
                  targets: pd.DataFrame | None = None) -> Path:
    """One panel, every scenario's median and 80 % band overlaid.

    ``items``: ``(label, years (Y,), quantiles (7, Y))`` with :data:`FAN_QUANTILES`.
    """
    import matplotlib
    from matplotlib.lines import Line2D

    with matplotlib.rc_context(style()):
        fig = _figure(8.5, 4.6)
        ax = fig.subplots()
        handles = []
        for k, (label, years, q) in enumerate(items):
            c = SCENARIO_COLOURS[k % len(SCENARIO_COLOURS)]
            ax.fill_between(years, q[1], q[5], color=c, alpha=0.13, lw=0)
            ax.plot(years, q[1], color=c, lw=0.6, ls=":")
            ax.plot(years, q[5], color=c, lw=0.6, ls=":")
            ax.plot(years, q[3], color=c, lw=1.8)
            handles.append(Line2D([], [], color=c, lw=1.8, label=label))
        if history is not None and len(history[0]):
            keep = history[0] >= as_of - 5
            history = (history[0][keep], history[1][keep])
            ax.plot(history[0], history[1], color=HISTORY_COLOUR, lw=1.8, marker="o", ms=2.5)
            handles.append(Line2D([], [], color=HISTORY_COLOUR, lw=1.8, marker="o", ms=2.5,
                                  label="实际 observed"))
        ax.axvline(as_of, color="#777777", ls=":", lw=1)
        if targets is not None and not targets.empty:
            seen = targets.drop_duplicates(["target_id", "value"])
            notes = _draw_targets(ax, seen.assign(status="shown"), as_of)
            handles.append(Line2D([], [], color=TARGET_COLOUR, ls="--", marker="^", label="目标 target"))
            ax.set_xlabel("\n".join(n.split("  ·  ")[0] for n in notes), fontsize=8,
                          color=TARGET_COLOUR, loc="left")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _p: fmt_number(x)))
        ax.set_ylabel(ylabel)
        ax.set_title("中位数与80%区间 · median and 80% band by scenario", loc="left", fontsize=9,
                     color="#444444")
        fig.suptitle(title, fontsize=11, x=0.01, ha="left")
        fig.legend(handles=handles, loc="outside right upper", frameon=False)
        save_png(fig, path)
    return path


def _row_label(r: dict) -> str:
    zh = r.get("indicator_zh") or ""
    en = r.get("indicator") or ""
    tag = SET_LABELS.get(r.get("target_set"), r.get("target_set", ""))
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
        fig = _figure(9.5, height)
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
        fig = _figure(3.2 + 1.25 * len(groups) + 3.5, 0.42 * len(targets) + 1.9)
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
        rows = _targets_for(table, ds, spec, windows)
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
