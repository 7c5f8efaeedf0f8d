"""Required effort: the least lever value that makes a target's P(met) reach a probability.

``P(v)`` is the share of draws meeting the target when the lever path (e.g.
``energy_intensity.shift_pp``) is set to ``v`` in one scenario. Every ``v`` is simulated on the
same draws (common random numbers), so ``P`` is a monotone step function of ``v`` whenever the
lever moves each draw's indicator monotonically (a ``shift_pp`` does: ``x' = log(exp(x) + s)``
is increasing in ``s``). The direction is read from ``P`` at the two bounds:

* ``P(hi) > P(lo)``: more is better, the answer is the *smallest* ``v`` with ``P(v) >= p``;
* ``P(hi) < P(lo)``: less is better (a negative ``shift_pp`` on an intensity), the answer is the
  *largest* ``v`` with ``P(v) >= p`` — the least effort either way.

Search (:func:`bisect_monotone`): k-section on the bracket ``[bad, good]`` with ``P(bad) < p <=
P(good)`` — each round simulates ``k - 1`` interior values in one engine call (they are scenarios
of the same draws) and keeps the sub-interval where ``P`` crosses ``p``, until it is shorter than
``xtol``. The answer is the good end (``P >= p`` holds there exactly, for these draws).

Monte Carlo error of the answer: (1) delta method, ``se(v*) = se(P) / |dP/dv|`` with
``se(P) = sqrt(p (1 - p) / N)`` and the slope fitted on a local grid around ``v*``; (2) bootstrap:
the draws are resampled (paired across the local grid) and the crossing re-solved by linear
interpolation on that grid; its standard deviation and 5–95 % interval are reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from sim.analysis.sweep import point_levers, scenario_spec, split_path
from sim.engine.dispatch import chunk_ranges
from sim.errors import SimError
from sim.evaluation import evaluate_draws, select_targets
from sim.run.context import RunContext


# --------------------------------------------------------------------------------------------
# The search, on any monotone P
# --------------------------------------------------------------------------------------------
@dataclass
class Bisection:
    """Outcome of :func:`bisect_monotone`: status, answer, direction and every ``P(v)`` seen."""

    status: str                  # "ok" | "unreachable" | "always" | "flat"
    value: float                 # the answer (ok / always), or the best bound (unreachable)
    direction: int               # +1 more is better, -1 less is better, 0 flat
    p_value: float               # P at the answer / best bound
    bracket: tuple[float, float]  # (bad, good) at the end
    evaluations: dict[float, float] = field(default_factory=dict)   # v -> P(v)


def bisect_monotone(prob: Callable[[np.ndarray], np.ndarray], lo: float, hi: float, p: float, *,
                    xtol: float | None = None, k: int = 8, max_rounds: int = 60) -> Bisection:
    """Least-effort ``v`` in ``[lo, hi]`` with ``prob(v) >= p`` for a monotone ``prob``.

    ``prob`` maps an array of lever values to their probabilities (one call per round, so a
    simulation can evaluate them together). ``xtol`` defaults to ``(hi - lo) / 1000``.
    """
    lo, hi = float(lo), float(hi)
    if not lo < hi:
        raise SimError(f"bounds must satisfy LO < HI, got {lo:g} {hi:g}")
    if not 0 < p < 1:
        raise SimError(f"probability must be in (0, 1), got {p:g}")
    xtol = float(xtol) if xtol else (hi - lo) / 1000.0
    evals: dict[float, float] = {}

    def f(xs):
        xs = np.asarray(xs, float)
        ps = np.asarray(prob(xs), float)
        evals.update(zip(map(float, xs), map(float, ps)))
        return ps

    p_lo, p_hi = f([lo, hi])
    if p_hi == p_lo:
        if p_lo >= p:
            return Bisection("always", lo, 0, p_lo, (lo, lo), evals)
        return Bisection("flat", lo, 0, p_lo, (lo, hi), evals)
    direction = 1 if p_hi > p_lo else -1
    good, bad = (hi, lo) if direction > 0 else (lo, hi)
    p_good, p_bad = max(p_lo, p_hi), min(p_lo, p_hi)
    if p_good < p:
        return Bisection("unreachable", good, direction, p_good, (bad, good), evals)
    if p_bad >= p:
        return Bisection("always", bad, direction, p_bad, (bad, bad), evals)
    for _ in range(max_rounds):
        if abs(good - bad) <= xtol:
            break
        xs = np.linspace(bad, good, k + 1)[1:-1]
        ps = f(xs)
        hit = np.nonzero(ps >= p)[0]
        if hit.size:
            j = int(hit[0])
            new_good, p_good = float(xs[j]), float(ps[j])
            bad = float(xs[j - 1]) if j > 0 else bad
            good = new_good
        else:
            bad = float(xs[-1])
    return Bisection("ok", good, direction, p_good, (bad, good), evals)


# --------------------------------------------------------------------------------------------
# P(met) of one target under lever values, on common random numbers
# --------------------------------------------------------------------------------------------
class LeverProbability:
    """``P(v)`` for one target, lever path and scenario; keeps every draw's met flag per ``v``.

    The met flags come from the evaluator (:func:`sim.evaluation.evaluate_draws` with
    ``keep_met``), the draws ``0 .. draws-1`` in ranges of ``chunk_draws``.
    """

    def __init__(self, ctx: RunContext, target: str, lever: str, scenario: str = "baseline", *,
                 draws: int | None = None, chunk_draws: int = 5000):
        split_path(lever)
        self.ctx, self.lever, self.scenario = ctx, lever, scenario
        self.spec = scenario_spec(ctx, scenario)
        self.targets = select_targets(ctx.catalogue, [target])
        self.draws = int(draws or ctx.settings.draws)
        self.chunk = int(chunk_draws)
        self.met: dict[float, np.ndarray] = {}

    @property
    def target(self) -> str:
        """The target's id."""
        return self.targets[0].id

    def met_at(self, values: Iterable[float]) -> np.ndarray:
        """(V, N) bool: does draw i meet the target at lever value v."""
        values = [float(v) for v in values]
        todo = [v for v in dict.fromkeys(values) if v not in self.met]
        if todo:
            levers = point_levers(self.ctx, self.scenario, [self.lever], np.array(todo)[:, None])
            tv = {lv.name: dict(self.spec.target_values) for lv in levers}
            s = self.ctx.settings
            acc = evaluate_draws(self.ctx.fitted, levers, s, self.targets, tv,
                                 chunk_ranges(self.draws, s.block_size, self.chunk),
                                 keep_met=True)
            reason = acc.reasons()[0]
            if reason:
                raise SimError(f"target '{self.target}' is not evaluable: {reason}")
            for v, row in zip(todo, acc.met_array()[:, 0, :]):
                self.met[v] = row
        return np.stack([self.met[v] for v in values])

    def __call__(self, values: Iterable[float]) -> np.ndarray:
        """P(met) at each lever value, (V,)."""
        return self.met_at(values).mean(axis=1)


