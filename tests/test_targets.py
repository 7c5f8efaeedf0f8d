"""The target catalogue: contents, validation, agreement with the seeds, and `sim targets`."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from sim import paths
from sim.cli import main
from sim.errors import ProblemList, SimError
from sim.numbers import as_int, as_number
from sim.targets import COLUMNS, TARGET_SETS, Target, as_targets, load_catalogue, targets_for_sets

SEEDS_DIR = paths.SEEDS_DIR


@pytest.fixture(scope="module")
def cat():
    return load_catalogue().set_index("id", drop=False)


def test_catalogue_loads_with_every_column_and_set(cat):
    assert list(cat.columns) == list(COLUMNS)
    assert len(cat) >= 250
    assert cat["id"].is_unique
    assert set(cat["target_set"]) == set(TARGET_SETS)
    counts = cat["target_set"].value_counts().to_dict()
    assert counts == {"action_plan_2015": 106, "fyp12_2015": 32, "fyp13_2020": 132, "quality_plan_2020": 28}


@pytest.mark.parametrize("tid, target_set, series, kind, comparator, value, unit, base, p0, p1, binding", [
    ("gdp_2015_ap", "action_plan_2015", "gdp_nominal", "level", ">=", 15000, "亿元", None, None, None, "unspecified"),
    ("gdp_2015_fyp12", "fyp12_2015", "gdp_nominal", "level", ">=", 15000, "亿元", None, None, None, "unspecified"),
    ("energy_intensity_cum_2015_fyp12", "fyp12_2015", "energy_intensity", "cumulative_change", "<=", -19.5, "%",
     2010, None, None, "unspecified"),
    ("affordable_housing_2011_2015_ap", "action_plan_2015", "affordable_housing_planned", "cumulative_sum", ">=",
     240000, "套", None, 2011, 2015, "unspecified"),
    ("gdp_2020_fyp13", "fyp13_2020", "gdp_nominal", "level", ">=", 26000, "亿元", None, None, None, "indicative"),
    ("water_intensity_cum_2020_fyp13", "fyp13_2020", "water_intensity", "cumulative_change", "<=", -18.5, "%",
     2015, None, None, "binding"),
    ("affordable_housing_supply_2016_2020_fyp13", "fyp13_2020", "affordable_housing_supplied", "cumulative_sum",
     ">=", 350000, "套", None, 2016, 2020, "binding"),
    ("population_2020_fyp13", "fyp13_2020", "population_resident", "level", "approx", 1480, "万人",
     None, None, None, "unspecified"),
    ("so2_cum_2015_ap", "action_plan_2015", "so2_emissions", "cumulative_change", "<=", -4, "%", 2010, None, None,
     "unspecified"),
    ("so2_cum_2015_fyp12", "fyp12_2015", "so2_emissions", "cumulative_change", "<=", -43.2, "%", 2010, None, None,
     "unspecified"),
])
def test_acceptance_rows(cat, tid, target_set, series, kind, comparator, value, unit, base, p0, p1, binding):
    r = cat.loc[tid]
    assert (r.target_set, r.series, r.kind, r.comparator, r.unit, r.binding) == (
        target_set, series, kind, comparator, unit, binding)
    assert r.value == value
    for col, want in (("base_year", base), ("period_start", p0), ("period_end", p1)):
        assert pd.isna(r[col]) if want is None else r[col] == want, col


def test_blank_2020_targets_are_marked_blank(cat):
    blank = cat[cat["value_status"] == "blank"]
    assert sorted(blank["series"]) == sorted(["energy_intensity", "co2_intensity", "cod_emissions",
                                              "nh3n_emissions", "so2_emissions", "nox_emissions"])
    assert set(blank["target_set"]) == {"fyp13_2020"}
    assert set(blank["binding"]) == {"binding"}
    assert blank["value"].isna().all()
    assert (blank["base_year"] == 2015).all() and (blank["target_year"] == 2020).all()
    # every other row has a number
    assert cat.loc[cat["value_status"] != "blank", "value"].notna().all()


def test_approx_has_tolerance_and_range_has_high(cat):
    assert (cat.loc[cat["comparator"] == "approx", "tolerance"] == 0.05).all()
    rng = cat[cat["comparator"] == "range"]
    assert len(rng) == 5 and (rng["value_high"] > rng["value"]).all()
    assert cat.loc[cat["comparator"] != "range", "value_high"].isna().all()


def test_declines_are_negative_with_le(cat):
    cc = cat[(cat["kind"] == "cumulative_change") & cat["value"].notna() & (cat["value"] < 0)]
    assert len(cc) >= 17
    assert set(cc["comparator"]) == {"<="}


def test_series_units_match_the_series_vocabulary(cat):
    from sim.vocabulary import SERIES

    with_series = cat[cat["series"] != ""]
    assert len(with_series) >= 30
    for r in with_series.itertuples():
        expected = "%" if r.kind == "cumulative_change" else SERIES[r.series].unit
        assert r.unit == expected, r.id


# Rows whose value is written in words (全部 → 100, 十分钟 → 10, 七横十三纵 → 20, 超万亿 → 10000 亿元 ...).
WORD_VALUES = {
    "zero_employment_households_2015_ap", "zero_employment_households_2020_fyp13", "social_assistance_coverage_2015_ap",
    "tertiary_hospital_per_district_2015_ap", "hukou_homeless_housed_2015_ap", "trunk_road_grid_2015_ap",
    "fibre_platform_capacity_2015_ap", "oil_to_gas_power_2015_ap", "ten_minute_culture_circle_2015_ap",
    "lownox_burners_2015_ap", "cluster_telecom_equipment_2020_fyp13", "cluster_robots_wearables_2020_fyp13",
    "cluster_nev_marine_ic_2020_fyp13", "cluster_medical_devices_2020_fyp13", "emergency_water_reserve_2020_fyp13",
    "green_building_new_civil_share_2020_fyp13", "msw_harmless_2020_fyp13", "sludge_harmless_2020_fyp13",
    "crossborder_river_compliance_2020_fyp13", "szdghz_core_1h_2020_fyp13", "ten_minute_culture_circle_2020_fyp13",
    "illegal_construction_growth_2020_fyp13", "famous_trademarks_rank_2020_qdp",
}


def test_value_appears_in_its_quote(cat):
    """Needs no seeds: each numeric value is a number of its own quote, up to a power of ten (万, 亿 ...)."""
    bad = []
    for r in cat[cat["value"].notna()].itertuples():
        if r.id in WORD_VALUES:
            continue
        nums = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", r.quote_zh)]
        v = abs(r.value)
        if not any(math.isclose(n * 10 ** k, v, rel_tol=1e-9) for n in nums for k in range(-2, 9)):
            bad.append(r.id)
    assert bad == []


def test_word_values_are_explained_in_the_note(cat):
    for tid in WORD_VALUES:
        assert cat.loc[tid, "note"], tid


def test_every_quote_is_verbatim_in_its_seed(cat):
    """Every target's quote is found byte for byte in its seed (bundled in calibration/seeds)."""
    seeds = {p.name: p.read_text(encoding="utf-8") for p in SEEDS_DIR.glob("*.txt")}
    missing = [r.id for r in cat.itertuples() if r.quote_zh not in seeds[r.source.split(";")[0]]]
    assert missing == []
    assert len(cat) == 298


