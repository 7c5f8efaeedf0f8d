"""The record of past plans: what happened to earlier targets, and what that says about new ones.

* :mod:`~sim.plan_record.records`: the plan-records file (``calibration/data/plan_records/``),
  loaded and validated into :class:`PlanRecord` objects; ``as_of`` keeps the records whose
  outcome was published by the information date of ``as_of`` (30 June of as_of + 1);
* :mod:`~sim.plan_record.verdict`: :class:`VerdictModel`, P(met) by family and binding status
  from the official verdicts (hierarchical beta-binomial);
* :mod:`~sim.plan_record.outcome`: :class:`OutcomeModel`, where outcomes land relative to their
  targets (log progress ratio, normal–normal with shrunken variances);
* :mod:`~sim.plan_record.split`: :class:`SplitOutcomeModel`, the side of the target from the
  verdict rate and the distance past or short of it (bunching on the target, few large misses);
* :mod:`~sim.plan_record.model`: :class:`PlanRecordModel`, all three fitted at one ``as_of``.
"""

from sim.plan_record.model import PlanRecordModel, fit_plan_record_model
from sim.plan_record.outcome import OutcomeModel, OutcomePredictive
from sim.plan_record.records import (FLAGS, PLAN_RECORDS, PLAN_RECORDS_DIR, PlanRecord, known_by,
                                     load_plan_records, records_frame)
from sim.plan_record.split import SplitOutcomeModel, SplitPredictive
from sim.plan_record.verdict import THIN_RECORDS, RecordProbability, VerdictModel

__all__ = ["FLAGS", "OutcomeModel", "OutcomePredictive", "PLAN_RECORDS", "PLAN_RECORDS_DIR",
           "PlanRecord",
           "PlanRecordModel", "RecordProbability", "SplitOutcomeModel", "SplitPredictive",
           "THIN_RECORDS", "VerdictModel",
           "fit_plan_record_model", "known_by", "load_plan_records", "records_frame"]
