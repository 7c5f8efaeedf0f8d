"""Fan charts of the indicators with their history, and scenario overlays.

Fan charts follow the Bank of England layout: observed history as a solid line, the projection
as shaded central bands (50 %, 80 %, 95 % of the draws; darker = more likely) anchored at the
last observed year (as_of, observed in every draw), the median as a line, a dotted vertical line
at as_of, the target as a dashed line ending in a marker at the target year, and P(met) ± its
Monte Carlo standard error under each panel (the headline probability). One distribution per
target: for a ``trend only`` row the fan *is* the headline draws (its median at the target year is
the table's projection); for a ``trend+record`` row the headline (combined) draws exist at the
target year only, drawn there as an orange bar (10–90 %, median ◆: the table's projection,
``targets.csv`` ``median``/``p10``/``p90``), and the shading is labelled "trend alone (p_trend)",
the trend's own P(met) in the note.
One file per indicator view, with one panel per group of scenarios whose draws (and target
notes) are identical: a single panel "all N scenarios identical" when no lever moves the
series, small multiples (shared y axis) only where scenarios differ; the scenario overlay draws
identical scenarios as one line labelled with all their names. Each chart is built here as a
plain-data job (:func:`fan_job`, :func:`overlay_job`: quantiles, history, every label) and drawn
by :mod:`sim.output.drawing` (style, font, PNG), possibly in a worker process.

An *indicator view* (:class:`FanSpec`) is a series in one of three modes:

* ``level``  — the series on its natural scale (an index with as_of = 1 when no level is
  observed);
* ``change`` — the cumulative % change from a base year ``b``: ``100 (S_t / S_b - 1)``; for
  ``b < as_of`` the part already behind as_of comes from ``<series>_log_change_since_<b>``;
* ``sum``    — the running total over a target window ``p0..p1`` (0 at ``p0 - 1``).
"""

from __future__ import annotations

import math
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.evaluation import as_int
from sim.evaluation import evidence as E
from sim.output.drawing import (BANDS, HISTORY_COLOUR, MEDIAN_COLOUR, TARGET_COLOUR,  # noqa: F401
                                Job, draw_fan, draw_overlay)
from sim.output.plots import LOW_INFORMATION, SET_LABELS, low_information
from sim.output.tables import fmt_pct, fmt_pm, target_text
from sim.vocabulary import SERIES

SINCE = "_log_change_since_"

#: quantiles drawn for the fans (pairs of the 95 %, 80 % and 50 % central bands, and the median)
FAN_QUANTILES = (0.025, 0.10, 0.25, 0.50, 0.75, 0.90, 0.975)
NOTE_WIDTH = 76   # half-width cells of a target note under a fan panel (7.5 pt, 3.7 in)


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
             if s in with_targets or (s in SERIES and SERIES[s].role in ("driver", "derived"))]
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
    if not np.isnan(values).any():   # the same numbers, without nanquantile's slow path
        return np.quantile(values, quantiles, axis=1)
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


def target_views(table: pd.DataFrame, ds, windows) -> dict[str, FanSpec | None]:
    """``{target_id: the view it is judged on (or None)}``, once per target (the view depends
    only on the target's series, kind, base year and window, the same in every scenario)."""
    if table is None or table.empty:
        return {}
    return {str(r["target_id"]): target_view(ds, r, windows)
            for r in table.drop_duplicates("target_id").to_dict("records")}


def targets_for(table: pd.DataFrame, ds, spec: FanSpec, windows,
                views: dict[str, FanSpec | None] | None = None) -> pd.DataFrame:
    """Rows of ``table`` judged on this view (evaluated or with a value); ``views`` from
    :func:`target_views` (computed here when not given)."""
    if table is None or table.empty:
        return table
    views = target_views(table, ds, windows) if views is None else views
    ids = [t for t, v in views.items() if v == spec]
    return table[table["target_id"].astype(str).isin(ids)].reset_index(drop=True)


def _records(rows: pd.DataFrame | list[dict] | None) -> list[dict]:
    """Rows of ``targets.csv`` as dicts (a DataFrame is converted once)."""
    if rows is None:
        return []
    return rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)


