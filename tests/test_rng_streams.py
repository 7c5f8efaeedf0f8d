"""Random streams keyed by name: a driver's normals do not depend on which other drivers exist.

Spec (sim.engine.rng / sim.engine.kernels): stream key = Philox(counter = BLAKE2b-128 of the
name, key = seed); group c of a stream at counter (j, c, block). Removing or adding a driver
leaves every other driver's draws bit-identical at the same seed, except that the correlated
drivers' shocks are mixed by the Cholesky factor of their correlation.
"""

import dataclasses

import numpy as np
import pytest

from sim.engine import kernels, reference
from sim.engine import simulation as engine
from sim.engine.rng import (split_seed, stream_block_normals, stream_hash, stream_keys,
                            stream_keys_np, stream_normals_np, stream_words_np)
from sim.testing import GENERIC, synthetic_fitted
from sim.vocabulary import HOUSING_DRIVER

H = 2021
FITTED = synthetic_fitted(as_of=2015, seed=4)


def without(fitted, *names):
    """The fitted model minus ``names`` (and their rows of the shock correlation)."""
    keep = [i for i, n in enumerate(fitted.shock_names) if n not in names]
    return dataclasses.replace(
        fitted, drivers={n: f for n, f in fitted.drivers.items() if n not in names},
        shock_names=tuple(fitted.shock_names[i] for i in keep),
        shock_corr=np.asarray(fitted.shock_corr)[np.ix_(keep, keep)])


def run(fitted, seed=7, **kw):
    return engine.simulate(fitted, [engine.no_levers(fitted, H)], horizon=H, draws=300, seed=seed,
                           block_size=128, **kw)


def same_driver(a, b, name):
    i, j = a.drivers.index(name), b.drivers.index(name)
    return (np.array_equal(a.delta[:, i], b.delta[:, j])
            and np.array_equal(a.level0[i], b.level0[j], equal_nan=True)
            and np.array_equal(a.cum0[i], b.cum0[j], equal_nan=True))


def used_variates(p):
    """Indices of z the model reads: all but the padding ``P .. P4`` after the parameters."""
    P = 3 * p.par_mean.shape[0] + 2 * int(p.h_on)
    return np.r_[0:P, int(p.st_off[0]):int(p.n_var)]


def test_stream_hash_is_the_blake2b_digest_of_the_name():
    import hashlib
    words = stream_hash("tertiary_share")
    digest = hashlib.blake2b(b"sim.stream:tertiary_share", digest_size=16).digest()
    assert words == tuple(int.from_bytes(digest[4 * i:4 * i + 4], "little") for i in range(4))
    assert stream_hash("tertiary_share") != stream_hash("tertiary_sharE")
    assert all(0 <= w < 2 ** 32 for w in words)


def test_stream_keys_and_normals_numba_equal_numpy_twin():
    p = engine.pack(FITTED, [engine.no_levers(FITTED, H)], H)
    k0, k1 = split_seed(2 ** 40 + 3)
    keys = stream_keys(p.s_hash, k0, k1)
    assert np.array_equal(keys, stream_keys_np(p.s_hash, k0, k1))    # 32-bit words, exact
    a = stream_block_normals(keys, p.g_stream, p.g_ctr, p.g_dest, 5, 0, 200, int(p.n_var))
    b = stream_normals_np(keys, p.g_stream, p.g_ctr, p.g_dest, 5, np.arange(200), int(p.n_var))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)   # libm vs NumPy log: a few ulp
    # every variate of the layout but the padding after the parameters is written by exactly
    # one word of the table
    dest = p.g_dest[p.g_dest >= 0]
    assert np.array_equal(np.sort(dest), used_variates(p))
    w = stream_words_np(keys, p.g_stream, p.g_ctr, 5, np.arange(3))
    assert all(x.dtype == np.uint64 and x.shape == (3, p.g_stream.size) for x in w)


