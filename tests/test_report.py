"""report.html, write_outputs, `sim report` and `sim compare` on a small hand-built results folder.

The folder (conftest ``results_folder``) is made without the engine: lognormal paths in the
ensemble layout, evaluated against the real catalogue of the 13th-FYP target set (so `sim report`
can rebuild it), then written like `sim run` does. It draws every figure (~10 s once per
session), so the tests that use it are marked slow.
"""

from __future__ import annotations

import html
import json
import re
import shutil

import pandas as pd
import pytest

from sim.cli import main
from sim.ensemble import read_netcdf
from sim.output import rebuild as rebuild_module
from sim.output.fans import fan_specs
from sim.output.owned import MARKER
from sim.output.report import target_windows
from sim.output.tables import fmt_pm



def _copy_run(results, dest):
    """The files `sim run` writes before the derived ones: enough for `sim report`."""
    dest.mkdir()
    for name in ("ensemble.nc", "scenario.resolved.toml", "manifest.json", MARKER):
        shutil.copy2(results / name, dest / name)
    return dest


@pytest.mark.slow  # the session results folder draws every figure (~10 s, once)
def test_report_html_is_self_contained(results_folder, external_ref):
    from test_report_page import assert_self_contained

    page = (results_folder / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not external_ref.search(page), external_ref.search(page).group(0)
    assert '<meta name="viewport"' in page
    # every figure file is embedded as a base64 PNG, none is linked
    n_png = len(list((results_folder / "figures").glob("*.png")))
    assert n_png > 0
    assert page.count('src="data:image/png;base64,') == n_png
    # nothing is referenced at all: every src is a data: URI, every href an anchor of this
    # page; no element that loads anything, no network call in the script, no @import / url()
    refs = re.findall(r"""(src|href)\s*=\s*["']([^"']*)""", page)
    assert refs and all(v.startswith("data:") if k == "src" else v.startswith("#") for k, v in refs)
    assert_self_contained(page)
    # every figure opens full size without a script: it sits in a label with a checkbox
    assert page.count('<label class="zoom"') == n_png
    # the CJK font travels inside the page
    assert "@font-face" in page and "data:font/woff;base64," in page


@pytest.mark.slow
def test_report_names_every_not_evaluable_target_and_reason(results_folder):
    page = html.unescape((results_folder / "report.html").read_text(encoding="utf-8"))
    table = pd.read_csv(results_folder / "targets.csv")
    ne = table[table["status"] != "evaluated"]
    assert not ne.empty and (table["status"] == "evaluated").any()
    section = page[page.index('id="not-evaluable"'):page.index('id="provenance"')]
    for tid, reason in ne[["target_id", "reason"]].drop_duplicates().itertuples(index=False):
        assert tid in section
        assert reason in section


@pytest.mark.slow
def test_report_shows_probabilities_scenarios_and_provenance(results_folder):
    page = html.unescape((results_folder / "report.html").read_text(encoding="utf-8"))
    table = pd.read_csv(results_folder / "targets.csv")
    for r in table[table["status"] == "evaluated"].itertuples():
        assert fmt_pm(r.probability, r.mc_se) in page
    for text in ("基准情景", "Continuation of trends.", "加速", "abc123def4567890", "seed",
                 "as_of", "numpy", "programme units 2016–2020: 70,000 a year"):
        assert text in page
    assert "P(all n met)" in page and " of " in page[page.index('id="joint"'):]


@pytest.mark.slow
def test_figures_exist_per_indicator_view(results_folder, synthetic_series):
    ds = read_netcdf(results_folder / "ensemble.nc")
    table = pd.read_csv(results_folder / "targets.csv")
    specs = fan_specs(ds, table, target_windows())
    names = {p.name for p in (results_folder / "figures").glob("*.png")}
    # one fan (all scenarios as small multiples) per simulated series …
    for series in synthetic_series:
        assert f"fan_{series}.png" in names
    # … and per target view, with a scenario overlay for each view that carries a target and
    # differs between scenarios (water intensity does not: no lever moves it here)
    assert "fan_water_intensity_change_since_2015.png" in names
    assert "overlay_water_intensity_change_since_2015.png" not in names
    assert "fan_affordable_housing_supplied_sum_2016_2020.png" in names
    assert "overlay_gdp_nominal.png" in names
    assert {s.filename for s in specs} <= names
    assert {"pmet_by_scenario.png", "pmet_heatmap.png"} <= names


@pytest.mark.slow
def test_sim_report_rebuilds_the_same_targets_csv(results_folder, tmp_path):
    copy = _copy_run(results_folder, tmp_path / "copy")
    (copy / "fitted_model.json").write_text("{}")
    (copy / "compare").mkdir()
    (copy / "compare" / "compare.csv").write_text("x")
    inode = (copy / "ensemble.nc").stat().st_ino
    assert main(["report", str(copy), "--no-figures", "--quiet"]) == 0
    before = pd.read_csv(results_folder / "targets.csv")
    after = pd.read_csv(copy / "targets.csv")
    pd.testing.assert_frame_equal(before, after)
    pd.testing.assert_frame_equal(pd.read_csv(results_folder / "joint.csv"),
                                  pd.read_csv(copy / "joint.csv"))
    for name in ("targets_table.csv", "targets.md", "targets.xlsx", "targets.html", "report.html"):
        assert (copy / name).stat().st_size > 0
    # files the rebuild does not write are kept; ensemble.nc is carried over, not copied
    assert (copy / "fitted_model.json").read_text() == "{}"
    assert (copy / "compare" / "compare.csv").read_text() == "x"
    assert (copy / "ensemble.nc").stat().st_ino == inode
    # the run's manifest keeps its content, lists the files and says it was rebuilt
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 7 and manifest["as_of"] == 2015
    assert manifest["rebuilt"]["command"] == "report"
    assert set(manifest["files"]) == {p.name for p in copy.iterdir()} - {MARKER}
    assert (copy / MARKER).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]  # no partial folder left


