"""A data directory's own series (series.csv) and targets (targets.csv): reading, checking,
merging into the vocabulary and the catalogue, and a run that evaluates a declared target
while leaving every other probability bit-identical."""

import shutil

import numpy as np
import pandas as pd
import pytest

from sim.errors import SimError
from sim.declared.check import check_data_dir
from sim.history import DECLARATION_FILES, load_history
from sim.paths import DEFAULT_DATA_DIR
from sim.targets import declared_changes, load_catalogue
from sim.vocabulary import SERIES

SERIES_HEADER = "series,unit,transform,lower,upper,family,description\n"
FOREST = ("forest_coverage,%,logit,0,100,environment_quality,"
          "Forest coverage of the land area (test fixture)\n")
OBS_HEADER = "series,year,base_year,kind,value,unit,vintage,source,note\n"
TARGET_HEADER = ("id,target_set,series,indicator_zh,indicator_en,domain,target_year,kind,"
                 "comparator,value,unit,binding,value_status,source,quote_zh,family\n")
FOREST_TARGET = ("forest_coverage_2020_test,fyp13_2020,forest_coverage,森林覆盖率,Forest coverage,"
                 "environment,2020,share,>=,41.6,%,indicative,given,test fixture,"
                 "森林覆盖率达到41.6%,environment_quality\n")


def forest_obs(years, start=41.2, step=0.1):
    """Level observations of the test series (a fixture, not real data): a steady rise with
    uneven steps (so that a long history estimates its own noise)."""
    wiggle = (0.0, 0.3, -0.25, 0.2, 0.05, -0.15, 0.25, 0.0)
    return OBS_HEADER + "".join(
        f"forest_coverage,{y},,level,{start + step * i + wiggle[i % 8] * (i > 0):.2f},%,unknown,"
        f"test fixture (not real data),\n" for i, y in enumerate(years))


def data_dir(tmp_path, series=None, targets=None, obs=None):
    """The bundled observation files plus the given series.csv / targets.csv / forest.csv."""
    d = tmp_path / "data"
    d.mkdir(parents=True)
    for f in DEFAULT_DATA_DIR.glob("*.csv"):
        if f.name not in DECLARATION_FILES:
            shutil.copy(f, d / f.name)
    for name, text in (("series.csv", series), ("targets.csv", targets), ("forest.csv", obs)):
        if text is not None:
            (d / name).write_text(text, encoding="utf-8")
    return d


def test_declared_series_joins_the_history_vocabulary_only(tmp_path):
    d = data_dir(tmp_path, SERIES_HEADER + FOREST, obs=forest_obs(range(2013, 2016)))
    h = load_history(d)
    assert h.vocabulary.is_declared("forest_coverage") and "forest_coverage" not in SERIES
    s = h.vocabulary["forest_coverage"]
    assert (s.unit, s.scale, s.role, s.family, s.lower, s.upper) == (
        "%", "logit", "generic", "environment_quality", 0.0, 100.0)
    assert s.declared_in == "series.csv: line 2"
    assert list(h.select("forest_coverage")["value"]) == pytest.approx([41.2, 41.6, 41.15])
    bundled = load_history()
    assert "forest_coverage" not in bundled.vocabulary and bundled.declarations.series == {}
    with pytest.raises(SimError, match="unknown series 'forest_coverage'"):
        bundled.select("forest_coverage")
    assert h.vocabulary.is_declared("forest_coverage")   # the first history is unchanged


def test_series_file_problems_name_file_line_and_column(tmp_path):
    bad = (SERIES_HEADER
           + "gdp_real,index,log,,,economic_growth,clash\n"
           + "Forest,%,lin,,,nature,\n"
           + "share_x,万吨,logit,-1,50,,a share\n"
           + "level_x,元,level,,,,a level\n")
    d = data_dir(tmp_path, bad)
    got = [str(p).replace(str(d) + "/", "") for p in check_data_dir(d)]
    assert got == [
        "series.csv: line 2: series: 'gdp_real' is a built-in series (unit index); a data "
        "directory may only add new names",
        "series.csv: line 3: series: expected a name of lower-case letters, digits and '_' "
        "starting with a letter (got 'Forest')",
        "series.csv: line 3: transform: unknown transform 'lin' (expected one of log, logit)",
        "series.csv: line 3: family: unknown family 'nature' (expected one of "
        "energy_intensity, carbon_intensity, pollutant_reduction, economic_growth, "
        "structure_share, population_control, social, environment_quality, other)",
        "series.csv: line 3: description: empty (expected what the series measures)",
        "series.csv: line 4: unit: a logit series is a share in % (expected '%', got '万吨')",
        "series.csv: line 4: lower: a logit series is a share in % (expected 0 <= lower <= 100, "
        "got -1)",
        "series.csv: line 5: transform: 'level' is not supported yet: the models work on log or "
        "logit (expected log for a positive quantity, logit for a share in %)",
    ]


