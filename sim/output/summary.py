"""The terminal summary printed at the end of ``sim run`` and ``sim report``.

One row per evaluated target, fitted to the terminal's width (``COLUMNS`` /
:func:`shutil.get_terminal_size`): its indicator (English name), the target (``≥ 26,000 亿元``),
its basis (:mod:`sim.evaluation.evidence`: ``data``, ``d+past``, ``past``), P(met) in % in the
baseline, ΔP against the baseline in percentage points for every other scenario (``·`` within
Monte Carlo error: |ΔP| ≤ 2 paired SE), in a mid-term run P at the plan's start and ΔP since
then (baseline), and the target id (the key of ``targets.csv``) where it fits. Rows resting on
the indicator's data come first, those resting on past plans only (no verdict of their own)
after them. Scenario names are never cut: when they do not fit, the columns are numbered
``S1 … Sn`` with a legend; columns that still do not fit are left out, saying so. Then the
"responds to levers" list and the coverage.
"""

from __future__ import annotations

import math
import shutil
import unicodedata
from dataclasses import dataclass

import pandas as pd

from sim.evaluation import as_number
from sim.evaluation import evidence as E
from sim.output.tables import coverage_lines, target_text

#: widest indicator name shown (longer names end in "…"; the id at the end of the row is whole)
INDICATOR_WIDTH = 34
#: width of the ``target`` column (``≥ 26,000 亿元``)
TARGET_WIDTH = 20
MIN_INDICATOR, MIN_TARGET = 12, 10
#: the basis column's short words
BASIS_CODE = {E.DATA: "data", E.DATA_AND_RECORD: "d+past", E.RECORD: "past"}
BASIS_LEGEND = ("basis: data = this indicator's data; d+past = data and past plans; "
                "past = past plans only (no verdict of its own)")
#: rows of the "responds to levers" list shown (the rest are in targets.md / report.html)
MAX_LEVER_LINES = 12


def print_summary(table: pd.DataFrame, folder, *, width: int | None = None) -> None:
    """P(met) per evaluated target (rows) and scenario (columns), then the levers and coverage.

    ``table`` is a run's ``targets.csv`` (one row per scenario × target); ``width`` the
    terminal's columns (default: ``COLUMNS`` / the terminal's, else 100).
    """
    width = width or shutil.get_terminal_size((100, 24)).columns
    if table.empty:
        print("no targets in the chosen sets")
        return
    ev = table[table["status"] == "evaluated"]
    if not ev.empty:
        for line in summary_lines(ev, width):
            print(line)
        for line in lever_block(table, width):
            print(line)
    not_ev = table[table["status"] != "evaluated"].drop_duplicates("target_id")
    print()
    for line in prose(f"{ev['target_id'].nunique()} targets evaluated, {len(not_ev)} not "
                      f"evaluable (reasons in targets.csv). Results: {folder}", width):
        print(line)
    for text in coverage_lines(table)[:1]:
        for line in prose(text, width):
            print(line)


def prose(text: str, width: int, indent: str = "", more: str = "") -> list[str]:
    """``text`` wrapped to ``width`` terminal columns (:func:`display_width`: CJK counts two),
    broken at spaces; the first line starts with ``indent``, the others with ``more``."""
    width = max(width, 20)
    lines: list[str] = []
    line = indent
    for word in text.split():
        lead = more if lines else indent
        candidate = f"{line} {word}" if line.strip() else f"{lead}{word}"
        if display_width(candidate) <= width or not line.strip():
            line = candidate
        else:
            lines.append(line)
            line = f"{more}{word}"
    lines.append(line)
    return [x if display_width(x) <= width else pad(x, width) for x in lines]


