"""Read a data directory's ``breaks.csv``: where a series' levels stop being comparable.

One break a row, columns ``series,year,vintage,reason,source`` (``vintage`` may be omitted):

* ``series`` — a series of the run's vocabulary (built in or declared in ``series.csv``);
* ``year`` — the first year on the new basis (a year of :data:`sim.bounds.HISTORY_YEAR`);
* ``vintage`` — blank: every vintage; else one of :data:`sim.vocabulary.VINTAGES`;
* ``reason`` and ``source`` are required (where the break is documented).

Read by :func:`sim.history.load_history` with the rest of the directory, so ``sim validate
--data`` and ``sim run --data`` refuse the same files; what a break does in calibration is
:mod:`sim.calibrate.breaks`.
"""

from __future__ import annotations

import csv
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path

from sim.bounds import HISTORY_YEAR
from sim.declared.files import not_regular
from sim.errors import Problem
from sim.vocabulary import VINTAGES

BREAKS_FILE = "breaks.csv"
REQUIRED = ("series", "year", "reason", "source")
COLUMNS = ("series", "year", "vintage", "reason", "source")
YEAR_MIN, YEAR_MAX = int(HISTORY_YEAR.lo or 0), int(HISTORY_YEAR.hi or 0)


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


def _problems_of_row(raw: dict[str, str], known: Container[str]) -> list[str]:
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


def read_breaks(path: Path, known: Container[str]) -> tuple[list[Break], list[Problem]]:
    """The breaks of ``path`` (a ``breaks.csv``) and every problem of it, each ``FILE: line N:
    column: what is wrong (expected ...)``; ``known``: the series names a break may name."""
    name = str(path)
    why = not_regular(path)
    if why:
        return [], [Problem(name, "", why)]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(name, "", f"cannot be read ({exc})")]
    reader = csv.reader(text.splitlines())
    header = [h.strip() for h in next(reader, [])]
    bad_header = _header_problem(header)
    if bad_header:
        return [], [Problem(name, "line 1", bad_header)]
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
    return out, problems
