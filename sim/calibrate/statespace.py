"""The change process of one series as a statsmodels state-space model, with sparse and mixed
observations (levels, annual changes, multi-year cumulative changes).

Process (``sim.model``; one step = one year, ``t = start .. end``)::

    x_t = m_t + u_t                       annual change of the transformed level L
    m_t = m_{t-1} + sigma_level * eta_t   local-level mean
    u_t = phi * u_{t-1} + sigma_noise * eps_t
    L_t = L_{t-1} + x_t

State vector (statsmodels convention ``alpha_{t+1} = T_t alpha_t + R_t w_t``,
``w_t = (sigma_level * eta, sigma_noise * eps) ~ N(0, Q)``, ``Q = diag(sigma_level^2,
sigma_noise^2)``)::

    alpha_t = (L_t, m_t, u_t, C_{b1,t}, ..., C_{bk,t})      k_states = 3 + k

    C_{b,t} = L_t - L_b   for t > b,   C_{b,t} = 0   for t <= b    ("cumulative from b")

so the transition is time-varying: the ``C_b`` row of ``T_t`` is zero while ``t + 1 <= b`` and
``(1, 1, phi)`` on ``(C_b, m, u)`` afterwards (same for the ``C_b`` row of ``R_t``)::

    L_{t+1}   = L_t + m_t + phi u_t + w1 + w2
    m_{t+1}   = m_t + w1
    u_{t+1}   = phi u_t + w2
    C_{b,t+1} = [t + 1 > b] (C_{b,t} + m_t + phi u_t + w1 + w2)

Observations (``k_endog`` columns, ``NaN`` where a year has none; never interpolated), each
with its own measurement noise ``y = Z alpha_t + e``, ``e ~ N(0, sd^2)``: ``Obs.sd``, by default
``MEASUREMENT_SD`` (rounding of published figures, and numerical stability); observations
derived from model-based inventories carry their sources' error (:mod:`sim.calibrate.measurement`)::

    level       y = L_t                    Z = e_L
    change      y = x_t = m_t + u_t        Z = e_m + e_u
    cum from b  y = L_t - L_b = C_{b,t}    Z = e_{C_b}

all on the transformed scale: a level ``v`` as ``log v`` (``logit(v/100)`` for shares), a
``change_pct`` ``p`` as ``log(1 + p/100)``, a ``cumulative_change_pct`` ``c`` over ``(b, t]`` as
``log(1 + c/100)``. Several observations of the same kind in the same year (e.g. two sources)
go in separate columns, and so do observations of one kind with different ``sd`` (each column
has one noise variance, ``H = diag(sd_j^2)``, time-invariant).

Initialization at ``t = start``: ``L`` approximately diffuse (variance ``DIFFUSE_LEVEL_VAR``)
when a level is ever observed, else fixed at 0 (only changes are identified; ``level_known``
False); ``m`` approximately diffuse (variance ``DIFFUSE_MEAN_VAR``, i.e. an sd of 100 log points
per year, far wider than any annual change); ``u`` stationary, ``N(0, sigma_noise^2 / (1 -
phi^2))``; every ``C_b`` known 0 (``start <= b`` always: the sample starts at the earliest base
year).

Parameters ``(phi, sigma_noise, sigma_level)``; the optimiser works on the unconstrained
``theta = (atanh phi, log sigma_noise, log sigma_level)`` (``transform_params`` /
``untransform_params``), which is also the scale of ``DriverFit.param_mean``/``param_cov``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
from scipy import optimize
from statsmodels.tools.numdiff import approx_hess3
from statsmodels.tsa.statespace.mlemodel import MLEModel

MEASUREMENT_SD = 1e-3        # 0.1 % on the log scale: rounding of published figures
DIFFUSE_LEVEL_VAR = 1e4      # approximate diffuse prior of the initial log level (sd 100)
DIFFUSE_MEAN_VAR = 1.0       # approximate diffuse prior of the initial mean change (sd 1 = 100 %)

PARAM_NAMES = ("phi", "sigma_noise", "sigma_level")
THETA_NAMES = ("atanh_phi", "log_sigma_noise", "log_sigma_level")   # = sim.model.CHANGE_PARAMS
# Box for the optimiser on the theta scale; an estimate that ends on it is "degenerate".
THETA_BOUNDS = ((-2.5, 2.5), (np.log(1e-4), np.log(2.0)), (np.log(1e-4), np.log(1.0)))

KINDS = ("level", "change", "cum")


@dataclass(frozen=True)
class Obs:
    """One observation on the transformed scale.

    ``kind``: ``level`` (y = L_year), ``change`` (y = L_year - L_{year-1}) or ``cum``
    (y = L_year - L_base); ``sd``: its measurement-error sd on the same scale.
    """

    year: int
    kind: str
    value: float
    base_year: int | None = None
    sd: float = MEASUREMENT_SD

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown observation kind {self.kind!r}; expected one of {KINDS}")
        if self.kind == "cum" and (self.base_year is None or self.base_year >= self.year):
            raise ValueError(f"cumulative observation needs base_year < year, got "
                             f"{self.base_year}..{self.year}")
        if not np.isfinite(self.value):
            raise ValueError(f"non-finite observation value {self.value!r} in {self.year}")
        if not (np.isfinite(self.sd) and self.sd > 0):
            raise ValueError(f"measurement sd must be positive, got {self.sd!r} in {self.year}")


def state_names_for(base_years: Iterable[int]) -> tuple[str, ...]:
    """``("level", "mean", "ar", "cum_from_<b>", ...)`` for the base years ``b``."""
    return ("level", "mean", "ar") + tuple(f"cum_from_{b}" for b in base_years)


class ChangeProcess(MLEModel):
    """Local-level-mean + AR(1) change process with level / change / cumulative observations.

    Parameters
    ----------
    obs : sequence of Obs
        Observations, each dated ``start <= year <= end`` (cumulative: ``start <= base_year``).
    end : int
        Last year of the sample (as_of); the filter predicts forward to it.
    base_years : sequence of int
        Years ``b`` whose ``C_b = L_end - L_b`` is reported as ``cum_from_b``. Base years of
        cumulative observations get their own (internal) ``C_b`` states too.
    start : int, optional
        First year; default the earliest year any observation or base year needs.
    """

    def __init__(self, obs, end: int, base_years=(), start: int | None = None):
        obs = sorted(obs, key=lambda o: (o.kind, o.base_year or 0, o.sd, o.year))
        if not obs:
            raise ValueError("no observations")
        cum_bases = {o.base_year for o in obs if o.kind == "cum"}
        self.report_base_years = tuple(sorted(set(int(b) for b in base_years)))
        self.cum_base_years = tuple(sorted(set(self.report_base_years) | cum_bases))
        needed = [o.year for o in obs] + list(self.cum_base_years)
        first = min(needed)
        self.start = int(first if start is None else min(start, first))
        self.end = int(end)
        if max(o.year for o in obs) > self.end:
            raise ValueError("observation after the end of the sample")
        self.years = np.arange(self.start, self.end + 1)
        nobs = len(self.years)
        self.level_known = any(o.kind == "level" for o in obs)

        # --- observation columns: one per (kind, base, sd, duplicate number) ----------------
        columns: dict[tuple, dict[int, float]] = {}
        for o in obs:
            dup = 0
            while o.year in columns.get((o.kind, o.base_year, o.sd, dup), {}):
                dup += 1
            columns.setdefault((o.kind, o.base_year, o.sd, dup), {})[o.year] = float(o.value)
        self.columns = list(columns)
        endog = np.full((nobs, len(self.columns)), np.nan)
        for j, key in enumerate(self.columns):
            for year, value in columns[key].items():
                endog[year - self.start, j] = value
        self.obs = tuple(obs)

        k_c = len(self.cum_base_years)
        k_states = 3 + k_c
        super().__init__(endog, k_states=k_states, k_posdef=2)
        self.state_names_all = state_names_for(self.cum_base_years)

        # Design Z (k_endog, k_states), time-invariant.
        design = np.zeros((len(self.columns), k_states))
        for j, (kind, base, _sd, _dup) in enumerate(self.columns):
            if kind == "level":
                design[j, 0] = 1.0
            elif kind == "change":
                design[j, 1] = design[j, 2] = 1.0
            else:
                design[j, 3 + self.cum_base_years.index(base)] = 1.0
        self["design"] = design
        self["obs_cov"] = np.diag([float(sd) ** 2 for (_k, _b, sd, _d) in self.columns])

        # active[c, i] = 1 when the step i -> i+1 enters a year after base year c.
        nxt = self.years + 1
        active = np.array([(nxt > b).astype(float) for b in self.cum_base_years]).reshape(k_c, nobs)
        t_fixed = np.zeros((k_states, k_states, nobs))
        t_phi = np.zeros((k_states, k_states, nobs))
        t_fixed[0, 0] = t_fixed[0, 1] = t_fixed[1, 1] = 1.0
        t_phi[0, 2] = t_phi[2, 2] = 1.0
        sel = np.zeros((k_states, 2, nobs))
        sel[0, :, :] = 1.0
        sel[1, 0, :] = 1.0
        sel[2, 1, :] = 1.0
        for c in range(k_c):
            i = 3 + c
            t_fixed[i, i] = t_fixed[i, 1] = active[c]
            t_phi[i, 2] = active[c]
            sel[i, 0] = sel[i, 1] = active[c]
        self._t_fixed, self._t_phi = t_fixed, t_phi
        self["selection"] = sel
        self.initialize_known(np.zeros(k_states), np.eye(k_states))  # replaced in update()

    # --- parameters ----------------------------------------------------------------------
    @property
    def param_names(self):
        return list(PARAM_NAMES)

    @property
    def start_params(self):
        vals = [o.value for o in self.obs if o.kind == "change"]
        sd = float(np.std(vals)) if len(vals) > 2 else 0.03
        sd = min(max(sd, 1e-3), 1.0)
        return np.array([0.3, sd, 0.25 * sd])

    def transform_params(self, unconstrained):
        u = np.asarray(unconstrained)
        return np.array([np.tanh(u[0]), np.exp(u[1]), np.exp(u[2])], dtype=u.dtype)

    def untransform_params(self, constrained):
        c = np.asarray(constrained)
        return np.array([np.arctanh(c[0]), np.log(c[1]), np.log(c[2])], dtype=c.dtype)

    def update(self, params, transformed=True, includes_fixed=False, complex_step=False):
        params = super().update(params, transformed=transformed, includes_fixed=includes_fixed,
                                complex_step=complex_step)
        phi, s_noise, s_level = params[0], params[1], params[2]
        self["transition"] = self._t_fixed + phi * self._t_phi
        self["state_cov"] = np.diag([s_level ** 2, s_noise ** 2])
        p0 = np.zeros((self.k_states, self.k_states), dtype=np.result_type(params, float))
        p0[0, 0] = DIFFUSE_LEVEL_VAR if self.level_known else 0.0
        p0[1, 1] = DIFFUSE_MEAN_VAR
        p0[2, 2] = s_noise ** 2 / (1.0 - phi ** 2)
        self.ssm.initialize_known(np.zeros(self.k_states), p0)
        return params

    # --- helpers ---------------------------------------------------------------------------
    def loglike_theta(self, theta) -> float:
        """Log-likelihood at unconstrained ``theta`` (3,)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ll = self.loglike(np.asarray(theta, float), transformed=False)
        return float(ll) if np.isfinite(ll) else -1e12