def lever_block(table: pd.DataFrame, width: int) -> list[str]:
    """The "responds to levers" list (:func:`sim.evaluation.evidence.lever_lines`), at most
    :data:`MAX_LEVER_LINES` targets, wrapped to ``width``."""
    lines = E.lever_lines(table)
    if not lines:
        return []
    out = [""] + prose(lines[0], width)
    for line in lines[1:MAX_LEVER_LINES + 1]:
        out += prose(line.strip(), width, "  ", "    ")
    if len(lines) - 1 > MAX_LEVER_LINES:
        out.append(f"  … {len(lines) - 1 - MAX_LEVER_LINES} more in targets.md / report.html")
    return out


def _pct(v) -> str:
    x = as_number(v)
    return "–" if x is None else f"{100 * x:.1f}"


def _dp(d, se) -> str:
    """ΔP in pp, '·' within Monte Carlo error (|ΔP| ≤ 2 SE)."""
    x = as_number(d)
    if x is None:
        return "–"
    if not E.significant(d, se) and not (as_number(se) == 0.0 and x != 0.0):
        return "·"
    return f"{100 * x:+.1f}".replace("-", "−")


BASIS_W = 6


@dataclass(frozen=True)
class Layout:
    """The summary's columns at one width: scenario heads (names, or S1…), how many scenarios
    fit, (head, width) of the number columns, whether the id fits, indicator and target widths."""

    heads: list[str]
    n: int
    cols: list[tuple[str, int]]
    show_id: bool
    ind_w: int
    target_w: int


