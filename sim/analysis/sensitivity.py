"""Which uncertain inputs drive each target's P(met): grouped Sobol indices on the kernel's normals.

Every draw is a deterministic function of its independent standard normals ``z`` (layout in
:mod:`sim.engine.kernels`): parameter variates, state-at-as_of variates and, per year, the level
innovations ``eta_d`` and the *pre-correlation* shocks ``z_d``. The output is the indicator
``Y = 1{target met}``, so ``Var(Y) = P (1 - P)`` and the indices split the Monte Carlo
uncertainty of "met or not" among groups of inputs. Groups (:func:`variate_groups`) are
``kind:driver`` with kind ``parameters`` (the driver's drawn theta; housing: mu, log sigma),
``initial state`` (level/mean/AR/cumulative states at as_of) and ``shocks`` (every year's
``eta_d`` and ``z_d``; housing: the yearly delivery-ratio normals); plus the three kinds pooled.

Estimator (pick-freeze, Saltelli et al. 2010, *Comput. Phys. Commun.* 181:259, Table 2):
two independent matrices ``A, B`` (N, n_var) and, per group ``g``, ``AB_g`` = ``A`` with the
columns of ``g`` taken from ``B``::

    V    = Var([f(A), f(B)])
    S_g  = mean(f(B) (f(AB_g) - f(A))) / V          first order (Saltelli 2010)
    ST_g = mean((f(A) - f(AB_g))^2) / (2 V)         total effect (Jansen 1999)

Cost: ``N (2 + G)`` draws; standard errors by bootstrap over the N rows. The draws are
simulated by :func:`sim.engine.simulation.simulate_given_normals` from the run's own normals
(:func:`sim.engine.simulation.run_normals`: ``A`` = draws 0..N-1, ``B`` = the next N), so the
analysis is reproducible, and "met" is decided by the one evaluator
(:class:`~sim.evaluation.EvaluationAccumulator`). :func:`pick_freeze` works on any function
(tests check it on the Ishigami function).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd

from sim.analysis.sweep import scenario_spec
from sim.engine.kernels import Packed
from sim.engine.simulation import driver_names, pack, run_normals, simulate_given_normals
from sim.ensemble import ensemble_of
from sim.errors import SimError
from sim.evaluation import EvaluationAccumulator, select_targets
from sim.output.folder import ResultsFolder
from sim.output.plots import new_figure, save_png, style
from sim.run.context import RunContext
from sim.vocabulary import COMPOSITION, HOUSING_LEVER, HOUSING_SERIES

KINDS = ("parameters", "initial state", "shocks")


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
        S_se, ST_se = np.nanstd(np.stack(Sb), axis=0, ddof=1), np.nanstd(np.stack(STb), axis=0, ddof=1)
    else:
        S_se = ST_se = np.full_like(S, np.nan)
    mean = np.mean(np.concatenate([fA, fB]), axis=0)
    return SobolIndices(names, S, ST, S_se, ST_se, V, mean, N)


# --------------------------------------------------------------------------------------------
# The model's inputs
# --------------------------------------------------------------------------------------------
def variate_groups(p: Packed, drivers: Sequence[str], *, keep: Sequence[str] | None = None,
                   pooled: bool = True) -> dict[str, list[int]]:
    """Columns of the normal-variate layout (:mod:`sim.engine.kernels`) by ``kind:driver``.

    ``p`` is the packed model (:class:`sim.engine.kernels.Packed`). Groups whose variates cannot act
    (zero Cholesky factor: parameter uncertainty off, a known state) are left out; ``keep``
    restricts the drivers. With ``pooled`` the three kinds are added as ``kind:all``.
    """
    wanted = set(keep) if keep is not None else None
    out = {f"{kind}:{name}": cols for kind, name, cols in _variate_columns(p, drivers)
           if cols and (wanted is None or name in wanted)}
    if pooled:
        for kind in KINDS:
            cols = sorted({c for g, cs in out.items() if g.startswith(kind + ":") for c in cs})
            if cols:
                out[f"{kind}:all"] = cols
    return out


def _variate_columns(p: Packed, drivers: Sequence[str]) -> list[tuple[str, str, list[int]]]:
    """``(kind, driver, columns)`` of every group of variates that can act."""
    D = len(drivers)
    Y = p.shift.shape[2]
    H = int(p.h_on)
    out = [("parameters", name, list(range(3 * d, 3 * d + 3)))
           for d, name in enumerate(drivers) if np.any(p.par_chol[d] != 0)]
    if H and np.any(p.h_chol != 0):
        out.append(("parameters", HOUSING_LEVER, list(range(3 * D, 3 * D + 2))))
    for d, name in enumerate(drivers):
        n, off = int(p.st_n[d]), int(p.st_off[d])
        if n and np.any(p.st_chol[d, :n, :n] != 0):
            out.append(("initial state", name, list(range(off, off + n))))
    stride = 2 * D + H
    bases = [int(p.year_off) + t * stride for t in range(Y)]
    for d, name in enumerate(drivers):
        out.append(("shocks", name, [c for base in bases for c in (base + d, base + D + d)]))
    if H:
        out.append(("shocks", HOUSING_LEVER, [base + 2 * D for base in bases]))
    return out


def drivers_of(series: str, drivers: Sequence[str]) -> set[str]:
    """The simulated drivers a series is made of (itself, or its :data:`sim.vocabulary.COMPOSITION`)."""
    if series == HOUSING_SERIES:
        return {HOUSING_LEVER}
    if series in COMPOSITION:
        return {d for d, _ in COMPOSITION[series] if d in drivers}
    return {series} & set(drivers)


@dataclass
class Sensitivity:
    """Grouped Sobol indices of the met indicator of every evaluable chosen target."""

    target_ids: tuple[str, ...]
    p: np.ndarray                 # (T,) P(met) on A and B
    indices: SobolIndices
    scenario: str
    draws: int

    def table(self) -> pd.DataFrame:
        """One row per (target, group): first-order and total index with bootstrap SEs."""
        rows = []
        ix = self.indices
        for t, tid in enumerate(self.target_ids):
            for g, name in enumerate(ix.groups):
                kind, driver = name.split(":", 1)
                rows.append(dict(target_id=tid, group=name, kind=kind, driver=driver,
                                 first_order=ix.first[g, t], first_order_se=ix.first_se[g, t],
                                 total=ix.total[g, t], total_se=ix.total_se[g, t],
                                 p_met=self.p[t], n=ix.n))
        return pd.DataFrame(rows)


def sensitivity(ctx: RunContext, *, targets: Sequence[str] | None = None,
                scenario: str = "baseline", draws: int = 2000, bootstrap: int = 100,
                pooled: bool = True) -> Sensitivity:
    """Grouped Sobol indices of every chosen target's met indicator in one scenario."""
    s, fitted = ctx.settings, ctx.fitted
    spec = scenario_spec(ctx, scenario)
    chosen = select_targets(ctx.catalogue, targets)
    ids = [t.id for t in chosen]
    lev = ctx.levers[ctx.scenario_names.index(scenario)]
    p = pack(fitted, [lev], s.horizon, parameter_uncertainty=s.parameter_uncertainty,
             correlated_shocks=s.correlated_shocks)
    drivers = driver_names(fitted)
    N = int(draws)
    if N < 10:
        raise SimError(f"draws must be >= 10 for Sobol indices, got {N}")
    A = run_normals(s.seed, s.block_size, 0, N, int(p.n_var))
    B = run_normals(s.seed, s.block_size, N, N, int(p.n_var))
    target_values = {scenario: dict(spec.target_values)}
    found: list[tuple[str, ...]] = []

    def met(z: np.ndarray) -> np.ndarray:
        sim = simulate_given_normals(fitted, [lev], z, horizon=s.horizon, seed=s.seed,
                                     block_size=s.block_size,
                                     parameter_uncertainty=s.parameter_uncertainty,
                                     correlated_shocks=s.correlated_shocks)
        acc = EvaluationAccumulator(chosen, [scenario], target_values, (), keep_draws=0,
                                    keep_met=True)
        acc.add(ensemble_of(sim, fitted))
        if not found:
            found.append(acc.reasons())
        return acc.met_array()[0].T.astype(float)          # (N, T)

    # only the drivers the chosen targets are made of can matter
    used: set[str] = set()
    for t in chosen:
        if t.series:
            used |= drivers_of(t.series, drivers)
    groups = variate_groups(p, drivers, keep=sorted(used), pooled=pooled)
    if not groups:
        raise SimError("no uncertain input acts on the chosen targets (are they evaluable?)")
    ix = pick_freeze(met, A, B, groups, bootstrap=bootstrap, seed=int(s.seed) % 2 ** 32)
    reasons = found[0] if found else ("",) * len(chosen)
    keep = [t for t, r in enumerate(reasons) if not r]
    if not keep:
        raise SimError("none of the chosen targets is evaluable: "
                       + "; ".join(f"{i}: {r}" for i, r in zip(ids, reasons)))
    sub = SobolIndices(ix.groups, ix.first[:, keep], ix.total[:, keep], ix.first_se[:, keep],
                       ix.total_se[:, keep], ix.variance[keep], ix.mean[keep], ix.n)
    return Sensitivity(tuple(ids[t] for t in keep), ix.mean[keep], sub, scenario, N)


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------
def tornado(sens: Sensitivity, t: int, path: Path, top: int = 12) -> Path:
    """Horizontal bars per group (pooled kinds excluded): total effect (light) and first order (dark)."""
    ix = sens.indices
    rows = [g for g, name in enumerate(ix.groups) if not name.endswith(":all")]
    rows = sorted(rows, key=lambda g: -np.nan_to_num(ix.total[g, t]))[:top][::-1]
    with matplotlib.rc_context(style()):
        fig = new_figure(6.4, 1.2 + 0.32 * max(len(rows), 1))
        ax = fig.subplots()
        y = np.arange(len(rows))
        ax.barh(y, [ix.total[g, t] for g in rows], color="#9ecae1", label="total effect",
                xerr=[ix.total_se[g, t] for g in rows], error_kw=dict(lw=0.6, capsize=2))
        ax.barh(y, [ix.first[g, t] for g in rows], height=0.45, color="#08519c", label="first order")
        ax.set_yticks(y)
        ax.set_yticklabels([ix.groups[g] for g in rows], fontsize=7.5)
        ax.set_xlim(min(0, np.nanmin([ix.first[g, t] for g in rows] + [0])) - 0.02, 1.0)
        ax.set_xlabel("Sobol index of 1{target met}")
        ax.legend(loc="lower right")
        ax.set_title(f"What drives P(met): {sens.target_ids[t]}\nP = {sens.p[t]:.2f}, "
                     f"'{sens.scenario}', N = {sens.draws} (pick-freeze, ±1 bootstrap s.e.)", fontsize=9)
        return save_png(fig, Path(path))


