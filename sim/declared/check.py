"""``check_data_dir``: every problem of a data directory at once (for ``sim validate --data``).

It is exactly the reading a run makes (:func:`sim.history.load_history`: the observation files,
``series.csv``, ``targets.csv`` merged into the catalogue with the bounds of :mod:`sim.bounds`,
``breaks.csv``, a ``plan_records`` folder refused, non-regular files refused unopened), so
``validate --data`` and ``run --data`` cannot disagree; each problem is ``FILE: line N: column:
what is wrong`` (expected …, got …), the form of the scenario messages.
"""

from __future__ import annotations

from pathlib import Path

from sim.errors import Problem, ProblemList, SimError
from sim.history import History, load_history


def _problems(exc: SimError, where: str) -> list[Problem]:
    if isinstance(exc, ProblemList):
        return list(exc.problems)
    return [Problem(where, "", str(exc))]


def read_data_dir(path: str | Path) -> tuple[History | None, list[Problem]]:
    """The history of the data directory ``path`` and its problems (``(None, problems)`` when
    a run could not read it; ``(history, [])`` when it can)."""
    path = Path(path)
    if not path.is_dir():
        return None, [Problem(str(path), "", "not a folder (expected a data directory of CSV "
                                             "files)")]
    try:
        return load_history(path), []
    except SimError as exc:
        return None, _problems(exc, str(path))


def check_data_dir(path: str | Path) -> list[Problem]:
    """The problems of the data directory ``path`` (empty: a run can read it)."""
    return read_data_dir(path)[1]
