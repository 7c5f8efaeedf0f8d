"""Calibration: history (≤ as_of, one vintage) → :class:`sim.model.FittedModel`.

Every driver and every generic indicator is the change process of :mod:`sim.model`, fitted by
maximum likelihood with :class:`sim.calibrate.statespace.ChangeProcess` on the observations
:mod:`sim.calibrate.observations` makes of the history (levels, annual and cumulative changes,
derived series). The drivers' shocks are then correlated by :mod:`sim.calibrate.correlation`.

Too little data for a parameter → a documented prior, recorded in ``DriverFit.fallbacks`` and
``FittedModel.fallbacks``:

* ``phi`` is estimated with at least ``MIN_OBS_AR`` informative observations, else ``phi = 0``;
* ``sigma_level`` likewise with at least ``MIN_OBS_LEVEL_SIGMA``, else ``PRIOR_SIGMA_LEVEL``;
* ``sigma_noise`` with at least ``MIN_OBS_NOISE``, else the pooled value: the median of the
  ``sigma_noise`` estimated from their own data by the other series of the same group (drivers,
  or generic indicators; the other group when a group has none; ``DEFAULT_SIGMA_NOISE`` when
  none at all);
* an estimate on the edge of ``sim.calibrate.statespace.THETA_BOUNDS`` (degenerate) is replaced
  by the same prior and the rest re-estimated — except ``sigma_noise`` on its *lower* edge (a
  series so smooth that the moving mean explains every change), which stays fixed at that edge
  (the likelihood's maximum; another series' volatility would be the wrong scale); once
  ``sigma_noise`` is fixed by a fallback, ``phi`` is set to 0 as well;
* a parameter covariance that is not finite and positive definite is replaced by
  ``PRIOR_THETA_VAR`` on the diagonal for the free parameters;
* a generic indicator whose maximum-likelihood ``sigma_noise`` rests on a few outlying changes
  (more than ``ROBUST_RATIO`` times the robust scale of its annual changes: a flat series with
  one suspect value) gets the robust scale instead, with its sampling variance
  (:mod:`sim.calibrate.priors`), so a flat series does not fan out far beyond its own history.

Shares are modelled on the logit scale (``SeriesObs.scale``), so every draw stays within
(0, 100) %. Every change process carries a :class:`sim.model.Information`: its informative
observations and the share of its forecast variance that comes from priors
(:func:`sim.calibrate.priors.information`).

Housing delivery ratio (``HOUSING_DRIVER``, ``kind = "iid_lognormal"``): ``log r = log(supplied /
planned)`` for every window (or year) where both are observed; ``mu`` = mean, ``sigma`` = sd
(priors below when there are fewer than 3 pairs).
"""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from sim.version import __version__
from sim.calibrate.correlation import correlation_note, shock_correlation
from sim.calibrate.observations import (HOUSING_PAIR, SeriesObs, derived_anchors, direct_obs,
                                        driver_obs, find_anchors, housing_log_ratios)
from sim.calibrate.priors import (MAD_LOG_VAR, annual_changes, housing_information, information,
                                  outlier_driven, robust_scale)
from sim.calibrate.statespace import (MEASUREMENT_SD, PARAM_NAMES, THETA_BOUNDS, ChangeProcess,
                                      ProcessFit, fit_process)
from sim.errors import SimError
from sim.history import History
from sim.model import CHANGE_PARAMS, RATIO_PARAMS, Anchor, DriverFit, FittedModel, Information
from sim.vocabulary import CHANGE_DRIVERS, HOUSING_DRIVER

# --- what is fitted ---------------------------------------------------------------------------
REQUIRED_DRIVERS = ("gdp_real",)
ANCHOR_SERIES = ("gdp_nominal", "gdp_per_capita", "gdp_per_capita_usd", "population_resident",
                 "usdcny", "energy_intensity", "energy_consumption", "co2_emissions",
                 "water_intensity", "water_use", "cod_emissions", "nh3n_emissions",
                 "so2_emissions", "nox_emissions")
DEFAULT_BASE_YEARS = (2005, 2010, 2015)

