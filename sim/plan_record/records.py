"""Plan records: past plan targets with their outcomes, loaded and validated.

The bundled records are every ``*.csv`` of ``calibration/data/plan_records/`` (its own folder, so
that the history loader, which reads every ``*.csv`` of ``calibration/data``, never sees them),
read in name order. Format, sources, counts and caveats are in ``calibration/data/SOURCES.md``
("Plan records"). One row per past target, with these columns::

    jurisdiction,level,plan,indicator,indicator_en,family,binding,period_start,period_end,
    base_value,target_value,target_text,actual_value,unit,direction,met,flags,
    assessment_text,source,source_url,source_quote[,published,published_source]

* ``level`` — ``city`` · ``province`` · ``nation``; ``family`` — :data:`sim.vocabulary.FAMILIES`;
  ``binding`` — ``binding`` (约束性) · ``indicative`` (预期性) · ``unknown``.
* ``met`` — the official verdict where one was stated (超额完成 / 完成 / 提前完成 / 按期完成 → ``yes``,
  基本完成 → ``partly``, 未完成 → ``no``), else read from the numbers (``assessment_text`` says
  so), ``unknown`` where neither is known.
* ``direction`` — ``higher``: met when ``actual_value >= target_value``; ``lower``: met when
  ``actual_value <= target_value`` (caps and control targets).
* ``flags`` — ``;``-separated, from :data:`FLAGS`.
* ``published`` (optional column) — when the outcome or verdict was made public: a year
  ``YYYY`` or a month ``YYYY-MM``, from ``published_source`` (the assessment, bulletin or report);
  blank: the stated default :data:`DEFAULT_PUBLICATION_LAG` years after ``period_end`` (a plan's
  final assessment appears the year after its period ends), as a bare year.
* Rates of change (units in :data:`RATE_UNITS`: ``% reduction``, ``% per year``, ``% y/y``) are
  changes from the start of the period: their progress is measured from 0
  (:attr:`PlanRecord.progress_ratio`).

:func:`load_plan_records` returns typed :class:`PlanRecord` objects and applies the information
rule (:func:`known_by`): **as_of Y is what had been published when year Y's annual statistics
appeared, i.e. by 30 June of Y + 1** (:data:`INFORMATION_MONTH`). A record published in month
``P-M`` is known at Y when ``(P, M) <= (Y + 1, 6)``; a bare year ``P`` says nothing of the month,
so it counts as December (known from origin ``P``): a record is never used before it could have
been read.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pandas as pd

from sim.bounds import check_as_of
from sim.errors import Problem, ProblemList, SimError, did_you_mean
from sim.numbers import parse_float
from sim.paths import DEFAULT_DATA_DIR
from sim.vocabulary import FAMILIES

PLAN_RECORDS_DIR = DEFAULT_DATA_DIR / "plan_records"
PLAN_RECORDS = PLAN_RECORDS_DIR / "plan_records.csv"

COLUMNS = (
    "jurisdiction", "level", "plan", "indicator", "indicator_en", "family", "binding",
    "period_start", "period_end", "base_value", "target_value", "target_text", "actual_value",
    "unit", "direction", "met", "flags", "assessment_text", "source", "source_url", "source_quote",
)
LEVELS = ("city", "province", "nation")
BINDINGS = ("binding", "indicative", "unknown")
MET = ("yes", "partly", "no", "unknown")
DIRECTIONS = ("higher", "lower")
#: ``implied`` — a number derived by arithmetic from quoted figures (the formula is in
#: ``assessment_text``); ``preliminary`` — a first or expected figure, later revised or not final;
#: ``partial_period`` — the outcome was measured before ``period_end``; ``conflict`` — sources
#: disagree on the target or outcome; ``number_unquoted`` — a number is not in ``source_quote``
#: (it comes from the source named in ``assessment_text``); ``verdict_unquoted`` — the verdict is
#: not in ``source_quote`` (same announcement or the source named in ``assessment_text``);
#: ``definition_changed`` — the outcome is on another statistical definition than the target.
FLAGS = ("implied", "preliminary", "partial_period", "conflict", "number_unquoted",
         "verdict_unquoted", "definition_changed")
#: Flags that keep a record's numbers out of the outcome model (its verdict still counts).
OUTCOME_EXCLUDING_FLAGS = ("partial_period", "conflict", "number_unquoted", "definition_changed")
RATE_UNITS = ("% reduction", "% per year", "% y/y")
OPTIONAL_COLUMNS = ("published", "published_source")
#: Years from ``period_end`` to the publication of the outcome where ``published`` is blank: the
#: final assessment of a plan (or a year's target) is announced in the following year (work
#: reports, assessment announcements of NDRC/NBS); without its month it counts from that year.
DEFAULT_PUBLICATION_LAG = 1
#: As of Y, the information set is what had been published by the end of this month of Y + 1
#: (the annual statistics of year Y appear in February–May of Y + 1).
INFORMATION_MONTH = 6

NUMERIC = ("base_value", "target_value", "actual_value")
YEARS = ("period_start", "period_end")
REQUIRED = ("jurisdiction", "level", "plan", "indicator", "family", "binding", "period_start",
            "period_end", "met", "source", "source_quote")
CHOICES: dict[str, Sequence[str]] = {"level": LEVELS, "family": tuple(FAMILIES),
                                     "binding": BINDINGS, "met": MET, "direction": DIRECTIONS}
VERBATIM = ("source_quote", "target_text")
YEAR_MIN, YEAR_MAX = 1949, 2100


@dataclass(frozen=True)
class PlanRecord:
    """One past target and its outcome (one row of the plan-records file), typed.

    Numbers are floats or None (blank), years ints, ``flags`` a tuple of :data:`FLAGS`; ``line``
    is the row's line in its file (for messages).
    """

    jurisdiction: str
    level: str
    plan: str
    indicator: str
    indicator_en: str
    family: str
    binding: str
    period_start: int
    period_end: int
    base_value: float | None
    target_value: float | None
    target_text: str
    actual_value: float | None
    unit: str
    direction: str
    met: str
    flags: tuple[str, ...]
    assessment_text: str
    source: str
    source_url: str
    source_quote: str
    line: int = 0
    published: int | None = None        # year the outcome was published (None: the default)
    published_month: int | None = None  # its month when the source gives one
    published_source: str = ""
    file: str = ""

    @property
    def published_year(self) -> int:
        """The publication year: ``published``, else ``period_end + DEFAULT_PUBLICATION_LAG``."""
        return self.published if self.published is not None else \
            self.period_end + DEFAULT_PUBLICATION_LAG

    @property
    def published_stated(self) -> bool:
        """Does the record state its publication (True) or take the default (False)?"""
        return self.published is not None

    @property
    def first_known(self) -> int:
        """The first as_of at which the record is known (:meth:`known_at`)."""
        month = self.published_month if self.published_month is not None else 12
        year = self.published_year - 1 if month <= INFORMATION_MONTH else self.published_year
        return max(year, self.period_end)

    def known_at(self, as_of: int) -> bool:
        """Was the outcome published by ``as_of``'s information date (30 June of as_of + 1)?
        A bare year counts as its December (:data:`INFORMATION_MONTH`); a period ending after
        ``as_of`` is never known (as for observations, ``year <= as_of``)."""
        month = self.published_month if self.published_month is not None else 12
        return (self.published_year, month) <= (int(as_of) + 1, INFORMATION_MONTH) and \
            self.period_end <= int(as_of)

    @property
    def verdict(self) -> bool | None:
        """True when met, False when partly met or missed, None when unknown."""
        return {"yes": True, "partly": False, "no": False}.get(self.met)

    @property
    def plan_key(self) -> tuple[str, str]:
        """``(jurisdiction, plan)``: the unit left out together in a leave-one-plan-out test."""
        return (self.jurisdiction, self.plan)

    @property
    def progress_base(self) -> float | None:
        """Where progress is measured from: ``base_value``, or 0 for a rate of change."""
        if self.base_value is not None:
            return self.base_value
        return 0.0 if self.unit in RATE_UNITS else None

    @property
    def progress_ratio(self) -> float | None:
        """``(actual − base) / (target − base)``, or None when a number is missing or the target
        equals the base. 1 = exactly on target; for a target that asks for a move away from the
        base in its ``direction`` (more of a good, less of a bad), ``r >= 1`` is met."""
        base = self.progress_base
        if base is None or self.target_value is None or self.actual_value is None:
            return None
        span = self.target_value - base
        if span == 0:
            return None
        return (self.actual_value - base) / span

    @property
    def improves(self) -> bool | None:
        """Does the target ask for a move from the base in its good ``direction`` (a higher
        value for ``higher``, a lower one for ``lower``)? False for a limit on a move the other
        way (inflation "103 approx", a population cap above the base); None without numbers."""
        base = self.progress_base
        if base is None or self.target_value is None or self.target_value == base:
            return None
        return (self.target_value > base) == (self.direction == "higher")

    @property
    def outcome_usable(self) -> bool:
        """Do this record's numbers enter the outcome model? An improvement target
        (:attr:`improves`) with a positive progress ratio and no flag from
        :data:`OUTCOME_EXCLUDING_FLAGS`."""
        r = self.progress_ratio
        return (r is not None and r > 0 and self.improves is True
                and not any(f in OUTCOME_EXCLUDING_FLAGS for f in self.flags))


def load_plan_records(path: str | Path | None = None,
                      as_of: int | None = None) -> tuple[PlanRecord, ...]:
    """Read and validate plan records (default: every ``*.csv`` of the bundled folder).

    Parameters
    ----------
    path : str or Path, optional
        A CSV file, or a folder whose ``*.csv`` files are read in name order; default
        :data:`PLAN_RECORDS_DIR`.
    as_of : int, optional
        The information rule: keep only records known by ``as_of`` (:func:`known_by`).

    Returns
    -------
    tuple of PlanRecord
        In file order.

    Raises
    ------
    ProblemList
        Every problem of the files at once, each naming the file and line.
    SimError
        A file is missing or not UTF-8, a folder holds no CSV, or ``as_of`` is not a year.
    """
    path = Path(path) if path is not None else PLAN_RECORDS_DIR
    if as_of is not None:
        as_of = check_as_of(as_of)
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    if not files:
        raise SimError(f"{path}: no plan-records file (*.csv) in the folder")
    records: list[PlanRecord] = []
    problems: list[Problem] = []
    for file in files:
        try:
            got, bad = _read(file)
        except FileNotFoundError:
            raise SimError(f"{file}: plan-records file not found") from None
        except UnicodeDecodeError as exc:
            raise SimError(f"{file}: not UTF-8 text ({exc.reason})") from None
        records += got
        problems += bad
    if problems:
        raise ProblemList(problems)
    return known_by(records, as_of) if as_of is not None else tuple(records)


def known_by(records: Iterable[PlanRecord], as_of: int) -> tuple[PlanRecord, ...]:
    """The records whose outcome was published by ``as_of``'s information date
    (:meth:`PlanRecord.known_at`)."""
    as_of = check_as_of(as_of)
    return tuple(r for r in records if r.known_at(as_of))


def targets_known_by(records: Iterable[PlanRecord], as_of: int) -> tuple[PlanRecord, ...]:
    """The records whose *target* was public by ``as_of`` (the plan had started,
    ``period_start <= as_of``), whatever became of the outcome: for uses of the target values
    alone (e.g. the allocations of a family); outcomes and verdicts need :func:`known_by`."""
    as_of = check_as_of(as_of)
    return tuple(r for r in records if r.period_start <= as_of)


def records_frame(records: Iterable[PlanRecord]) -> pd.DataFrame:
    """The records as a DataFrame (one column per field, ``flags`` joined with ``;``), plus
    ``progress_ratio``: for listings and summaries."""
    rows = []
    for r in records:
        row = {f.name: getattr(r, f.name) for f in fields(PlanRecord)}
        row["flags"] = ";".join(r.flags)
        row["progress_ratio"] = r.progress_ratio
        rows.append(row)
    cols = [f.name for f in fields(PlanRecord)] + ["progress_ratio"]
    return pd.DataFrame(rows, columns=cols)


# --- reading and validation ------------------------------------------------------------------

def _read(path: Path) -> tuple[list[PlanRecord], list[Problem]]:
    file = str(path)
    records: list[PlanRecord] = []
    problems: list[Problem] = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in COLUMNS if c not in header]
        extra = [c for c in header if c not in COLUMNS + OPTIONAL_COLUMNS]
        optional = [c for c in OPTIONAL_COLUMNS if c in header]
        if missing or extra:
            parts = ([f"missing column(s): {', '.join(missing)}"] if missing else []) + (
                [f"unexpected column(s): {', '.join(extra)}"] if extra else [])
            raise ProblemList([Problem(file, "line 1", "; ".join(parts))])
        for raw in reader:
            where = f"line {reader.line_num}"
            if None in raw or any(v is None for v in raw.values()):
                problems.append(Problem(file, where, f"expected {len(COLUMNS)} fields"))
                continue
            row = {c: raw[c] if c in VERBATIM else raw[c].strip() for c in COLUMNS}
            row.update({c: raw[c].strip() if c in optional else "" for c in OPTIONAL_COLUMNS})
            messages = _check(row)
            problems += [Problem(file, where, m) for m in messages]
            if not messages:
                records.append(_typed(row, reader.line_num, path.name))
    return records, problems


def _check(row: Mapping[str, str]) -> list[str]:
    """Every problem of one row, in column order."""
    out = [f"{col} is empty" for col in REQUIRED if not row[col]]
    for col, choices in CHOICES.items():
        if row[col] and row[col] not in choices:
            out.append(f"unknown {col} '{row[col]}'{did_you_mean(row[col], choices)} "
                       f"(expected one of {', '.join(choices)})")
    for flag in _flags(row["flags"]):
        if flag not in FLAGS:
            out.append(f"unknown flag '{flag}'{did_you_mean(flag, FLAGS)} "
                       f"(expected one of {', '.join(FLAGS)})")
    out += _number_problems(row)
    out += _year_problems(row)
    out += _published_problems(row)
    return out


def _published(text: str) -> tuple[int, int | None] | None:
    """``YYYY`` or ``YYYY-MM`` → (year, month or None); None when malformed."""
    parts = text.split("-")
    if len(parts) > 2 or not all(p.isdigit() for p in parts):
        return None
    month = int(parts[1]) if len(parts) == 2 else None
    if month is not None and not 1 <= month <= 12:
        return None
    return int(parts[0]), month


def _published_problems(row: Mapping[str, str]) -> list[str]:
    text = row["published"]
    if not text:
        return []
    got = _published(text)
    if got is None:
        return [f"published is not a year or a month (expected YYYY or YYYY-MM, got '{text}')"]
    out = []
    if not YEAR_MIN <= got[0] <= YEAR_MAX:
        out.append(f"published {text} is outside {YEAR_MIN}–{YEAR_MAX}")
    start = row["period_start"]
    if start.isdigit() and got[0] < int(start):
        out.append(f"published {text} is before period_start {start} (expected the year the "
                   f"outcome was made public)")
    if not row["published_source"]:
        out.append("published_source is empty but published is given (where the date is read)")
    return out


def _number_problems(row: Mapping[str, str]) -> list[str]:
    out = []
    for col in NUMERIC:
        text = row[col]
        if not text:
            continue
        value = parse_float(text)
        if value is None:
            out.append(f"{col} is not a number (got '{text}')")
        elif not math.isfinite(value):
            out.append(f"{col} is not finite (got '{text}')")
    if any(row[c] for c in NUMERIC) and not row["unit"]:
        out.append("unit is empty but a value is given")
    if row["target_value"] and not row["direction"]:
        out.append("direction is empty but target_value is given (higher or lower)")
    return out


def _year_problems(row: Mapping[str, str]) -> list[str]:
    out = []
    years: dict[str, int] = {}
    for col in YEARS:
        text = row[col]
        if not text:
            continue
        if not text.isdigit():
            out.append(f"{col} is not a whole year (got '{text}')")
        elif not YEAR_MIN <= int(text) <= YEAR_MAX:
            out.append(f"{col} {text} is outside {YEAR_MIN}–{YEAR_MAX}")
        else:
            years[col] = int(text)
    if len(years) == 2 and years["period_end"] < years["period_start"]:
        out.append(f"period_end {years['period_end']} is before period_start "
                   f"{years['period_start']}")
    return out


def _flags(text: str) -> tuple[str, ...]:
    return tuple(f.strip() for f in text.split(";") if f.strip())


def _typed(row: Mapping[str, str], line: int, file: str = "") -> PlanRecord:
    def number(col: str) -> float | None:
        return parse_float(row[col]) if row[col] else None

    text_cols = {c: row[c] for c in COLUMNS if c not in NUMERIC + YEARS + ("flags",)}
    published = _published(row["published"]) if row["published"] else None
    return PlanRecord(**text_cols, base_value=number("base_value"),
                      target_value=number("target_value"), actual_value=number("actual_value"),
                      period_start=int(row["period_start"]), period_end=int(row["period_end"]),
                      flags=_flags(row["flags"]), line=line,
                      published=published[0] if published else None,
                      published_month=published[1] if published else None,
                      published_source=row["published_source"], file=file)
