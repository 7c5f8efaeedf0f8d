"""Lever sweeps: P(met) of every target over a grid or Latin hypercube of lever values.

A sweep point is one scenario (the ``[sweep].scenario`` of the file, default the baseline) with
the swept lever values set. Points are simulated as the *scenarios* of one engine call, so every
point reuses the same normals (common random numbers: the normals do not depend on levers) and
the differences between points carry no independent Monte Carlo noise. The model is calibrated
once (the :class:`~sim.run.context.RunContext`); points are grouped (``points_per_task``), draws
split into ranges, and every (group, range) is simulated and evaluated where it runs
(:func:`sim.evaluation.evaluate_range` dispatched by :func:`sim.engine.dispatch.map_ranges`),
locally or as dask tasks — the client never holds draws, only met counts.

``p_met`` is the run's headline probability (:mod:`sim.analysis.headline`): each point's trend
draws are combined with the run's plan-record draws and weights of the sweep's scenario (no new
pilot), so the point at the scenario's own lever values gives the run's probability; ``p_trend``
is the trend alone ("trends continue"). A target the run gives no probability is "not
evaluable"; one whose probability is the same at every point (e.g. past plans only) is "not
moved by any swept lever": listed, not drawn.

Output (:func:`sweep_dataset`): ``p_met``, ``mc_se`` and ``p_trend`` with dims
``(<lever axis>..., target)`` for a grid (one axis per swept lever, named by its path with
``.`` -> ``__``) or ``(point, target)`` for a Latin hypercube (the lever values as ``point``
coordinates); the ``method`` coordinate says what each probability rests on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import ValidationError
from scipy.stats import qmc

from sim.analysis.headline import (HEADLINE, METHOD_WORDS, NOT_EVALUABLE_WORDS, NOT_MOVED_WORDS,
                                   for_names, methods_of, run_record)
from sim.analysis.labels import plain, target_statement
from sim.analysis.sweep_plots import DEFAULT_PROBABILITY, plot_sweep
from sim.engine.dispatch import Scheduler, chunk_ranges, map_ranges
from sim.engine.simulation import ScenarioLevers, levers_from_spec
from sim.ensemble import write_netcdf
from sim.errors import SimError, did_you_mean
from sim.evaluation import EvaluationAccumulator, evaluate_range, select_targets
from sim.evaluation.record import RECORD_ONLY
from sim.output.folder import ResultsFolder
from sim.run.context import RunContext
from sim.scenario.read import resolved_toml
from sim.scenario.spec import LEVER_MODELS, SWEEP_PATHS, ScenarioSpec, SweepSpec


# --------------------------------------------------------------------------------------------
# Lever paths
# --------------------------------------------------------------------------------------------
def split_path(path: str) -> tuple[str, str]:
    """``"energy_intensity.shift_pp"`` -> ("energy_intensity", "shift_pp"); unknown paths raise."""
    if path not in SWEEP_PATHS:
        raise SimError(f"unknown lever path '{path}'{did_you_mean(path, SWEEP_PATHS)} "
                       f"(expected one of {', '.join(SWEEP_PATHS)})")
    driver, field = path.split(".", 1)
    return driver, field


_EXCLUSIVE = {"units_per_year": ("programme_units",), "shift_pp": ("path",)}


def with_levers(spec: ScenarioSpec, values: Mapping[str, float],
                name: str | None = None) -> ScenarioSpec:
    """``spec`` (a resolved :class:`~sim.scenario.spec.ScenarioSpec`) with lever values set.

    A driver without a lever gets one (``shift_pp`` over the whole horizon); an existing lever
    keeps its years. ``affordable_housing.units_per_year`` replaces ``programme_units``.
    Values are checked by the lever's model (e.g. ``shift_pp`` in -50..50).
    """
    levers: dict[str, Any] = dict(spec.levers)
    for path, value in values.items():
        driver, field = split_path(path)
        old = levers.get(driver)
        fields = old.model_dump(exclude_none=True) if old is not None else {}
        for other in _EXCLUSIVE.get(field, ()):
            fields.pop(other, None)
        fields[field] = int(round(value)) if field == "units_per_year" else float(value)
        try:
            levers[driver] = LEVER_MODELS[driver].model_validate(fields)
        except ValidationError as exc:
            msg = exc.errors(include_url=False)[0]["msg"]
            raise SimError(f"{path} = {value:g}: {msg}") from None
    return spec.model_copy(update={"levers": levers, "name": name or spec.name})


def scenario_spec(ctx: RunContext, scenario: str) -> ScenarioSpec:
    """The (usable) scenario ``scenario`` of the context; unknown names raise with a hint."""
    names = ctx.scenario_names
    if scenario not in names:
        raise SimError(f"unknown scenario '{scenario}'{did_you_mean(scenario, names)} "
                       f"(scenarios of {ctx.spec.path}: {', '.join(names)})")
    return ctx.scenarios[names.index(scenario)]


def point_levers(ctx: RunContext, scenario: str, paths: Sequence[str], points: np.ndarray,
                 names: Sequence[str] | None = None) -> list[ScenarioLevers]:
    """Engine levers of each point (rows of ``points``, (P, L) lever values of ``paths``)."""
    base = scenario_spec(ctx, scenario)
    out = []
    for i, row in enumerate(np.atleast_2d(points)):
        spec = with_levers(base, dict(zip(paths, map(float, row))),
                           name=names[i] if names else f"p{i:04d}")
        out.append(levers_from_spec(spec, ctx.fitted, ctx.settings.horizon))
    return out


# --------------------------------------------------------------------------------------------
# Design
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Design:
    """The sweep's points: lever paths, values (P, L) and, for a grid, the axis values."""

    paths: tuple[str, ...]
    points: np.ndarray                       # (P, L) lever values
    grid: tuple[tuple[float, ...], ...] | None = None   # axis values (grid) or None (lhs)


