"""Words and numbers of the policy-question outputs (``sim solve``, ``sim sweep``, ``sim sensitivity``).

Numbers print in plain notation (``85,740``, ``-6.528``, ``0.0831``; never ``8.574e+04``); a lever
path such as ``energy_intensity.shift_pp`` reads as the quantity it moves and its unit; a target
reads as its indicator and what the plan asks of it.
"""

from __future__ import annotations

import math
from typing import Any

from sim.scenario.levers import Levers
from sim.vocabulary import HOUSING_LEVER

#: how the plans' comparators read in a sentence
_COMPARATOR_WORDS = {">=": "≥", "<=": "≤", "approx": "≈", "==": "=", "range": "in"}


def plain(x: float, sig: int = 4) -> str:
    """``x`` in plain notation with about ``sig`` significant digits and thousands separators.

    85740.3 -> '85,740'; -6.52817 -> '-6.528'; 0.083147 -> '0.08315'; 50.0 -> '50'; NaN -> 'n/a'.
    """
    x = float(x)
    if not math.isfinite(x):
        return "n/a" if math.isnan(x) else ("∞" if x > 0 else "-∞")
    if x == 0:
        return "0"
    if abs(x) >= 10 ** (sig - 1):
        return f"{x:,.0f}"
    decimals = max(0, sig - 1 - math.floor(math.log10(abs(x))))
    text = f"{x:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def driver_text(driver: str) -> str:
    """A lever's driver in words, as the scenario schema describes it ('resident population (常住人口)')."""
    info = Levers.model_fields.get(driver)
    text = (info.description or "") if info is not None else ""
    return text.removeprefix("Lever on ").split(":")[0] or driver


def lever_unit(path: str) -> str:
    """Unit of a lever path's values: 'pp/yr' (``shift_pp``) or 'units/yr' (housing units a year)."""
    return "pp/yr" if path.endswith("shift_pp") else "units/yr"


def lever_label(path: str, *, short: bool = False) -> str:
    """A lever path in words with its unit, e.g. ``energy_intensity.shift_pp`` ->
    'energy use per 10,000 CNY of GDP (万元GDP能耗): pp added to its annual % change (pp/yr)'.

    ``short`` drops the Chinese name (axis labels)."""
    driver, _, field = path.partition(".")
    text = driver_text(driver)
    if short:
        text = text.split(" (")[0]
    if driver == HOUSING_LEVER or field == "units_per_year":
        return f"{text}: housing units a year (units/yr)"
    return f"{text}: pp added to its annual % change (pp/yr)"


def value_with_unit(value: float, path: str) -> str:
    """``-6.528 pp/yr`` or ``85,740 units/yr``."""
    return f"{plain(value)} {lever_unit(path)}"


def target_statement(target: Any, value: float | None = None) -> str:
    """What the plan asks, e.g. 'CO2 intensity, cumulative change 2015–2020 ≤ -10 %
    (value from the scenario file, not the plan)'.

    ``target`` is a :class:`sim.targets.Target` (or any object with its attributes); ``value``
    is the value evaluated (a scenario's ``target_values``), marked when it is not the plan's."""
    v = target.value if value is None else value
    name = target.indicator_en or target.indicator_zh or target.id
    if target.kind == "cumulative_change" and target.base_year and target.target_year:
        name += f" {target.base_year}–{target.target_year}"
    elif target.target_year:
        name += f" in {target.target_year}"
    if v is None or not math.isfinite(float(v)):
        return f"{name} (no target value)"
    cmp = _COMPARATOR_WORDS.get(target.comparator, target.comparator)
    amount = plain(v)
    if target.comparator == "range" and target.value_high is not None:
        amount = f"{plain(v)}–{plain(target.value_high)}"
    unit = f" {target.unit}" if target.unit else ""
    text = f"{name} {cmp} {amount}{unit}"
    if target.value is None or float(v) != float(target.value):
        text += " (value from the scenario file, not the plan)"
    return text


#: what each kind of uncertain input is, for a planner: (one driver's, every driver's, meaning)
KIND_WORDS = {
    "parameters": ("trend estimate", "all trend estimates",
                   "the uncertainty of the parameters fitted to history"),
    "initial state": ("starting state", "all starting states",
                      "where the driver stands at as_of, not fully observed"),
    "shocks": ("yearly shocks", "all yearly shocks", "year-to-year surprises after as_of"),
    "record": ("past plans' record (往期规划)", "past plans' record (往期规划)",
               "how past plans' targets of this family ended (the run's record draws)"),
}


#: the group of the plan record's draws in the sensitivity analysis (one input: the draw index)
RECORD_GROUP = "record:plan record"


def group_label(group: str) -> str:
    """``"shocks:energy_intensity"`` -> 'energy use per 10,000 CNY of GDP — yearly shocks';
    a pooled ``"shocks:all"`` -> 'all yearly shocks'; the record -> "past plans' record (往期规划)"."""
    kind, _, driver = group.partition(":")
    if group == RECORD_GROUP:
        return KIND_WORDS["record"][0]
    one, every, _ = KIND_WORDS.get(kind, (kind, kind, ""))
    if driver == "all":
        return every
    return f"{driver_text(driver).split(' (')[0]} — {one}"
