"""Scale out: the engine's blocks of draws as dask.distributed tasks, and streaming reducers.

Three layers, each usable without the next:

* **Target checks** (:class:`Checks`, :func:`met_of`): the targets of a run as plain rows and a
  value per (scenario, target), and the per-draw "met" booleans of a :class:`~sim.engine.simulation.Simulation`
  chunk — the same indicator and comparator as :func:`sim.evaluation.evaluate`.
* **Reducers** (:class:`Tally`, :func:`tally_range`): what one range of draws contributes to a
  run's summaries — per-(scenario, target) met counts (exact) and per-target histograms on fixed
  edges (quantiles to within one bin). Tallies add, so the client holds ``O(S T bins)`` numbers
  whatever the number of draws.
* **Dispatch** (:func:`connect`, :func:`simulate_distributed`, :func:`tally_distributed`,
  :func:`run_adaptive`): ranges of draws (on block boundaries) become tasks; every task calls
  :func:`sim.engine.simulation.simulate` with ``first_draw``, so by the engine's keying (draw ``i`` depends
  only on ``(seed, i // block_size, i % block_size)``) the result equals a single-process run
  bit for bit, for any number of workers and any split.

``scheduler`` strings: ``"local"`` (a LocalCluster, one single-threaded worker process per core),
``"local:N"`` (N workers) or ``"tcp://HOST:PORT"`` (an existing scheduler). dask is an optional
extra (``pip install -e '.[distributed]'``); everything except the dispatch layer works without it.
"""

from __future__ import annotations

import logging
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from sim.errors import SimError

NEEDS_DASK = "--scheduler needs dask.distributed: pip install -e '.[distributed]'"


# --------------------------------------------------------------------------------------------
# Target checks
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Checks:
    """The targets to check: catalogue rows (dicts) and ``values`` (S, T), NaN = no value."""

    rows: tuple[dict, ...]
    values: np.ndarray          # (S, T) target value per scenario (after scenario overrides)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(str(r["id"]) for r in self.rows)


