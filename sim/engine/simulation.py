"""The Monte Carlo engine: fitted model + scenario levers -> simulated paths of every driver.

``simulate`` packs the :class:`~sim.model.FittedModel` and the scenarios' levers into plain
arrays (:class:`sim.engine.kernels.Packed`), runs the numba kernel block by block (a progress callback
ticks between groups of blocks) and returns a :class:`Simulation`. ``series_paths`` turns it
into every series on its natural scale. Model equations and the normal-variate layout are in
:mod:`sim.engine.kernels`; the random-number keying is in :mod:`sim.engine.rng`.

Reproducibility: draw ``i`` belongs to block ``i // block_size`` and its normals depend only on
``(seed, block, i % block_size)``; results are bit-identical for any number of threads, draw
``i`` does not change when more draws are requested, and every scenario reuses the same draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

from sim.errors import SimError, did_you_mean
from sim.engine.kernels import Packed
from sim.model import CHANGE_PARAMS, RATIO_PARAMS, FittedModel
from sim.vocabulary import COMPOSITION, HOUSING_LEVER, HOUSING_SERIES
from sim.engine.rng import split_seed



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
        raise SimError(f"driver '{fit.name}': parameters {fit.param_names}, expected {tuple(wanted)}") from None
    mean = np.asarray(fit.param_mean, float)[idx]
    cov = np.asarray(fit.param_cov, float)[np.ix_(idx, idx)]
    return mean, cov


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
    S = len(levers)
    if S == 0:
        raise SimError("no scenarios to simulate")
    fits = [fitted.drivers[n] for n in drivers]
    B = len(fitted.base_years)
    SM = max(len(f.state_names) for f in fits)

    par_mean = np.zeros((D, 3))
    par_chol = np.zeros((D, 3, 3))
    st_mean = np.zeros((D, SM))
    st_chol = np.zeros((D, SM, SM))
    st_n = np.zeros(D, np.int64)
    idx = {k: np.full(D, -1, np.int64) for k in ("level", "mean", "ar")}
    idx_cum = np.full((D, B), -1, np.int64)
    level_known = np.zeros(D, np.bool_)
    for d, f in enumerate(fits):
        par_mean[d], cov = _reorder(f, CHANGE_PARAMS)
        if parameter_uncertainty:
            par_chol[d] = psd_cholesky(cov, f"driver '{f.name}': param_cov")
        ns = len(f.state_names)
        st_n[d] = ns
        st_mean[d, :ns] = np.asarray(f.state_mean, float)
        st_chol[d, :ns, :ns] = psd_cholesky(f.state_cov, f"driver '{f.name}': state_cov")
        for k in idx:
            if k in f.state_names:
                idx[k][d] = f.state_names.index(k)
        for b_i, b in enumerate(fitted.base_years):
            name = f"cum_from_{b}"
            if name in f.state_names:
                idx_cum[d, b_i] = f.state_names.index(name)
        level_known[d] = bool(f.level_known) and idx["level"][d] >= 0

    h = housing_driver(fitted)
    h_on = 1 if h is not None else 0
    h_mean = np.zeros(2)
    h_chol = np.zeros((2, 2))
    if h is not None:
        h_mean, cov = _reorder(h, RATIO_PARAMS)
        if parameter_uncertainty:
            h_chol = psd_cholesky(cov, f"driver '{h.name}': param_cov")

    if correlated_shocks:
        names = [n for n in fitted.shock_names if n in drivers and fitted.drivers[n].correlated]
        pos = [fitted.shock_names.index(n) for n in names]
        corr = np.asarray(fitted.shock_corr, float)[np.ix_(pos, pos)]
        corr_idx = np.array([drivers.index(n) for n in names], np.int64)
        corr_chol = psd_cholesky(corr, "shock_corr") if names else np.zeros((0, 0))
    else:
        corr_idx = np.zeros(0, np.int64)
        corr_chol = np.zeros((0, 0))

    for lv in levers:
        for what, arr, shape in (("shift", lv.shift, (D, Y)), ("fixed_level", lv.fixed_level, (D, Y)),
                                 ("programme_units", lv.programme_units, (Y,))):
            if np.shape(arr) != shape:
                raise SimError(f"scenario '{lv.name}': {what} has shape {np.shape(arr)}, "
                               f"expected {shape} (drivers {drivers}, years {fitted.as_of + 1}-{horizon})")
    shift = np.ascontiguousarray(np.stack([lv.shift for lv in levers]).astype(float))
    fixed = np.ascontiguousarray(np.stack([lv.fixed_level for lv in levers]).astype(float))
    prog = np.ascontiguousarray(np.stack([lv.programme_units for lv in levers]).astype(float))
    if not np.all(np.isfinite(shift)):
        raise SimError("lever shifts must be finite")

    P = 3 * D + 2 * h_on
    P4 = 4 * ((P + 3) // 4)
    st_off = (P4 + np.concatenate([[0], np.cumsum(st_n)[:-1]])).astype(np.int64)
    Q = int(P4 + st_n.sum())
    n_var = Q + Y * (2 * D + h_on)
    c = np.ascontiguousarray
    return Packed(
        par_mean=c(par_mean), par_chol=c(par_chol), st_mean=c(st_mean), st_chol=c(st_chol),
        st_n=st_n, st_off=c(st_off), idx_level=idx["level"], idx_mean=idx["mean"],
        idx_ar=idx["ar"], level_known=level_known, idx_cum=c(idx_cum),
        corr_idx=c(corr_idx), corr_chol=c(corr_chol), h_on=np.int64(h_on), h_mean=c(h_mean),
        h_chol=c(h_chol), shift=shift, fixed=fixed, prog=prog, year_off=np.int64(Q),
        n_var=np.int64(n_var), g_start=np.int64(0 if parameter_uncertainty else P4 // 4))


# --------------------------------------------------------------------------------------------
# Scenario levers
# --------------------------------------------------------------------------------------------
def _transform(value: float, scale: str) -> float:
    if scale == "logit":
        v = value / 100.0
        return float(np.log(v / (1.0 - v)))
    return float(np.log(value))


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
    shift = np.zeros((D, Y))
    fixed = np.full((D, Y), np.nan)
    prog = np.zeros(Y)

    def col(year, where) -> int:
        year = int(year)
        if not as_of < year <= horizon:
            raise SimError(f"scenario '{name}': {where}: year {year} is outside the simulated "
                           f"years {as_of + 1}-{horizon}")
        return year - as_of - 1

    def row(driver, where) -> int:
        if driver not in drivers:
            raise SimError(f"scenario '{name}': {where}: the fitted model has no driver "
                           f"'{driver}'{did_you_mean(driver, drivers)} (drivers: {', '.join(drivers)})")
        return drivers.index(driver)

    levers = getattr(scenario_spec, "levers", None) or {}
    items = levers.items() if hasattr(levers, "items") else vars(levers).items()
    for key, lever in items:
        if lever is None:
            continue
        where = f"levers.{key}"
        if key == HOUSING_LEVER:
            per_year = getattr(lever, "units_per_year", None)
            units = ({y: per_year for y in range(as_of + 1, horizon + 1)} if per_year is not None
                     else dict(getattr(lever, "programme_units", None) or {}))
            for y, v in units.items():
                prog[col(y, f"{where}.programme_units")] = float(v)
            continue
        d = row(key, where)
        path = getattr(lever, "path", None)
        if path:
            scale = fitted.drivers[key].scale
            for y, v in dict(path).items():
                fixed[d, col(y, f"{where}.path")] = _transform(float(v), scale)
        pp = getattr(lever, "shift_pp", None)
        if pp is not None:
            y0 = getattr(lever, "from_year", None) or as_of + 1
            y1 = getattr(lever, "to_year", None) or horizon
            a, b = col(y0, f"{where}.from_year"), col(y1, f"{where}.to_year")
            shift[d, a:b + 1] += float(pp) / 100.0
    for i, shock in enumerate(getattr(scenario_spec, "shocks", None) or ()):
        where = f"shocks[{i}]"
        d = row(shock.driver, where)
        shift[d, col(shock.year, f"{where}.year")] += float(shock.shift_pp) / 100.0
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
    (:func:`simulate_chunks`) gives the same draws as one call.
    """
    from sim.engine import kernels

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
    import numba

    return max(1, numba.get_num_threads()) * 2


def simulate_chunks(fitted: FittedModel, levers: Sequence[ScenarioLevers], *, horizon: int,
                    draws: int, seed: int, chunk_draws: int = 1_000_000,
                    block_size: int = 10000, **kwargs) -> Iterator[Simulation]:
    """Yield :class:`Simulation` objects for consecutive draw ranges of ``chunk_draws``.

    Together they are exactly the draws of ``simulate(..., draws=draws)`` (for summaries of
    runs too large to hold at once). ``chunk_draws`` is rounded up to whole blocks.
    """
    chunk = max(1, -(-int(chunk_draws) // block_size)) * block_size
    for start in range(0, int(draws), chunk):
        yield simulate(fitted, levers, horizon=horizon, draws=min(chunk, int(draws) - start),
                       seed=seed, block_size=block_size, first_draw=start, **kwargs)


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