# --- priors and thresholds (judgements of this module, stated here and in every fallback) -----
MIN_OBS_AR = 12             # informative observations needed to estimate phi
MIN_OBS_LEVEL_SIGMA = 12    # ... to estimate sigma_level
MIN_OBS_NOISE = 4           # ... to estimate sigma_noise
PRIOR_PHI = 0.0
PRIOR_SIGMA_LEVEL = 0.005   # the mean change drifts ~0.5 percentage points a year
DEFAULT_SIGMA_NOISE = 0.03  # 3 % a year, only when no series could estimate its own
PRIOR_THETA_VAR = 0.25      # sd 0.5 on the theta scale (x/÷ 1.65 for a sigma)
MAX_THETA_VAR = 1.0         # sd 1 (x/÷ 2.7 for a sigma): beyond it the likelihood is flat and
                            # the inverse Hessian says nothing; capped, keeping correlations
HOUSING_PRIOR_MU = 0.0      # programmes deliver as planned on average
HOUSING_PRIOR_SIGMA = 0.15  # ±15 % delivery spread between programmes
N_PARAM_DRAWS = 30          # draws of theta used to report the parameter part of sd(mean)

#: The modules whose code decides a fit (relative to the ``sim`` package): their hash is part of
#: :func:`calibrator_id`, so a cached fit is reused only by the same calibration code.
CALIBRATION_MODULES = ("calibrate/fit.py", "calibrate/observations.py", "calibrate/priors.py",
                       "calibrate/correlation.py", "calibrate/statespace.py",
                       "calibrate/breaks.py", "calibrate/levels.py", "calibrate/measurement.py",
                       "model.py", "history.py", "vocabulary.py", "declared/breaks.py")


# ============================================================================================
# one change process with its fallbacks
# ============================================================================================
@dataclass
class _Fit:
    name: str
    so: SeriesObs
    pf: ProcessFit
    fallbacks: list[str]
    n_inf: int
    own_sigma_noise: bool
    mean_sd_param: float = 0.0
    prior_params: tuple[str, ...] = ()   # sigma_noise / sigma_level fixed by a prior
    info: Information | None = None


@dataclass(frozen=True)
class _Pooled:
    """The pooled ``sigma_noise`` of the second pass, and where it comes from (for messages)."""

    sigma: float
    source: str


def _prior_fixed(n_inf: int, generic: bool, pooled: _Pooled | None
                 ) -> tuple[dict[str, float], list[str]] | None:
    """Parameters fixed before estimation (too few observations); None: needs the pooled
    ``sigma_noise`` of the second pass."""
    fixed: dict[str, float] = {}
    fallbacks = []
    if generic:
        fixed["phi"] = 0.0
    elif n_inf < MIN_OBS_AR:
        fixed["phi"] = PRIOR_PHI
        fallbacks.append(f"phi = {PRIOR_PHI} (prior): {n_inf} informative observations, "
                         f"{MIN_OBS_AR} needed to estimate the AR coefficient")
    if n_inf < MIN_OBS_LEVEL_SIGMA:
        fixed["sigma_level"] = PRIOR_SIGMA_LEVEL
        fallbacks.append(f"sigma_level = {PRIOR_SIGMA_LEVEL} (prior): {n_inf} informative "
                         f"observations, {MIN_OBS_LEVEL_SIGMA} needed")
    if n_inf < MIN_OBS_NOISE:
        if pooled is None:
            return None
        fixed["sigma_noise"] = pooled.sigma
        fallbacks.append(f"sigma_noise = {pooled.sigma:.4g} (pooled{pooled.source}): {n_inf} "
                         f"informative observations, {MIN_OBS_NOISE} needed")
    return fixed, fallbacks


def _fallback_value(p: str, pf: ProcessFit, degenerate: bool, pooled: _Pooled | None
                    ) -> tuple[float, str] | None:
    """The value (and its label) that replaces a degenerate or unconverged estimate of ``p``;
    None: needs the pooled ``sigma_noise`` of the second pass."""
    if p == "phi":
        return PRIOR_PHI, "prior"
    if p == "sigma_level":
        return PRIOR_SIGMA_LEVEL, "prior"
    i = PARAM_NAMES.index(p)
    if degenerate and pf.theta[i] - THETA_BOUNDS[i][0] < 0.05:
        # no AR noise discernible beside the moving mean: the MLE is on the boundary, and
        # another series' volatility would be the wrong scale
        return float(np.exp(THETA_BOUNDS[i][0])), "its lower bound, where the likelihood is maximal"
    if pooled is None:
        return None
    return pooled.sigma, "pooled" + pooled.source