def _layout(scenarios: list[str], midterm: bool, id_w: int, width: int) -> Layout:
    """Fit the table to ``width``: full scenario names where the target id fits beside them,
    else S1…Sn, else fewer scenarios; the target id only where it fits beside the minimal
    indicator and target columns."""
    need = MIN_INDICATOR + MIN_TARGET + 1

    def columns(heads: list[str], n: int) -> list[tuple[str, int]]:
        cols = [f"P {heads[0]}"] + [f"Δ{h}" for h in heads[1:n]]
        if midterm:
            cols += ["P0", "ΔP0"]
        return [(h, max(5, display_width(h))) for h in cols]

    def room(cols: list[tuple[str, int]]) -> int:
        return width - BASIS_W - 1 - sum(w + 1 for _, w in cols)

    heads, n = scenarios, len(scenarios)
    if room(columns(heads, n)) < need + id_w + 1:
        heads = [f"S{k}" for k in range(1, len(scenarios) + 1)]
    while room(columns(heads, n)) < need and n > 1:
        n -= 1
    cols = columns(heads, n)
    avail = room(cols)
    show_id = avail - id_w - 1 >= need
    if show_id:
        avail -= id_w + 1
    target_w = min(TARGET_WIDTH, max(MIN_TARGET, (avail - 1) // 3))
    ind_w = max(MIN_INDICATOR, min(INDICATOR_WIDTH, avail - 1 - target_w))
    return Layout(heads, n, cols, show_id, ind_w, target_w)


def _delta_cell(r, r0) -> str:
    """ΔP of a scenario's row ``r`` against the baseline's ``r0``: the run's paired ΔP, or for
    a table without it (older or edited files) the plain difference of P."""
    if r is None:
        return "–"
    d = as_number(r.get("delta_vs_baseline"))
    if d is not None:
        return _dp(d, r.get("delta_se"))
    p, p0 = as_number(r.get("probability")), as_number(r0.get("probability")) if r0 is not None \
        else None
    return "–" if p is None or p0 is None else f"{100 * (p - p0):+.1f}".replace("-", "−")


def summary_lines(ev: pd.DataFrame, width: int) -> list[str]:
    """The lines of the P(met) table of the evaluated rows ``ev``, fitted to ``width`` columns."""
    scenarios = list(dict.fromkeys(ev["scenario"].astype(str)))
    base = scenarios[0]
    by = ev.set_index(["target_id", "scenario"])
    ids = list(dict.fromkeys(ev["target_id"]))
    first = ev[ev["scenario"] == base].drop_duplicates("target_id").set_index("target_id")
    first = pd.concat([first, ev.drop_duplicates("target_id").set_index("target_id")
                       .drop(index=first.index, errors="ignore")])
    midterm = "p_at_plan_start" in ev and bool(ev["p_at_plan_start"].notna().any())

    lay = _layout(scenarios, midterm, max(display_width(str(t)) for t in ids), width)
    heads, n, cols, show_id, ind_w, target_w = (lay.heads, lay.n, lay.cols, lay.show_id,
                                                lay.ind_w, lay.target_w)
    legend, basis_w = heads[0] != scenarios[0], BASIS_W

    lines = prose(f"P(target met) by scenario ({len(scenarios)} scenarios, {len(ids)} targets): "
                  f"P in % in {base}, ΔP in pp vs {base} (· within Monte Carlo error)"
                  + ("; P0: P at the plan's start, ΔP0: change since (baseline)" if midterm
                     else ""), width)
    if legend:
        lines.append("scenarios:")
        lines += [f"  {h:>4}  {s}" for h, s in zip(heads, scenarios)]
    if n < len(scenarios):
        lines += prose(f"({len(scenarios) - n} scenarios do not fit {width} columns: "
                       f"{', '.join(scenarios[n:])}; see targets.md)", width)
    lines += prose(BASIS_LEGEND, width)
    head = (pad("indicator", ind_w) + " " + pad("target", target_w) + " " + pad("basis", basis_w)
            + "".join(" " + pad(h, w, right=True) for h, w in cols)
            + (" target id" if show_id else ""))
    lines += [head, "-" * min(display_width(head), width)]

    def row_line(tid: str) -> str:
        f = first.loc[tid]
        unit = "" if pd.isna(f.get("unit")) else f" {f['unit']}"
        target = f"{target_text(f.to_dict())}{unit}"
        code = BASIS_CODE.get(E.basis(f.get("method")), "")
        r0 = by.loc[(tid, base)] if (tid, base) in by.index else None
        cells = [_pct(r0["probability"]) if r0 is not None else "–"]
        for s in scenarios[1:n]:
            r = by.loc[(tid, s)] if (tid, s) in by.index else None
            cells.append(_delta_cell(r, r0))
        if midterm:
            p0 = r0.get("p_at_plan_start") if r0 is not None else math.nan
            cells += [_pct(p0), _dp(r0.get("delta_p_since_start"), r0.get("delta_p_since_start_se"))
                      if r0 is not None else "–"]
        return (pad(_name(f), ind_w) + " " + pad(target, target_w) + " " + pad(code, basis_w)
                + "".join(" " + pad(c, w, right=True) for c, (_, w) in zip(cells, cols))
                + (f" {tid}" if show_id else ""))

    data = [t for t in ids if not E.is_record_only_method(first.loc[t].get("method"))]
    record = [t for t in ids if t not in set(data)]
    lines += [row_line(t) for t in data]
    if record:
        lines += prose(f"— {E.RECORD}: {len(record)} targets without data of their own "
                       "(no verdict; P is how often past targets of the family were met"
                       + ("; ΔP0 is an update of the reference class, not progress" if midterm
                          else "") + ") —",
                       width)
        lines += [row_line(t) for t in record]
    if not show_id:
        lines.append("(target ids do not fit this width: see targets.csv)")
    return [line if display_width(line) <= width else pad(line, width) for line in lines]


def _name(row: pd.Series) -> str:
    """The indicator's English name (else its Chinese one, else the series)."""
    for key in ("indicator", "indicator_zh", "series"):
        v = row.get(key)
        if isinstance(v, str) and v.strip():
            return v.strip()
    return "–"


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: wide (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` cut (ending in "…") or padded to ``width`` terminal columns."""
    if display_width(text) > width:
        out = ""
        for c in text:
            if display_width(out + c) > width - 1:
                break
            out += c
        text = out + "…"
    fill = " " * (width - display_width(text))
    return fill + text if right else text + fill
