"""Kernels on injected shocks: exact recursions, levers, and kernel == NumPy twin."""

import math

import numpy as np
import pytest

from sim.engine import kernels, simulation as engine, reference
from sim.testing import synthetic_fitted

H = 2020
FITTED = synthetic_fitted(as_of=2015, seed=1)
DRIVERS = engine.driver_names(FITTED)
D = len(DRIVERS)
Y = H - FITTED.as_of


def levers(name="baseline", horizon=H, shift=None, fixed=None, prog=None):
    base = engine.no_levers(FITTED, horizon, name)
    return engine.ScenarioLevers(
        name, base.shift if shift is None else shift,
        base.fixed_level if fixed is None else fixed,
        base.programme_units if prog is None else prog)


def run_kernel(p, z):
    out = reference.empty_outputs(p, z.shape[0])
    kernels.simulate_injected(p, np.ascontiguousarray(z), *out)
    return out


def eta_k(p, d, t):      # variate index of eta of driver d in year t (1-based)
    return p.year_off + (t - 1) * (2 * D + p.h_on) + d


def eps_k(p, d, t):
    return eta_k(p, d, t) + D


def assert_twin(p, z, atol=1e-12):
    a = run_kernel(p, z)
    b = reference.simulate_z(p, z)
    for x, y in zip(a, b):
        assert np.array_equal(np.isnan(x), np.isnan(y))
        np.testing.assert_allclose(x, y, rtol=1e-14, atol=atol, equal_nan=True)  # housing is in units
    return a


def test_zero_shocks_give_the_deterministic_path_from_the_mean():
    prog = np.full(Y, 1000.0)
    p = engine.pack(FITTED, [levers(prog=prog)], H)
    delta, level0, cum0, housing = assert_twin(p, np.zeros((3, p.n_var)))
    for d, name in enumerate(DRIVERS):
        f = FITTED.drivers[name]
        m, u = f.state("mean"), f.state("ar")
        phi = math.tanh(f.param("atanh_phi"))
        expected = np.cumsum([m + phi ** t * u for t in range(1, Y + 1)])
        for n in range(3):
            np.testing.assert_allclose(delta[0, d, n, 1:], expected, rtol=0, atol=1e-14)
            assert delta[0, d, n, 0] == 0.0
            if f.level_known:
                assert level0[d, n] == f.state("level")
            else:
                assert np.isnan(level0[d, n])
            assert cum0[d, 0, n] == f.state("cum_from_2010")
    h = engine.housing_driver(FITTED)
    np.testing.assert_allclose(housing[0, :, 1:], 1000.0 * math.exp(h.param("mu")), rtol=1e-15)
    assert np.all(np.isnan(housing[0, :, 0]))


@pytest.mark.parametrize("t0", [1, 3])
def test_single_level_shock_moves_exactly_the_expected_years(t0):
    p = engine.pack(FITTED, [levers()], H)
    z = np.zeros((2, p.n_var))
    d = DRIVERS.index("gdp_real")
    z[1, eta_k(p, d, t0)] = 1.0
    delta = assert_twin(p, z)[0]
    sl = math.exp(FITTED.drivers["gdp_real"].param("log_sigma_level"))
    diff = delta[0, :, 1] - delta[0, :, 0]
    expected = np.array([0.0] + [sl * max(0, t - t0 + 1) for t in range(1, Y + 1)])
    np.testing.assert_allclose(diff[d], expected, rtol=0, atol=1e-14)
    assert np.all(diff[d, :t0] == 0.0)
    others = [i for i in range(D) if i != d]
    assert np.array_equal(delta[0, others, 1], delta[0, others, 0])


def test_single_noise_shock_decays_with_phi_when_uncorrelated():
    p = engine.pack(FITTED, [levers()], H, correlated_shocks=False)
    z = np.zeros((2, p.n_var))
    d = DRIVERS.index("energy_intensity")
    t0 = 2
    z[1, eps_k(p, d, t0)] = 1.0
    delta = assert_twin(p, z)[0]
    f = FITTED.drivers["energy_intensity"]
    sn, phi = math.exp(f.param("log_sigma_noise")), math.tanh(f.param("atanh_phi"))
    expected = [0.0] + [sn * sum(phi ** j for j in range(t - t0 + 1)) if t >= t0 else 0.0
                        for t in range(1, Y + 1)]
    np.testing.assert_allclose(delta[0, d, 1] - delta[0, d, 0], expected, rtol=0, atol=1e-14)
    others = [i for i in range(D) if i != d]
    assert np.array_equal(delta[0, others, 1], delta[0, others, 0])