# --- families, base values, the sense of approx targets -------------------------------------

def test_every_target_has_a_family(cat):
    from sim.vocabulary import FAMILIES

    assert set(cat["family"]) <= set(FAMILIES)
    assert cat["family"].value_counts().to_dict() == {
        "other": 101, "social": 79, "environment_quality": 48, "economic_growth": 25,
        "structure_share": 23, "pollutant_reduction": 12, "energy_intensity": 4,
        "population_control": 3, "carbon_intensity": 3}
    fam = cat["family"].to_dict()
    assert fam["energy_intensity_cum_2015_fyp12"] == "energy_intensity"
    assert fam["co2_intensity_cum_2020_fyp13"] == "carbon_intensity"
    assert fam["so2_cum_2015_ap"] == "pollutant_reduction"
    assert fam["gdp_2020_fyp13"] == "economic_growth"
    assert fam["rd_share_2020_fyp13"] == "structure_share"
    assert fam["population_2020_fyp13"] == "population_control"
    assert fam["unemployment_2020_fyp13"] == "social"
    assert fam["pm25_2020_fyp13"] == "environment_quality"
    assert fam["water_intensity_cum_2015_fyp12"] == "environment_quality"
    assert fam["invention_patents_stock_per10k_2020_fyp13"] == "other"