def _num(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f if np.isfinite(f) else math.nan


def make_checks(catalogue, target_values: Sequence[dict] | None = None,
                targets: Sequence[str] | None = None, n_scenarios: int | None = None) -> Checks:
    """Checks for ``catalogue`` (a DataFrame of :mod:`sim.targets`) and per-scenario overrides.

    ``target_values[s]`` maps target id -> value for scenario ``s`` (its ``target_values``);
    ``targets`` keeps only those ids (unknown ids are an error naming the known ones).
    """
    rows = [r for r in catalogue.to_dict("records")]
    if targets:
        known = {str(r["id"]): r for r in rows}
        missing = [t for t in targets if t not in known]
        if missing:
            from sim.errors import did_you_mean

            raise SimError(f"unknown target '{missing[0]}'{did_you_mean(missing[0], known)} "
                           f"(see `python -m sim targets` for the ids of the run's target sets)")
        rows = [known[t] for t in targets]
    tv = list(target_values) if target_values is not None else [{}] * (n_scenarios or 1)
    values = np.full((len(tv), len(rows)), np.nan)
    for s, over in enumerate(tv):
        for t, r in enumerate(rows):
            v = (over or {}).get(r["id"])
            values[s, t] = _num(v) if v is not None else _num(r.get("value"))
    return Checks(rows=tuple(rows), values=values)


def met_of(sim, fitted, checks: Checks):
    """Per-draw results of a simulation chunk: ``(met, x, reasons)``.

    ``met`` (S, T, N) bool — the target is met in that draw (False where not evaluable);
    ``x`` list of T arrays (S, N) or None — the indicator; ``reasons`` T strings ("" when
    evaluable). Same indicator, comparator and finiteness rule as :func:`sim.evaluation.evaluate`.
    """
    from sim.engine.simulation import series_paths
    from sim.ensemble import build_dataset
    from sim.evaluation import compare, indicator_for

    ds = build_dataset(sim, fitted, series_paths(sim, fitted), {})
    S, N = len(sim.scenarios), sim.delta.shape[2]
    T = len(checks.rows)
    met = np.zeros((S, T, N), dtype=bool)
    xs, reasons = [], []
    for t, row in enumerate(checks.rows):
        if np.all(np.isnan(checks.values[:, t])):
            xs.append(None)
            reasons.append("no target value (left blank in the plan)")
            continue
        ind = indicator_for(ds, row)
        if ind.values is None:
            xs.append(None)
            reasons.append(ind.reason)
            continue
        xs.append(ind.values)
        reasons.append("")
        for s in range(S):
            v = checks.values[min(s, checks.values.shape[0] - 1), t]
            if np.isnan(v):
                continue
            vh = _num(row.get("value_high"))
            ok = compare(ind.values[s], row["comparator"], v, None if math.isnan(vh) else vh,
                         _tol(row))
            met[s, t] = ok & np.isfinite(ind.values[s])
    return met, xs, reasons


def _tol(row) -> float | None:
    v = _num(row.get("tolerance"))
    return None if math.isnan(v) else v


# --------------------------------------------------------------------------------------------
# Reducers
# --------------------------------------------------------------------------------------------
@dataclass
class Tally:
    """Additive summary of a range of draws: exact met counts, histogram quantile sketches.

    ``met`` (S, T) int64 draws meeting each target; ``n`` draws; ``edges`` (T, K+1) fixed bin
    edges per target (NaN rows: no sketch); ``hist`` (S, T, K+2) counts with an underflow bin
    first and an overflow bin last; ``reasons`` why a target is not evaluable ("" if it is).
    """

    met: np.ndarray
    n: int
    hist: np.ndarray | None = None
    edges: np.ndarray | None = None
    reasons: tuple[str, ...] = ()

    def __add__(self, other: "Tally") -> "Tally":
        hist = None if self.hist is None else self.hist + other.hist
        return Tally(self.met + other.met, self.n + other.n, hist, self.edges,
                     self.reasons or other.reasons)

    @property
    def p(self) -> np.ndarray:
        """P(met) (S, T); NaN where not evaluable."""
        p = self.met / max(self.n, 1)
        bad = np.array([bool(r) for r in self.reasons]) if self.reasons else np.zeros(p.shape[1], bool)
        return np.where(bad[None, :], np.nan, p)

    @property
    def se(self) -> np.ndarray:
        """Binomial standard error sqrt(P (1 - P) / n), (S, T)."""
        p = self.p
        return np.sqrt(p * (1 - p) / max(self.n, 1))

    def quantiles(self, qs: Sequence[float]) -> np.ndarray:
        """Quantiles (S, T, Q) from the histograms, linear within a bin; NaN outside the edges."""
        if self.hist is None:
            raise SimError("this tally has no histogram sketch")
        S, T, _ = self.hist.shape
        out = np.full((S, T, len(qs)), np.nan)
        for t in range(T):
            e = self.edges[t]
            if np.any(np.isnan(e)):
                continue
            for s in range(S):
                h = self.hist[s, t].astype(float)
                tot = h.sum()
                if tot == 0:
                    continue
                cdf = np.cumsum(h) / tot           # after under, bins..., over
                for k, q in enumerate(qs):
                    i = int(np.searchsorted(cdf, q, side="left"))
                    if i == 0 or i == len(h) - 1:
                        continue                     # in the under/overflow bin: unknown
                    lo_c = cdf[i - 1]
                    frac = (q - lo_c) / max(cdf[i] - lo_c, 1e-300)
                    out[s, t, k] = e[i - 1] + frac * (e[i] - e[i - 1])
        return out


def sketch_edges(xs: Sequence[np.ndarray | None], bins: int = 2000, pad: float = 0.5) -> np.ndarray:
    """Bin edges (T, bins+1) per target from a pilot chunk's indicators: its 0.1–99.9 % range
    widened by ``pad`` of its width on each side (NaN rows where no indicator)."""
    edges = np.full((len(xs), bins + 1), np.nan)
    for t, x in enumerate(xs):
        if x is None:
            continue
        v = np.asarray(x, float)
        v = v[np.isfinite(v)]
        if v.size == 0:
            continue
        lo, hi = np.quantile(v, [0.001, 0.999])
        w = max(hi - lo, 1e-9 * max(abs(lo), 1.0), 1e-12)
        edges[t] = np.linspace(lo - pad * w, hi + pad * w, bins + 1)
    return edges


def tally_sim(sim, fitted, checks: Checks, edges: np.ndarray | None = None) -> Tally:
    """The :class:`Tally` of one simulation chunk."""
    met, xs, reasons = met_of(sim, fitted, checks)
    hist = None
    if edges is not None:
        S, T = met.shape[:2]
        K = edges.shape[1] - 1
        hist = np.zeros((S, T, K + 2), np.int64)
        for t, x in enumerate(xs):
            if x is None or np.any(np.isnan(edges[t])):
                continue
            for s in range(S):
                v = x[s][np.isfinite(x[s])]
                idx = np.searchsorted(edges[t], v, side="right")   # 0: under, K+1: over
                hist[s, t] = np.bincount(idx, minlength=K + 2)[:K + 2]
    return Tally(met.sum(axis=2).astype(np.int64), int(met.shape[2]), hist, edges, tuple(reasons))


def tally_range(fitted, levers, checks: Checks, *, horizon: int, seed: int, block_size: int,
                first_draw: int, draws: int, parameter_uncertainty: bool = True,
                correlated_shocks: bool = True, edges=None, threads: int | None = None) -> Tally:
    """Simulate draws ``first_draw .. first_draw+draws-1`` and reduce them to a :class:`Tally`
    (the task a worker runs; the draws never leave it)."""
    from sim.engine.simulation import simulate

    _set_threads(threads)
    sim = simulate(fitted, levers, horizon=horizon, draws=draws, seed=seed, block_size=block_size,
                   parameter_uncertainty=parameter_uncertainty,
                   correlated_shocks=correlated_shocks, first_draw=first_draw)
    return tally_sim(sim, fitted, checks, edges)


# --------------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------------
def _set_threads(threads: int | None) -> None:
    if threads:
        import numba

        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))


