"""The target catalogue: every quantitative target of the seed plans, as data.

The catalogue is ``sim/data/targets.csv`` (columns and the decisions behind the values in
``sim/data/TARGETS.md``):

* ``TARGET_SETS`` (defined in :mod:`sim.vocabulary`) — the names of the target sets, in plan
  order, with their documents;
* ``load_catalogue(path=None)`` — the validated catalogue as a DataFrame, one row per target
  (every problem of the file raised at once, naming the line);
* ``targets_for_sets(names)`` — the rows of the named sets;
* :class:`Target` / ``as_targets(df)`` — the same rows as typed objects.

``load_catalogue()`` is always the bundled catalogue. A run's catalogue is the bundled one plus
the ``targets.csv`` of its data directory (``load_catalogue(declarations=history.declarations)``,
i.e. ``history.catalogue()``; :mod:`sim.declared`): a row whose ``id`` is in the catalogue
corrects that row (its non-empty cells replace the catalogue's; the note records what changed
and the catalogue's source), any other row adds a target. Every merged row is checked like a
catalogue row, named by its line in ``targets.csv``, with the plausible values of
:mod:`sim.bounds` (years, shares, signs) and an id of letters, digits and ``_ . -``.
``declared_changes(declarations)`` lists what was added or corrected.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from sim.bounds import (HISTORY_YEAR, LEVEL_TARGET, TARGET_KIND_RANGES, TARGET_VALUE, YEAR,
                        Range)
from sim.declared.files import Declarations, TargetRow
from sim.errors import Problem, ProblemList, SimError, did_you_mean
from sim.numbers import as_int, as_number
from sim.paths import TARGET_CATALOGUE
from sim.vocabulary import FAMILIES, SERIES, TARGET_SETS, Series

COLUMNS = (
    "id", "target_set", "series", "indicator_zh", "indicator_en", "domain", "target_year", "kind",
    "comparator", "value", "value_high", "tolerance", "unit", "base_year", "period_start",
    "period_end", "binding", "value_status", "source", "source_section", "quote_zh", "note",
    "family", "base_value", "base_quote", "approx_sense",
)
KINDS = ("level", "share", "cumulative_change", "cumulative_sum", "count")
COMPARATORS = (">=", "<=", "approx", "range", "==")
BINDINGS = ("binding", "indicative", "unspecified")
VALUE_STATUSES = ("given", "blank", "unclear")
#: Which side of an ``approx`` target counts as meeting it (blank for other comparators):
#: ``higher`` — more is better, met at >= value·(1 − tolerance); ``lower`` — a control target,
#: met at <= value·(1 + tolerance); ``both`` — genuinely two-sided, within ± tolerance.
APPROX_SENSES = ("higher", "lower", "both")
#: A target id: letters, digits, ``_``, ``.``, ``-``, starting with a letter or digit (it names
#: rows of every table, keys of ``[target_values]`` and spreadsheet cells).
TARGET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
#: The years a catalogue row may name: its target year is a year of a scenario (the plans'
#: targets end by 2035), a base year or period a year of the history.
YEAR_RANGES: dict[str, Range] = {"target_year": YEAR, "period_end": YEAR,
                                 "base_year": HISTORY_YEAR, "period_start": HISTORY_YEAR}
YEAR_WHY = {"target_year": "a plan's target year", "period_end": "a plan's target year",
            "base_year": "a year of the history", "period_start": "a year of the history"}

NUMERIC = ("value", "value_high", "tolerance", "base_value")
VERBATIM = ("quote_zh", "base_quote")   # kept byte for byte (checked against the seeds)
YEARS = ("target_year", "base_year", "period_start", "period_end")
REQUIRED = ("id", "target_set", "indicator_zh", "target_year", "kind", "comparator", "unit",
            "binding", "value_status", "source", "quote_zh", "family")
CHOICES = {"target_set": TARGET_SETS, "kind": KINDS, "comparator": COMPARATORS,
           "binding": BINDINGS, "value_status": VALUE_STATUSES, "family": FAMILIES,
           "approx_sense": APPROX_SENSES}


def _choice_problems(row: Mapping[str, str]) -> list[str]:
    """Empty required cells and values outside their column's choices."""
    out = [f"{col} is empty" for col in REQUIRED if not row[col]]
    for col, choices in CHOICES.items():
        if row[col] and row[col] not in choices:
            out.append(f"unknown {col} '{row[col]}'{did_you_mean(row[col], choices)} "
                       f"(expected one of {', '.join(choices)})")
    return out


