"""The 时间过半·任务过半 chart of a mid-term run: time elapsed against the change achieved.

For each target whose indicator has data (base, latest observation and target value in the
plan table, :mod:`sim.output.midterm_table`), with ``y_0`` the base year, ``y_1`` the latest
observation's year, ``Y`` the target year, ``x_0`` the base value, ``x_1`` the latest value and
``v`` the target value:

* share of the plan period elapsed  ``t = (y_1 − y_0) / (Y − y_0)``;
* share of the required change achieved  ``a = (x_1 − x_0) / (v − x_0)``.

A target on or above the diagonal ``a = t`` has done at least its share of the work in its share
of the time (时间过半，任务过半); below it, it is behind the straight-line path. Targets whose
latest observation already meets them are drawn with ``a ≥ 1`` as observed. Rows without a
base, a latest value or a change to make (``v = x_0``) are left out and counted in the caption.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from sim.numbers import as_number
from sim.output.drawing import TARGET_COLOUR, new_figure, save_png, style

FILE = "figures/midterm_time_vs_task.png"
TITLE = "时间过半·任务过半 · Share of the plan period elapsed vs share of the required change achieved"


def progress_rows(plan: pd.DataFrame, scenario: str) -> tuple[pd.DataFrame, int]:
    """``(rows, n_left_out)``: per target of ``scenario`` with data, ``elapsed`` t and
    ``achieved`` a (module docstring), with ``label`` and ``p_met``."""
    sub = plan[plan["scenario"] == scenario]
    out, left = [], 0
    for r in sub.to_dict("records"):
        x0, x1, v = (as_number(r.get(k)) for k in ("base_value", "latest_value", "target_value"))
        y0, y1, yy = (as_number(r.get(k)) for k in ("base_year", "latest_year", "target_year"))
        if (x0 is None or x1 is None or v is None or y0 is None or y1 is None or yy is None
                or yy <= y0 or v == x0 or not r.get("p_met_text")):
            left += 1
            continue
        out.append(dict(target_id=r["target_id"], label=str(r.get("indicator_zh") or r["target_id"]),
                        elapsed=(y1 - y0) / (yy - y0), achieved=(x1 - x0) / (v - x0),
                        p_met=as_number(r.get("p_met"))))
    return pd.DataFrame(out, columns=["target_id", "label", "elapsed", "achieved", "p_met"]), left


def write_midterm_chart(folder: Path, plan: pd.DataFrame, scenario: str) -> dict | None:
    """Draw :data:`FILE` into ``folder`` for ``scenario``; its figure record (``kind``
    "midterm") or None when no target has the data."""
    rows, left = progress_rows(plan, scenario)
    if rows.empty:
        return None
    import matplotlib

    with matplotlib.rc_context(style()):
        fig = new_figure(7.5, 6.0)
        ax = fig.add_subplot()
        ys = rows["achieved"].clip(-0.5, 1.5)
        behind = rows["achieved"] < rows["elapsed"]
        ax.plot([0, 1], [0, 1], color="#777777", lw=1, ls="--", label="时间=任务 on the straight-line path")
        ax.axhline(1, color=TARGET_COLOUR, lw=0.8, ls=":")
        ax.scatter(rows["elapsed"][~behind], ys[~behind], color="#2e7d32", zorder=3,
                   label="任务≥时间 ahead of the path")
        ax.scatter(rows["elapsed"][behind], ys[behind], color=TARGET_COLOUR, marker="v", zorder=3,
                   label="任务<时间 behind the path")
        for (_, r), y in zip(rows.iterrows(), ys):
            ax.annotate(r["label"][:10], (r["elapsed"], y), fontsize=7, xytext=(4, 2),
                        textcoords="offset points")
        ax.set_xlim(0, max(1.05, math.ceil(rows["elapsed"].max() * 10) / 10))
        ax.set_ylim(min(-0.1, ys.min() - 0.1), max(1.2, ys.max() + 0.1))
        ax.set_xlabel("规划期已过比例 share of the plan period elapsed (y₁ − y₀)/(Y − y₀)")
        ax.set_ylabel("已完成任务比例 share of the required change achieved (x₁ − x₀)/(v − x₀)")
        ax.legend(loc="upper left", fontsize=8)
        note = f"{scenario}: {len(rows)} targets with base, latest and target value"
        if left:
            note += f"; {left} without (not drawn)"
        ax.set_title(f"{TITLE}\n{note}", fontsize=9, loc="left")
        (Path(folder) / FILE).parent.mkdir(parents=True, exist_ok=True)
        save_png(fig, Path(folder) / FILE)
    return {"kind": "midterm", "file": FILE, "title": TITLE, "view": "", "series": ""}
