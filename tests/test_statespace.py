"""The change-process state-space model (sim.calibrate.statespace): exact handling of cumulative and
missing observations, and recovery of known parameters from series the model generates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.calibrate.statespace import (MEASUREMENT_SD, ChangeProcess, Obs, annual_info_years,
                            fit_process)


def simulate(rng, years, phi, s_noise, s_level, mean0, level0=0.0):
    """Log levels, changes and means of the model in sim.model, one entry per year."""
    m, u, level = mean0, 0.0, level0
    out = {}
    for y in years:
        m += s_level * rng.standard_normal()
        u = phi * u + s_noise * rng.standard_normal()
        level += m + u
        out[y] = (level, m + u, m)
    return out


# --- exact observation handling -------------------------------------------------------------
def test_one_level_and_one_cumulative_change_give_the_implied_end_level():
    # energy intensity 0.513 in 2010, -19.5 % over 2011-2015  ->  0.513 * 0.805 in 2015
    obs = [Obs(2010, "level", math.log(0.513)), Obs(2015, "cum", math.log(1 - 0.195), 2010)]
    model = ChangeProcess(obs, end=2015, base_years=(2010,))
    fit = fit_process(model, {"phi": 0.0, "sigma_noise": 0.03, "sigma_level": 0.005})
    level = fit.state_mean[fit.state_names.index("level")]
    cum = fit.state_mean[fit.state_names.index("cum_from_2010")]
    assert level == pytest.approx(math.log(0.513 * 0.805), abs=1e-6)
    assert cum == pytest.approx(math.log(0.805), abs=1e-6)
    # only the measurement noise of the two observations is left
    assert math.sqrt(fit.state_cov[0, 0]) < 2 * MEASUREMENT_SD
    # the mean change is the constant rate over the window
    assert fit.state_mean[1] == pytest.approx(math.log(0.805) / 5, abs=2e-3)


def test_filter_predicts_forward_to_end_over_missing_years():
    obs = [Obs(2010, "level", 1.0), Obs(2015, "cum", -0.2, 2010)]
    model = ChangeProcess(obs, end=2018, base_years=(2010, 2015))
    fit = fit_process(model, {"phi": 0.0, "sigma_noise": 0.03, "sigma_level": 0.005})
    level, mean = fit.state_mean[0], fit.state_mean[1]
    assert level == pytest.approx(0.8 + 3 * mean, abs=1e-6)   # ar is 0 in expectation
    assert fit.state_mean[fit.state_names.index("cum_from_2015")] == pytest.approx(3 * mean, abs=1e-6)
    # three unobserved years widen the level's uncertainty
    assert math.sqrt(fit.state_cov[0, 0]) > 0.03


def test_annual_changes_and_a_level_pin_every_later_level():
    rng = np.random.default_rng(3)
    path = simulate(rng, range(2000, 2021), 0.4, 0.02, 0.005, 0.08, 5.0)
    obs = [Obs(y, "change", path[y][1]) for y in range(2001, 2021)] + [Obs(2005, "level", path[2005][0])]
    model = ChangeProcess(obs, end=2020, base_years=(2010,))
    fit = fit_process(model)
    assert fit.state_mean[0] == pytest.approx(path[2020][0], abs=1e-2)
    assert fit.state_mean[3] == pytest.approx(path[2020][0] - path[2010][0], abs=1e-2)


def test_without_any_level_the_level_is_unknown():
    obs = [Obs(y, "change", 0.05) for y in range(2001, 2010)]
    fit = fit_process(ChangeProcess(obs, end=2010, base_years=(2005,)))
    assert not fit.level_known
    assert fit.state_mean[0] == 0 and not fit.state_cov[0].any()
    assert fit.state_mean[fit.state_names.index("cum_from_2005")] == pytest.approx(0.25, abs=0.03)


def test_two_sources_for_one_year_get_separate_columns_and_missing_years_stay_nan():
    obs = [Obs(2010, "level", 1.0), Obs(2012, "level", 1.1), Obs(2012, "level", 1.12)]
    model = ChangeProcess(obs, end=2013)
    assert model.endog.shape == (4, 2)
    assert np.isnan(model.endog[1]).all() and np.isnan(model.endog[3]).all()
    assert annual_info_years(model) == []


def test_time_varying_transition_freezes_cumulative_state_until_its_base_year():
    model = ChangeProcess([Obs(2000, "level", 0.0), Obs(2006, "level", 0.3)], end=2006,
                          base_years=(2003,))
    model.update([0.5, 0.02, 0.01])
    t = model["transition"]
    c = 3
    assert t.shape == (4, 4, 7)
    # steps into 2001..2003 keep C_2003 at zero; from 2004 on it accumulates m + phi u
    assert not t[c, :, :3].any()
    assert list(t[c, :, 3]) == [0.0, 1.0, 0.5, 1.0]


def test_bad_observations_are_rejected():
    with pytest.raises(ValueError, match="non-finite"):
        Obs(2010, "level", float("nan"))
    with pytest.raises(ValueError, match="base_year"):
        Obs(2010, "cum", 0.1, 2010)
    with pytest.raises(ValueError, match="unknown observation kind"):
        Obs(2010, "share", 0.1)


# --- parameter recovery (fixed seeds; tolerance: 3 standard errors from the Hessian) --------
def _check_within(fit, truth: dict, k_se=3.0):
    names = ("phi", "sigma_noise", "sigma_level")
    theta_true = {"phi": math.atanh(truth.get("phi", 0.0)),
                  "sigma_noise": math.log(truth["sigma_noise"]),
                  "sigma_level": math.log(truth["sigma_level"])}
    for name in fit.free:
        i = names.index(name)
        se = math.sqrt(fit.theta_cov[i, i])
        assert abs(fit.theta[i] - theta_true[name]) <= k_se * se, (
            name, fit.theta[i], theta_true[name], se)


def test_recovers_parameters_from_annual_changes():
    rng = np.random.default_rng(20240601)
    truth = {"phi": 0.5, "sigma_noise": 0.02, "sigma_level": 0.004}
    years = range(1900, 2021)
    path = simulate(rng, years, truth["phi"], truth["sigma_noise"], truth["sigma_level"], 0.05)
    obs = [Obs(y, "change", path[y][1]) for y in years if y > 1900]
    obs += [Obs(y, "level", path[y][0]) for y in (1950, 2000, 2020)]
    fit = fit_process(ChangeProcess(obs, end=2020, base_years=(2015,)))
    assert fit.converged and fit.cov_ok and not fit.at_bound
    _check_within(fit, truth)
    # plus plain tolerances on the natural scale
    assert abs(math.tanh(fit.theta[0]) - 0.5) < 0.25
    assert abs(math.exp(fit.theta[1]) / 0.02 - 1) < 0.3
    # the filtered mean at the end is within 3 sd of the true mean
    sd = math.sqrt(fit.state_cov[1, 1])
    assert abs(fit.state_mean[1] - path[2020][2]) < 3 * sd


def test_recovers_noise_from_sparse_cumulative_only_observations():
    """Five-year cumulative changes, an annual change every tenth year and one level."""
    rng = np.random.default_rng(7)
    truth = {"phi": 0.0, "sigma_noise": 0.04, "sigma_level": 0.003}
    years = range(1870, 2021)
    path = simulate(rng, years, 0.0, truth["sigma_noise"], truth["sigma_level"], -0.04, 1.0)
    obs = [Obs(y, "cum", path[y][0] - path[y - 5][0], y - 5) for y in range(1875, 2021, 5)]
    obs += [Obs(y, "change", path[y][1]) for y in range(1873, 2021, 10)]
    obs += [Obs(2010, "level", path[2010][0])]
    model = ChangeProcess(obs, end=2020, base_years=(2010,))
    # one column per window (each has its own base year), one for changes, one for the level
    assert model.endog.shape[1] == 30 + 2 and np.isnan(model.endog).mean() > 0.9
    fit = fit_process(model, {"phi": 0.0})
    assert fit.cov_ok
    _check_within(fit, truth)
    assert abs(math.exp(fit.theta[1]) / truth["sigma_noise"] - 1) < 0.3
    assert fit.state_mean[0] == pytest.approx(path[2020][0], abs=1e-2)   # 2020 closes a window
    assert abs(fit.state_mean[1] - path[2020][2]) < 3 * math.sqrt(fit.state_cov[1, 1])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_recovery_is_not_a_lucky_seed(seed):
    rng = np.random.default_rng(seed)
    truth = {"phi": 0.3, "sigma_noise": 0.03, "sigma_level": 0.005}
    years = range(1920, 2021)
    path = simulate(rng, years, truth["phi"], truth["sigma_noise"], truth["sigma_level"], 0.02)
    obs = [Obs(y, "change", path[y][1]) for y in years if y > 1920]
    fit = fit_process(ChangeProcess(obs, end=2020))
    _check_within(fit, truth, k_se=3.5)
