"""Plausible ranges of every number a user can give: the one place that states them.

A scenario file (``sim validate`` / ``sim run``), a command-line flag and every observation of a
history file (``sim data`` / ``sim run --data``) is checked against these ranges, so an input
that ``run`` would choke on (or, worse, turn into P = 0 or 1 without a word) is refused when it
is read, with ``FILE: key.path`` or ``FILE: line N`` and the range expected. Every range says
why it is what it is. NaN and infinity are never in a range.

The scenario models (:mod:`sim.scenario.spec`, :mod:`sim.scenario.levers`) build their pydantic
constraints from these ranges (:func:`sim.scenario.base.bounded`), :mod:`sim.history` checks
observations with them, and the commands check their flags (``--tolerance``, ``--max-draws``,
``--as-of``) with :meth:`Range.check`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from sim.errors import SimError


@dataclass(frozen=True)
class Range:
    """A closed or half-open interval of plausible values and the reason for it.

    ``lo``/``hi`` of None mean unbounded on that side; ``lo_open``/``hi_open`` exclude the end
    point. A value is in the range only if it is a finite number.
    """

    lo: float | None
    hi: float | None
    why: str
    lo_open: bool = False
    hi_open: bool = False

    def contains(self, value: Any) -> bool:
        """Is ``value`` a finite number (not a bool) inside the range?"""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        x = float(value) if not isinstance(value, int) else value
        if not math.isfinite(x):
            return False
        if self.lo is not None and (x <= self.lo if self.lo_open else x < self.lo):
            return False
        if self.hi is not None and (x >= self.hi if self.hi_open else x > self.hi):
            return False
        return True

    def expected(self) -> str:
        """``-50 <= value <= 50``, ``value > 0``, ... (the words of every message)."""
        lo = None if self.lo is None else f"{fmt_number(self.lo)} {'<' if self.lo_open else '<='} value"
        hi = None if self.hi is None else f"{'<' if self.hi_open else '<='} {fmt_number(self.hi)}"
        if lo and hi:
            return f"{lo} {hi}"
        if lo and self.lo is not None:
            return f"value {'>' if self.lo_open else '>='} {fmt_number(self.lo)}"
        if hi:
            return f"value {hi}"
        return "a finite number"

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not in the range (``not a finite number (…)`` or ``out of range
        (expected …, got …)``), or None when it is."""
        if self.contains(value):
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return f"not a number (expected {self.expected()}, got {value!r})"
        if not math.isfinite(value):
            return f"not a finite number (expected {self.expected()}, got {value})"
        shown = fmt_number(value if isinstance(value, int) else float(value))
        return f"out of range (expected {self.expected()}, got {shown})"

    def check(self, value: Any, what: str) -> Any:
        """Return ``value`` when it is in the range, else raise :class:`~sim.errors.SimError`
        ``"{what}: out of range (expected …, got …)"``."""
        why = self.problem(value)
        if why is not None:
            raise SimError(f"{what}: {why}")
        return value

    def constraints(self) -> dict[str, float]:
        """The range as pydantic ``Field`` keyword arguments (``ge``/``gt``/``le``/``lt``)."""
        out: dict[str, float] = {}
        if self.lo is not None:
            out["gt" if self.lo_open else "ge"] = self.lo
        if self.hi is not None:
            out["lt" if self.hi_open else "le"] = self.hi
        return out


def fmt_number(x: float) -> str:
    """A bound or value as a message shows it: ``50``, ``0.1``, ``1e+12``, ``2**64``."""
    if isinstance(x, int) and x == 2 ** 64:
        return "2**64"
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if x.is_integer() and abs(x) < 1e7:
        return str(int(x))
    return f"{x:.15g}" if x.is_integer() else repr(x)


# --------------------------------------------------------------------------------------------
# Years
# --------------------------------------------------------------------------------------------
#: Years of a scenario file (as_of, horizon, lever years, shock years) and of ``--as-of``.
YEAR = Range(2000, 2035, "the model is calibrated on data from about 2000 on and the plans' "
                         "targets end by 2035; a year outside is a typo (an as_of of 3000 would "
                         "calibrate on the same data as the last observed year and call it 3000)")
#: Years of a history observation (``year``, ``base_year``).
HISTORY_YEAR = Range(1978, 2100, "Shenzhen's statistics start with the Reform era (1978); "
                                 "a later year than 2100 is a typo")

# --------------------------------------------------------------------------------------------
# [run] and the command line
# --------------------------------------------------------------------------------------------
#: ``run.seed`` / ``--seed`` / ``sweep.seed``.
SEED = Range(0, 2 ** 64, "the seed is the Philox key: two 32-bit words "
                         "(sim.engine.rng.split_seed accepts 0 <= seed < 2**64)", hi_open=True)
#: ``run.draws`` / ``--draws``.
DRAWS = Range(1, 100_000_000, "at least one draw; 10^8 draws already resolve a probability to "
                              "±0.0001 and take hours")
#: ``run.block_size``.
BLOCK_SIZE = Range(1000, 1_000_000, "random-number blocks: below 1000 the per-block overhead "
                                    "dominates, above 10^6 a block no longer fits in memory")
