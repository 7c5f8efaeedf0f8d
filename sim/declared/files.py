"""Read a data directory's ``series.csv`` and ``targets.csv`` into a :class:`Declarations` value.

``series.csv`` has exactly the columns ``series,unit,transform,lower,upper,family,description``:

* ``series`` — a new name (lower-case letters, digits, ``_``; not a built-in series);
* ``unit`` — the unit of its level observations (and of targets on it);
* ``transform`` — the scale the generic model works on: ``log`` (a positive quantity) or
  ``logit`` (a share in %, strictly between 0 and 100);
* ``lower``, ``upper`` — optional plausible range of a level (an observation outside it is an
  error); within the transform's own domain (``> 0`` for log, ``0 .. 100`` for logit);
* ``family`` — the indicator family (:data:`sim.vocabulary.FAMILIES`), the default of a declared
  target on the series whose ``family`` cell is blank;
* ``description`` — what the series measures (the label in tables and figures).

Each declared series is calibrated with the generic model (local trend on its transform), like
the built-in generic indicators. ``targets.csv`` is read here as raw cells; the catalogue merges
them (:func:`sim.targets.load_catalogue`).

A data directory's declarations are a value (:class:`Declarations`, with its
:class:`~sim.vocabulary.Vocabulary`), carried by the :class:`~sim.history.History` loaded from it:
nothing here changes a module table, so loading one directory never changes what another
history, the built-in vocabulary or :func:`sim.targets.load_catalogue` sees.
"""

from __future__ import annotations

import csv
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from sim.errors import Problem, ProblemList, did_you_mean
from sim.numbers import parse_float
from sim.vocabulary import BUILTIN_SERIES, FAMILIES, Series, Vocabulary

SERIES_FILE, TARGETS_FILE = "series.csv", "targets.csv"
SERIES_COLUMNS = ("series", "unit", "transform", "lower", "upper", "family", "description")
TRANSFORMS = ("log", "logit")
NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class TargetRow:
    """One row of ``targets.csv``: its non-empty cells (``quote_zh`` verbatim) and where it is."""

    cells: dict[str, str]
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"line {self.line}"


@dataclass(frozen=True)
class Declarations:
    """The series and target rows a data directory declares (empty for the bundled data), and
    the vocabulary they make: the built-in series plus ``series``. A value: picklable, never
    changed, never installed anywhere."""

    data_dir: Path | None = None
    series: dict[str, Series] = field(default_factory=dict)
    targets: tuple[TargetRow, ...] = ()
    header: tuple[str, ...] = ()          # the columns of targets.csv, in file order
    vocabulary: Vocabulary = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "vocabulary", Vocabulary(self.series.values()))


def not_regular(path: Path) -> str | None:
    """Why ``path`` cannot be read as a data file without opening it: a FIFO, a device, a
    socket (reading would block or never end) or a folder; None for a regular file (or a
    symlink to one). A missing file is None too (the read reports it)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    return f"is {kind}, not a regular file (expected a CSV file; sim reads only regular files)"


def _csv_rows(path: Path, problems: list[Problem]) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and ``(line, cells)`` of every non-blank row; unreadable files become problems."""
    why = not_regular(path)
    if why:
        problems.append(Problem(str(path), "", why))
        return [], []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem(str(path), "", f"cannot be read as UTF-8 ({exc.reason})"))
        return [], []
    except OSError as exc:
        problems.append(Problem(str(path), "", f"cannot be read ({exc.strerror or exc})"))
        return [], []
    reader = csv.reader(text.splitlines())
    header = [h.strip() for h in next(reader, [])]
    rows = []
    for cells in reader:
        if any(c.strip() for c in cells):
            if len(cells) != len(header):
                problems.append(Problem(str(path), f"line {reader.line_num}",
                                        f"has {len(cells)} fields, expected {len(header)}"))
                continue
            rows.append((reader.line_num, cells))
    return header, rows


def _bound(text: str, column: str, bad: list[str]) -> float | None:
    if not text:
        return None
    v = parse_float(text)
    if v is None or not math.isfinite(v):
        bad.append(f"{column}: not a finite number (got '{text}')")
        return None
    return v


def _bounds_problems(transform: str, lo: float | None, hi: float | None) -> list[str]:
    """``lower``/``upper`` inside the transform's domain and in order."""
    out = []
    if transform == "logit":
        for col, v in (("lower", lo), ("upper", hi)):
            if v is not None and not 0 <= v <= 100:
                out.append(f"{col}: a logit series is a share in % (expected 0 <= {col} <= 100, "
                           f"got {v:g})")
    elif transform == "log" and lo is not None and lo < 0:
        out.append(f"lower: a log series is positive (expected lower >= 0, got {lo:g})")
    if lo is not None and hi is not None and not lo < hi:
        out.append(f"upper: must be above lower (got lower {lo:g}, upper {hi:g})")
    return out


