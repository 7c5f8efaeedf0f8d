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
base, without an observation after the base year (``y_1 ≤ y_0``: nothing to say about progress)
or without a change to make (``v = x_0``) are left out and counted in the caption, and so are
targets that set no task of change: a cap above the base (``≤ v`` with ``v > x_0``: an
allowance, where 150 % of the way means the cap is breached), a floor below it, ``≈`` and
ranges — only ``≥ v`` above the base and ``≤ v`` below it are a way to go. Drawn as one
bar per target (the change achieved) with a tick at the time elapsed: labels never overlap.
"""

from __future__ import annotations

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
                or yy <= y0 or y1 <= y0 or v == x0 or not r.get("p_met_text")
                or not _is_a_way_to_go(str(r.get("comparator")), x0, v)):
            left += 1
            continue
        out.append(dict(target_id=r["target_id"], label=str(r.get("indicator_zh") or r["target_id"]),
                        elapsed=(y1 - y0) / (yy - y0), achieved=(x1 - x0) / (v - x0),
                        p_met=as_number(r.get("p_met"))))
    return pd.DataFrame(out, columns=["target_id", "label", "elapsed", "achieved", "p_met"]), left


def with_comparator(plan: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """``plan`` with each row's ``comparator`` from the run's ``table`` (targets.csv rows)."""
    key = ["scenario", "target_id"]
    comparators = table[key + ["comparator"]].drop_duplicates(key)
    return plan.drop(columns=["comparator"], errors="ignore").merge(comparators, on=key, how="left")


def _is_a_way_to_go(comparator: str, base: float, target: float) -> bool:
    """Does the target ask for a change from its base (a rise to ``≥ v`` or a fall to ``≤ v``)?"""
    return (comparator == ">=" and target > base) or (comparator == "<=" and target < base)


def write_midterm_chart(folder: Path, plan: pd.DataFrame, scenario: str) -> dict | None:
    """Draw :data:`FILE` into ``folder`` for ``scenario``; its figure record (``kind``
    "midterm") or None when no target has the data."""
    rows, left = progress_rows(plan, scenario)
    if rows.empty:
        return None
    import matplotlib

    rows = rows.iloc[::-1].reset_index(drop=True)          # first target at the top
    with matplotlib.rc_context(style()):
        fig = new_figure(8.0, 1.6 + 0.28 * len(rows))
        ax = fig.add_subplot()
        y = range(len(rows))
        shown = rows["achieved"].clip(-0.5, 1.5)
        behind = rows["achieved"] < rows["elapsed"]
        ax.barh(y, shown, color=[TARGET_COLOUR if b else "#2e7d32" for b in behind], height=0.6,
                alpha=0.8, label="任务 share of the required change achieved")
        ax.scatter(rows["elapsed"], y, marker="|", s=220, color="black", zorder=3,
                   label="时间 share of the plan period elapsed")
        for k, (a, s_) in enumerate(zip(rows["achieved"], shown)):
            ax.text(s_ + (0.02 if s_ >= 0 else -0.02), k, f"{100 * a:.0f}%", fontsize=7,
                    va="center", ha="left" if s_ >= 0 else "right")
        ax.axvline(1, color=TARGET_COLOUR, lw=0.8, ls=":")
        ax.axvline(0, color="#777777", lw=0.6)
        ax.set_yticks(list(y))
        ax.set_yticklabels([str(x)[:18] for x in rows["label"]], fontsize=7.5)
        ax.set_xlim(min(-0.1, shown.min() - 0.15), max(1.2, shown.max() + 0.2))
        ax.set_xlabel("share of the way from base to target: 任务 (x₁ − x₀)/(v − x₀), 时间 "
                      "(y₁ − y₀)/(Y − y₀); red: task behind time 任务落后于时间", fontsize=8)
        ax.legend(loc="lower right", fontsize=7.5)
        note = (f"{scenario}: {len(rows)} targets with a change to achieve and an observation "
                f"after the base year;\n{left} others not drawn (no such observation, or a cap, "
                f"≈ or range). Bars clipped at −50 % and 150 %, the label is exact.")
        ax.set_title(f"{TITLE}\n{note}", fontsize=9, loc="left")
        (Path(folder) / FILE).parent.mkdir(parents=True, exist_ok=True)
        save_png(fig, Path(folder) / FILE)
    return {"kind": "midterm", "file": FILE, "title": TITLE, "view": "", "series": ""}
