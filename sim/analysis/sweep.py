"""Lever sweeps: P(met) of every target over a grid or Latin hypercube of lever values.

A sweep point is one scenario (the ``[sweep].scenario`` of the file, default the baseline) with
the swept lever values set. Points are simulated as the *scenarios* of one engine call, so every
point reuses the same normals (common random numbers: the normals do not depend on levers) and
the differences between points carry no independent Monte Carlo noise. The model is calibrated
once; points are grouped (``points_per_task``) and draws split into ranges, and each
(group, range) is reduced to met counts where it is simulated (:mod:`sim.engine.dispatch`), locally
or as dask tasks — the client never holds draws.

Output (:func:`sweep_dataset`): ``p_met`` and ``mc_se`` with dims ``(<lever axis>..., target)``
for a grid (one axis per swept lever, named by its path with ``.`` -> ``__``) or
``(point, target)`` for a Latin hypercube (the lever values as ``point`` coordinates).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from sim.errors import SimError


# --------------------------------------------------------------------------------------------
# Context: a scenario file, its targets and the fitted model (calibrated once)
# --------------------------------------------------------------------------------------------
@dataclass
class Context:
    sf: object            # sim.scenario.spec.ScenarioFile
    catalogue: object     # pandas DataFrame of the run's target sets
    fitted: object        # sim.model.FittedModel


def base_years_for(catalogue, as_of: int) -> list[int]:
    """Base years the fitted model needs for the catalogue (as :func:`sim.run.pipeline.simulate_file`)."""
    return sorted({int(b) for b in catalogue["base_year"].dropna() if int(b) < as_of}
                  | {int(p) - 1 for p in catalogue["period_start"].dropna() if int(p) - 1 < as_of})


def load_context(path, *, overrides: Mapping | None = None, data_dir=None, fitted=None) -> Context:
    """Read the scenario file, its target catalogue, and calibrate (or reuse) the model once."""
    from sim.calibrate.cache import load_or_calibrate
    from sim.scenario.read import load_scenario_file
    from sim.targets import targets_for_sets

    sf = load_scenario_file(path, overrides=dict(overrides or {}) or None)
    catalogue = targets_for_sets(list(sf.run.target_sets))
    if fitted is None:
        fitted = load_or_calibrate(sf.run.as_of, sf.run.vintage, data_dir=data_dir,
                                   base_years=base_years_for(catalogue, sf.run.as_of))
    return Context(sf=sf, catalogue=catalogue, fitted=fitted)


# --------------------------------------------------------------------------------------------
# Lever paths
# --------------------------------------------------------------------------------------------
def split_path(path: str) -> tuple[str, str]:
    """``"energy_intensity.shift_pp"`` -> ("energy_intensity", "shift_pp"); unknown paths raise."""
    from sim.errors import did_you_mean
    from sim.scenario.spec import SWEEP_PATHS

    if path not in SWEEP_PATHS:
        raise SimError(f"unknown lever path '{path}'{did_you_mean(path, SWEEP_PATHS)} "
                       f"(expected one of {', '.join(SWEEP_PATHS)})")
    driver, field = path.split(".", 1)
    return driver, field


_EXCLUSIVE = {"units_per_year": ("programme_units",), "shift_pp": ("path",)}


def with_levers(spec, values: Mapping[str, float], name: str | None = None):
    """``spec`` (a resolved :class:`~sim.scenario.spec.ScenarioSpec`) with lever values set.

    A driver without a lever gets one (``shift_pp`` over the whole horizon); an existing lever
    keeps its years. ``affordable_housing.units_per_year`` replaces ``programme_units``.
    Values are checked by the lever's model (e.g. ``shift_pp`` in -50..50).
    """
    from pydantic import ValidationError

    from sim.scenario.spec import LEVER_MODELS

    levers = dict(spec.levers)
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


def point_levers(ctx: Context, scenario: str, paths: Sequence[str], points: np.ndarray,
                 names: Sequence[str] | None = None):
    """Engine levers (:class:`~sim.engine.simulation.ScenarioLevers`) of each point (rows of ``points``)."""
    from sim.engine.simulation import levers_from_spec

    base = scenario_spec(ctx, scenario)
    out = []
    for i, row in enumerate(np.atleast_2d(points)):
        spec = with_levers(base, dict(zip(paths, map(float, row))),
                           name=names[i] if names else f"p{i:04d}")
        out.append(levers_from_spec(spec, ctx.fitted, ctx.sf.run.horizon))
    return out


def scenario_spec(ctx: Context, scenario: str):
    from sim.errors import did_you_mean

    if scenario not in ctx.sf.scenarios:
        raise SimError(f"unknown scenario '{scenario}'{did_you_mean(scenario, ctx.sf.scenarios)} "
                       f"(scenarios of {ctx.sf.path}: {', '.join(ctx.sf.scenarios)})")
    return ctx.sf.scenarios[scenario]


# --------------------------------------------------------------------------------------------
# Design
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Design:
    paths: tuple[str, ...]
    points: np.ndarray                       # (P, L) lever values
    grid: tuple[tuple[float, ...], ...] | None = None   # axis values (grid) or None (lhs)


def design(sweep, run_seed: int) -> Design:
    """Points of a ``[sweep]`` (:class:`~sim.scenario.spec.SweepSpec`): a full grid in C order (last lever
    fastest) or a Latin hypercube (scipy ``qmc.LatinHypercube``, seed ``sweep.seed`` or the run's)."""
    axes = sweep.axes()
    paths = tuple(axes)
    if sweep.method == "grid":
        mesh = np.meshgrid(*[np.asarray(v, float) for v in axes.values()], indexing="ij")
        pts = np.stack([m.ravel() for m in mesh], axis=1)
        return Design(paths, pts, tuple(tuple(v) for v in axes.values()))
    from scipy.stats import qmc

    seed = int(sweep.seed if sweep.seed is not None else run_seed) % 2 ** 32
    u = qmc.LatinHypercube(d=len(paths), rng=np.random.default_rng(seed)).random(int(sweep.points))
    lo = np.array([axes[p][0] for p in paths])
    hi = np.array([axes[p][1] for p in paths])
    return Design(paths, lo + u * (hi - lo), None)


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    design: Design
    target_ids: tuple[str, ...]
    p: np.ndarray            # (P, T) P(met); NaN where not evaluable
    se: np.ndarray           # (P, T) binomial SE
    met: np.ndarray          # (P, T) counts
    draws: int
    reasons: tuple[str, ...]
    scenario: str
    seconds: float = 0.0


def evaluate_points(ctx: Context, levers, checks, *, draws: int, scheduler=None,
                    points_per_task: int = 4, chunk_draws: int | None = None,
                    progress: Callable[[int], object] | None = None):
    """Tally (met counts) of every point of ``levers``, (P, T) counts and the draws.

    Points are grouped ``points_per_task`` at a time; each group's draws are split into ranges
    of about ``chunk_draws`` (default: one block). Returns a :class:`sim.engine.dispatch.Tally`
    stacked over points (met (P, T)).
    """
    from sim.engine.dispatch import Checks, Tally, _dask, connect, draw_ranges, tally_range

    run = ctx.sf.run
    P = len(levers)
    groups = [list(range(i, min(i + points_per_task, P))) for i in range(0, P, points_per_task)]
    chunk = int(chunk_draws or run.block_size)
    ranges = draw_ranges(draws, run.block_size, max(1, -(-int(draws) // chunk)))
    kw = dict(horizon=run.horizon, seed=run.seed, block_size=run.block_size,
              parameter_uncertainty=run.parameter_uncertainty,
              correlated_shocks=run.correlated_shocks)
    T = len(checks.rows)
    met = np.zeros((P, T), np.int64)
    reasons: tuple[str, ...] = ()

    def group_checks(g):
        return Checks(rows=checks.rows, values=np.repeat(checks.values[:1], len(g), axis=0))

    if scheduler is None:
        for g in groups:
            for a, n in ranges:
                t = tally_range(ctx.fitted, [levers[i] for i in g], group_checks(g),
                                first_draw=a, draws=n, **kw)
                met[g] += t.met
                reasons = reasons or t.reasons
                if progress is not None:
                    progress(n * len(g))
        return Tally(met, int(draws), reasons=reasons)
    with connect(scheduler) as client:
        distributed = _dask()
        threads = getattr(client, "_sim_threads", None)
        fit_f = client.scatter(ctx.fitted, broadcast=True)
        futs, scattered = {}, []   # keep the scattered levers referenced until every task ran
        for g in groups:
            lev_f = client.scatter([levers[i] for i in g])
            scattered.append(lev_f)
            for a, n in ranges:
                futs[client.submit(tally_range, fit_f, lev_f, group_checks(g), first_draw=a,
                                   draws=n, threads=threads, pure=False, **kw)] = (g, n)
        for fut in distributed.as_completed(futs):
            g, n = futs[fut]
            t = fut.result()
            fut.release()
            met[g] += t.met
            reasons = reasons or t.reasons
            if progress is not None:
                progress(n * len(g))
    return Tally(met, int(draws), reasons=reasons)


def run_sweep(ctx: Context, sweep=None, *, draws: int | None = None, scheduler=None,
              targets: Sequence[str] | None = None, points_per_task: int = 4,
              chunk_draws: int | None = None, progress=None) -> SweepResult:
    """Run the file's ``[sweep]`` (or ``sweep``): P(met) per point and target."""
    from sim.engine.dispatch import make_checks

    sweep = sweep if sweep is not None else ctx.sf.sweep
    if sweep is None:
        raise SimError(f"{ctx.sf.path}: no [sweep] table (expected e.g. [sweep.levers] "
                       '"energy_intensity.shift_pp" = [-2.0, -1.0, 0.0])')
    t0 = time.perf_counter()
    d = design(sweep, ctx.sf.run.seed)
    draws = int(draws or ctx.sf.run.draws)
    levers = point_levers(ctx, sweep.scenario, d.paths, d.points)
    base = scenario_spec(ctx, sweep.scenario)
    checks = make_checks(ctx.catalogue, [dict(base.target_values)], targets=targets)
    tally = evaluate_points(ctx, levers, checks, draws=draws, scheduler=scheduler,
                            points_per_task=points_per_task, chunk_draws=chunk_draws,
                            progress=progress)
    return SweepResult(design=d, target_ids=checks.ids, p=tally.p, se=tally.se, met=tally.met,
                       draws=draws, reasons=tally.reasons, scenario=sweep.scenario,
                       seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------
def axis_name(path: str) -> str:
    return path.replace(".", "__")


def sweep_dataset(res: SweepResult, ctx: Context | None = None):
    """xarray Dataset of a sweep: ``p_met``, ``mc_se``, ``met_count`` over the grid axes (or
    ``point``) and ``target``; targets that are not evaluable are dropped and listed in attrs."""
    import xarray as xr

    keep = [t for t, r in enumerate(res.reasons) if not r] if res.reasons else list(range(len(res.target_ids)))
    ids = [res.target_ids[t] for t in keep]
    d = res.design
    data = {"p_met": res.p[:, keep], "mc_se": res.se[:, keep], "met_count": res.met[:, keep]}
    if d.grid is not None:
        dims = tuple(axis_name(p) for p in d.paths) + ("target",)
        shape = tuple(len(v) for v in d.grid) + (len(ids),)
        coords = {axis_name(p): np.asarray(v, float) for p, v in zip(d.paths, d.grid)}
        coords["target"] = ids
        ds = xr.Dataset({k: (dims, v.reshape(shape)) for k, v in data.items()}, coords=coords)
    else:
        coords = {"point": np.arange(len(d.points)), "target": ids}
        for j, p in enumerate(d.paths):
            coords[axis_name(p)] = ("point", d.points[:, j])
        ds = xr.Dataset({k: (("point", "target"), v) for k, v in data.items()}, coords=coords)
    for p in d.paths:
        ds[axis_name(p)].attrs.update(long_name=p, units="pp/yr" if p.endswith("shift_pp") else "units/yr")
    ds["p_met"].attrs.update(long_name="probability that the target is met", units="1")
    ds["mc_se"].attrs.update(long_name="Monte Carlo standard error of p_met", units="1")
    ds["met_count"].attrs.update(long_name="draws meeting the target", units="1")
    not_eval = {res.target_ids[t]: r for t, r in enumerate(res.reasons) if r}
    ds.attrs.update(
        title="sim lever sweep", scenario=res.scenario, draws=int(res.draws),
        method="grid" if d.grid is not None else "lhs", levers=", ".join(d.paths),
        common_random_numbers=1, not_evaluable="; ".join(f"{k}: {v}" for k, v in not_eval.items()),
    )
    if ctx is not None:
        from sim.scenario.read import resolved_toml

        run = ctx.sf.run
        ds.attrs.update(seed=int(run.seed), as_of=int(run.as_of), horizon=int(run.horizon),
                        block_size=int(run.block_size), data_hash=ctx.fitted.data_hash,
                        scenario_resolved=resolved_toml(ctx.sf))
    return ds


def plot_sweep(ds, folder: Path, targets: Sequence[str] | None = None) -> list[Path]:
    """One PNG per target: line plot (1 lever, ±2 SE band), heat map with the 50 % and 90 %
    contours (2-lever grid; other grids are shown at their first two axes, the rest at the
    middle value), or a scatter coloured by P(met) (Latin hypercube)."""
    import matplotlib

    from sim.output.plots import _figure, save_png, style

    folder = Path(folder)
    out = []
    levers = [c for c in ds["p_met"].dims if c not in ("target", "point")]
    lhs = "point" in ds["p_met"].dims
    if lhs:
        levers = [str(ds.attrs.get("levers", "")).split(", ")[i].replace(".", "__")
                  for i in range(len(str(ds.attrs.get("levers", "")).split(", ")))]
    for tid in (targets or [str(t) for t in ds["target"].values]):
        p = ds["p_met"].sel(target=tid)
        se = ds["mc_se"].sel(target=tid)
        with matplotlib.rc_context(style()):
            fig = _figure(6.4, 4.4)
            ax = fig.subplots()
            if lhs:
                x = ds[levers[0]].values
                if len(levers) >= 2:
                    sc = ax.scatter(x, ds[levers[1]].values, c=p.values, cmap="RdYlGn", vmin=0, vmax=1, s=28)
                    fig.colorbar(sc, ax=ax, label="P(met)")
                    ax.set_ylabel(ds[levers[1]].attrs.get("long_name", levers[1]))
                else:
                    order = np.argsort(x)
                    ax.plot(x[order], p.values[order], "o-", ms=3)
                    ax.set_ylabel("P(met)")
                    ax.set_ylim(-0.02, 1.02)
                ax.set_xlabel(ds[levers[0]].attrs.get("long_name", levers[0]))
            elif len(levers) == 1:
                x = ds[levers[0]].values
                ax.fill_between(x, np.clip(p - 2 * se, 0, 1), np.clip(p + 2 * se, 0, 1), alpha=0.25,
                                label="±2 MC s.e.")
                ax.plot(x, p.values, "o-", ms=3, label="P(met)")
                for level, ls in ((0.5, "--"), (0.9, ":")):
                    ax.axhline(level, color="grey", lw=0.8, ls=ls)
                ax.set_ylim(-0.02, 1.02)
                ax.set_xlabel(ds[levers[0]].attrs.get("long_name", levers[0]))
                ax.set_ylabel("P(met)")
                ax.legend(loc="best")
            else:
                extra = {d: ds.sizes[d] // 2 for d in levers[2:]}
                q = p.isel(extra) if extra else p
                x, y = ds[levers[0]].values, ds[levers[1]].values
                z = q.transpose(levers[1], levers[0]).values
                mesh = ax.pcolormesh(x, y, z, cmap="RdYlGn", vmin=0, vmax=1, shading="nearest")
                fig.colorbar(mesh, ax=ax, label="P(met)")
                levels = [(v, ls) for v, ls in ((0.5, "--"), (0.9, "-"))
                          if np.nanmin(z) < v < np.nanmax(z)]
                if len(x) >= 2 and len(y) >= 2 and levels:
                    cs = ax.contour(x, y, z, levels=[v for v, _ in levels], colors="k",
                                    linestyles=[ls for _, ls in levels], linewidths=1.0)
                    ax.clabel(cs, fmt={0.5: "50%", 0.9: "90%"}, fontsize=8)
                ax.set_xlabel(ds[levers[0]].attrs.get("long_name", levers[0]))
                ax.set_ylabel(ds[levers[1]].attrs.get("long_name", levers[1]))
                ax.grid(False)
            ax.set_title(f"P(met): {tid}\n{ds.attrs.get('scenario', '')}, {ds.attrs.get('draws', '')} draws, "
                         "common random numbers", fontsize=9)
            out.append(save_png(fig, folder / f"sweep_{tid}.png"))
    return out


def write_sweep(res: SweepResult, ctx: Context, out: Path, *, force: bool = False,
                figures: bool = True) -> Path:
    """Write ``sweep.nc``, ``sweep.csv`` (long table) and the figures into ``out`` atomically."""
    from sim.output.folder import atomic_folder, check_writable

    out = Path(out)
    check_writable(out, force)
    ds = sweep_dataset(res, ctx)
    with atomic_folder(out, force) as tmp:
        ds.to_netcdf(tmp / "sweep.nc", engine="h5netcdf",
                     encoding={k: {"zlib": True, "complevel": 4} for k in ds.data_vars})
        sweep_table(res).to_csv(tmp / "sweep.csv", index=False)
        if figures:
            plot_sweep(ds, tmp / "figures")
    return out


def sweep_table(res: SweepResult):
    """Long table: one row per (point, target) with the lever values, P(met) and its SE."""
    import pandas as pd

    rows = []
    for i, pt in enumerate(res.design.points):
        for t, tid in enumerate(res.target_ids):
            if res.reasons and res.reasons[t]:
                continue
            rows.append({"point": i, **dict(zip(res.design.paths, map(float, pt))), "target_id": tid,
                         "p_met": float(res.p[i, t]), "mc_se": float(res.se[i, t])})
    return pd.DataFrame(rows)


def summary_lines(res: SweepResult, max_targets: int = 12) -> list[str]:
    """A short text summary: per target, the P(met) range over the sweep and the best point."""
    lines = [f"sweep of {', '.join(res.design.paths)} on '{res.scenario}': "
             f"{len(res.design.points)} points × {res.draws} draws (common random numbers), "
             f"{res.seconds:.1f} s"]
    shown = 0
    for t, tid in enumerate(res.target_ids):
        if res.reasons and res.reasons[t]:
            continue
        col = res.p[:, t]
        if np.nanmax(col) - np.nanmin(col) < 1e-12:
            continue
        i = int(np.nanargmax(col))
        best = ", ".join(f"{p}={v:g}" for p, v in zip(res.design.paths, res.design.points[i]))
        lines.append(f"  {tid}: P(met) {np.nanmin(col):.3f}–{np.nanmax(col):.3f} (best at {best})")
        shown += 1
        if shown >= max_targets:
            lines.append("  ...")
            break
    if shown == 0:
        lines.append("  no target's P(met) moves over the swept lever values")
    return lines


__all__ = ["Context", "load_context", "with_levers", "design", "run_sweep", "evaluate_points",
           "sweep_dataset", "plot_sweep", "write_sweep", "SweepResult"]
