"""Priors that respect a series' own data, and how much a forecast rests on priors.

Robust noise scale (flat series with a few outlying changes)
-------------------------------------------------------------
The Gaussian likelihood reads every annual change as a draw of ``sigma_noise``; one suspect value
between two equal ones (green coverage 45, 39, 44.99 % in 2004–06, then 45.0–45.1 % for seven
years) counts as two shocks of ±0.25 on the logit scale, and the maximum-likelihood
``sigma_noise`` (0.13) fans the 2020 forecast out over 22–71 %. The robust scale of the annual
changes ``d_t`` (model scale, :func:`annual_changes`) is::

    s_rob = max(1.4826 * median_t |d_t - median(d)|, MEASUREMENT_SD)

(the MAD, scaled to be the sd of Gaussian changes; floored at the rounding noise of published
figures). For a generic indicator with at least ``ROBUST_MIN_CHANGES`` annual changes, a
maximum-likelihood ``sigma_noise`` above ``ROBUST_RATIO * s_rob`` is not the scale of the series:
with Gaussian changes that ratio exceeds 5 in 0.8 % of samples of 6 and 0.07 % of 10
(simulated, 200 000 samples each). ``sigma_noise`` is then ``s_rob`` (a fallback naming the
outlying changes, ``|d_t - median| > OUTLIER_Z * s_rob``), with the sampling variance of a
MAD scale on the theta scale, ``var(log s_rob) = MAD_LOG_VAR / n`` (simulated for n = 6..15:
1.59–1.73, so 1.65), as its parameter uncertainty. Drivers keep their maximum-likelihood scale.

Information: how much of a forecast's variance comes from priors
-----------------------------------------------------------------
The forecast variance of the transformed level ``L_{T+h}`` given the filtered state at ``T``
(parameters at their estimates) propagates ``(L, m, u)`` with::

    P_{k+1} = A P_k A' + R Q R',   A = [[1, 1, phi], [0, 1, 0], [0, 0, phi]],
    R = [[1, 1], [1, 0], [0, 1]],  Q = diag(sigma_level^2, sigma_noise^2)

(:func:`variance_parts`). ``P_0``, the filtered state at T, itself depends on both process
variances (a gap between the last observation and T is bridged by the drift of the mean), so
the variance is attributed by elasticities (an Euler split, exact when ``V`` is homogeneous of
degree one in the variances, as it is with negligible measurement noise)::

    e_p(h) = d log V(h) / d log sigma_p^2      (central differences, step EPS_LOG_VAR)
    prior_share(h) = sum_{p fixed by a prior} e_p / (e_noise + e_level), clipped to [0, 1]

with ``V(h) = P_h[L, L]`` from the Kalman filter re-run at the perturbed parameters. A parameter
is *prior* when fixed by a prior (``sigma_level = PRIOR_SIGMA_LEVEL``, a pooled
``sigma_noise``), not when it comes from the series' own data (estimated, its lower edge, the
robust scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.calibrate.observations import SeriesObs
from sim.calibrate.statespace import MEASUREMENT_SD, ChangeProcess
from sim.model import INFO_HORIZONS, Information

ROBUST_MIN_CHANGES = 6   # annual changes needed before the robust scale is trusted
ROBUST_RATIO = 5.0       # ML sigma_noise above this multiple of s_rob: outlier-driven
OUTLIER_Z = 4.0          # a change this many s_rob from the median is named as outlying
MAD_TO_SD = 1.4826       # MAD of N(0, 1) is 1 / 1.4826
MAD_LOG_VAR = 1.65       # n * var(log s_rob) under Gaussian changes (simulated, n = 6..15)
LOW_INFO_PRIOR_SHARE = 0.5   # low information: at least half the forecast variance from priors
EPS_LOG_VAR = 0.1        # step in log sigma^2 of the elasticities


@dataclass(frozen=True)
class RobustScale:
    """The robust scale of a series' annual changes and the changes far from it."""

    scale: float
    n: int
    outliers: tuple[tuple[int, float], ...]   # (year, change) with |d - median| > OUTLIER_Z s_rob

    def describe(self) -> str:
        """``2005 -0.247, 2006 +0.246`` (the outlying changes), or ``none``."""
        return ", ".join(f"{y} {d:+.3g}" for y, d in self.outliers) or "none"


def annual_changes(so: SeriesObs) -> dict[int, float]:
    """Annual changes of the transformed level by year: change observations, else the step
    between levels of consecutive years (the first value of a year when there are several)."""
    levels: dict[int, float] = {}
    out: dict[int, float] = {}
    for o in so.obs:
        if o.kind == "level":
            levels.setdefault(o.year, o.value)
        elif o.kind == "change":
            out.setdefault(o.year, o.value)
    for y, v in levels.items():
        if y - 1 in levels:
            out.setdefault(y, v - levels[y - 1])
    return dict(sorted(out.items()))


def robust_scale(changes: dict[int, float]) -> RobustScale | None:
    """``s_rob`` of the annual changes (module docstring); None with fewer than
    ``ROBUST_MIN_CHANGES``."""
    if len(changes) < ROBUST_MIN_CHANGES:
        return None
    d = np.array(list(changes.values()))
    med = float(np.median(d))
    s = max(MAD_TO_SD * float(np.median(np.abs(d - med))), MEASUREMENT_SD)
    far = tuple((y, v) for y, v in changes.items() if abs(v - med) > OUTLIER_Z * s)
    return RobustScale(s, len(d), far)


