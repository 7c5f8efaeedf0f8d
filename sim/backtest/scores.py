"""Scoring rules for probability forecasts of targets and for ensemble forecasts of indicators.

Two kinds of forecast are scored in a backtest (:mod:`sim.backtest.hindcast`):

* a **probability** ``p`` that a target is met, against the binary outcome ``o ∈ {0, 1}``
  (Brier score, log score, reliability diagram);
* a **predictive distribution** of the indicator, given as an ensemble ``x_1 … x_m`` (the Monte
  Carlo draws), against the realised value ``y`` (CRPS, PIT, central-interval coverage).

All functions are vectorised over leading axes; the ensemble is the last axis. Scores are
negatively oriented (smaller is better) except coverage, which is compared with its nominal
level. The estimators agree with ``scoringrules`` (tests/test_scores.py, to 1e-10).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.evaluation import wilson_interval

LOG_EPS = 1e-3
"""Clipping of probabilities in the log score: ``p`` is taken as ``min(max(p, ε), 1 − ε)``.

A forecaster who says "certain" (P = 1, e.g. the plan-is-met reference, or an ensemble in which
every draw meets the target) and is wrong scores ``−ln ε = 6.91`` nats instead of infinity.
ε = 10⁻³ is below the Monte Carlo resolution of any backtest run (≥ 1000 draws gives
1/N ≤ 10⁻³), so it never clips a probability the ensemble can actually resolve into a
different number.
"""


def _asfloat(a) -> np.ndarray:
    return np.asarray(a, dtype=float)


# --------------------------------------------------------------------------------------------
# probability forecasts of a binary event
# --------------------------------------------------------------------------------------------
def brier_score(p, o) -> np.ndarray:
    """Brier score ``(p − o)²`` of a probability ``p`` for the event ``o ∈ {0, 1}``.

    Parameters
    ----------
    p, o : array_like, broadcastable
        Forecast probabilities in [0, 1] and outcomes (1 = target met, 0 = missed).

    Returns
    -------
    ndarray, the broadcast shape. 0 is perfect, 0.25 is the score of always saying ½.
    """
    p, o = _asfloat(p), _asfloat(o)
    return (p - o) ** 2


def log_score(p, o, eps: float = LOG_EPS) -> np.ndarray:
    """Logarithmic (ignorance) score in nats: ``−[o ln p̃ + (1 − o) ln(1 − p̃)]`` for ``o ∈ {0, 1}``.

    ``p̃ = clip(p, ε, 1 − ε)`` (see :data:`LOG_EPS`); ``eps = 0`` gives the unclipped score
    (infinite for a confident miss).
    """
    p, o = _asfloat(p), _asfloat(o)
    if eps:
        p = np.clip(p, eps, 1.0 - eps)
    with np.errstate(divide="ignore"):
        return -np.log(np.where(o == 1.0, p, 1.0 - p))


# --------------------------------------------------------------------------------------------
# ensemble forecasts of a real-valued quantity
# --------------------------------------------------------------------------------------------
def crps_ensemble(x, y) -> np.ndarray:
    """CRPS of the empirical distribution of an ensemble (energy form), in the unit of ``y``.

    .. math::

        \\mathrm{CRPS}(F_m, y) = \\frac1m \\sum_i |x_i - y|
            - \\frac1{2m^2} \\sum_{i,j} |x_i - x_j|,

    and with the ensemble sorted, :math:`x_{(1)} ≤ … ≤ x_{(m)}`,
    :math:`\\sum_{i,j} |x_i - x_j| = 2 \\sum_i (2i - m - 1)\\, x_{(i)}`, so the cost is
    O(m log m) instead of O(m²). This is the ``"nrg"`` estimator of scoringrules (the CRPS of
    the ensemble's own empirical CDF, not the "fair" estimator).

    Parameters
    ----------
    x : array_like, shape (..., m)
        Ensemble members (finite).
    y : array_like, shape (...)
        Realised values.

    Returns
    -------
    ndarray, shape (...)
    """
    x = np.sort(_asfloat(x), axis=-1)
    y = _asfloat(y)
    m = x.shape[-1]
    e_xy = np.mean(np.abs(x - y[..., None]), axis=-1)
    w = (2.0 * np.arange(1, m + 1) - m - 1.0)
    e_xx = 2.0 * np.sum(w * x, axis=-1) / (m * m)
    return e_xy - 0.5 * e_xx


def pit(x, y, rng: np.random.Generator | None = None) -> np.ndarray:
    """Probability integral transform of ``y`` under the ensemble's empirical CDF.

    ``PIT = F(y⁻) + U · (F(y) − F(y⁻))`` with ``F(y⁻) = mean(x < y)`` and
    ``F(y) = mean(x ≤ y)``; ``U = ½`` (mid-point, deterministic) unless ``rng`` is given, then
    ``U ~ Uniform(0, 1)`` (randomised PIT, exactly uniform for a calibrated forecast even with
    ties). For a calibrated forecaster PIT values are uniform on [0, 1].

    Parameters
    ----------
    x : array_like, shape (..., m)
    y : array_like, shape (...)
    """
    x, y = _asfloat(x), _asfloat(y)
    below = np.mean(x < y[..., None], axis=-1)
    at_or_below = np.mean(x <= y[..., None], axis=-1)
    u = 0.5 if rng is None else rng.uniform(size=np.shape(below))
    return below + u * (at_or_below - below)


def central_interval(x, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Central ``level`` interval of an ensemble: its ``(1 − level)/2`` and ``(1 + level)/2``
    quantiles (NumPy's default linear interpolation). ``x`` has shape (..., m)."""
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(_asfloat(x), [a, 1.0 - a], axis=-1)
    return lo, hi


def covered(lower, upper, y) -> np.ndarray:
    """``lower ≤ y ≤ upper`` (a closed interval), elementwise."""
    y = _asfloat(y)
    return (_asfloat(lower) <= y) & (y <= _asfloat(upper))


def coverage_tolerance(level: float, n: int, z: float = 2.5758293035489) -> float:
    """Half-width of the band in which the empirical coverage of ``n`` independent intervals of
    nominal ``level`` falls with probability ≈ 99 % (normal approximation to the binomial,
    ``z · sqrt(level (1 − level) / n)``)."""
    return z * math.sqrt(level * (1.0 - level) / n)


# --------------------------------------------------------------------------------------------
# uncertainty of a mean score, reliability
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BootstrapCI:
    """A bootstrap interval of a mean (per column): the mean over rows, its low and high
    percentile bounds, and how it was made."""

    mean: np.ndarray    # (k,) or scalar: the mean over rows
    low: np.ndarray
    high: np.ndarray
    n: int              # rows
    n_clusters: int     # resampled units
    n_boot: int
    level: float


def bootstrap_mean_ci(values, *, groups=None, n_boot: int = 2000, level: float = 0.95,
                      seed: int = 0) -> BootstrapCI:
    """Percentile bootstrap interval of the mean of ``values`` (rows × columns).

    Rows are resampled with replacement — whole clusters of rows when ``groups`` is given
    (a cluster bootstrap: the rows of one target at different origins share the same outcome and
    are far from independent). Every column uses the *same* resamples, so a column of
    differences between two forecasters gets the paired interval. The resample means of a
    cluster bootstrap are ``Σ_{c ∈ sample} S_c / Σ_{c ∈ sample} n_c`` (row-weighted).

    Parameters
    ----------
    values : array_like, shape (n,) or (n, k)
    groups : array_like, shape (n,), optional
        Cluster labels.
    n_boot : int
        Bootstrap resamples.
    level : float
        Interval level.
    seed : int
        Seed of the ``numpy.random.Generator`` (PCG64); the same seed gives the same interval.
    """
    v = _asfloat(values)
    one_d = v.ndim == 1
    if one_d:
        v = v[:, None]
    n = v.shape[0]
    if n == 0:
        nan = np.full(v.shape[1], np.nan)
        return BootstrapCI(nan, nan, nan, 0, 0, n_boot, level)
    if groups is None:
        codes = np.arange(n)
    else:
        _, codes = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    n_c = int(codes.max()) + 1
    sums = np.zeros((n_c, v.shape[1]))
    np.add.at(sums, codes, v)
    counts = np.bincount(codes, minlength=n_c).astype(float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_c, size=(n_boot, n_c))
    # multiplicity of each cluster in each resample: (n_boot, n_c)
    mult = np.zeros((n_boot, n_c))
    np.add.at(mult, (np.repeat(np.arange(n_boot), n_c), draws.ravel()), 1.0)
    boot = (mult @ sums) / (mult @ counts)[:, None]
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(boot, [a, 1.0 - a], axis=0)
    mean = v.mean(axis=0)
    if one_d:
        mean, lo, hi = mean[0], lo[0], hi[0]
    return BootstrapCI(mean, lo, hi, n, n_c, n_boot, level)


def reliability_bins(p, o, n_bins: int = 10) -> pd.DataFrame:
    """Reliability-diagram table: forecasts grouped into ``n_bins`` equal-width bins of [0, 1].

    Bin ``k`` holds ``k/n_bins ≤ p < (k+1)/n_bins`` (the last bin includes 1). Per bin: the
    number of forecasts, their mean probability, the observed frequency of the event and its
    Wilson 95 % interval. A calibrated forecaster has observed ≈ mean forecast in every bin.

    Returns
    -------
    pandas.DataFrame with columns ``bin_low, bin_high, n, mean_forecast, observed_freq,
    observed_low, observed_high`` (one row per bin, empty bins included with n = 0).
    """
    p, o = _asfloat(p), _asfloat(o)
    k = np.clip(np.floor(p * n_bins).astype(int), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        sel = k == b
        n = int(sel.sum())
        freq = float(o[sel].mean()) if n else math.nan
        lo, hi = wilson_interval(freq, n) if n else (math.nan, math.nan)
        rows.append(dict(bin_low=b / n_bins, bin_high=(b + 1) / n_bins, n=n,
                         mean_forecast=float(p[sel].mean()) if n else math.nan,
                         observed_freq=freq, observed_low=lo, observed_high=hi))
    return pd.DataFrame(rows)
