"""Priors that respect the data (sim.calibrate.priors) and the information measure of a fit."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.calibrate.fit import MIN_OBS_NOISE, PRIOR_SIGMA_LEVEL, calibrate
from sim.calibrate.observations import direct_obs
from sim.calibrate.priors import (MAD_LOG_VAR, ROBUST_MIN_CHANGES, ROBUST_RATIO, annual_changes,
                                  information, outlier_driven, robust_scale, variance_parts)
from sim.calibrate.statespace import MEASUREMENT_SD, ChangeProcess, Obs
from sim.history import History
from sim.model import FittedModel, Information, checksum

# green coverage (%), bundled data 2004-2012: one suspect value (39 in 2005), then flat
GREEN = {2004: 45.0, 2005: 39.0, 2006: 44.99, 2007: 45.0, 2008: 45.01, 2009: 45.03, 2010: 45.04,
         2011: 45.09, 2012: 45.08}


def _logit(p_pct: float) -> float:
    p = p_pct / 100
    return math.log(p / (1 - p))


def _history(rows) -> History:
    frame = pd.DataFrame(rows)
    for c, default in (("base_year", None), ("vintage", "first"), ("source", "test"),
                       ("note", ""), ("file", "t.csv")):
        if c not in frame:
            frame[c] = default
    frame["line"] = range(2, len(frame) + 2)
    frame["base_year"] = frame["base_year"].astype("Int64")
    return History(frame, "h", Path("."))


def _rows(series: str, levels: dict[int, float]) -> list[dict]:
    gdp = [{"series": "gdp_real", "year": y, "kind": "change_pct", "value": 10.0 - 0.2 * (y - 2000),
            "unit": "%"} for y in range(2001, 2016)]
    return gdp + [{"series": series, "year": y, "kind": "level", "value": v, "unit": "%"}
                  for y, v in levels.items()]


# --- the robust scale -------------------------------------------------------------------------
def test_robust_scale_of_a_flat_series_names_the_outlying_changes():
    changes = {y: _logit(GREEN[y]) - _logit(GREEN[y - 1]) for y in GREEN if y - 1 in GREEN}
    rs = robust_scale(changes)
    assert rs is not None and rs.n == 8
    d = np.array(list(changes.values()))
    mad = 1.4826 * np.median(np.abs(d - np.median(d)))
    assert rs.scale == pytest.approx(max(mad, MEASUREMENT_SD), rel=1e-12)
    assert rs.scale == MEASUREMENT_SD                # the flat changes are below the rounding floor
    assert [y for y, _ in rs.outliers] == [2005, 2006]
    assert rs.describe() == "2005 -0.247, 2006 +0.246"
    assert outlier_driven(ROBUST_RATIO * rs.scale * 1.01, rs)
    assert not outlier_driven(ROBUST_RATIO * rs.scale * 0.99, rs)


def test_robust_scale_needs_enough_changes():
    few = {2000 + i: 0.01 * i for i in range(ROBUST_MIN_CHANGES - 1)}
    assert robust_scale(few) is None and not outlier_driven(1.0, None)
    assert robust_scale({**few, 2099: 0.5}) is not None


def test_annual_changes_from_levels_and_change_observations():
    h = _history(_rows("green_coverage", {2010: 45.0, 2011: 45.5, 2013: 46.0}))
    so = direct_obs(h, "green_coverage", "revised")
    assert annual_changes(so) == {2011: pytest.approx(_logit(45.5) - _logit(45.0))}


# --- the fit ------------------------------------------------------------------------------------
def test_flat_series_with_a_suspect_value_does_not_fan_out():
    """Measured on the bundled data: the ML sigma_noise 0.13 (from 45 -> 39 -> 45) gave a 2020
    95 % band of 22-71 %; with the robust scale the band stays within +-5 pp of 45 %."""
    fm = calibrate(_history(_rows("green_coverage", GREEN)), 2015)
    d = fm.drivers["green_coverage"]
    assert d.scale == "logit"                        # a share stays within (0, 100) %
    assert math.exp(d.param("log_sigma_noise")) == pytest.approx(MEASUREMENT_SD)
    assert d.param_cov[1, 1] == pytest.approx(MAD_LOG_VAR / 8)
    assert any(fb.startswith("sigma_noise = 0.001 (robust: 1.4826 x MAD of 8 annual changes): "
                             "the maximum-likelihood 0.13") and "(2005 -0.247, 2006 +0.246)" in fb
               for fb in d.fallbacks)
    info = d.information
    assert info is not None and info.n_informative == 8
    assert info.prior_params == ("sigma_level",)     # the robust scale is the series' own
    # the data say "flat": what width the band has comes from the prior drift of the mean
    assert info.prior_share(5) > 0.9 and info.low_information
    sd_2020 = math.sqrt(info.var_total[4])
    half_band = 1.96 * sd_2020
    assert _logit(40) < _logit(45.08) - half_band and _logit(45.08) + half_band < _logit(50)


def test_a_series_without_outliers_keeps_its_likelihood_scale():
    rng = np.random.default_rng(3)
    noisy = {2000 + i: 40 + 0.8 * i + float(rng.normal(0, 0.6)) for i in range(13)}
    fm = calibrate(_history(_rows("tertiary_share", noisy)), 2012)
    d = fm.drivers["tertiary_share"]
    assert not any("robust" in fb for fb in d.fallbacks)
    assert d.information is not None and not d.information.low_information


def test_short_series_is_low_information_with_its_variance_from_priors():
    fm = calibrate(_history(_rows("rd_share", {2013: 4.0, 2015: 4.05})), 2015)
    info = fm.drivers["rd_share"].information
    assert info is not None and info.n_informative == 1 < MIN_OBS_NOISE
    assert set(info.prior_params) == {"sigma_noise", "sigma_level"}
    assert info.prior_share(5) == pytest.approx(1.0) and info.low(5) and info.low_information
    assert "low information: 1 informative observation; 100 % of the 2020 variance" in fm.summary()


# --- the variance split --------------------------------------------------------------------------
def test_variance_parts_match_the_closed_form():
    v_level, v_mean, sn, sl = 0.01, 0.002, 0.05, 0.004
    parts = variance_parts(np.diag([v_level, v_mean, 0.0]), 0.0, sn, sl, horizons=6)
    h = np.arange(1, 7)
    np.testing.assert_allclose(parts["state"], v_level + h ** 2 * v_mean, rtol=1e-12)
    np.testing.assert_allclose(parts["noise"], h * sn ** 2, rtol=1e-12)
    np.testing.assert_allclose(parts["level"], sl ** 2 * h * (h + 1) * (2 * h + 1) / 6, rtol=1e-12)


def test_information_splits_the_variance_between_the_two_scales():
    obs = [Obs(2000 + i, "change", 0.05 + 0.01 * (-1) ** i) for i in range(1, 9)]
    obs.append(Obs(2008, "level", 1.0))
    model = ChangeProcess(obs, end=2011)             # three years after the last observation
    theta = np.array([0.0, math.log(0.01), math.log(PRIOR_SIGMA_LEVEL)])
    none = information(model, theta, 8, (), MIN_OBS_NOISE)
    both = information(model, theta, 8, ("sigma_noise", "sigma_level"), MIN_OBS_NOISE)
    noise = information(model, theta, 8, ("sigma_noise",), MIN_OBS_NOISE)
    level = information(model, theta, 8, ("sigma_level",), MIN_OBS_NOISE)
    assert none.prior_share(5) == 0.0 and not none.low(5)
    assert both.prior_share(5) == pytest.approx(1.0) and both.low(5)
    for h in (1, 5, 20):                             # an Euler split: the two shares add up to 1
        assert noise.prior_share(h) + level.prior_share(h) == pytest.approx(1.0, abs=1e-9)
    assert 0 < level.prior_share(1) < level.prior_share(20) < 1   # the drift grows with h
    np.testing.assert_allclose(none.var_total, both.var_total)
    assert none.prior_share(0) == 0.0 and level.prior_share(99) == level.prior_share(20)
    assert information(model, theta, MIN_OBS_NOISE - 1, (), MIN_OBS_NOISE).low(1)
    share = level.prior_share(5)
    assert level.describe(5, 2016) == (f"8 informative observations; {100 * share:.0f} % of the "
                                       "2016 variance from priors")


# --- persistence ------------------------------------------------------------------------------
def test_information_round_trips_and_older_files_load(tmp_path):
    fm = calibrate(_history(_rows("rd_share", {2013: 4.0, 2015: 4.05})), 2015)
    path = fm.save(tmp_path / "f.json")
    back = FittedModel.load(path)
    assert back.drivers["rd_share"].information == fm.drivers["rd_share"].information
    assert isinstance(back.drivers["rd_share"].information, Information)
    raw = json.loads(path.read_text(encoding="utf-8"))
    for d in raw["drivers"].values():
        d.pop("information")
    raw.pop("sha256")
    raw["sha256"] = checksum(raw)
    path.write_text(json.dumps(raw), encoding="utf-8")
    assert FittedModel.load(path).drivers["rd_share"].information is None
