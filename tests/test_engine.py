"""Engine: reproducibility (seed, threads, draw prefix), RNG path == twin, levers, paths."""

import math
import os
import subprocess
import sys
from types import SimpleNamespace as NS

import numba
import numpy as np
import pytest

from sim.engine import reference
from sim.engine import simulation as engine
from sim.errors import SimError
from sim.engine.dispatch import chunk_ranges
from sim.engine.rng import split_seed
from sim.testing import synthetic_fitted

H = 2020
FITTED = synthetic_fitted(as_of=2015, seed=2)
DRIVERS = engine.driver_names(FITTED)
D, Y = len(DRIVERS), H - FITTED.as_of


def base():
    return engine.no_levers(FITTED, H)


def run(draws=600, seed=11, block_size=250, levers=None, **kw):
    return engine.simulate(FITTED, levers or [base()], horizon=H, draws=draws, seed=seed,
                           block_size=block_size, **kw)


def fields(sim):
    return (sim.delta, sim.level0, sim.cum0, sim.housing)


def same(a, b):
    return all(np.array_equal(x, y, equal_nan=True) for x, y in zip(fields(a), fields(b)))


def test_simulation_shapes_and_metadata():
    sim = run(draws=10, block_size=4)
    assert sim.delta.shape == (1, D, 10, Y + 1)
    assert sim.level0.shape == (D, 10) and sim.cum0.shape == (D, 1, 10)
    assert sim.housing.shape == (1, 10, Y + 1)
    assert list(sim.years) == list(range(2015, 2021))
    assert sim.drivers == DRIVERS and sim.scenarios == ("baseline",) and sim.base_years == (2010,)
    assert (sim.draws, sim.seed, sim.block_size) == (10, 11, 4)
    assert np.all(sim.delta[..., 0] == 0)


def test_same_seed_identical_other_seed_differs():
    assert same(run(), run())
    assert not np.array_equal(run().delta, run(seed=12).delta)


def test_rng_path_equals_numpy_twin():
    scen = [base(), engine.levers_from_spec(
        NS(name="alt", levers={"energy_intensity": NS(shift_pp=-1.0, from_year=2017, to_year=None),
                               "affordable_housing": NS(units_per_year=60000)}, shocks=()),
        FITTED, H)]
    for unc in (True, False):
        sim = run(draws=700, block_size=300, levers=scen, parameter_uncertainty=unc)
        p = engine.pack(FITTED, scen, H, parameter_uncertainty=unc)
        twin = reference.simulate_rng(p, *split_seed(11), 300, 700)
        for a, b in zip(fields(sim), twin):
            np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-12, equal_nan=True)


def test_threads_do_not_change_results():
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run(draws=900, block_size=100)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = run(draws=900, block_size=100)
    finally:
        numba.set_num_threads(before)
    assert same(one, two)


def test_numba_num_threads_env_does_not_change_results():
    code = ("import hashlib, numpy as np; from sim.engine import simulation as engine; "
            "from sim.testing import synthetic_fitted;"
            "f = synthetic_fitted(seed=2); s = engine.simulate(f, [engine.no_levers(f, 2020)], horizon=2020,"
            " draws=500, seed=3, block_size=100);"
            "print(hashlib.sha256(s.delta.tobytes() + s.cum0.tobytes()).hexdigest())")
    digests = []
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             check=True)
        digests.append(out.stdout.strip())
    assert digests[0] == digests[1]


def test_draw_prefix_is_stable():
    small = run(draws=1000, block_size=300)
    big = run(draws=2500, block_size=300)
    assert np.array_equal(small.delta, big.delta[:, :, :1000])
    assert np.array_equal(small.level0, big.level0[:, :1000], equal_nan=True)
    assert np.array_equal(small.cum0, big.cum0[:, :, :1000], equal_nan=True)
    assert np.array_equal(small.housing, big.housing[:, :1000], equal_nan=True)


def test_progress_ticks_add_up_to_draws():
    ticks = []
    run(draws=1234, block_size=100, progress=ticks.append)
    assert sum(ticks) == 1234 and len(ticks) >= 2


