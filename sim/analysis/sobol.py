"""Grouped Sobol indices by pick-freeze, and the container of ``sim sensitivity``'s results.

Estimator (Saltelli et al. 2010, *Comput. Phys. Commun.* 181:259, Table 2): two independent
matrices ``A, B`` (N, n_var) and, per group ``g``, ``AB_g`` = ``A`` with the columns of ``g``
taken from ``B``::

    V    = Var([f(A), f(B)])
    S_g  = mean(f(B) (f(AB_g) - f(A))) / V          first order (Saltelli 2010)
    ST_g = mean((f(A) - f(AB_g))^2) / (2 V)         total effect (Jansen 1999)

Standard errors by bootstrap over the N rows. :func:`pick_freeze` works on any function (tests
check it on the Ishigami function); :mod:`sim.analysis.sensitivity` applies it to the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from sim.analysis.labels import group_label
from sim.errors import SimError


# --------------------------------------------------------------------------------------------
# Generic estimator
# --------------------------------------------------------------------------------------------
@dataclass
class SobolIndices:
    """Grouped first-order and total Sobol indices (G groups, T outputs) with bootstrap SEs."""

    groups: tuple[str, ...]
    first: np.ndarray        # (G, T)
    total: np.ndarray        # (G, T)
    first_se: np.ndarray     # (G, T) bootstrap SE
    total_se: np.ndarray     # (G, T)
    variance: np.ndarray     # (T,)
    mean: np.ndarray         # (T,)
    n: int


def pick_freeze(f: Callable[[np.ndarray], np.ndarray], A: np.ndarray, B: np.ndarray,
                groups: Mapping[str, Sequence[int]], *, bootstrap: int = 100,
                seed: int = 0) -> SobolIndices:
    """Grouped first-order and total Sobol indices of ``f`` by pick-freeze.

    ``f`` maps inputs (N, d) to outputs (N,) or (N, T); ``A`` and ``B`` are independent samples
    (N, d) of independent inputs; ``groups`` maps a name to the input columns it holds.
    Indices are NaN for an output with zero variance.
    """
    A = np.ascontiguousarray(A, float)
    B = np.ascontiguousarray(B, float)
    if A.shape != B.shape or A.ndim != 2:
        raise SimError(f"A and B must be (N, d) of the same shape, got {A.shape} and {B.shape}")

    def F(x):
        y = np.asarray(f(x), float)
        return y[:, None] if y.ndim == 1 else y

    fA, fB = F(A), F(B)
    names = tuple(groups)
    outs = []
    for g in names:
        cols = np.asarray(list(groups[g]), int)
        ABg = A.copy()
        ABg[:, cols] = B[:, cols]
        outs.append(F(ABg))
    fAB = np.stack(outs)                                  # (G, N, T)
    N = A.shape[0]

    def est(idx):
        a, b, ab = fA[idx], fB[idx], fAB[:, idx]
        V = np.var(np.concatenate([a, b]), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            S = np.mean(b[None] * (ab - a[None]), axis=1) / V
            ST = 0.5 * np.mean((a[None] - ab) ** 2, axis=1) / V
        bad = ~(V > 0)
        S[:, bad] = np.nan
        ST[:, bad] = np.nan
        return S, ST, V

    S, ST, V = est(np.arange(N))
    rng = np.random.default_rng(seed)
    Sb, STb = [], []
    for _ in range(int(bootstrap)):
        s, st, _ = est(rng.integers(0, N, N))
        Sb.append(s)
        STb.append(st)
    if Sb:
        S_se, ST_se = _bootstrap_sd(np.stack(Sb)), _bootstrap_sd(np.stack(STb))
    else:
        S_se = ST_se = np.full_like(S, np.nan)
    mean = np.mean(np.concatenate([fA, fB]), axis=0)
    return SobolIndices(names, S, ST, S_se, ST_se, V, mean, N)


def _bootstrap_sd(x: np.ndarray) -> np.ndarray:
    """SD over the bootstrap axis 0 of (B, G, T) estimates, NaN where fewer than 2 are finite
    (an output with zero variance) — without numpy's "degrees of freedom" warning."""
    ok = np.isfinite(x)
    n = ok.sum(axis=0)
    mean = np.where(ok, x, 0.0).sum(axis=0) / np.maximum(n, 1)
    ss = np.where(ok, (x - mean) ** 2, 0.0).sum(axis=0)
    return np.where(n > 1, np.sqrt(ss / np.maximum(n - 1, 1)), np.nan)


@dataclass
class Sensitivity:
    """Grouped Sobol indices of the met indicator of every evaluable chosen target."""

    target_ids: tuple[str, ...]
    p: np.ndarray                 # (T,) P(met) on A and B
    indices: SobolIndices
    scenario: str
    draws: int
    texts: tuple[str, ...] = ()   # what each target asks, in words (titles)
    methods: tuple[str, ...] = ()  # what each P rests on (the run's method)

    def table(self) -> pd.DataFrame:
        """One row per (target, group): first-order and total index with bootstrap SEs (the raw
        estimates, which may fall below 0 by Monte Carlo error) and the group in words."""
        rows = []
        ix = self.indices
        for t, tid in enumerate(self.target_ids):
            for g, name in enumerate(ix.groups):
                kind, driver = name.split(":", 1)
                rows.append(dict(target_id=tid, group=name, kind=kind, driver=driver,
                                 first_order=ix.first[g, t], first_order_se=ix.first_se[g, t],
                                 total=ix.total[g, t], total_se=ix.total_se[g, t],
                                 p_met=self.p[t], n=ix.n, label=group_label(name)))
        return pd.DataFrame(rows)
