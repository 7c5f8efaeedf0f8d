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
(:class:`~sim.evaluation.EvaluationAccumulator`) with the run's plan record of the scenario
(:mod:`sim.analysis.headline`), so ``Y`` is the met indicator of the run's headline
probability. The record's draws are one more input, the group ``record:plan record``: a column
holding the draw index (``A``: 0..N-1, ``B``: N..2N-1) that picks the record's keyed draws, so
a record-only target's uncertainty is all the record's and a combined target's is shared
between the trend's inputs and the record. The estimator is :func:`sim.analysis.sobol.pick_freeze`
(any function; tests check it on the Ishigami function); the chart and the printed summary, in
planners' words, are in :mod:`sim.analysis.sensitivity_report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from sim.analysis.headline import methods_of, run_record
from sim.analysis.labels import RECORD_GROUP, target_statement
from sim.analysis.sensitivity_report import rare_side, summary_lines, tornado
from sim.analysis.sobol import Sensitivity, SobolIndices, pick_freeze
from sim.analysis.sweep import scenario_spec
from sim.engine.kernels import Packed
from sim.engine.simulation import driver_names, pack, run_normals, simulate_given_normals
from sim.ensemble import ensemble_of
from sim.errors import SimError
from sim.evaluation import EvaluationAccumulator, select_targets
from sim.evaluation.record import RECORD_ONLY, TREND_RECORD
from sim.output.folder import ResultsFolder
from sim.run.context import RunContext
from sim.vocabulary import COMPOSITION, HOUSING_LEVER, HOUSING_SERIES

KINDS = ("parameters", "initial state", "shocks")


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
    record = run_record(ctx, scenario, chosen)
    n_var = int(p.n_var)
    # the draw index as one more input: it picks the record's keyed draws (A: 0..N-1, B: N..2N-1)
    A = np.hstack([run_normals(s.seed, s.block_size, 0, N, p), np.arange(N, dtype=float)[:, None]])
    B = np.hstack([run_normals(s.seed, s.block_size, N, N, p),
                   np.arange(N, 2 * N, dtype=float)[:, None]])
    target_values = {scenario: dict(spec.target_values)}
    found: list[tuple[str, ...]] = []

    def met(z: np.ndarray) -> np.ndarray:
        first = int(z[0, n_var])
        if not np.array_equal(z[:, n_var], first + np.arange(len(z))):
            raise SimError("the draw-index column must run consecutively")  # pick-freeze keeps it
        sim = simulate_given_normals(fitted, [lev], z[:, :n_var], horizon=s.horizon, seed=s.seed,
                                     block_size=s.block_size,
                                     parameter_uncertainty=s.parameter_uncertainty,
                                     correlated_shocks=s.correlated_shocks)
        acc = EvaluationAccumulator(chosen, [scenario], target_values, (), keep_draws=0,
                                    keep_met=True, record=record)
        acc.add(ensemble_of(sim, fitted), first_draw=first)
        if not found:
            found.append(acc.reasons())
        return acc.met_array()[0].T.astype(float)          # (N, T)

    # only the drivers the chosen targets are made of can matter, and the record where it enters
    used: set[str] = set()
    for t in chosen:
        if t.series:
            used |= drivers_of(t.series, drivers)
    groups = variate_groups(p, drivers, keep=sorted(used), pooled=pooled)
    if record is not None and any(
            (row := record.row(scenario, tid)) is not None and row.method in (TREND_RECORD, RECORD_ONLY)
            for tid in ids):
        groups[RECORD_GROUP] = [n_var]
    if not groups:
        raise SimError("no uncertain input acts on the chosen targets (are they evaluable?)")
    ix = pick_freeze(met, A, B, groups, bootstrap=bootstrap, seed=int(s.seed) % 2 ** 32)
    methods, why = methods_of(record, scenario, ids, found[0] if found else ("",) * len(chosen))
    keep = [t for t, r in enumerate(why) if not r]
    if not keep:
        raise SimError("none of the chosen targets is evaluable (the run gives them no "
                       "probability): " + "; ".join(f"{i}: {r}" for i, r in zip(ids, why)))
    sub = SobolIndices(ix.groups, ix.first[:, keep], ix.total[:, keep], ix.first_se[:, keep],
                       ix.total_se[:, keep], ix.variance[keep], ix.mean[keep], ix.n)
    texts = tuple(target_statement(chosen[t], spec.target_values.get(ids[t])) for t in keep)
    return Sensitivity(tuple(ids[t] for t in keep), ix.mean[keep], sub, scenario, N, texts,
                       tuple(methods[t] for t in keep))


# --------------------------------------------------------------------------------------------
# Output (the chart and the printed summary are in sim.analysis.sensitivity_report)
# --------------------------------------------------------------------------------------------
def write_sensitivity(sens: Sensitivity, out: Path, *, force: bool = False, figures: bool = True,
                      ctx: RunContext | None = None) -> Path:
    """Write ``sensitivity.csv``, a tornado chart per target with variance and
    ``manifest.json`` into ``out`` atomically (:class:`~sim.output.folder.ResultsFolder`)."""
    with ResultsFolder(out, force=force, command="sensitivity") as folder:
        folder.csv("sensitivity.csv", sens.table())
        if figures:
            for t, tid in enumerate(sens.target_ids):
                if sens.indices.variance[t] > 0 and not rare_side(sens, t):
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
