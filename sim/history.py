"""Historical observations: load and validate ``calibration/data/*.csv`` (or a user's ``--data DIR``).

Every CSV file holds one observation per row, with exactly these columns::

    series,year,base_year,kind,value,unit,vintage,source,note

* ``kind`` — ``level`` (in the series' unit), ``change_pct`` (year-on-year %, unit ``%``),
  ``cumulative_change_pct`` (% change over the window (base_year, year], unit ``%``) or
  ``period_sum`` (sum of annual levels over (base_year, year], in the series' unit).
  ``base_year`` is blank for ``level`` and ``change_pct`` and required for the other two.
* ``vintage`` — ``first`` (first published, including preliminary figures), ``revised``
  (restated later, e.g. after an economic census) or ``unknown``.

The format and every source are described in ``calibration/data/SOURCES.md``. Loading collects
*all* problems of all files before raising one :class:`~sim.errors.ProblemList`.

:func:`load_history` is the one reading of a data directory: its declarations (``series.csv``,
``targets.csv``, :mod:`sim.declared`), its observations, its ``breaks.csv`` and the catalogue
merged with its targets are read and checked together, so ``sim validate --data`` and every
command that reads ``--data`` refuse the same files. What a directory declares travels in the
:class:`History` (``history.vocabulary``, ``history.declarations``, ``history.catalogue()``);
no module table changes.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping

import pandas as pd

from sim.bounds import (BREAK_PREFIX, HISTORY_YEAR, JUMP_RATIO, OBS_CHANGE_PCT, OBS_CUMULATIVE_PCT,
                        OBS_POSITIVE, OBS_SHARE, Range, check_as_of, fmt_number)
from sim.declared.breaks import BREAKS_FILE, Break, read_breaks
from sim.declared.files import Declarations, load_declarations, not_regular
from sim.declared.records import plan_records_problem
from sim.errors import Problem, ProblemList, SimError, did_you_mean
from sim.numbers import parse_float
from sim.paths import DEFAULT_DATA_DIR
from sim.scenario.messages import printable
from sim.targets import COLUMNS as CATALOGUE_COLUMNS
from sim.targets import VERBATIM, load_catalogue
from sim.vocabulary import KINDS, SERIES, VINTAGES, Series, Vocabulary, expected_unit

COLUMNS = ("series", "year", "base_year", "kind", "value", "unit", "vintage", "source", "note")
YEAR_MIN, YEAR_MAX = int(HISTORY_YEAR.lo or 0), int(HISTORY_YEAR.hi or 0)
CUMULATIVE_KINDS = ("cumulative_change_pct", "period_sum")
LEVEL_KINDS = ("level", "period_sum")  # kinds whose value is an amount, hence never negative
#: files of a data directory that declare things instead of holding observations: series added to
#: the vocabulary, catalogue rows added or overridden, structural breaks. Not read as observations,
#: but part of the data hash (a changed declaration is a changed data set).
DECLARATION_FILES = ("series.csv", "targets.csv", "breaks.csv")


@dataclass(frozen=True)
class History:
    """Validated observations.

    ``frame`` has the columns of the CSV files plus ``file`` (name) and ``line`` (1-based line
    in that file); ``year`` is int, ``base_year`` pandas ``Int64`` (NA when none), ``value`` float.
    ``data_hash`` identifies the input files (sha256 over their sorted names and bytes).
    ``declarations`` are what the directory declares (its series and targets; none for the
    bundled data), ``breaks`` the rows of its ``breaks.csv`` (None: not read, e.g. a History
    built by hand; :func:`sim.calibrate.breaks.file_breaks` then reads the file).
    """

    frame: pd.DataFrame
    data_hash: str
    data_dir: Path
    declarations: Declarations = field(default_factory=Declarations)
    breaks: tuple[Break, ...] | None = None

    @property
    def vocabulary(self) -> Vocabulary:
        """The series this history knows: the built-in ones plus those its directory declares."""
        return self.declarations.vocabulary

    def catalogue(self) -> pd.DataFrame:
        """The target catalogue of this history: the bundled one plus its directory's
        ``targets.csv`` (:func:`sim.targets.load_catalogue`)."""
        return load_catalogue(declarations=self.declarations)

    def upto(self, as_of: int) -> "History":
        """Observations known by ``as_of``: rows with ``year <= as_of``.

        A cumulative change or period sum counts by its end year (``year``), so a 2011–2015
        window is visible from 2015 on. ``as_of`` must be a year of :data:`sim.bounds.YEAR`
        (``calibrate --as-of 3000`` is an error, not the whole data relabelled).
        """
        check_as_of(as_of)
        kept = self.frame[self.frame["year"] <= int(as_of)].reset_index(drop=True)
        return replace(self, frame=kept)

    def select(self, series: str, vintage: str = "revised") -> pd.DataFrame:
        """Rows of one series, one per (year, base_year, kind), sorted by kind and year.

        Where an observation exists in several vintages, keep ``vintage``, else ``unknown``,
        else the remaining one (``revised`` before ``first`` when ``unknown`` was asked for).
        """
        self.vocabulary.series(series)   # an unknown name is an error naming it
        if vintage not in VINTAGES:
            raise SimError(f"unknown vintage '{vintage}' (expected one of {', '.join(VINTAGES)})")
        order = [vintage] + [v for v in ("unknown", "revised", "first") if v != vintage]
        rank = {v: i for i, v in enumerate(order)}
        rows = self.frame[self.frame["series"] == series].copy()
        rows["_rank"] = rows["vintage"].map(rank)
        rows["_base"] = rows["base_year"].fillna(-1)
        rows = rows.sort_values(["kind", "year", "_base", "_rank"], kind="stable")
        rows = rows.drop_duplicates(["kind", "year", "_base"], keep="first")
        return rows.drop(columns=["_rank", "_base"]).reset_index(drop=True)

    def series_names(self) -> list[str]:
        """Names of the series with at least one observation, sorted."""
        return sorted(self.frame["series"].unique())


def load_history(data_dir: Path | str | None = None) -> History:
    """Read and validate the data directory ``data_dir`` (default: the bundled data).

    Its ``series.csv`` and ``targets.csv`` (:mod:`sim.declared`) are read first: the history's
    vocabulary is the built-in one plus its series. Then every other ``*.csv`` (observations),
    ``breaks.csv`` and the catalogue merged with its targets are checked, and every problem of
    them is raised at once. A file that is not a regular file (a FIFO, a device) is refused
    without being opened; a ``plan_records`` folder is refused (runs use the bundled records).
    """
    data_dir = Path(DEFAULT_DATA_DIR if data_dir is None else data_dir)
    if not data_dir.is_dir():
        raise SimError(f"history data directory not found: {data_dir} (expected a folder of CSV files)")
    records_problem = plan_records_problem(data_dir)
    if records_problem is not None:
        raise ProblemList([records_problem])
    decl = load_declarations(data_dir, CATALOGUE_COLUMNS, VERBATIM)
    vocabulary = decl.vocabulary
    every_csv = sorted(data_dir.glob("*.csv"))
    paths = [p for p in every_csv if p.name not in DECLARATION_FILES]
    if not paths:
        raise SimError(f"no CSV files in history data directory {data_dir}")

    problems: list[Problem] = []
    records: list[dict] = []
    for path in paths:
        records += _read_file(path, problems, vocabulary)
    _check_across_rows(records, problems)
    _check_jumps(records, problems)
    _drop_where(records)
    breaks: list[Break] = []
    if (data_dir / BREAKS_FILE).exists():
        breaks, more = read_breaks(data_dir / BREAKS_FILE, vocabulary)
        problems += more
    try:
        load_catalogue(declarations=decl)
    except ProblemList as exc:
        problems += exc.problems
    if problems:
        problems.sort(key=lambda p: (p.file, int(p.where.split()[-1]) if p.where else 0))
        raise ProblemList([Problem(p.file, p.where, printable(p.message)) for p in problems])

    frame = pd.DataFrame(records, columns=list(COLUMNS) + ["file", "line"])
    frame = frame.astype({"year": int, "value": float, "line": int})
    frame["base_year"] = frame["base_year"].astype("Int64")
    digest = hashlib.sha256()
    for path in every_csv:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return History(frame, digest.hexdigest(), data_dir, decl, tuple(breaks))


def _read_file(path: Path, problems: list[Problem], vocabulary: Mapping[str, Series]) -> list[dict]:
    """Parse one CSV file; append its row-level problems and return the rows that parsed."""
    where = str(path)
    why = ("is a folder, not a CSV file (expected a file of observations; rename or move it)"
           if path.is_dir() else not_regular(path))
    if why:
        problems.append(Problem(where, "", why))
        return []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem(where, "",
                                f"cannot be read as UTF-8 ({exc.reason} at byte {exc.start})"))
        return []
    except OSError as exc:
        problems.append(Problem(where, "", f"cannot be read ({exc.strerror or exc})"))
        return []
    reader = csv.reader(text.splitlines())
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in COLUMNS if c not in header]
    extra = [c for c in header if c not in COLUMNS]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected column(s) {', '.join(extra)}")
        problems.append(Problem(where, "line 1",
                                f"{'; '.join(parts)} (expected exactly: {','.join(COLUMNS)})"))
        if missing:
            return []
    rows = []
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(Problem(where, f"line {line}",
                                    f"has {len(cells)} fields, expected {len(header)}"))
            continue
        raw = {k: v.strip() for k, v in zip(header, cells)}
        row, messages = _check_row(raw, vocabulary)
        problems += [Problem(where, f"line {line}", m) for m in messages]
        if row is not None:
            rows.append(dict(row, file=path.name, line=line, _where=where))
    return rows


def _check_row(raw: dict, vocabulary: Mapping[str, Series]) -> tuple[dict | None, list[str]]:
    """Validate one row's fields: ``(typed row, [])``, or ``(None, problems)``."""
    messages = _name_problems(raw, vocabulary)
    value, value_problems = _parse_value(raw, vocabulary)
    messages += value_problems
    year, base_year, year_problems = _parse_years(raw)
    messages += year_problems
    if not raw["source"]:
        messages.append("empty source (every observation needs a URL or citation)")
    if messages:
        return None, messages
    return {**raw, "year": year, "base_year": base_year, "value": value}, []


