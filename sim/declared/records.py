"""A data directory's ``plan_records`` folder: refused, since runs use the bundled records.

The plan-record model (:mod:`sim.plan_record`) is fitted on the bundled
``calibration/data/plan_records/`` whatever ``--data`` says: a user's records would need their
own checks and their own backtest before a probability could rest on them. A ``plan_records``
entry in a ``--data`` folder is therefore refused with a message rather than silently ignored,
unless it is an unchanged copy of the bundled folder (``cp -r calibration/data mydata``), which
is what every run uses anyway.
"""

from __future__ import annotations

from pathlib import Path

from sim.declared.files import not_regular
from sim.errors import Problem
from sim.paths import DEFAULT_DATA_DIR

RECORDS_DIR = "plan_records"
BUNDLED_RECORDS = DEFAULT_DATA_DIR / RECORDS_DIR


def _same_as_bundled(folder: Path) -> bool:
    """Is ``folder`` a byte-for-byte copy of the bundled records (regular files only)?"""
    try:
        if not folder.is_dir() or folder.is_symlink():
            return False
        mine = sorted(p.relative_to(folder) for p in folder.rglob("*"))
        theirs = sorted(p.relative_to(BUNDLED_RECORDS) for p in BUNDLED_RECORDS.rglob("*"))
        if mine != theirs:
            return False
        for rel in mine:
            a, b = folder / rel, BUNDLED_RECORDS / rel
            if b.is_dir():
                if not a.is_dir() or a.is_symlink():
                    return False
                continue
            if not_regular(a) or a.read_bytes() != b.read_bytes():
                return False
        return True
    except OSError:
        return False


def plan_records_problem(data_dir: Path) -> Problem | None:
    """The problem of ``data_dir``'s ``plan_records`` entry, or None (none, the bundled folder,
    or an unchanged copy of it)."""
    entry = data_dir / RECORDS_DIR
    if not (entry.exists() or entry.is_symlink()):
        return None
    try:
        if data_dir.resolve() == DEFAULT_DATA_DIR.resolve():
            return None
    except OSError:
        pass
    if _same_as_bundled(entry):
        return None
    return Problem(str(entry), "", "plan records are not read from a data directory: runs "
                                   "always use the bundled calibration/data/plan_records/ (remove "
                                   "or move this folder, or leave it an unchanged copy)")
