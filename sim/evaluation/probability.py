"""Probability statistics of "met": the comparator, the Wilson interval and the likelihood words.

``as_number`` / ``as_int`` (the one parser of number cells, :mod:`sim.numbers`) are re-exported
here for the evaluation's callers."""

from __future__ import annotations

import math

import numpy as np

from sim.numbers import as_int, as_number

__all__ = ["APPROX_TOLERANCE", "EQUAL_TOLERANCE", "LIKELIHOOD", "Z95", "as_int", "as_number",
           "compare", "likelihood_word", "wilson_interval"]

Z95 = 1.959963984540054

# IPCC AR5 calibrated language (Mastrandrea et al. 2010, guidance note for lead authors)
LIKELIHOOD = (
    (0.99, "virtually certain"),
    (0.90, "very likely"),
    (0.66, "likely"),
    (0.33, "about as likely as not"),
    (0.10, "unlikely"),
    (0.01, "very unlikely"),
    (0.0, "exceptionally unlikely"),
)

APPROX_TOLERANCE = 0.05  # relative, when the plan says 左右/约 and the catalogue gives none
EQUAL_TOLERANCE = 0.005  # relative, for "==" without a tolerance


def likelihood_word(p: float) -> str:
    """IPCC likelihood term for a probability (the most specific band that contains it)."""
    if not np.isfinite(p):
        return ""
    for lower, word in LIKELIHOOD:
        if p >= lower and lower > 0:
            return word
    return LIKELIHOOD[-1][1]


def wilson_interval(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``p`` observed in ``n`` trials."""
    if n <= 0 or not np.isfinite(p):
        return (math.nan, math.nan)
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # the interval contains p exactly (rounding put the upper end at 0.99999999 for p = 1)
    return (min(max(0.0, centre - half), p), max(min(1.0, centre + half), p))


def compare(x: np.ndarray, comparator: str, value: float, value_high: float | None,
            tolerance: float | None, approx_sense: str = "") -> np.ndarray:
    """Does the indicator meet the target? Boolean array of the shape of ``x``.

    Parameters
    ----------
    x : ndarray
        Indicator values (any shape).
    comparator : str
        ``">="``, ``"<="``, ``"approx"`` (within ``tolerance`` relative, default 5 %),
        ``"=="`` (default 0.5 %) or ``"range"`` (``value <= x <= value_high``).
    value, value_high, tolerance : float or None
        The target's value, upper value (range) and relative tolerance.
    approx_sense : str
        For ``"approx"``: ``"higher"`` (more is better: met at ``x >= v (1 − tol)``),
        ``"lower"`` (a control target: met at ``x <= v (1 + tol)``) or ``"both"`` / ``""``
        (two-sided: ``|x − v| <= tol |v|``).
    """
    if comparator == ">=":
        return x >= value
    if comparator == "<=":
        return x <= value
    if comparator in ("approx", "=="):
        tol = tolerance if tolerance is not None and np.isfinite(tolerance) else (
            APPROX_TOLERANCE if comparator == "approx" else EQUAL_TOLERANCE)
        if comparator == "approx" and approx_sense == "higher":
            return x >= value - tol * abs(value)
        if comparator == "approx" and approx_sense == "lower":
            return x <= value + tol * abs(value)
        return np.abs(x - value) <= tol * abs(value)
    if comparator == "range":
        return (x >= value) & (x <= value_high)
    raise ValueError(f"unknown comparator {comparator!r}")