def _name_problems(raw: dict, vocabulary: Mapping[str, Series]) -> list[str]:
    """Unknown series, kind or vintage, and a unit that is not the one of the series and kind."""
    series, kind, vintage, unit = raw["series"], raw["kind"], raw["vintage"], raw["unit"]
    out = []
    if series not in vocabulary:
        out.append(f"unknown series '{series}'{did_you_mean(series, vocabulary)} (a new series is "
                   f"declared in the data directory's series.csv)")
    if kind not in KINDS:
        out.append(f"unknown kind '{kind}' (expected one of {', '.join(KINDS)})")
    if vintage not in VINTAGES:
        out.append(f"unknown vintage '{vintage}' (expected one of {', '.join(VINTAGES)})")
    if series in vocabulary and kind in KINDS:
        want = expected_unit(vocabulary[series], kind)
        if unit != want:
            out.append(f"wrong unit for {series} {kind} (expected '{want}', got '{unit}')")
    return out


def plausible_range(series: str, kind: str, vocabulary: Mapping[str, Series] = SERIES
                    ) -> Range | None:
    """The plausible values of an observation of ``kind`` of ``series`` (:mod:`sim.bounds`):
    a share (logit scale) strictly inside 0–100 %, any other level or period sum positive (a
    declared series' level: within its ``lower``/``upper``), a change above -100 %; None for an
    unknown series or kind."""
    if series not in vocabulary or kind not in KINDS:
        return None
    if kind == "change_pct":
        return OBS_CHANGE_PCT
    if kind == "cumulative_change_pct":
        return OBS_CUMULATIVE_PCT
    meta = vocabulary[series]
    if kind == "level" and (meta.lower is not None or meta.upper is not None):
        lo = 0.0 if meta.lower is None else meta.lower
        hi = meta.upper if meta.upper is not None else (100.0 if meta.scale == "logit" else None)
        return Range(lo, hi, f"the range declared in {meta.declared_in}", lo_open=lo == 0.0,
                     hi_open=meta.scale == "logit" and hi == 100.0)
    if kind == "level" and meta.scale == "logit":
        return OBS_SHARE
    return OBS_POSITIVE