#: ``--max-draws`` (cap of an adaptive ``--tolerance`` run).
MAX_DRAWS = Range(1, 100_000_000, "the same cap as run.draws")
#: ``--tolerance``: the standard error of P(met) an adaptive run stops at.
TOLERANCE = Range(0, 0.5, "a standard error of a probability is at most 0.5; 0 would never stop",
                  lo_open=True, hi_open=True)
#: ``output.quantiles``.
QUANTILE = Range(0, 1, "a quantile is a probability strictly between 0 and 1",
                 lo_open=True, hi_open=True)

# --------------------------------------------------------------------------------------------
# Levers, shocks, target values
# --------------------------------------------------------------------------------------------
#: ``levers.<driver>.shift_pp``: pp added to a driver's annual % change, every lever year.
SHIFT_PP = Range(-50, 50, "±50 pp a year, every year, is already far beyond any plan (Shenzhen's "
                          "fastest real growth was about 30 %/yr)")
#: ``shocks[].shift_pp``: pp added to one year's % change.
SHOCK_PP = Range(-100, 100, "a one-year shock of -100 pp removes the whole year's level change; "
                            "more is not a shock a city has seen")
#: ``levers.usdcny.path`` values, CNY per USD.
FX_RATE = Range(0.1, 100, "CNY per USD has been 1.5–8.7 since 1978; 0.1–100 leaves room for any "
                          "scenario while 1e308 or 1e-308 would overflow the simulation")
#: ``levers.affordable_housing`` programme units per year (套).
PROGRAMME_UNITS = Range(0, 10_000_000, "Shenzhen's whole housing stock is about 10^7 dwellings; "
                                       "plans build 10^4–10^5 affordable units a year")
#: ``target_values`` (in the target's unit).
TARGET_VALUE = Range(-1e12, 1e12, "the catalogue's largest target is 7e7 (m2); NaN or infinity "
                                  "is not a blank but a broken number")
#: ``target_values`` of a cumulative-change target, in %.
CUMULATIVE_CHANGE_TARGET = Range(-100, 1e6, "a positive quantity cannot fall by 100 % or more",
                                 lo_open=True)
#: ``target_values`` of a share target, in %.
SHARE_TARGET = Range(0, 100, "a share is a percentage of a whole")
#: ``target_values`` of a count or cumulative-sum target.
COUNT_TARGET = Range(0, 1e12, "a count or a sum of amounts is never negative")
#: a target ``value`` of kind ``level`` on a series modelled on the log scale (GDP, emissions...).
LEVEL_TARGET = Range(0, None, "a level on the log scale is a positive amount", lo_open=True)
#: Plausible target values by the catalogue's kind of target (catalogue rows, ``targets.csv``
#: and a scenario's ``target_values``); a ``level`` depends on its series (:mod:`sim.targets`).
TARGET_KIND_RANGES = {"share": SHARE_TARGET, "cumulative_change": CUMULATIVE_CHANGE_TARGET,
                      "count": COUNT_TARGET, "cumulative_sum": COUNT_TARGET}

# --------------------------------------------------------------------------------------------
# History observations (calibration/data/*.csv)
# --------------------------------------------------------------------------------------------
#: ``level`` or ``period_sum`` of a series modelled on the log scale, in the series' unit.
OBS_POSITIVE = Range(1e-6, 1e12, "the log scale needs a positive amount; the bundled levels lie "
                                 "between 0.47 and 3.5e5, so 1e-6 or 1e12 is a unit error")
#: ``level`` of a share (logit scale), in %.
OBS_SHARE = Range(1e-6, 100, "the logit scale needs a share strictly between 0 and 100 %; "
                             "below 1e-6 % (one in 10^8) is a unit or typing error",
                  hi_open=True)
#: ``change_pct``: year-on-year change, in %.
OBS_CHANGE_PCT = Range(-100, 1000, "-100 % is the quantity vanishing; more than +1000 % "
                                   "(×11 in one year) is no city statistic", lo_open=True)
#: ``cumulative_change_pct``: change over a window of years, in %.
OBS_CUMULATIVE_PCT = Range(-100, 100_000, "-100 % is the quantity vanishing; ×1000 over a "
                                          "window is no city statistic", lo_open=True)
#: Average year-on-year ratio of two consecutive levels of one series and vintage:
#: ``(x1 / x0) ** (1 / (year1 - year0))``. Outside it the row is an error unless its note starts
#: with ``break:`` (a documented break in the series, e.g. a new definition).
JUMP_RATIO = Range(0.2, 5, "the bundled series never move by more than ×2 a year; ×5 or ÷5 "
                           "in a year is a unit or typing error unless the series breaks")
#: Prefix of a history row's ``note`` that marks a documented break (no jump check into it).
BREAK_PREFIX = "break:"


def check_as_of(as_of: Any, what: str = "as_of") -> int:
    """``as_of`` as an int when it is a year in :data:`YEAR`, else a :class:`SimError`."""
    if isinstance(as_of, bool) or not isinstance(as_of, numbers.Integral):
        raise SimError(f"{what}: not a whole year (expected {YEAR.expected()}, got {as_of!r})")
    YEAR.check(as_of, what)
    return int(as_of)