def design(sweep: SweepSpec, run_seed: int) -> Design:
    """Points of a ``[sweep]`` (:class:`~sim.scenario.spec.SweepSpec`): a full grid in C order (last lever
    fastest) or a Latin hypercube (scipy ``qmc.LatinHypercube``, seed ``sweep.seed`` or the run's)."""
    axes = sweep.axes()
    paths = tuple(axes)
    if sweep.method == "grid":
        mesh = np.meshgrid(*[np.asarray(v, float) for v in axes.values()], indexing="ij")
        pts = np.stack([m.ravel() for m in mesh], axis=1)
        return Design(paths, pts, tuple(tuple(v) for v in axes.values()))
    if sweep.points is None:
        raise SimError("sweep: method 'lhs' needs points (expected an integer >= 1)")
    seed = int(sweep.seed if sweep.seed is not None else run_seed) % 2 ** 32
    try:   # rng= since SciPy 1.15; seed= before (the same Generator: the same design)
        lhs = qmc.LatinHypercube(d=len(paths), rng=np.random.default_rng(seed))
    except TypeError:
        lhs = qmc.LatinHypercube(d=len(paths), seed=np.random.default_rng(seed))
    u = lhs.random(int(sweep.points))
    lo = np.array([axes[p][0] for p in paths])
    hi = np.array([axes[p][1] for p in paths])
    return Design(paths, lo + u * (hi - lo), None)


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------
@dataclass
class PointCounts:
    """Met counts of sweep points: ``met`` (P, T) draws meeting each target (the headline),
    ``trend_met`` (P, T) those of the trend alone, out of ``draws``; ``reasons`` per target why
    it is not evaluable ("" when it is); ``methods`` what each probability rests on."""

    target_ids: tuple[str, ...]
    met: np.ndarray
    draws: int
    reasons: tuple[str, ...]
    trend_met: np.ndarray | None = None
    methods: tuple[str, ...] = ()

    @property
    def p(self) -> np.ndarray:
        """P(met) (P, T); NaN where not evaluable."""
        p = self.met / max(self.draws, 1)
        bad = np.array([bool(r) for r in self.reasons], dtype=bool)
        return np.where(bad[None, :], np.nan, p)

    @property
    def se(self) -> np.ndarray:
        """Binomial standard error sqrt(P (1 - P) / draws), (P, T)."""
        p = self.p
        return np.sqrt(p * (1 - p) / max(self.draws, 1))


