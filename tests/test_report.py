"""report.html, write_outputs, `sim report` and `sim compare` on a small hand-built results folder.

The folder is made without the engine: lognormal paths in the ensemble layout of
:mod:`sim.ensemble`, evaluated with :func:`sim.evaluation.evaluate` against the real catalogue
of the 13th-FYP target set (so `sim report` can rebuild it), then written like `sim run` does.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sim.cli import main

AS_OF, HORIZON, DRAWS = 2015, 2020, 300
TARGET_SETS = ["fyp13_2020"]

RESOLVED = """# Resolved scenario file (test fixture)
[run]
as_of = 2015
horizon = 2020
draws = 300
seed = 7
target_sets = ["fyp13_2020"]
vintage = "revised"

[output]
quantiles = [0.025, 0.1, 0.5, 0.9, 0.975]
figures = true
table_formats = ["csv", "md", "xlsx", "html"]

[scenarios.baseline]
description = "Continuation of trends."
label_zh = "基准情景"

[scenarios.baseline.target_values]
co2_intensity_cum_2020_fyp13 = -10.0

[scenarios.baseline.levers.affordable_housing]
programme_units = { 2016 = 70000, 2017 = 70000, 2018 = 70000, 2019 = 70000, 2020 = 70000 }

[scenarios.faster]
description = "Faster growth and a bigger housing programme."
label_zh = "加速"

[scenarios.faster.target_values]
co2_intensity_cum_2020_fyp13 = -10.0

[scenarios.faster.levers.gdp_real]
shift_pp = 1.0
"""

#: series → (as_of value or None for an index, mean log growth, sd, units, zh, en)
SERIES = {
    "gdp_nominal": (17500.0, 0.08, 0.03, "亿元", "地区生产总值", "GDP (current prices)"),
    "gdp_per_capita": (153000.0, 0.05, 0.03, "元", "人均地区生产总值", "GDP per capita"),
    "population_resident": (1138.0, 0.03, 0.01, "万人", "常住人口", "Resident population"),
    "water_intensity": (11.0, -0.045, 0.02, "立方米/万元", "万元GDP水耗", "Water use per 10,000 yuan of GDP"),
    "co2_intensity": (0.7, -0.03, 0.02, "tCO2/万元", "万元GDP二氧化碳排放", "CO2 per 10,000 yuan of GDP"),
    "carbon_factor": (None, -0.02, 0.01, "1", "单位能耗二氧化碳排放", "CO2 per unit of energy"),
    "affordable_housing_supplied": (60000.0, 0.0, 0.15, "套", "保障性住房供应套数", "Affordable housing units supplied"),
}


def make_dataset(seed: int = 0, shift: float = 0.0, draws: int = DRAWS) -> xr.Dataset:
    """Lognormal paths; scenario 'faster' grows ``0.01 + shift`` faster (same shocks: CRN)."""
    rng = np.random.default_rng(seed)
    years = np.arange(AS_OF, HORIZON + 1)
    scen = ["baseline", "faster"]
    ds = xr.Dataset(coords={"scenario": scen, "draw": np.arange(draws), "year": years})
    for name, (v0, mu, sd, unit, zh, en) in SERIES.items():
        eps = rng.standard_normal((draws, len(years) - 1))
        paths = []
        for k in range(len(scen)):
            m = mu + (0.01 + shift) * k if name.startswith("gdp") else mu
            if name == "affordable_housing_supplied":
                level = np.exp(np.log(v0 * (1 + 0.1 * k)) + sd * eps)
                paths.append(np.concatenate([np.full((draws, 1), v0), level], axis=1))
                continue
            logs = np.concatenate([np.zeros((draws, 1)), np.cumsum(m + sd * eps, axis=1)], axis=1)
            paths.append((v0 or 1.0) * np.exp(logs))
        attrs = {"units": unit, "long_name": en, "long_name_zh": zh, "scale": "log"}
        if v0 is None:
            attrs["relative_to_as_of"] = 1
        ds[name] = xr.DataArray(np.stack(paths), dims=("scenario", "draw", "year"), attrs=attrs)
    ds["co2_intensity_log_change_since_2010"] = xr.DataArray(
        -0.2 + 0.02 * rng.standard_normal(draws), dims=("draw",), attrs={"units": "1"})
    ds.attrs.update(as_of=AS_OF, seed=7, draws=draws, horizon=HORIZON, vintage="revised",
                    data_hash="abc123def4567890", title="test ensemble",
                    versions=json.dumps({"sim": "test", "numpy": np.__version__}),
                    scenario_resolved=RESOLVED)
    return ds


def target_values() -> dict:
    return {"baseline": {"co2_intensity_cum_2020_fyp13": -10.0},
            "faster": {"co2_intensity_cum_2020_fyp13": -10.0}}


def make_results(folder: Path, *, seed: int = 0, shift: float = 0.0, outputs: bool = True,
                 figures: bool = True) -> Path:
    """A results folder as `sim run` writes it (ensemble.nc, targets.csv, joint.csv, …)."""
    from sim.ensemble import write_netcdf
    from sim.evaluation import evaluate
    from sim.history import load_history
    from sim.output.report import write_outputs
    from sim.targets import targets_for_sets

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ds = make_dataset(seed, shift)
    history = load_history()
    catalogue = targets_for_sets(TARGET_SETS)
    ev = evaluate(ds, catalogue, target_values(), history=history)
    write_netcdf(ds, folder / "ensemble.nc")
    ev.table.to_csv(folder / "targets.csv", index=False)
    ev.joint.to_csv(folder / "joint.csv", index=False)
    (folder / "scenario.resolved.toml").write_text(RESOLVED, encoding="utf-8")
    (folder / "manifest.json").write_text(json.dumps({"seed": 7, "as_of": AS_OF}), encoding="utf-8")
    if outputs:
        write_outputs(folder, ds, ev.table, ev.joint, history=history, catalogue=catalogue,
                      figures=figures)
    return folder


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    return make_results(tmp_path_factory.mktemp("run") / "baseline_2020")


EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|@import|url\(\s*["']?\s*(?:https?:)?//""", re.I)