def test_streams_are_standard_normal_and_seed_dependent():
    p = engine.pack(FITTED, [engine.no_levers(FITTED, H)], H)
    z = engine.run_normals(20240601, 1000, 0, 4000, p)[:, used_variates(p)]
    m, s = z.mean(axis=0), z.std(axis=0)
    # per variate, 4000 draws: mean within 4.5 SE (1/sqrt N), sd within 4.5 SE (1/sqrt 2N)
    assert np.all(np.abs(m) < 4.5 / np.sqrt(4000)) and np.all(np.abs(s - 1) < 4.5 / np.sqrt(8000))
    c = np.corrcoef(z[:, :40].T) - np.eye(40)      # distinct variates uncorrelated
    assert np.max(np.abs(c)) < 4.5 / np.sqrt(4000) * 1.5
    assert not np.allclose(z[:50], engine.run_normals(20240602, 1000, 0, 50, p)[:, used_variates(p)])


@pytest.mark.parametrize("dropped", [GENERIC, HOUSING_DRIVER])
def test_removing_an_uncorrelated_driver_leaves_every_other_draw_bit_identical(dropped):
    full, part = run(FITTED), run(without(FITTED, dropped))
    assert dropped not in part.drivers
    for name in part.drivers:
        assert same_driver(full, part, name), name
    if dropped == GENERIC:
        assert np.array_equal(full.housing, part.housing, equal_nan=True)


def test_removing_the_last_correlated_driver_moves_nothing_else():
    """The lower Cholesky factor of the others' correlation is the leading block of the full
    one: with the same correlations, removing the last driver in ``shock_names`` order leaves
    every other driver's shocks, hence draws, bit-identical."""
    assert FITTED.shock_names[-1] == "nox_emissions"
    full, part = run(FITTED), run(without(FITTED, "nox_emissions"))
    assert all(same_driver(full, part, n) for n in part.drivers)


def test_removing_a_correlated_driver_moves_only_the_correlated_ones():
    """gdp_real is first in shock order: the later correlated drivers' shocks are re-mixed by
    the new Cholesky factor; their states, the uncorrelated drivers and housing keep their
    draws. Without the shock correlation every remaining driver keeps its draws."""
    fit = without(FITTED, "gdp_real")
    full, part = run(FITTED), run(fit)
    assert same_driver(full, part, GENERIC)
    assert np.array_equal(full.housing, part.housing, equal_nan=True)
    for name in part.drivers:             # the states at as_of are not correlated: untouched
        i, j = full.drivers.index(name), part.drivers.index(name)
        assert np.array_equal(full.level0[i], part.level0[j], equal_nan=True)
        assert np.array_equal(full.cum0[i], part.cum0[j], equal_nan=True)
    moved = [n for n in part.drivers if not same_driver(full, part, n)]
    assert moved and set(moved) <= set(FITTED.shock_names)
    a, b = run(FITTED, correlated_shocks=False), run(fit, correlated_shocks=False)
    assert all(same_driver(a, b, n) for n in b.drivers)


def test_parameter_uncertainty_off_keeps_state_and_year_variates():
    on = run(without(FITTED, HOUSING_DRIVER))
    off = run(without(FITTED, HOUSING_DRIVER), parameter_uncertainty=False)
    assert np.array_equal(on.cum0, off.cum0, equal_nan=True)
    p = engine.pack(FITTED, [engine.no_levers(FITTED, H)], H, parameter_uncertainty=False)
    assert not np.any(p.g_ctr == 0)                   # parameter groups are not generated


def test_twin_follows_the_keyed_layout():
    p = engine.pack(FITTED, [engine.no_levers(FITTED, H)], H)
    sim = run(FITTED, seed=9)
    twin = reference.simulate_rng(p, *split_seed(9), 128, 300)
    np.testing.assert_allclose(twin[0], sim.delta, rtol=0, atol=1e-12)
    assert kernels.YEAR_GROUP > int(p.st_n.max()) // 4 + 1   # years never collide with states