def _series_problems(row: Mapping[str, str], vocabulary: Mapping[str, Series]) -> list[str]:
    """An unknown series, or a unit that is not the series' unit (``%`` for a change)."""
    series = row["series"]
    if not series:
        return []
    if series not in vocabulary:
        return [f"unknown series '{series}'{did_you_mean(series, vocabulary)}"]
    if row["kind"] in KINDS:
        unit = "%" if row["kind"] == "cumulative_change" else vocabulary[series].unit
        if row["unit"] != unit:
            return [f"unit of series {series} must be '{unit}' (got '{row['unit']}')"]
    return []


def _cell_problems(row: Mapping[str, str]) -> list[str]:
    """An id that is not a plain name, number and year cells that do not parse or lie
    outside their plausible range (:mod:`sim.bounds`)."""
    out = []
    if row["id"] and not TARGET_ID.fullmatch(row["id"]):
        out.append(f"id: expected letters, digits, '_', '.' or '-' starting with a letter or "
                   f"digit (got {row['id']!r})")
    out += [f"{col} is not a number (got '{row[col]}')"
            for col in NUMERIC if row[col] and as_number(row[col]) is None]
    for col in YEARS:
        if row[col] and not row[col].isdigit():
            out.append(f"{col} is not a year (got '{row[col]}')")
        elif row[col] and not YEAR_RANGES[col].contains(int(row[col])):
            out.append(f"{col}: {row[col]} is outside {fmt_years(YEAR_RANGES[col])} (expected "
                       f"{YEAR_WHY[col]})")
    return out


def fmt_years(r: Range) -> str:
    """``2000–2035``."""
    return f"{int(r.lo or 0)}–{int(r.hi or 0)}"


def value_range(row: Mapping[str, str], vocabulary: Mapping[str, Series]) -> Range:
    """The plausible values of a row's ``value`` / ``value_high`` (:mod:`sim.bounds`): by kind
    (share 0–100 %, cumulative change above -100 %, counts and sums not negative); a level of
    a share series 0–100 %, of any other series positive; else any finite number."""
    if row["kind"] in TARGET_KIND_RANGES:
        return TARGET_KIND_RANGES[row["kind"]]
    meta = vocabulary.get(row["series"]) if row["series"] else None
    if row["kind"] == "level" and meta is not None:
        return TARGET_KIND_RANGES["share"] if meta.scale == "logit" else LEVEL_TARGET
    return TARGET_VALUE


def _range_problems(row: Mapping[str, str], vocabulary: Mapping[str, Series]) -> list[str]:
    """Values outside the plausible range of the row's kind and series."""
    out = []
    limits = value_range(row, vocabulary)
    for col in ("value", "value_high", "base_value"):
        v = as_number(row[col]) if row[col] else None
        if v is None:
            continue
        why = (limits if col != "base_value" or row["kind"] not in ("cumulative_change",
                                                                     "cumulative_sum")
               else TARGET_VALUE).problem(v)
        if why:
            what = f"{row['kind'].replace('_', ' ')} target" + (
                f" on {row['series']}" if row["kind"] == "level" and row["series"] else "")
            out.append(f"{col}: {why.replace(' (expected', f' for a {what} (expected', 1)}")
    return out


def _value_problems(row: Mapping[str, str]) -> list[str]:
    """The value cells a target's status, comparator and kind require."""
    out = []
    status, value, kind = row["value_status"], row["value"], row["kind"]
    if status in ("given", "unclear") and not value:
        out.append(f"value is empty but value_status is '{status}' "
                   f"(use 'blank' for a value the plan left blank)")
    if status == "blank" and value:
        out.append(f"value_status is 'blank' but value is '{value}'")
    if row["comparator"] == "range" and not row["value_high"]:
        out.append("comparator 'range' needs value_high")
    if row["comparator"] == "approx" and not row["tolerance"]:
        out.append("comparator 'approx' needs a tolerance")
    if status == "given" and kind == "cumulative_change" and not row["base_year"]:
        out.append("a given cumulative_change needs base_year")
    if status == "given" and kind == "cumulative_sum" and not (row["period_start"]
                                                               and row["period_end"]):
        out.append("a given cumulative_sum needs period_start and period_end")
    if row["comparator"] == "approx" and not row["approx_sense"]:
        out.append("comparator 'approx' needs approx_sense (higher, lower or both)")
    if row["comparator"] != "approx" and row["approx_sense"]:
        out.append(f"approx_sense is only for comparator 'approx' (got '{row['approx_sense']}' "
                   f"with '{row['comparator']}')")
    if bool(row["base_value"]) != bool(row["base_quote"]):
        out.append("base_value and base_quote go together (the quote is where the plan states "
                   "the base)")
    return out


