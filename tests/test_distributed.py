"""Distributed engine: bit-identical to the single-process engine; streaming tallies; adaptive draws."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from sim.engine.dispatch import (Tally, draw_ranges, make_checks, met_of, parse_scheduler, run_adaptive,
                             sketch_edges, tally_distributed)
from sim.engine.simulation import levers_from_spec, series_paths, simulate
from sim.ensemble import build_dataset
from sim.errors import SimError
from sim.evaluation import evaluate
from sim.analysis.sweep import load_context
from sim.testing import synthetic_fitted

SHIPPED = "scenarios/baseline_2020.toml"
TARGETS = ["gdp_2020_fyp13", "co2_intensity_cum_2020_fyp13", "water_intensity_cum_2020_fyp13",
           "affordable_housing_supply_2016_2020_fyp13", "gdp_per_capita_cny_2020_fyp13"]


@pytest.fixture(scope="module")
def ctx():
    return load_context(SHIPPED, fitted=synthetic_fitted())


@pytest.fixture(scope="module")
def levers(ctx):
    return [levers_from_spec(s, ctx.fitted, ctx.sf.run.horizon) for s in ctx.sf.scenarios.values()]


@pytest.fixture(scope="module")
def checks(ctx):
    return make_checks(ctx.catalogue, [dict(s.target_values) for s in ctx.sf.scenarios.values()])


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("dask.distributed", reason="dask.distributed not installed (extra 'distributed')")
    from sim.engine.dispatch import connect

    with connect("local:2") as c:
        yield c


def test_draw_ranges_cover_on_block_boundaries():
    r = draw_ranges(2500, 1000, 2)
    assert r == [(0, 2000), (2000, 500)]
    r = draw_ranges(3500, 1000, 10, first_draw=1500)
    assert r[0] == (1500, 500) and sum(n for _, n in r) == 3500
    assert all((a + n) % 1000 == 0 for a, n in r[:-1])


def test_tally_equals_evaluate(ctx, levers, checks):
    fm = ctx.fitted
    sim = simulate(fm, levers, horizon=2020, draws=1500, seed=11, block_size=1000)
    ds = build_dataset(sim, fm, series_paths(sim, fm), {})
    ev = evaluate(ds, ctx.catalogue, {n: dict(s.target_values) for n, s in ctx.sf.scenarios.items()})
    # chunked (ranges not aligned to the 1000-draw blocks) in this process
    t = tally_distributed(fm, levers, checks, horizon=2020, draws=1500, seed=11, block_size=1000,
                          chunk_draws=1000)
    assert t.n == 1500
    tab = ev.table.set_index(["scenario", "target_id"])
    n_eval = 0
    for s, scen in enumerate(ctx.sf.scenarios):
        for j, tid in enumerate(checks.ids):
            row = tab.loc[(scen, tid)]
            if row["status"] == "evaluated":
                assert t.p[s, j] == row["probability"]
                assert t.se[s, j] == pytest.approx(row["mc_se"], abs=1e-15)
                n_eval += 1
            else:
                assert np.isnan(t.p[s, j]) and t.reasons[j]
    assert n_eval > 10


def test_histogram_quantiles_within_a_bin(ctx, levers, checks):
    fm = ctx.fitted
    sim = simulate(fm, levers[:1], horizon=2020, draws=2000, seed=3, block_size=1000)
    met, xs, _ = met_of(sim, fm, make_checks(ctx.catalogue, [{}], targets=["gdp_2020_fyp13"]))
    edges = sketch_edges(xs[:1])
    one = make_checks(ctx.catalogue, [{}], targets=["gdp_2020_fyp13"])
    t = tally_distributed(fm, levers[:1], one, horizon=2020, draws=2000, seed=3, block_size=1000,
                          edges=edges, chunk_draws=500)
    q = t.quantiles([0.1, 0.5, 0.9])[0, 0]
    exact = np.quantile(xs[0][0], [0.1, 0.5, 0.9])
    width = edges[0, 1] - edges[0, 0]
    assert np.all(np.abs(q - exact) <= 2 * width)


def test_scheduler_strings():
    assert parse_scheduler("local:3") == ("local", 3)
    assert parse_scheduler("tcp://10.0.0.1:8786") == ("tcp", "tcp://10.0.0.1:8786")
    assert parse_scheduler("local")[0] == "local"
    for bad in ("local:0", "local:x", "remote", "tcp://"):
        with pytest.raises(SimError, match="expected"):
            parse_scheduler(bad)


def test_without_dask_the_flag_explains(monkeypatch, ctx, levers):
    from sim.engine.dispatch import simulate_distributed

    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(SimError) as exc:
        simulate_distributed(ctx.fitted, levers, horizon=2020, draws=10, seed=1, scheduler="local:2")
    assert str(exc.value) == "--scheduler needs dask.distributed: pip install -e '.[distributed]'"


def test_local_cluster_bit_identical(client, ctx, levers, checks):
    from sim.engine.dispatch import simulate_distributed

    fm = ctx.fitted
    kw = dict(horizon=2020, draws=2500, seed=20160315, block_size=1000)
    a = simulate(fm, levers, **kw)
    ticks = []
    b = simulate_distributed(fm, levers, scheduler=client, progress=ticks.append, **kw)
    assert sum(ticks) == 2500
    for name in ("delta", "level0", "cum0", "housing", "years"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    assert (a.drivers, a.scenarios, a.base_years, a.draws) == (b.drivers, b.scenarios, b.base_years, b.draws)
    # the outputs built from them too
    da = build_dataset(a, fm, series_paths(a, fm), {})
    db = build_dataset(b, fm, series_paths(b, fm), {})
    for v in da.data_vars:
        assert np.array_equal(da[v].values, db[v].values, equal_nan=True), v
    # and the streamed tallies
    ta = tally_distributed(fm, levers, checks, scheduler=client, **kw)
    tb = tally_distributed(fm, levers, checks, **kw)
    assert np.array_equal(ta.met, tb.met) and ta.n == tb.n == 2500


def test_adaptive_stops_below_tolerance_and_equals_fixed_prefix(ctx, levers):
    fm = ctx.fitted
    one = make_checks(ctx.catalogue, [dict(ctx.sf.baseline.target_values)], targets=TARGETS)
    kw = dict(horizon=2020, seed=7, block_size=500)
    res = run_adaptive(fm, levers[:1], one, tolerance=0.015, **kw)
    assert res.converged and np.nanmax(res.tally.se) < 0.015
    assert res.draws % 500 == 0 and res.history[-1][0] == res.draws
    assert all(se >= 0.015 for _, se in res.history[:-1])       # it did not stop early
    fixed = tally_distributed(fm, levers[:1], one, draws=res.draws, **kw)
    assert np.array_equal(res.tally.met, fixed.met) and res.tally.n == fixed.n
    capped = run_adaptive(fm, levers[:1], one, tolerance=0.001, max_draws=1200, **kw)
    assert not capped.converged and capped.draws == 1200


def test_adaptive_on_cluster_same_draws(client, ctx, levers):
    one = make_checks(ctx.catalogue, [dict(ctx.sf.baseline.target_values)], targets=TARGETS)
    kw = dict(horizon=2020, seed=7, block_size=500, tolerance=0.02)
    a = run_adaptive(ctx.fitted, levers[:1], one, **kw)
    b = run_adaptive(ctx.fitted, levers[:1], one, scheduler=client, **kw)
    assert a.draws == b.draws and np.array_equal(a.tally.met, b.tally.met)


def test_tally_adds():
    a = Tally(np.array([[1, 2]]), 10, reasons=("", "x"))
    b = Tally(np.array([[3, 4]]), 10, reasons=("", "x"))
    c = a + b
    assert c.n == 20 and c.met.tolist() == [[4, 6]]
    assert c.p[0, 0] == 0.2 and np.isnan(c.p[0, 1])


def test_streamed_summaries_on_cluster_equal_one_process(client, ctx):
    """`run --summaries-only --scheduler`: each worker evaluates its own chunk and returns a
    partial evaluation; merged on the client they equal the single-process stream exactly."""
    from sim.run.pipeline import stream_file
    from sim.scenario.read import load_scenario_file

    sf = load_scenario_file(SHIPPED, overrides={"draws": 3000, "block_size": 1000})
    kw = dict(fitted=ctx.fitted, chunk_draws=1000, keep_draws=1500)
    _, local, prefix_local, _ = stream_file(sf, ctx.catalogue, **kw)
    _, dist, prefix_dist, _ = stream_file(sf, ctx.catalogue, scheduler=client, **kw)
    assert dist.n == local.n == 3000
    import pandas as pd

    pd.testing.assert_frame_equal(dist.result().table, local.result().table)
    pd.testing.assert_frame_equal(dist.result().joint, local.result().joint)
    for v in prefix_local.data_vars:
        assert np.array_equal(prefix_local[v].values, prefix_dist[v].values, equal_nan=True), v


def test_full_run_on_cluster_writes_the_same_files(client, tmp_path):
    """`sim run --scheduler`: chunks simulated and evaluated in the workers, streamed into
    ensemble.nc on the client; targets.csv and ensemble.nc equal the single-process run."""
    import xarray as xr

    from sim.run.pipeline import run_file

    kw = dict(overrides={"draws": 3000, "block_size": 1000}, figures=False)
    run_file(SHIPPED, out=tmp_path / "one", **kw)
    run_file(SHIPPED, out=tmp_path / "dask", scheduler=client, **kw)
    assert (tmp_path / "one" / "targets.csv").read_bytes() == (tmp_path / "dask" / "targets.csv").read_bytes()
    a = xr.open_dataset(tmp_path / "one" / "ensemble.nc")
    b = xr.open_dataset(tmp_path / "dask" / "ensemble.nc")
    assert set(a.data_vars) == set(b.data_vars)
    for v in a.data_vars:
        assert np.array_equal(a[v].values, b[v].values, equal_nan=True), v