def _estimate(model: ChangeProcess, fixed: dict[str, float], fallbacks: list[str],
              pooled: _Pooled | None) -> ProcessFit | None:
    """Maximum likelihood, re-estimated (up to three times) with a fallback for every degenerate
    or unconverged parameter; None: needs the pooled ``sigma_noise`` of the second pass."""
    pf = fit_process(model, fixed)
    for _ in range(3):
        degenerate = [p for p in pf.at_bound if p not in fixed]
        bad = degenerate or ([] if pf.converged else list(pf.free))
        if not bad:
            break
        why = ("estimate on the edge of its range" if degenerate else
               f"optimizer did not converge ({pf.message})")
        for p in bad:
            replacement = _fallback_value(p, pf, bool(degenerate), pooled)
            if replacement is None:
                return None
            fixed[p], label = replacement
            fallbacks.append(f"{p} = {fixed[p]:.4g} ({label}): {why}")
        if "sigma_noise" in bad and "phi" not in fixed:
            fixed["phi"] = PRIOR_PHI
            fallbacks.append(f"phi = {PRIOR_PHI} (prior): not identified once sigma_noise "
                             f"is fixed by a fallback")
        pf = fit_process(model, fixed)
    return pf


def _settle_covariance(pf: ProcessFit, fallbacks: list[str]) -> None:
    """A prior covariance where the estimate's is not positive definite, else the cap."""
    if not pf.free:
        return
    if not pf.cov_ok:
        idx = [PARAM_NAMES.index(p) for p in pf.free]
        pf.theta_cov = np.zeros((3, 3))
        pf.theta_cov[idx, idx] = PRIOR_THETA_VAR
        fallbacks.append(f"parameter covariance not positive definite at the estimate; "
                         f"prior variance {PRIOR_THETA_VAR} on the theta scale for "
                         f"{', '.join(pf.free)}")
    else:
        _cap_theta_variance(pf, fallbacks)


def _fit_series(so: SeriesObs, as_of: int, base_years: tuple[int, ...], generic: bool,
                pooled: _Pooled | None) -> _Fit | None:
    """Fit one change process; None when it needs the pooled ``sigma_noise`` (first pass)."""
    n_inf = so.n_informative()
    prior = _prior_fixed(n_inf, generic, pooled)
    if prior is None:
        return None
    fixed, fallbacks = prior
    prior_params = tuple(p for p in ("sigma_noise", "sigma_level") if p in fixed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ChangeProcess(so.obs, end=as_of, base_years=base_years)
            pf = _estimate(model, fixed, fallbacks, pooled)
            if pf is None:
                return None
            own = "sigma_noise" in pf.free
            pf, robust_var = (_robust_noise(model, pf, so, fixed, fallbacks) if generic and own
                              else (pf, 0.0))
            _settle_covariance(pf, fallbacks)
            if robust_var:   # its own scale, but an atypical one: not pooled for other series
                own = False
                pf.theta_cov = np.asarray(pf.theta_cov, float).copy()
                pf.theta_cov[1, 1] = robust_var
            mean_sd_param = _mean_sd_param(model, pf)
            prior_params += tuple(p for p in ("sigma_noise", "sigma_level") if p not in
                                  prior_params and p in fixed and _is_prior(p, fallbacks))
            info = information(model, pf.theta, n_inf, prior_params, MIN_OBS_NOISE)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError, ArithmeticError) as exc:
        raise SimError(f"{so.name}: calibration failed ({exc}); observations: "
                       f"{so.describe()}") from None
    return _Fit(so.name, so, pf, fallbacks, n_inf, own, mean_sd_param, prior_params, info)


def _is_prior(p: str, fallbacks: list[str]) -> bool:
    """Was ``p`` fixed by a prior or the pooled value (not the series' own data: its lower
    edge, its robust scale)? Read from the fallback that fixed it (the last one naming it)."""
    mine = [fb for fb in fallbacks if fb.startswith(f"{p} = ")]
    return bool(mine) and ("(prior" in mine[-1] or "(pooled" in mine[-1])


def _robust_noise(model: ChangeProcess, pf: ProcessFit, so: SeriesObs, fixed: dict[str, float],
                  fallbacks: list[str]) -> tuple[ProcessFit, float]:
    """The fit with ``sigma_noise`` at the robust scale of the annual changes when the
    maximum-likelihood one rests on a few outlying changes (``sim.calibrate.priors``), the rest
    re-estimated, and the theta variance of that scale, ``MAD_LOG_VAR / n`` (else ``pf``, 0)."""
    rs = robust_scale(annual_changes(so))
    sigma_ml = float(np.exp(pf.theta[1]))
    if rs is None or not outlier_driven(sigma_ml, rs):
        return pf, 0.0
    fixed["sigma_noise"] = rs.scale
    fallbacks.append(f"sigma_noise = {rs.scale:.4g} (robust: 1.4826 x MAD of {rs.n} annual "
                     f"changes): the maximum-likelihood {sigma_ml:.4g} rests on outlying changes "
                     f"({rs.describe()}); a break or a suspect value would be better marked in "
                     f"the data")
    return fit_process(model, fixed), MAD_LOG_VAR / rs.n


