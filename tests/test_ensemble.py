"""Ensemble → NetCDF → ensemble round-trips, for any draw count, seed, scenarios and switches."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.engine import no_levers, series_paths, simulate
from sim.ensemble import SINCE, build_dataset, read_netcdf, write_netcdf
from sim.testing import synthetic_fitted

FITTED = synthetic_fitted()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(draws=st.integers(1, 40), seed=st.integers(0, 2**63 - 1), n_scen=st.integers(1, 3),
       horizon=st.integers(FITTED.as_of + 1, FITTED.as_of + 6), pu=st.booleans(), cs=st.booleans())
def test_ensemble_round_trips_through_netcdf(tmp_path, draws, seed, n_scen, horizon, pu, cs):
    levers = [no_levers(FITTED, horizon, name=f"s{i}") for i in range(n_scen)]
    sim = simulate(FITTED, levers, horizon=horizon, draws=draws, seed=seed, block_size=16,
                   parameter_uncertainty=pu, correlated_shocks=cs)
    ds = build_dataset(sim, FITTED, series_paths(sim, FITTED), {"seed": seed, "note": {"a": [1, 2]}})
    path = write_netcdf(ds, tmp_path / f"e{seed % 997}_{draws}.nc")
    back = read_netcdf(path)
    assert list(back["scenario"].values) == [f"s{i}" for i in range(n_scen)]
    assert back["year"].values.tolist() == list(range(FITTED.as_of, horizon + 1))
    assert set(back.data_vars) == set(ds.data_vars)
    for name, var in ds.data_vars.items():
        assert np.array_equal(back[name].values, var.values, equal_nan=True), name
        assert back[name].attrs == var.attrs, name
    assert back.attrs["seed"] == seed and back.attrs["note"] == '{"a": [1, 2]}'
    assert any(SINCE in v for v in ds.data_vars)  # the already-observed windows travel too