def test_report_html_is_self_contained(results):
    page = (results / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not EXTERNAL.search(page), EXTERNAL.search(page).group(0)
    assert '<meta name="viewport"' in page
    # every figure file is embedded as a base64 PNG, none is linked
    n_png = len(list((results / "figures").glob("*.png")))
    assert n_png > 0
    assert page.count('src="data:image/png;base64,') == n_png
    # nothing is referenced at all: every src is a data: URI, every href an in-page anchor
    refs = re.findall(r"""(src|href)\s*=\s*["']([^"']*)""", page)
    assert refs and all(v.startswith("data:") if k == "src" else v.startswith("#") for k, v in refs)
    # the CJK font travels inside the page
    assert "@font-face" in page and "data:font/woff;base64," in page


def test_report_names_every_not_evaluable_target_and_reason(results):
    import html

    page = html.unescape((results / "report.html").read_text(encoding="utf-8"))
    table = pd.read_csv(results / "targets.csv")
    ne = table[table["status"] != "evaluated"]
    assert not ne.empty and (table["status"] == "evaluated").any()
    section = page[page.index('id="not-evaluable"'):page.index('id="provenance"')]
    for tid, reason in ne[["target_id", "reason"]].drop_duplicates().itertuples(index=False):
        assert tid in section
        assert reason in section


def test_report_shows_probabilities_scenarios_and_provenance(results):
    import html

    from sim.output.tables import fmt_pm

    page = html.unescape((results / "report.html").read_text(encoding="utf-8"))
    table = pd.read_csv(results / "targets.csv")
    for r in table[table["status"] == "evaluated"].itertuples():
        assert fmt_pm(r.probability, r.mc_se) in page
    for text in ("基准情景", "Continuation of trends.", "加速", "abc123def4567890", "seed",
                 "as_of", "numpy", "programme units 2016–2020: 70,000 a year"):
        assert text in page
    assert "P(all met)" in page


def test_figures_exist_per_indicator_view(results):
    from sim.ensemble import read_netcdf
    from sim.output.plots import fan_specs
    from sim.output.report import target_windows

    ds = read_netcdf(results / "ensemble.nc")
    table = pd.read_csv(results / "targets.csv")
    specs = fan_specs(ds, table, target_windows())
    names = {p.name for p in (results / "figures").glob("*.png")}
    # one fan (all scenarios as small multiples) per simulated series …
    for series in SERIES:
        assert f"fan_{series}.png" in names
    # … and per target view, with a scenario overlay for each view that carries a target and
    # differs between scenarios (water intensity does not: no lever moves it here)
    assert "fan_water_intensity_change_since_2015.png" in names
    assert "overlay_water_intensity_change_since_2015.png" not in names
    assert "fan_affordable_housing_supplied_sum_2016_2020.png" in names
    assert "overlay_gdp_nominal.png" in names
    assert {s.filename for s in specs} <= names
    assert {"pmet_by_scenario.png", "pmet_heatmap.png"} <= names


def test_sim_report_rebuilds_the_same_targets_csv(results, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("ensemble.nc", "scenario.resolved.toml", "manifest.json"):
        shutil.copy2(results / name, copy / name)
    assert main(["report", str(copy), "--no-figures", "--quiet"]) == 0
    before = pd.read_csv(results / "targets.csv")
    after = pd.read_csv(copy / "targets.csv")
    pd.testing.assert_frame_equal(before, after)
    pd.testing.assert_frame_equal(pd.read_csv(results / "joint.csv"), pd.read_csv(copy / "joint.csv"))
    for name in ("targets_table.csv", "targets.md", "targets.xlsx", "targets.html", "report.html"):
        assert (copy / name).stat().st_size > 0
    assert not (copy / ".report-partial").exists()


def test_sim_report_bad_input_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "no such results folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    assert main(["report", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "not a results folder (no ensemble.nc; found notes.txt)" in err
    assert "Traceback" not in err


def test_compare_two_folders(results, tmp_path, capsys):
    other = make_results(tmp_path / "midterm", seed=1, shift=0.02, outputs=False)
    out = tmp_path / "cmp"
    assert main(["compare", str(results), str(other), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "P(target met) — midterm" in printed and "P(target met) — baseline_2020" in printed
    cmp = pd.read_csv(out / "compare.csv")
    assert set(cmp["run"]) == {"baseline_2020", "midterm"}
    # P(met) in the comparison equals each run's own targets.csv
    for run, folder in (("baseline_2020", results), ("midterm", other)):
        own = pd.read_csv(folder / "targets.csv").set_index(["scenario", "target_id"])
        sub = cmp[(cmp["run"] == run) & (cmp["status"] == "evaluated")]
        assert len(sub) > 0
        for r in sub.itertuples():
            assert r.probability == own.loc[(r.scenario, r.target_id), "probability"]
    page = (out / "compare.html").read_text(encoding="utf-8")
    assert not EXTERNAL.search(page)
    assert (out / "figures" / "pmet_by_scenario.png").exists()
    assert (out / "figures" / "overlay_gdp_nominal.png").exists()
    assert (out / "compare.md").read_text(encoding="utf-8").count("|") > 10


def test_compare_refuses_folders_without_shared_targets(results, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy2(results / "ensemble.nc", other / "ensemble.nc")
    t = pd.read_csv(results / "targets.csv")
    t.assign(target_id="x_" + t["target_id"]).to_csv(other / "targets.csv", index=False)
    assert main(["compare", str(results), str(other), "--no-figures"]) == 2
    assert "share no target" in capsys.readouterr().err
