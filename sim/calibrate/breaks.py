"""Structural breaks: where a series' levels stop being comparable (a census revision, a change of
scope), so that calibration does not read the step across them as growth.

Declared in ``breaks.csv`` of the data directory (one break a row; read and checked with the
rest of the directory by :func:`sim.history.load_history`, :mod:`sim.declared.breaks`)::

    series,year,vintage,reason,source

* ``year`` — the first year on the new basis: levels dated ``< year`` and levels dated
  ``>= year`` are not compared;
* ``vintage`` — blank: every vintage; else the break concerns a step with a level of that
  vintage on either side (the 2004 economic census moved the first-published GDP, not the
  series revised after it);
* ``reason`` and ``source`` are required (where the break is documented).

A row of the history whose ``note`` starts with ``break:`` (:func:`sim.history.is_break`, which
also silences the implausible-jump check for it) declares the same: a break at that row's year,
for that row's vintage, with the note as reason and the row's source. ``breaks.csv`` is the place
for breaks that concern many rows or need their own source; both are read.

What a break does (:mod:`sim.calibrate.levels`): the levels of a series are split into runs at
every break; only the run containing the latest level enters as levels, earlier runs as the
changes between their consecutive levels. That is the likelihood of a level shift of unknown
size at the break (a diffuse offset): the step across is neither growth nor evidence. Published
changes (``change_pct``, ``cumulative_change_pct``) are kept across a break: the publisher states
them on one basis (the 12th-FYP pollutant reductions are on the 2011 scope for 2010 too).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.declared.breaks import BREAKS_FILE, Break
from sim.declared.breaks import read_breaks as _read_breaks
from sim.errors import ProblemList
from sim.history import History, is_break

__all__ = ["BREAKS_FILE", "Break", "Breaks", "breaks_of", "file_breaks", "note_breaks",
           "read_breaks"]


@dataclass(frozen=True)
class Breaks:
    """The breaks of one data set, by series."""

    by_series: dict[str, tuple[Break, ...]]

    def between(self, series: str, year_a: int, vintage_a: str, year_b: int, vintage_b: str
                ) -> Break | None:
        """The first break separating a level of ``year_a`` from one of ``year_b > year_a``
        (``year_a < break.year <= year_b``, of a vintage on either side), or None."""
        for b in self.by_series.get(series, ()):
            if year_a < b.year <= year_b and b.vintage in (None, vintage_a, vintage_b):
                return b
        return None


def read_breaks(path: Path, known: set[str]) -> list[Break]:
    """Read and validate ``path`` (a ``breaks.csv``); every problem at once as a ProblemList of
    ``FILE: line N: column: what is wrong (expected ...)``."""
    found, problems = _read_breaks(path, known)
    if problems:
        raise ProblemList(problems)
    return found


def note_breaks(frame: pd.DataFrame) -> list[Break]:
    """Breaks declared by history rows whose note starts with ``break:``."""
    if "note" not in frame.columns or frame.empty:
        return []
    out = []
    marked = frame[frame["note"].fillna("").astype(str).map(is_break)]
    for _, r in marked.iterrows():
        note = str(r["note"])
        where = (f"{r['file']}: line {int(r['line'])}" if "file" in r and "line" in r
                 else f"{r['series']} {int(r['year'])}")
        out.append(Break(str(r["series"]), int(r["year"]), str(r.get("vintage", "")) or None,
                         note.split(":", 1)[1].strip() or "break", str(r.get("source", "")),
                         where))
    return out


def file_breaks(history: History) -> tuple[Break, ...]:
    """The rows of ``breaks.csv`` in the history's data directory (none when it has none), as
    :func:`sim.history.load_history` read and checked them (a History built by hand, whose
    ``breaks`` is None, has its directory's file read here, every call)."""
    if history.breaks is not None:
        return history.breaks
    path = Path(history.data_dir or ".") / BREAKS_FILE
    known = set(history.vocabulary) | set(history.frame["series"])
    return tuple(read_breaks(path, known)) if path.is_file() else ()


def breaks_of(history: History) -> Breaks:
    """Every break of ``history``: ``breaks.csv`` and ``break:`` notes, by series and year."""
    found = list(file_breaks(history)) + note_breaks(history.frame)
    by: dict[str, list[Break]] = {}
    for b in sorted(found, key=lambda b: (b.series, b.year)):
        by.setdefault(b.series, []).append(b)
    return Breaks({k: tuple(v) for k, v in by.items()})
