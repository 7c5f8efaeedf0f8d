"""The terminal summary printed at the end of ``sim run`` and ``sim report``.

One row per evaluated target: its indicator (English name), the target (``≥ 26,000 亿元``),
P(met) per scenario and the target id (the key of ``targets.csv``). Scenario names are never
cut: when their full names do not fit the terminal, the columns are numbered ``S1 … Sn`` and
a legend above the table gives each number's full name.
"""

from __future__ import annotations

import shutil
import unicodedata

import pandas as pd

from sim.output.tables import coverage_lines, target_text

#: widest indicator name shown (longer names end in "…"; the id at the end of the row is whole)
INDICATOR_WIDTH = 34
#: width of the ``target`` column (``≥ 26,000 亿元``)
TARGET_WIDTH = 20


def print_summary(table: pd.DataFrame, folder, *, width: int | None = None) -> None:
    """P(met) per evaluated target (rows) and scenario (columns), then the coverage.

    ``table`` is a run's ``targets.csv`` (one row per scenario × target); ``width`` the
    terminal's columns (default: the terminal's, else 100).
    """
    if table.empty:
        print("no targets in the chosen sets")
        return
    ev = table[table["status"] == "evaluated"]
    if not ev.empty:
        for line in summary_lines(ev, width or shutil.get_terminal_size((100, 24)).columns):
            print(line)
    not_ev = table[table["status"] != "evaluated"].drop_duplicates("target_id")
    print(f"\n{ev['target_id'].nunique()} targets evaluated, {len(not_ev)} not evaluable "
          f"(reasons in targets.csv). Results: {folder}")
    for line in coverage_lines(table)[:1]:
        print(line)


def summary_lines(ev: pd.DataFrame, width: int) -> list[str]:
    """The lines of the P(met) table of the evaluated rows ``ev``, fitted to ``width`` columns."""
    scenarios = list(dict.fromkeys(ev["scenario"].astype(str)))
    wide = ev.pivot_table(index="target_id", columns="scenario", values="probability",
                          sort=False)[scenarios]
    first = ev.drop_duplicates("target_id").set_index("target_id")
    left = INDICATOR_WIDTH + 2 + TARGET_WIDTH
    full = max(6, *(display_width(s) for s in scenarios))
    if left + len(scenarios) * (full + 2) <= width:
        heads, col = scenarios, full
        lines = [f"P(target met) by scenario ({len(scenarios)} scenarios, {len(wide)} targets)"]
    else:
        heads, col = [f"S{k}" for k in range(1, len(scenarios) + 1)], 6
        lines = [f"P(target met) by scenario ({len(scenarios)} scenarios, {len(wide)} targets); "
                 "scenarios:"]
        lines += [f"  {h:>4}  {s}" for h, s in zip(heads, scenarios)]
    head = (pad("indicator", INDICATOR_WIDTH) + "  " + pad("target", TARGET_WIDTH)
            + "".join("  " + pad(h, col, right=True) for h in heads) + "  target id")
    lines += [head, "-" * display_width(head)]
    for tid, r in wide.iterrows():
        row = first.loc[tid]
        unit = "" if pd.isna(row.get("unit")) else f" {row['unit']}"
        target = f"{target_text(row.to_dict())}{unit}"
        cells = "".join("  " + pad("–" if pd.isna(v) else f"{v:.3f}", col, right=True)
                        for v in r.values)
        lines.append(pad(_name(row), INDICATOR_WIDTH) + "  " + pad(target, TARGET_WIDTH)
                     + cells + f"  {tid}")
    return lines


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
