"""The outcome model: where outcomes land relative to their targets, by family.

Data: the plan records whose numbers are usable (:attr:`PlanRecord.outcome_usable`: an
improvement target with base, target and actual, a positive progress ratio, no excluding flag)
and known at ``as_of`` (:meth:`PlanRecord.known_at`). For record ``i`` of family ``f``::

    r_i = (actual_i − base_i) / (target_i − base_i)     (base 0 for rates of change: r = actual / target)
    x_i = ln r_i                                         (0 = exactly on target)

Model (normal–normal with per-family variances, empirical Bayes)::

    x_i | μ_f, σ_f² ~ Normal(μ_f, σ_f²)
    μ_f ~ Normal(m, τ²)                                  partial pooling of the family means
    σ_f² ~ Scaled-Inv-χ²(ν0, s0²)                         shrinkage of the family variances

Estimation:

* variances (as in limma): with ``d_f = n_f − 1`` and the sample variance ``s_f²`` (floored at
  :data:`S2_FLOOR`), ``s_f² / s0² ~ F(d_f, ν0)``; ``(ν0, s0²)`` maximise that likelihood over the
  families with ``d_f >= 1`` (``ν0`` in :data:`NU_BOUNDS`; with one such family, ``s0²`` is its
  variance and ``ν0`` = :data:`NU_DEFAULT`). Posterior:
  ``σ_f² | s_f² ~ Scaled-Inv-χ²(ν0 + d_f, (ν0 s0² + d_f s_f²) / (ν0 + d_f))``.
* means: ``x̄_f ~ Normal(m, τ² + v_f)`` with ``v_f = E[σ_f²] / n_f``; ``τ`` maximises the REML
  likelihood (``τ`` in ``[0, TAU_MAX]``; :data:`TAU_DEFAULT` with a single family);
  ``m̂ = Σ w_f x̄_f / Σ w_f``, ``w_f = 1 / (τ² + v_f)``, ``Var(m̂) = 1 / Σ w_f``. Posterior
  (Morris): ``B_f = v_f / (τ² + v_f)``,
  ``μ_f | data ~ Normal(x̄_f − B_f (x̄_f − m̂), v_f (1 − B_f) + B_f² Var(m̂))``.
* a family without records: ``μ ~ Normal(m̂, τ² + Var(m̂))``, ``σ² ~ Scaled-Inv-χ²(ν0, s0²)``.

Predictive for a new target of family ``f`` (parameter uncertainty included): draw μ and σ²
from their posteriors, then ``x = μ + σ ε``, ``ε ~ Normal(0, 1)``; ``r = exp(x)``. Its mean is
``E[μ_f]`` and its variance ``Var(μ_f) + E[σ_f²]``. (τ, ν0, s0²) are point estimates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

from sim.bounds import check_as_of
from sim.errors import SimError
from sim.plan_record.records import PlanRecord, known_by
from sim.vocabulary import FAMILIES

THIN_OUTCOMES = 5                  # a family with fewer usable outcomes is flagged thin
S2_FLOOR = 1.0e-4                  # sample variances below (1 % on the log scale)² are floored
NU_BOUNDS = (2.5, 1000.0)          # ν0 > 2: the predictive variance is finite
NU_DEFAULT = 4.0
TAU_MAX = 5.0
TAU_DEFAULT = 0.25


@dataclass(frozen=True)
class FamilyOutcomes:
    """The usable outcomes of one family: count, mean and sample variance of ``ln r``."""

    n: int
    mean: float
    var: float | None   # sample variance (ddof 1), None for a single record


@dataclass(frozen=True)
class OutcomePredictive:
    """The predictive distribution of ``x = ln r`` for a new target of ``family``.

    ``μ ~ Normal(mu_mean, mu_sd²)``, ``σ² ~ Scaled-Inv-χ²(sigma2_df, sigma2_scale)``,
    ``x | μ, σ² ~ Normal(μ, σ²)``.
    """

    family: str
    mu_mean: float
    mu_sd: float
    sigma2_df: float
    sigma2_scale: float
    n_family: int
    n_pooled: int
    thin: bool

    @property
    def sigma2_mean(self) -> float:
        """E[σ²] = df · scale / (df − 2)."""
        return self.sigma2_df * self.sigma2_scale / (self.sigma2_df - 2.0)

    @property
    def mean(self) -> float:
        """Predictive mean of ``ln r``."""
        return self.mu_mean

    @property
    def sd(self) -> float:
        """Predictive standard deviation of ``ln r`` (parameter and outcome uncertainty)."""
        return float(np.sqrt(self.mu_sd ** 2 + self.sigma2_mean))

    def sample_log_ratio(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of ``ln r`` (μ, σ² and ε drawn afresh for each)."""
        mu = rng.normal(self.mu_mean, self.mu_sd, size=n)
        sigma2 = self.sigma2_df * self.sigma2_scale / rng.chisquare(self.sigma2_df, size=n)
        return mu + np.sqrt(sigma2) * rng.standard_normal(n)

    def sample_ratio(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of the progress ratio ``r`` (1 = exactly on target)."""
        return np.exp(self.sample_log_ratio(n, rng))


@dataclass(frozen=True)
class OutcomeModel:
    """The fitted outcome model (see the module docstring for the equations)."""

    as_of: int | None
    m: float
    m_var: float
    tau: float
    nu0: float
    s0sq: float
    families: Mapping[str, FamilyOutcomes]
    n_pooled: int

    @classmethod
    def fit(cls, records: Iterable[PlanRecord], as_of: int | None = None) -> "OutcomeModel":
        """Fit on the usable outcomes known at ``as_of`` (all when None)."""
        recs = tuple(records)
        if as_of is not None:
            as_of = check_as_of(as_of)
            recs = known_by(recs, as_of)
        logs: dict[str, list[float]] = {}
        for r in recs:
            if r.outcome_usable:
                logs.setdefault(r.family, []).append(float(np.log(r.progress_ratio or np.nan)))
        if not logs:
            raise SimError(f"no plan records with a usable outcome known by {as_of} "
                           f"(nothing to fit the outcome model on)")
        fams = {f: FamilyOutcomes(len(x), float(np.mean(x)),
                                  float(np.var(x, ddof=1)) if len(x) > 1 else None)
                for f, x in sorted(logs.items())}
        nu0, s0sq = _fit_variances(fams)
        v = {f: _sigma2_posterior(fo, nu0, s0sq)[2] / fo.n for f, fo in fams.items()}
        tau = _fit_tau(fams, v)
        w = {f: 1.0 / (tau ** 2 + v[f]) for f in fams}
        m = sum(w[f] * fams[f].mean for f in fams) / sum(w.values())
        return cls(as_of, float(m), float(1.0 / sum(w.values())), tau, nu0, s0sq, fams,
                   sum(fo.n for fo in fams.values()))

    def predictive(self, family: str) -> OutcomePredictive:
        """The predictive distribution of ``ln r`` for a new target of ``family``."""
        if family not in FAMILIES and family not in self.families:
            raise SimError(f"unknown family '{family}' (expected one of {', '.join(FAMILIES)})")
        fo = self.families.get(family)
        if fo is None:
            return OutcomePredictive(family, self.m, float(np.sqrt(self.tau ** 2 + self.m_var)),
                                     self.nu0, self.s0sq, 0, self.n_pooled, True)
        df, scale, e_sigma2 = _sigma2_posterior(fo, self.nu0, self.s0sq)
        v = e_sigma2 / fo.n
        shrink = v / (self.tau ** 2 + v)
        mean = fo.mean - shrink * (fo.mean - self.m)
        var = v * (1 - shrink) + shrink ** 2 * self.m_var
        return OutcomePredictive(family, float(mean), float(np.sqrt(var)), df, scale, fo.n,
                                 self.n_pooled, fo.n < THIN_OUTCOMES)

    def summary(self) -> pd.DataFrame:
        """One row per family with outcomes: raw and pooled mean of ``ln r``, σ, predictive sd."""
        rows = []
        for family, fo in self.families.items():
            p = self.predictive(family)
            rows.append({"family": family, "n": fo.n, "raw_mean": fo.mean,
                         "raw_sd": float(np.sqrt(fo.var)) if fo.var is not None else float("nan"),
                         "mu": p.mu_mean, "mu_sd": p.mu_sd, "sigma": float(np.sqrt(p.sigma2_mean)),
                         "predictive_sd": p.sd, "thin": p.thin})
        return pd.DataFrame(rows)


def _sigma2_posterior(fo: FamilyOutcomes, nu0: float, s0sq: float) -> tuple[float, float, float]:
    """``(df, scale, E[σ²])`` of the family's Scaled-Inv-χ² posterior."""
    d = fo.n - 1
    s2 = max(fo.var, S2_FLOOR) if fo.var is not None else 0.0
    df = nu0 + d
    scale = (nu0 * s0sq + d * s2) / df
    return df, scale, df * scale / (df - 2.0)


def _fit_variances(fams: Mapping[str, FamilyOutcomes]) -> tuple[float, float]:
    """``(ν0, s0²)`` of the family variances (:func:`fit_variance_prior`)."""
    d = [fo.n - 1 for fo in fams.values() if fo.var is not None]
    s2 = [fo.var for fo in fams.values() if fo.var is not None]
    if not d:
        raise SimError("the outcome model needs a family with two or more usable outcomes "
                       "(none has)")
    return fit_variance_prior(d, s2)


def fit_variance_prior(dfs: Sequence[float], variances: Sequence[float]) -> tuple[float, float]:
    """``(ν0, s0²)`` of ``σ_f² ~ Scaled-Inv-χ²(ν0, s0²)`` from variance estimates ``s_f²`` with
    ``d_f`` degrees of freedom, by maximum likelihood of ``s_f² / s0² ~ F(d_f, ν0)`` (each
    ``s_f²`` floored at :data:`S2_FLOOR`; ``ν0`` in :data:`NU_BOUNDS`). With one estimate:
    ``(NU_DEFAULT, s_1²)``."""
    d = np.asarray(dfs, dtype=float)
    s2 = np.maximum(np.asarray(variances, dtype=float), S2_FLOOR)
    pooled = float(np.sum(d * s2) / np.sum(d))
    if len(d) == 1:
        return NU_DEFAULT, pooled

    def nll(z: np.ndarray) -> float:
        nu0, s0sq = np.exp(z[0]), np.exp(z[1])
        return -float(np.sum(stats.f.logpdf(s2 / s0sq, d, nu0) - np.log(s0sq)))

    lo, hi = np.log(NU_BOUNDS)
    res = optimize.minimize(nll, x0=np.array([np.log(10.0), np.log(pooled)]), method="L-BFGS-B",
                            bounds=[(lo, hi), (np.log(S2_FLOOR), np.log(100.0))])
    return float(np.exp(res.x[0])), float(np.exp(res.x[1]))


def _fit_tau(fams: Mapping[str, FamilyOutcomes], v: Mapping[str, float]) -> float:
    """τ maximising the REML likelihood of the family means."""
    if len(fams) < 2:
        return TAU_DEFAULT
    xbar = np.array([fo.mean for fo in fams.values()])
    vv = np.array([v[f] for f in fams])

    def neg_reml(tau: float) -> float:
        total = tau ** 2 + vv
        w = 1.0 / total
        m = np.sum(w * xbar) / np.sum(w)
        return 0.5 * float(np.sum(np.log(total)) + np.log(np.sum(w))
                           + np.sum(w * (xbar - m) ** 2))

    res = optimize.minimize_scalar(neg_reml, bounds=(0.0, TAU_MAX), method="bounded",
                                   options={"xatol": 1e-7})
    return float(res.x)
