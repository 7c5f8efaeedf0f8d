"""The Monte Carlo engine: fitted model + scenario levers -> simulated paths of every driver.

``simulate`` packs the :class:`~sim.model.FittedModel` and the scenarios' levers into plain
arrays (:class:`sim.engine.kernels.Packed`), runs the numba kernel block by block (a progress callback
ticks between groups of blocks) and returns a :class:`Simulation`. ``series_paths`` turns it
into every series on its natural scale. ``simulate_given_normals`` runs the same kernel on
normals given by the caller (``run_normals`` returns a run's own), for the sensitivity analysis;
this module is the only caller of the kernels. Model equations and the normal-variate layout are
in :mod:`sim.engine.kernels`; the random-number keying is in :mod:`sim.engine.rng`.

Reproducibility: draw ``i`` belongs to block ``i // block_size`` and its normals depend only on
``(seed, block, i % block_size)`` and, for each driver, on the driver's name (streams keyed by
name, :mod:`sim.engine.kernels`): adding or removing a driver leaves the others' normals as
they were. Results are bit-identical for any number of threads, draw
``i`` does not change when more draws are requested, and every scenario reuses the same draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numba
import numpy as np

from sim.engine import kernels
from sim.engine.kernels import Packed, stream_table
from sim.engine.rng import block_normals, split_seed, stream_block_normals, stream_keys
from sim.errors import SimError, did_you_mean
from sim.model import CHANGE_PARAMS, RATIO_PARAMS, FittedModel
from sim.vocabulary import COMPOSITION, HOUSING_LEVER, HOUSING_SERIES


@dataclass(frozen=True)
class ScenarioLevers:
    """One scenario's levers as arrays over (driver, year) for years ``as_of+1 .. horizon``."""

    name: str
    shift: np.ndarray            # (D, Y) fraction added to the annual % change (levers + shocks)
    fixed_level: np.ndarray      # (D, Y) transformed level to force, NaN where free
    programme_units: np.ndarray  # (Y,) planned affordable-housing units per year (0: none)


@dataclass(frozen=True)
class Simulation:
    """Simulated draws of every change driver under every scenario (common random numbers)."""

    years: np.ndarray            # (Y+1,) as_of .. horizon
    drivers: tuple[str, ...]     # D names, order of the arrays
    scenarios: tuple[str, ...]   # S names
    base_years: tuple[int, ...]  # B
    delta: np.ndarray            # (S, D, N, Y+1) transformed level minus its as_of value
    level0: np.ndarray           # (D, N) sampled transformed level at as_of (NaN: level unknown)
    cum0: np.ndarray             # (D, B, N) sampled L_T - L_b (NaN: b not in the driver's states)
    housing: np.ndarray          # (S, N, Y+1) units supplied per year (NaN at as_of / no driver)
    draws: int
    seed: int
    block_size: int
    parameter_uncertainty: bool = True
    correlated_shocks: bool = True
    first_draw: int = 0          # global index of draw 0 of these arrays (chunked runs)


# --------------------------------------------------------------------------------------------
# Packing the fitted model
# --------------------------------------------------------------------------------------------
def driver_names(fitted: FittedModel) -> tuple[str, ...]:
    """The simulated change drivers (``kind == "change"``), in ``fitted.drivers`` order."""
    return tuple(n for n, d in fitted.drivers.items() if d.kind == "change")


def housing_driver(fitted: FittedModel):
    """The ``iid_lognormal`` delivery-ratio driver, or None; more than one is an error."""
    found = [d for d in fitted.drivers.values() if d.kind == "iid_lognormal"]
    if len(found) > 1:
        raise SimError("fitted model has several iid_lognormal drivers "
                       f"({', '.join(d.name for d in found)}); expected at most one (housing)")
    return found[0] if found else None