def outlier_driven(sigma_ml: float, rs: RobustScale | None) -> bool:
    """Is the maximum-likelihood ``sigma_noise`` more than ``ROBUST_RATIO`` robust scales?"""
    return rs is not None and sigma_ml > ROBUST_RATIO * rs.scale


def variance_parts(state_cov: np.ndarray, phi: float, sigma_noise: float, sigma_level: float,
                   horizons: int = INFO_HORIZONS) -> dict[str, np.ndarray]:
    """Forecast variance of ``L_{T+h}``, h = 1..horizons, split into ``state``, ``level`` and
    ``noise`` parts (each (horizons,); module docstring). ``state_cov``: filtered covariance
    of ``(L, m, u, ...)`` at T (the first three are used)."""
    a = np.array([[1.0, 1.0, phi], [0.0, 1.0, 0.0], [0.0, 0.0, phi]])
    r = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    starts = {"state": np.asarray(state_cov, float)[:3, :3], "level": np.zeros((3, 3)),
              "noise": np.zeros((3, 3))}
    shocks = {"state": np.zeros((3, 3)),
              "level": r @ np.diag([sigma_level ** 2, 0.0]) @ r.T,
              "noise": r @ np.diag([0.0, sigma_noise ** 2]) @ r.T}
    out = {}
    for part, p in starts.items():
        vals = []
        for _ in range(horizons):
            p = a @ p @ a.T + shocks[part]
            vals.append(float(p[0, 0]))
        out[part] = np.array(vals)
    return out


def forecast_variance(model: ChangeProcess, theta: np.ndarray) -> np.ndarray:
    """Forecast variance of ``L_{T+h}``, h = 1..INFO_HORIZONS ((INFO_HORIZONS,)), from the
    filtered state of ``model`` at ``theta`` (an unknown level has no variance)."""
    res = model.filter(model.transform_params(np.asarray(theta, float)))
    p0 = np.array(np.asarray(res.filtered_state_cov)[:3, :3, -1])
    if not model.level_known:
        p0[0, :] = p0[:, 0] = 0.0
    parts = variance_parts(p0, float(np.tanh(theta[0])), float(np.exp(theta[1])),
                           float(np.exp(theta[2])))
    return parts["state"] + parts["level"] + parts["noise"]


def prior_share(model: ChangeProcess, theta: np.ndarray, prior_params: tuple[str, ...]
                ) -> np.ndarray:
    """Share of the forecast variance from the prior-fixed process variances, by horizon
    ((INFO_HORIZONS,); module docstring)."""
    total = np.maximum(forecast_variance(model, theta), 1e-300)
    if not prior_params:
        return np.zeros_like(total)
    e = {}
    for p, i in (("sigma_noise", 1), ("sigma_level", 2)):
        up, down = np.array(theta, float), np.array(theta, float)
        up[i] += EPS_LOG_VAR / 4        # theta is log sigma: log sigma^2 moves by +-EPS/2
        down[i] -= EPS_LOG_VAR / 4
        e[p] = (np.log(np.maximum(forecast_variance(model, up), 1e-300))
                - np.log(np.maximum(forecast_variance(model, down), 1e-300))) / EPS_LOG_VAR
    both = np.maximum(e["sigma_noise"], 0.0) + np.maximum(e["sigma_level"], 0.0)
    prior = sum((np.maximum(e[p], 0.0) for p in prior_params if p in e), np.zeros_like(total))
    return np.clip(np.where(both > 0, prior / np.where(both > 0, both, 1.0), 0.0), 0.0, 1.0)


def information(model: ChangeProcess, theta: np.ndarray, n_informative: int,
                prior_params: tuple[str, ...], min_obs: int) -> Information:
    """The :class:`sim.model.Information` of a change process fitted at ``theta = (atanh phi,
    log sigma_noise, log sigma_level)``: its forecast variance and the part of it from the prior
    ``prior_params`` (among ``sigma_noise``, ``sigma_level``); the thresholds of
    :meth:`sim.model.Information.low` are ``min_obs`` informative observations and a prior
    share below ``LOW_INFO_PRIOR_SHARE``."""
    total = forecast_variance(model, theta)
    share = prior_share(model, theta, prior_params)
    return Information(
        n_informative=int(n_informative), prior_params=tuple(prior_params),
        var_total=tuple(float(v) for v in total),
        var_prior=tuple(float(v) for v in share * total), min_obs=int(min_obs),
        max_prior_share=LOW_INFO_PRIOR_SHARE)


def housing_information(n_pairs: int, sigma: float, prior: bool) -> Information:
    """The :class:`sim.model.Information` of the housing delivery ratio: ``n_pairs``
    programme/delivery pairs; the delivered units of ``h`` years vary with ``h sigma^2`` on the
    log scale, all of it from the prior when ``sigma`` is (fewer than 3 pairs)."""
    total = tuple(h * sigma ** 2 for h in range(1, INFO_HORIZONS + 1))
    return Information(n_informative=int(n_pairs), prior_params=("sigma",) if prior else (),
                       var_total=total, var_prior=total if prior else (0.0,) * len(total),
                       min_obs=3, max_prior_share=LOW_INFO_PRIOR_SHARE)