def _check_row(row: dict[str, str], where: str, file: str, seen: dict[str, str],
               vocabulary: Mapping[str, Series] = SERIES) -> list[Problem]:
    """Every problem of one catalogue row (``seen``: id -> where it was first seen)."""
    messages = _choice_problems(row) + _series_problems(row, vocabulary)
    if row["id"] in seen:
        messages.append(f"duplicate id '{row['id']}' (first at {seen[row['id']]})")
    elif row["id"]:
        seen[row["id"]] = where
    messages += _cell_problems(row) + _value_problems(row) + _range_problems(row, vocabulary)
    return [Problem(file, where, m) for m in messages]


def _read_rows(path: Path) -> tuple[list[dict[str, str]], list[Problem]]:
    """The stripped text cells of every row (``quote_zh`` verbatim) and every problem found."""
    file = str(path)
    rows: list[dict[str, str]] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise ProblemList([Problem(file, "line 1",
                                       f"missing column(s): {', '.join(missing)}")])
        for raw in reader:
            where = f"line {reader.line_num}"
            if None in raw or any(v is None for v in raw.values()):
                problems.append(Problem(file, where, f"expected {len(header)} fields"))
                continue
            row = {c: raw[c] if c in VERBATIM else raw[c].strip() for c in COLUMNS}
            problems += _check_row(row, where, file, seen)
            rows.append(row)
    return rows, problems


def _declared_row(tr: TargetRow, old: dict[str, str] | None, vocabulary: Mapping[str, Series]
                  ) -> tuple[dict[str, str], list[str], list[str]]:
    """A ``targets.csv`` row merged onto the catalogue row ``old`` (None: a new target):
    ``(row, changed columns, problems only a declared row can have)``."""
    if old is None:
        row = {c: tr.cells.get(c, "") for c in COLUMNS}
        meta = vocabulary.get(row["series"])
        if not row["family"] and meta is not None and meta.family:
            row["family"] = meta.family
        return row, [c for c in COLUMNS if c in tr.cells], []
    changed = [c for c, v in tr.cells.items() if c not in ("id", "source") and v != old[c]]
    row = {**old, **tr.cells}
    note = f"corrected by {Path(tr.file).name} {tr.where} ({', '.join(changed) or 'no column'}; " \
           f"catalogue source: {old['source']})"
    row["note"] = "; ".join(x for x in (tr.cells.get("note", old["note"]), note) if x)
    bad = [] if tr.cells.get("source") else ["source: empty (a correction needs the source of "
                                             "the corrected value)"]
    return row, changed + ["source"], bad


def merge_declared(rows: list[dict[str, str]], decl: Declarations
                   ) -> tuple[list[dict[str, str]], list[Problem], list[dict[str, str]]]:
    """The catalogue ``rows`` with the declared target rows applied: ``(rows, problems,
    changes)``; ``changes`` has one ``{id, action: added|corrected, columns, where}`` per row."""
    out = list(rows)
    index = {r["id"]: i for i, r in enumerate(rows)}
    problems: list[Problem] = []
    changes: list[dict[str, str]] = []
    seen: dict[str, str] = {}
    for tr in decl.targets:
        tid = tr.cells.get("id", "")
        if tid in seen:
            problems.append(Problem(tr.file, tr.where, f"id: '{tid}' appears twice (first at "
                                                       f"{seen[tid]})"))
            continue
        seen[tid] = tr.where
        old = out[index[tid]] if tid in index else None
        row, columns, bad = _declared_row(tr, old, decl.vocabulary)
        problems += [Problem(tr.file, tr.where, m) for m in bad]
        problems += _check_row(row, tr.where, tr.file, {}, decl.vocabulary)
        if tid in index:
            out[index[tid]] = row
        else:
            index[tid] = len(out)
            out.append(row)
        what = (", ".join(columns) if old is not None else
                f"{row['series'] or 'no series'}, {row['target_year']}: {row['comparator']} "
                f"{row['value'] or '(blank)'} {row['unit']}")
        changes.append({"id": tid, "action": "corrected" if old is not None else "added",
                        "columns": what, "where": f"{Path(tr.file).name}: {tr.where}"})
    return out, problems, changes