def parse_scheduler(scheduler: str) -> tuple[str, int | str]:
    """``"local"`` -> ("local", cores), ``"local:N"`` -> ("local", N), ``"tcp://h:p"`` -> ("tcp", addr)."""
    s = str(scheduler).strip()
    if s == "local":
        return "local", max(1, os.cpu_count() or 1)
    if s.startswith("local:"):
        n = s.split(":", 1)[1]
        if not n.isdigit() or int(n) < 1:
            raise SimError(f"--scheduler {s}: expected local:N with N a whole number of workers >= 1")
        return "local", int(n)
    if s.startswith("tcp://") and len(s) > 6:
        return "tcp", s
    raise SimError(f"--scheduler {s!r}: expected 'local', 'local:N' or 'tcp://HOST:PORT'")


def _dask():
    try:
        from dask import distributed
    except ImportError:
        raise SimError(NEEDS_DASK) from None
    return distributed


@contextmanager
def connect(scheduler) -> Iterator[object]:
    """A dask ``Client`` for a scheduler string (or pass a Client through); closed on exit.

    Local clusters run ``N`` single-threaded worker processes with numba limited to one thread
    each (the workers are the parallelism); no dashboard.
    """
    if not isinstance(scheduler, str):       # an existing Client
        yield scheduler
        return
    kind, arg = parse_scheduler(scheduler)   # a bad string fails before asking for dask
    distributed = _dask()
    if kind == "local":
        cluster = distributed.LocalCluster(n_workers=int(arg), threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.ERROR,
                                           env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
        client = distributed.Client(cluster)
        client._sim_threads = 1
        try:
            yield client
        finally:
            client.close()
            cluster.close()
    else:
        try:
            client = distributed.Client(arg, timeout="20s")
        except OSError as exc:
            raise SimError(f"--scheduler {arg}: cannot connect ({exc})") from None
        client._sim_threads = None
        try:
            yield client
        finally:
            client.close()


def n_workers(client) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


def draw_ranges(draws: int, block_size: int, parts: int, first_draw: int = 0) -> list[tuple[int, int]]:
    """Split ``first_draw .. first_draw+draws`` into about ``parts`` ranges on block boundaries."""
    draws, block_size = int(draws), int(block_size)
    lo, hi = int(first_draw), int(first_draw) + draws
    blocks = -(-hi // block_size) - lo // block_size
    per = max(1, -(-blocks // max(1, parts))) * block_size
    edges = [lo] + list(range((lo // per + 1) * per, hi, per)) + [hi]
    return [(a, b - a) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def chunk_ranges(draws: int, block_size: int, chunk_draws: int,
                 first_draw: int = 0) -> list[tuple[int, int]]:
    """Consecutive ranges of at most ``chunk_draws`` draws (rounded up to whole blocks)."""
    chunk = max(1, -(-int(chunk_draws) // int(block_size))) * int(block_size)
    return draw_ranges(draws, block_size, -(-int(draws) // chunk), first_draw)


def map_ranges(task: Callable, ranges: Sequence[tuple[int, int]], *, shared: Sequence = (),
               args: Sequence = (), kwargs: Mapping | None = None, scheduler=None,
               on_result: Callable[[object, int, int], object] | None = None) -> None:
    """The one dispatcher: ``task(*shared, *args, first_draw, draws, threads=..., **kwargs)`` for
    every ``(first_draw, draws)`` of ``ranges``.

    ``scheduler=None`` runs the ranges in order in this process (``threads=None``: numba uses
    its own thread pool); otherwise (a scheduler string or a dask ``Client``) every range is a
    dask task, ``shared`` objects are scattered once to every worker, and ``threads`` is the
    numba thread count each worker may use. ``on_result(result, first_draw, draws)`` receives
    every result on this process, in completion order, and the task's result is then released,
    so the caller decides what to keep. Because draw ``i`` depends only on
    ``(seed, i // block_size, i % block_size)``, how the ranges are split and where they run
    never changes a result.
    """
    kwargs = dict(kwargs or {})
    if scheduler is None:
        for a, n in ranges:
            res = task(*shared, *args, a, n, threads=None, **kwargs)
            if on_result is not None:
                on_result(res, a, n)
        return
    with connect(scheduler) as client:
        distributed = _dask()
        threads = getattr(client, "_sim_threads", None)
        scattered = [client.scatter(obj, broadcast=True) for obj in shared]
        futures = {client.submit(task, *scattered, *args, a, n, threads=threads, pure=False,
                                 **kwargs): (a, n) for a, n in ranges}
        for fut in distributed.as_completed(futures):
            a, n = futures[fut]
            res = fut.result()
            fut.release()
            if on_result is not None:
                on_result(res, a, n)
            del res


def _sim_range(fitted, levers, horizon, seed, block_size, pu, cs, first, n, threads):
    from sim.engine.simulation import simulate

    _set_threads(threads)
    return simulate(fitted, levers, horizon=horizon, draws=n, seed=seed, block_size=block_size,
                    parameter_uncertainty=pu, correlated_shocks=cs, first_draw=first)


def simulate_distributed(fitted, levers, *, horizon: int, draws: int, seed: int,
                         block_size: int = 10000, parameter_uncertainty: bool = True,
                         correlated_shocks: bool = True, scheduler="local",
                         progress: Callable[[int], object] | None = None,
                         tasks_per_worker: int = 4) -> "Simulation":  # noqa: F821
    """:func:`sim.engine.simulation.simulate` with the draws split into dask tasks; bit-identical result.

    Each task simulates a range of whole blocks in a worker; the client copies each finished
    range into the preallocated arrays (``progress(n)`` after each) and drops it.
    """
    from sim.engine.simulation import Simulation

    draws = int(draws)
    if draws < 1:
        raise SimError(f"draws ({draws}) must be >= 1")
    with connect(scheduler) as client:
        distributed = _dask()
        threads = getattr(client, "_sim_threads", None)
        fit_f = client.scatter(fitted, broadcast=True)
        lev_f = client.scatter(list(levers), broadcast=True)
        ranges = draw_ranges(draws, block_size, tasks_per_worker * n_workers(client))
        futures = {client.submit(_sim_range, fit_f, lev_f, horizon, seed, block_size,
                                 parameter_uncertainty, correlated_shocks, a, n, threads,
                                 pure=False): (a, n) for a, n in ranges}
        out = None
        for fut in distributed.as_completed(futures):
            a, n = futures[fut]
            part = fut.result()
            fut.release()
            if out is None:
                S, D, _, Y1 = part.delta.shape
                out = dict(delta=np.empty((S, D, draws, Y1)),
                           level0=np.empty((D, draws)),
                           cum0=np.empty((part.cum0.shape[0], part.cum0.shape[1], draws)),
                           housing=np.empty((S, draws, Y1)), meta=part)
            out["delta"][:, :, a:a + n] = part.delta
            out["level0"][:, a:a + n] = part.level0
            out["cum0"][:, :, a:a + n] = part.cum0
            out["housing"][:, a:a + n] = part.housing
            del part
            if progress is not None:
                progress(n)
    m = out["meta"]
    return Simulation(years=m.years, drivers=m.drivers, scenarios=m.scenarios,
                      base_years=m.base_years, delta=out["delta"], level0=out["level0"],
                      cum0=out["cum0"], housing=out["housing"], draws=draws, seed=int(seed),
                      block_size=int(block_size), parameter_uncertainty=bool(parameter_uncertainty),
                      correlated_shocks=bool(correlated_shocks), first_draw=0)


def tally_distributed(fitted, levers, checks: Checks, *, horizon: int, draws: int, seed: int,
                      block_size: int = 10000, parameter_uncertainty: bool = True,
                      correlated_shocks: bool = True, scheduler=None, first_draw: int = 0,
                      edges=None, progress: Callable[[int], object] | None = None,
                      chunk_draws: int | None = None, tasks_per_worker: int = 4) -> Tally:
    """The :class:`Tally` of draws ``first_draw .. first_draw+draws-1``, reduced where simulated.

    ``scheduler=None`` runs in this process (chunk by chunk); otherwise every range is a dask
    task returning only its tally, so client memory does not grow with ``draws``.
    """
    common = dict(horizon=horizon, seed=seed, block_size=block_size,
                  parameter_uncertainty=parameter_uncertainty, correlated_shocks=correlated_shocks,
                  edges=edges)
    if scheduler is None:
        chunk = chunk_draws or max(block_size, 5 * block_size)
        parts = max(1, -(-int(draws) // chunk))
        total = None
        for a, n in draw_ranges(draws, block_size, parts, first_draw):
            t = tally_range(fitted, levers, checks, first_draw=a, draws=n, **common)
            total = t if total is None else total + t
            if progress is not None:
                progress(n)
        return total
    with connect(scheduler) as client:
        distributed = _dask()
        threads = getattr(client, "_sim_threads", None)
        fit_f = client.scatter(fitted, broadcast=True)
        lev_f = client.scatter(list(levers), broadcast=True)
        parts = tasks_per_worker * n_workers(client)
        if chunk_draws:
            parts = max(parts, -(-int(draws) // int(chunk_draws)))
        futs = {client.submit(tally_range, fit_f, lev_f, checks, first_draw=a, draws=n,
                              threads=threads, pure=False, **common): n
                for a, n in draw_ranges(draws, block_size, parts, first_draw)}
        total = None
        for fut in distributed.as_completed(futs):
            t = fut.result()
            fut.release()
            total = t if total is None else total + t
            if progress is not None:
                progress(futs[fut])
        return total


# --------------------------------------------------------------------------------------------
# Adaptive draws
# --------------------------------------------------------------------------------------------
@dataclass
class AdaptiveResult:
    """Outcome of :func:`run_adaptive`: the draws used (a whole number of blocks unless capped),
    the tally of exactly draws ``0 .. draws-1`` (equal to a fixed run of that many), whether every
    evaluable P(met) reached ``se < tolerance``, and the history of (draws, worst SE)."""

    draws: int
    tally: Tally
    converged: bool
    tolerance: float
    history: list = field(default_factory=list)


def run_adaptive(fitted, levers, checks: Checks, *, horizon: int, seed: int, tolerance: float,
                 block_size: int = 10000, min_draws: int | None = None,
                 max_draws: int = 10_000_000, parameter_uncertainty: bool = True,
                 correlated_shocks: bool = True, scheduler=None,
                 progress: Callable[[int], object] | None = None) -> AdaptiveResult:
    """Add blocks of draws until every evaluable P(met) has a binomial SE below ``tolerance``.

    Starts with ``min_draws`` (default one block); after each batch, the draws still needed are
    estimated from the worst ``P (1 - P) / tolerance**2`` and rounded up to whole blocks (at
    least one more block, at most doubling), capped by ``max_draws``. Draw ``i`` never depends on
    how many draws are run, so the result is exactly a fixed-draws run of ``result.draws``; pass
    that number to the normal pipeline (``--draws``) to write the full results.
    """
    tolerance = float(tolerance)
    if not tolerance > 0:
        raise SimError(f"tolerance must be > 0, got {tolerance}")
    block_size = int(block_size)
    max_draws = int(max_draws)
    n = min(int(min_draws or block_size), max_draws)
    total, done, history = None, 0, []
    kw = dict(horizon=horizon, seed=seed, block_size=block_size,
              parameter_uncertainty=parameter_uncertainty, correlated_shocks=correlated_shocks)

    def run_range(a, k):
        if scheduler is None:
            return tally_distributed(fitted, levers, checks, draws=k, first_draw=a,
                                     progress=progress, **kw)
        return tally_distributed(fitted, levers, checks, draws=k, first_draw=a,
                                 scheduler=client, progress=progress, **kw)

    ctx = connect(scheduler) if scheduler is not None else _null()
    with ctx as client:
        while True:
            t = run_range(done, n - done)
            total = t if total is None else total + t
            done = n
            se = total.se
            worst = float(np.nanmax(se)) if np.any(np.isfinite(se)) else 0.0
            history.append((done, worst))
            if worst < tolerance or done >= max_draws:
                break
            p = total.p
            var = np.nanmax(p * (1 - p)) if np.any(np.isfinite(p)) else 0.0
            need = int(math.ceil(var / tolerance ** 2)) + 1
            need = -(-need // block_size) * block_size
            n = min(max(need, done + block_size), 2 * done if done >= block_size else block_size,
                    max_draws)
            n = max(n, done + 1) if n <= done else n
    return AdaptiveResult(draws=done, tally=total, converged=worst < tolerance,
                          tolerance=tolerance, history=history)


@contextmanager
def _null():
    yield None
