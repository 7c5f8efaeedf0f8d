"""Plain-NumPy twin of :mod:`sim.engine.kernels`: the same model, vectorised over draws (test oracle).

Every function here mirrors a kernel operation for operation (same summation order), so the
twin equals the kernels exactly except where NumPy's SIMD ``exp``/``log``/``tanh`` round
differently from libm (at most an ulp or two per call; tests allow 1e-12).
See :mod:`sim.engine.kernels` for the model equations and the normal-variate layout.
"""

from __future__ import annotations

import numpy as np

from sim.engine.kernels import FLOOR, Packed
from sim.engine.rng import stream_keys_np, stream_normals_np


def _lower_mv(mean, chol, z, z0, n):
    """Rows of ``mean[r] + sum_{c<=r} chol[r, c] * z[:, z0 + c]``: (N, n), summed in order c."""
    out = np.empty((z.shape[0], n))
    for r in range(n):
        acc = np.full(z.shape[0], mean[r])
        for c in range(r + 1):
            acc = acc + chol[r, c] * z[:, z0 + c]
        out[:, r] = acc
    return out


def empty_outputs(p: Packed, n: int):
    """Allocate ``(delta, level0, cum0, housing)`` for ``n`` draws."""
    S, D, Y = p.shift.shape
    B = p.idx_cum.shape[1]
    return (np.empty((S, D, n, Y + 1)), np.empty((D, n)), np.empty((D, B, n)),
            np.empty((S, n, Y + 1)))


def simulate_z(p: Packed, z: np.ndarray, out=None, n0: int = 0):  # noqa: C901 (twin of the kernel, step by step)
    """Simulate draws from injected normals ``z`` (N, n_var); twin of ``simulate_injected``.

    Writes draws ``n0 .. n0+N-1`` of ``out = (delta, level0, cum0, housing)`` (allocated for N
    draws when None) and returns ``out``.
    """
    N = z.shape[0]
    D = p.par_mean.shape[0]
    S, _, Y = p.shift.shape
    B = p.idx_cum.shape[1]
    K = p.corr_idx.shape[0]
    if out is None:
        out = empty_outputs(p, N)
    delta, level0, cum0, housing = out
    sl_n = slice(n0, n0 + N)
    # 1. parameters
    phi = np.empty((D, N))
    sn = np.empty((D, N))
    sl = np.empty((D, N))
    for d in range(D):
        th = _lower_mv(p.par_mean[d], p.par_chol[d], z, 3 * d, 3)
        phi[d] = np.tanh(th[:, 0])
        sn[d] = np.exp(th[:, 1])
        sl[d] = np.exp(th[:, 2])
    if p.h_on == 1:
        th = _lower_mv(p.h_mean, p.h_chol, z, 3 * D, 2)
        h_mu, h_sig = th[:, 0], np.exp(th[:, 1])
    # 2. state at as_of
    m = np.zeros((D, N))
    u = np.zeros((D, N))
    lt = np.zeros((D, N))
    for d in range(D):
        st = _lower_mv(p.st_mean[d], p.st_chol[d], z, p.st_off[d], p.st_n[d])
        il = p.idx_level[d]
        if p.level_known[d] and il >= 0:
            lt[d] = st[:, il]
            level0[d, sl_n] = st[:, il]
        else:
            level0[d, sl_n] = np.nan
        if p.idx_mean[d] >= 0:
            m[d] = st[:, p.idx_mean[d]]
        if p.idx_ar[d] >= 0:
            u[d] = st[:, p.idx_ar[d]]
        for b in range(B):
            ic = p.idx_cum[d, b]
            cum0[d, b, sl_n] = st[:, ic] if ic >= 0 else np.nan
    # 3. years
    stride = 2 * D + p.h_on
    x = np.empty((D, Y, N))
    hr = np.empty((Y, N))
    for t in range(Y):
        base = p.year_off + t * stride
        eps = z[:, base + D: base + 2 * D].T.copy()
        for a in range(K):
            acc = np.zeros(N)
            for c in range(a + 1):
                acc = acc + p.corr_chol[a, c] * z[:, base + D + p.corr_idx[c]]
            eps[p.corr_idx[a]] = acc
        for d in range(D):
            m[d] = m[d] + sl[d] * z[:, base + d]
            u[d] = phi[d] * u[d] + sn[d] * eps[d]
            x[d, t] = m[d] + u[d]
        if p.h_on == 1:
            hr[t] = np.exp(h_mu + h_sig * z[:, base + 2 * D])
    # 4. scenarios and 5. housing
    for s in range(S):
        for d in range(D):
            acc = np.zeros(N)
            delta[s, d, sl_n, 0] = 0.0
            for t in range(Y):
                f = p.fixed[s, d, t]
                if np.isfinite(f):
                    acc = f - lt[d]
                else:
                    xs = x[d, t]
                    sh = p.shift[s, d, t]
                    if sh != 0.0:
                        xs = np.log(np.maximum(np.exp(xs) + sh, FLOOR))
                    acc = acc + xs
                delta[s, d, sl_n, t + 1] = acc
        housing[s, sl_n, 0] = np.nan
        for t in range(Y):
            housing[s, sl_n, t + 1] = p.prog[s, t] * hr[t] if p.h_on == 1 else np.nan
    return out


def simulate_rng(p: Packed, k0: int, k1: int, block_size: int, n_total: int, out=None,
                 first_draw: int = 0):
    """Twin of ``simulate_range`` for draws ``first_draw .. first_draw+n_total-1``.

    NumPy Philox normals of the keyed streams (:func:`sim.engine.rng.stream_normals_np`), then
    :func:`simulate_z`, vectorised over the draws of each block. Returns
    ``(delta, level0, cum0, housing)`` with draw ``first_draw`` at index 0.
    """
    if out is None:
        out = empty_outputs(p, n_total)
    keys = stream_keys_np(p.s_hash, k0, k1)
    i_lo, i_hi = first_draw, first_draw + n_total
    for b in range(i_lo // block_size, -(-i_hi // block_size)):
        first = max(b * block_size, i_lo)
        last = min((b + 1) * block_size, i_hi)
        j = np.arange(first - b * block_size, last - b * block_size)
        z = stream_normals_np(keys, p.g_stream, p.g_ctr, p.g_dest, b, j, p.n_var)
        simulate_z(p, z, out=out, n0=first - i_lo)
    return out
