"""Evaluate every target of the chosen sets on an ensemble: P(met) and what surrounds it.

* :mod:`~sim.evaluation.indicator`: the simulated indicator of a target per scenario and draw,
  and its observed value in the data;
* :mod:`~sim.evaluation.probability`: the comparator, Wilson interval, likelihood words and the
  number-cell parser;
* :mod:`~sim.evaluation.accumulator`: :class:`EvaluationAccumulator`, the one evaluator (fed
  chunk by chunk, merged over ranges of draws) and :func:`evaluate` (all draws at once);
* :mod:`~sim.evaluation.record`: the plan record in the evaluation (p_record, each row's
  method, the record's keyed draws and the combination with the trend);
* :mod:`~sim.evaluation.ranges`: :func:`evaluate_range` (simulate and evaluate one range of
  draws, the task of every dispatch) and :func:`run_adaptive` (draws until P(met) is precise).
"""

from sim.evaluation.accumulator import (Evaluation, EvaluationAccumulator, evaluate,
                                        select_targets, targets_of)
from sim.evaluation.indicator import Indicator, as_target, indicator_for, observation_for
from sim.evaluation.probability import (APPROX_TOLERANCE, LIKELIHOOD, Z95, as_int, as_number,
                                        compare, likelihood_word, wilson_interval)
from sim.evaluation.record import (METHODS, PILOT_DRAWS, RecordSetup, base_of,
                                   build_record_setup, setup_from_pilot)
from sim.evaluation.ranges import (AdaptiveResult, evaluate_draws, evaluate_range, run_adaptive,
                                   standard_errors)

__all__ = ["APPROX_TOLERANCE", "AdaptiveResult", "METHODS", "PILOT_DRAWS", "RecordSetup",
           "base_of", "build_record_setup", "setup_from_pilot", "Evaluation", "EvaluationAccumulator",
           "Indicator", "LIKELIHOOD", "Z95", "as_int", "as_number", "as_target", "compare",
           "evaluate", "evaluate_draws", "evaluate_range", "indicator_for", "likelihood_word",
           "observation_for", "run_adaptive", "select_targets", "standard_errors", "targets_of",
           "wilson_interval"]
