"""Scoring rules against scoringrules (test-only dependency) and against their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.backtest import scores

sr = pytest.importorskip("scoringrules")


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)


def test_brier_equals_scoringrules(rng):
    p = rng.uniform(size=200)
    o = (rng.uniform(size=200) < p).astype(float)
    np.testing.assert_allclose(scores.brier_score(p, o), sr.brier_score(o, p), rtol=0, atol=1e-12)


def test_log_score_equals_scoringrules_inside_the_clip(rng):
    p = rng.uniform(0.01, 0.99, size=200)
    o = (rng.uniform(size=200) < p).astype(float)
    np.testing.assert_allclose(scores.log_score(p, o), sr.log_score(o, p), rtol=0, atol=1e-10)


def test_log_score_clips_certain_misses():
    # P = 1 and missed: -ln(eps), not infinity; unclipped: infinity
    assert scores.log_score(1.0, 0.0) == pytest.approx(-math.log(scores.LOG_EPS))
    assert scores.log_score(0.0, 1.0) == pytest.approx(-math.log(scores.LOG_EPS))
    assert np.isinf(scores.log_score(1.0, 0.0, eps=0))
    assert scores.log_score(1.0, 1.0, eps=0) == 0.0


@pytest.mark.parametrize("m", [1, 2, 7, 500])
def test_crps_equals_scoringrules_energy_estimator(rng, m):
    x = rng.standard_t(3, size=(40, m)) * 5 + 100
    y = rng.normal(100, 8, size=40)
    np.testing.assert_allclose(scores.crps_ensemble(x, y),
                               sr.crps_ensemble(y, x, estimator="nrg"), rtol=0, atol=1e-10)


def test_crps_equals_the_double_sum_and_handles_ties(rng):
    x = np.round(rng.normal(size=(5, 60)), 1)  # many ties
    y = np.array([0.0, 0.1, -3.0, 3.0, x[4, 0]])
    direct = (np.abs(x - y[:, None]).mean(-1)
              - 0.5 * np.abs(x[:, :, None] - x[:, None, :]).mean((-1, -2)))
    np.testing.assert_allclose(scores.crps_ensemble(x, y), direct, rtol=0, atol=1e-12)


def test_crps_of_a_point_mass_is_the_absolute_error():
    assert scores.crps_ensemble(np.full(10, 3.0), 5.5) == pytest.approx(2.5)


def test_crps_of_a_large_normal_ensemble_is_the_closed_form(rng):
    x = rng.normal(1.0, 2.0, size=200_000)
    # tolerance: the ensemble estimate's Monte Carlo error at this size is ~3e-3
    assert scores.crps_ensemble(x, 0.3) == pytest.approx(float(sr.crps_normal(0.3, 1.0, 2.0)), abs=1e-2)


def test_pit_midpoint_and_randomised():
    x = np.array([1.0, 2.0, 2.0, 3.0])
    assert scores.pit(x, 2.0) == pytest.approx(0.25 + 0.5 * 0.5)
    assert scores.pit(x, 0.0) == 0.0 and scores.pit(x, 9.0) == 1.0
    r = scores.pit(np.tile(x, (1000, 1)), np.full(1000, 2.0), rng=np.random.default_rng(1))
    assert r.min() >= 0.25 and r.max() <= 0.75


def test_pit_is_uniform_when_the_forecast_is_true(rng):
    x = rng.normal(size=(2000, 300))
    y = rng.normal(size=2000)
    u = scores.pit(x, y)
    hist = np.histogram(u, bins=10, range=(0, 1))[0]
    # chi-square, 9 df: 99.9 % quantile 27.9
    chi2 = ((hist - 200) ** 2 / 200).sum()
    assert chi2 < 27.9


def test_central_interval_and_coverage():
    x = np.arange(1, 102, dtype=float)  # 1..101
    lo, hi = scores.central_interval(x, 0.8)
    assert (lo, hi) == (pytest.approx(11.0), pytest.approx(91.0))
    lo, hi = 11.0, 91.0
    assert scores.covered(lo, hi, np.array([11.0, 91.0, 10.9, 91.1])).tolist() == [True, True, False, False]


def test_bootstrap_ci_reproducible_and_paired(rng):
    a = rng.normal(1.0, 1.0, size=80)
    b = a + 0.1 + rng.normal(0, 0.01, size=80)
    r1 = scores.bootstrap_mean_ci(np.c_[a, b, b - a], seed=3)
    r2 = scores.bootstrap_mean_ci(np.c_[a, b, b - a], seed=3)
    np.testing.assert_array_equal(r1.low, r2.low)
    assert r1.mean[0] == pytest.approx(a.mean())
    # individual intervals are wide, the paired difference is narrow and excludes 0
    assert r1.high[0] - r1.low[0] > 0.3
    assert 0.09 < r1.low[2] < 0.1 < r1.high[2] < 0.11
    # the interval of a mean of a normal sample is close to mean ± 1.96 sd/sqrt(n)
    half = 1.96 * a.std(ddof=1) / math.sqrt(80)
    assert (r1.high[0] - r1.low[0]) / 2 == pytest.approx(half, rel=0.15)


def test_cluster_bootstrap_counts_clusters():
    v = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    r = scores.bootstrap_mean_ci(v, groups=["a", "a", "a", "b", "b", "b"], n_boot=500, seed=0)
    assert r.n == 6 and r.n_clusters == 2
    # only three possible resample means: 0, 0.5, 1
    assert r.low == 0.0 and r.high == 1.0


def test_reliability_bins():
    p = np.array([0.05, 0.05, 0.95, 0.95, 1.0, 0.55])
    o = np.array([0, 1, 1, 1, 1, 0])
    t = scores.reliability_bins(p, o, n_bins=10)
    assert len(t) == 10 and t["n"].sum() == 6
    assert t.loc[0, "n"] == 2 and t.loc[0, "observed_freq"] == 0.5
    assert t.loc[9, "n"] == 3 and t.loc[9, "mean_forecast"] == pytest.approx((0.95 + 0.95 + 1) / 3)
    assert t.loc[5, "observed_freq"] == 0.0
    assert np.isnan(t.loc[3, "observed_freq"])


def test_synthetic_world_interval_coverage_is_nominal():
    """Outcomes drawn from the forecast distribution itself: 80 % and 95 % central intervals of
    the ensemble cover the outcome at their nominal rates within binomial sampling error (99 %
    band, n = 2000 outcomes; ensembles of 400 draws shift the coverage by less than 0.2 pp)."""
    rng = np.random.default_rng(7)
    n, m = 2000, 400
    mu = rng.normal(0, 3, size=n)
    sd = rng.uniform(0.5, 2.0, size=n)
    x = mu[:, None] + sd[:, None] * rng.standard_t(5, size=(n, m))
    y = mu + sd * rng.standard_t(5, size=n)
    for level in (0.8, 0.95):
        lo, hi = scores.central_interval(x, level)
        cov = scores.covered(lo, hi, y).mean()
        assert abs(cov - level) < scores.coverage_tolerance(level, n) + 0.005, (level, cov)
    # and a Brier score of P(met) for a threshold equals its expectation p(1 - p) on average
    thr = mu + 0.5 * sd
    p = (x >= thr[:, None]).mean(axis=1)
    o = (y >= thr).astype(float)
    bs = scores.brier_score(p, o).mean()
    assert bs == pytest.approx((p * (1 - p)).mean(), abs=0.02)