def summary_lines(sens: Sensitivity, top: int = 5) -> list[str]:
    """Per target: P(met), the pooled kinds and the ``top`` groups by total effect."""
    ix = sens.indices
    lines = []
    for t, tid in enumerate(sens.target_ids):
        lines.append(f"{tid}  (P(met) = {sens.p[t]:.3f})")
        if not np.isfinite(ix.variance[t]) or ix.variance[t] == 0:
            lines.append("  P(met) is 0 or 1 in these draws: no variance to split")
            continue
        pooled = [g for g, name in enumerate(ix.groups) if name.endswith(":all")]
        if pooled:
            lines.append("  by kind:   " + ", ".join(
                f"{ix.groups[g][:-4]} S1 {ix.first[g, t]:.2f} ST {ix.total[g, t]:.2f}" for g in pooled))
        fine = sorted((g for g, name in enumerate(ix.groups)
                       if not name.endswith(":all") and (ix.total[g, t] != 0 or ix.first[g, t] != 0)),
                      key=lambda g: -np.nan_to_num(ix.total[g, t]))[:top]
        lines.append(f"  {'group':34s} {'first':>7s} {'± se':>6s} {'total':>7s} {'± se':>6s}")
        for g in fine:
            lines.append(f"  {ix.groups[g]:34s} {ix.first[g, t]:7.3f} {ix.first_se[g, t]:6.3f} "
                         f"{ix.total[g, t]:7.3f} {ix.total_se[g, t]:6.3f}")
    return lines


def write_sensitivity(sens: Sensitivity, out: Path, *, force: bool = False, figures: bool = True,
                      ctx: RunContext | None = None) -> Path:
    """Write ``sensitivity.csv``, a tornado chart per target with variance and
    ``manifest.json`` into ``out`` atomically (:class:`~sim.output.folder.ResultsFolder`)."""
    with ResultsFolder(out, force=force, command="sensitivity") as folder:
        folder.csv("sensitivity.csv", sens.table())
        if figures:
            for t, tid in enumerate(sens.target_ids):
                if sens.indices.variance[t] > 0:
                    tornado(sens, t, folder.path / "figures" / f"tornado_{tid}.png")
        folder.manifest.update(scenario=sens.scenario, draws=int(sens.draws),
                               targets=list(sens.target_ids), groups=list(sens.indices.groups))
        if ctx is not None:
            s = ctx.settings
            folder.manifest.update(scenario_file=str(ctx.path), seed=s.seed, as_of=s.as_of,
                                   horizon=s.horizon, data_hash=ctx.fitted.data_hash)
    return Path(out)


__all__ = ["pick_freeze", "variate_groups", "sensitivity", "Sensitivity", "SobolIndices",
           "tornado", "write_sensitivity", "summary_lines", "drivers_of"]