def test_correlated_noise_shock_spreads_by_the_cholesky_column():
    p = engine.pack(FITTED, [levers()], H)
    a = 0                                      # first driver of the correlation matrix
    d = int(p.corr_idx[a])
    z = np.zeros((2, p.n_var))
    z[1, eps_k(p, d, 1)] = 1.0
    delta = assert_twin(p, z)[0]
    jump = delta[0, :, 1, 1] - delta[0, :, 0, 1]
    for r, dr in enumerate(p.corr_idx):
        sn = math.exp(p.par_mean[dr, 1])
        assert jump[dr] == pytest.approx(sn * p.corr_chol[r, a], abs=1e-15)
    uncorrelated = [i for i in range(D) if i not in set(p.corr_idx.tolist())]
    assert uncorrelated and np.all(jump[uncorrelated] == 0.0)


def test_kernel_equals_twin_on_random_shocks_with_levers():
    shift = np.zeros((D, Y))
    shift[DRIVERS.index("energy_intensity"), 1:] = -0.01
    shift[DRIVERS.index("gdp_real"), 4] = -0.04
    fixed = np.full((D, Y), np.nan)
    fixed[DRIVERS.index("usdcny"), :2] = np.log([6.6, 6.9])
    prog = np.array([0, 5e4, 6e4, 6e4, 7e4])
    scen = [levers(), levers("alt", shift=shift, fixed=fixed, prog=prog)]
    for unc in (True, False):
        for corr in (True, False):
            p = engine.pack(FITTED, scen, H, parameter_uncertainty=unc, correlated_shocks=corr)
            z = np.random.default_rng(5).normal(size=(300, p.n_var))
            assert_twin(p, z)


def test_shift_changes_x_as_log_of_exp_plus_shift():
    # one simulated year, so delta_1 is x itself
    h = FITTED.as_of + 1
    d = DRIVERS.index("energy_intensity")
    shift = np.zeros((D, 1))
    shift[d] = -0.01
    p = engine.pack(FITTED, [levers(horizon=h), levers("alt", horizon=h, shift=shift)], h)
    z = np.random.default_rng(2).normal(size=(200, p.n_var))
    delta = run_kernel(p, z)[0]
    x = delta[0, d, :, 1]
    expected = np.array([math.log(math.exp(v) - 0.01) for v in x])
    np.testing.assert_array_equal(delta[1, d, :, 1], expected)
    others = [i for i in range(D) if i != d]
    assert np.array_equal(delta[1, others], delta[0, others])
    # several years: the lever moves every year's change the same way
    shift5 = np.zeros((D, Y))
    shift5[d] = -0.01
    p5 = engine.pack(FITTED, [levers(), levers("alt", shift=shift5)], H)
    delta5 = run_kernel(p5, np.random.default_rng(2).normal(size=(200, p5.n_var)))[0]
    x5 = np.diff(delta5[0, d], axis=1)
    np.testing.assert_allclose(np.diff(delta5[1, d], axis=1), np.log(np.exp(x5) - 0.01),
                               rtol=0, atol=1e-14)


def test_huge_negative_shift_hits_the_floor():
    d = DRIVERS.index("cod_emissions")
    shift = np.zeros((D, Y))
    shift[d, 0] = -3.0
    p = engine.pack(FITTED, [levers(shift=shift)], H)
    delta = run_kernel(p, np.random.default_rng(1).normal(size=(20, p.n_var)))[0]
    assert np.all(delta[0, d, :, 1] == math.log(kernels.FLOOR))


def test_fixed_path_is_reproduced_exactly():
    d = DRIVERS.index("usdcny")
    fixed = np.full((D, Y), np.nan)
    fixed[d, 1:3] = np.log([6.6, 6.9])        # 2017 and 2018 fixed, the rest free
    p = engine.pack(FITTED, [levers(), levers("fx", fixed=fixed)], H)
    delta, level0, _, _ = assert_twin(p, np.random.default_rng(4).normal(size=(100, p.n_var)))
    assert np.array_equal(delta[1, d, :, 2], np.log(6.6) - level0[d])
    assert np.array_equal(delta[1, d, :, 3], np.log(6.9) - level0[d])
    np.testing.assert_allclose(level0[d] + delta[1, d, :, 3], np.log(6.9), rtol=0, atol=1e-15)
    assert np.array_equal(delta[1, d, :, 1], delta[0, d, :, 1])     # 2016 free
    # after the path the driver moves on from the fixed level with its own changes
    np.testing.assert_allclose(delta[1, d, :, 4] - delta[1, d, :, 3],
                               delta[0, d, :, 4] - delta[0, d, :, 3], rtol=0, atol=1e-14)


def test_scenarios_share_draws():
    p = engine.pack(FITTED, [levers(), levers("same")], H)
    delta, _, _, housing = run_kernel(p, np.random.default_rng(8).normal(size=(50, p.n_var)))
    assert np.array_equal(delta[0], delta[1])
    assert np.array_equal(housing[0], housing[1], equal_nan=True)