def test_scenarios_share_draws_and_levers_move_only_their_driver():
    alt0 = engine.levers_from_spec(NS(name="zero", levers={}, shocks=()), FITTED, H)
    alt1 = engine.levers_from_spec(
        NS(name="ei", levers={"energy_intensity": NS(shift_pp=-1.0, from_year=None, to_year=None)},
           shocks=()), FITTED, H)
    sim = run(levers=[base(), alt0, alt1])
    assert np.array_equal(sim.delta[0], sim.delta[1])
    d = DRIVERS.index("energy_intensity")
    others = [i for i in range(D) if i != d]
    assert np.array_equal(sim.delta[2, others], sim.delta[0, others])
    x0, x1 = np.diff(sim.delta[0, d], axis=1), np.diff(sim.delta[2, d], axis=1)
    np.testing.assert_allclose(x1, np.log(np.exp(x0) - 0.01), rtol=0, atol=1e-14)


def test_parameter_uncertainty_off_uses_point_parameters():
    off = run(draws=400, block_size=150, parameter_uncertainty=False)
    on = run(draws=400, block_size=150, parameter_uncertainty=True)
    # the twin with the parameter variates zeroed (theta = mean in every draw) gives `off`
    p_on = engine.pack(FITTED, [base()], H, parameter_uncertainty=True)
    P4 = int(p_on.st_off[0])
    out = reference.empty_outputs(p_on, 400)
    for i0, i1 in ((0, 150), (150, 300), (300, 400)):
        z = engine.run_normals(11, 150, i0, i1 - i0, p_on)
        z[:, :P4] = 0.0
        reference.simulate_z(p_on, z, out=out, n0=i0)
    for a, b in zip(fields(off), out):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-12, equal_nan=True)
    # the initial states are drawn from the same variates either way
    assert np.array_equal(off.cum0, on.cum0) and not np.array_equal(off.delta, on.delta)


def test_mean_and_variance_of_first_year_change():
    """Fixed seed, point parameters: E x_1 = m_T + phi u_T, Var x_1 = a'Ca + s_l^2 + s_n^2.

    Tolerances: mean within 4 standard errors; variance within 4 SE of a normal variance
    (sqrt(2/N) relative).
    """
    n = 20000
    sim = engine.simulate(FITTED, [base()], horizon=H, draws=n, seed=99, block_size=5000,
                          parameter_uncertainty=False)
    for name in ("gdp_real", "energy_intensity"):
        f = FITTED.drivers[name]
        d = DRIVERS.index(name)
        phi = math.tanh(f.param("atanh_phi"))
        sn, sl = math.exp(f.param("log_sigma_noise")), math.exp(f.param("log_sigma_level"))
        a = np.zeros(len(f.state_names))
        a[f.state_names.index("mean")] = 1.0
        a[f.state_names.index("ar")] = phi
        mean = f.state("mean") + phi * f.state("ar")
        var = a @ f.state_cov @ a + sl ** 2 + sn ** 2
        x1 = sim.delta[0, d, :, 1]
        assert abs(x1.mean() - mean) < 4 * math.sqrt(var / n)
        assert abs(x1.var() / var - 1) < 4 * math.sqrt(2 / n)
    # gdp_real grows about 8 % a year (synthetic model)
    g = np.expm1(np.diff(sim.delta[0, DRIVERS.index("gdp_real")], axis=1)).mean()
    assert 0.07 < g < 0.09