@dataclass
class SweepResult:
    """P(met) and its Monte Carlo error at every point of a sweep design."""

    design: Design
    target_ids: tuple[str, ...]
    p: np.ndarray            # (P, T) P(met), the headline; NaN where not evaluable
    se: np.ndarray           # (P, T) binomial SE
    met: np.ndarray          # (P, T) counts
    draws: int
    reasons: tuple[str, ...]
    scenario: str
    seconds: float = 0.0
    p_trend: np.ndarray | None = None    # (P, T) the trend alone; NaN without a trend
    methods: tuple[str, ...] = ()        # per target, its method (sim.evaluation.record)

    def moved(self) -> np.ndarray:
        """(T,) bool: evaluable and P(met) not the same at every point."""
        finite = np.isfinite(self.p)
        hi = np.where(finite, self.p, -np.inf).max(axis=0, initial=-np.inf)
        lo = np.where(finite, self.p, np.inf).min(axis=0, initial=np.inf)
        span = np.where(finite.any(axis=0), hi - lo, 0.0)
        return np.array([not r for r in self.reasons], bool) & (span > 1e-12)


def evaluate_points(ctx: RunContext, levers: Sequence[ScenarioLevers], targets: Sequence[str] | None,
                    *, scenario: str, draws: int, scheduler: Scheduler = None,
                    points_per_task: int = 4, chunk_draws: int | None = None,
                    progress: Callable[[int], object] | None = None) -> PointCounts:
    """Met counts of every point of ``levers`` (with scenario ``scenario``'s target values).

    Points are grouped ``points_per_task`` at a time; each group's draws are split into ranges
    of about ``chunk_draws`` (default: one block); every (group, range) is one task.
    """
    chosen = select_targets(ctx.catalogue, targets)
    ids = tuple(t.id for t in chosen)
    values = dict(scenario_spec(ctx, scenario).target_values)
    index = {lv.name: i for i, lv in enumerate(levers)}
    tv = {name: values for name in index}
    groups = [list(levers[i:i + points_per_task]) for i in range(0, len(levers), points_per_task)]
    bs = ctx.settings.block_size
    met = np.zeros((len(levers), len(ids)), np.int64)
    trend = np.zeros((len(levers), len(ids)), np.int64)
    reasons: list[tuple[str, ...]] = []
    record = run_record(ctx, scenario, chosen)
    points = for_names(record, scenario, list(index))

    def take(res: tuple[EvaluationAccumulator, None], first: int, n: int) -> None:
        acc = res[0]
        rows = [index[s] for s in acc.scenarios]
        met[rows] += acc.hit_counts(ids)
        trend[rows] += np.array([[acc.trend_hits.get((s, tid), 0) for tid in ids]
                                 for s in acc.scenarios], np.int64).reshape(len(rows), len(ids))
        if not reasons:
            reasons.append(acc.reasons(ids))
        if progress is not None:
            progress(n * len(rows))

    map_ranges(evaluate_range, chunk_ranges(draws, bs, int(chunk_draws or bs)),
               shared=(ctx.fitted,), items=groups,
               args=(ctx.settings, chosen, None, tv, (), 0, {}), kwargs={"record": points},
               scheduler=scheduler, on_result=take)
    trend_reasons = reasons[0] if reasons else ("",) * len(ids)
    methods, why = methods_of(record, scenario, ids, trend_reasons)
    trend_met = np.where(np.array([not r for r in trend_reasons], bool)[None, :], trend, -1)
    return PointCounts(ids, met, int(draws), why, trend_met, methods)


