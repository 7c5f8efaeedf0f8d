"""What each value of a blank target would mean: the curve of P(met) over target values.

A plan may leave a binding target's value to the province (the 13th FYP's 专栏2 leaves the
cumulative reductions of energy intensity, COD, NH₃-N, SO₂ and NOx blank). The run writes
``value_curves.csv`` (:mod:`sim.evaluation.value_met`: per scenario, target and value ``v`` the
headline P(met) the run would report with that value, and ``p_trend``, the trend alone); here,
for each target whose value the plan leaves blank (no value, or one a scenario supplies):

* :func:`write_value_figures`: ``figures/value_curve_<target>.png`` — P(met) against the target
  value per scenario (identical curves drawn once), the trend alone dashed, the values met with
  P = 0.5 / 0.8 / 0.9 marked, and the plausible range shaded: the five-year allocations of the
  same family in the plan records known by as_of (nation, provinces, Shenzhen's 12th FYP), i.e.
  what a province has handed out before;
* :func:`value_section`: the report's section, in the planner's words — "the plan leaves this
  value to the province; here is what each value would mean".
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import SimError
from sim.evaluation.value_met import VALUE_MET_COLUMNS, VALUE_MET_PROBS
from sim.output import html as H
from sim.output.drawing import SCENARIO_COLOURS, TARGET_COLOUR, new_figure, save_png, style
from sim.output.formatting import COMPARATOR_TEXT, fmt_number
from sim.output.report_assets import cells_table, zoom_figure
from sim.output.value_met_cells import BLANK_HEAD, PLANNER_WORDS

CURVES_FILE = "value_curves.csv"
CURVE_COLUMNS = ("scenario", "target_id", "value", "probability", "p_trend", "method",
                 "plausible_low", "plausible_high")
SECTION_HEAD = BLANK_HEAD
PROB_STYLES = {0.5: ":", 0.8: "--", 0.9: "-."}


def read_curves(folder: Path) -> pd.DataFrame | None:
    """``value_curves.csv`` of a results folder, or None when the run wrote none; a file
    without the expected columns is a :class:`SimError` naming it."""
    path = Path(folder) / CURVES_FILE
    if not path.exists():
        return None
    try:
        curves = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SimError(f"{path}: not a CSV table ({exc})") from None
    missing = [c for c in CURVE_COLUMNS if c not in curves.columns]
    if missing:
        raise SimError(f"{path}: no column {', '.join(missing)} (expected "
                       f"{', '.join(CURVE_COLUMNS)})")
    for c in ("value", "probability", "p_trend", "plausible_low", "plausible_high"):
        curves[c] = pd.to_numeric(curves[c], errors="coerce")
    return curves


def blank_targets(table: pd.DataFrame, curves: pd.DataFrame | None) -> list[str]:
    """Ids of the targets whose value the plan leaves blank (no value, or a scenario's) and
    that have a curve, in table order."""
    if curves is None or curves.empty or "value_source" not in table:
        return []
    value = pd.to_numeric(table.get("value"), errors="coerce")
    blank = table[value.isna() | (table["value_source"] == "scenario")]
    have = set(curves["target_id"].astype(str))
    return [t for t in dict.fromkeys(blank["target_id"].astype(str)) if t in have]


def figure_name(tid: str) -> str:
    """The figure file of target ``tid``, relative to the results folder."""
    return f"figures/value_curve_{tid}.png"


def _groups(curves: pd.DataFrame, scenarios: list[str]) -> list[tuple[list[str], pd.DataFrame]]:
    """Scenarios with identical curves, drawn once: ``[(scenarios, curve)]``."""
    out: list[tuple[list[str], pd.DataFrame]] = []
    for s in scenarios:
        c = curves[curves["scenario"] == s].sort_values("value")
        for names, other in out:
            if np.array_equal(other["value"].to_numpy(), c["value"].to_numpy()) and np.allclose(
                    other["probability"].to_numpy(), c["probability"].to_numpy(), atol=0):
                names.append(s)
                break
        else:
            out.append(([s], c))
    return out


def _x_range(curves: pd.DataFrame) -> tuple[float, float]:
    """The plausible range together with the values where some P(met) is in (0.01, 0.99)."""
    live = curves[(curves["probability"] > 0.01) & (curves["probability"] < 0.99)]["value"]
    vals = list(live) + [v for v in (curves["plausible_low"].min(), curves["plausible_high"].max())
                         if math.isfinite(v)]
    if not vals:
        vals = list(curves["value"])
    lo, hi = min(vals), max(vals)
    pad = 0.08 * (hi - lo or 1.0)
    return lo - pad, hi + pad


def _title(rows: pd.DataFrame) -> tuple[str, str]:
    r = rows.iloc[0]
    zh = r.get("indicator_zh") if isinstance(r.get("indicator_zh"), str) else ""
    en = r.get("indicator") if isinstance(r.get("indicator"), str) else ""
    unit = r.get("unit") if isinstance(r.get("unit"), str) else ""
    year = r.get("target_year")
    kind = r.get("kind")
    if kind == "cumulative_change":
        base = r.get("base_year")
        base_txt = f"{int(base)}" if isinstance(base, (int, float)) and math.isfinite(base) else "?"
        xlabel = (f"目标值：{base_txt}–{int(year)} 累计变化 (%)，−15 即下降 15% · target value: "
                  f"cumulative change {base_txt}→{int(year)} in %, −15 = a 15% reduction")
    else:
        xlabel = f"目标值 target value ({unit}, {int(year)})"
    return f"{zh} · {en} ({int(year)})", xlabel


def write_value_figures(folder: Path, table: pd.DataFrame, labels: dict | None = None
                        ) -> list[dict]:
    """One figure per blank target (module docstring) from ``folder/value_curves.csv``;
    returns one record per file (``kind = "value_curve"``, as :func:`~sim.output.figures.
    write_figures`)."""
    import matplotlib

    curves = read_curves(folder)
    labels = labels or {}
    records = []
    for tid in blank_targets(table, curves):
        assert curves is not None
        c = curves[curves["target_id"].astype(str) == tid]
        rows = table[table["target_id"].astype(str) == tid]
        scenarios = [str(s) for s in dict.fromkeys(rows["scenario"])]
        title, xlabel = _title(rows)
        comparator = str(rows.iloc[0].get("comparator"))
        sign = COMPARATOR_TEXT.get(comparator, comparator)
        with matplotlib.rc_context(style()):
            fig = new_figure(9.4, 4.6)
            ax = fig.subplots()
            lo, hi = c["plausible_low"].min(), c["plausible_high"].max()
            if math.isfinite(lo) and math.isfinite(hi):
                ax.axvspan(lo, hi, color="#eeeeee", lw=0,
                           label=f"以往分配范围 past allocations {fmt_number(lo)} … "
                                 f"{fmt_number(hi)}")
            for k, (names, g) in enumerate(_groups(c, scenarios)):
                colour = SCENARIO_COLOURS[k % len(SCENARIO_COLOURS)]
                name = ", ".join(f"{labels.get(s, '')} {s}".strip() for s in names)
                ax.plot(g["value"], g["probability"], color=colour, lw=1.8, label=name)
                if not np.allclose(g["p_trend"], g["probability"]):
                    ax.plot(g["value"], g["p_trend"], color=colour, lw=0.9, ls="--")
                row = rows[rows["scenario"] == names[0]].iloc[0]
                for col, p in zip(VALUE_MET_COLUMNS, VALUE_MET_PROBS):
                    v = pd.to_numeric(row.get(col), errors="coerce")
                    if pd.notna(v):
                        ax.plot([v], [p], marker="o", color=colour, ms=5)
                        ax.annotate(fmt_number(v), (v, p), textcoords="offset points",
                                    xytext=(4, -10 - 9 * k), fontsize=7, color=colour)
                value = pd.to_numeric(row.get("value"), errors="coerce")
                if pd.notna(value):
                    ax.axvline(value, color=TARGET_COLOUR, lw=1, ls="--")
            for p, ls in PROB_STYLES.items():
                ax.axhline(p, color="#888888", lw=0.8, ls=ls)
            ax.set_xlim(*_x_range(c))
            ax.set_ylim(-0.02, 1.02)
            ax.set_ylabel("达标概率 P(met)")
            ax.set_xlabel(xlabel, fontsize=8)
            note = ("实线：趋势+规划记录（报告的概率）；虚线：仅趋势 · solid: the run's P(met); "
                    f"dashed: trend alone. Met when the indicator is {sign} the value.")
            ax.set_title(f"{title}\n{note}", fontsize=9, loc="left")
            ax.legend(loc="best", fontsize=7, frameon=False)
            save_png(fig, Path(folder) / figure_name(tid))
        records.append(dict(file=figure_name(tid), kind="value_curve", series="", view=tid,
                            title=f"{title}: P(met) against the target value",
                            scenario_groups=[]))
    return records


def value_section(folder: Path, table: pd.DataFrame, figures: list[dict],
                  labels: dict | None = None) -> str:
    """The report's section: the planner's words, then per blank target its figure and the
    values met with P = 0.5 / 0.8 / 0.9 per scenario ("" when the run has no blank target)."""
    curves = read_curves(folder)
    ids = blank_targets(table, curves)
    if not ids:
        return ""
    assert curves is not None
    labels = labels or {}
    files = {f["view"]: f for f in figures if f.get("kind") == "value_curve"}
    out = [f"<p><strong>{H.esc(PLANNER_WORDS)}</strong></p>",
           "<p class=\"muted\">For each value v the curve is the P(met) this run would report if "
           "the scenario set the target to v (the trend combined with the plan record where the "
           "run would combine them); the value met with P = 50/80/90% is the most demanding "
           "value with at least that probability. Shaded (the plausible range): the five-year "
           "targets of the same family that the nation, the provinces and Shenzhen were given "
           "in past plans (the plan records known by as_of) — what has been handed out before, "
           "so where the province's value is likely to fall. Every curve: value_curves.csv."
           "</p>"]
    head = ["情景 Scenario", "目标值 Value in this run"] + [
        f"P = {round(100 * p)}% 可达 value met" for p in VALUE_MET_PROBS] + ["说明 Note"]
    for tid in ids:
        rows = table[table["target_id"].astype(str) == tid]
        title, _ = _title(rows)
        out.append(f"<h3>{H.esc(title)}</h3>")
        c = curves[curves["target_id"].astype(str) == tid]
        lo, hi = c["plausible_low"].min(), c["plausible_high"].max()
        if math.isfinite(lo) and math.isfinite(hi):
            out.append(f"<p>以往分配范围 Past allocations of this family: {H.esc(fmt_number(lo))} "
                       f"… {H.esc(fmt_number(hi))} ({H.esc(rows.iloc[0].get('unit') or '')})</p>")
        if tid in files:
            f = files[tid]
            out.append(zoom_figure(H.img(Path(folder) / f["file"], f["title"]),
                                   f"{H.esc(f['title'])} — {H.esc(f['file'])}"))
        cells = []
        for r in rows.to_dict("records"):
            scen = str(r["scenario"])
            value = pd.to_numeric(r.get("value"), errors="coerce")
            cells.append([H.esc(f"{labels.get(scen, '')} {scen}".strip()),
                          H.esc(fmt_number(value) if pd.notna(value) else "留空 blank")]
                         + [H.esc(fmt_number(pd.to_numeric(r.get(c), errors="coerce")))
                            for c in VALUE_MET_COLUMNS]
                         + [H.esc(r.get("value_met_note") if isinstance(r.get("value_met_note"),
                                                                         str) else "")])
        out.append(cells_table([H.esc(h) for h in head], cells))
    return "".join(out)
