"""Correlation of the drivers' yearly shocks, shrunk toward the identity.

Input: the smoothed standardized AR shocks ``eps`` of the correlated drivers on the years where
each has annual information (:func:`sim.calibrate.statespace.annual_info_years`). Pairwise
Pearson correlations on overlapping years (``r_ij = 0`` with fewer than ``MIN_CORR_OVERLAP``
common years), shrunk toward the identity, ``R = (1 - lambda) R_hat + lambda I`` with the
Schäfer–Strimmer (2005) intensity ``lambda = sum_ij var(r_ij) / sum_ij r_ij^2``,
``var(r_ij) = (1 - r_ij^2)^2 / (n_ij - 1)``, clipped to [0, 1] and raised if needed until the
smallest eigenvalue is at least ``MIN_CORR_EIGENVALUE``.
"""

from __future__ import annotations

import numpy as np

MIN_CORR_OVERLAP = 5         # common years needed for a pairwise correlation
MIN_CORR_EIGENVALUE = 0.05   # smallest eigenvalue of the shrunk matrix


def _pairwise(eps: dict[str, dict[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Raw correlations ``r`` (K, K) and overlaps ``n`` (K, K) of the shocks in ``eps`` order."""
    names = list(eps)
    k = len(names)
    r = np.eye(k)
    n = np.zeros((k, k), int)
    for i in range(k):
        n[i, i] = len(eps[names[i]])
        for j in range(i + 1, k):
            years = sorted(set(eps[names[i]]) & set(eps[names[j]]))
            n[i, j] = n[j, i] = len(years)
            if len(years) >= MIN_CORR_OVERLAP:
                a = np.array([eps[names[i]][y] for y in years])
                b = np.array([eps[names[j]][y] for y in years])
                if a.std() > 0 and b.std() > 0:
                    r[i, j] = r[j, i] = float(np.corrcoef(a, b)[0, 1])
    return r, n


def shock_correlation(eps: dict[str, dict[int, float]]) -> tuple[np.ndarray, float, np.ndarray]:
    """Shrunk correlation of standardized shocks (see module docstring).

    Parameters
    ----------
    eps : dict
        ``{driver: {year: standardized shock}}``.

    Returns
    -------
    R : ndarray (K, K)
        The shrunk correlation matrix, for the names in ``eps`` order.
    lambda : float
        The shrinkage intensity.
    overlaps : ndarray (K, K) of int
        Common years of each pair (the diagonal: years of each driver).
    """
    r, n = _pairwise(eps)
    k = len(r)
    off = ~np.eye(k, dtype=bool) & (n >= MIN_CORR_OVERLAP)
    num = float(np.sum((1 - r[off] ** 2) ** 2 / np.maximum(n[off] - 1, 1)))
    den = float(np.sum(r[off] ** 2))
    lam = 1.0 if den <= 0 else min(1.0, num / den)
    while True:
        shrunk = (1 - lam) * r + lam * np.eye(k)
        if k == 0 or np.linalg.eigvalsh(shrunk).min() >= MIN_CORR_EIGENVALUE or lam >= 1:
            break
        lam = min(1.0, lam + 0.01)
    return shrunk, float(lam), n


def correlation_note(overlap: np.ndarray, lam: float) -> str:
    """The note recorded in ``FittedModel.notes``: overlaps and the shrinkage intensity."""
    k = len(overlap)
    offd = overlap[~np.eye(k, dtype=bool)]
    return (
        f"shock correlation: {k} drivers, pairwise overlaps "
        f"{int(offd.min()) if offd.size else 0}–{int(offd.max()) if offd.size else 0} years "
        f"(median {float(np.median(offd)) if offd.size else 0:g}); pairs with fewer than "
        f"{MIN_CORR_OVERLAP} common years set to 0; Schäfer–Strimmer shrinkage lambda = "
        f"{lam:.3f}")