def test_series_file_header_is_checked(tmp_path):
    d = data_dir(tmp_path, "series,unit,scale\nx,%,logit\n")
    (p,) = check_data_dir(d)
    assert p.where == "line 1" and p.message.startswith(
        "missing column(s) transform, lower, upper, family, description; unexpected column(s) "
        "scale (expected exactly: series,unit,transform,lower,upper,family,description)")


def test_declared_range_bounds_the_observations(tmp_path):
    series = SERIES_HEADER + "forest_coverage,%,logit,20,60,environment_quality,forest\n"
    d = data_dir(tmp_path, series, obs=forest_obs([2014, 2015], start=61.0))
    msgs = [p.message for p in check_data_dir(d)]
    assert msgs == ["level of forest_coverage out of range (expected 20 <= value <= 60, got 61.00)",
                    "level of forest_coverage out of range (expected 20 <= value <= 60, got 61.40)"]


def test_observations_of_an_undeclared_series_are_still_refused(tmp_path):
    d = data_dir(tmp_path, obs=forest_obs([2015]))
    (p,) = check_data_dir(d)
    assert p.message == ("unknown series 'forest_coverage' (did you mean 'green_coverage'?) (a new "
                         "series is declared in the data directory's series.csv)")


def test_targets_file_adds_and_corrects_catalogue_rows(tmp_path):
    base = load_catalogue().set_index("id")
    blank = base[base["value_status"] == "blank"].index[0]
    targets = ("id,value,value_status,source\n"
               f"{blank},-15,given,some cited secondary source\n"
               "tertiary_share_2020_fyp13,,,erratum of the plan (test)\n")
    d = data_dir(tmp_path, targets=targets)
    h = load_history(d)
    cat = h.catalogue().set_index("id")
    assert len(cat) == len(base)
    assert cat.loc[blank, "value"] == -15 and cat.loc[blank, "value_status"] == "given"
    assert cat.loc[blank, "source"] == "some cited secondary source"
    assert cat.loc[blank, "note"].endswith(
        f"corrected by targets.csv line 2 (value, value_status; catalogue source: "
        f"{base.loc[blank, 'source']})")
    assert cat.loc["tertiary_share_2020_fyp13", "value"] == base.loc["tertiary_share_2020_fyp13",
                                                                      "value"]
    assert [(c["id"], c["action"], c["columns"]) for c in declared_changes(h.declarations)] == [
        (blank, "corrected", "value, value_status, source"),
        ("tertiary_share_2020_fyp13", "corrected", "source")]


def test_a_new_target_on_a_declared_series(tmp_path):
    d = data_dir(tmp_path, SERIES_HEADER + FOREST, TARGET_HEADER + FOREST_TARGET,
                 obs=forest_obs(range(2013, 2016)))
    h = load_history(d)
    cat = h.catalogue().set_index("id")
    row = cat.loc["forest_coverage_2020_test"]
    assert (row["series"], row["value"], row["unit"], row["family"]) == (
        "forest_coverage", 41.6, "%", "environment_quality")
    assert "forest_coverage_2020_test" not in set(load_catalogue()["id"])
    assert declared_changes(h.declarations) == [{"id": "forest_coverage_2020_test", "action": "added",
                                   "columns": "forest_coverage, 2020: >= 41.6 %",
                                   "where": "targets.csv: line 2"}]


def test_target_file_problems_are_the_catalogue_checks_at_the_declared_line(tmp_path):
    targets = (TARGET_HEADER + FOREST_TARGET.replace(",%,indicative", ",公顷,indicative")
               + "gdp_2020_fyp13,,,,,,,,,,,,,,,\n"
               + FOREST_TARGET.replace(",2020,share", ",2020,shares"))
    d = data_dir(tmp_path, SERIES_HEADER + FOREST, targets, obs=forest_obs(range(2013, 2016)))
    got = [(p.where, p.message) for p in check_data_dir(d)]
    assert got == [
        ("line 2", "unit of series forest_coverage must be '%' (got '公顷')"),
        ("line 3", "source: empty (a correction needs the source of the corrected value)"),
        ("line 4", "id: 'forest_coverage_2020_test' appears twice (first at line 2)"),
    ]
    (d / "targets.csv").write_text("id,value,colour\nx,1,red\n", encoding="utf-8")
    (p,) = check_data_dir(d)
    assert p.where == "line 1" and p.message.startswith(
        "missing column(s) source; unknown column(s) colour (expected id, source and any of")


def test_sim_data_lists_what_a_directory_declares(tmp_path, run_cli):
    d = data_dir(tmp_path, SERIES_HEADER + FOREST, TARGET_HEADER + FOREST_TARGET,
                 obs=forest_obs(range(2013, 2016)))
    code, out, _ = run_cli("data", "--data", d, "--show", "series")
    assert code == 0
    head = out.split("\n\n")[:2]
    assert head[0].startswith(f"Declared in {d} (series.csv, targets.csv)")
    lines = head[1].splitlines()
    assert "forest_coverage" in lines[1] and "added" in lines[1] and "series.csv: line 2" in lines[1]
    assert "forest_coverage_2020_test" in lines[2] and "targets.csv: line 2" in lines[2]