def _cap_theta_variance(pf: ProcessFit, fallbacks: list[str]) -> None:
    """Cap each theta variance at ``MAX_THETA_VAR`` (rescaling its row and column).

    A nearly flat likelihood gives an inverse-Hessian variance of tens on the log-sigma scale;
    drawing from it produces sigmas of 50 and paths that overflow. The cap keeps the
    correlations and is recorded as a fallback.
    """
    var = np.diag(pf.theta_cov).copy()
    scale = np.ones_like(var)
    for i, v in enumerate(var):
        if v > MAX_THETA_VAR:
            scale[i] = np.sqrt(MAX_THETA_VAR / v)
            fallbacks.append(f"{PARAM_NAMES[i]}: variance {v:.3g} on the theta scale capped at "
                             f"{MAX_THETA_VAR} (likelihood nearly flat: weakly identified)")
    if np.any(scale < 1):
        pf.theta_cov = pf.theta_cov * np.outer(scale, scale)


def _mean_sd_param(model: ChangeProcess, pf: ProcessFit) -> float:
    """sd of the filtered mean at as_of across ``N_PARAM_DRAWS`` draws of theta (seed 0)."""
    if not np.any(pf.theta_cov):
        return 0.0
    rng = np.random.default_rng(0)
    draws = rng.multivariate_normal(pf.theta, pf.theta_cov, size=N_PARAM_DRAWS,
                                    method="eigh")
    vals = []
    for th in draws:
        res = model.filter(model.transform_params(th), cov_type="none")
        vals.append(float(np.asarray(res.filtered_state)[1, -1]))
    return float(np.std(vals))


def _driver_fit(f: _Fit, correlated: bool) -> DriverFit:
    pf = f.pf
    diag = {
        "loglike": float(pf.loglike), "converged": bool(pf.converged),
        "free_params": list(pf.free), "at_bound": list(pf.at_bound),
        "n_informative": int(f.n_inf), "optimizer_message": pf.message,
        "first_year": int(min(o.base_year if o.kind == "cum" and o.base_year is not None
                              else o.year for o in f.so.obs)),
        "last_obs_year": int(max(o.year for o in f.so.obs)),
        "mean_sd_state": float(math.sqrt(max(pf.state_cov[1, 1], 0.0))),
        "mean_sd_param": float(f.mean_sd_param),
        "eps": {str(k): v for k, v in sorted(pf.eps.items())},
        "notes": list(f.so.notes),
    }
    return DriverFit(
        name=f.name, kind="change", scale=f.so.scale, param_names=CHANGE_PARAMS,
        param_mean=np.asarray(pf.theta, float), param_cov=np.asarray(pf.theta_cov, float),
        state_names=tuple(pf.state_names), state_mean=np.asarray(pf.state_mean, float),
        state_cov=np.asarray(pf.state_cov, float), level_known=bool(pf.level_known),
        correlated=correlated, n_obs=int(pf.n_obs), fallbacks=tuple(f.fallbacks),
        diagnostics=diag,
        information=f.info)


