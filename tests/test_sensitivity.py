"""Sobol indices: the pick-freeze estimator on functions with known indices; the model's groups."""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis.sensitivity import pick_freeze, sensitivity, variate_groups
from sim.analysis.sweep import load_context
from sim.testing import synthetic_fitted
from test_sweep import SHIPPED, run_cmd


def ishigami(x, a=7.0, b=0.1):
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_ishigami_known_indices():
    # Ishigami & Homma (1990); analytic indices e.g. Saltelli et al. (2008), Global Sensitivity
    # Analysis: The Primer, sec. 4.1: S1 = 0.3139, S2 = 0.4424, S3 = 0, ST1 = 0.5576, ST3 = 0.2437
    rng = np.random.default_rng(1)
    N = 2 ** 14
    A, B = rng.uniform(-np.pi, np.pi, (2, N, 3))
    ix = pick_freeze(ishigami, A, B, {"x1": [0], "x2": [1], "x3": [2], "x1x3": [0, 2]}, bootstrap=0)
    # tolerance 0.04: a few standard errors of the estimator at N = 2**14 (bootstrap SE ~ 0.01)
    assert ix.first[:3, 0] == pytest.approx([0.3139, 0.4424, 0.0], abs=0.04)
    assert ix.total[:3, 0] == pytest.approx([0.5576, 0.4424, 0.2437], abs=0.04)
    assert ix.first[3, 0] == pytest.approx(0.5576, abs=0.04)     # group {x1, x3} = 1 - S2


def test_linear_model_grouped_indices_and_bootstrap_se():
    # y = x0 + 2 x1 + 3 x2 (standard normals): V = 14, S = (1, 4, 9) / 14, groups add up
    rng = np.random.default_rng(2)
    A, B = rng.normal(size=(2, 20000, 3))
    f = lambda x: x @ np.array([1.0, 2.0, 3.0])           # noqa: E731
    ix = pick_freeze(f, A, B, {"a": [0], "bc": [1, 2]}, bootstrap=30)
    assert ix.first[:, 0] == pytest.approx([1 / 14, 13 / 14], abs=0.03)
    assert ix.total[:, 0] == pytest.approx([1 / 14, 13 / 14], abs=0.03)
    assert np.all(ix.first_se > 0) and np.all(ix.first_se < 0.03)


def test_model_groups_partition_the_variates():
    from sim.engine.simulation import levers_from_spec, pack, driver_names

    fm = synthetic_fitted()
    ctx = load_context(SHIPPED, fitted=fm)
    p = pack(fm, [levers_from_spec(ctx.sf.baseline, fm, 2020)], 2020)
    groups = variate_groups(p, driver_names(fm), pooled=False)
    cols = [c for cs in groups.values() for c in cs]
    assert len(cols) == len(set(cols))                          # disjoint
    D, H, Y = len(driver_names(fm)), int(p.h_on), 5
    assert sum(1 for c in cols if c >= p.year_off) == Y * (2 * D + H)   # every yearly normal
    assert {"parameters:gdp_real", "initial state:gdp_real", "shocks:gdp_real",
            "parameters:affordable_housing", "shocks:affordable_housing"} <= set(groups)
    assert max(cols) < p.n_var


def test_sensitivity_on_the_model():
    ctx = load_context(SHIPPED, fitted=synthetic_fitted())
    s = sensitivity(ctx, targets=["co2_intensity_cum_2020_fyp13", "affordable_housing_supply_2016_2020_fyp13"],
                    draws=300, bootstrap=10)
    tab = s.table()
    # the housing target depends on housing inputs only
    h = tab[tab.target_id == "affordable_housing_supply_2016_2020_fyp13"].set_index("group")
    assert set(h.index) >= {"parameters:affordable_housing", "shocks:affordable_housing"}
    others = h.drop(index=[g for g in h.index if "affordable_housing" in g or g.endswith(":all")])
    assert np.all(others.total == 0) and np.all(others.first_order == 0)
    c = tab[tab.target_id == "co2_intensity_cum_2020_fyp13"].set_index("group")
    assert not any(g.endswith(":gdp_real") for g in c.index if c.loc[g, "total"] > 0)
    assert c.loc[["shocks:energy_intensity", "shocks:carbon_factor"], "total"].max() > 0.05


def test_sensitivity_cli(tmp_path, capsys):
    out = tmp_path / "sens"
    assert run_cmd("sensitivity", [str(SHIPPED), "--target", "co2_intensity_cum_2020_fyp13", "--draws", "200",
                                   "--bootstrap", "5", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "co2_intensity_cum_2020_fyp13" in text and "by kind:" in text
    assert (out / "sensitivity.csv").exists()
    assert (out / "figures" / "tornado_co2_intensity_cum_2020_fyp13.png").exists()