# --------------------------------------------------------------------------------------------
# Solve with its Monte Carlo error
# --------------------------------------------------------------------------------------------
@dataclass
class SolveResult:
    """The least-effort lever value for a target's P(met), with its Monte Carlo error."""

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
    se_delta: float = math.nan        # delta-method SE of the answer
    slope: float = math.nan           # dP/dv at the answer (per lever unit)
    se_boot: float = math.nan         # bootstrap SD of the answer
    interval: tuple[float, float] = (math.nan, math.nan)  # bootstrap 5-95 %
    evaluations: dict[float, float] = field(default_factory=dict)

    def message(self) -> str:
        """The answer in words (what the CLI prints)."""
        unit = "pp/yr" if self.lever.endswith("shift_pp") else "units/yr"
        head = (f"{self.target} in '{self.scenario}', lever {self.lever} in "
                f"[{self.bounds[0]:g}, {self.bounds[1]:g}] {unit}, {self.draws} draws "
                f"(common random numbers)")
        if self.status in ("unreachable", "flat"):
            word = "no value of" if self.status == "unreachable" else "P(met) does not change with"
            return (f"{head}\n  {word} {self.lever} within the bounds reaches P(met) >= "
                    f"{self.probability:g}: the best is P = {self.p_value:.3f} ± {self.se_p:.3f} "
                    f"at {self.value:g}."
                    + ("\n  Widen --bounds or add another lever." if self.status == "unreachable" else ""))
        if self.status == "always":
            return (f"{head}\n  every value within the bounds already gives P(met) >= "
                    f"{self.probability:g}: the least effort, {self.lever} = {self.value:g}, gives "
                    f"P = {self.p_value:.3f} ± {self.se_p:.3f}.")
        way = "at least" if self.direction > 0 else "at most"
        lines = [head,
                 f"  P(met) >= {self.probability:g} needs {self.lever} {way} {self.value:.4g} {unit} "
                 f"(P there = {self.p_value:.3f} ± {self.se_p:.3f})",
                 f"  Monte Carlo error of the answer: ± {self.se_delta:.3g} (delta method, slope "
                 f"dP/dv = {self.slope:.3g} per {unit})"]
        if np.isfinite(self.se_boot):
            lines.append(f"  bootstrap over draws: sd {self.se_boot:.3g}, 90% interval "
                         f"[{self.interval[0]:.4g}, {self.interval[1]:.4g}]")
        return "\n".join(lines)