def _series_row(c: dict[str, str], where: str, seen: dict[str, str]) -> tuple[Series | None, list[str]]:
    """One ``series.csv`` row as a :class:`Series` (role generic), or its problems."""
    bad: list[str] = []
    name, transform, family = c["series"], c["transform"], c["family"]
    if not NAME.fullmatch(name):
        bad.append(f"series: expected a name of lower-case letters, digits and '_' starting "
                   f"with a letter (got '{name}')")
    elif name in BUILTIN_SERIES:
        bad.append(f"series: '{name}' is a built-in series (unit {BUILTIN_SERIES[name].unit}); "
                   f"a data directory may only add new names")
    elif name in seen:
        bad.append(f"series: '{name}' is declared twice (first at {seen[name]})")
    if not c["unit"]:
        bad.append("unit: empty (expected the unit of a level, e.g. '%' or '万吨')")
    if transform == "level":
        bad.append("transform: 'level' is not supported yet: the models work on log or logit "
                   "(expected log for a positive quantity, logit for a share in %)")
    elif transform not in TRANSFORMS:
        bad.append(f"transform: unknown transform '{transform}'{did_you_mean(transform, TRANSFORMS)}"
                   f" (expected one of {', '.join(TRANSFORMS)})")
    if transform == "logit" and c["unit"] and c["unit"] != "%":
        bad.append(f"unit: a logit series is a share in % (expected '%', got '{c['unit']}')")
    lo, hi = _bound(c["lower"], "lower", bad), _bound(c["upper"], "upper", bad)
    bad += _bounds_problems(transform, lo, hi)
    if family and family not in FAMILIES:
        bad.append(f"family: unknown family '{family}'{did_you_mean(family, FAMILIES)} "
                   f"(expected one of {', '.join(FAMILIES)})")
    if not c["description"]:
        bad.append("description: empty (expected what the series measures)")
    if bad:
        return None, bad
    seen[name] = where
    return Series(name, c["unit"], transform, "generic", c["description"], "", family, lo, hi,
                  where), []


def read_series_file(path: Path) -> tuple[dict[str, Series], list[Problem]]:
    """The series a ``series.csv`` declares, and every problem of the file."""
    problems: list[Problem] = []
    header, rows = _csv_rows(path, problems)
    if problems and not header:
        return {}, problems
    missing = [c for c in SERIES_COLUMNS if c not in header]
    extra = [c for c in header if c not in SERIES_COLUMNS]
    if missing or extra:
        what = "; ".join(x for x in (missing and f"missing column(s) {', '.join(missing)}",
                                     extra and f"unexpected column(s) {', '.join(extra)}") if x)
        return {}, problems + [Problem(str(path), "line 1",
                                       f"{what} (expected exactly: {','.join(SERIES_COLUMNS)})")]
    out: dict[str, Series] = {}
    seen: dict[str, str] = {}
    for line, cells in rows:
        c = {k: v.strip() for k, v in zip(header, cells)}
        s, bad = _series_row(c, f"{path.name}: line {line}", seen)
        problems += [Problem(str(path), f"line {line}", m) for m in bad]
        if s is not None:
            out[s.name] = s
    return out, problems


def read_target_rows(path: Path, columns: tuple[str, ...], verbatim: tuple[str, ...] = ()
                     ) -> tuple[tuple[str, ...], list[TargetRow], list[Problem]]:
    """``targets.csv``: a header of catalogue ``columns`` (any subset holding ``id`` and
    ``source``) and its rows' non-empty cells; checks of the cells are the catalogue's."""
    problems: list[Problem] = []
    header, rows = _csv_rows(path, problems)
    if problems and not header:
        return (), [], problems
    extra = [c for c in header if c not in columns]
    missing = [c for c in ("id", "source") if c not in header]
    if extra or missing:
        what = "; ".join(x for x in (missing and f"missing column(s) {', '.join(missing)}",
                                     extra and f"unknown column(s) {', '.join(extra)}") if x)
        return (), [], problems + [Problem(str(path), "line 1", f"{what} (expected id, source "
                                           f"and any of the catalogue's columns: "
                                           f"{','.join(columns)})")]
    out = []
    for line, cells in rows:
        c = {k: (v if k in verbatim else v.strip()) for k, v in zip(header, cells)}
        out.append(TargetRow({k: v for k, v in c.items() if v.strip()}, str(path), line))
    return tuple(header), out, problems


def load_declarations(data_dir: Path | None, columns: tuple[str, ...],
                      verbatim: tuple[str, ...] = ()) -> Declarations:
    """The declarations of ``data_dir`` (empty for None); every problem of both files at once."""
    if data_dir is None:
        return Declarations()
    problems: list[Problem] = []
    series: dict[str, Series] = {}
    header: tuple[str, ...] = ()
    targets: list[TargetRow] = []
    if (data_dir / SERIES_FILE).exists():
        series, more = read_series_file(data_dir / SERIES_FILE)
        problems += more
    if (data_dir / TARGETS_FILE).exists():
        header, targets, more = read_target_rows(data_dir / TARGETS_FILE, columns, verbatim)
        problems += more
    if problems:
        raise ProblemList(problems)
    return Declarations(data_dir, series, tuple(targets), header)