@pytest.mark.slow
def test_sim_report_no_figures_keeps_the_old_charts(results_folder, tmp_path):
    copy = _copy_run(results_folder, tmp_path / "copy")
    (copy / "figures").mkdir()
    (copy / "figures" / "old.png").write_bytes(b"png")
    assert main(["report", str(copy), "--no-figures", "--quiet"]) == 0
    assert (copy / "figures" / "old.png").read_bytes() == b"png"


@pytest.mark.slow
def test_sim_report_failure_leaves_the_folder_as_it_was(results_folder, tmp_path, monkeypatch):
    copy = _copy_run(results_folder, tmp_path / "copy")
    (copy / "targets.csv").write_text("old")
    before = sorted(p.name for p in copy.iterdir())

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(rebuild_module, "write_outputs", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        rebuild_module.rebuild(copy, figures=False)
    assert sorted(p.name for p in copy.iterdir()) == before
    assert (copy / "targets.csv").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]


def test_sim_report_bad_input_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "no such results folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    assert main(["report", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "not a results folder (no ensemble.nc; found notes.txt)" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_a_huge_description_does_not_bloat_the_report(results_folder, make_dataset, tmp_path):
    """Issue 14: a 52 MB description made a 104 MB report.html (description + resolved TOML)."""
    from sim.output.report import write_outputs
    from sim.output.report_scenarios import MAX_DESCRIPTION

    table = pd.read_csv(results_folder / "targets.csv")
    joint = pd.read_csv(results_folder / "joint.csv")
    sizes = {}
    for n in (10, 2_000_000):
        ds = make_dataset()
        ds.attrs["scenario_resolved"] = ds.attrs["scenario_resolved"].replace(
            'description = "Continuation of trends."', f'description = "{"y" * n}"')
        out = tmp_path / str(n)
        out.mkdir()
        write_outputs(out, ds, table, joint, figures=False, table_formats=())
        page = (out / "report.html").read_text(encoding="utf-8")
        sizes[n] = len(page)
    assert "y" * MAX_DESCRIPTION in page and "y" * (MAX_DESCRIPTION + 1) not in page.split(
        "<pre>")[0]
    assert "1,998,000 more characters not shown" in page
    assert sizes[2_000_000] - sizes[10] < 300_000   # was about twice the description


def test_an_ensemble_attribute_of_the_wrong_type_is_an_error_naming_the_file(make_results,
                                                                              tmp_path, run_cli):
    from sim.ensemble import read_netcdf, write_netcdf

    a = make_results(tmp_path / "a", figures=False)
    ds = read_netcdf(a / "ensemble.nc")
    ds.attrs["ignored_levers"] = "%;not json"
    (a / "ensemble.nc").unlink()
    write_netcdf(ds, a / "ensemble.nc")
    code, _, err = run_cli("report", a, "--no-figures")
    assert code == 2
    assert str(a / "ensemble.nc") in err and "ignored_levers" in err


@pytest.mark.slow
def test_sim_report_keeps_the_runs_combined_probabilities(tmp_path, run_cli, shipped):
    """Regression: `sim report` re-evaluated ensemble.nc alone and silently turned every
    trend+record and record-only probability into trend only (145 targets not evaluable)."""
    out = tmp_path / "r"
    code, _, err = run_cli("run", shipped["2020"], "--draws", "300", "--out", out, "--quiet",
                           "--no-figures")
    assert code == 0, err
    before = (out / "targets.csv").read_bytes()
    assert b"record only" in before
    code, _, err = run_cli("report", out, "--no-figures")
    assert code == 0, err
    assert (out / "targets.csv").read_bytes() == before
    assert "record only" in (out / "report.html").read_text(encoding="utf-8")
