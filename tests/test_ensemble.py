"""Ensemble → NetCDF → ensemble round-trips, for any draw count, seed, scenarios and switches."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.engine.simulation import no_levers, series_paths, simulate
from sim.ensemble import SINCE, build_dataset, read_netcdf, write_netcdf
from sim.testing import synthetic_fitted

FITTED = synthetic_fitted()


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(draws=st.integers(1, 40), seed=st.integers(0, 2**63 - 1), n_scen=st.integers(1, 3),
       horizon=st.integers(FITTED.as_of + 1, FITTED.as_of + 6), pu=st.booleans(), cs=st.booleans())
def test_ensemble_round_trips_through_netcdf(tmp_path, draws, seed, n_scen, horizon, pu, cs):
    levers = [no_levers(FITTED, horizon, name=f"s{i}") for i in range(n_scen)]
    sim = simulate(FITTED, levers, horizon=horizon, draws=draws, seed=seed, block_size=16,
                   parameter_uncertainty=pu, correlated_shocks=cs)
    ds = build_dataset(sim, FITTED, series_paths(sim, FITTED), {"seed": seed, "note": {"a": [1, 2]}})
    path = write_netcdf(ds, tmp_path / f"e{seed % 997}_{draws}.nc", dtype="float64")
    back = read_netcdf(path)
    assert list(back["scenario"].values) == [f"s{i}" for i in range(n_scen)]
    assert back["year"].values.tolist() == list(range(FITTED.as_of, horizon + 1))
    assert set(back.data_vars) == set(ds.data_vars)
    for name, var in ds.data_vars.items():
        assert np.array_equal(back[name].values, var.values, equal_nan=True), name
        assert back[name].attrs == var.attrs, name
    assert back.attrs["seed"] == seed and back.attrs["note"] == '{"a": [1, 2]}'
    assert any(SINCE in v for v in ds.data_vars)  # the already-observed windows travel too


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(draws=st.integers(2, 60), seed=st.integers(0, 2**32), cut=st.integers(1, 59))
def test_streamed_writer_equals_one_write(tmp_path, draws, seed, cut):
    """Chunks written out of order by EnsembleWriter read back as write_netcdf of the whole."""
    from sim.ensemble import EnsembleWriter

    cut = min(cut, draws - 1)
    levers = [no_levers(FITTED, 2018, name=n) for n in ("baseline", "低碳")]
    attrs = {"seed": seed}
    whole = simulate(FITTED, levers, horizon=2018, draws=draws, seed=seed, block_size=8)
    ds = build_dataset(whole, FITTED, series_paths(whole, FITTED), attrs)
    one = read_netcdf(write_netcdf(ds, tmp_path / f"one{seed}_{draws}.nc"))
    writer = EnsembleWriter(tmp_path / f"streamed{seed}_{draws}.nc", draws)
    for first, n in ((cut, draws - cut), (0, cut)):  # the later chunk first
        part = simulate(FITTED, levers, horizon=2018, draws=n, seed=seed, block_size=8, first_draw=first)
        writer.write(build_dataset(part, FITTED, series_paths(part, FITTED), attrs), first)
    streamed = read_netcdf(writer.close({"scenario_resolved": "x"}))
    assert streamed.attrs.pop("scenario_resolved") == "x"
    assert list(streamed["scenario"].values) == list(one["scenario"].values)
    assert set(streamed.data_vars) == set(one.data_vars)
    for name in ("draw", "year"):
        assert np.array_equal(streamed[name].values, one[name].values), name
        assert streamed[name].attrs == one[name].attrs, name
    for name in one.data_vars:
        assert np.array_equal(streamed[name].values, one[name].values, equal_nan=True), name
        assert streamed[name].attrs == one[name].attrs, name
    assert streamed.attrs == one.attrs


def test_ensemble_facts_read_back_as_objects(tmp_path):
    """The facts stored as JSON attributes come back as objects, in memory and from NetCDF."""
    from dataclasses import replace

    from sim.ensemble import ensemble_facts, ensemble_of

    fitted = replace(FITTED, not_fitted={"water_intensity": "no usable observation"})
    sim = simulate(fitted, [no_levers(fitted, 2017)], horizon=2017, draws=3, seed=1)
    msg = "scenario 'x': lever on pm25 ignored"
    ds = ensemble_of(sim, fitted, {"seed": 1, "vintage": "revised", "ignored_levers": [msg]})
    for got in (ensemble_facts(ds), ensemble_facts(read_netcdf(write_netcdf(ds, tmp_path / "e.nc")))):
        assert got.as_of == fitted.as_of and got.seed == 1 and got.vintage == "revised"
        assert got.not_simulated == {"water_intensity": "no usable observation"}
        assert got.ignored_levers == (msg,) and not got.summaries_only
    bare = ensemble_of(sim, FITTED)
    assert ensemble_facts(bare).not_simulated == {} and ensemble_facts(bare).ignored_levers == ()


def test_draws_are_stored_as_float32_and_read_back_as_float64(tmp_path):
    """ensemble.nc keeps float32 by default (float64 on request); readers get float64 arrays
    equal to the draws rounded to float32, whichever writer made the file."""
    import h5py

    from sim.ensemble import EnsembleWriter
    from sim.errors import SimError

    levers = [no_levers(FITTED, 2018, name=n) for n in ("baseline", "b")]
    sim = simulate(FITTED, levers, horizon=2018, draws=30, seed=3, block_size=8)
    ds = build_dataset(sim, FITTED, series_paths(sim, FITTED), {"seed": 3})
    streamed = EnsembleWriter(tmp_path / "s.nc", 30)
    streamed.write(ds, 0)
    for path, dtype in ((write_netcdf(ds, tmp_path / "a.nc"), "float32"), (streamed.close(), "float32"),
                        (write_netcdf(ds, tmp_path / "b.nc", dtype="float64"), "float64")):
        with h5py.File(path, "r") as f:
            stored = {n: f[n].dtype for n in ds.data_vars}
        assert set(map(str, stored.values())) == {dtype}, path
        back = read_netcdf(path)
        for name, var in ds.data_vars.items():
            assert back[name].dtype == np.float64
            want = var.values.astype(dtype).astype(np.float64)
            assert np.array_equal(back[name].values, want, equal_nan=True), (path, name)
    with pytest.raises(SimError, match="ensemble dtype 'float16': expected one of float32, float64"):
        write_netcdf(ds, tmp_path / "c.nc", dtype="float16")
