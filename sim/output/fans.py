"""Fan charts of the indicators with their history, and scenario overlays.

Fan charts follow the Bank of England layout: observed history as a solid line, the projection
as shaded central bands (50 %, 80 %, 95 % of the draws; darker = more likely) anchored at the
last observed year (as_of, observed in every draw), the median as a line, a dotted vertical line
at as_of, the target as a dashed line ending in a marker at the target year, and P(met) ± its
Monte Carlo standard error under each panel (the headline probability; the shading is the
trend model's draws, so a ``trend+record`` row also gives the trend's own P(met)).
One file per indicator view, with one panel per scenario (small multiples, shared y axis).
Style, font and PNG output: :mod:`sim.output.plots`.

An *indicator view* (:class:`FanSpec`) is a series in one of three modes:

* ``level``  — the series on its natural scale (an index with as_of = 1 when no level is
  observed);
* ``change`` — the cumulative % change from a base year ``b``: ``100 (S_t / S_b - 1)``; for
  ``b < as_of`` the part already behind as_of comes from ``<series>_log_change_since_<b>``;
* ``sum``    — the running total over a target window ``p0..p1`` (0 at ``p0 - 1``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.evaluation import as_int
from sim.output.plots import SCENARIO_COLOURS, SET_LABELS, new_figure, save_png, style
from sim.output.tables import fmt_number, fmt_pct, fmt_pm, target_text
from sim.vocabulary import SERIES

if TYPE_CHECKING:
    from matplotlib.artist import Artist

SINCE = "_log_change_since_"

#: quantiles drawn for the fans (pairs of the 95 %, 80 % and 50 % central bands, and the median)
FAN_QUANTILES = (0.025, 0.10, 0.25, 0.50, 0.75, 0.90, 0.975)
BANDS = ((0, 6, "#d5e3f1", "95%"), (1, 5, "#9dbddd", "80%"), (2, 4, "#5f93c6", "50%"))
MEDIAN_COLOUR = "#173a6b"
HISTORY_COLOUR = "#111111"
TARGET_COLOUR = "#c0392b"


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
        assert b is not None, "a change view has a base year"
        if b >= as_of:
            keep = years >= b
            ib = int(np.nonzero(years == b)[0][0])
            return years[keep], 100.0 * (v[..., keep] / v[..., ib:ib + 1] - 1.0)
        since = np.asarray(ds[f"{spec.series}{SINCE}{b}"].values, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_rel = np.log(v / v[..., :1]) + since[None, :, None]
        return years, 100.0 * np.expm1(log_rel)
    if spec.mode == "sum":
        assert spec.base is not None and spec.end is not None, "a sum view has a window"
        keep = (years >= spec.base) & (years <= spec.end)
        run = np.cumsum(v[..., keep], axis=-1)
        zero = np.zeros(run.shape[:-1] + (1,))
        return np.r_[spec.base - 1, years[keep]], np.concatenate([zero, run], axis=-1)
    raise ValueError(f"unknown view mode {spec.mode!r}")


def fan_quantiles(values: np.ndarray, quantiles=FAN_QUANTILES) -> np.ndarray:
    """(Q, S, Y) quantiles over draws of (S, N, Y) values (NaN draws ignored)."""
    with np.errstate(all="ignore"):
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
    assert b is not None, "a change view has a base year"
    if b in lv.index:
        sub = lv[(lv.index >= b) & (lv.index <= as_of)]
        return sub.index.values.astype(int), 100.0 * (sub.values / lv[b] - 1)
    cum = h[(h["kind"] == "cumulative_change_pct") & (h["base_year"].astype("Float64") == b)]
    if not cum.empty:
        cum = cum.sort_values("year")
        return np.r_[b, cum["year"].values.astype(int)], np.r_[0.0, cum["value"].values.astype(float)]
    chained_years, chained, acc = [b], [0.0], 0.0
    for y in range(b + 1, as_of + 1):
        if y not in ch.index:
            break
        acc += math.log1p(ch[y] / 100)
        chained_years.append(y)
        chained.append(100 * math.expm1(acc))
    if len(chained_years) < 2:
        return empty
    return np.array(chained_years), np.array(chained)


# --------------------------------------------------------------------------------------------
# labels


def series_labels(ds, series: str) -> tuple[str, str, str]:
    """(Chinese label, English label, unit) of a series, from the Dataset attrs or the vocabulary."""
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


def targets_for(table: pd.DataFrame, ds, spec: FanSpec, windows) -> pd.DataFrame:
    """Rows of ``table`` judged on this view (evaluated or with a value)."""
    if table is None or table.empty:
        return table
    rows = [r for r in table.to_dict("records") if target_view(ds, r, windows) == spec]
    return pd.DataFrame(rows)


def _draw_targets(ax, rows: pd.DataFrame | None, as_of: int) -> list[str]:
    """Draw each target row on ``ax``; return one annotation line per target."""
    lines: list[str] = []
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
            line = f"{head}  ·  P(达标 met) = {fmt_pm(r.get('probability'), r.get('mc_se'))}"
            if r.get("method") == "trend+record":   # the fan shows the trend draws
                line += f" (trend+record; trend alone {fmt_pct(r.get('p_trend'))})"
            lines.append(line)
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
    rows = targets_for(table, ds, spec, windows)
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
        fig = new_figure(width, height, layout=None)
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
        handles: list[Artist] = [
            Line2D([], [], color=HISTORY_COLOUR, lw=1.8, marker="o", ms=2.5, label="实际 observed"),
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
        fig = new_figure(8.5, 4.6)
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
