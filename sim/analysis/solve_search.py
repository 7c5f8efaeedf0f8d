"""Where does a lever make P(met) reach a probability? The search of ``sim solve``, on any P.

``met_at(values)`` gives every draw's met flag at each lever value, (V, N) bool, on common random
numbers (the same draws at every value), and ``P(v)`` is its mean over draws. Nothing here knows
the model: tests run it on synthetic draws with known answers.

1. **Scan** (:func:`scan`): ``P`` on an even grid over the whole interval ``[lo, hi]`` (by default
   the lever's whole valid range). Its shape is read from the draws: a *rise* from grid value
   ``a`` to ``b > a`` is significant when ``P(b) - P(a) > z · se``, with the paired standard error
   ``se = sd_i(m_i(b) - m_i(a)) / sqrt(N)`` (``z = 3``, since many pairs are compared); a fall
   likewise. Rises only: increasing; falls only: decreasing; both: **not monotone**.
2. **Refine** (:func:`bisect_monotone`): every grid interval where ``P - p`` changes sign is cut
   by k-section (``k - 1`` interior values per round, one ``met_at`` call) until it is shorter
   than ``xtol``; the crossing is the end where ``P >= p`` (exact for these draws).
3. **Answer** (:func:`search`): increasing, the smallest value with ``P >= p``; decreasing, the
   largest — the least effort either way. Not monotone: every crossing, the intervals where
   ``P >= p`` and, as the answer, the value in them nearest to 0 (the smallest change). The
   largest ``P`` seen is reported in every case (the grid's; for a P that is not monotone
   refined between the neighbours of the best grid value).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from sim.errors import SimError

MetAt = Callable[[np.ndarray], np.ndarray]      # (V,) lever values -> (V, N) bool
SHAPE_Z = 3.0                                   # z of a significant rise or fall (see module doc)
MIN_POINTS = 3                                  # the fewest scan values (ends and a middle)


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


# --------------------------------------------------------------------------------------------
# Scan of the whole interval
# --------------------------------------------------------------------------------------------
@dataclass
class Change:
    """A significant rise or fall of P between two scanned values ``a < b``."""

    a: float
    b: float
    p_a: float
    p_b: float
    se: float        # paired SE of P(b) - P(a)


@dataclass
class Scan:
    """P on the scan grid and its shape: "increasing", "decreasing", "flat" or "not monotone"."""

    values: np.ndarray            # (V,) sorted
    p: np.ndarray                 # (V,)
    shape: str
    rise: Change | None = None    # the largest significant rise (None: none)
    fall: Change | None = None    # the largest significant fall


def scan_shape(values: np.ndarray, met: np.ndarray, z: float = SHAPE_Z) -> Scan:
    """Shape of ``P`` over sorted ``values`` from the met flags ``met`` (V, N) (see module doc)."""
    m = np.asarray(met, dtype=np.int8)
    P = m.mean(axis=1)
    N = m.shape[1]
    best: dict[int, tuple[float, Change]] = {}
    for i in range(len(values) - 1):
        d = m[i + 1:] - m[i]                                   # (V - i - 1, N) in {-1, 0, 1}
        mean = d.mean(axis=1)
        se = np.sqrt(np.maximum((d * d).mean(axis=1) - mean ** 2, 0.0) / N)
        for sign in (1, -1):
            sig = np.nonzero(sign * mean > np.maximum(z * se, 0.0))[0]
            if sig.size:
                j = int(sig[np.argmax(sign * mean[sig])])
                size = float(sign * mean[j])
                if sign not in best or size > best[sign][0]:
                    best[sign] = (size, Change(float(values[i]), float(values[i + 1 + j]),
                                               float(P[i]), float(P[i + 1 + j]), float(se[j])))
    rise, fall = (best.get(s, (0.0, None))[1] for s in (1, -1))
    if rise and fall:
        shape = "not monotone"
    elif rise or fall:
        shape = "increasing" if rise else "decreasing"
    elif np.all(P == P[0]):
        shape = "flat"
    else:   # changes within the Monte Carlo error: the direction of the ends
        shape = "increasing" if P[-1] > P[0] else "decreasing" if P[-1] < P[0] else "flat"
    return Scan(np.asarray(values, float), P, shape, rise, fall)


# --------------------------------------------------------------------------------------------
# The search
# --------------------------------------------------------------------------------------------
@dataclass
class Search:
    """Outcome of :func:`search` (statuses: "ok", "unreachable", "always", "flat")."""

    status: str
    value: float                          # the answer (see module doc), or where P is largest
    direction: int                        # +1 increasing, -1 decreasing, 0 flat / not monotone
    scan: Scan
    crossings: list[Bisection]            # every refined crossing, by lever value
    intervals: list[tuple[float, float]]  # where P >= p (from the scan and the crossings)
    best_value: float                     # where the largest P seen is
    best_p: float


def _intervals(values: np.ndarray, probs: np.ndarray, cross: list[Bisection],
               p: float) -> list[tuple[float, float]]:
    """The lever intervals where ``P >= p``: from the scanned ends and the refined crossings."""
    out: list[tuple[float, float]] = []
    start = float(values[0]) if probs[0] >= p else None
    for c in cross:
        if c.direction > 0:
            start = c.value
        elif start is not None:
            out.append((start, c.value))
            start = None
    if start is not None:
        out.append((start, float(values[-1])))
    return out


def _nearest_zero(intervals: list[tuple[float, float]]) -> float:
    """The value of the intervals with the smallest magnitude (0 when an interval holds it)."""
    return min((min(max(0.0, a), b) for a, b in intervals), key=abs)


def search(met_at: MetAt, lo: float, hi: float, p: float, *, points: int = 41,
           xtol: float | None = None) -> Search:
    """Scan ``[lo, hi]`` on ``points`` values, refine every crossing of ``p`` to ``xtol`` (default a
    thousandth of the grid spacing) and answer (see module doc)."""
    lo, hi = float(lo), float(hi)
    if not lo < hi:
        raise SimError(f"bounds must satisfy LO < HI, got {lo:g} {hi:g}")
    if not 0 < p < 1:
        raise SimError(f"probability must be in (0, 1), got {p:g}")
    if points < MIN_POINTS:
        raise SimError(f"the scan needs at least {MIN_POINTS} values, got {points}")
    values = np.linspace(lo, hi, int(points))
    sc = scan_shape(values, met_at(values))
    xtol = float(xtol) if xtol else (values[1] - values[0]) / 1000.0

    def prob(xs: np.ndarray) -> np.ndarray:
        return met_at(np.asarray(xs, float)).mean(axis=1)

    # the scan, plus a finer look between the neighbours of its largest P when that can lie
    # inside the range (P not monotone)
    seen = dict(zip(map(float, values), map(float, sc.p)))
    if sc.shape == "not monotone":
        k = int(np.argmax(sc.p))
        near = np.linspace(values[max(k - 1, 0)], values[min(k + 1, len(values) - 1)], 9)
        seen = {**dict(zip(map(float, near), map(float, prob(near)))), **seen}
    grid = np.array(sorted(seen))
    pg = np.array([seen[v] for v in grid])
    above = pg >= p
    cross = [bisect_monotone(prob, grid[i], grid[i + 1], p, xtol=xtol)
             for i in np.nonzero(above[1:] != above[:-1])[0]]
    intervals = _intervals(grid, pg, cross, p)
    best_value = max(seen, key=lambda v: (seen[v], -abs(v)))
    best = (best_value, seen[best_value])
    direction = {"increasing": 1, "decreasing": -1}.get(sc.shape, 0)
    if sc.shape == "flat":
        return Search("flat" if sc.p[0] < p else "always", lo if sc.p[0] < p else _nearest_zero(
            [(lo, hi)]), 0, sc, [], intervals, *best)
    if best[1] < p:
        return Search("unreachable", best[0], direction, sc, cross, [], *best)
    if np.all(above):
        value = {1: lo, -1: hi}.get(direction, _nearest_zero([(lo, hi)]))
        return Search("always", value, direction, sc, cross, intervals, *best)
    if direction > 0:
        value = intervals[0][0]
    elif direction < 0:
        value = intervals[-1][1]
    else:
        value = _nearest_zero(intervals)
    return Search("ok", value, direction, sc, cross, intervals, *best)
