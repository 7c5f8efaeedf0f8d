"""Leave-one-plan-out: the plan record a backtest may use for a target, and the official
verdicts that are outcome data.

**The plan of each target set.** A plan record is keyed by ``(jurisdiction, plan)``
(:attr:`~sim.plan_record.PlanRecord.plan_key`); the catalogue's target sets map to those keys
(:data:`PLAN_OF_SET`):

* ``fyp12_2015`` → (深圳, 12th FYP): the outline's targets and the 专栏1 targets with their
  official 2015 verdicts;
* ``action_plan_2015`` → (深圳, 2011 action plan on Shenzhen Quality): no records, nothing to
  leave out;
* ``fyp13_2020`` → (深圳, 13th FYP): the 2020 GDP target (no verdict);
* ``quality_plan_2020`` → (深圳, quality development 13th FYP): no records, nothing to leave out.

**The record model of a forecast.** A target of set ``s`` forecast from origin ``o`` is
scored with the plan-record model fitted on::

    R(o, s) = { r in records : r.known_at(o)  and  r.plan_key != PLAN_OF_SET[s] }

the records whose outcome was known at the origin (the information rule of the history),
without the records of the scored target's own plan (leave one plan out), so no target is
scored against an outcome the model could see. :class:`LeaveOnePlanOut` fits each distinct
``R(o, s)`` once. :attr:`LopoFit.base_rate` is the reference "base rate of past targets":
the share of the training verdicts that were met, ``Σ_f y_f / Σ_f n_f`` over all families
pooled (not the verdict model's prior mean α/(α + β), which weights each family alike).

**Verdicts as outcomes.** ``record_matches.csv`` (next to this module) pairs catalogue targets
with the plan record holding their official verdict: one row per target, naming the record by
its plan key, its exact indicator text (equal, character for character, to the catalogue's
``indicator_zh``) and its target value in the record's unit (which tells apart two records of
one indicator, e.g. the outline's and 专栏1's rows). :func:`record_outcomes` checks every row
against the catalogue and the records. A matched target with a verdict is a scored event even
without an observed outcome in the history (its P(met) forecasts are scored on the verdict;
where the data have an outcome, the data decide and the verdict is kept as ``record_verdict``);
the targets of a matched set left without a verdict are listed with the reason
(:func:`unmatched_reasons`).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pandas as pd

from sim.errors import SimError
from sim.plan_record import PlanRecord, PlanRecordModel
from sim.targets import Target, as_targets

PLAN_OF_SET: dict[str, tuple[str, str]] = {
    "fyp12_2015": ("深圳", "12th FYP"),
    "action_plan_2015": ("深圳", "2011 action plan on Shenzhen Quality"),
    "fyp13_2020": ("深圳", "13th FYP"),
    "quality_plan_2020": ("深圳", "quality development 13th FYP"),
}
"""Target set -> the plan key ``(jurisdiction, plan)`` its records carry (see the docstring)."""

RECORD_MATCHES = Path(__file__).with_name("record_matches.csv")
MATCH_COLUMNS = ("target_id", "jurisdiction", "plan", "indicator", "record_target_value",
                 "record_unit", "note")


def plan_of_set(target_set: str) -> tuple[str, str]:
    """The plan key of a catalogue target set (:data:`PLAN_OF_SET`)."""
    try:
        return PLAN_OF_SET[target_set]
    except KeyError:
        raise SimError(f"target set '{target_set}' has no plan key for leave-one-plan-out "
                       f"(expected one of {', '.join(PLAN_OF_SET)})") from None


@dataclass(frozen=True)
class LopoFit:
    """The record model of one (origin, left-out plan), or why it could not be fitted."""

    origin: int
    left_out: tuple[str, str]
    model: PlanRecordModel | None
    n_left_out: int            # records of the left-out plan known by the origin
    reason: str = ""

    @property
    def base_rate(self) -> float:
        """Share of the training verdicts that were met (all families pooled); NaN without."""
        if self.model is None:
            return math.nan
        counts = self.model.verdict.families.values()
        n = sum(c[1] for c in counts)
        return sum(c[0] for c in counts) / n if n else math.nan


@dataclass
class LeaveOnePlanOut:
    """Record models fitted without one plan's records, each distinct training set once."""

    records: tuple[PlanRecord, ...]
    _fits: dict[tuple[int, tuple[int, ...]], PlanRecordModel | str] = field(
        default_factory=dict, repr=False)

    def training(self, origin: int, left_out: tuple[str, str]) -> tuple[PlanRecord, ...]:
        """``R(o, s)``: the records known by ``origin`` outside the plan ``left_out``."""
        return tuple(r for r in self.records
                     if r.known_at(origin) and r.plan_key != left_out)

    def fit(self, origin: int, target_set: str) -> LopoFit:
        """The record model for the targets of ``target_set`` forecast from ``origin``."""
        left_out = plan_of_set(target_set)
        known = [i for i, r in enumerate(self.records) if r.known_at(origin)]
        dropped = tuple(i for i in known if self.records[i].plan_key == left_out)
        key = (int(origin), dropped)
        if key not in self._fits:
            try:
                self._fits[key] = PlanRecordModel.fit(self.training(origin, left_out), origin)
            except SimError as exc:
                self._fits[key] = str(exc).splitlines()[0]
        got = self._fits[key]
        if isinstance(got, str):
            return LopoFit(int(origin), left_out, None, len(dropped), got)
        return LopoFit(int(origin), left_out, got, len(dropped))

    def key(self, origin: int, target_set: str) -> tuple[int, tuple[int, ...]]:
        """Target sets with equal keys at one origin share their training records."""
        left_out = plan_of_set(target_set)
        return (int(origin), tuple(i for i, r in enumerate(self.records)
                                   if r.known_at(origin) and r.plan_key == left_out))