def default_bounds(lever: str) -> tuple[float, float]:
    """Search interval when none is given: 0..200,000 units/yr or -10..10 pp/yr."""
    return (0.0, 200_000.0) if lever.endswith("units_per_year") else (-10.0, 10.0)


def crossing(values: np.ndarray, probs: np.ndarray, p: float, direction: int):
    """Least-effort crossing of ``p``, linear between grid values, clipped to the grid.

    ``probs`` is (V,) or (B, V) over ``values`` (V,); returns a float or (B,).
    """
    order = np.argsort(values)[::-1 if direction < 0 else 1]   # from the bad side to the good side
    v = np.asarray(values, float)[order]
    q = np.atleast_2d(np.asarray(probs, float))[:, order]
    res = np.empty(q.shape[0])
    for b in range(q.shape[0]):
        hit = np.nonzero(q[b] >= p)[0]
        if not hit.size:
            res[b] = v[-1]
        elif hit[0] == 0:
            res[b] = v[0]
        else:
            j = hit[0]
            res[b] = v[j - 1] + (p - q[b, j - 1]) / (q[b, j] - q[b, j - 1]) * (v[j] - v[j - 1])
    return float(res[0]) if np.ndim(probs) == 1 else res


def solve(ctx: RunContext, *, target: str, probability: float, lever: str, scenario: str = "baseline",
          bounds: tuple[float, float] | None = None, draws: int | None = None,
          xtol: float | None = None, local_points: int = 9, bootstrap: int = 200,
          seed: int = 0) -> SolveResult:
    """Least lever value giving ``P(met) >= probability``, with its Monte Carlo error."""
    lo, hi = map(float, bounds or default_bounds(lever))
    P = LeverProbability(ctx, target, lever, scenario, draws=draws)
    b = bisect_monotone(P, lo, hi, probability, xtol=xtol)
    N = P.draws
    se_p = math.sqrt(b.p_value * (1 - b.p_value) / N)
    res = SolveResult(target=target, lever=lever, scenario=scenario, probability=probability,
                      bounds=(lo, hi), draws=N, status=b.status, value=b.value,
                      direction=b.direction, p_value=b.p_value, se_p=se_p,
                      evaluations=dict(sorted(b.evaluations.items())))
    if b.status != "ok":
        return res
    # local grid: wide enough that P moves by about +-3 SE around the answer
    v_ev = np.array(sorted(b.evaluations))
    p_ev = np.array([b.evaluations[v] for v in v_ev])
    slope0 = abs((p_ev[-1] - p_ev[0]) / (v_ev[-1] - v_ev[0]))
    se_pp = math.sqrt(probability * (1 - probability) / N)
    w = 3 * se_pp / max(slope0, 1e-12)
    w = min(max(w, 2 * (xtol or (hi - lo) / 1000)), (hi - lo) / 2)
    grid = np.clip(np.linspace(b.value - w, b.value + w, local_points), lo, hi)
    grid = np.unique(grid)
    met = P.met_at(grid).astype(float)          # (V, N)
    pg = met.mean(axis=1)
    slope = float(np.polyfit(grid, pg, 1)[0]) if len(grid) >= 2 else math.nan
    res.slope = slope
    res.se_delta = se_p / abs(slope) if slope else math.inf
    if bootstrap and len(grid) >= 2:
        rng = np.random.default_rng(seed)
        W = rng.multinomial(N, np.full(N, 1.0 / N), size=int(bootstrap)).astype(float)  # (B, N)
        pb = W @ met.T / N                        # (B, V)
        vb = crossing(grid, pb, probability, b.direction)
        res.se_boot = float(np.std(vb, ddof=1))
        res.interval = (float(np.quantile(vb, 0.05)), float(np.quantile(vb, 0.95)))
    res.evaluations = dict(sorted({**b.evaluations, **dict(zip(map(float, grid), map(float, pg)))}.items()))
    return res
