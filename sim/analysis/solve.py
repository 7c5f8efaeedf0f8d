"""Required effort: which lever values make a target's P(met) reach a probability.

``P(v)`` is the share of draws meeting the target when the lever path (e.g.
``energy_intensity.shift_pp``) is set to ``v`` in one scenario: the run's headline probability
(:mod:`sim.analysis.headline`: the trend draws at ``v`` combined with the run's plan-record draws
and weight of that scenario, no new pilot), so at the scenario's own lever value it is the run's
P. A target resting on past plans only has a P no lever moves, and says so. Every ``v`` is simulated on the
same draws (common random numbers), so differences between values carry no independent Monte
Carlo noise. ``P`` is monotone whenever the lever moves each draw's indicator one way and the
target is one-sided; a two-sided target (``≈``, a range) or a lever acting through several
indicators can make it rise and fall.

The search (:mod:`sim.analysis.solve_search`) scans the lever's whole valid range (the range
:data:`sim.scenario.spec.SWEEP_RANGES` allows a scenario, unless ``bounds`` narrow it), says
whether ``P`` is monotone there, refines every crossing of the probability and answers: the least
effort (smallest value when more is better, largest when less is better), or for a ``P`` that is
not monotone every crossing, the intervals where ``P >= p`` and the value in them nearest to 0.

Monte Carlo error of each crossing ``v*``: (1) delta method, ``se(v*) = se(P) / |dP/dv|`` with
``se(P) = sqrt(p (1 - p) / N)`` and the slope fitted on a local grid around ``v*``; (2) bootstrap:
the draws are resampled (paired across the local grid) and the crossing re-solved by linear
interpolation on that grid; its standard deviation and 5–95 % interval are reported.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from sim.analysis.headline import for_names, methods_of, run_record
from sim.analysis.solve_result import Crossing, SolveResult
from sim.analysis.solve_search import Bisection, crossing, search
from sim.analysis.sweep import point_levers, scenario_spec, split_path
from sim.engine.dispatch import chunk_ranges, map_ranges
from sim.errors import SimError
from sim.evaluation import EvaluationAccumulator, evaluate_range, select_targets
from sim.evaluation.record import RecordSetup
from sim.run.context import RunContext
from sim.scenario.spec import SWEEP_RANGES


# --------------------------------------------------------------------------------------------
# P(met) of one target under lever values, on common random numbers
# --------------------------------------------------------------------------------------------
class LeverProbability:
    """``P(v)`` for one target, lever path and scenario; keeps every draw's met flag per ``v``.

    The met flags come from the evaluator (:func:`sim.evaluation.evaluate_range` with
    ``keep_met`` and the run's plan record of ``scenario``), the draws ``0 .. draws-1`` in
    ranges of ``chunk_draws``. ``method`` is what the probability rests on (the run's method).
    """

    def __init__(self, ctx: RunContext, target: str, lever: str, scenario: str = "baseline", *,
                 draws: int | None = None, chunk_draws: int = 5000, batch: int = 8):
        split_path(lever)
        self.ctx, self.lever, self.scenario = ctx, lever, scenario
        self.spec = scenario_spec(ctx, scenario)
        self.targets = select_targets(ctx.catalogue, [target])
        self.draws = int(draws or ctx.settings.draws)
        self.chunk = int(chunk_draws)
        self.batch = max(int(batch), 1)
        self.met: dict[float, np.ndarray] = {}
        self.record: RecordSetup | None = run_record(ctx, scenario, self.targets)
        self.method = ""
        self.weight = math.nan      # the trend's weight w of a trend+record target
        row = self.record.row(scenario, self.target) if self.record is not None else None
        if row is not None:
            self.method, self.weight = row.method, row.weight

    @property
    def target(self) -> str:
        """The target's id."""
        return self.targets[0].id

    def met_at(self, values: Iterable[float]) -> np.ndarray:
        """(V, N) bool: does draw i meet the target at lever value v. New values are simulated
        ``batch`` at a time (one engine call each: the memory of ``batch`` scenarios)."""
        values = [float(v) for v in values]
        todo = [v for v in dict.fromkeys(values) if v not in self.met]
        for i in range(0, len(todo), self.batch):
            self._simulate(todo[i:i + self.batch])
        return np.stack([self.met[v] for v in values])

    def _simulate(self, todo: list[float]) -> None:
        """Simulate and evaluate the lever values ``todo`` on the draws; keep their met flags."""
        levers = point_levers(self.ctx, self.scenario, [self.lever], np.array(todo)[:, None])
        names = [lv.name for lv in levers]
        tv = {name: dict(self.spec.target_values) for name in names}
        s = self.ctx.settings
        parts: list[EvaluationAccumulator] = []
        map_ranges(evaluate_range, chunk_ranges(self.draws, s.block_size, self.chunk),
                   shared=(self.ctx.fitted,),
                   args=(list(levers), s, self.targets, None, tv, (), 0, {}),
                   kwargs={"keep_met": True, "record": for_names(self.record, self.scenario, names)},
                   on_result=lambda res, first, n: parts.append(res[0]))
        acc = parts[0]
        for part in parts[1:]:
            acc.merge(part)
        methods, why = methods_of(self.record, self.scenario, [self.target], acc.reasons())
        self.method = methods[0]
        if why[0]:
            raise SimError(f"target '{self.target}' is not evaluable: {why[0]} (the run gives it "
                           "no probability)")
        for v, row in zip(todo, acc.met_array()[:, 0, :]):
            self.met[v] = row

    def __call__(self, values: Iterable[float]) -> np.ndarray:
        """P(met) at each lever value, (V,)."""
        return self.met_at(values).mean(axis=1)



# --------------------------------------------------------------------------------------------
# Solve with its Monte Carlo error
# --------------------------------------------------------------------------------------------
def default_bounds(lever: str) -> tuple[float, float]:
    """The lever's whole valid range (:data:`sim.scenario.spec.SWEEP_RANGES`): -50..50 pp/yr for a
    ``shift_pp``, 0..10,000,000 units/yr for housing."""
    split_path(lever)
    r = SWEEP_RANGES[lever]
    return float(r.lo if r.lo is not None else -1e9), float(r.hi if r.hi is not None else 1e9)


def _local_error(P: LeverProbability, b: Bisection, probability: float, spacing: float,
                 bounds: tuple[float, float], *, local_points: int, bootstrap: int,
                 seed: int) -> Crossing:
    """The crossing of ``b`` with its delta-method and bootstrap errors from a local grid about
    as wide as P moving by ±4 SE (at most one scan spacing each side)."""
    lo, hi = bounds
    N = P.draws
    c = Crossing(b.value, b.direction > 0, b.p_value)
    v_ev = sorted(b.evaluations)                 # the scan interval the crossing is in, and more
    slope0 = max(abs(b.evaluations[v_ev[-1]] - b.evaluations[v_ev[0]]) / (v_ev[-1] - v_ev[0]),
                 1.0 / (N * spacing))
    w = min(4 * math.sqrt(probability * (1 - probability) / N) / slope0, spacing)
    grid = np.unique(np.clip(np.linspace(b.value - w, b.value + w, local_points), lo, hi))
    if len(grid) < 2:
        return c
    met = P.met_at(grid).astype(float)          # (V, N)
    pg = met.mean(axis=1)
    c.slope = float(np.polyfit(grid, pg, 1)[0])
    se_p = math.sqrt(b.p_value * (1 - b.p_value) / N)
    c.se_delta = se_p / abs(c.slope) if c.slope else math.inf
    if bootstrap:
        rng = np.random.default_rng(seed)
        W = rng.multinomial(N, np.full(N, 1.0 / N), size=int(bootstrap)).astype(float)  # (B, N)
        vb = crossing(grid, W @ met.T / N, probability, b.direction)     # (B,)
        c.se_boot = float(np.std(vb, ddof=1))
        c.interval = (float(np.quantile(vb, 0.05)), float(np.quantile(vb, 0.95)))
    return c


def solve(ctx: RunContext, *, target: str, probability: float, lever: str, scenario: str = "baseline",
          bounds: tuple[float, float] | None = None, draws: int | None = None,
          xtol: float | None = None, points: int = 41, local_points: int = 9,
          bootstrap: int = 200, seed: int = 0) -> SolveResult:
    """Lever values giving ``P(met) >= probability`` over ``bounds`` (default: the lever's whole
    valid range, scanned on ``points`` values), with the Monte Carlo error of each crossing."""
    lo, hi = map(float, bounds or default_bounds(lever))
    if bounds is not None:
        SWEEP_RANGES[lever].check(lo, f"--bounds LO of {lever}")
        SWEEP_RANGES[lever].check(hi, f"--bounds HI of {lever}")
    P = LeverProbability(ctx, target, lever, scenario, draws=draws)
    s = search(P.met_at, lo, hi, probability, points=points, xtol=xtol)
    p_value = float(P([s.value])[0])
    res = SolveResult(target=target, lever=lever, scenario=scenario, probability=probability,
                      bounds=(lo, hi), draws=P.draws, status=s.status, value=s.value,
                      direction=s.direction, p_value=p_value,
                      se_p=math.sqrt(p_value * (1 - p_value) / P.draws), shape=s.scan.shape,
                      best_value=s.best_value, best_p=s.best_p, intervals=s.intervals,
                      scanned=len(s.scan.values), default_bounds=bounds is None,
                      method=P.method, weight=P.weight)
    spacing = float(s.scan.values[1] - s.scan.values[0])
    for i, b in enumerate(s.crossings):
        c = _local_error(P, b, probability, spacing, (lo, hi), local_points=local_points,
                         bootstrap=bootstrap, seed=seed + i)
        res.crossings.append(c)
        if c.value == res.value:
            res.se_delta, res.slope, res.se_boot, res.interval = (c.se_delta, c.slope, c.se_boot,
                                                                   c.interval)
    res.evaluations = {v: float(m.mean()) for v, m in sorted(P.met.items())}
    return res