# --------------------------------------------------------------------------------------------
# verdicts as outcomes
# --------------------------------------------------------------------------------------------
def read_matches(path: str | Path | None = None) -> pd.DataFrame:
    """The rows of ``record_matches.csv`` (all columns as text)."""
    path = Path(path) if path is not None else RECORD_MATCHES
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    df = pd.DataFrame(rows, columns=list(MATCH_COLUMNS))
    if rows and set(rows[0]) != set(MATCH_COLUMNS):
        raise SimError(f"{path}: expected columns {', '.join(MATCH_COLUMNS)}")
    return df


def record_outcomes(catalogue: pd.DataFrame, records: Sequence[PlanRecord],
                    path: str | Path | None = None) -> dict[str, PlanRecord]:
    """``{target_id: record}`` for the catalogue's targets listed in ``record_matches.csv``.

    Every listed row must name a catalogue target whose ``indicator_zh`` is exactly the row's
    indicator, and exactly one record with that plan key, indicator and target value.
    Targets of the listing that are not in ``catalogue`` are left out (another target set).

    Raises
    ------
    SimError
        A row that does not match exactly (the data are wrong, not the forecast).
    """
    matches = read_matches(path)
    by_id = {t.id: t for t in as_targets(catalogue)}
    out: dict[str, PlanRecord] = {}
    for row in matches.itertuples(index=False):
        t = by_id.get(row.target_id)
        if t is None:
            continue
        if t.indicator_zh != row.indicator:
            raise SimError(f"record_matches.csv: {row.target_id}: the catalogue's indicator is "
                           f"'{t.indicator_zh}', not '{row.indicator}' (only exact matches)")
        value = float(row.record_target_value)
        hits = [r for r in records
                if r.plan_key == (row.jurisdiction, row.plan) and r.indicator == row.indicator
                and r.target_value is not None and math.isclose(r.target_value, value)]
        if len(hits) != 1:
            raise SimError(f"record_matches.csv: {row.target_id}: {len(hits)} records of "
                           f"{row.jurisdiction} {row.plan} with indicator '{row.indicator}' and "
                           f"target {value:g} (expected exactly one)")
        out[t.id] = hits[0]
    return out


def matched_sets(catalogue: pd.DataFrame, path: str | Path | None = None) -> set[str]:
    """The target sets of ``catalogue`` with a target in ``record_matches.csv``."""
    ids = set(read_matches(path)["target_id"])
    return {t.target_set for t in as_targets(catalogue) if t.id in ids}


def unmatched_reasons(targets: Iterable[Target], matched: Mapping[str, PlanRecord],
                      sets: Iterable[str], records: Sequence[PlanRecord]) -> dict[str, str]:
    """Why a target of a matched set has no verdict to be scored on ({target_id: reason})."""
    sets = set(sets)
    out = {}
    for t in targets:
        if t.target_set not in sets:
            continue
        rec = matched.get(t.id)
        if rec is not None:
            if rec.verdict is None:
                out[t.id] = (f"its plan record ({rec.jurisdiction} {rec.plan}, line {rec.line}) "
                             f"states no verdict")
            continue
        key = plan_of_set(t.target_set)
        n = sum(r.plan_key == key and r.indicator == t.indicator_zh for r in records)
        out[t.id] = (f"no record of {key[0]} {key[1]} with exactly the indicator "
                     f"'{t.indicator_zh}'" if n == 0 else
                     f"{n} records of {key[0]} {key[1]} with the indicator '{t.indicator_zh}', "
                     f"none listed in record_matches.csv")
    return out