# ============================================================================================
# housing
# ============================================================================================
def housing_fit(history: History, vintage: str) -> tuple[DriverFit, list[dict]]:
    """The housing delivery ratio ``log r ~ N(mu, sigma)`` (priors with fewer than 3 pairs),
    and the records of the ratios used."""
    logs, used = housing_log_ratios(history, vintage)
    n = len(logs)
    fallbacks = []
    if n >= 3:
        mu, sd = float(np.mean(logs)), float(np.std(logs, ddof=1))
        if sd <= 0:
            sd = HOUSING_PRIOR_SIGMA
            fallbacks.append(f"sigma = {HOUSING_PRIOR_SIGMA} (prior): the {n} ratios are equal")
            cov = np.diag([sd ** 2 / n, 0.0])
        else:
            cov = np.diag([sd ** 2 / n, 1.0 / (2 * (n - 1))])
    elif n >= 1:
        mu, sd = float(np.mean(logs)), HOUSING_PRIOR_SIGMA
        fallbacks.append(f"sigma = {HOUSING_PRIOR_SIGMA} (prior): {n} programme/delivery "
                         f"pair(s), 3 needed")
        cov = np.diag([sd ** 2 / n, 0.0])
    else:
        mu, sd = HOUSING_PRIOR_MU, HOUSING_PRIOR_SIGMA
        fallbacks.append(f"mu = {HOUSING_PRIOR_MU}, sigma = {HOUSING_PRIOR_SIGMA} (prior): no "
                         f"window with both {HOUSING_PAIR[0]} and {HOUSING_PAIR[1]}")
        cov = np.diag([sd ** 2, 0.0])
    fit = DriverFit(
        name=HOUSING_DRIVER, kind="iid_lognormal", scale="log", param_names=RATIO_PARAMS,
        param_mean=np.array([mu, math.log(sd)]), param_cov=cov, state_names=(),
        state_mean=np.zeros(0), state_cov=np.zeros((0, 0)), level_known=False,
        correlated=False, n_obs=n, fallbacks=tuple(fallbacks),
        diagnostics={"log_ratios": [float(x) for x in logs]},
        information=housing_information(n, sd, prior=n < 3))
    return fit, used


# ============================================================================================
# the whole calibration
# ============================================================================================
def _anchors_and_base_years(h: History, as_of: int, vintage: str, generic_names: list[str],
                            base_years: Iterable[int] | None
                            ) -> tuple[dict[str, Anchor], tuple[int, ...]]:
    """Anchors (observed, then derived) and the base years: the requested ones before as_of
    and the year of every anchor before as_of."""
    present = set(h.frame["series"])
    anchors = find_anchors(h, as_of, vintage, [n for n in ANCHOR_SERIES if n in present]
                           + generic_names)
    for name, a in derived_anchors(h, as_of, vintage).items():
        anchors.setdefault(name, a)
    by = DEFAULT_BASE_YEARS if base_years is None else tuple(base_years)
    declared = h.vocabulary.is_declared
    by = tuple(sorted({int(b) for b in by if b < as_of}
                      | {a.year for n, a in anchors.items() if a.year < as_of and not declared(n)}))
    return anchors, by


def _why_not_fitted(so: SeriesObs, generic: bool, as_of: int) -> str | None:
    """Why a series cannot be fitted (too little data), or None."""
    if not so.obs:
        return f"no usable observation dated {as_of} or earlier"
    if so.n_informative() == 0:
        return (f"only {so.describe()} dated {as_of} or earlier: no change can "
                f"be estimated from one observation")
    if generic and not any(o.kind == "level" for o in so.obs):
        return "no level observation (the generic model needs one)"
    return None


def _fittable(series_obs: dict[str, tuple[SeriesObs, bool]], as_of: int
              ) -> tuple[dict[str, str], list[str]]:
    """Drop the series that cannot be fitted from ``series_obs``; return ``{name: why}`` and the
    fallback messages. A required driver that cannot be fitted is an error."""
    skipped = {}
    for name, (so, generic) in series_obs.items():
        why = _why_not_fitted(so, generic, as_of)
        if why is not None:
            skipped[name] = why
    fallbacks = []
    for name, why in skipped.items():
        if name in REQUIRED_DRIVERS:
            raise SimError(f"{name}: cannot be calibrated as of {as_of}: {why}")
        role = "generic indicator" if series_obs[name][1] else "driver"
        fallbacks.append(f"{name}: not fitted ({role}): {why}; targets on it are not evaluable")
        del series_obs[name]
    return skipped, fallbacks


def _pooled_sigma(fits: dict[str, _Fit], series_obs: dict[str, tuple[SeriesObs, bool]],
                  generic: bool, declared: frozenset[str] = frozenset()) -> _Pooled:
    """Median ``sigma_noise`` of the series of the same group that estimated their own (the
    other group when none did; ``DEFAULT_SIGMA_NOISE`` when no series did). A series on its
    robust scale is left out: its changes had outliers, its scale is not a typical one."""
    own = {g: [float(np.exp(f.pf.theta[1])) for f in fits.values()
               if f.own_sigma_noise and series_obs[f.name][1] == g and f.name not in declared]
           for g in (False, True)}
    group = own[generic] or own[not generic]
    if own[generic]:
        kind = "generic indicators" if generic else "drivers"
        src = f" median over {len(own[generic])} {kind}"
    elif own[not generic]:
        kind = "drivers" if generic else "generic indicators"
        src = f" median over {len(own[not generic])} {kind}"
    else:
        src = " none estimated: default"
    return _Pooled(float(np.median(group)) if group else DEFAULT_SIGMA_NOISE, src)