# --- levers_from_spec ---------------------------------------------------------------------
def test_levers_from_spec_shift_shock_path_housing():
    spec = NS(name="alt", levers={
        "energy_intensity": NS(shift_pp=-1.5, from_year=2017, to_year=2018),
        "gdp_real": NS(shift_pp=0.5, from_year=None, to_year=None),
        "usdcny": NS(shift_pp=None, from_year=None, to_year=None, path={2016: 6.6, 2017: 6.9}),
        "affordable_housing": NS(programme_units={2016: 40000, 2019: 50000}, units_per_year=None),
    }, shocks=(NS(driver="gdp_real", year=2020, shift_pp=-4.0),))
    lv = engine.levers_from_spec(spec, FITTED, H)
    assert lv.name == "alt" and lv.shift.shape == (D, Y) and lv.programme_units.shape == (Y,)
    ei, gdp, fx = (DRIVERS.index(n) for n in ("energy_intensity", "gdp_real", "usdcny"))
    np.testing.assert_allclose(lv.shift[ei], [0, -0.015, -0.015, 0, 0])
    np.testing.assert_allclose(lv.shift[gdp], [0.005] * 4 + [0.005 - 0.04])
    assert np.all(lv.shift[[i for i in range(D) if i not in (ei, gdp)]] == 0)
    assert lv.fixed_level[fx, 0] == math.log(6.6) and lv.fixed_level[fx, 1] == math.log(6.9)
    assert np.all(np.isnan(lv.fixed_level[fx, 2:])) and np.isnan(np.delete(lv.fixed_level, fx, 0)).all()
    assert list(lv.programme_units) == [40000, 0, 0, 50000, 0]
    every = engine.levers_from_spec(
        NS(name="h", levers={"affordable_housing": NS(units_per_year=70000, programme_units=None)}),
        FITTED, H)
    assert list(every.programme_units) == [70000] * Y


def test_levers_from_spec_with_the_real_spec_model():
    spec_mod = pytest.importorskip("sim.scenario.spec")
    sc = spec_mod.ScenarioSpec(
        name="alt", description="test",
        levers={"energy_intensity": {"shift_pp": -1.0}, "usdcny": {"path": {2016: 6.6}},
                "affordable_housing": {"units_per_year": 1000}},
        shocks=({"driver": "gdp_real", "year": 2020, "shift_pp": -4.0},))
    lv = engine.levers_from_spec(sc, FITTED, H)
    assert lv.shift[DRIVERS.index("energy_intensity")].tolist() == [-0.01] * Y
    assert lv.shift[DRIVERS.index("gdp_real"), -1] == -0.04
    assert lv.fixed_level[DRIVERS.index("usdcny"), 0] == math.log(6.6)
    assert lv.programme_units.tolist() == [1000.0] * Y


@pytest.mark.parametrize("spec,match", [
    (NS(name="x", levers={"energy_intensty": NS(shift_pp=1.0)}), "did you mean 'energy_intensity'"),
    (NS(name="x", levers={"gdp_real": NS(shift_pp=1.0, from_year=2015, to_year=None)}), "outside"),
    (NS(name="x", levers={}, shocks=(NS(driver="gdp_real", year=2021, shift_pp=1.0),)), "2016-2020"),
])
def test_levers_from_spec_errors(spec, match):
    with pytest.raises(SimError, match=match):
        engine.levers_from_spec(spec, FITTED, H)


def test_simulate_rejects_bad_inputs():
    with pytest.raises(SimError, match="shape"):
        engine.simulate(FITTED, [engine.no_levers(FITTED, 2019)], horizon=H, draws=5, seed=1)
    with pytest.raises(SimError, match="after as_of"):
        engine.simulate(FITTED, [base()], horizon=2015, draws=5, seed=1)
    with pytest.raises(SimError, match="seed"):
        engine.simulate(FITTED, [base()], horizon=H, draws=5, seed=-1)


def test_psd_cholesky_keeps_zero_variance_fixed():
    cov = np.array([[4.0, 0, 2.0], [0, 0, 0], [2.0, 0, 2.0]])
    L = engine.psd_cholesky(cov)
    np.testing.assert_allclose(L @ L.T, cov, atol=1e-15)
    assert np.all(L[1] == 0) and np.all(L[:, 1] == 0)
    with pytest.raises(SimError, match="semi-definite"):
        engine.psd_cholesky(np.array([[1.0, 2.0], [2.0, 1.0]]))