def declared_changes(declarations: Declarations) -> list[dict[str, str]]:
    """What a data directory's ``targets.csv`` adds to or corrects in the bundled catalogue."""
    rows, _ = _read_rows(TARGET_CATALOGUE)
    return merge_declared(rows, declarations)[2]


def load_catalogue(path: str | Path | None = None, *,
                   declarations: Declarations | None = None) -> pd.DataFrame:
    """Read and validate the catalogue; raise ProblemList naming file and line for every problem.

    ``path`` (default: the bundled catalogue) merged with the targets ``declarations`` declare
    (a data directory's ``targets.csv``; module docstring). Numeric columns come back as floats
    (NaN when blank), years as nullable integers, text as str (all parsed by
    :func:`sim.numbers.as_number` / :func:`sim.numbers.as_int`).
    """
    path = Path(path) if path is not None else TARGET_CATALOGUE
    try:
        rows, problems = _read_rows(path)
    except FileNotFoundError:
        raise SimError(f"{path}: target catalogue not found") from None
    except UnicodeDecodeError as exc:
        raise SimError(f"{path}: not UTF-8 text ({exc.reason})") from None
    if declarations is not None and not problems:
        rows, problems, _ = merge_declared(rows, declarations)
    if problems:
        raise ProblemList(problems)

    df = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in NUMERIC:
        df[col] = np.array([as_number(v) for v in df[col]], dtype=float)
    for col in YEARS:
        df[col] = pd.array([as_int(v) for v in df[col]], dtype="Int64")
    return df


def check_set_names(names: Iterable[str]) -> None:
    """Raise SimError (with a suggestion) for the first unknown target-set name."""
    for name in names:
        if name not in TARGET_SETS:
            prefixed = [s for s in TARGET_SETS if s.startswith(str(name))]
            hint = (f" (did you mean '{prefixed[0]}'?)" if len(prefixed) == 1
                    else did_you_mean(name, TARGET_SETS))
            raise SimError(f"unknown target set '{name}'{hint} "
                           f"(expected one of {', '.join(TARGET_SETS)})")


def targets_for_sets(names: Iterable[str], path: str | Path | None = None, *,
                     declarations: Declarations | None = None) -> pd.DataFrame:
    """The catalogue rows belonging to the named target sets, in catalogue order
    (``declarations``: a data directory's targets merged in, :func:`load_catalogue`)."""
    names = list(names)
    check_set_names(names)
    df = load_catalogue(path, declarations=declarations)
    return df[df["target_set"].isin(names)].reset_index(drop=True)


@dataclass(frozen=True)
class Target:
    """One catalogue row, typed: what the plan asks of one indicator in one year.

    Numbers are floats or None (blank), years ints or None, text str ("" when blank). ``value``
    is the plan's value (None when the plan left it blank; a scenario may supply one).
    ``family`` is one of :data:`sim.vocabulary.FAMILIES`; ``base_value`` the indicator's value at
    the start of the plan period where the plan states it (``base_quote``), else None;
    ``approx_sense`` the side of an ``approx`` target that counts as met (:data:`APPROX_SENSES`).
    """

    id: str
    target_set: str
    series: str
    indicator_zh: str
    indicator_en: str
    domain: str
    target_year: int | None
    kind: str
    comparator: str
    value: float | None
    value_high: float | None
    tolerance: float | None
    unit: str
    base_year: int | None
    period_start: int | None
    period_end: int | None
    binding: str
    value_status: str
    source: str
    source_section: str
    quote_zh: str
    note: str
    family: str = ""
    base_value: float | None = None
    base_quote: str = ""
    approx_sense: str = ""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Target":
        """From a catalogue row (a dict or a pandas row); blanks and NaN become None / ""."""
        def text(v: Any) -> str:
            return v if isinstance(v, str) else ""

        out: dict[str, Any] = {}
        for f in fields(cls):
            v = row.get(f.name)
            out[f.name] = (as_number(v) if f.name in NUMERIC else as_int(v) if f.name in YEARS
                           else text(v))
        return cls(**out)

    @property
    def indicator(self) -> str:
        """English indicator name, else the Chinese one."""
        return self.indicator_en or self.indicator_zh

    @property
    def is_binding(self) -> bool:
        return self.binding == "binding"


def as_targets(catalogue: pd.DataFrame) -> list[Target]:
    """The rows of a catalogue DataFrame (:func:`load_catalogue`) as :class:`Target` objects."""
    return [Target.from_row(r) for r in catalogue.to_dict("records")]