def psd_cholesky(cov, what: str = "covariance", tol: float = 1e-12) -> np.ndarray:
    """Lower Cholesky factor ``L`` (``L @ L.T == cov``) of a positive semi-definite matrix.

    Directions of (numerically) zero variance get a zero column, so a fixed parameter or a
    known state stays exactly at its mean. A clearly indefinite or non-finite matrix raises.
    """
    a = np.array(cov, dtype=float, ndmin=2)
    n = a.shape[0]
    if a.shape != (n, n) or not np.all(np.isfinite(a)):
        raise SimError(f"{what} must be a finite square matrix, got shape {a.shape}")
    a = 0.5 * (a + a.T)
    scale = max(float(np.max(np.abs(np.diag(a)))) if n else 0.0, 1e-300)
    L = np.zeros((n, n))
    for j in range(n):
        v = a[j, j] - L[j, :j] @ L[j, :j]
        if v <= tol * scale:
            if v < -1e-8 * scale:
                raise SimError(f"{what} is not positive semi-definite (pivot {j}: {v:.3g})")
            continue
        L[j, j] = np.sqrt(v)
        L[j + 1:, j] = (a[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / L[j, j]
    return L


def _reorder(fit, wanted: Sequence[str]):
    """Mean and covariance of ``fit``'s parameters in the order ``wanted``."""
    try:
        idx = [fit.param_names.index(p) for p in wanted]
    except ValueError:
        raise SimError(f"driver '{fit.name}': parameters {fit.param_names}, "
                       f"expected {tuple(wanted)}") from None
    mean = np.asarray(fit.param_mean, float)[idx]
    cov = np.asarray(fit.param_cov, float)[np.ix_(idx, idx)]
    return mean, cov


def _pack_drivers(fits: Sequence, base_years: Sequence[int], parameter_uncertainty: bool
                  ) -> dict[str, np.ndarray]:
    """Parameter and state means, Cholesky factors and state positions of the change drivers."""
    D, B = len(fits), len(base_years)
    SM = max(len(f.state_names) for f in fits)
    out = dict(par_mean=np.zeros((D, 3)), par_chol=np.zeros((D, 3, 3)), st_mean=np.zeros((D, SM)),
               st_chol=np.zeros((D, SM, SM)), st_n=np.zeros(D, np.int64),
               idx_level=np.full(D, -1, np.int64), idx_mean=np.full(D, -1, np.int64),
               idx_ar=np.full(D, -1, np.int64), idx_cum=np.full((D, B), -1, np.int64),
               level_known=np.zeros(D, np.bool_))
    for d, f in enumerate(fits):
        out["par_mean"][d], cov = _reorder(f, CHANGE_PARAMS)
        if parameter_uncertainty:
            out["par_chol"][d] = psd_cholesky(cov, f"driver '{f.name}': param_cov")
        ns = len(f.state_names)
        out["st_n"][d] = ns
        out["st_mean"][d, :ns] = np.asarray(f.state_mean, float)
        out["st_chol"][d, :ns, :ns] = psd_cholesky(f.state_cov, f"driver '{f.name}': state_cov")
        for k in ("level", "mean", "ar"):
            if k in f.state_names:
                out[f"idx_{k}"][d] = f.state_names.index(k)
        for b_i, b in enumerate(base_years):
            if f"cum_from_{b}" in f.state_names:
                out["idx_cum"][d, b_i] = f.state_names.index(f"cum_from_{b}")
        out["level_known"][d] = bool(f.level_known) and out["idx_level"][d] >= 0
    return out


def _pack_housing(fitted: FittedModel, parameter_uncertainty: bool
                  ) -> tuple[int, np.ndarray, np.ndarray]:
    """``(h_on, h_mean (2,), h_chol (2, 2))`` of the housing delivery-ratio driver."""
    h = housing_driver(fitted)
    if h is None:
        return 0, np.zeros(2), np.zeros((2, 2))
    h_mean, cov = _reorder(h, RATIO_PARAMS)
    h_chol = psd_cholesky(cov, f"driver '{h.name}': param_cov") if parameter_uncertainty \
        else np.zeros((2, 2))
    return 1, h_mean, h_chol


def _pack_correlation(fitted: FittedModel, drivers: Sequence[str], correlated_shocks: bool
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``(corr_idx (K,), corr_chol (K, K))``: the correlated drivers and their shock factor."""
    if not correlated_shocks:
        return np.zeros(0, np.int64), np.zeros((0, 0))
    names = [n for n in fitted.shock_names if n in drivers and fitted.drivers[n].correlated]
    pos = [fitted.shock_names.index(n) for n in names]
    corr = np.asarray(fitted.shock_corr, float)[np.ix_(pos, pos)]
    corr_idx = np.array([list(drivers).index(n) for n in names], np.int64)
    corr_chol = psd_cholesky(corr, "shock_corr") if names else np.zeros((0, 0))
    return corr_idx, corr_chol


def _stack_levers(levers: Sequence[ScenarioLevers], drivers: Sequence[str], as_of: int,
                  horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(shift (S, D, Y), fixed (S, D, Y), prog (S, Y))`` of the scenarios, shapes checked."""
    D, Y = len(drivers), int(horizon) - as_of
    for lv in levers:
        for what, arr, shape in (("shift", lv.shift, (D, Y)), ("fixed_level", lv.fixed_level, (D, Y)),
                                 ("programme_units", lv.programme_units, (Y,))):
            if np.shape(arr) != shape:
                raise SimError(f"scenario '{lv.name}': {what} has shape {np.shape(arr)}, expected "
                               f"{shape} (drivers {tuple(drivers)}, years {as_of + 1}-{horizon})")
    shift = np.ascontiguousarray(np.stack([lv.shift for lv in levers]).astype(float))
    fixed = np.ascontiguousarray(np.stack([lv.fixed_level for lv in levers]).astype(float))
    prog = np.ascontiguousarray(np.stack([lv.programme_units for lv in levers]).astype(float))
    if not np.all(np.isfinite(shift)):
        raise SimError("lever shifts must be finite")
    if np.any(np.isinf(fixed)):   # NaN: not fixed; ±inf: a broken path value
        raise SimError("fixed lever levels (paths) must be finite")
    if not np.all(np.isfinite(prog)) or np.any(prog < 0):
        raise SimError("programme units must be finite and >= 0")
    return shift, fixed, prog


def pack(fitted: FittedModel, levers: Sequence[ScenarioLevers], horizon: int, *,
         parameter_uncertainty: bool = True, correlated_shocks: bool = True) -> Packed:
    """Arrays the kernels read (:class:`sim.engine.kernels.Packed`) for ``fitted`` and ``levers``."""
    drivers = driver_names(fitted)
    D = len(drivers)
    Y = int(horizon) - fitted.as_of
    if Y < 1:
        raise SimError(f"horizon {horizon} must be after as_of {fitted.as_of}")
    if D == 0:
        raise SimError("fitted model has no change drivers to simulate")
    if len(levers) == 0:
        raise SimError("no scenarios to simulate")
    a = _pack_drivers([fitted.drivers[n] for n in drivers], fitted.base_years,
                      parameter_uncertainty)
    h_on, h_mean, h_chol = _pack_housing(fitted, parameter_uncertainty)
    corr_idx, corr_chol = _pack_correlation(fitted, drivers, correlated_shocks)
    shift, fixed, prog = _stack_levers(levers, drivers, fitted.as_of, horizon)
    st_n = a["st_n"]
    P = 3 * D + 2 * h_on
    P4 = 4 * ((P + 3) // 4)
    st_off = (P4 + np.concatenate([[0], np.cumsum(st_n)[:-1]])).astype(np.int64)
    Q = int(P4 + st_n.sum())
    n_var = Q + Y * (2 * D + h_on)
    streams = drivers + ((housing_driver(fitted).name,) if h_on else ())
    s_hash, g_stream, g_ctr, g_dest = stream_table(streams, D, st_n, st_off, h_on, Y, Q,
                                                   parameter_uncertainty)
    c = np.ascontiguousarray
    return Packed(
        par_mean=c(a["par_mean"]), par_chol=c(a["par_chol"]), st_mean=c(a["st_mean"]),
        st_chol=c(a["st_chol"]), st_n=st_n, st_off=c(st_off), idx_level=a["idx_level"],
        idx_mean=a["idx_mean"], idx_ar=a["idx_ar"], level_known=a["level_known"],
        idx_cum=c(a["idx_cum"]), corr_idx=c(corr_idx), corr_chol=c(corr_chol),
        h_on=np.int64(h_on), h_mean=c(h_mean), h_chol=c(h_chol), shift=shift, fixed=fixed,
        prog=prog, year_off=np.int64(Q), n_var=np.int64(n_var), s_hash=c(s_hash),
        g_stream=c(g_stream), g_ctr=c(g_ctr), g_dest=c(g_dest))


# --------------------------------------------------------------------------------------------
# Scenario levers
# --------------------------------------------------------------------------------------------
def _transform(value: float, scale: str) -> float:
    """The level ``value`` on the driver's scale (log, or logit of a share in %); NaN when it
    has none there (not positive, a share outside 0–100)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if scale == "logit":
            v = value / 100.0
            out = float(np.log(v / (1.0 - v))) if v != 1.0 else math.inf
        else:
            out = float(np.log(value))
    return out if math.isfinite(out) else math.nan


@dataclass(frozen=True)
class _LeverGrid:
    """Row (driver) and column (year) of a lever value in a scenario's (D, Y) arrays."""

    scenario: str
    drivers: tuple[str, ...]
    as_of: int
    horizon: int

    def col(self, year: int, where: str) -> int:
        year = int(year)
        if not self.as_of < year <= self.horizon:
            raise SimError(f"scenario '{self.scenario}': {where}: year {year} is outside the "
                           f"simulated years {self.as_of + 1}-{self.horizon}")
        return year - self.as_of - 1

    def row(self, driver: str, where: str) -> int:
        if driver not in self.drivers:
            raise SimError(f"scenario '{self.scenario}': {where}: the fitted model has no driver "
                           f"'{driver}'{did_you_mean(driver, self.drivers)} "
                           f"(drivers: {', '.join(self.drivers)})")
        return self.drivers.index(driver)


def levers_from_spec(scenario_spec, fitted: FittedModel, horizon: int) -> ScenarioLevers:
    """Convert a resolved scenario (``sim.scenario.spec.ScenarioSpec``) into :class:`ScenarioLevers`.

    * a lever with ``shift_pp`` adds ``shift_pp / 100`` to the driver's annual change (a
      fraction: -1 pp on a -4 %/yr intensity gives -5 %/yr) in ``from_year .. to_year``
      (default ``as_of+1 .. horizon``);
    * ``usdcny.path`` ``{year: rate}`` forces the transformed level ``log(rate)`` in those years;
    * ``affordable_housing`` gives programme units per year (``programme_units`` or
      ``units_per_year``);
    * each shock adds ``shift_pp / 100`` to one driver's change in one year (summed with levers).

    Read with ``getattr`` so any object of that shape works (tests use SimpleNamespace).
    """
    as_of = fitted.as_of
    drivers = driver_names(fitted)
    name = str(getattr(scenario_spec, "name", "scenario"))
    D, Y = len(drivers), int(horizon) - as_of
    if Y < 1:
        raise SimError(f"horizon {horizon} must be after as_of {as_of}")
    grid = _LeverGrid(name, drivers, as_of, int(horizon))
    shift = np.zeros((D, Y))
    fixed = np.full((D, Y), np.nan)
    prog = np.zeros(Y)
    levers = getattr(scenario_spec, "levers", None) or {}
    items = levers.items() if hasattr(levers, "items") else vars(levers).items()
    for key, lever in items:
        if lever is None:
            continue
        where = f"levers.{key}"
        if key == HOUSING_LEVER:
            per_year = getattr(lever, "units_per_year", None)
            units = ({y: per_year for y in range(as_of + 1, int(horizon) + 1)} if per_year is not None
                     else dict(getattr(lever, "programme_units", None) or {}))
            for y, v in units.items():
                prog[grid.col(y, f"{where}.programme_units")] = float(v)
            continue
        d = grid.row(key, where)
        for y, v in dict(getattr(lever, "path", None) or {}).items():
            level = _transform(float(v), fitted.drivers[key].scale)
            if not math.isfinite(level):
                raise SimError(f"scenario '{name}': {where}.path.{y}: {v} cannot be a level of "
                               f"{key} (expected a positive finite number)")
            fixed[d, grid.col(y, f"{where}.path")] = level
        pp = getattr(lever, "shift_pp", None)
        if pp is not None:
            a = grid.col(getattr(lever, "from_year", None) or as_of + 1, f"{where}.from_year")
            b = grid.col(getattr(lever, "to_year", None) or horizon, f"{where}.to_year")
            shift[d, a:b + 1] += float(pp) / 100.0
    for i, shock in enumerate(getattr(scenario_spec, "shocks", None) or ()):
        where = f"shocks[{i}]"
        shift[grid.row(shock.driver, where), grid.col(shock.year, f"{where}.year")] += \
            float(shock.shift_pp) / 100.0
    return ScenarioLevers(name=name, shift=shift, fixed_level=fixed, programme_units=prog)


def no_levers(fitted: FittedModel, horizon: int, name: str = "baseline") -> ScenarioLevers:
    """A scenario without levers (every driver follows its calibrated process)."""
    return levers_from_spec(type("Spec", (), {"name": name})(), fitted, horizon)


# --------------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------------
def simulate(fitted: FittedModel, levers: Sequence[ScenarioLevers], *, horizon: int, draws: int,
             seed: int, block_size: int = 10000, parameter_uncertainty: bool = True,
             correlated_shocks: bool = True,
             progress: Callable[[int], object] | None = None,
             first_draw: int = 0) -> Simulation:
    """Simulate draws ``first_draw .. first_draw+draws-1`` of every scenario in ``levers``.

    Runs :func:`sim.engine.kernels.simulate_range` on groups of blocks (parallel over the blocks of a
    group); ``progress(n)`` is called after each group with the number of draws just finished.
    Draws need not be a multiple of ``block_size``: a partial block still keys draw ``i`` by
    ``(i // block_size, i % block_size)``, so any split of a run into ranges
    (:func:`sim.engine.dispatch.draw_ranges`) gives the same draws as one call.
    """
    draws, block_size, first_draw = int(draws), int(block_size), int(first_draw)
    if draws < 1 or block_size < 1 or first_draw < 0:
        raise SimError(f"draws ({draws}) and block_size ({block_size}) must be >= 1, "
                       f"first_draw ({first_draw}) >= 0")
    try:
        k0, k1 = split_seed(seed)
    except ValueError as exc:
        raise SimError(str(exc)) from None
    p = pack(fitted, levers, horizon, parameter_uncertainty=parameter_uncertainty,
             correlated_shocks=correlated_shocks)
    S, D, Y = p.shift.shape
    B = p.idx_cum.shape[1]
    delta = np.empty((S, D, draws, Y + 1))
    level0 = np.empty((D, draws))
    cum0 = np.empty((D, B, draws))
    housing = np.empty((S, draws, Y + 1))
    i_lo, i_hi = first_draw, first_draw + draws
    step = _group_blocks() * block_size
    # group boundaries on block boundaries, so each block is simulated by one thread
    edges = [i_lo] + list(range((i_lo // step + 1) * step, i_hi, step)) + [i_hi]
    for a, b in zip(edges[:-1], edges[1:]):
        kernels.simulate_range(p, k0, k1, block_size, a, b, i_lo, delta, level0, cum0, housing)
        if progress is not None:
            progress(b - a)
    return Simulation(
        years=np.arange(fitted.as_of, int(horizon) + 1), drivers=driver_names(fitted),
        scenarios=tuple(lv.name for lv in levers), base_years=tuple(fitted.base_years),
        delta=delta, level0=level0, cum0=cum0, housing=housing, draws=draws, seed=int(seed),
        block_size=block_size, parameter_uncertainty=bool(parameter_uncertainty),
        correlated_shocks=bool(correlated_shocks), first_draw=first_draw)


def _group_blocks() -> int:
    """Blocks per kernel call: two per thread (progress ticks between calls)."""
    return max(1, numba.get_num_threads()) * 2


def set_threads(threads: int | None) -> None:
    """Let numba use ``threads`` threads (at most its pool size); None leaves it as it is."""
    if threads:
        pool = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
        numba.set_num_threads(max(1, min(int(threads), pool)))


def run_normals(seed: int, block_size: int, first_draw: int, draws: int,
                layout: "Packed | int") -> np.ndarray:
    """Standard normals of draws ``first_draw .. first_draw+draws-1`` keyed by ``seed``:
    (draws, n_var).

    With ``layout`` a :class:`Packed` (from :func:`pack`) they are the run's own normals (its
    keyed streams; entries the run does not generate, e.g. parameter variates with parameter
    uncertainty off, are 0). With an int ``n_var`` they are independent normals of one
    sequential stream of the seed (every entry generated), not the run's own.
    """
    try:
        k0, k1 = split_seed(seed)
    except ValueError as exc:
        raise SimError(str(exc)) from None
    packed = layout if isinstance(layout, Packed) else None
    n_var = int(packed.n_var) if packed is not None else int(layout)   # type: ignore[arg-type]
    keys = stream_keys(packed.s_hash, k0, k1) if packed is not None else None
    out = np.empty((int(draws), n_var))
    bs, first, last = int(block_size), int(first_draw), int(first_draw) + int(draws)
    i0 = first
    while i0 < last:            # one piece per block: draw i is (block i // bs, i % bs)
        b, j = i0 // bs, i0 % bs
        n = min(bs - j, last - i0)
        out[i0 - first:i0 - first + n] = (
            block_normals(k0, k1, b, j, n, n_var) if packed is None else
            stream_block_normals(keys, packed.g_stream, packed.g_ctr, packed.g_dest, b, j, n,
                                 n_var))
        i0 += n
    return out


def simulate_given_normals(fitted: FittedModel, levers: Sequence[ScenarioLevers], normals: np.ndarray,
                           *, horizon: int, seed: int = 0, block_size: int = 10000,
                           parameter_uncertainty: bool = True,
                           correlated_shocks: bool = True) -> Simulation:
    """Simulate one draw per row of ``normals`` (N, n_var) instead of the run's random numbers.

    The normal-variate layout is :mod:`sim.engine.kernels`' (``n_var`` and the columns of each
    input from :func:`pack`); ``seed`` and ``block_size`` are only recorded. Used by the
    sensitivity analysis, which swaps columns between two samples of normals.
    """
    z = np.ascontiguousarray(normals, dtype=np.float64)
    p = pack(fitted, levers, horizon, parameter_uncertainty=parameter_uncertainty,
             correlated_shocks=correlated_shocks)
    if z.ndim != 2 or z.shape[1] != int(p.n_var):
        raise SimError(f"normals must be (draws, {int(p.n_var)}), got {z.shape}")
    S, D, Y = p.shift.shape
    n = z.shape[0]
    delta, level0 = np.empty((S, D, n, Y + 1)), np.empty((D, n))
    cum0, housing = np.empty((D, p.idx_cum.shape[1], n)), np.empty((S, n, Y + 1))
    kernels.simulate_injected(p, z, delta, level0, cum0, housing)
    return Simulation(
        years=np.arange(fitted.as_of, int(horizon) + 1), drivers=driver_names(fitted),
        scenarios=tuple(lv.name for lv in levers), base_years=tuple(fitted.base_years),
        delta=delta, level0=level0, cum0=cum0, housing=housing, draws=n, seed=int(seed),
        block_size=int(block_size), parameter_uncertainty=bool(parameter_uncertainty),
        correlated_shocks=bool(correlated_shocks))


# --------------------------------------------------------------------------------------------
# Natural-scale paths
# --------------------------------------------------------------------------------------------
def _inverse(L: np.ndarray, scale: str) -> np.ndarray:
    if scale == "logit":
        return 100.0 / (1.0 + np.exp(-L))
    return np.exp(L)


def _since(sim: Simulation, d: int, year: int, as_of: int) -> np.ndarray | None:
    """``L_t - L_year`` (S, N, Y+1) of driver index ``d``, or None when not identified."""
    if year == as_of:
        return sim.delta[:, d]
    if year in sim.base_years:
        c = sim.cum0[d, sim.base_years.index(year)]
        if not np.all(np.isnan(c)):
            return sim.delta[:, d] + c[None, :, None]
    return None


def series_paths(sim: Simulation, fitted: FittedModel) -> dict[str, np.ndarray]:
    """Every driver, derived and generic series on its natural scale, (S, N, Y+1) each.

    * a driver with a known level: ``inverse(level0 + delta)`` (log -> exp, logit -> 100 expit);
    * otherwise, and for derived series (``sim.model.COMPOSITION``), from its anchor:
      ``L_S,t = transform(anchor) + sum_d sign_d (L_d,t - L_d,anchor_year)``, where
      ``L_t - L_anchor_year = delta`` when the anchor year is as_of and ``delta + cum0`` when it
      is an earlier base year; NaN when there is no anchor or the window is not identified;
    * ``affordable_housing_supplied``: the housing units (when a housing driver exists).
    """
    as_of = fitted.as_of
    d_index = {n: i for i, n in enumerate(sim.drivers)}
    S, _, N, Y1 = sim.delta.shape
    out: dict[str, np.ndarray] = {}

    def from_anchor(name, parts, scale):
        a = fitted.anchors.get(name)
        if a is None or (scale == "log" and not a.value > 0):
            return None
        total = np.full((S, N, Y1), _transform(a.value, scale))
        for dname, sign in parts:
            if dname not in d_index:
                return None
            since = _since(sim, d_index[dname], int(a.year), as_of)
            if since is None:
                return None
            total = total + sign * since
        return _inverse(total, scale)

    nan = np.full((S, N, Y1), np.nan)
    for name, i in d_index.items():
        f = fitted.drivers[name]
        if f.level_known and not np.all(np.isnan(sim.level0[i])):
            out[name] = _inverse(sim.level0[i][None, :, None] + sim.delta[:, i], f.scale)
        else:
            got = from_anchor(name, ((name, 1),), f.scale)
            out[name] = nan.copy() if got is None else got
    for name, parts in COMPOSITION.items():
        if all(d in d_index for d, _ in parts):
            got = from_anchor(name, parts, "log")
            out[name] = nan.copy() if got is None else got
    if housing_driver(fitted) is not None:
        out[HOUSING_SERIES] = sim.housing
    return out
