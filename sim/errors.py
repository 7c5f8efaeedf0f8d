"""Errors users see: what is wrong, where (file, key path or line), expected vs got.

Every error a user can cause derives from :class:`SimError`; the CLI prints it and exits 2
without a traceback. A :class:`ProblemList` carries *all* problems found in one input at once.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Sequence


class SimError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One problem in one input: ``FILE: where: message``.

    ``where`` is a dotted key path (``scenarios.baseline.levers.gdp``) or ``line N``.
    """

    file: str
    where: str
    message: str

    def __str__(self) -> str:
        if self.where:
            return f"{self.file}: {self.where}: {self.message}"
        return f"{self.file}: {self.message}"


class ProblemList(SimError):
    """Several problems at once (every problem of a file, not just the first)."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
