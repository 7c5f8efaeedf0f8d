"""The P(met) charts of a run (and the figure style every chart shares, re-exported).

Charts here: :func:`pmet_chart` (dot-and-whisker, P(met) with its Wilson interval per target and
scenario) and :func:`pmet_heatmap` (targets × scenarios). Each is built as a plain-data *job*
(:func:`pmet_job`, :func:`heatmap_job`: every label written here) and drawn by
:mod:`sim.output.drawing`, which holds the style (CJK font, colours, palette PNG); the fan charts
and scenario overlays of the indicators are in :mod:`sim.output.fans`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.evaluation import as_int
from sim.output.drawing import (DPI, FONT_FAMILY, FONT_FILE, SCENARIO_COLOURS, Job,  # noqa: F401
                                draw_heatmap, draw_pmet, new_figure, save_png, style, use_cjk_font)
from sim.output.tables import fmt_pct, target_text

#: short bilingual names of the target sets, for annotations
SET_LABELS = {
    "action_plan_2015": "行动计划 AP",
    "fyp12_2015": "十二五 FYP12",
    "fyp13_2020": "十三五 FYP13",
    "quality_plan_2020": "质量规划 QDP",
}
LOW_INFORMATION = "信息少 low information"


# --------------------------------------------------------------------------------------------
# P(met) charts


def low_information(value) -> bool:
    """A ``low_information`` cell of ``targets.csv`` as a bool (True, "True", 1; blank = False)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value) if value is not None and value == value else False


def _row_label(r: dict) -> str:
    zh = r.get("indicator_zh") or ""
    en = r.get("indicator") or ""
    tag = SET_LABELS.get(str(r.get("target_set")), r.get("target_set", ""))
    y = as_int(r.get("target_year"))
    flag = f" · {LOW_INFORMATION}" if low_information(r.get("low_information")) else ""
    return f"{zh} {target_text(r)} ({y}, {tag})\n{en}{flag}"


def _evaluated(table: pd.DataFrame, column: str):
    """Evaluated rows, the ``column`` values and the target ids, in order (None when empty)."""
    ev = table[table["status"] == "evaluated"] if not table.empty else table
    if ev.empty:
        return None, [], []
    return ev, list(dict.fromkeys(ev[column])), list(dict.fromkeys(ev["target_id"]))


def _wide(ev: pd.DataFrame, column: str, value: str, targets: list, groups: list) -> np.ndarray:
    """(T, G) array of ``value`` per target (rows) and ``column`` group; NaN where no row."""
    wide = ev.pivot_table(index="target_id", columns=column, values=value, sort=False, dropna=False)
    return wide.reindex(index=targets, columns=groups).to_numpy(dtype=float)


def _first_rows(ev: pd.DataFrame) -> dict:
    """``{target_id: row dict}`` (the first scenario's row; low_information if any row has it)."""
    first = {r["target_id"]: r for r in ev.drop_duplicates("target_id").to_dict("records")}
    if "low_information" in ev:
        low = ev.groupby("target_id", sort=False)["low_information"].agg(
            lambda v: any(low_information(x) for x in v))
        for tid, flag in low.items():
            first[tid]["low_information"] = flag
    return first


def same_rows(*arrays: np.ndarray) -> np.ndarray:
    """(T,) bool: rows equal in every column of every (T, G) array, for more than one column
    (a row with a missing column is not "the same")."""
    n_t, n_g = arrays[0].shape
    if n_g < 2:
        return np.zeros(n_t, dtype=bool)
    return np.logical_and.reduce([(a == a[:, :1]).all(axis=1) for a in arrays])


def pmet_job(table: pd.DataFrame, path: Path, *, column: str = "scenario",
             labels: dict | None = None, title: str = "") -> Job | None:
    """The job of :func:`sim.output.drawing.draw_pmet` for ``table`` (None: nothing evaluated).

    A target whose P(met) and interval are equal in every group is drawn once (``same``).
    """
    ev, groups, targets = _evaluated(table, column)
    if ev is None:
        return None
    labels = labels or {}
    p, lo, hi = (_wide(ev, column, c, targets, groups) for c in ("probability", "ci_low", "ci_high"))
    same = same_rows(p, lo, hi)
    first = _first_rows(ev)
    title = title or "各情景达标概率 · P(target met) by scenario"
    if 0 < int((~same).sum()) < len(targets):   # compare only where scenarios differ
        keep = ~same
        title += (f"\n{int(keep.sum())} / {len(targets)} 个目标各情景不同 · targets whose P(met) differs "
                  f"between scenarios (the other {int(same.sum())}: heat map and tables)")
        p, lo, hi, same = p[keep], lo[keep], hi[keep], same[keep]
        targets = [t for t, k in zip(targets, keep) if k]
    return dict(kind="pmet", path=str(path), p=p, lo=lo, hi=hi, same=same,
                row_labels=[_row_label(first[t]) for t in targets],
                groups=[f"{labels[g]} · {g}" if labels.get(g) else str(g) for g in groups],
                xlabel="P(达标 target met) · Wilson 95% 区间 interval", title=title)


def pmet_chart(table: pd.DataFrame, path: Path, *, column: str = "scenario",
               labels: dict | None = None, title: str = "") -> Path | None:
    """Dot-and-whisker: P(met) with its Wilson 95 % interval, per target (rows) and ``column``."""
    job = pmet_job(table, path, column=column, labels=labels, title=title)
    if job is None:
        return None
    draw_pmet(job)
    return Path(path)


def heatmap_job(table: pd.DataFrame, path: Path, *, column: str = "scenario",
                labels: dict | None = None, title: str = "") -> Job | None:
    """The job of :func:`sim.output.drawing.draw_heatmap` for ``table`` (None: nothing evaluated)."""
    ev, groups, targets = _evaluated(table, column)
    if ev is None:
        return None
    labels = labels or {}
    values = _wide(ev, column, "probability", targets, groups)
    first = _first_rows(ev)
    same = same_rows(values)
    title = title or "达标概率热图 · P(target met) heat map"
    # a row from the plan record alone, the same in every scenario, compares nothing
    record_only = set(ev["target_id"]) - set(ev.loc[ev.get("method", pd.Series("", index=ev.index))
                                                    != "record only", "target_id"])
    drop = same & np.array([t in record_only for t in targets], dtype=bool)
    if drop.any() and not drop.all():
        title += (f"\n不含{int(drop.sum())}个仅凭规划记录、各情景相同的目标 · without the "
                  f"{int(drop.sum())} targets resting on past plans only (参考往期规划: the same in "
                  "every scenario, no verdict: see the table)")
        values, same = values[~drop], same[~drop]
        targets = [t for t, d in zip(targets, drop) if not d]
    if same.any():
        title += "\n一行一个数：各情景相同 · one number across a row: the same in every scenario"
    return dict(kind="heatmap", path=str(path), values=values, same=same,
                cells=[[fmt_pct(v, 0) for v in row] for row in values],
                col_labels=[f"{labels.get(g, '')}\n{g}".strip() for g in groups],
                row_labels=[_row_label(first[t]).replace("\n", " · ") for t in targets], title=title)


def pmet_heatmap(table: pd.DataFrame, path: Path, *, column: str = "scenario",
                 labels: dict | None = None, title: str = "") -> Path | None:
    """Traffic-light heat map: targets (rows) × scenarios (columns), cells = P(met)."""
    job = heatmap_job(table, path, column=column, labels=labels, title=title)
    if job is None:
        return None
    draw_heatmap(job)
    return Path(path)