def target_items(rows: pd.DataFrame | list[dict] | None) -> tuple[list[dict], list[str]]:
    """What each target row adds to a chart: marks for :func:`sim.output.drawing._target_marks`
    (``value, value_high, comparator, year``) and one note line per target (target, P(met) ±
    SE, method, the low-information flag)."""
    marks: list[dict] = []
    lines: list[str] = []
    for r in _records(rows):
        v, y = r.get("value"), as_int(r.get("target_year"))
        tag = SET_LABELS.get(str(r.get("target_set")), r.get("target_set", ""))
        if y is None:
            continue
        if v is None or not np.isfinite(v):
            lines.append(f"{tag} {y}: 目标值空白 no target value · 未评估 not evaluated")
            continue
        high = r.get("value_high")
        mark = dict(value=float(v), year=int(y), comparator=str(r.get("comparator")),
                    value_high=float(high) if high is not None and np.isfinite(high) else math.nan)
        head_q = headline(r)
        if head_q is not None:
            mark["headline"] = head_q
        marks.append(mark)
        head = f"{tag} {y}: 目标 target {target_text(r)}"
        if r.get("status") == "evaluated":
            line = f"{head}  ·  P(达标 met) = {fmt_pm(r.get('probability'), r.get('mc_se'))}"
            line += f" · {E.BASIS_SHORT.get(E.basis(r.get('method')), '')}"
            if r.get("method") == E.TREND_RECORD:   # the fan shows the trend draws
                line += f"; ◆ headline, shading trend alone (p_trend {fmt_pct(r.get('p_trend'))})"
            if low_information(r.get("low_information")):
                line += f" · {LOW_INFORMATION}"
            lines.append(line)
        elif r.get("status") == "shown":
            lines.append(head)
        else:
            lines.append(f"{head}  ·  未评估 not evaluable")
    return marks, lines


def headline(r: dict) -> dict | None:
    """The headline distribution of an evaluated ``trend+record`` row at its target year
    (``median``, ``p10``, ``p90`` of ``targets.csv``: the draws P(met) counts, the table's
    projection), where it differs from the fan's trend draws; None otherwise."""
    if r.get("status") != "evaluated" or r.get("method") != E.TREND_RECORD:
        return None
    q = {k: r.get(k) for k in ("median", "p10", "p90")}
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in q.values()):
        return None
    return {k: float(v) for k, v in q.items()}  # type: ignore[arg-type]


