"""Monte Carlo kernels (numba): one draw of every driver, every scenario, on plain arrays.

This module imports only numpy and numba. :mod:`sim.engine.simulation` packs a fitted model and the
scenarios' levers into a :class:`Packed` tuple of arrays; :mod:`sim.engine.reference` is the NumPy twin.

Shapes: ``D`` change drivers (in ``Simulation.drivers`` order), ``Y`` simulated years
(``as_of+1 .. horizon``), ``S`` scenarios, ``B`` base years, ``N`` draws, ``SM`` the largest
state vector, ``K`` correlated drivers.

Model of one draw (see :mod:`sim.model`)
----------------------------------------
1. Parameters, per driver ``d``: ``theta_d = par_mean[d] + par_chol[d] @ z_par`` with
   ``theta = (atanh phi, log sigma_noise, log sigma_level)``; ``phi = tanh``, ``sigma = exp``.
   Housing: ``(mu, log sigma) = h_mean + h_chol @ z``. With parameter uncertainty off the
   Cholesky factors are zero and the parameter variates are not generated.
2. State at as_of: ``s_d = st_mean[d] + st_chol[d] @ z_state`` (zero-variance entries stay put);
   ``L_T = s[level]`` (0 when the level is unknown), ``m_T = s[mean]``, ``u_T = s[ar]``.
3. Years ``t = 1..Y``: ``eps = corr_chol @ z`` on the correlated drivers, ``eps_d = z_d`` for the
   others; ``m += sigma_level * eta``; ``u = phi * u + sigma_noise * eps``; ``x_t = m + u``.
4. Scenario ``s`` (all scenarios reuse the draw's ``x``: common random numbers):
   ``x' = log(max(exp(x) + shift[s,d,t], 1e-12))`` (skipped, i.e. ``x' = x``, where the shift
   is 0); ``delta_t = delta_{t-1} + x'`` with ``delta_0 = 0``; a finite ``fixed[s,d,t]`` sets
   ``delta_t = fixed - L_T`` instead (the level is forced to the fixed transformed level).
5. Housing: ``units[s,t] = prog[s,t] * exp(mu + sigma * z_t)``.

Normal-variate layout of one draw (index ``k`` of the vector ``z`` the model reads)
-----------------------------------------------------------------------------------
* ``k = 3d + {0,1,2}``: parameter variates of change driver ``d`` (atanh_phi, log_sigma_noise,
  log_sigma_level); ``k = 3D + {0,1}``: housing ``(mu, log_sigma)`` when there is a housing
  driver. This section has ``P = 3D + 2H`` entries, padded to ``P4 = 4 ceil(P/4)``
  (left 0 when parameter uncertainty is off).
* ``k = st_off[d] + r``, ``r < st_n[d]``: state variates of driver ``d`` in its
  ``state_names`` order; ``st_off[0] = P4``, ``st_off[d+1] = st_off[d] + st_n[d]``.
* ``Q = st_off[D-1] + st_n[D-1]``; year ``t = 1..Y`` uses ``base = Q + (t-1)(2D + H)``:
  ``eta_d`` at ``base + d``, the shock ``z_d`` at ``base + D + d`` (before correlation),
  housing at ``base + 2D``.
* ``n_var = Q + Y (2D + H)``.

Where the variates come from: streams keyed by name (:mod:`sim.engine.rng`)
---------------------------------------------------------------------------
``z`` is only the model's view. Every entry is generated from the stream of the quantity it
belongs to, keyed by the driver's name (housing: ``HOUSING_DRIVER``), never by its position
(:func:`stream_table`). Group ``c`` of a driver's stream (four normals, words ``w = 0..3``):

* ``c = 0``: its parameter variates at ``w = 0, 1, 2`` (housing: ``w = 0, 1``; ``w = 3`` unused);
  not generated when parameter uncertainty is off;
* ``c = 1 + q``: state variates ``r = 4q + w`` (``r < st_n[d]``);
* ``c = YEAR_GROUP + (t-1) // 2``: years ``t`` in pairs, ``eta_d`` of year ``t`` at
  ``w = 2((t-1) mod 2)`` and its shock ``z_d`` at the next word (housing: four years per group,
  ``c = YEAR_GROUP + (t-1) // 4``, ``w = (t-1) mod 4``).

So the draws of a driver do not depend on which other drivers exist, how many or in what order:
adding or removing a series leaves every other driver's normals bit-identical at the same seed.
What can still move another driver's draws is the *model*, not the random numbers: the shock
correlation of the correlated drivers (``corr_chol`` mixes their ``z_d``; only the structural
drivers of ``CHANGE_DRIVERS`` are correlated, so a declared or generic series never enters it),
and a new base year, which adds a ``cum_from_<b>`` state (and its Cholesky row) to every driver.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, prange

from sim.engine.rng import fill_streams, stream_hash, stream_keys

FLOOR = 1e-12   # lower bound of exp(x) + shift, so a huge negative shift cannot take log(<=0)
YEAR_GROUP = 2 ** 16   # first group of the years in a driver's stream (room for 4 * 65535 states)

Packed = namedtuple("Packed", [
    "par_mean",     # (D, 3) float64  theta point estimate (atanh_phi, log_sigma_noise, log_sigma_level)
    "par_chol",     # (D, 3, 3) float64 lower Cholesky of theta's covariance (zeros: no uncertainty)
    "st_mean",      # (D, SM) float64 state mean at as_of
    "st_chol",      # (D, SM, SM) float64 lower Cholesky of the state covariance
    "st_n",         # (D,) int64 number of states of each driver
    "st_off",       # (D,) int64 variate offset of each driver's state block
    "idx_level",    # (D,) int64 position of "level" in the state vector (-1: none)
    "idx_mean",     # (D,) int64 position of "mean" (-1: none -> 0)
    "idx_ar",       # (D,) int64 position of "ar" (-1: none -> 0)
    "level_known",  # (D,) bool
    "idx_cum",      # (D, B) int64 position of cum_from_<b> (-1: none -> NaN)
    "corr_idx",     # (K,) int64 driver index of each correlated driver, matrix order
    "corr_chol",    # (K, K) float64 lower Cholesky of the shock correlation
    "h_on",         # int64 1 when a housing (iid_lognormal) driver exists
    "h_mean",       # (2,) float64 (mu, log_sigma)
    "h_chol",       # (2, 2) float64
    "shift",        # (S, D, Y) float64 fraction added to the annual change
    "fixed",        # (S, D, Y) float64 transformed level to force, NaN where free
    "prog",         # (S, Y) float64 programme units
    "year_off",     # int64 Q, offset of the first year's variates
    "n_var",        # int64 variates per draw
    "s_hash",       # (NS, 4) uint64 name hash of every stream (rng.stream_hash)
    "g_stream",     # (G,) int64 stream of each Philox group generated per draw
    "g_ctr",        # (G,) int64 the group's counter within its stream
    "g_dest",       # (G, 4) int64 index in z of each of the group's four normals (-1: unused)
])


def stream_table(streams, n_drivers: int, st_n, st_off, h_on: int, years: int, year_off: int,
                 parameter_uncertainty: bool = True):
    """The keyed-stream layout of one draw (module docstring): ``(s_hash, g_stream, g_ctr, g_dest)``.

    ``streams`` are the stream names: the ``D`` change drivers in order, then the housing
    driver when ``h_on``. Plain NumPy (called once per run by ``simulation.pack``).
    """
    D, Y = int(n_drivers), int(years)
    rows: list[tuple[int, int, tuple[int, ...]]] = []
    stride = 2 * D + int(h_on)
    for d in range(D):
        if parameter_uncertainty:
            rows.append((d, 0, (3 * d, 3 * d + 1, 3 * d + 2, -1)))
        n = int(st_n[d])
        for q in range((n + 3) // 4):
            rows.append((d, 1 + q, tuple(int(st_off[d]) + 4 * q + w if 4 * q + w < n else -1
                                         for w in range(4))))
        for t in range(0, Y, 2):
            dest = []
            for tt in (t, t + 1):
                base = int(year_off) + tt * stride
                dest += [base + d, base + D + d] if tt < Y else [-1, -1]
            rows.append((d, YEAR_GROUP + t // 2, tuple(dest)))
    if h_on:
        if parameter_uncertainty:
            rows.append((D, 0, (3 * D, 3 * D + 1, -1, -1)))
        for t in range(0, Y, 4):
            rows.append((D, YEAR_GROUP + t // 4, tuple(
                int(year_off) + tt * stride + 2 * D if tt < Y else -1 for tt in range(t, t + 4))))
    s_hash = np.array([stream_hash(n) for n in streams], dtype=np.uint64).reshape(-1, 4)
    g_stream = np.array([r[0] for r in rows], dtype=np.int64)
    g_ctr = np.array([r[1] for r in rows], dtype=np.int64)
    g_dest = np.array([r[2] for r in rows], dtype=np.int64).reshape(-1, 4)
    return s_hash, g_stream, g_ctr, g_dest


@njit(cache=True, inline="always")
def _lower_mv(out, mean, chol, z, z0, n):
    """``out[r] = mean[r] + sum_{c<=r} chol[r, c] * z[z0 + c]`` for r < n, summed in order c."""
    for r in range(n):
        acc = mean[r]
        for c in range(r + 1):
            acc = acc + chol[r, c] * z[z0 + c]
        out[r] = acc


@njit(cache=True)
def one_draw(p, z, n, x, eps, m, u, phi, sn, sl, lt, th, st, hr, delta, level0, cum0, housing):  # noqa: C901 (the model's five steps in one numba loop nest)
    """Simulate draw ``n`` from its normals ``z`` (n_var,) and write every output at index n.

    Work arrays (overwritten): ``x`` (D, Y), ``eps, m, u, phi, sn, sl, lt`` (D,), ``th`` (3,),
    ``st`` (SM,), ``hr`` (Y,). Outputs: ``delta`` (S, D, N, Y+1), ``level0`` (D, N),
    ``cum0`` (D, B, N), ``housing`` (S, N, Y+1).
    """
    D = p.par_mean.shape[0]
    S = p.shift.shape[0]
    Y = p.shift.shape[2]
    B = p.idx_cum.shape[1]
    K = p.corr_idx.shape[0]
    nan = np.nan
    # 1. parameters
    for d in range(D):
        _lower_mv(th, p.par_mean[d], p.par_chol[d], z, 3 * d, 3)
        phi[d] = np.tanh(th[0])
        sn[d] = np.exp(th[1])
        sl[d] = np.exp(th[2])
    h_mu = 0.0
    h_sig = 0.0
    if p.h_on == 1:
        _lower_mv(th, p.h_mean, p.h_chol, z, 3 * D, 2)
        h_mu = th[0]
        h_sig = np.exp(th[1])
    # 2. state at as_of
    for d in range(D):
        ns = p.st_n[d]
        _lower_mv(st, p.st_mean[d], p.st_chol[d], z, p.st_off[d], ns)
        il = p.idx_level[d]
        known = p.level_known[d] and il >= 0
        lt[d] = st[il] if known else 0.0
        level0[d, n] = st[il] if known else nan
        m[d] = st[p.idx_mean[d]] if p.idx_mean[d] >= 0 else 0.0
        u[d] = st[p.idx_ar[d]] if p.idx_ar[d] >= 0 else 0.0
        for b in range(B):
            ic = p.idx_cum[d, b]
            cum0[d, b, n] = st[ic] if ic >= 0 else nan
    # 3. years
    stride = 2 * D + p.h_on
    for t in range(Y):
        base = p.year_off + t * stride
        for d in range(D):
            eps[d] = z[base + D + d]
        for a in range(K):
            acc = 0.0
            for c in range(a + 1):
                acc = acc + p.corr_chol[a, c] * z[base + D + p.corr_idx[c]]
            eps[p.corr_idx[a]] = acc
        for d in range(D):
            m[d] = m[d] + sl[d] * z[base + d]
            u[d] = phi[d] * u[d] + sn[d] * eps[d]
            x[d, t] = m[d] + u[d]
        if p.h_on == 1:
            hr[t] = np.exp(h_mu + h_sig * z[base + 2 * D])
    # 4. scenarios (common random numbers) and 5. housing
    for s in range(S):
        for d in range(D):
            acc = 0.0
            delta[s, d, n, 0] = 0.0
            for t in range(Y):
                f = p.fixed[s, d, t]
                if np.isfinite(f):
                    acc = f - lt[d]
                else:
                    xs = x[d, t]
                    sh = p.shift[s, d, t]
                    if sh != 0.0:
                        xs = np.log(max(np.exp(xs) + sh, FLOOR))
                    acc = acc + xs
                delta[s, d, n, t + 1] = acc
        housing[s, n, 0] = nan
        for t in range(Y):
            housing[s, n, t + 1] = p.prog[s, t] * hr[t] if p.h_on == 1 else nan


@njit(cache=True, inline="always")
def _work(p):
    D = p.par_mean.shape[0]
    Y = p.shift.shape[2]
    SM = p.st_mean.shape[1]
    return (np.empty((D, Y)), np.empty(D), np.empty(D), np.empty(D), np.empty(D),
            np.empty(D), np.empty(D), np.empty(D), np.empty(3), np.empty(max(SM, 1)),
            np.empty(Y))


@njit(cache=True, parallel=True)
def simulate_range(p, k0, k1, block_size, i_lo, i_hi, out0, delta, level0, cum0, housing):
    """Simulate draws ``i_lo <= i < i_hi`` (parallel over their blocks) into the outputs.

    Draw ``i`` lies in block ``b = i // block_size`` at ``j = i % block_size`` and takes its
    normals from the streams of the seed's key words ``(k0, k1)`` (module docstring) with
    counters ``(j, c, b)``; it is written at index ``i - out0`` of the outputs' draw axis.
    """
    keys = stream_keys(p.s_hash, k0, k1)
    b_lo = i_lo // block_size
    b_hi = (i_hi + block_size - 1) // block_size
    for b in prange(b_lo, b_hi):
        z = np.zeros(p.n_var)
        x, eps, m, u, phi, sn, sl, lt, th, st, hr = _work(p)
        first = max(b * block_size, i_lo)
        last = min((b + 1) * block_size, i_hi)
        for i in range(first, last):
            fill_streams(z, keys, p.g_stream, p.g_ctr, p.g_dest, b, i - b * block_size)
            one_draw(p, z, i - out0, x, eps, m, u, phi, sn, sl, lt, th, st, hr,
                     delta, level0, cum0, housing)


@njit(cache=True, parallel=True)
def simulate_injected(p, z, delta, level0, cum0, housing):
    """Simulate draw ``n`` from the injected normals ``z[n]`` ((N, n_var)), parallel over draws."""
    N = z.shape[0]
    for n in prange(N):
        x, eps, m, u, phi, sn, sl, lt, th, st, hr = _work(p)
        one_draw(p, z[n], n, x, eps, m, u, phi, sn, sl, lt, th, st, hr,
                 delta, level0, cum0, housing)


@njit(cache=True, parallel=True)
def normals_floor(p, k0, k1, block_size, i_lo, i_hi):
    """The RNG floor: generate the normals :func:`simulate_range` would, and sum them.

    Returns the sum (so the work cannot be optimised away); used by the benchmark.
    """
    keys = stream_keys(p.s_hash, k0, k1)
    b_lo = i_lo // block_size
    b_hi = (i_hi + block_size - 1) // block_size
    total = 0.0
    for b in prange(b_lo, b_hi):
        z = np.zeros(p.n_var)
        acc = 0.0
        for i in range(max(b * block_size, i_lo), min((b + 1) * block_size, i_hi)):
            fill_streams(z, keys, p.g_stream, p.g_ctr, p.g_dest, b, i - b * block_size)
            for k in range(p.n_var):
                acc += z[k]
        total += acc
    return total