@dataclass
class ProcessFit:
    """Result of :func:`fit_process`.

    ``theta`` (3,) and ``theta_cov`` (3, 3) on the unconstrained scale (zero rows/columns for
    fixed parameters); ``state_names``/``state_mean`` (s,)/``state_cov`` (s, s): filtered
    moments at ``end`` of ``(level, mean, ar, cum_from_b...)`` for the reported base years;
    ``eps``: smoothed standardized AR shocks by year (years with annual information only).
    """

    theta: np.ndarray
    theta_cov: np.ndarray
    free: tuple[str, ...]
    state_names: tuple[str, ...]
    state_mean: np.ndarray
    state_cov: np.ndarray
    level_known: bool
    loglike: float
    converged: bool
    at_bound: tuple[str, ...]
    cov_ok: bool
    eps: dict[int, float] = field(default_factory=dict)
    n_obs: int = 0
    message: str = ""


def _starts(model: ChangeProcess, free_idx, fixed_theta):
    base = model.untransform_params(model.start_params)
    cands = []
    for a in (0.0, 0.6):
        for sn_mult in (1.0, 0.5, 2.0):
            for ratio in (0.25, 0.05, 1.0):
                th = base.copy()
                th[0], th[1] = a, base[1] + np.log(sn_mult)
                th[2] = th[1] + np.log(ratio)
                for k, v in fixed_theta.items():
                    th[k] = v
                cands.append(th)
    scored = sorted(cands, key=lambda th: -model.loglike_theta(th))
    return [th[free_idx] for th in scored[:3]]