def test_approx_sense_is_set_exactly_for_approx_targets(cat):
    approx = cat["comparator"] == "approx"
    assert (cat.loc[approx, "approx_sense"] != "").all()
    assert (cat.loc[~approx, "approx_sense"] == "").all()
    assert cat.loc[approx, "approx_sense"].value_counts().to_dict() == {"higher": 20, "lower": 1, "both": 1}
    assert cat.loc["population_2020_fyp13", "approx_sense"] == "lower"       # 1480万左右: a control target
    assert cat.loc["gdp_2020_qdp", "approx_sense"] == "higher"               # 约2.6万亿: more is better
    assert cat.loc["major_projects_share_fai_2016_2020_fyp13", "approx_sense"] == "both"


#: Targets whose base value a seed states (the plan's own number, quoted verbatim): 15 in 13th-FYP
#: 专栏1 / review, 5 quality-plan targets quoted from seed 003 (same indicator and year), sewage.
BASED = {
    "gdp_2020_fyp13", "gdp_per_capita_cny_2020_fyp13", "construction_land_per_gdp_2020_fyp13",
    "tertiary_share_2020_fyp13", "rd_share_2020_fyp13", "fortune500_firms_2020_fyp13",
    "disposable_income_2020_fyp13", "beds_per1000_2020_fyp13", "tertiary_educated_share_2020_fyp13",
    "life_expectancy_2020_fyp13", "unemployment_2020_fyp13", "transit_share_2020_fyp13",
    "pm25_2020_fyp13", "modern_services_share_tertiary_2020_fyp13", "tertiary_hospitals_2020_fyp13",
    "sewage_capacity_2020_fyp13", "gdp_2020_qdp", "gdp_per_capita_usd_2020_qdp",
    "disposable_income_2020_qdp", "rd_share_2020_qdp", "fortune500_firms_2020_qdp",
}
BASE_SEED = re.compile(r"base quote from (\d{3}_[0-9a-f]{16}\.txt)")


def base_seed(note: str, source: str) -> str:
    """The seed that states a row's base: the one its note names ("base quote from SEED"), else
    the target's own (first) seed."""
    named = BASE_SEED.findall(note)
    return named[0] if named else source.split(";")[0]


def test_base_values_are_stated_by_the_plan(cat):
    """A base value is a plan's own number, quoted verbatim from the named seed, never estimated."""
    seeds = {p.name: p.read_text(encoding="utf-8") for p in SEEDS_DIR.glob("*.txt")}
    based = cat[cat["base_value"].notna()]
    assert set(based["id"]) == BASED
    assert set(based["target_set"]) == {"fyp13_2020", "quality_plan_2020"}
    for r in based.itertuples():
        assert r.base_quote in seeds[base_seed(r.note, r.source)], r.id
        nums = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", r.base_quote)]
        assert any(math.isclose(n * 10 ** k, r.base_value, rel_tol=1e-9)
                   for n in nums for k in range(0, 5)), r.id
        # a base is the level of the indicator at the plan's start, not a cumulative change or sum
        assert r.kind not in ("cumulative_change", "cumulative_sum"), r.id
    assert (cat.loc[cat["base_value"].isna(), "base_quote"] == "").all()
    assert cat.loc["gdp_2020_fyp13", "base_value"] == 17500
    assert cat.loc["disposable_income_2020_fyp13", "base_value"] == 44600    # 4.46万元
    # quoted from another plan (seed 003) than the target's (002): the note names the seed
    assert cat.loc["gdp_per_capita_usd_2020_qdp", "base_value"] == 25000     # 2.5万美元
    qdp = cat.loc["gdp_2020_qdp"]
    assert (qdp.source, base_seed(qdp.note, qdp.source)) == ("002_c56b56aaba1c45dc.txt",
                                                             "003_f03a317643cd5a3e.txt")


def test_a_base_quote_that_is_not_in_the_named_seed_is_caught(cat):
    """The check above can fail: the same quote does not pass against the target's own seed."""
    seeds = {p.name: p.read_text(encoding="utf-8") for p in SEEDS_DIR.glob("*.txt")}
    r = cat.loc["gdp_per_capita_usd_2020_qdp"]
    assert r.base_quote not in seeds[r.source.split(";")[0]]


# --- validation -------------------------------------------------------------------------------

