"""The draw-by-draw combination of trend and plan record (sim.plan_record.combine)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.plan_record.combine import (Weight, combine, forward, inverse, meet_side,
                                     record_values)


def test_gaussian_case_matches_the_product_of_densities():
    """Independent normal trend and record draws combine into the closed-form posterior
    N(mu*, v*), mu* = (mu_t/v_t + mu_q/v_q)/(1/v_t + 1/v_q), v* = 1/(1/v_t + 1/v_q).
    Tolerance: 4 Monte Carlo standard errors at N = 400,000 (fixed seed)."""
    rng = np.random.default_rng(11)
    n = 400_000
    mu_t, v_t, mu_q, v_q = np.log(120.0), 0.04, np.log(100.0), 0.01
    t = rng.normal(mu_t, np.sqrt(v_t), n)
    q = rng.normal(mu_q, np.sqrt(v_q), n)
    w = Weight.from_pilot(t[:20_000], q[:20_000])
    z = np.log(combine(np.exp(t), np.exp(q), w.trend, "log"))
    v_star = 1 / (1 / v_t + 1 / v_q)
    mu_star = v_star * (mu_t / v_t + mu_q / v_q)
    assert w.trend == pytest.approx(v_q / (v_t + v_q), rel=0.05)
    assert z.mean() == pytest.approx(mu_star, abs=4 * np.sqrt(v_star / n) + 0.002)
    assert z.var() == pytest.approx(v_star, rel=0.02)


@pytest.mark.parametrize("transform, x", [("log", [0.5, 26000.0]),
                                          ("log1p_pct", [-18.5, 0.0, 40.0]),
                                          ("logit_pct", [0.1, 45.0, 99.0])])
def test_transforms_round_trip(transform, x):
    x = np.array(x)
    assert np.allclose(inverse(forward(x, transform), transform), x)


def test_values_outside_a_transform_are_nan():
    assert np.isnan(forward(np.array([-1.0, 0.0]), "log")).all()
    assert np.isnan(forward(np.array([-100.0]), "log1p_pct")).all()
    assert np.isnan(forward(np.array([0.0, 100.0]), "logit_pct")).all()
    with pytest.raises(ValueError, match="unknown transform"):
        forward(np.array([1.0]), "sqrt")


@pytest.mark.parametrize("comparator, value, base, sense, side", [
    (">=", 26000, 17500, "", 1),     # GDP up to a floor: r >= 1 met
    ("<=", -18.5, 0, "", 1),         # a reduction target (cumulative change, base 0)
    ("<=", 28, 30, "", 1),           # PM2.5 down to a ceiling below the base
    ("<=", 1480, 1138, "", -1),      # population cap above the base: r >= 1 is the miss
    ("approx", 26000, 17500, "higher", 1),
    ("approx", 1480, 1138, "lower", -1),
    ("approx", 30, 25, "both", 0),   # two-sided: the record has no side
    ("range", 1, 0, "", 0),
    (">=", 5, 5, "", 0),
])
def test_meet_side(comparator, value, base, sense, side):
    assert meet_side(comparator, value, base, sense) == side


def test_record_values_land_on_the_target_at_r_equal_one():
    out = record_values(np.array([0.0, np.log(1.2)]), 26000.0, 17500.0, 1)
    assert out[0] == pytest.approx(26000.0)
    assert out[1] == pytest.approx(17500 + 1.2 * 8500)
    cap = record_values(np.array([np.log(1.2)]), 1480.0, 1138.0, -1)   # mirrored: under the cap
    assert cap[0] < 1480.0


def test_no_weight_leaves_the_trend_unchanged():
    trend = np.array([[1.0, 2.0]])
    assert np.array_equal(combine(trend, trend * 3, float("nan"), "log"), trend)
    assert np.isnan(Weight.from_pilot(np.array([1.0]), np.array([1.0, 2.0])).trend)