def run_sweep(ctx: RunContext, sweep: SweepSpec | None = None, *, draws: int | None = None,
              scheduler: Scheduler = None, targets: Sequence[str] | None = None,
              points_per_task: int = 4, chunk_draws: int | None = None,
              progress: Callable[[int], object] | None = None) -> SweepResult:
    """Run the file's ``[sweep]`` (or ``sweep``): P(met) per point and target."""
    sweep = sweep if sweep is not None else ctx.spec.sweep
    if sweep is None:
        raise SimError(f"{ctx.spec.path}: no [sweep] table (expected e.g. [sweep.levers] "
                       '"energy_intensity.shift_pp" = [-2.0, -1.0, 0.0])')
    t0 = time.perf_counter()
    d = design(sweep, ctx.settings.seed)
    draws = int(draws or ctx.settings.draws)
    levers = point_levers(ctx, sweep.scenario, d.paths, d.points)
    counts = evaluate_points(ctx, levers, targets, scenario=sweep.scenario, draws=draws,
                             scheduler=scheduler, points_per_task=points_per_task,
                             chunk_draws=chunk_draws, progress=progress)
    p_trend = (np.where(counts.trend_met >= 0, counts.trend_met / max(draws, 1), np.nan)
               if counts.trend_met is not None else None)
    return SweepResult(design=d, target_ids=counts.target_ids, p=counts.p, se=counts.se,
                       met=counts.met, draws=draws, reasons=counts.reasons,
                       scenario=sweep.scenario, seconds=time.perf_counter() - t0,
                       p_trend=p_trend, methods=counts.methods)


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------
def axis_name(path: str) -> str:
    """The Dataset dimension of a lever path (``.`` -> ``__``)."""
    return path.replace(".", "__")