def _full_theta(fixed_theta: dict[int, float], free_idx: list[int], free_theta: np.ndarray
                ) -> np.ndarray:
    th = np.zeros(3)
    for k, v in fixed_theta.items():
        th[k] = v
    th[free_idx] = free_theta
    return th


def _maximise(model: ChangeProcess, nll: Callable[[np.ndarray], float], free_idx: list[int],
              fixed_theta: dict[int, float], maxiter: int) -> tuple[np.ndarray, bool, str]:
    """The free theta minimising ``nll`` in ``THETA_BOUNDS``: ``(free theta, converged, message)``.

    Bounded Nelder–Mead from the best three starting points, then Powell from the best point
    when that did not converge.
    """
    bounds = [THETA_BOUNDS[i] for i in free_idx]
    best = None
    for x0 in _starts(model, free_idx, fixed_theta):
        x0 = np.clip(x0, [b[0] for b in bounds], [b[1] for b in bounds])
        res = optimize.minimize(nll, x0, method="Nelder-Mead", bounds=bounds,
                                options={"maxiter": maxiter * len(free_idx),
                                         "xatol": 1e-6, "fatol": 1e-9})
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None   # _starts gives three starting points
    if not best.success:  # e.g. a flat likelihood: try Powell from the best point
        res = optimize.minimize(nll, best.x, method="Powell", bounds=bounds,
                                options={"maxiter": 20 * maxiter, "xtol": 1e-6, "ftol": 1e-9})
        if res.success and res.fun <= best.fun + 1e-6:
            best = res
    return best.x, bool(best.success), str(best.message)


