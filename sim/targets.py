"""The target catalogue: every quantitative target in the seed plans, as data (``sim/data/targets.csv``).

Contract used by other modules (filled in by the catalogue work):

* ``TARGET_SETS`` — the names of the target sets, in plan order.
* ``load_catalogue(path=None) -> pandas.DataFrame`` — one row per target with at least the
  columns ``id, target_set, series, indicator_zh, indicator_en, target_year, kind, comparator,
  value, value_high, tolerance, unit, base_year, period_start, period_end, binding,
  value_status, source, source_section, quote_zh, note``.
* ``targets_for_sets(names) -> pandas.DataFrame`` — the rows of the named sets.

The columns and the decisions behind the values are described in ``sim/data/TARGETS.md``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from dataclasses import dataclass, fields
from typing import Any, Iterable, Mapping

from sim.errors import Problem, ProblemList, SimError, did_you_mean

# name -> description (document, year of the targets)
TARGET_SETS: dict[str, str] = {
    "action_plan_2015": "关于创造深圳质量的行动计划 (2011 Action Plan on Shenzhen Quality), targets for 2015",
    "fyp12_2015": "深圳市第十二个五年规划 (12th Five-Year Plan) targets for 2015, as restated in the 13th FYP outline 专栏1",
    "fyp13_2020": "深圳市国民经济和社会发展第十三个五年规划纲要 (13th Five-Year Plan outline), targets for 2020",
    "quality_plan_2020": "深圳市质量发展第十三个五年规划（征求意见稿） (Quality Development 13th FYP, draft), targets for 2020",
}

COLUMNS = (
    "id", "target_set", "series", "indicator_zh", "indicator_en", "domain", "target_year", "kind",
    "comparator", "value", "value_high", "tolerance", "unit", "base_year", "period_start",
    "period_end", "binding", "value_status", "source", "source_section", "quote_zh", "note",
)
KINDS = ("level", "share", "cumulative_change", "cumulative_sum", "count")
COMPARATORS = (">=", "<=", "approx", "range", "==")
BINDINGS = ("binding", "indicative", "unspecified")
VALUE_STATUSES = ("given", "blank", "unclear")

NUMERIC = ("value", "value_high", "tolerance")
YEARS = ("target_year", "base_year", "period_start", "period_end")
REQUIRED = ("id", "target_set", "indicator_zh", "target_year", "kind", "comparator", "unit",
            "binding", "value_status", "source", "quote_zh")
CHOICES = {"target_set": TARGET_SETS, "kind": KINDS, "comparator": COMPARATORS,
           "binding": BINDINGS, "value_status": VALUE_STATUSES}


def _number(text: str) -> float | None:
    """Parse a finite float, or return None."""
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _check_row(row: dict[str, str], where: str, file: str, seen: dict[str, str]) -> list[Problem]:
    """Every problem of one catalogue row."""
    from sim.vocabulary import SERIES

    out = []

    def bad(message: str) -> None:
        out.append(Problem(file, where, message))

    for col in REQUIRED:
        if not row[col]:
            bad(f"{col} is empty")
    for col, choices in CHOICES.items():
        if row[col] and row[col] not in choices:
            bad(f"unknown {col} '{row[col]}'{did_you_mean(row[col], choices)} "
                f"(expected one of {', '.join(choices)})")
    if row["series"] and row["series"] not in SERIES:
        bad(f"unknown series '{row['series']}'{did_you_mean(row['series'], SERIES)}")
    elif row["series"] and row["kind"] in KINDS:
        unit = "%" if row["kind"] == "cumulative_change" else SERIES[row["series"]].unit
        if row["unit"] != unit:
            bad(f"unit of series {row['series']} must be '{unit}' (got '{row['unit']}')")
    if row["id"] in seen:
        bad(f"duplicate id '{row['id']}' (first at {seen[row['id']]})")
    elif row["id"]:
        seen[row["id"]] = where
    for col in NUMERIC:
        if row[col] and _number(row[col]) is None:
            bad(f"{col} is not a number (got '{row[col]}')")
    for col in YEARS:
        if row[col] and not (row[col].isdigit() and 1900 <= int(row[col]) <= 2100):
            bad(f"{col} is not a year (got '{row[col]}')")

    status, value = row["value_status"], row["value"]
    if status in ("given", "unclear") and not value:
        bad(f"value is empty but value_status is '{status}' (use 'blank' for a value the plan left blank)")
    if status == "blank" and value:
        bad(f"value_status is 'blank' but value is '{value}'")
    if row["comparator"] == "range" and not row["value_high"]:
        bad("comparator 'range' needs value_high")
    if row["comparator"] == "approx" and not row["tolerance"]:
        bad("comparator 'approx' needs a tolerance")
    if status == "given" and row["kind"] == "cumulative_change" and not row["base_year"]:
        bad("a given cumulative_change needs base_year")
    if status == "given" and row["kind"] == "cumulative_sum" and not (row["period_start"] and row["period_end"]):
        bad("a given cumulative_sum needs period_start and period_end")
    return out


def load_catalogue(path: str | Path | None = None):
    """Read and validate the catalogue; raise ProblemList naming file and line for every problem.

    Numeric columns come back as floats (NaN when blank), years as nullable integers, text as str.
    """
    import pandas as pd

    from sim.paths import TARGET_CATALOGUE

    path = Path(path) if path is not None else TARGET_CATALOGUE
    file = str(path)
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise ProblemList([Problem(file, "line 1", f"missing column(s): {', '.join(missing)}")])
            rows, problems, seen = [], [], {}
            for row in reader:
                where = f"line {reader.line_num}"
                if None in row or any(v is None for v in row.values()):
                    problems.append(Problem(file, where, f"expected {len(header)} fields"))
                    continue
                row = {c: row[c] if c == "quote_zh" else row[c].strip() for c in COLUMNS}
                problems += _check_row(row, where, file, seen)
                rows.append(row)
    except FileNotFoundError:
        raise SimError(f"{file}: target catalogue not found") from None
    except UnicodeDecodeError as exc:
        raise SimError(f"{file}: not UTF-8 text ({exc.reason})") from None
    if problems:
        raise ProblemList(problems)

    df = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in NUMERIC:
        df[col] = pd.to_numeric(df[col].replace("", None), errors="coerce").astype(float)
    for col in YEARS:
        df[col] = pd.to_numeric(df[col].replace("", None), errors="coerce").astype("Int64")
    return df


def check_set_names(names: Iterable[str]) -> None:
    """Raise SimError (with a suggestion) for the first unknown target-set name."""
    for name in names:
        if name not in TARGET_SETS:
            prefixed = [s for s in TARGET_SETS if s.startswith(str(name))]
            hint = f" (did you mean '{prefixed[0]}'?)" if len(prefixed) == 1 else did_you_mean(name, TARGET_SETS)
            raise SimError(f"unknown target set '{name}'{hint} "
                           f"(expected one of {', '.join(TARGET_SETS)})")


def targets_for_sets(names: Iterable[str], path: str | Path | None = None):
    """The catalogue rows belonging to the named target sets, in catalogue order."""
    names = list(names)
    check_set_names(names)
    df = load_catalogue(path)
    return df[df["target_set"].isin(names)].reset_index(drop=True)


@dataclass(frozen=True)
class Target:
    """One catalogue row, typed: what the plan asks of one indicator in one year.

    Numbers are floats or None (blank), years ints or None, text str ("" when blank). ``value``
    is the plan's value (None when the plan left it blank; a scenario may supply one).
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

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Target":
        """From a catalogue row (a dict or a pandas row); blanks and NaN become None / ""."""
        def num(v: Any) -> float | None:
            try:
                f = float(v)
            except (TypeError, ValueError):
                return None
            return f if math.isfinite(f) else None

        def year(v: Any) -> int | None:
            f = num(v)
            return int(f) if f is not None else None

        def text(v: Any) -> str:
            return v if isinstance(v, str) else ""

        out: dict[str, Any] = {}
        for f in fields(cls):
            v = row.get(f.name)
            out[f.name] = (num(v) if f.name in NUMERIC else year(v) if f.name in YEARS
                           else text(v))
        return cls(**out)

    @property
    def indicator(self) -> str:
        """English indicator name, else the Chinese one."""
        return self.indicator_en or self.indicator_zh

    @property
    def is_binding(self) -> bool:
        return self.binding == "binding"


def as_targets(catalogue) -> list[Target]:
    """The rows of a catalogue DataFrame (:func:`load_catalogue`) as :class:`Target` objects."""
    return [Target.from_row(r) for r in catalogue.to_dict("records")]
