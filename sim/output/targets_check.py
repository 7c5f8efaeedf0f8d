"""Checks of a run's ``targets.csv`` read back by ``sim report`` and ``sim compare``.

A run's table is kept by ``sim report`` (its combined probabilities used record draws that
``ensemble.nc`` does not store), so a hand-edited or damaged table must be refused, never carried
into the rebuilt outputs: every evaluated row has a probability in [0, 1], every
``(scenario, target_id)`` appears once, and — where the run's rows are known — none is missing or
foreign. Each problem is a :class:`~sim.errors.SimError` naming the file and the first row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from sim.errors import SimError

KEY = ["scenario", "target_id"]


def check_targets_table(table: pd.DataFrame, path: Path,
                        expected: Iterable[tuple[str, str]] | None = None) -> None:
    """Raise SimError naming ``path`` when ``table`` is not a run's targets table.

    ``table``: ``targets.csv`` as read (rows × columns, with ``scenario``, ``target_id``,
    ``status``, ``probability``; a missing column or a cell that is not a number is left to the
    table's reader, which names it); ``expected``: the ``(scenario, target_id)`` pairs of the run
    (None: not checked). Rows are numbered as lines of the file (header = line 1).
    """
    if any(c not in table.columns for c in ("scenario", "target_id", "status", "probability")):
        return   # a missing column is reported by the table's reader, naming it
    scenario, target = table["scenario"].astype(str), table["target_id"].astype(str)
    probability = pd.to_numeric(table["probability"], errors="coerce")
    evaluated = table["status"].astype(str) == "evaluated"
    # a cell that is not a number is reported by the reader ("'abc' is not a number")
    bad = table.index[evaluated & probability.notna() & ~probability.between(0, 1)]
    if len(bad):
        i = bad[0]
        raise SimError(f"{path}: line {int(i) + 2}: probability of {target[i]} ({scenario[i]}): "
                       f"expected a number in [0, 1] on an evaluated row, got "
                       f"{table['probability'][i]!r}")
    pairs = pd.Series(list(zip(scenario, target)), index=table.index)
    duplicated = table.index[pairs.duplicated(keep="first")]
    if len(duplicated):
        i = duplicated[0]
        first = table.index[pairs == pairs[i]][0]
        raise SimError(f"{path}: line {int(i) + 2}: a second row for {target[i]} ({scenario[i]}) "
                       f"(first at line {int(first) + 2}; expected one row per scenario and "
                       "target)")
    if expected is None:
        return
    want, got = set(expected), set(pairs)
    missing, foreign = sorted(want - got), sorted(got - want)
    if missing or foreign:
        parts = []
        if missing:
            parts.append(f"{len(missing)} row{'s' if len(missing) > 1 else ''} missing (e.g. "
                         f"{missing[0][1]} ({missing[0][0]}))")
        if foreign:
            parts.append(f"{len(foreign)} row{'s' if len(foreign) > 1 else ''} not of this run "
                         f"(e.g. {foreign[0][1]} ({foreign[0][0]}))")
        raise SimError(f"{path}: {'; '.join(parts)}: expected one row per scenario and target of "
                       "the run (rerun `sim run` to get the table back)")
