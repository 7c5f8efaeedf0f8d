"""Sobol indices: the pick-freeze estimator on functions with known indices; the model's groups."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sim.analysis.sensitivity import pick_freeze, sensitivity, variate_groups
from sim.engine.simulation import driver_names, pack
from sim.run.context import RunContext
from sim.testing import synthetic_fitted

CO2 = "co2_intensity_cum_2020_fyp13"
HOUSING = "affordable_housing_supply_2016_2020_fyp13"


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


def test_model_groups_partition_the_variates(shipped):
    fm = synthetic_fitted()
    ctx = RunContext.build(shipped["2020"], fitted=fm)
    p = pack(fm, ctx.levers[:1], 2020)
    groups = variate_groups(p, driver_names(fm), pooled=False)
    cols = [c for cs in groups.values() for c in cs]
    assert len(cols) == len(set(cols))                          # disjoint
    D, H, Y = len(driver_names(fm)), int(p.h_on), 5
    assert sum(1 for c in cols if c >= p.year_off) == Y * (2 * D + H)   # every yearly normal
    assert {"parameters:gdp_real", "initial state:gdp_real", "shocks:gdp_real",
            "parameters:affordable_housing", "shocks:affordable_housing"} <= set(groups)
    assert max(cols) < p.n_var


def test_sensitivity_on_the_model(shipped):
    ctx = RunContext.build(shipped["2020"], fitted=synthetic_fitted())
    s = sensitivity(ctx, targets=[CO2, HOUSING], draws=300, bootstrap=10)
    tab = s.table()
    # the housing target depends on housing inputs and the plan record (trend+record) only
    h = tab[tab.target_id == HOUSING].set_index("group")
    assert set(h.index) >= {"parameters:affordable_housing", "shocks:affordable_housing",
                            "record:plan record"}
    others = h.drop(index=[g for g in h.index if "affordable_housing" in g or g.endswith(":all")
                           or g == "record:plan record"])
    assert np.all(others.total == 0) and np.all(others.first_order == 0)
    c = tab[tab.target_id == CO2].set_index("group")
    assert not any(g.endswith(":gdp_real") for g in c.index if c.loc[g, "total"] > 0)
    assert c.loc[["shocks:energy_intensity", "shocks:carbon_factor"], "total"].max() > 0.05


@pytest.mark.slow
def test_sensitivity_cli(tmp_path, shipped, run_cli):
    """The CLI on the real calibration: the table holds indices of the named target only, every
    index in [0, 1] within a few bootstrap SEs, total >= first order (up to the same error), and
    the pooled kinds; the printed summary and the manifest say the same."""
    out = tmp_path / "sens"
    code, text, err = run_cli("sensitivity", shipped["2020"], "--target", CO2, "--draws", "200",
                              "--bootstrap", "5", "--out", out)
    assert code == 0, err
    assert f"{CO2}  (P(met) = " in text
    assert "Share of the uncertainty in meeting the target due to each source" in text
    tab = pd.read_csv(out / "sensitivity.csv")
    assert list(tab.columns) == ["target_id", "group", "kind", "driver", "first_order",
                                 "first_order_se", "total", "total_se", "p_met", "n", "label"]
    assert set(tab.loc[tab.group == "shocks:all", "label"]) == {"all yearly shocks"}
    assert set(tab.target_id) == {CO2} and set(tab.n) == {200}
    assert {"parameters:all", "initial state:all", "shocks:all"} <= set(tab.group)
    assert set(tab.kind) == {"parameters", "initial state", "shocks", "record"}
    assert tab.p_met.nunique() == 1 and 0 < tab.p_met.iloc[0] < 1
    # pick-freeze estimates are noisy at N = 200: allow 4 bootstrap SEs (+0.05) outside [0, 1]
    slack = 4 * tab[["first_order_se", "total_se"]].max(axis=1).fillna(0) + 0.05
    for col in ("first_order", "total"):
        assert (tab[col] >= -slack).all() and (tab[col] <= 1 + slack).all(), col
    assert (tab.total >= tab.first_order - slack).all()
    # the carbon-intensity change is driven by energy intensity and the carbon factor, not GDP
    assert not tab.driver.str.startswith("gdp").any()
    assert tab.loc[tab.group == "shocks:all", "total"].iloc[0] > 0.05
    assert (out / "figures" / f"tornado_{CO2}.png").exists()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["command"] == "sensitivity" and manifest["targets"] == [CO2]


def injected_sensitivity():
    """A Sensitivity with injected indices, one first-order estimate below 0 (as pick-freeze gives
    by Monte Carlo error) and a group that does not act on the target."""
    from sim.analysis.sensitivity import Sensitivity, SobolIndices

    groups = ("shocks:energy_intensity", "initial state:energy_intensity", "parameters:carbon_factor",
              "shocks:all")
    ix = SobolIndices(groups, np.array([[0.45], [-0.093], [0.0], [0.5]]),
                      np.array([[0.71], [0.2], [0.0], [0.9]]), np.full((4, 1), 0.05),
                      np.full((4, 1), 0.03), np.array([0.16]), np.array([0.8]), 1000)
    return Sensitivity((CO2,), np.array([0.8]), ix, "baseline", 1000, ("CO2 intensity ≤ -10 %",))


def test_group_labels_and_estimates_in_planners_words():
    from sim.analysis.sensitivity_report import group_label, shown

    assert group_label("shocks:energy_intensity") == "energy use per 10,000 CNY of GDP — yearly shocks"
    assert group_label("initial state:population_resident") == "resident population — starting state"
    assert group_label("parameters:all") == "all trend estimates"
    assert shown(0.4491, 0.09) == "0.449 ± 0.090"
    assert shown(-0.093, 0.05) == "~0 (estimate -0.093 ± 0.050)"


def test_tornado_speaks_of_shares_and_shows_negative_estimates_as_zero():
    import matplotlib

    from sim.analysis.sensitivity_report import TITLE, summary_lines, tornado_figure
    from sim.output.plots import style

    sens = injected_sensitivity()
    with matplotlib.rc_context(style()):
        fig = tornado_figure(sens, 0)
    ax = fig.axes[0]
    assert ax.get_title(loc="left").startswith(
        "各不确定来源对达标与否的贡献\nShare of the uncertainty in meeting the target due to each "
        "source\nCO2 intensity ≤ -10 %: 达标概率 P(met) = 80 % in scenario 'baseline', 1,000 draws")
    assert TITLE == ("各不确定来源对达标与否的贡献 · Share of the uncertainty in meeting the target due to "
                     "each source")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["energy use per 10,000 CNY of GDP — starting\nstate",
                      "energy use per 10,000 CNY of GDP — yearly\nshocks"]   # no group that does not act
    widths = sorted(round(b.get_width(), 6) for b in ax.patches)
    assert widths == [0.0, 20.0, 45.0, 71.0]                          # -0.093 drawn at 0, in %
    notes = [t.get_text() for t in ax.texts]
    assert "~0 % (estimate -9 ± 5 %) alone\n20 % with interactions" in notes
    words = " ".join(notes + labels + [ax.get_xlabel(), ax.get_title(loc="left")])
    assert "Sobol" not in words and "pick-freeze" not in words and "1{" not in words
    lines = summary_lines(sens)
    assert lines[1] == TITLE and lines[2] == f"{CO2}  (P(met) = 0.800)"
    assert any(line.split() == ["energy", "use", "per", "10,000", "CNY", "of", "GDP", "—", "starting",
                                "state", "~0", "(estimate", "-0.093", "±", "0.050)", "0.200", "±",
                                "0.030"] for line in lines)


def test_sensitivity_shares_out_the_runs_headline_probability(shipped):
    """The met indicator is the run's headline one: with N draws per sample, P(met) over A and B
    (draws 0..2N-1) equals a run of 2N draws exactly; the record's draws are one more source,
    the whole of a past-plans-only target's uncertainty, and no numpy warning escapes."""
    import warnings

    from sim.run.stream import stream

    ctx = RunContext.build(shipped["2020"], overrides={"draws": 400}, fitted=synthetic_fitted())
    ids = [CO2, "gdp_2020_fyp13", "fortune500_firms_2020_fyp13"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = sensitivity(ctx, targets=ids, draws=200, bootstrap=10)
    run = stream(ctx).acc
    k = ctx.scenario_names.index("baseline")
    assert s.target_ids == tuple(ids)
    assert np.array_equal(s.p, run.probabilities(ids)[k])
    assert s.p[0] != run.trend_hits[("baseline", CO2)] / 400
    assert s.methods == ("trend+record", "trend+record", "record only")
    tab = s.table().set_index(["target_id", "group"])
    rec = tab.loc[("fortune500_firms_2020_fyp13", "record:plan record")]
    assert rec.total == pytest.approx(1, abs=4 * rec.total_se + 0.05)
    assert tab.loc[("fortune500_firms_2020_fyp13", "shocks:all"), "total"] == 0
    assert tab.loc[(CO2, "record:plan record"), "label"] == "past plans' record (往期规划)"


def test_pick_freeze_on_a_constant_output_warns_nothing():
    # an output that never varies (P = 0 or 1): indices NaN, and no raw numpy RuntimeWarning
    import warnings

    rng = np.random.default_rng(3)
    A, B = rng.normal(size=(2, 300, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ix = pick_freeze(lambda x: np.stack([x[:, 0] > 0, np.zeros(len(x))], 1).astype(float),
                         A, B, {"a": [0], "b": [1]}, bootstrap=20)
    assert np.isnan(ix.first[:, 1]).all() and np.isnan(ix.first_se[:, 1]).all()
    assert np.isfinite(ix.first_se[:, 0]).all()


def test_summary_explains_an_index_above_100_and_a_p_too_small_to_share():
    import matplotlib

    from sim.analysis.sensitivity import Sensitivity, SobolIndices
    from sim.analysis.sensitivity_report import summary_lines, tornado_figure
    from sim.output.plots import style

    groups = ("shocks:energy_intensity", "initial state:energy_intensity")
    ix = SobolIndices(groups, np.array([[0.9, 0.5], [0.1, 0.5]]), np.array([[1.26, 0.5], [0.3, 0.5]]),
                      np.full((2, 2), 0.2), np.full((2, 2), 0.2), np.array([0.1, 0.002]),
                      np.array([0.5, 0.002]), 1000)
    sens = Sensitivity((CO2, "gdp_2020_fyp13"), np.array([0.5, 0.002]), ix, "baseline", 1000,
                       ("CO2 intensity ≤ -10 %", "GDP ≥ 1"))
    text = "\n".join(summary_lines(sens))
    assert "~1 (estimate 1.260 ± 0.200)" in text
    assert ("note: an estimate above 100 % is Monte Carlo error (a share cannot exceed 100 %): it "
            "shows as ~100 % with the estimate; more draws (--draws) narrow it") in text
    assert "an interaction between two sources is counted in the share of each" in text
    assert ("only 4 of 2,000 draws meet the target: too few to share out the uncertainty (the "
            "indices would be Monte Carlo noise); about --draws 5,000 would give 20") in text
    assert "126 %" not in text
    with matplotlib.rc_context(style()):
        fig = tornado_figure(sens, 0)
    notes = [t.get_text() for t in fig.axes[0].texts]
    assert "90 % alone\n~100 % (estimate 126 ± 20 %) with interactions" in notes
