"""Structural breaks: where a series' levels stop being comparable (a census revision, a change of
scope), so that calibration does not read the step across them as growth.

Declared in ``breaks.csv`` of the data directory (one break a row)::

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

import csv
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.errors import Problem, ProblemList
from sim.history import YEAR_MAX, YEAR_MIN, History, is_break
from sim.vocabulary import SERIES, VINTAGES

BREAKS_FILE = "breaks.csv"
REQUIRED = ("series", "year", "reason", "source")
COLUMNS = ("series", "year", "vintage", "reason", "source")


@dataclass(frozen=True)
class Break:
    """Levels of ``series`` before ``year`` are not comparable with those from ``year`` on
    (``vintage`` None: every vintage). ``origin``: ``breaks.csv: line 3`` or the history row."""

    series: str
    year: int
    vintage: str | None
    reason: str
    source: str
    origin: str

    def describe(self) -> str:
        """``break before 2005 (1st economic census; breaks.csv: line 2)``."""
        return f"break before {self.year} ({self.reason}; {self.origin})"


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


def _problems_of_row(raw: dict[str, str], known: set[str]) -> list[str]:
    """What is wrong with one row of ``breaks.csv`` (empty: nothing)."""
    out = []
    series = raw.get("series", "")
    if series not in known:
        out.append(f"series: unknown series '{series}' (expected a series of the vocabulary or "
                   f"of the data)")
    try:
        year = int(raw.get("year", ""))
        if not YEAR_MIN <= year <= YEAR_MAX:
            out.append(f"year: {year} is outside {YEAR_MIN}–{YEAR_MAX}")
    except ValueError:
        out.append(f"year: not a whole year (got '{raw.get('year', '')}')")
    vintage = raw.get("vintage", "")
    if vintage and vintage not in VINTAGES:
        out.append(f"vintage: unknown vintage '{vintage}' (expected blank for every vintage, or "
                   f"one of {', '.join(VINTAGES)})")
    for col in ("reason", "source"):
        if not raw.get(col, ""):
            out.append(f"{col}: empty (every break needs its {col})")
    return out


def _header_problem(header: list[str]) -> str | None:
    missing = [c for c in REQUIRED if c not in header]
    extra = [c for c in header if c not in COLUMNS]
    if not missing and not extra:
        return None
    parts = ([f"missing column(s) {', '.join(missing)}"] if missing else []) + \
        ([f"unexpected column(s) {', '.join(extra)}"] if extra else [])
    return f"{'; '.join(parts)} (expected {','.join(COLUMNS)}; vintage may be omitted)"


def read_breaks(path: Path, known: set[str]) -> list[Break]:
    """Read and validate ``path`` (a ``breaks.csv``); every problem at once as a ProblemList of
    ``FILE: line N: column: what is wrong (expected ...)``."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProblemList([Problem(name, "", f"cannot be read ({exc})")]) from None
    reader = csv.reader(text.splitlines())
    header = [h.strip() for h in next(reader, [])]
    bad_header = _header_problem(header)
    if bad_header:
        raise ProblemList([Problem(name, "line 1", bad_header)])
    problems: list[Problem] = []
    out: list[Break] = []
    seen: dict[tuple[str, str, str], int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(Problem(name, f"line {line}",
                                    f"has {len(cells)} fields, expected {len(header)}"))
            continue
        raw = {k: v.strip() for k, v in zip(header, cells)}
        msgs = _problems_of_row(raw, known)
        key = (raw.get("series", ""), raw.get("year", ""), raw.get("vintage", ""))
        if not msgs and key in seen:
            msgs.append(f"duplicate of line {seen[key]} (one break per series, year and vintage)")
        problems += [Problem(name, f"line {line}", m) for m in msgs]
        if msgs:
            continue
        seen[key] = line
        out.append(Break(raw["series"], int(raw["year"]), raw.get("vintage") or None,
                         raw["reason"], raw["source"], f"{path.name}: line {line}"))
    if problems:
        raise ProblemList(problems)
    return out


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


_CACHE: dict[tuple[str, str], tuple[Break, ...]] = {}


def file_breaks(history: History) -> tuple[Break, ...]:
    """The rows of ``breaks.csv`` in the history's data directory (none when it has none),
    read once per data directory and data hash."""
    path = Path(history.data_dir) / BREAKS_FILE
    key = (str(path), str(history.data_hash))
    if key not in _CACHE:
        known = set(SERIES) | set(history.frame["series"])
        _CACHE[key] = tuple(read_breaks(path, known)) if path.is_file() else ()
    return _CACHE[key]


def breaks_of(history: History) -> Breaks:
    """Every break of ``history``: ``breaks.csv`` and ``break:`` notes, by series and year."""
    found = list(file_breaks(history)) + note_breaks(history.frame)
    by: dict[str, list[Break]] = {}
    for b in sorted(found, key=lambda b: (b.series, b.year)):
        by.setdefault(b.series, []).append(b)
    return Breaks({k: tuple(v) for k, v in by.items()})
