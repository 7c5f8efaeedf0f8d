"""`python -m sim run` end to end on the shipped scenarios and bundled data (few draws), the
RunContext it is built on, and the mid-term evaluation."""

import json
import tomllib

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
import xarray as xr

import sim.run.context as context_module
from sim.cli import main
from sim.ensemble import read_netcdf
from sim.errors import SimError
from sim.model import fitted_filename
from sim.output.owned import MARKER, marker_text
from sim.paths import SCENARIOS_DIR
from sim.run.context import RunContext
from sim.run.pipeline import run_file
from sim.scenario.read import load_scenario_file
from sim.testing import synthetic_fitted

S2020 = SCENARIOS_DIR / "baseline_2020.toml"
S2015 = SCENARIOS_DIR / "baseline_2015.toml"
FAST = ["--draws", "2000", "--no-figures", "--quiet"]


@pytest.fixture(scope="module")
def run2020(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "baseline_2020"
    assert main(["run", str(S2020), "--out", str(out), *FAST]) == 0
    return out


@pytest.mark.slow
def test_run_writes_the_results_folder(run2020):
    names = {p.name for p in run2020.iterdir()}
    assert {"ensemble.nc", "targets.csv", "joint.csv", "scenario.resolved.toml", "manifest.json",
            "fitted_model.json", "report.html", "targets.xlsx", "targets.md"} <= names
    t = pd.read_csv(run2020 / "targets.csv")
    required = ["scenario", "target_id", "target_set", "target_year", "kind", "comparator", "value",
                "unit", "probability", "mc_se", "ci_low", "ci_high", "median", "p10", "p90",
                "observed", "status"]
    assert set(required) <= set(t.columns)
    scen = tomllib.loads((run2020 / "scenario.resolved.toml").read_text())["scenarios"]
    assert set(t["scenario"]) == set(scen)
    ev = t[t["status"] == "evaluated"]
    assert ev["probability"].between(0, 1).all()
    assert (ev["ci_low"] <= ev["probability"]).all() and (ev["probability"] <= ev["ci_high"]).all()
    # every not-evaluable row says why
    assert t.loc[t["status"] != "evaluated", "reason"].fillna("").str.len().gt(0).all()
    m = json.loads((run2020 / "manifest.json").read_text())
    assert m["draws"] == 2000 and m["as_of"] == 2015 and m["data_hash"]


@pytest.mark.slow
def test_key_2020_targets_are_evaluated_and_sensible(run2020):
    t = pd.read_csv(run2020 / "targets.csv").set_index(["scenario", "target_id"])
    gdp = t.loc[("baseline", "gdp_2020_fyp13")]
    assert gdp["status"] == "evaluated" and gdp["value"] == 26000
    # the 2015 GDP (17,503 亿元) needs only ~8%/yr nominal to reach 26,000: likely met
    assert gdp["probability"] > 0.5
    blank = t.loc[("baseline", "energy_intensity_cum_2020_fyp13")]
    assert blank["status"] == "not evaluable"
    assert blank["reason"] == "no target value (left blank in the plan)"
    # the housing programme scenario raises the odds of the 35万套 supply target
    h = "affordable_housing_supply_2016_2020_fyp13"
    assert t.loc[("housing_push", h), "probability"] > t.loc[("baseline", h), "probability"]
    assert t.loc[("housing_push", h), "delta_vs_baseline"] > 0


@pytest.mark.slow
def test_same_seed_gives_identical_targets_csv(run2020, tmp_path):
    out = tmp_path / "again"
    assert main(["run", str(S2020), "--out", str(out), *FAST]) == 0
    assert (out / "targets.csv").read_bytes() == (run2020 / "targets.csv").read_bytes()


@pytest.mark.slow
def test_ensemble_round_trips_through_xarray(tmp_path):
    # [run] ensemble_float64 = true keeps every draw exactly; the default float32 to within its
    # rounding (relative 2**-24), and P(met) is computed from the float64 draws either way
    run_file(S2020, overrides={"draws": 500, "ensemble_float64": True},
             out=tmp_path / "r64", figures=False)
    out = run_file(S2020, overrides={"draws": 500}, out=tmp_path / "r", figures=False)
    assert out.ignored == ()
    disk = read_netcdf(tmp_path / "r" / "ensemble.nc")
    disk64 = read_netcdf(tmp_path / "r64" / "ensemble.nc")
    for name, var in out.dataset.data_vars.items():
        assert np.array_equal(disk64[name].values, var.values, equal_nan=True), name
        np.testing.assert_allclose(disk[name].values, var.values, rtol=2.0 ** -23, atol=0,
                                   equal_nan=True, err_msg=name)
        assert disk[name].attrs.get("units") == var.attrs.get("units")
    assert (tmp_path / "r" / "targets.csv").read_bytes() == (tmp_path / "r64" / "targets.csv").read_bytes()
    assert (tmp_path / "r" / "ensemble.nc").stat().st_size < 0.6 * (tmp_path / "r64" / "ensemble.nc").stat().st_size
    assert disk["year"].dtype.kind == "i" and disk["draw"].attrs["standard_name"] == "realization"
    assert disk.attrs["seed"] == out.dataset.attrs["seed"]
    assert "[scenarios.baseline]" in disk.attrs["scenario_resolved"]


@pytest.mark.slow
def test_existing_folder_needs_force(run2020, capsys):
    before = (run2020 / "targets.csv").read_bytes()
    assert main(["run", str(S2020), "--out", str(run2020), *FAST]) == 2
    assert "results folder exists; pass --force" in capsys.readouterr().err
    assert (run2020 / "targets.csv").read_bytes() == before


@pytest.mark.slow
def test_interrupted_run_leaves_the_previous_results(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r"
    out.mkdir()
    (out / "targets.csv").write_text("previous results")
    (out / MARKER).write_text(marker_text("run"))   # written by an earlier sim run

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("sim.run.pipeline.write_outputs", interrupted)
    assert main(["run", str(S2020), "--out", str(out), "--force", *FAST]) == 130
    assert (out / "targets.csv").read_text() == "previous results"
    assert [p.name for p in tmp_path.iterdir()] == ["r"]
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.slow
def test_summaries_only_gives_the_same_probabilities(run2020, tmp_path):
    out = tmp_path / "s"
    assert main(["run", str(S2020), "--out", str(out), "--summaries-only", *FAST]) == 0
    a, b = pd.read_csv(run2020 / "targets.csv"), pd.read_csv(out / "targets.csv")
    for col in ("probability", "mc_se", "median", "delta_vs_baseline", "delta_se"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-12, equal_nan=True)
    ds = xr.open_dataset(out / "ensemble.nc")
    assert "quantile" in ds.dims and "draw" not in ds.dims


@pytest.mark.slow
def test_midterm_run_adds_progress_since_plan_start(run2020, tmp_path):
    out = tmp_path / "m"
    assert main(["run", str(S2020), "--as-of", "2018", "--out", str(out), *FAST]) == 0
    mid = pd.read_csv(out / "targets.csv").set_index(["scenario", "target_id"])
    start = pd.read_csv(run2020 / "targets.csv").set_index(["scenario", "target_id"])
    key = ("baseline", "gdp_2020_fyp13")
    assert mid.loc[key, "p_at_plan_start"] == start.loc[key, "probability"]
    assert mid.loc[key, "delta_p_since_start"] == pytest.approx(
        mid.loc[key, "probability"] - start.loc[key, "probability"])
    assert np.isfinite(mid.loc[key, "achieved_annual"]) and np.isfinite(mid.loc[key, "required_annual"])
    # issue 13: the tables a team hands in carry the mid-term columns too
    plan = pd.read_csv(out / "targets_table.csv", encoding="utf-8-sig")
    plan = plan.set_index(["scenario", "target_id"])
    r = plan.loc[key]
    assert r["p_at_plan_start"] == mid.loc[key, "p_at_plan_start"]
    assert r["delta_p"] == mid.loc[key, "delta_p_since_start"] and r["delta_p_se"] > 0
    assert r["pace_unit"] == "%/yr" and np.isfinite(r["achieved_pace"])
    assert r["latest_year"] == 2018 and r["verdict"]
    share = plan.loc[("baseline", "tertiary_share_2020_fyp13")]
    assert share["pace_unit"] == "pp/yr" and share["required"].endswith("pp/yr (2018→2020)")
    met = plan[plan["already_met"]]     # the data already meet it: no negative required pace
    assert len(met) and met["required_pace"].isna().all()
    assert met["required"].str.startswith("已达到 already met").all()
    housing = plan.loc[("baseline", "affordable_housing_supply_2016_2020_fyp13")]
    assert housing["change_since_start"].startswith(("方法已变 method changed", "已退出评估 dropped out"))
    wb = load_workbook(out / "targets.xlsx")
    header = [c.value for c in wb["评估表 Evaluation"][1]]
    assert {"规划初期 P at plan start", "ΔP since plan start", "ΔP ± SE", "已实现年均 Achieved per year",
            "尚需年均 Required per year", "年均单位 Pace unit", "已达到 Already met"} <= set(header)
    assert "评估变化 Since plan start" in wb.sheetnames


@pytest.mark.slow
def test_lever_on_a_driver_without_history_is_ignored_with_a_warning(tmp_path, capsys):
    out = tmp_path / "r15"
    variant = tmp_path / "water.toml"
    variant.write_text(S2015.read_text(encoding="utf-8") + '\n[scenarios.water_push]\n'
                       'extends = "baseline"\ndescription = "Water saving."\n'
                       '[scenarios.water_push.levers.water_intensity]\nshift_pp = -1.0\n',
                       encoding="utf-8")
    assert main(["run", str(variant), "--out", str(out), *FAST]) == 0
    err = capsys.readouterr().err
    msg = ("scenario 'water_push': lever on water_intensity ignored: no history of "
           "water_intensity up to as_of 2010 to calibrate it")
    assert msg in err
    assert msg in json.loads((out / "manifest.json").read_text())["ignored_levers"]
    t = pd.read_csv(out / "targets.csv").set_index(["scenario", "target_id"])
    assert t.loc[("baseline", "gdp_2015_fyp12"), "status"] == "evaluated"


def test_bad_scenario_file_exits_2_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[run]\nas_of = 2015\nhorizon = 2020\ndraws = "many"\nseed = 1\n'
                   'target_sets = ["fyp13_2020"]\n[scenarios.baseline]\ndescription = "x"\n')
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "run.draws: wrong type (expected integer, got string 'many')" in err
    assert "Traceback" not in err and not (tmp_path / "o").exists()


def test_a_bad_command_line_override_is_named_as_such(tmp_path, capsys):
    assert main(["run", str(S2020), "--as-of", "2020", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert ("run.as_of: as_of 2020 is equal to horizon 2020 (expected as_of < horizon) "
            "(set on the command line: --as-of)") in err


@pytest.mark.slow
def test_observed_outcomes_carry_their_source(run2020):
    t = pd.read_csv(run2020 / "targets.csv").set_index(["scenario", "target_id"])
    gdp = t.loc[("baseline", "gdp_2020_fyp13")]
    # 2020 GDP is in the bundled data (after as_of 2015: shown, never used by the fit)
    assert gdp["observed_year"] == 2020 and gdp["observed"] > 26000
    assert isinstance(gdp["observed_source"], str) and gdp["observed_source"]


# --------------------------------------------------------------------------------------------
# the context: one reading, one calibration per information set, as_of checked
# --------------------------------------------------------------------------------------------
def _count(monkeypatch, name):
    """Count the calls of ``sim.run.context.<name>`` (still calling it)."""
    calls = []
    real = getattr(context_module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(context_module, name, counted)
    return calls


@pytest.mark.slow
def test_midterm_reads_the_file_once_per_context_and_calibrates_twice(tmp_path, monkeypatch):
    parses = _count(monkeypatch, "load_scenario_file")
    fits = _count(monkeypatch, "load_or_calibrate")
    out = run_file(S2020, overrides={"as_of": 2018, "draws": 300}, out=tmp_path / "m",
                   figures=False)
    assert len(parses) == 2                     # the mid-term context and the plan-start one
    assert sorted(a[0] for a in fits) == [2015, 2018]
    t = out.table.set_index(["scenario", "target_id"])
    assert (t["plan_start_as_of"] == 2015).all()
    assert np.isfinite(t.loc[("baseline", "gdp_2020_fyp13"), "p_at_plan_start"])


def test_build_refuses_a_fitted_model_of_another_as_of():
    with pytest.raises(SimError, match="calibrated as of 2015 .* but the run is as of 2018"):
        RunContext.build(S2020, overrides={"as_of": 2018}, fitted=synthetic_fitted(as_of=2015))


def test_context_checks_the_as_of_of_its_ensemble():
    ctx = RunContext.build(S2020, fitted=synthetic_fitted(as_of=2015))
    assert ctx.as_of == ctx.plan_start == 2015 and not ctx.is_midterm
    ctx.check_as_of(xr.Dataset(attrs={"as_of": 2015}))
    with pytest.raises(SimError, match="ensemble as of 2016"):
        ctx.check_as_of(xr.Dataset(attrs={"as_of": 2016}))


def test_plan_start_context_reuses_the_reading_of_the_file(monkeypatch):
    parses = _count(monkeypatch, "load_scenario_file")
    ctx = RunContext.build(S2020, overrides={"as_of": 2018, "draws": 123},
                           fitted=synthetic_fitted(as_of=2018))
    start = ctx.at_as_of(ctx.plan_start, fitted=synthetic_fitted(as_of=2015))
    assert len(parses) == 2 and ctx.is_midterm
    assert start.as_of == 2015 and start.settings.draws == 123 and not start.is_midterm
    assert start.spec == load_scenario_file(S2020, overrides={"draws": 123})


def test_calibrate_writes_into_the_cache_not_the_repository(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    fixture = Path(__file__).resolve().parent / "data" / "calibrate"
    monkeypatch.setenv("SIM_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["calibrate", "--data", str(fixture)]) == 0
    path = tmp_path / "cache" / fitted_filename(2014, "revised")
    assert path.is_file()
    assert f"wrote {path} (the calibration cache" in capsys.readouterr().out
