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
simulated with :func:`sim.engine.kernels.simulate_injected` from normals generated with the run's seed
(``A`` = draws 0..N-1 of block 0.., ``B`` = the next N), so the analysis is reproducible.
:func:`pick_freeze` works on any function (tests check it on the Ishigami function).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from sim.errors import SimError

KINDS = ("parameters", "initial state", "shocks")


# --------------------------------------------------------------------------------------------
# Generic estimator
# --------------------------------------------------------------------------------------------
@dataclass
class SobolIndices:
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
    fAB = []
    for g in names:
        cols = np.asarray(list(groups[g]), int)
        ABg = A.copy()
        ABg[:, cols] = B[:, cols]
        fAB.append(F(ABg))
    fAB = np.stack(fAB)                                   # (G, N, T)
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
def variate_groups(p, drivers: Sequence[str], *, keep: Sequence[str] | None = None,
                   pooled: bool = True) -> dict[str, list[int]]:
    """Columns of the normal-variate layout (:mod:`sim.engine.kernels`) by ``kind:driver``.

    ``p`` is the packed model (:class:`sim.engine.kernels.Packed`). Groups whose variates cannot act
    (zero Cholesky factor: parameter uncertainty off, a known state) are left out; ``keep``
    restricts the drivers. With ``pooled`` the three kinds are added as ``kind:all``.
    """
    D = len(drivers)
    S, _, Y = p.shift.shape
    H = int(p.h_on)
    keep = set(keep) if keep is not None else None
    out: dict[str, list[int]] = {}

    def add(kind, name, cols):
        if cols and (keep is None or name in keep):
            out[f"{kind}:{name}"] = list(cols)

    for d, name in enumerate(drivers):
        if np.any(p.par_chol[d] != 0):
            add("parameters", name, range(3 * d, 3 * d + 3))
    if H and np.any(p.h_chol != 0):
        add("parameters", "affordable_housing", range(3 * D, 3 * D + 2))
    for d, name in enumerate(drivers):
        n = int(p.st_n[d])
        if n and np.any(p.st_chol[d, :n, :n] != 0):
            add("initial state", name, range(int(p.st_off[d]), int(p.st_off[d]) + n))
    stride = 2 * D + H
    for d, name in enumerate(drivers):
        cols = []
        for t in range(Y):
            base = int(p.year_off) + t * stride
            cols += [base + d, base + D + d]
        add("shocks", name, cols)
    if H:
        add("shocks", "affordable_housing", [int(p.year_off) + t * stride + 2 * D for t in range(Y)])
    if pooled:
        for kind in KINDS:
            cols = sorted({c for g, cs in out.items() if g.startswith(kind + ":") for c in cs})
            if cols:
                out[f"{kind}:all"] = cols
    return out


def drivers_of(series: str, drivers: Sequence[str]) -> set[str]:
    """The simulated drivers a series is made of (itself, or its :data:`sim.model.COMPOSITION`)."""
    from sim.vocabulary import HOUSING_SERIES
    from sim.vocabulary import COMPOSITION

    if series == HOUSING_SERIES:
        return {"affordable_housing"}
    if series in COMPOSITION:
        return {d for d, _ in COMPOSITION[series] if d in drivers}
    return {series} & set(drivers)


@dataclass
class Sensitivity:
    target_ids: tuple[str, ...]
    p: np.ndarray                 # (T,) P(met) on A and B
    indices: SobolIndices
    scenario: str
    draws: int

    def table(self):
        import pandas as pd

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