def _theta_covariance(nll: Callable[[np.ndarray], float], free_theta: np.ndarray,
                      free_idx: list[int]) -> tuple[np.ndarray, bool]:
    """Inverse of the negative numerical Hessian of the log-likelihood in the free theta,
    embedded in (3, 3); ``cov_ok`` False (and zeros) when not finite and positive definite."""
    cov = np.zeros((3, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = approx_hess3(free_theta, lambda f: -nll(f))
    try:
        c = np.linalg.inv(-h)
        c = 0.5 * (c + c.T)
        cov_ok = bool(np.all(np.isfinite(c)) and np.all(np.linalg.eigvalsh(c) > 0))
    except np.linalg.LinAlgError:
        cov_ok = False
    if cov_ok:
        cov[np.ix_(free_idx, free_idx)] = c
    return cov, cov_ok


def fit_process(model: ChangeProcess, fixed: dict[str, float] | None = None,
                maxiter: int = 500) -> ProcessFit:
    """Maximum likelihood for the free parameters of ``model``; the rest fixed.

    Parameters
    ----------
    fixed : dict
        Constrained values by name in ``PARAM_NAMES`` (e.g. ``{"phi": 0.0}``).

    The free ``theta`` maximise ``model.loglike`` inside ``THETA_BOUNDS`` (bounded Nelder–Mead,
    best of three starting points, Powell when that does not converge; derivative-free and
    BLAS-free, which matters: L-BFGS-B's tiny BLAS calls were 10x slower under thread
    contention); ``theta_cov`` is the inverse of the negative numerical Hessian of
    the log-likelihood in ``theta`` (``cov_ok`` False when that is not finite and positive
    definite, e.g. at a bound). Free parameters within 0.05 of a bound are listed in
    ``at_bound``.
    """
    fixed = dict(fixed or {})
    fixed_theta = {PARAM_NAMES.index(k): float(np.arctanh(v) if k == "phi" else np.log(v))
                   for k, v in fixed.items()}
    free_idx = [i for i in range(3) if i not in fixed_theta]

    def nll(free_theta: np.ndarray) -> float:
        return -model.loglike_theta(_full_theta(fixed_theta, free_idx, free_theta))

    converged, message = True, ""
    cov, cov_ok = np.zeros((3, 3)), True
    if free_idx:
        best_x, converged, message = _maximise(model, nll, free_idx, fixed_theta, maxiter)
        theta = _full_theta(fixed_theta, free_idx, best_x)
        cov, cov_ok = _theta_covariance(nll, theta[free_idx], free_idx)
    else:
        theta = _full_theta(fixed_theta, free_idx, np.zeros(0))
    at_bound = tuple(PARAM_NAMES[i] for i in free_idx
                     if theta[i] - THETA_BOUNDS[i][0] < 0.05 or THETA_BOUNDS[i][1] - theta[i] < 0.05)

    ll = model.loglike_theta(theta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.smooth(model.transform_params(theta), cov_type="none")
    names, mean, scov = _state_at_end(model, res)
    eps = _annual_eps(model, res, theta)
    n_obs = int(np.isfinite(model.endog).sum())
    return ProcessFit(theta=theta, theta_cov=cov, free=tuple(PARAM_NAMES[i] for i in free_idx),
                      state_names=names, state_mean=mean, state_cov=scov,
                      level_known=model.level_known, loglike=ll, converged=converged,
                      at_bound=at_bound, cov_ok=cov_ok, eps=eps, n_obs=n_obs, message=message)


def _state_at_end(model: ChangeProcess, res):
    """Filtered ``(level, mean, ar, cum_from_b...)`` at the last year, for reported base years.

    ``A`` (s, k_states) selects the reported states; ``mean = A a_T``, ``cov = A P_T A'``. An
    unknown level is reported as 0 with zero variance.
    """
    names = state_names_for(model.report_base_years)
    a = np.asarray(res.filtered_state)[:, -1]
    p = np.asarray(res.filtered_state_cov)[:, :, -1]
    sel = np.zeros((len(names), model.k_states))
    sel[0, 0] = sel[1, 1] = sel[2, 2] = 1.0
    for i, b in enumerate(model.report_base_years):
        sel[3 + i, 3 + model.cum_base_years.index(b)] = 1.0
    mean = sel @ a
    cov = sel @ p @ sel.T
    if not model.level_known:
        mean[0] = 0.0
        cov[0, :] = cov[:, 0] = 0.0
    cov = 0.5 * (cov + cov.T)
    return names, mean, cov


def annual_info_years(model: ChangeProcess) -> list[int]:
    """Years with direct information on that year's change: a change observation, or levels in
    that year and the year before."""
    levels = {o.year for o in model.obs if o.kind == "level"}
    changes = {o.year for o in model.obs if o.kind == "change"}
    return sorted(changes | {y for y in levels if y - 1 in levels})


def _annual_eps(model: ChangeProcess, res, theta) -> dict[int, float]:
    """Smoothed standardized AR shocks ``eps_t = E[w2_{t-1} | data] / sigma_noise`` on the years
    of :func:`annual_info_years` (``w`` at index i enters year ``start + i + 1``)."""
    dist = np.asarray(res.smoothed_state_disturbance)
    s_noise = float(np.exp(theta[1]))
    out = {}
    for y in annual_info_years(model):
        i = y - model.start - 1
        if 0 <= i < dist.shape[1]:
            out[int(y)] = float(dist[1, i] / s_noise)
    return out
