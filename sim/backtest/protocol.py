"""The protocol of a backtest: every rule, threshold and hyperparameter, and how it was set.

A choice is honest when it is **fixed beforehand** with a reason that does not come from the
scored events, or **chosen at each origin from what was known then** (rolling): never by its
score on the events a backtest reports. :data:`FIXED` lists the fixed ones with their reasons;
:func:`choices_frame` adds, per origin and training set, the choices made from earlier
information (today: how much the verdict model pools families,
:func:`sim.plan_record.verdict.choose_pooling`). The backtest writes the table as
``protocol.csv`` and prints one line of it (:func:`protocol_line`).

Columns: ``choice, value, how, reason, origin, target_sets`` (``origin`` blank for a fixed
choice).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import pandas as pd

from sim.evaluation import record as er
from sim.plan_record import records as rec
from sim.plan_record import verdict as vm

PROTOCOL_COLUMNS = ["choice", "value", "how", "reason", "origin", "target_sets"]
BEFOREHAND, ROLLING, ESTIMATED = ("fixed beforehand", "chosen from earlier information only",
                                  "estimated at the origin")

FIXED: tuple[tuple[str, str, str, str], ...] = (
    ("information date", "as_of Y = published by 30 June Y+1", BEFOREHAND,
     "when year Y's annual statistics have appeared; one rule for data, records, base values"),
    ("record publication default", f"period_end + {rec.DEFAULT_PUBLICATION_LAG} (a bare year)",
     BEFOREHAND, "a plan's final assessment is announced the year after its period ends; "
                 "without a month it cannot be placed before the information date"),
    ("data vintage", "first-published, else undated, else revised (listed)", BEFOREHAND,
     "what was known at the origin; vintage_fallbacks.csv lists every revised fallback"),
    ("scored plan's records", "left out (leave one plan out)", BEFOREHAND,
     "a target is never forecast from its own outcome"),
    ("family pooling default", vm.DEFAULT_POOLING, BEFOREHAND,
     "the hierarchical model as designed, used only where no earlier step exists to test on"),
    ("family pooling rule", "partial or pooled, per fit", ROLLING,
     "prequential log loss on the fit's own records, fitted before each information year "
     "and scored on the verdicts that became known then (rows below)"),
    ("verdict model α, β, λ", "maximum marginal likelihood", ESTIMATED,
     "empirical Bayes on the records known at the origin"),
    ("concentration bounds", f"{vm.CONCENTRATION_BOUNDS}", BEFOREHAND,
     "numerical range of α + β; the upper bound is 'one pooled rate'"),
    ("thin family flag", f"fewer than {vm.THIN_RECORDS} verdicts", BEFOREHAND,
     "a display flag; it changes no forecast"),
    ("thin trend threshold", f"{er.MIN_INFORMATIVE_TREND} informative observations", BEFOREHAND,
     "level, slope and noise need three changes; below it a trend-only row defers to the record"),
    ("trend-record combination", "random effects: τ² from the two sources' disagreement",
     BEFOREHAND, "pre-registered before its scores (sim/plan_record/combine.py); τ² comes from "
                 "the forecast at its origin, no parameter sized on outcomes"),
    ("pilot draws", f"{er.PILOT_DRAWS}", BEFOREHAND, "Monte Carlo size of the weight estimate"),
    ("calibration priors and fallbacks", "as listed by sim calibrate", BEFOREHAND,
     "set in the calibration code before this protocol; not re-tuned on backtest scores here "
     "(whether earlier work looked at backtest scores when setting them is not recorded)"),
)


def choices_frame(rolling: Iterable[Mapping[str, Any]],
                  extra: Iterable[tuple[str, str, str, str]] = ()) -> pd.DataFrame:
    """The protocol table: :data:`FIXED` (and ``extra`` fixed choices), then one row per
    rolling choice (dicts with ``choice, value, reason, origin, target_sets``)."""
    rows = [dict(choice=c, value=v, how=h, reason=r, origin=None, target_sets="")
            for c, v, h, r in (*FIXED, *extra)]
    rows += [dict(how=ROLLING, **dict(r)) for r in rolling]
    out = pd.DataFrame(rows, columns=PROTOCOL_COLUMNS)
    out["origin"] = out["origin"].astype("Int64")
    return out


def pooling_choice(model: vm.VerdictModel, origin: int, sets: Iterable[str]) -> dict:
    """The rolling row of one verdict-model fit: the rule and the losses it was chosen on."""
    if model.pooling_losses is None:
        why = "no earlier information year to test on: the default"
    else:
        partial, pooled = model.pooling_losses
        why = (f"prequential log loss on {model.pooling_steps} earlier verdicts: partial "
               f"{partial:.1f}, pooled {pooled:.1f}")
    return dict(choice="family pooling rule", value=model.pooling, reason=why, origin=int(origin),
                target_sets=", ".join(sets))


def protocol_line(table: pd.DataFrame) -> str:
    """One line for the printed summary: how many choices of each kind, and the rolling ones."""
    fixed = int((table["how"] == BEFOREHAND).sum())
    est = int((table["how"] == ESTIMATED).sum())
    roll = table[table["origin"].notna()]
    counts = roll.groupby("value").size().to_dict() if len(roll) else {}
    what = ", ".join(f"{v} {n}×" for v, n in sorted(counts.items()))
    return (f"protocol: {fixed} choices fixed beforehand, {est} estimated at each origin, family "
            f"pooling chosen per fit from earlier records only ({what or 'no fit'}); nothing "
            f"tuned on the scored events (protocol.csv)")
