"""``check_data_dir``: every problem of a data directory at once (for ``sim validate --data``).

The observation files, ``series.csv`` and ``targets.csv`` are checked as a run reads them
(:func:`sim.history.load_history`, then the catalogue merged with the declared targets,
:func:`sim.targets.load_catalogue`); each problem is ``FILE: line N: column: what is wrong``
(expected …, got …), the form of the scenario messages.
"""

from __future__ import annotations

from pathlib import Path

from sim.errors import Problem, ProblemList, SimError
from sim.history import load_history
from sim.targets import load_catalogue


def _problems(exc: SimError, where: str) -> list[Problem]:
    if isinstance(exc, ProblemList):
        return list(exc.problems)
    return [Problem(where, "", str(exc))]


def check_data_dir(path: str | Path) -> list[Problem]:
    """The problems of the data directory ``path`` (empty: a run can read it).

    Leaves its declarations in use (as loading it for a run would).
    """
    path = Path(path)
    if not path.is_dir():
        return [Problem(str(path), "", "not a folder (expected a data directory of CSV files)")]
    try:
        load_history(path)
    except SimError as exc:
        return _problems(exc, str(path))
    try:
        load_catalogue()
    except SimError as exc:
        return _problems(exc, str(path / "targets.csv"))
    return []
