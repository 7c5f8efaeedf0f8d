"""The answer of ``sim solve``: :class:`SolveResult`, and in words — plain numbers, units, and what
the shape of P means.

Every number is in plain notation (:func:`sim.analysis.labels.plain`), every lever value carries
its unit, every P(met) its binomial standard error on the draws used.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field

from sim.analysis.headline import HEADLINE, METHOD_WORDS
from sim.analysis.labels import lever_label, plain, value_with_unit
from sim.evaluation.record import RECORD_ONLY, TREND_RECORD

WIDTH = 100   # printed lines are wrapped to this many characters


@dataclass
class Crossing:
    """Where P(met) crosses the probability, with the Monte Carlo error of that lever value."""

    value: float                      # the end where P >= p (exact for these draws)
    rising: bool                      # P >= p above the value (True) or below it
    p_value: float                    # P at the value
    se_delta: float = math.nan        # delta-method SE of the value
    slope: float = math.nan           # dP/dv there (per lever unit)
    se_boot: float = math.nan         # bootstrap SD of the value
    interval: tuple[float, float] = (math.nan, math.nan)  # bootstrap 5-95 %


@dataclass
class SolveResult:
    """The least-effort lever value for a target's P(met), with its Monte Carlo error.

    ``shape`` is how P moves over the bounds ("increasing", "decreasing", "flat" or "not
    monotone"); ``crossings`` every refined crossing; ``intervals`` the lever values where
    P >= the probability; ``best_value`` / ``best_p`` where P is largest. ``se_delta``,
    ``slope``, ``se_boot`` and ``interval`` are those of the crossing the answer sits on.
    """

    target: str
    lever: str
    scenario: str
    probability: float
    bounds: tuple[float, float]
    draws: int
    status: str
    value: float
    direction: int
    p_value: float
    se_p: float
    shape: str = ""
    best_value: float = math.nan
    best_p: float = math.nan
    se_delta: float = math.nan
    slope: float = math.nan
    se_boot: float = math.nan
    interval: tuple[float, float] = (math.nan, math.nan)
    crossings: list[Crossing] = field(default_factory=list)
    intervals: list[tuple[float, float]] = field(default_factory=list)
    evaluations: dict[float, float] = field(default_factory=dict)
    scanned: int = 0
    default_bounds: bool = False
    method: str = ""                  # what P rests on (the run's method; "" unknown)
    weight: float = math.nan          # the trend's weight w of a trend+record target

    def se_of(self, p: float) -> float:
        """Binomial SE of a P(met) on these draws."""
        return math.sqrt(p * (1 - p) / self.draws)

    def message(self) -> str:
        """The answer in words (what the CLI prints): :func:`message`."""
        return message(self)


def _p(res: SolveResult, p: float) -> str:
    """'0.342 ± 0.011'."""
    return f"{p:.3f} ± {res.se_of(p):.3f}"


def _at(res: SolveResult, v: float) -> str:
    return value_with_unit(v, res.lever)


def _range(res: SolveResult) -> str:
    lo, hi = res.bounds
    return f"from {plain(lo)} to {_at(res, hi)}"


def head(res: SolveResult) -> list[str]:
    """What was asked and how it was searched."""
    where = "the lever's whole valid range" if res.default_bounds else "--bounds"
    return [f"{res.target} in scenario '{res.scenario}', lever {res.lever}",
            f"  ({lever_label(res.lever)})",
            f"  searched {_range(res)} ({where}): {res.scanned} values scanned, crossings refined; "
            f"{res.draws:,} draws, the same at every value (common random numbers)",
            basis_line(res)]


def basis_line(res: SolveResult) -> str:
    """What P(met) is: the run's headline probability, and what it rests on."""
    words = METHOD_WORDS.get(res.method, "")
    if res.method == TREND_RECORD:
        return (f"  {HEADLINE} ({words}): the trend at each lever value combined with the run's "
                f"plan-record draws, trend weight w = {plain(res.weight, 3)} fixed by the run, so "
                f"the lever moves P through the trend's share only.")
    if res.method == RECORD_ONLY:
        return (f"  {HEADLINE} ({words}): no series measures this indicator, so P is how past "
                "plans' targets of its family ended and no lever moves it.")
    return f"  {HEADLINE}" + (f" ({words})." if words else ".")


def shape_line(res: SolveResult) -> str:
    """How P(met) moves over the bounds."""
    ev = res.evaluations
    lo, hi = res.bounds
    ends = (f"from {_p(res, ev[lo])} at {_at(res, lo)} to {_p(res, ev[hi])} at {_at(res, hi)}"
            if lo in ev and hi in ev else "")
    if res.shape == "increasing":
        return f"  P(met) rises with the lever, {ends}."
    if res.shape == "decreasing":
        return f"  P(met) falls as the lever rises, {ends}."
    if res.shape == "flat":
        return (f"  P(met) does not change with the lever: it is {_p(res, res.best_p)} at every value "
                "scanned.")
    return (f"  P(met) is NOT monotone in this lever: it rises and falls over the range (changes larger "
            f"than 3 Monte Carlo standard errors); it is highest, {_p(res, res.best_p)}, at "
            f"{_at(res, res.best_value)}.")


def _error(res: SolveResult, c: Crossing) -> str:
    """'± 0.0831 pp/yr (delta method …); bootstrap …'."""
    unit = value_with_unit(1, res.lever).split(" ", 1)[1]
    step = 1.0 if unit == "pp/yr" else 1000.0     # slope per 1 pp/yr or per 1,000 units/yr
    text = (f"Monte Carlo error ± {plain(c.se_delta, 3)} {unit} (delta method: P changes by "
            f"{plain(c.slope * step, 3)} per {plain(step)} {unit} there)")
    if c.se_boot == c.se_boot:   # not NaN
        text += (f"; bootstrap over draws: SD {plain(c.se_boot, 3)}, 90% interval "
                 f"{plain(c.interval[0])} to {_at(res, c.interval[1])}")
    return text


def answer_lines(res: SolveResult) -> list[str]:
    """The answer for each status."""
    want = f"P(met) ≥ {plain(res.probability)}"
    if res.status == "flat":
        return [f"  So no value of the lever gives {want}." if res.best_p < res.probability
                else f"  {want} whatever the lever's value."]
    if res.status == "unreachable":
        hint = ("Widen --bounds, or combine levers (see `sim sweep`)." if not res.default_bounds
                else "Another lever, or several together (see `sim sweep`), may reach it.")
        return [f"  No value {_range(res)} gives {want}: the highest is {_p(res, res.best_p)}, "
                f"at {_at(res, res.best_value)}. {hint}"]
    if res.status == "always":
        low = min(res.evaluations.values())
        return [f"  Every value {_range(res)} gives {want} (the lowest P seen is {_p(res, low)}); "
                f"the least effort, {_at(res, res.value)}, gives {_p(res, res.p_value)}."]
    if res.shape in ("increasing", "decreasing"):
        way = "at least" if res.direction > 0 else "at most"
        lines = [f"  {want} needs {res.lever} {way} {_at(res, res.value)} "
                 f"(P there = {_p(res, res.p_value)})."]
        lines += [f"  {_error(res, c)}." for c in res.crossings if c.value == res.value]
        return lines
    spans = " and ".join(f"from {plain(a)} to {_at(res, b)}" for a, b in res.intervals)
    lines = [f"  {want} holds {spans}:"]
    for c in res.crossings:
        verb = "reaches" if c.rising else "drops below"
        side = "just above" if c.rising else "just below"
        lines.append(f"    P {verb} {plain(res.probability)} at {_at(res, c.value)} (P ≥ "
                     f"{plain(res.probability)} {side} it); {_error(res, c)}")
    lines.append(f"  The value nearest to 0 (the smallest change) is {_at(res, res.value)}, "
                 f"P there = {_p(res, res.p_value)}.")
    return lines


def message(res: SolveResult) -> str:
    """Everything ``sim solve`` prints."""
    lines = head(res) + [shape_line(res)] + answer_lines(res)
    out = []
    for line in lines:
        indent = " " * (len(line) - len(line.lstrip()))
        out += textwrap.wrap(line.strip(), WIDTH, initial_indent=indent, subsequent_indent=indent + "  ",
                             break_on_hyphens=False, break_long_words=False)
    return "\n".join(out)