def _parse_value(raw: dict, vocabulary: Mapping[str, Series]) -> tuple[float | None, list[str]]:
    """The value as a float, and the problems with it (not a number, not finite, outside the
    plausible range of its series and kind)."""
    value = parse_float(raw["value"])
    if value is None:
        return None, [f"value is not a number (expected a finite number, got '{raw['value']}')"]
    if not math.isfinite(value):
        return None, [f"value is not finite (expected a finite number, got '{raw['value']}')"]
    limits = plausible_range(raw["series"], raw["kind"], vocabulary)
    if limits is not None and not limits.contains(value):
        return None, [f"{raw['kind']} of {raw['series']} out of range (expected "
                      f"{limits.expected()}, got {raw['value']})"]
    return value, []


def _parse_years(raw: dict) -> tuple[int | None, int | None, list[str]]:
    """``(year, base_year, problems)``: base_year is required for the cumulative kinds only."""
    out: list[str] = []
    kind = raw["kind"]
    year = _year(raw["year"], "year", out.append)
    base_year = None
    if kind in CUMULATIVE_KINDS:
        if not raw["base_year"]:
            out.append(f"base_year missing (required for kind {kind}: the window is "
                       f"(base_year, year])")
        else:
            base_year = _year(raw["base_year"], "base_year", out.append)
            if base_year is not None and year is not None and base_year >= year:
                out.append(f"base_year must be before year (got base_year {base_year}, "
                           f"year {year})")
    elif raw["base_year"] and kind in KINDS:
        out.append(f"base_year given for kind {kind} (expected blank, got '{raw['base_year']}')")
    return year, base_year, out