def text_width(text: str) -> int:
    """Width of ``text`` in half-width cells (a Chinese character is two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` half-width cells (:func:`text_width`), broken at spaces (inside
    a word only when the word alone is too wide)."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if text_width(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for c in word:
            if text_width(line + c) > width:
                lines.append(line)
                line = ""
            line += c
    if line:
        lines.append(line)
    return lines or [""]


def _group_title(members: list[str], n_all: int, scenario_labels: dict, width: int) -> list[str]:
    """Title lines of a panel (or legend entry) standing for the scenarios ``members``."""
    if len(members) == 1:
        label = scenario_labels.get(members[0])
        return [f"{label} · {members[0]}" if label else members[0]]
    if len(members) == n_all:
        return [f"所有{n_all}个情景相同 · all {n_all} scenarios identical"]
    return wrap(f"相同 identical: {' = '.join(members)}", width)


def same_key(q: np.ndarray) -> bytes:
    """Identity of a scenario's quantiles for grouping: the values rounded to float32, so two
    scenarios whose draws agree to ~7 digits are "identical" (float32 is what ensemble.nc keeps)."""
    return np.asarray(q, dtype=np.float32).tobytes()


def scenario_groups(keys: list[bytes]) -> list[list[int]]:
    """Indices of equal ``keys``, grouped, in first-seen order: [[0, 2], [1]] for keys a, b, a."""
    groups: dict[bytes, list[int]] = {}
    for k, key in enumerate(keys):
        groups.setdefault(key, []).append(k)
    return list(groups.values())


def fan_job(ds, spec: FanSpec, path: Path, *, table: pd.DataFrame | None = None,
            history: pd.DataFrame | None = None, scenario_labels: dict | None = None,
            windows: dict | None = None, quantiles: np.ndarray | None = None,
            rows: pd.DataFrame | list[dict] | None = None) -> Job:
    """The job of :func:`sim.output.drawing.draw_fan`: one panel per group of scenarios whose
    quantiles (7, Y) and target notes are equal (one panel when no scenario differs).

    ``quantiles`` (7, S, Y) and ``rows`` (:func:`targets_for`) are computed when not given.
    """
    scenario_labels = scenario_labels or {}
    scenarios = [str(s) for s in ds["scenario"].values]
    as_of = int(ds.attrs["as_of"])
    relative = bool(ds[spec.series].attrs.get("relative_to_as_of", 0))
    if quantiles is None:
        years, values = view_values(ds, spec)
        q = fan_quantiles(values)
    else:
        years, q = _view_years(ds, spec), quantiles
    if rows is None:
        rows = targets_for(table, ds, spec, windows)
    title, ylabel = view_title(ds, spec)
    records = _records(rows)
    items = [target_items([r for r in records if str(r.get("scenario")) == scen]) for scen in scenarios]
    keys = [same_key(q[:, k]) + repr(items[k]).encode() for k in range(len(scenarios))]
    panels = []
    groups = scenario_groups(keys)
    width = NOTE_WIDTH if len(groups) > 1 else NOTE_WIDTH * 17 // 10   # one panel: 6.4 in
    for members in groups:
        names = [scenarios[k] for k in members]
        lines = _group_title(names, len(scenarios), scenario_labels, width * 10 // 13)
        marks, notes = items[members[0]]
        notes = [part for note in notes for part in wrap(note, width)]
        panels.append(dict(title="\n".join(lines), title_lines=len(lines), q=q[:, members[0]],
                           marks=marks, notes=notes, scenarios=names))
    return dict(kind="fan", path=str(path), title=title, ylabel=ylabel, as_of=as_of, years=years,
                history=history_points(history, spec, as_of, relative), panels=panels)


def _view_years(ds, spec: FanSpec) -> np.ndarray:
    """The years (Y,) of a view (as :func:`view_values`, without the values)."""
    years = ds["year"].values.astype(int)
    if spec.mode == "change" and spec.base is not None and spec.base >= int(ds.attrs["as_of"]):
        return years[years >= spec.base]
    if spec.mode == "sum" and spec.base is not None and spec.end is not None:
        keep = (years >= spec.base) & (years <= spec.end)
        return np.r_[spec.base - 1, years[keep]]
    return years


def fan_chart(ds, spec: FanSpec, path: Path, *, table: pd.DataFrame | None = None,
              history: pd.DataFrame | None = None, scenario_labels: dict | None = None,
              windows: dict | None = None, quantiles: np.ndarray | None = None) -> Path:
    """Small multiples (one panel per distinct scenario) of one indicator view; writes ``path``."""
    draw_fan(fan_job(ds, spec, path, table=table, history=history, scenario_labels=scenario_labels,
                     windows=windows, quantiles=quantiles))
    return Path(path)


def overlay_job(items: list[tuple[str, np.ndarray, np.ndarray]], path: Path, *, title: str,
                ylabel: str, as_of: int, history: tuple[np.ndarray, np.ndarray] | None = None,
                targets: pd.DataFrame | list[dict] | None = None) -> Job:
    """The job of :func:`sim.output.drawing.draw_overlay`: items with equal years and quantiles
    become one line labelled "a = b (相同 identical)"; history from ``as_of - 5``."""
    keys = [np.asarray(y).tobytes() + same_key(q) for _, y, q in items]
    lines = []
    for members in scenario_groups(keys):
        label = items[members[0]][0]
        if len(members) > 1:
            label = " = ".join(items[k][0] for k in members) + " (相同 identical)"
        lines.append(dict(label="\n".join(wrap(label, 36)), years=items[members[0]][1],
                          q=items[members[0]][2]))
    hy, hv = history if history is not None else (np.array([], dtype=int), np.array([]))
    keep = np.asarray(hy) >= as_of - 5
    marks: list[dict] = []
    notes: list[str] = []
    seen = {(r.get("target_id"), r.get("value")): {**r, "status": "shown"} for r in _records(targets)}
    if seen:
        marks, notes = target_items(list(seen.values()))
    return dict(kind="overlay", path=str(path), title=title, ylabel=ylabel, as_of=int(as_of),
                subtitle="中位数与80%区间 · median and 80% band by scenario (trend draws; ◆ headline "
                         "at the target year where it differs)",
                lines=lines, history=(np.asarray(hy)[keep], np.asarray(hv)[keep]), marks=marks,
                notes=notes)


def overlay_chart(items: list[tuple[str, np.ndarray, np.ndarray]], path: Path, *, title: str,
                  ylabel: str, as_of: int, history: tuple[np.ndarray, np.ndarray] | None = None,
                  targets: pd.DataFrame | None = None) -> Path:
    """One panel, every scenario's median and 80 % band overlaid (identical ones drawn once).

    ``items``: ``(label, years (Y,), quantiles (7, Y))`` with :data:`FAN_QUANTILES`.
    """
    draw_overlay(overlay_job(items, path, title=title, ylabel=ylabel, as_of=as_of, history=history,
                             targets=targets))
    return Path(path)