def target_texts(ctx: RunContext, scenario: str, ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Indicator names and target statements (:func:`sim.analysis.labels.target_statement`, with
    the scenario's target values) of ``ids``."""
    values = dict(scenario_spec(ctx, scenario).target_values)
    chosen = select_targets(ctx.catalogue, list(ids))
    return ([t.indicator for t in chosen],
            [target_statement(t, values.get(t.id)) for t in chosen])


def sweep_dataset(res: SweepResult, ctx: RunContext | None = None,
                  probability: float = DEFAULT_PROBABILITY) -> xr.Dataset:
    """xarray Dataset of a sweep: ``p_met``, ``mc_se``, ``met_count`` over the grid axes (or
    ``point``) and ``target``; targets that are not evaluable are dropped and listed in attrs.
    With ``ctx``, the ``target_name`` and ``target_text`` coordinates say what each target asks;
    ``probability`` (an attribute) is the one the figures draw the contour of."""
    keep = ([t for t, r in enumerate(res.reasons) if not r] if res.reasons
            else list(range(len(res.target_ids))))
    ids = [res.target_ids[t] for t in keep]
    d = res.design
    data = {"p_met": res.p[:, keep], "mc_se": res.se[:, keep], "met_count": res.met[:, keep]}
    if res.p_trend is not None:
        data["p_trend"] = res.p_trend[:, keep]
    if d.grid is not None:
        dims = tuple(axis_name(p) for p in d.paths) + ("target",)
        shape = tuple(len(v) for v in d.grid) + (len(ids),)
        coords: dict = {axis_name(p): np.asarray(v, float) for p, v in zip(d.paths, d.grid)}
        coords["target"] = ids
        ds = xr.Dataset({k: (dims, v.reshape(shape)) for k, v in data.items()}, coords=coords)
    else:
        coords = {"point": np.arange(len(d.points)), "target": ids}
        for j, p in enumerate(d.paths):
            coords[axis_name(p)] = ("point", d.points[:, j])
        ds = xr.Dataset({k: (("point", "target"), v) for k, v in data.items()}, coords=coords)
    for p in d.paths:
        ds[axis_name(p)].attrs.update(long_name=p, units="pp/yr" if p.endswith("shift_pp") else "units/yr")
    ds["p_met"].attrs.update(long_name=f"{HEADLINE}: the trend at this point combined with the "
                                       "run's plan record where the run combines them", units="1")
    if "p_trend" in ds:
        ds["p_trend"].attrs.update(long_name="P(met) if trends continue (p_trend): the trend "
                                             "alone; NaN for a target without one", units="1")
    ds["mc_se"].attrs.update(long_name="Monte Carlo standard error of p_met", units="1")
    ds["met_count"].attrs.update(long_name="draws meeting the target", units="1")
    not_eval = {res.target_ids[t]: r for t, r in enumerate(res.reasons) if r}
    moved = res.moved()
    not_moved = [res.target_ids[t] for t in keep if not moved[t]]
    if res.methods:
        ds = ds.assign_coords(method=("target", [res.methods[t] for t in keep]))
        ds["method"].attrs.update(long_name="what the probability rests on (the run's method)")
    if ctx is not None and ids:
        names, texts = target_texts(ctx, res.scenario, ids)
        ds = ds.assign_coords(target_name=("target", names), target_text=("target", texts))
    ds.attrs.update(
        title="sim lever sweep", scenario=res.scenario, draws=int(res.draws),
        probability=float(probability),
        method="grid" if d.grid is not None else "lhs", levers=", ".join(d.paths),
        common_random_numbers=1, not_evaluable="; ".join(f"{k}: {v}" for k, v in not_eval.items()),
        not_moved_by_any_swept_lever=", ".join(not_moved),
        p_met_is="headline probability of the run (trend at each point combined with the run's "
                 "plan-record draws and weights; no new pilot)",
    )
    if ctx is not None:
        s = ctx.settings
        ds.attrs.update(seed=int(s.seed), as_of=int(s.as_of), horizon=int(s.horizon),
                        block_size=int(s.block_size), data_hash=ctx.fitted.data_hash,
                        scenario_resolved=resolved_toml(ctx.spec))
    return ds


def sweep_table(res: SweepResult) -> pd.DataFrame:
    """Long table: one row per (point, target) with the lever values, P(met) and its SE."""
    rows = []
    for i, pt in enumerate(res.design.points):
        for t, tid in enumerate(res.target_ids):
            if res.reasons and res.reasons[t]:
                continue
            row = {"point": i, **dict(zip(res.design.paths, map(float, pt))), "target_id": tid,
                   "p_met": float(res.p[i, t]), "mc_se": float(res.se[i, t])}
            if res.p_trend is not None:
                row["p_trend"] = float(res.p_trend[i, t])
            if res.methods:
                row["method"] = res.methods[t]
            rows.append(row)
    return pd.DataFrame(rows)


def write_sweep(res: SweepResult, ctx: RunContext, out: Path, *, force: bool = False,
                figures: bool = True, probability: float = DEFAULT_PROBABILITY) -> Path:
    """Write ``sweep.nc``, ``sweep.csv`` (long table), the figures (contour of ``probability``) and
    ``manifest.json`` into ``out`` atomically (:class:`~sim.output.folder.ResultsFolder`)."""
    ds = sweep_dataset(res, ctx, probability)
    with ResultsFolder(out, force=force, command="sweep") as folder:
        write_netcdf(ds, folder.file("sweep.nc"), dtype="float64")   # a full disk: one OSError
        folder.csv("sweep.csv", sweep_table(res))
        if figures:   # no flat picture of a target no swept lever moves: listed instead
            moved = [tid for tid, m in zip(res.target_ids, res.moved()) if m]
            plot_sweep(ds, folder.path / "figures", targets=moved)
        s = ctx.settings
        folder.manifest.update(
            scenario_file=str(ctx.path), scenario=res.scenario, levers=list(res.design.paths),
            method=ds.attrs["method"], points=len(res.design.points), draws=int(res.draws),
            probability=float(probability),
            seed=s.seed, as_of=s.as_of, horizon=s.horizon, block_size=s.block_size,
            data_hash=ctx.fitted.data_hash, targets=[t for t in ds["target"].values.tolist()])
    return Path(out)


def _listed(ids: Sequence[str], n: int = 5) -> str:
    return ", ".join(ids) if len(ids) <= n else f"{', '.join(ids[:n])}, ... ({len(ids)} in all)"


def summary_lines(res: SweepResult, max_targets: int = 12,
                  probability: float = DEFAULT_PROBABILITY) -> list[str]:
    """A short text summary: what P(met) is; per target moved by the levers, its range over the
    sweep, the best point and how many points reach ``probability``; then the targets no swept
    lever moves (by what their probability rests on) and those that are not evaluable."""
    lines = [f"sweep of {', '.join(res.design.paths)} on '{res.scenario}': "
             f"{len(res.design.points)} points × {res.draws:,} draws (common random numbers), "
             f"{res.seconds:.1f} s",
             f"  {HEADLINE} (trend at each point combined with the run's plan record, as in "
             "`sim run`); p_trend (trends continue) is in sweep.nc and sweep.csv"]
    moved = res.moved()
    level = f"{plain(100 * probability)} %"
    shown = [t for t in range(len(res.target_ids)) if moved[t]]
    for t in shown[:max_targets]:
        col = res.p[:, t]
        i = int(np.nanargmax(col))
        best = ", ".join(f"{p} = {plain(v)}" for p, v in zip(res.design.paths, res.design.points[i]))
        lines.append(f"  {res.target_ids[t]}: P(met) {np.nanmin(col):.3f}–{np.nanmax(col):.3f} "
                     f"(best at {best}); P ≥ {level} at {int(np.sum(col >= probability))} of "
                     f"{len(col)} points")
    if len(shown) > max_targets:
        lines.append(f"  ... and {len(shown) - max_targets} more moved by the levers (sweep.csv)")
    if not shown:
        lines.append("  no target's P(met) moves over the swept lever values")
    flat = [t for t in range(len(res.target_ids)) if not moved[t] and not res.reasons[t]]
    if flat:
        lines.append(f"  {NOT_MOVED_WORDS} ({len(flat)} target(s), no figure; sweep.nc attribute "
                     "'not_moved_by_any_swept_lever'):")
        by_method: dict[str, list[str]] = {}
        for t in flat:
            method = res.methods[t] if res.methods else ""
            by_method.setdefault(method, []).append(res.target_ids[t])
        for method, ids in by_method.items():
            why = ("no lever moves a probability that rests on the record alone"
                   if method == RECORD_ONLY else "the swept levers do not enter its trend")
            what = f"{METHOD_WORDS[method]} — {why}: " if method in METHOD_WORDS else ""
            lines.append(f"    {what}{_listed(ids)}")
    bad = [(tid, r) for tid, r in zip(res.target_ids, res.reasons) if r]
    for tid, why in bad[:5]:
        lines.append(f"  {tid}: {NOT_EVALUABLE_WORDS}: {why}")
    if len(bad) > 5:
        lines.append(f"  ... and {len(bad) - 5} more not evaluable (listed in sweep.nc, attribute "
                     "'not_evaluable')")
    return lines


__all__ = ["design", "evaluate_points", "target_texts", "plot_sweep", "point_levers", "run_sweep",
           "scenario_spec", "split_path", "summary_lines", "sweep_dataset", "sweep_table",
           "with_levers", "write_sweep", "Design", "PointCounts", "SweepResult"]