def _year(text: str, name: str, bad: Callable[[str], None]) -> int | None:
    try:
        year = int(text)
    except ValueError:
        bad(f"{name} is not a whole year (got '{text}')")
        return None
    if not YEAR_MIN <= year <= YEAR_MAX:
        bad(f"{name} {year} is outside {YEAR_MIN}–{YEAR_MAX}")
        return None
    return year


def _check_across_rows(records: list[dict], problems: list[Problem]) -> None:
    """Exact duplicates and conflicting values of one (series, year, base_year, kind, vintage)."""
    seen_exact: dict[tuple, dict] = {}
    seen_key: dict[tuple, dict] = {}
    for rec in records:
        exact = tuple(rec[c] for c in COLUMNS)
        if exact in seen_exact:
            first = seen_exact[exact]
            problems.append(Problem(rec["_where"], f"line {rec['line']}",
                                    f"exact duplicate of {first['file']} line {first['line']}"))
            continue
        seen_exact[exact] = rec
        key = (rec["series"], rec["year"], rec["base_year"], rec["kind"], rec["vintage"])
        other = seen_key.setdefault(key, rec)
        if other is not rec and other["value"] != rec["value"]:
            window = f"{rec['base_year']}–{rec['year']}" if rec["base_year"] else str(rec["year"])
            problems.append(Problem(
                rec["_where"], f"line {rec['line']}",
                f"conflicting value for {rec['series']} {rec['kind']} {window} "
                f"vintage {rec['vintage']} (got {rec['value']:.12g}, but {other['file']} "
                f"line {other['line']} has {other['value']:.12g}); keep one, or mark them "
                f"first/revised",
            ))


def _chains(records: list[dict]) -> list[list[dict]]:
    """Sequences of levels the models may difference: each series per vintage, and each
    series as :meth:`History.select` mixes the vintages for every vintage asked for."""
    by_series: dict[str, list[dict]] = {}
    for rec in records:
        if rec["kind"] == "level":
            by_series.setdefault(rec["series"], []).append(rec)
    chains = []
    for rows in by_series.values():
        for vintage in VINTAGES:
            chains.append(sorted((r for r in rows if r["vintage"] == vintage),
                                 key=lambda r: r["year"]))
            order = [vintage] + [v for v in ("unknown", "revised", "first") if v != vintage]
            best: dict[int, dict] = {}
            for r in sorted(rows, key=lambda r: order.index(r["vintage"]), reverse=True):
                best[r["year"]] = r
            chains.append([best[y] for y in sorted(best)])
    return chains


def _check_jumps(records: list[dict], problems: list[Problem]) -> None:
    """Implausible jumps between consecutive levels of one series: an average year-on-year
    ratio outside :data:`sim.bounds.JUMP_RATIO` (×1000 in a year is a unit or typing error),
    unless the later row's note marks a break (``break: <reason>``)."""
    seen: set[tuple[int, int]] = set()
    for chain in _chains(records):
        for a, b in zip(chain, chain[1:]):
            if (id(a), id(b)) in seen or a["value"] <= 0 or b["value"] <= 0:
                continue
            seen.add((id(a), id(b)))
            if is_break(b["note"]):
                continue
            gap = b["year"] - a["year"]
            if gap <= 0:
                continue   # a duplicate or conflict of one year: reported above
            ratio = (b["value"] / a["value"]) ** (1.0 / gap)
            if JUMP_RATIO.contains(ratio):
                continue
            other = f"{a['file']} line {a['line']}" if a["file"] != b["file"] else f"line {a['line']}"
            per = "a year" if gap == 1 else f"a year on average over {gap} years"
            vintages = (b["vintage"] if a["vintage"] == b["vintage"]
                        else f"{a['vintage']} then {b['vintage']}")
            problems.append(Problem(
                b["_where"], f"line {b['line']}",
                f"implausible jump of {b['series']} level ({vintages}) from "
                f"{fmt_number(a['value'])} in {a['year']} ({other}) to "
                f"{fmt_number(b['value'])} in {b['year']}: ×{ratio:.3g} {per} (expected a ratio "
                f"between {fmt_number(JUMP_RATIO.lo or 0)} and {fmt_number(JUMP_RATIO.hi or 0)}); "
                f"correct the value, or if the series really breaks here write a note starting "
                f"'{BREAK_PREFIX} <reason>'"))


def is_break(note: str) -> bool:
    """Does a row's ``note`` mark a documented break in its series (``break: <reason>``)?"""
    return note.strip().lower().startswith(BREAK_PREFIX)


def _drop_where(records: list[dict]) -> None:
    for rec in records:
        rec.pop("_where", None)