# --- series_paths --------------------------------------------------------------------------
def test_series_paths():
    sim = run(draws=300)
    paths = engine.series_paths(sim, FITTED)
    for name, arr in paths.items():
        assert arr.shape == (1, 300, Y + 1), name
    gdp = DRIVERS.index("gdp_real")
    np.testing.assert_allclose(paths["gdp_real"][0], np.exp(sim.level0[gdp][:, None] + sim.delta[0, gdp]))
    np.testing.assert_allclose(paths["gdp_nominal"][..., 0], 17502.86)       # anchor at as_of
    real, defl = (DRIVERS.index(n) for n in ("gdp_real", "gdp_deflator"))
    np.testing.assert_allclose(paths["gdp_nominal"][0],
                               17502.86 * np.exp(sim.delta[0, real] + sim.delta[0, defl]))
    # anchored before as_of (2010): uses cum0 = L_T - L_2010 of each driver
    ei, cf = DRIVERS.index("energy_intensity"), DRIVERS.index("carbon_factor")
    expected0 = np.exp(sim.cum0[ei, 0] + sim.cum0[cf, 0])
    np.testing.assert_allclose(paths["co2_intensity"][0, :, 0], expected0)
    assert np.all(np.isnan(paths["carbon_factor"]))          # no level, no anchor
    assert np.all(np.isnan(paths["co2_emissions"]))          # no anchor
    share = paths["forest_cover_pct"]                        # logit scale -> 0..100
    assert np.all((share > 0) & (share < 100))
    forest = sim.level0[DRIVERS.index("forest_cover_pct")]
    np.testing.assert_allclose(share[0, :, 0], 100 / (1 + np.exp(-forest)))
    assert paths[engine.HOUSING_SERIES] is sim.housing


def test_warmup_command(capsys):
    from sim.cli import main

    assert main(["warmup"]) == 0
    assert "kernels ready" in capsys.readouterr().out


def test_draw_ranges_and_chunks_equal_one_run():
    full = run(draws=1000, block_size=150)
    part = run(draws=300, block_size=150, first_draw=77)
    assert part.first_draw == 77
    assert np.array_equal(part.delta, full.delta[:, :, 77:377])
    assert np.array_equal(part.cum0, full.cum0[:, :, 77:377], equal_nan=True)
    ranges = chunk_ranges(1000, 150, 400)
    assert ranges == [(0, 450), (450, 450), (900, 100)]        # 400 rounded up to 3 blocks
    chunks = [run(draws=n, block_size=150, first_draw=a) for a, n in ranges]
    assert [c.first_draw for c in chunks] == [0, 450, 900]
    assert np.array_equal(np.concatenate([c.delta for c in chunks], axis=2), full.delta)
    assert np.array_equal(np.concatenate([c.housing for c in chunks], axis=1), full.housing,
                          equal_nan=True)
    p = engine.pack(FITTED, [base()], H)
    twin = reference.simulate_rng(p, *split_seed(11), 150, 300, first_draw=77)
    np.testing.assert_allclose(twin[0], part.delta, rtol=0, atol=1e-12)


def test_given_normals_equal_the_run_on_the_same_draws():
    """The run's own normals injected through the engine give the run's draws exactly (the
    sensitivity analysis swaps columns of such normals)."""
    alt = engine.levers_from_spec(NS(name="alt", levers={"gdp_real": NS(
        shift_pp=1.0, from_year=None, to_year=None)}, shocks=()), FITTED, H)
    full = run(draws=500, block_size=200, levers=[base(), alt])
    p = engine.pack(FITTED, [base(), alt], H)
    z = engine.run_normals(11, 200, 130, 250, p)
    got = engine.simulate_given_normals(FITTED, [base(), alt], z, horizon=H, seed=11,
                                        block_size=200)
    assert got.scenarios == ("baseline", "alt") and got.draws == 250
    assert np.array_equal(got.delta, full.delta[:, :, 130:380])
    assert np.array_equal(got.level0, full.level0[:, 130:380], equal_nan=True)
    assert np.array_equal(got.cum0, full.cum0[:, :, 130:380], equal_nan=True)
    assert np.array_equal(got.housing, full.housing[:, 130:380], equal_nan=True)
    with pytest.raises(SimError, match=r"normals must be \(draws, "):
        engine.simulate_given_normals(FITTED, [base()], z[:, :-1], horizon=H)