def _fit_all(series_obs: dict[str, tuple[SeriesObs, bool]], as_of: int,
             base_years: tuple[int, ...], declared: frozenset[str] = frozenset()
             ) -> dict[str, _Fit]:
    """Pass 1: series with enough data for their own sigma_noise; pass 2: the rest, pooled."""
    fits: dict[str, _Fit] = {}
    for name, (so, generic) in series_obs.items():
        f = _fit_series(so, as_of, base_years, generic, None)
        if f is not None:
            fits[name] = f
    first_pass = dict(fits)
    for name, (so, generic) in series_obs.items():
        if name in fits:
            continue
        f = _fit_series(so, as_of, base_years, generic,
                        _pooled_sigma(first_pass, series_obs, generic, declared))
        assert f is not None   # a pooled sigma_noise is always given in the second pass
        fits[name] = f
    return fits


def calibrate(history: History, as_of: int, vintage: str = "revised",
              base_years: Iterable[int] | None = None) -> FittedModel:
    """Fit every driver, the housing delivery ratio and every generic indicator on data ≤ as_of.

    Parameters
    ----------
    history : sim.history.History
    as_of : int
        Last year of information; observations dated later (cumulative ones by their end year)
        are not looked at.
    vintage : "first" | "revised"
        Which published values of GDP (and any other series with vintages) are used.
    base_years : sequence of int, optional
        Years ``b`` for the ``cum_from_b`` states; default ``DEFAULT_BASE_YEARS`` before as_of.
        The year of every anchor before as_of is added.
    """
    if vintage not in ("first", "revised"):
        raise SimError(f"vintage must be 'first' or 'revised', got {vintage!r}")
    as_of = int(as_of)
    h = history.upto(as_of)   # nothing later is ever looked at
    if len(h.frame) == 0:
        raise SimError(f"no observations dated {as_of} or earlier")
    present = set(h.frame["series"])
    generic_names = [s.name for s in h.vocabulary.values() if s.role == "generic" and s.name in present]
    anchors, by = _anchors_and_base_years(h, as_of, vintage, generic_names, base_years)

    series_obs = {name: (driver_obs(h, name, vintage), False) for name in CHANGE_DRIVERS}
    series_obs.update({name: (direct_obs(h, name, vintage), True) for name in generic_names})
    skipped, fallbacks = _fittable(series_obs, as_of)
    fits = _fit_all(series_obs, as_of, by, frozenset(s.name for s in h.vocabulary.declared))

    drivers: dict[str, DriverFit] = {}
    notes: list[str] = []
    used: list[dict] = []
    for name in [n for n in (*CHANGE_DRIVERS, *generic_names) if n in fits]:
        f = fits[name]
        drivers[name] = _driver_fit(f, correlated=name in CHANGE_DRIVERS)
        fallbacks.extend(f"{name}: {fb}" for fb in f.fallbacks)
        notes.extend(f.so.notes)
        used.extend(f.so.used)
    hfit, hused = housing_fit(h, vintage)
    drivers[HOUSING_DRIVER] = hfit
    fallbacks.extend(f"{HOUSING_DRIVER}: {fb}" for fb in hfit.fallbacks)
    used.extend(hused)

    eps = {n: {int(y): v for y, v in drivers[n].diagnostics["eps"].items()}
           for n in CHANGE_DRIVERS if n in drivers}
    corr, lam, overlap = shock_correlation(eps)
    notes.append(correlation_note(overlap, lam))
    notes.append(f"measurement noise sd {MEASUREMENT_SD} on the model scale for official "
                 f"figures (rounding); inventory levels and what is derived from them carry "
                 f"their source's error (sim.calibrate.measurement; see each driver's notes)")

    return FittedModel(
        as_of=as_of, vintage=vintage, data_hash=str(history.data_hash), drivers=drivers,
        anchors=anchors, shock_names=tuple(eps), shock_corr=corr, shrinkage=lam,
        base_years=by, observations_used=used, fallbacks=tuple(fallbacks),
        notes=tuple(dict.fromkeys(notes)), calibrator=calibrator_id(),
        not_fitted=dict(skipped))


def calibrator_id() -> str:
    """``<sim version>+<hash of the calibration code>``: a saved fit is reused only by the same
    code (the hash covers every module of ``CALIBRATION_MODULES``)."""
    h = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
    for name in CALIBRATION_MODULES:
        h.update((package / name).read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"