def sensitivity(ctx, *, targets: Sequence[str] | None = None, scenario: str = "baseline",
                draws: int = 2000, bootstrap: int = 100, pooled: bool = True) -> Sensitivity:
    """Grouped Sobol indices of every chosen target's met indicator in one scenario."""
    from sim.engine import kernels
    from sim.engine.dispatch import make_checks, met_of
    from sim.engine.simulation import Simulation, driver_names, levers_from_spec, pack
    from sim.engine.rng import block_normals, split_seed
    from sim.analysis.sweep import scenario_spec

    run = ctx.sf.run
    fitted = ctx.fitted
    spec = scenario_spec(ctx, scenario)
    checks = make_checks(ctx.catalogue, [dict(spec.target_values)], targets=targets)
    lev = levers_from_spec(spec, fitted, run.horizon)
    p = pack(fitted, [lev], run.horizon, parameter_uncertainty=run.parameter_uncertainty,
             correlated_shocks=run.correlated_shocks)
    drivers = driver_names(fitted)
    n_var = int(p.n_var)
    N = int(draws)
    if N < 10:
        raise SimError(f"draws must be >= 10 for Sobol indices, got {N}")
    k0, k1 = split_seed(run.seed)

    def normals(first):
        out = np.empty((N, n_var))
        bs = run.block_size
        for i0 in range(first, first + N, bs):
            b, j = i0 // bs, i0 % bs
            n = min(bs - j, first + N - i0)
            out[i0 - first:i0 - first + n] = block_normals(k0, k1, b, j, n, n_var)
        return out

    A, B = normals(0), normals(N)
    S, _, Y = p.shift.shape
    D = len(drivers)
    nb = p.idx_cum.shape[1]
    cache: dict = {}

    def met(z):
        z = np.ascontiguousarray(z)
        n = z.shape[0]
        delta, level0 = np.empty((S, D, n, Y + 1)), np.empty((D, n))
        cum0, housing = np.empty((D, nb, n)), np.empty((S, n, Y + 1))
        kernels.simulate_injected(p, z, delta, level0, cum0, housing)
        sim = Simulation(years=np.arange(fitted.as_of, run.horizon + 1), drivers=drivers,
                         scenarios=(scenario,), base_years=tuple(fitted.base_years), delta=delta,
                         level0=level0, cum0=cum0, housing=housing, draws=n, seed=run.seed,
                         block_size=run.block_size)
        m, _, reasons = met_of(sim, fitted, checks)
        cache.setdefault("reasons", reasons)
        return m[0].T.astype(float)                       # (N, T)

    # only the drivers the chosen targets are made of can matter
    used = set()
    for row in checks.rows:
        s = row.get("series")
        if isinstance(s, str) and s:
            used |= drivers_of(s, drivers)
    groups = variate_groups(p, drivers, keep=sorted(used), pooled=pooled)
    if not groups:
        raise SimError("no uncertain input acts on the chosen targets (are they evaluable?)")
    ix = pick_freeze(met, A, B, groups, bootstrap=bootstrap, seed=int(run.seed) % 2 ** 32)
    reasons = cache.get("reasons", [""] * len(checks.rows))
    keep = [t for t, r in enumerate(reasons) if not r]
    if not keep:
        raise SimError("none of the chosen targets is evaluable: "
                       + "; ".join(f"{i}: {r}" for i, r in zip(checks.ids, reasons)))
    sub = SobolIndices(ix.groups, ix.first[:, keep], ix.total[:, keep], ix.first_se[:, keep],
                       ix.total_se[:, keep], ix.variance[keep], ix.mean[keep], ix.n)
    return Sensitivity(tuple(checks.ids[t] for t in keep), ix.mean[keep], sub, scenario, N)


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------
def tornado(sens: Sensitivity, t: int, path: Path, top: int = 12) -> Path:
    """Horizontal bars per group (pooled kinds excluded): total effect (light) and first order (dark)."""
    import matplotlib

    from sim.output.plots import _figure, save_png, style

    ix = sens.indices
    rows = [g for g, name in enumerate(ix.groups) if not name.endswith(":all")]
    rows = sorted(rows, key=lambda g: -np.nan_to_num(ix.total[g, t]))[:top][::-1]
    with matplotlib.rc_context(style()):
        fig = _figure(6.4, 1.2 + 0.32 * max(len(rows), 1))
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


def write_sensitivity(sens: Sensitivity, out: Path, *, force: bool = False, figures: bool = True) -> Path:
    from sim.output.folder import atomic_folder, check_writable

    out = Path(out)
    check_writable(out, force)
    with atomic_folder(out, force) as tmp:
        sens.table().to_csv(tmp / "sensitivity.csv", index=False)
        if figures:
            for t, tid in enumerate(sens.target_ids):
                if sens.indices.variance[t] > 0:
                    tornado(sens, t, tmp / "figures" / f"tornado_{tid}.png")
    return out


__all__ = ["pick_freeze", "variate_groups", "sensitivity", "Sensitivity", "SobolIndices",
           "tornado", "write_sensitivity", "summary_lines", "drivers_of"]