def test_sim_validate_checks_a_data_directory(tmp_path, run_cli):
    good = data_dir(tmp_path / "good", SERIES_HEADER + FOREST, TARGET_HEADER + FOREST_TARGET,
                    obs=forest_obs(range(2013, 2016)))
    code, out, err = run_cli("validate", "--data", good)
    assert (code, out.strip(), err) == (0, f"{good}: ok", "")
    bad = data_dir(tmp_path / "bad", SERIES_HEADER + FOREST.replace(",logit,", ",cube,"))
    code, out, err = run_cli("validate", "--data", bad)
    assert code == 2 and out == ""
    assert (f"{bad / 'series.csv'}: line 2: transform: unknown transform 'cube' (expected one of "
            f"log, logit)") in err and "Traceback" not in err
    code, _, err = run_cli("validate")
    assert code == 2 and "nothing to check (expected scenario files, --data DIR, or both)" in err
SCENARIO = """[run]
as_of = 2015
horizon = 2020
draws = 2000
seed = 5
target_sets = ["fyp13_2020"]

[scenarios.baseline]
description = "trends continue"
"""


def _run(run_cli, tmp_path, name, data):
    scen = tmp_path / "s.toml"
    scen.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / name
    code, _, err = run_cli("run", scen, "--data", data, "--out", out, "--no-figures", "--quiet")
    assert code == 0, err
    return pd.read_csv(out / "targets.csv").set_index(["scenario", "target_id"])


def _assert_others_identical(plain, declared, new_id):
    assert set(declared.index) - set(plain.index) == {("baseline", new_id)}
    other = declared.loc[plain.index]
    for col in ("probability", "p_trend", "median", "p10", "p90", "method"):
        assert np.array_equal(plain[col].to_numpy(), other[col].to_numpy()) or \
            plain[col].equals(other[col]), col


@pytest.mark.slow
def test_run_with_a_declared_series_and_target(tmp_path, run_cli):
    """Done when of issue 12 item 1/2: the new target gets a probability; every other target's
    probability (and quantiles) is bit-identical to the run without the new series."""
    plain = data_dir(tmp_path / "a")
    decl = data_dir(tmp_path / "b", SERIES_HEADER + FOREST, TARGET_HEADER + FOREST_TARGET,
                    obs=forest_obs(range(2013, 2016)))
    without = _run(run_cli, tmp_path, "plain", plain)
    with_new = _run(run_cli, tmp_path, "declared", decl)
    row = with_new.loc[("baseline", "forest_coverage_2020_test")]
    assert row["status"] == "evaluated" and 0 <= row["probability"] <= 1
    assert row["method"] in ("trend+record", "trend only")
    _assert_others_identical(without, with_new, "forest_coverage_2020_test")


@pytest.mark.slow
def test_a_data_rich_declared_series_leaves_the_others_identical(tmp_path, run_cli):
    plain = data_dir(tmp_path / "a")
    decl = data_dir(tmp_path / "b", SERIES_HEADER + FOREST, TARGET_HEADER + FOREST_TARGET,
                    obs=forest_obs(range(2008, 2016)))
    _assert_others_identical(_run(run_cli, tmp_path, "plain", plain),
                             _run(run_cli, tmp_path, "declared", decl), "forest_coverage_2020_test")


@pytest.mark.slow
@pytest.mark.dask
def test_dask_workers_get_the_declared_vocabulary_with_the_task(tmp_path, run_cli):
    """Issue 19: nothing is replayed into a worker's module state; the vocabulary travels with
    the task, so a run on a local cluster equals the run in this process, declared series
    labels included."""
    pytest.importorskip("distributed")
    import xarray as xr

    d = data_dir(tmp_path / "d", SERIES_HEADER + FOREST, TARGET_HEADER + FOREST_TARGET,
                 obs=forest_obs(range(2008, 2016)))
    scen = tmp_path / "s.toml"
    scen.write_text(SCENARIO, encoding="utf-8")
    for name, extra in (("here", ()), ("dask", ("--scheduler", "local:1"))):
        code, _, err = run_cli("run", scen, "--data", d, "--out", tmp_path / name, "--no-figures",
                               "--quiet", *extra)
        assert code == 0, err
    assert (tmp_path / "here" / "targets.csv").read_bytes() == \
        (tmp_path / "dask" / "targets.csv").read_bytes()
    with xr.open_dataset(tmp_path / "dask" / "ensemble.nc") as ds:
        assert ds["forest_coverage"].attrs["long_name"] == "Forest coverage of the land area " \
                                                           "(test fixture)"
        assert ds["forest_coverage"].attrs["scale"] == "logit"
