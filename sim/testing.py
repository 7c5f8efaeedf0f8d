"""Synthetic fitted models for tests and benchmarks (not calibrated on anything real).

``synthetic_fitted()`` builds a :class:`~sim.model.FittedModel` with plausible Shenzhen-like
parameters: real GDP growing ~8 %/yr, energy intensity falling ~4 %/yr, and so on, small
parameter and state uncertainty, a shrunk random shock correlation, a housing delivery ratio
and one generic share on the logit scale. Deterministic for a given ``seed``.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from sim.model import CHANGE_PARAMS, RATIO_PARAMS, Anchor, DriverFit, FittedModel
from sim.vocabulary import HOUSING_DRIVER

#: name -> (mean annual change as a fraction, transformed level at as_of or None if unknown)
SYNTHETIC_CHANGES: dict[str, tuple[float, float | None]] = {
    "gdp_real": (0.08, np.log(250.0)),            # volume index
    "gdp_deflator": (0.02, np.log(160.0)),
    "population_resident": (0.03, np.log(1137.87)),   # 万人
    "usdcny": (0.0, np.log(6.2284)),
    "energy_intensity": (-0.04, np.log(0.40)),     # tce per 10,000 yuan
    "carbon_factor": (-0.02, None),               # only changes observed
    "water_intensity": (-0.06, np.log(11.0)),
    "cod_emissions": (-0.04, np.log(50000.0)),
    "nh3n_emissions": (-0.03, np.log(6000.0)),
    "so2_emissions": (-0.05, np.log(8000.0)),
    "nox_emissions": (-0.03, np.log(40000.0)),
}
GENERIC = "forest_cover_pct"       # a share on the logit scale, generic model (phi = 0)
ALL_DRIVERS = tuple(SYNTHETIC_CHANGES) + (GENERIC, HOUSING_DRIVER)


def _random_corr(rng, k, shrink):
    a = rng.normal(size=(k, k + 2))
    c = a @ a.T
    s = np.sqrt(np.diag(c))
    c = c / np.outer(s, s)
    return (1 - shrink) * c + shrink * np.eye(k)


def _cov(rng, sd, strength=0.5):
    """A covariance with standard deviations ``sd`` (zeros allowed) and random correlation."""
    sd = np.asarray(sd, float)
    corr = _random_corr(rng, sd.size, 1.0 - strength)
    return corr * np.outer(sd, sd)


def synthetic_fitted(drivers: Iterable[str] = ALL_DRIVERS, as_of: int = 2015, seed: int = 0,
                     base_years: Iterable[int] = (2010,)) -> FittedModel:
    """A plausible :class:`FittedModel` over ``drivers`` (names from :data:`ALL_DRIVERS`)."""
    rng = np.random.default_rng(seed)
    base_years = tuple(int(b) for b in base_years if b < as_of)
    fits: dict[str, DriverFit] = {}
    for name in drivers:
        if name == HOUSING_DRIVER:
            fits[name] = DriverFit(
                name=name, kind="iid_lognormal", scale="log", param_names=RATIO_PARAMS,
                param_mean=np.array([np.log(0.9), np.log(0.15)]),
                param_cov=_cov(rng, [0.05, 0.2]), state_names=(), state_mean=np.zeros(0),
                state_cov=np.zeros((0, 0)), level_known=False, correlated=False, n_obs=8)
            continue
        generic = name == GENERIC
        if generic:
            growth, level = 0.01, np.log(0.45 / 0.55)
        elif name in SYNTHETIC_CHANGES:
            growth, level = SYNTHETIC_CHANGES[name]
        else:
            raise ValueError(f"unknown synthetic driver {name!r}; choose from {ALL_DRIVERS}")
        known = level is not None
        if generic:
            p_mean = np.array([0.0, np.log(0.01), np.log(0.002)])
            p_cov = np.diag([0.0, 0.15, 0.3]) ** 2          # phi fixed at 0 by the prior
        else:
            p_mean = np.array([np.arctanh(0.3), np.log(0.012), np.log(0.004)])
            p_cov = _cov(rng, [0.25, 0.15, 0.3])
        states = ("level", "mean", "ar") + tuple(f"cum_from_{b}" for b in base_years)
        x = np.log1p(growth)
        s_mean = np.concatenate([[level if known else 0.0, x, 0.002], [5 * x] * len(base_years)])
        sd = np.concatenate([[0.004 if known else 0.0, 0.006, 0.008], [0.01] * len(base_years)])
        fits[name] = DriverFit(
            name=name, kind="change", scale="logit" if generic else "log",
            param_names=CHANGE_PARAMS, param_mean=p_mean, param_cov=p_cov,
            state_names=states, state_mean=s_mean, state_cov=_cov(rng, sd),
            level_known=known, correlated=not generic, n_obs=20)
    shock_names = tuple(n for n, f in fits.items() if f.kind == "change" and f.correlated)
    k = len(shock_names)
    corr = _random_corr(rng, k, 0.5) if k else np.zeros((0, 0))
    anchors = {}
    for series, value, unit in (("gdp_nominal", 17502.86, "亿元"),
                                ("energy_consumption", 4013.0, "万吨标准煤"),
                                ("water_use", 19.9, "亿立方米"), ("gdp_per_capita", 157985.0, "元"),
                                ("gdp_per_capita_usd", 25365.0, "USD")):
        anchors[series] = Anchor(series, as_of, value, unit, "synthetic")
    if base_years:
        anchors["co2_intensity"] = Anchor("co2_intensity", base_years[0], 1.0, "tCO2/万元", "synthetic")
    return FittedModel(
        as_of=as_of, vintage="revised", data_hash="synthetic", drivers=fits, anchors=anchors,
        shock_names=shock_names, shock_corr=corr, shrinkage=0.5, base_years=base_years,
        notes=("synthetic model for tests (sim.testing)",))
