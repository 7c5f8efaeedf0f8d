"""Runs of comparable levels: where a series' levels may be differenced, and where not.

The levels of one series (one row a year, as :meth:`sim.history.History.select` chose them for
the vintage asked for) are split into runs; consecutive levels of one run are comparable, the
step between two runs is never read as growth (:mod:`sim.calibrate.observations` uses the last
run as levels and earlier runs as changes between their own levels). A run ends

1. at a structural break (:mod:`sim.calibrate.breaks`): ``breaks.csv`` or a ``break:`` note;
2. where the vintage tag changes between two *different* vintages of this series. Two tags are
   the same vintage when they are equal, or when one is ``unknown`` (an undocumented vintage is
   no evidence of another basis) and no year holds levels of both tags that differ by more than
   ``VINTAGE_TOLERANCE`` (relative). ``first`` and ``revised`` always differ. So a 2004–2012
   ``unknown`` yearbook panel of hospital beds and a ``first`` 2015 plan figure are one run, while
   Shenzhen's GDP, whose ``unknown`` (NBS database) and ``first`` values disagree in 2001 by 2.4 %,
   keeps them apart.

Every join of two tags and every split is said in a note, with the reason.
"""

from __future__ import annotations

from typing import TypeAlias

import pandas as pd

from sim.calibrate.breaks import Break, Breaks
from sim.history import History

#: Relative difference above which two vintages' levels of one year are a revision, not rounding:
#: published levels carry three or more significant figures (rounding <= 0.5 %).
VINTAGE_TOLERANCE = 0.01
UNKNOWN = "unknown"

Row: TypeAlias = pd.Series


def differing_vintages(history: History, series: str) -> set[frozenset[str]]:
    """Pairs of vintage tags whose levels of one year differ by more than the tolerance."""
    df = history.frame
    df = df[(df["series"] == series) & (df["kind"] == "level")]
    out: set[frozenset[str]] = set()
    for _, g in df.groupby("year"):
        vals = list(zip(g["vintage"].astype(str), g["value"].astype(float)))
        for i, (va, a) in enumerate(vals):
            for vb, b in vals[i + 1:]:
                if va != vb and max(abs(a), abs(b)) > 0 and \
                        abs(a - b) / max(abs(a), abs(b)) > VINTAGE_TOLERANCE:
                    out.add(frozenset((va, vb)))
    return out


def same_vintage(a: str, b: str, differing: set[frozenset[str]]) -> bool:
    """Are levels tagged ``a`` and ``b`` on one basis (rule 2 of the module docstring)?"""
    if a == b:
        return True
    if UNKNOWN not in (a, b):
        return False
    return frozenset((a, b)) not in differing


def _why_split(prev: Row, cur: Row, breaks: Breaks, differing: set[frozenset[str]]
               ) -> Break | str | None:
    """The break, or the vintage reason, separating two consecutive levels; None: comparable."""
    series = str(cur["series"])
    va, vb = str(prev.get("vintage", "")), str(cur.get("vintage", ""))
    brk = breaks.between(series, int(prev["year"]), va, int(cur["year"]), vb)
    if brk is not None:
        return brk
    if same_vintage(va, vb, differing):
        return None
    if UNKNOWN in (va, vb):
        return f"vintages '{va}' and '{vb}' differ (a year holds both with different values)"
    return f"vintages '{va}' and '{vb}' are different publications"


def level_runs(history: History, levels: pd.DataFrame, breaks: Breaks
               ) -> tuple[list[list[Row]], list[str]]:
    """Split level rows (any order) into runs of comparable levels; the last run is current.
    Returns the runs and the notes saying where and why runs were split or tags joined."""
    if levels.empty:
        return [], []
    series = str(levels["series"].iloc[0])
    differing = differing_vintages(history, series)
    runs: list[list[Row]] = []
    notes: list[str] = []
    cur: list[Row] = []
    for _, r in levels.sort_values("year").iterrows():
        if cur:
            prev = cur[-1]
            why = _why_split(prev, r, breaks, differing)
            step = f"{int(prev['year'])}→{int(r['year'])}"
            if why is not None:
                reason = why.describe() if isinstance(why, Break) else why
                notes.append(f"{series}: level step {step} not read as growth: {reason}")
                runs.append(cur)
                cur = []
            elif str(prev.get("vintage", "")) != str(r.get("vintage", "")):
                notes.append(f"{series}: levels of vintage '{prev.get('vintage', '')}' and "
                             f"'{r.get('vintage', '')}' joined across {step}: an 'unknown' "
                             f"vintage is no evidence of another basis and no year shows a "
                             f"revision between them (declare a break in breaks.csv if there "
                             f"is one)")
        cur.append(r)
    runs.append(cur)
    return runs, notes