def _write(tmp_path: Path, rows: list[dict]) -> Path:
    p = tmp_path / "targets.csv"
    with open(p, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return p


def _row(**kw) -> dict:
    row = dict.fromkeys(COLUMNS, "")
    row.update(id="t1", target_set="fyp13_2020", series="gdp_nominal", indicator_zh="本市生产总值",
               target_year="2020", kind="level", comparator=">=", value="26000", unit="亿元",
               binding="indicative", value_status="given", source="003.txt", quote_zh="26000",
               family="economic_growth")
    row.update(kw)
    return row


def test_good_fixture_loads(tmp_path):
    df = load_catalogue(_write(tmp_path, [_row()]))
    assert len(df) == 1 and df.loc[0, "value"] == 26000.0


def test_validation_reports_every_problem_with_file_and_line(tmp_path):
    rows = [
        _row(),                                                       # line 2: fine
        _row(id="t1"),                                                # line 3: duplicate id
        _row(id="t3", target_set="fyp13_202"),                        # line 4
        _row(id="t4", kind="levels", comparator="=>"),                # line 5
        _row(id="t5", binding="must", value_status="maybe"),          # line 6
        _row(id="t6", value="lots"),                                  # line 7
        _row(id="t7", value=""),                                      # line 8: given but empty
        _row(id="t8", series="gdp_nominl"),                           # line 9
        _row(id="t9", series="population_resident", unit="人"),       # line 10
        _row(id="t10", value_status="blank"),                         # line 11: blank but has value
    ]
    p = _write(tmp_path, rows)
    with pytest.raises(ProblemList) as exc:
        load_catalogue(p)
    msgs = [str(x) for x in exc.value.problems]
    f = str(p)
    assert msgs == [
        f"{f}: line 3: duplicate id 't1' (first at line 2)",
        f"{f}: line 4: unknown target_set 'fyp13_202' (did you mean 'fyp13_2020'?) "
        "(expected one of action_plan_2015, fyp12_2015, fyp13_2020, quality_plan_2020)",
        f"{f}: line 5: unknown kind 'levels' (did you mean 'level'?) "
        "(expected one of level, share, cumulative_change, cumulative_sum, count)",
        f"{f}: line 5: unknown comparator '=>' (expected one of >=, <=, approx, range, ==)",
        f"{f}: line 6: unknown binding 'must' (expected one of binding, indicative, unspecified)",
        f"{f}: line 6: unknown value_status 'maybe' (expected one of given, blank, unclear)",
        f"{f}: line 7: value is not a number (got 'lots')",
        f"{f}: line 8: value is empty but value_status is 'given' (use 'blank' for a value the plan left blank)",
        f"{f}: line 9: unknown series 'gdp_nominl' (did you mean 'gdp_nominal'?)",
        f"{f}: line 10: unit of series population_resident must be '万人' (got '人')",
        f"{f}: line 11: value_status is 'blank' but value is '26000'",
    ]


def test_validation_structure_checks(tmp_path):
    rows = [
        _row(id="a", comparator="range"),
        _row(id="b", comparator="approx"),
        _row(id="c", kind="cumulative_change", unit="%", value="-10"),
        _row(id="d", kind="cumulative_sum", series="", unit="套"),
        _row(id="e", target_year="20x0"),
    ]
    p = _write(tmp_path, rows)
    with pytest.raises(ProblemList) as exc:
        load_catalogue(p)
    assert [x.message for x in exc.value.problems] == [
        "comparator 'range' needs value_high",
        "comparator 'approx' needs a tolerance",
        "comparator 'approx' needs approx_sense (higher, lower or both)",
        "a given cumulative_change needs base_year",
        "a given cumulative_sum needs period_start and period_end",
        "target_year is not a year (got '20x0')",
    ]


def test_validation_of_family_base_and_approx_sense(tmp_path):
    rows = [
        _row(id="a", family=""),
        _row(id="b", family="growth"),
        _row(id="c", approx_sense="higher"),
        _row(id="d", comparator="approx", tolerance="0.05", approx_sense="up"),
        _row(id="e", base_value="17500"),
        _row(id="f", base_value="many", base_quote="many"),
    ]
    p = _write(tmp_path, rows)
    with pytest.raises(ProblemList) as exc:
        load_catalogue(p)
    assert [str(x) for x in exc.value.problems] == [f"{p}: {m}" for m in [
        "line 2: family is empty",
        "line 3: unknown family 'growth' (expected one of energy_intensity, carbon_intensity, "
        "pollutant_reduction, economic_growth, structure_share, population_control, social, "
        "environment_quality, other)",
        "line 4: approx_sense is only for comparator 'approx' (got 'higher' with '>=')",
        "line 5: unknown approx_sense 'up' (expected one of higher, lower, both)",
        "line 6: base_value and base_quote go together (the quote is where the plan states the base)",
        "line 7: base_value is not a number (got 'many')",
    ]]


def test_missing_column_and_missing_file(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("id,target_set\nx,fyp13_2020\n", encoding="utf-8")
    with pytest.raises(ProblemList, match=r"line 1: missing column\(s\): series, indicator_zh"):
        load_catalogue(p)
    with pytest.raises(SimError, match="target catalogue not found"):
        load_catalogue(tmp_path / "nope.csv")


def test_targets_for_sets(tmp_path):
    df = targets_for_sets(["fyp12_2015", "quality_plan_2020"])
    assert len(df) == 32 + 28
    with pytest.raises(SimError, match=r"unknown target set 'fyp12' \(did you mean 'fyp12_2015'\?\)"):
        targets_for_sets(["fyp12"])


def test_catalogue_rows_as_typed_targets(cat):
    targets = {t.id: t for t in as_targets(cat.reset_index(drop=True))}
    assert len(targets) == len(cat)
    t = targets["energy_intensity_cum_2015_fyp12"]
    assert (t.value, t.base_year, t.period_start, t.target_year) == (-19.5, 2010, None, 2015)
    assert isinstance(t.target_year, int) and t.value_high is None and t.note == t.note.strip()
    blank = targets["energy_intensity_cum_2020_fyp13"]
    assert blank.value is None and blank.value_status == "blank" and blank.is_binding
    assert Target.from_row({"id": "x", "value": "nan", "target_year": 2020.0}).value is None
    gdp = targets["gdp_2020_fyp13"]
    assert (gdp.family, gdp.base_value, gdp.approx_sense) == ("economic_growth", 17500.0, "")
    assert targets["population_2020_fyp13"].approx_sense == "lower"
    assert targets["gdp_2015_fyp12"].base_value is None and targets["gdp_2015_fyp12"].base_quote == ""


@pytest.mark.parametrize("cell, number, whole", [
    ("26000", 26000.0, 26000), (" -19.5 ", -19.5, -19), (2015.0, 2015.0, 2015), ("", None, None),
    ("lots", None, None), (None, None, None), (float("nan"), None, None), ("inf", None, None),
    (pd.NA, None, None),
])
def test_one_number_parser(cell, number, whole):
    assert as_number(cell) == number and as_int(cell) == whole


# --- CLI ----------------------------------------------------------------------------------------

def test_cli_csv_lists_every_target(capsys):
    assert main(["targets", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == len(load_catalogue())
    for col in ("id", "target_set", "indicator", "target_year", "kind", "comparator", "value", "unit",
                "base_year", "period_start", "period_end", "binding", "source", "series", "value_status"):
        assert col in rows[0]
    by_id = {r["id"]: r for r in rows}
    assert by_id["gdp_2015_ap"]["value"] == "15000"
    assert by_id["energy_intensity_cum_2015_fyp12"]["value"] == "-19.5"
    assert by_id["energy_intensity_cum_2015_fyp12"]["base_year"] == "2010"
    assert by_id["energy_intensity_cum_2020_fyp13"]["value"] == ""
    assert by_id["energy_intensity_cum_2020_fyp13"]["value_status"] == "blank"


def test_cli_json_and_set_filter(capsys):
    assert main(["targets", "--format", "json", "--set", "fyp12_2015", "--set", "quality_plan_2020"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data) == 60
    assert {d["target_set"] for d in data} == {"fyp12_2015", "quality_plan_2020"}
    gdp = next(d for d in data if d["id"] == "gdp_2015_fyp12")
    assert gdp["value"] == 15000 and gdp["base_year"] is None and gdp["target_year"] == 2015


def test_cli_table(capsys):
    assert main(["targets", "--set", "fyp12_2015"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["id", "target_set", "indicator"]
    assert out[-1] == "(32 targets)"
    assert any(line.startswith("energy_intensity_cum_2015_fyp12 ") and "-19.5" in line for line in out)


def test_cli_unknown_set_exits_2(capsys):
    assert main(["targets", "--set", "fyp13"]) == 2
    err = capsys.readouterr().err
    assert "unknown target set 'fyp13' (did you mean 'fyp13_2020'?)" in err
    assert "Traceback" not in err
