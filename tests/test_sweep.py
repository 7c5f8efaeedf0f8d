"""Lever sweeps: the [sweep] table, designs, P(met) surfaces on common random numbers, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sim.analysis.sweep import design, point_levers, run_sweep, sweep_dataset, with_levers
from sim.errors import ProblemList, SimError
from sim.evaluation import evaluate_draws
from sim.run.context import RunContext
from sim.scenario.read import load_scenario_file, resolved_toml
from sim.scenario.spec import SweepSpec
from sim.testing import synthetic_fitted

CO2 = "co2_intensity_cum_2020_fyp13"
GRID = """
[sweep]
scenario = "baseline"
[sweep.levers]
"energy_intensity.shift_pp" = { start = -3.0, stop = 0.0, num = 4 }
"carbon_factor.shift_pp" = [-2.0, -1, 0.0]
"""


@pytest.fixture
def write(tmp_path, shipped):
    """``write(tail, name)``: the shipped 2020 file without its own [sweep] table, plus ``tail``."""
    text = shipped["2020"].read_text(encoding="utf-8")
    head = text[:text.index("\n[sweep]")] + "\n"

    def make(tail, name="sw.toml"):
        p = tmp_path / name
        p.write_text(head + tail, encoding="utf-8")
        return p

    return make


def test_shipped_file_has_a_working_sweep(shipped):
    sf = load_scenario_file(shipped["2020"])
    assert sf.sweep.method == "grid" and sf.sweep.scenario == "baseline"
    axes = sf.sweep.axes()
    assert len(axes["energy_intensity.shift_pp"]) * len(axes["carbon_factor.shift_pp"]) == 28


def problems(path):
    with pytest.raises(ProblemList) as exc:
        load_scenario_file(path)
    return [str(p).replace(str(path.parent) + "/", "") for p in exc.value.problems]


def test_sweep_table_parsed_and_round_trips(tmp_path, write):
    sf = load_scenario_file(write(GRID))
    assert sf.sweep.method == "grid" and sf.sweep.scenario == "baseline"
    assert sf.sweep.axes() == {"energy_intensity.shift_pp": (-3.0, -2.0, -1.0, 0.0),
                               "carbon_factor.shift_pp": (-2.0, -1.0, 0.0)}
    back = load_scenario_file(write("", "x.toml"))
    assert back.sweep is None  # a file without [sweep] has none
    text = resolved_toml(sf)
    r = tmp_path / "resolved.toml"
    r.write_text(text, encoding="utf-8")
    again = load_scenario_file(r)
    assert again.sweep == sf.sweep and again.scenarios == sf.scenarios
    assert resolved_toml(again).splitlines()[2:] == text.splitlines()[2:]


def test_nested_lever_tables_mean_the_same(write):
    nested = ("\n[sweep]\nmethod = \"lhs\"\npoints = 5\n[sweep.levers.energy_intensity]\n"
              "shift_pp = [-2.0, 0.0]\n")
    sf = load_scenario_file(write(nested))
    assert sf.sweep.levers == {"energy_intensity.shift_pp": (-2.0, 0.0)}


def test_sweep_errors_pinned(write):
    bad = write('\n[sweep]\nscenario = "basline"\n[sweep.levers]\n'
                          '"energy_intensity.shift_pp" = { start = 1.0, stop = 2.0, num = 1 }\n', "bad.toml")
    assert problems(bad) == [
        'bad.toml: sweep.levers."energy_intensity.shift_pp".num: out of range (expected >= 2, got 1)',
        "bad.toml: sweep.scenario: unknown scenario 'basline' (did you mean 'baseline'?)",
    ]
    bad = write('\n[sweep]\nmethod = "lhs"\n[sweep.levers]\n"energy_intensity.shift_pp" = [1.0]\n',
                "bad.toml")
    assert problems(bad) == ["bad.toml: sweep: method 'lhs' needs points (expected an integer >= 1)"]
    bad = write('\n[sweep]\n[sweep.levers]\n"energy_intensity.shift" = [1.0]\n', "bad.toml")
    (msg,) = problems(bad)
    assert msg.startswith("bad.toml: sweep.levers: unknown lever path 'energy_intensity.shift' "
                          "(expected one of gdp_real.shift_pp")
    bad = write('\n[sweep]\n[sweep.levers]\n"gdp_real.shift_pp" = [1.0, "a"]\n', "bad.toml")
    assert problems(bad) == ["bad.toml: sweep.levers.\"gdp_real.shift_pp\"[1]: wrong type "
                             "(expected number, got string 'a')"]


def test_lhs_design_is_a_latin_hypercube():
    spec = SweepSpec.model_validate({"method": "lhs", "points": 16, "seed": 3,
                                     "levers": {"energy_intensity.shift_pp": [-2.0, 0.0],
                                                "gdp_real.shift_pp": [-1.0, 1.0]}})
    d = design(spec, run_seed=0)
    assert d.points.shape == (16, 2) and d.grid is None
    for j, (lo, hi) in enumerate([(-2.0, 0.0), (-1.0, 1.0)]):
        strata = np.floor((d.points[:, j] - lo) / (hi - lo) * 16).astype(int)
        assert sorted(strata) == list(range(16))          # one point per stratum
    assert np.array_equal(design(spec, 0).points, d.points)


def test_with_levers_sets_and_checks_values(shipped):
    sf = load_scenario_file(shipped["2020"])
    low = sf.scenarios["low_carbon"]
    s = with_levers(low, {"energy_intensity.shift_pp": -2.5, "gdp_real.shift_pp": 1.0,
                          "affordable_housing.units_per_year": 90000.4}, name="p1")
    assert s.levers["energy_intensity"].shift_pp == -2.5 and s.levers["energy_intensity"].from_year == 2017
    assert s.levers["gdp_real"].shift_pp == 1.0 and s.levers["gdp_real"].from_year is None
    assert s.levers["affordable_housing"].units_per_year == 90000
    assert s.levers["affordable_housing"].programme_units is None
    assert s.name == "p1" and low.levers["energy_intensity"].shift_pp == -1.0   # original untouched
    with pytest.raises(SimError, match="energy_intensity.shift_pp = 80"):
        with_levers(low, {"energy_intensity.shift_pp": 80.0})
    with pytest.raises(SimError, match="unknown lever path 'gdp.shift_pp'"):
        with_levers(low, {"gdp.shift_pp": 1.0})


def test_grid_sweep_common_random_numbers(write):
    ctx = RunContext.build(write(GRID), overrides={"draws": 1200}, fitted=synthetic_fitted())
    res = run_sweep(ctx, targets=[CO2, "gdp_2020_fyp13"], points_per_task=5, chunk_draws=500)
    assert res.p.shape == (12, 2)
    ds = sweep_dataset(res, ctx)
    p = ds["p_met"].sel(target=CO2)
    assert p.dims == ("energy_intensity__shift_pp", "carbon_factor__shift_pp")
    # common random numbers: faster decline never lowers P(met) of a "<=" change target
    assert np.all(np.diff(p.values, axis=0) <= 0) and np.all(np.diff(p.values, axis=1) <= 0)
    assert p.values[0, 0] > p.values[-1, -1]
    # the GDP target does not depend on these levers: identical at every point
    assert np.unique(ds["p_met"].sel(target="gdp_2020_fyp13").values).size == 1
    # each point's trend equals a run of that scenario alone (same draws; no plan record)
    lev = point_levers(ctx, "baseline", res.design.paths, res.design.points[[5]])
    one = ctx.catalogue[ctx.catalogue["id"] == CO2]
    acc = evaluate_draws(ctx.fitted, lev, ctx.settings, one,
                         {"p0000": ctx.target_values["baseline"]}, [(0, 1200)])
    assert res.p_trend is not None and res.p_trend[5, 0] == acc.probabilities()[0, 0]


@pytest.mark.dask
@pytest.mark.slow
def test_sweep_on_cluster_equals_local(write):
    pytest.importorskip("dask.distributed", reason="dask.distributed not installed (extra 'distributed')")
    from sim.engine.dispatch import connect

    lhs = '\n[sweep]\nmethod = "lhs"\npoints = 6\n[sweep.levers]\n"energy_intensity.shift_pp" = [-3.0, 0.0]\n'
    ctx = RunContext.build(write(lhs), overrides={"draws": 800}, fitted=synthetic_fitted())
    a = run_sweep(ctx, targets=[CO2], points_per_task=4, chunk_draws=400)
    with connect("local:2") as client:
        b = run_sweep(ctx, targets=[CO2], points_per_task=4, chunk_draws=400, scheduler=client)
    assert np.array_equal(a.met, b.met)
    ds = sweep_dataset(b, ctx)
    assert ds["p_met"].dims == ("point", "target") and ds["energy_intensity__shift_pp"].dims == ("point",)


@pytest.mark.slow
def test_sweep_cli_end_to_end_on_shipped_scenario(tmp_path, write, run_cli):
    path = write('\n[sweep]\n[sweep.levers]\n"energy_intensity.shift_pp" = [-2.0, -1.0, 0.0]\n'
                           '"carbon_factor.shift_pp" = [-1.0, 0.0]\n')
    out = tmp_path / "out"
    code, text, err = run_cli("sweep", path, "--draws", "600", "--out", out, "--target", CO2,
                              "--target", "gdp_2020_fyp13")
    assert code == 0, err
    assert "6 points × 600 draws" in text
    ds = xr.open_dataset(out / "sweep.nc", engine="h5netcdf")
    assert set(ds["target"].values) == {CO2, "gdp_2020_fyp13"}
    assert ds["p_met"].shape == (3, 2, 2)
    assert (out / "figures" / f"sweep_{CO2}.png").exists()
    # what each target asks, with the scenario's value marked as not the plan's
    assert str(ds["target_text"].sel(target=CO2).values) == (
        "CO2 intensity, cumulative change 2015–2020 ≤ -23 % (value from the scenario file, not the plan)")
    assert ds.attrs["probability"] == 0.9 and "P ≥ 90 % at" in text
    table = pd.read_csv(out / "sweep.csv")
    assert list(table.columns) == ["point", "energy_intensity.shift_pp", "carbon_factor.shift_pp",
                                   "target_id", "p_met", "mc_se", "p_trend", "method"]
    assert len(table) == 6 * 2 and table["p_met"].between(0, 1).all()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["command"] == "sweep" and manifest["draws"] == 600
    assert set(manifest["files"]) == {"sweep.nc", "sweep.csv", "figures", "manifest.json"}


@pytest.mark.slow
def test_sweep_cli_needs_a_sweep_table(tmp_path, shipped, run_cli):
    code, _, err = run_cli("sweep", shipped["2015"], "--draws", "100", "--out", tmp_path / "o")
    assert code == 2 and "no [sweep] table" in err
    assert not (tmp_path / "o").exists()


def synthetic_sweep_dataset(p_met, probability=0.9):
    """A 2-lever sweep Dataset as sweep_dataset writes it, with injected P(met) values (E, C)."""
    e, c = [-2.0, -1.0, 0.0], [-1.0, 0.0]
    p = np.asarray(p_met, float)[:, :, None]
    ds = xr.Dataset({"p_met": (("energy_intensity__shift_pp", "carbon_factor__shift_pp", "target"), p),
                     "mc_se": (("energy_intensity__shift_pp", "carbon_factor__shift_pp", "target"),
                               np.sqrt(p * (1 - p) / 1000))},
                    coords={"energy_intensity__shift_pp": e, "carbon_factor__shift_pp": c,
                            "target": [CO2], "target_text": ("target", ["CO2 intensity ≤ -10 %"])})
    for d, path in (("energy_intensity__shift_pp", "energy_intensity.shift_pp"),
                    ("carbon_factor__shift_pp", "carbon_factor.shift_pp")):
        ds[d].attrs.update(long_name=path, units="pp/yr")
    ds.attrs.update(scenario="baseline", draws=1000, probability=probability, method="grid",
                    levers="energy_intensity.shift_pp, carbon_factor.shift_pp")
    return ds


def test_sweep_heat_map_has_words_values_and_the_chosen_contour():
    import matplotlib
    from matplotlib.contour import ContourSet

    from sim.analysis.sweep_plots import sweep_figure
    from sim.output.plots import style

    p = [[0.97, 0.93], [0.91, 0.84], [0.80, 0.62]]           # (energy, carbon)
    with matplotlib.rc_context(style()):
        fig = sweep_figure(synthetic_sweep_dataset(p), CO2, 0.9)
    ax = fig.axes[0]
    cells = sorted(f"{100 * v:.0f}" for row in p for v in row)
    assert sorted(t.get_text() for t in ax.texts) == cells
    contours = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert len(contours) == 1 and list(contours[0].levels) == [0.9]
    assert ax.get_xlabel() == "Energy use per 10,000 CNY of GDP:\npp added to its annual % change (pp/yr)"
    assert ax.get_ylabel().startswith("CO2 per unit of energy, the fuel mix:\n")
    title = ax.get_title(loc="left")
    assert title.startswith("P(met): CO2 intensity ≤ -10 %\nscenario 'baseline' · 1,000 draws per point")
    assert title.endswith("black line: P = 90 %") and "__" not in title + ax.get_xlabel()
    # a probability the grid never reaches: said in words, no contour drawn
    with matplotlib.rc_context(style()):
        fig = sweep_figure(synthetic_sweep_dataset(p), CO2, 0.99)
    assert fig.axes[0].get_title(loc="left").endswith("P < 99 % in every cell")
    assert not [c for c in fig.axes[0].collections if isinstance(c, ContourSet)]


def test_sweep_summary_names_flat_and_not_evaluable_targets():
    from sim.analysis.sweep import Design, SweepResult, summary_lines

    d = Design(("energy_intensity.shift_pp",), np.array([[-2.0], [-1.0], [0.0]]), ((-2.0, -1.0, 0.0),))
    p = np.array([[0.95, 0.4, 0.83, np.nan], [0.9, 0.4, 0.83, np.nan], [0.7, 0.4, 0.83, np.nan]])
    ids = (CO2, "gdp_2020_fyp13", "energy_intensity_2020_qdp", "energy_intensity_cum_2020_fyp13")
    res = SweepResult(d, ids, p, p * 0, np.nan_to_num(p * 1000).astype(int), 1000,
                      ("", "", "", "no target value"), "baseline", 1.5,
                      methods=("trend+record", "trend only", "record only", "not evaluable"))
    assert summary_lines(res, probability=0.9) == [
        "sweep of energy_intensity.shift_pp on 'baseline': 3 points × 1,000 draws (common random "
        "numbers), 1.5 s",
        "  P(met), the run's headline probability (trend at each point combined with the run's plan "
        "record, as in `sim run`); p_trend (trends continue) is in sweep.nc and sweep.csv",
        f"  {CO2}: P(met) 0.700–0.950 (best at energy_intensity.shift_pp = -2); P ≥ 90 % at 2 of 3 points",
        "  not moved by any swept lever (2 target(s), no figure; sweep.nc attribute "
        "'not_moved_by_any_swept_lever'):",
        "    依据本指标数据 this indicator's data — the swept levers do not enter its trend: gdp_2020_fyp13",
        "    仅参考往期规划 past plans only — no lever moves a probability that rests on the record "
        "alone: energy_intensity_2020_qdp",
        "  energy_intensity_cum_2020_fyp13: not evaluable (the run gives it no probability): "
        "no target value",
    ]


RECORD_ONLY_TARGET = "fortune500_firms_2020_fyp13"   # no series measures it: past plans only


def test_sweep_gives_the_runs_headline_probability_and_lists_what_no_lever_moves(tmp_path, write):
    """At the scenario's own lever values (0 pp/yr: the baseline has no energy lever) the sweep's
    P(met) is the run's headline probability, draw for draw (same seed, same draws, the run's
    record draws and weights); a past-plans-only target has that probability at every point and
    is listed as not moved by any swept lever — not as "not evaluable", and with no figure."""
    from sim.analysis.sweep import summary_lines, write_sweep
    from sim.run.stream import stream

    path = write('\n[sweep]\n[sweep.levers]\n"energy_intensity.shift_pp" = [-1.0, 0.0]\n')
    ctx = RunContext.build(path, overrides={"draws": 800}, fitted=synthetic_fitted())
    ids = [CO2, "gdp_2020_fyp13", RECORD_ONLY_TARGET]
    res = run_sweep(ctx, targets=ids, chunk_draws=300)
    run = stream(ctx).acc
    k = ctx.scenario_names.index("baseline")
    assert np.array_equal(res.p[1], run.probabilities(ids)[k])         # exactly the run's P
    assert res.p_trend is not None and res.p_trend[1, 0] == run.trend_hits[("baseline", CO2)] / 800
    assert res.p[1, 0] != res.p_trend[1, 0]                              # the record enters
    assert res.methods == ("trend+record", "trend+record", "record only")
    assert res.reasons == ("", "", "") and np.isnan(res.p_trend[:, 2]).all()
    assert res.p[0, 2] == res.p[1, 2] > 0                                # no lever moves it
    out = write_sweep(res, ctx, tmp_path / "sw")
    assert sorted(f.name for f in (out / "figures").iterdir()) == [f"sweep_{CO2}.png"]
    ds = xr.open_dataset(out / "sweep.nc", engine="h5netcdf")
    assert list(ds["method"].values) == list(res.methods) and "p_trend" in ds
    assert ds.attrs["not_moved_by_any_swept_lever"] == f"gdp_2020_fyp13, {RECORD_ONLY_TARGET}"
    assert ds.attrs["not_evaluable"] == "" and "headline" in ds["p_met"].attrs["long_name"]
    text = "\n".join(summary_lines(res))
    assert "not evaluable" not in text and "not moved by any swept lever" in text
    assert f"past plans only — no lever moves a probability that rests on the record alone: " \
           f"{RECORD_ONLY_TARGET}" in text


def test_sweep_cli_probability_must_be_a_probability(tmp_path, shipped, run_cli):
    code, _, err = run_cli("sweep", shipped["2020"], "--probability", "90", "--out", tmp_path / "o")
    assert code == 2 and err.strip() == "sim sweep: error: --probability must be in (0, 1), got 90"
    assert not (tmp_path / "o").exists()
