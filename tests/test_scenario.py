"""Scenario files: shipped files, extends resolution, resolved round-trip, every error message."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.errors import ProblemList
from sim.scenario.read import json_schema, load_scenario_file, resolved_toml
from sim.scenario.levers import RATE_DRIVERS, FxLever, HousingLever, RateLever
from sim.scenario.spec import ScenarioFile
from sim.vocabulary import LEVER_DRIVERS

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*.toml"))

RUN = """\
[run]
as_of = 2015
horizon = 2020
draws = 1000
seed = 1
target_sets = ["fyp13_2020"]
"""


def write(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(path: Path, **kw) -> list[str]:
    """Every problem line of a file, with the directory stripped (messages start with the file name)."""
    with pytest.raises(ProblemList) as info:
        load_scenario_file(path, **kw)
    return [str(p).replace(str(path.parent) + "/", "") for p in info.value.problems]


# ----------------------------------------------------------------------------------------------
# Shipped files
# ----------------------------------------------------------------------------------------------


def test_shipped_files_exist():
    assert {p.name for p in SHIPPED} >= {"baseline_2015.toml", "baseline_2020.toml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_file_validates(path):
    sf = load_scenario_file(path)
    assert next(iter(sf.scenarios)) == "baseline"
    assert len(sf.scenarios) >= 3  # a baseline and at least two alternatives
    assert sf.run.draws == 20000
    assert not sf.baseline.shocks


def test_shipped_2015():
    sf = load_scenario_file(ROOT / "scenarios/baseline_2015.toml")
    assert (sf.run.as_of, sf.run.horizon) == (2010, 2015)
    assert set(sf.run.target_sets) == {"action_plan_2015", "fyp12_2015"}
    housing = sf.baseline.levers["affordable_housing"]
    assert housing.units_by_year(2011, 2015) == {y: 48000 for y in range(2011, 2016)}  # 24万套 / 5


def test_shipped_2020():
    sf = load_scenario_file(ROOT / "scenarios/baseline_2020.toml")
    assert (sf.run.as_of, sf.run.horizon) == (2015, 2020)
    assert set(sf.run.target_sets) == {"fyp13_2020", "quality_plan_2020"}
    assert sf.baseline.levers["affordable_housing"].units_by_year(2016, 2020) == {y: 70000 for y in range(2016, 2021)}
    assert sf.baseline.target_values == {"co2_intensity_cum_2020_fyp13": -23.0}  # Guangdong allocation
    stress = [s for s in sf.scenarios.values() if s.shocks]
    assert stress and stress[0].shocks[0].year == 2020 and stress[0].shocks[0].shift_pp == -4.0


def test_validate_command_on_shipped_files(capsys):
    assert main(["validate", *map(str, SHIPPED)]) == 0
    out = capsys.readouterr().out
    for path in SHIPPED:
        assert f"{path}: ok (" in out


# ----------------------------------------------------------------------------------------------
# Resolution
# ----------------------------------------------------------------------------------------------

EXTENDS = RUN + """
[scenarios.baseline]
description = "base"
label_zh = "基准"
[scenarios.baseline.levers.gdp_real]
shift_pp = 0.5
from_year = 2017
[scenarios.baseline.levers.affordable_housing]
programme_units = { 2016 = 70000, 2017 = 70000 }
[scenarios.baseline.levers.usdcny]
shift_pp = 1
[scenarios.baseline.target_values]
co2_intensity_cum_2020_fyp13 = -10.0
[[scenarios.baseline.shocks]]
driver = "gdp_real"
year = 2016
shift_pp = -1

[scenarios.low_carbon]
extends = "baseline"
description = "low carbon"
[scenarios.low_carbon.levers.gdp_real]
shift_pp = -1.0
[scenarios.low_carbon.levers.energy_intensity]
shift_pp = -1.0
from_year = 2017
[scenarios.low_carbon.levers.affordable_housing]
units_per_year = 80000
[scenarios.low_carbon.levers.usdcny]
path = { 2016 = 6.64, 2017 = 6.75 }

[scenarios.covid]
extends = "low_carbon"
description = "stress"
[[scenarios.covid.shocks]]
driver = "gdp_real"
year = 2020
shift_pp = -4.0
note = "pandemic"
"""


def test_extends_inherits_and_overrides(tmp_path):
    sf = load_scenario_file(write(tmp_path, EXTENDS, "ok.toml"))
    assert list(sf.scenarios) == ["baseline", "low_carbon", "covid"]
    base, low, covid = sf.scenarios.values()
    # defaults filled: from_year = as_of + 1, to_year = horizon
    assert base.levers["gdp_real"] == RateLever(shift_pp=0.5, from_year=2017, to_year=2020)
    assert base.levers["usdcny"] == FxLever(shift_pp=1.0, from_year=2016, to_year=2020)
    # key-by-key merge: shift_pp overridden, from_year inherited
    assert low.levers["gdp_real"] == RateLever(shift_pp=-1.0, from_year=2017, to_year=2020)
    assert low.levers["energy_intensity"] == RateLever(shift_pp=-1.0, from_year=2017, to_year=2020)
    # choosing one of an exclusive pair drops the inherited other one
    assert low.levers["affordable_housing"] == HousingLever(units_per_year=80000)
    assert low.levers["usdcny"] == FxLever(path={2016: 6.64, 2017: 6.75})
    assert isinstance(low.levers["affordable_housing"], HousingLever)
    # inherited unchanged through two levels; description and label are each scenario's own
    assert covid.levers == low.levers
    assert covid.target_values == base.target_values == {"co2_intensity_cum_2020_fyp13": -10.0}
    assert covid.description == "stress" and covid.label_zh is None and base.label_zh == "基准"
    # shocks concatenated, parent's first
    assert [(s.year, s.shift_pp) for s in covid.shocks] == [(2016, -1.0), (2020, -4.0)]
    assert covid.shocks[1].note == "pandemic"
    # levers in canonical driver order
    assert list(low.levers) == [d for d in LEVER_DRIVERS if d in low.levers]


def test_overrides_apply_to_run(tmp_path):
    path = write(tmp_path, EXTENDS, "ok.toml")
    sf = load_scenario_file(path, overrides={"draws": 10, "seed": 7})
    assert (sf.run.draws, sf.run.seed, sf.run.as_of) == (10, 7, 2015)
    assert problems(path, overrides={"draws": "x", "colour": 1}) == [
        "ok.toml: run.draws: wrong type (expected integer, got string 'x') "
        "(set on the command line: --draws)",
        "ok.toml: run.colour: unknown key (expected one of as_of, horizon, draws, seed, target_sets, vintage, "
        "parameter_uncertainty, correlated_shocks, block_size, ensemble_float64) (set on the command line: "
        "--colour)",
    ]


def test_as_of_override_fits_scenarios_to_the_new_window(tmp_path):
    sf = load_scenario_file(write(tmp_path, EXTENDS, "ok.toml"), overrides={"as_of": 2017})
    base, low, covid = sf.scenarios.values()
    assert base.levers["gdp_real"] == RateLever(shift_pp=0.5, from_year=2018, to_year=2020)  # 2017 is history now
    assert base.levers["usdcny"] == FxLever(shift_pp=1.0, from_year=2018, to_year=2020)  # default follows as_of
    assert "affordable_housing" not in base.levers  # programme years 2016–2017 all history
    assert "usdcny" not in low.levers  # path 2016–2017 all history
    assert base.shocks == ()  # the 2016 shock is history
    assert [s.year for s in covid.shocks] == [2020]
    # the shipped 2020 file can be run as of 2018
    sf = load_scenario_file(ROOT / "scenarios/baseline_2020.toml", overrides={"as_of": 2018})
    assert sf.baseline.levers["affordable_housing"].units_by_year(2019, 2020) == {2019: 70000, 2020: 70000}


def test_override_does_not_hide_problems_of_the_file(tmp_path):
    path = write(tmp_path, BASE + "[scenarios.baseline.levers.gdp_real]\nshift_pp = 1\nfrom_year = 2015\n")
    assert problems(path, overrides={"as_of": 2014}) == [
        "bad.toml: scenarios.baseline.levers.gdp_real.from_year: from_year 2015 is outside the simulated years 2016–2020 "
        "(expected 2015 < year <= 2020, i.e. after as_of and up to horizon)"
    ]


def test_resolved_toml_round_trip(tmp_path):
    for source in [write(tmp_path, EXTENDS, "ok.toml"), *SHIPPED]:
        sf = load_scenario_file(source)
        text = resolved_toml(sf)
        assert "extends =" not in text
        back = load_scenario_file(write(tmp_path, text, "resolved.toml"))
        assert (back.run, back.output, back.scenarios) == (sf.run, sf.output, sf.scenarios)
        assert resolved_toml(back).splitlines()[2:] == text.splitlines()[2:]


def test_spec_objects_are_frozen(tmp_path):
    sf = load_scenario_file(write(tmp_path, EXTENDS, "ok.toml"))
    with pytest.raises(Exception):
        sf.run.draws = 5
    with pytest.raises(Exception):
        sf.baseline.levers["gdp_real"].shift_pp = 3.0


def test_lever_drivers_constant():
    assert LEVER_DRIVERS[0] == "gdp_real" and LEVER_DRIVERS[-1] == "affordable_housing" and len(LEVER_DRIVERS) == 12
    assert "affordable_housing" not in RATE_DRIVERS


# A property test: any generated file (baseline + alternatives extending it) round-trips.

_years = st.integers(2000, 2030).flatmap(lambda a: st.tuples(st.just(a), st.integers(a + 1, min(a + 10, 2035))))
_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20).filter(str.strip)
_pp = st.floats(-50, 50, allow_nan=False)


@st.composite
def _documents(draw):
    as_of, horizon = draw(_years)
    year = st.integers(as_of + 1, horizon)

    def lever(driver):
        if driver == "affordable_housing":
            return draw(st.one_of(
                st.fixed_dictionaries({"units_per_year": st.integers(0, 10**6)}),
                st.fixed_dictionaries({"programme_units": st.dictionaries(year.map(str), st.integers(0, 10**6), min_size=1)}),
            ))
        if driver == "usdcny" and draw(st.booleans()):
            return {"path": draw(st.dictionaries(year.map(str), st.floats(0.1, 20), min_size=1))}
        a, b = sorted(draw(st.tuples(year, year)))
        out = {"shift_pp": draw(_pp)}
        if draw(st.booleans()):  # both or neither, so that inheritance cannot give to_year < from_year
            out["from_year"], out["to_year"] = a, b
        return out

    def scenario(extends):
        out = {"description": draw(_text)}
        if extends:
            out["extends"] = extends
        if draw(st.booleans()):
            out["label_zh"] = draw(_text)
        drivers = draw(st.lists(st.sampled_from(LEVER_DRIVERS), unique=True, max_size=4))
        out["levers"] = {d: lever(d) for d in drivers}
        out["shocks"] = [
            {"driver": draw(st.sampled_from(RATE_DRIVERS)), "year": draw(year), "shift_pp": draw(st.floats(-100, 100))}
            for _ in range(draw(st.integers(0, 2)))
        ]
        return out

    names = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), unique=True, max_size=3))
    names = [n for n in names if n != "baseline"]
    scenarios = {"baseline": scenario(None)}
    for n in names:
        scenarios[n] = scenario(draw(st.sampled_from(["baseline", *scenarios][: len(scenarios)])))
    run = {"as_of": as_of, "horizon": horizon, "draws": draw(st.integers(1, 10**8)), "seed": draw(st.integers(0, 2**63 - 1)),
           "target_sets": draw(st.lists(st.sampled_from(["fyp13_2020", "fyp12_2015"]), min_size=1, unique=True)),
           "vintage": draw(st.sampled_from(["first", "revised"]))}
    output = {"quantiles": sorted(draw(st.sets(st.floats(0.001, 0.999), min_size=1, max_size=5)))}
    return {"run": run, "output": output, "scenarios": scenarios}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(doc=_documents())
def test_round_trip_property(tmp_path, doc):
    source = write(tmp_path, tomli_w.dumps(doc), "gen.toml")
    sf = load_scenario_file(source)
    back = load_scenario_file(write(tmp_path, resolved_toml(sf), "gen_resolved.toml"))
    assert (back.run, back.output, back.scenarios) == (sf.run, sf.output, sf.scenarios)
    assert isinstance(back, ScenarioFile)


# ----------------------------------------------------------------------------------------------
# Errors: every message pinned
# ----------------------------------------------------------------------------------------------

BASE = RUN + """
[scenarios.baseline]
description = "base"
"""


def test_misspelt_key_did_you_mean(tmp_path):
    path = write(tmp_path, BASE + """
[scenarios.low_carbon]
extends = "baseline"
description = "x"
[scenarios.low_carbon.levers.energy_intensty]
shift_pp = -1.0
""")
    assert problems(path) == [
        "bad.toml: scenarios.low_carbon.levers.energy_intensty: unknown key (did you mean 'energy_intensity'?)"
    ]


def test_unknown_key_without_close_match_lists_choices(tmp_path):
    path = write(tmp_path, BASE + "[output]\ncolour = 1\n")
    assert problems(path) == ["bad.toml: output.colour: unknown key (expected one of summaries_only, quantiles, figures, table_formats)"]


def test_misspelt_top_level_table(tmp_path):
    path = write(tmp_path, BASE + "[outptu]\nfigures = true\n")
    assert problems(path) == ["bad.toml: outptu: unknown key (did you mean 'output'?)"]


def test_wrong_type(tmp_path):
    path = write(tmp_path, BASE.replace("draws = 1000", 'draws = "many"'))
    assert problems(path) == ["bad.toml: run.draws: wrong type (expected integer, got string 'many')"]


def test_wrong_type_bool_and_float_are_not_integers(tmp_path):
    path = write(tmp_path, BASE.replace("draws = 1000", "draws = true").replace("seed = 1", "seed = 1.0"))
    assert problems(path) == [
        "bad.toml: run.draws: wrong type (expected integer, got boolean true)",
        "bad.toml: run.seed: wrong type (expected integer, got float 1.0)",
    ]


def test_unknown_target_set(tmp_path):
    path = write(tmp_path, BASE.replace('["fyp13_2020"]', '["fyp13_2020", "fyp14_2025"]'))
    assert problems(path) == [
        "bad.toml: run.target_sets[1]: unknown target set 'fyp14_2025' "
        "(expected one of action_plan_2015, fyp12_2015, fyp13_2020, quality_plan_2020)"
    ]


def test_as_of_after_horizon(tmp_path):
    path = write(tmp_path, BASE.replace("as_of = 2015", "as_of = 2021"))
    assert problems(path) == ["bad.toml: run.as_of: as_of 2021 is after horizon 2020 (expected as_of < horizon)"]


def test_toml_syntax_error_names_line(tmp_path):
    path = write(tmp_path, BASE + "\n[scenarios.x]\ndescription = = 3\n")
    (line,) = problems(path)
    assert line.startswith("bad.toml: line 12, column 15")
    assert ": TOML syntax error (" in line


def test_toml_syntax_error_exact(tmp_path):
    path = write(tmp_path, "[run]\nas_of = 2015\n\n[scenarios.baseline]\ndescription = \"x\"\n\n  oops = = 3\n")
    assert problems(path) == ["bad.toml: line 7, column 10: TOML syntax error (Invalid value)"]


def test_unknown_extends_parent(tmp_path):
    path = write(tmp_path, BASE + '[scenarios.alt]\nextends = "basline"\ndescription = "x"\n')
    assert problems(path) == ["bad.toml: scenarios.alt.extends: unknown scenario 'basline' (did you mean 'baseline'?)"]


def test_extends_cycle(tmp_path):
    path = write(tmp_path, BASE + """
[scenarios.a]
extends = "b"
description = "a"
[scenarios.b]
extends = "a"
description = "b"
[scenarios.c]
extends = "a"
description = "c"
""")
    assert problems(path) == [
        "bad.toml: scenarios.a.extends: extends cycle a → b → a (expected a chain ending at a scenario without extends)"
    ]


def test_lever_year_outside_window(tmp_path):
    path = write(tmp_path, BASE + """
[scenarios.baseline.levers.gdp_real]
shift_pp = 1
from_year = 2015
[scenarios.baseline.levers.energy_intensity]
shift_pp = -1
to_year = 2021
[scenarios.baseline.levers.water_intensity]
shift_pp = -1
from_year = 2019
to_year = 2018
""")
    assert problems(path) == [
        "bad.toml: scenarios.baseline.levers.gdp_real.from_year: from_year 2015 is outside the simulated years 2016–2020 "
        "(expected 2015 < year <= 2020, i.e. after as_of and up to horizon)",
        "bad.toml: scenarios.baseline.levers.energy_intensity.to_year: to_year 2021 is outside the simulated years 2016–2020 "
        "(expected 2015 < year <= 2020, i.e. after as_of and up to horizon)",
        "bad.toml: scenarios.baseline.levers.water_intensity.to_year: to_year 2018 is before from_year 2019 "
        "(expected from_year <= to_year)",
    ]


def test_path_and_programme_years_outside_window(tmp_path):
    path = write(tmp_path, BASE + """
[scenarios.baseline.levers.usdcny]
path = { 2015 = 6.2, 2016 = 6.6 }
[scenarios.baseline.levers.affordable_housing]
programme_units = { 2021 = 1 }
""")
    assert problems(path) == [
        "bad.toml: scenarios.baseline.levers.usdcny.path.2015: year 2015 is outside the simulated years 2016–2020 "
        "(expected 2015 < year <= 2020, i.e. after as_of and up to horizon)",
        "bad.toml: scenarios.baseline.levers.affordable_housing.programme_units.2021: year 2021 is outside the simulated "
        "years 2016–2020 (expected 2015 < year <= 2020, i.e. after as_of and up to horizon)",
    ]


def test_inherited_problem_reported_once_where_written(tmp_path):
    path = write(tmp_path, BASE + """
[scenarios.baseline.levers.gdp_real]
shift_pp = 1
from_year = 2030
[scenarios.alt]
extends = "baseline"
description = "x"
""")
    assert problems(path) == [
        "bad.toml: scenarios.baseline.levers.gdp_real.from_year: from_year 2030 is outside the simulated years 2016–2020 "
        "(expected 2015 < year <= 2020, i.e. after as_of and up to horizon)",
    ]


def test_both_programme_units_and_units_per_year(tmp_path):
    path = write(tmp_path, BASE + """
[scenarios.baseline.levers.affordable_housing]
programme_units = { 2016 = 70000 }
units_per_year = 70000
""")
    assert problems(path) == [
        "bad.toml: scenarios.baseline.levers.affordable_housing: give either programme_units or units_per_year, "
        "not both (expected exactly one)"
    ]


def test_usdcny_shift_or_path(tmp_path):
    path = write(tmp_path, BASE + """
[scenarios.baseline.levers.usdcny]
from_year = 2017
""")
    assert problems(path) == ["bad.toml: scenarios.baseline.levers.usdcny: give shift_pp or path (expected exactly one)"]


def test_other_messages(tmp_path):
    path = write(tmp_path, RUN.replace("seed = 1\n", 'vintage = "revisd"\nblock_size = 5\n') + """
[output]
quantiles = [0.5, 0.1]
table_formats = ["pdf"]
[scenarios.baseline]
description = ""
[scenarios.baseline.levers.usdcny]
path = { 2016 = -1, 20x7 = 6.8 }
[scenarios.LowCarbon]
description = "d"
[scenarios.d]
description = "d"
[scenarios.d.levers.gdp_real]
from_year = 2016
[[scenarios.d.shocks]]
driver = "gdp"
year = "2020"
shift_pp = -400
""")
    assert problems(path) == [
        "bad.toml: run.seed: missing required key (expected an integer)",
        "bad.toml: run.vintage: unknown value 'revisd' (did you mean 'revised'? expected one of first, revised)",
        "bad.toml: run.block_size: out of range (expected 1000 <= value <= 1000000, got 5)",
        "bad.toml: output.quantiles: quantiles must be strictly increasing (got 0.5 then 0.1)",
        "bad.toml: output.table_formats[0]: unknown value 'pdf' (expected one of csv, md, xlsx, html)",
        "bad.toml: scenarios.baseline.description: empty (expected a non-empty text)",
        "bad.toml: scenarios.baseline.levers.usdcny.path.2016: out of range (expected 0.1 <= value <= 100, got -1)",
        "bad.toml: scenarios.baseline.levers.usdcny.path.20x7: invalid year (expected a year from 2000 to 2035 as key, got '20x7')",
        "bad.toml: scenarios.LowCarbon: invalid scenario name (expected [a-z][a-z0-9_]*: lowercase letters, digits, "
        "underscores, starting with a letter; got 'LowCarbon')",
        "bad.toml: scenarios.d.levers.gdp_real.shift_pp: missing required key (expected a number)",
        "bad.toml: scenarios.d.shocks[0].driver: unknown driver 'gdp' (expected one of gdp_real, gdp_deflator, "
        "population_resident, usdcny, energy_intensity, carbon_factor, water_intensity, cod_emissions, nh3n_emissions, "
        "so2_emissions, nox_emissions)",
        "bad.toml: scenarios.d.shocks[0].year: wrong type (expected integer, got string '2020')",
        "bad.toml: scenarios.d.shocks[0].shift_pp: out of range (expected -100 <= value <= 100, got -400)",
    ]


def test_missing_baseline_and_run(tmp_path):
    path = write(tmp_path, '[scenarios.basline]\ndescription = "x"\n')
    assert problems(path) == [
        "bad.toml: run: missing required table [run] (expected as_of, horizon, draws, seed, target_sets)",
        "bad.toml: scenarios: no scenario named 'baseline' (did you mean 'basline'?) (expected a [scenarios.baseline] table)",
    ]


def test_baseline_cannot_extend(tmp_path):
    path = write(tmp_path, BASE + 'extends = "alt"\n[scenarios.alt]\ndescription = "x"\n')
    assert problems(path) == ["bad.toml: scenarios.baseline.extends: the baseline cannot extend another scenario (expected no extends)"]


def test_target_values_ids_checked_against_catalogue(tmp_path):
    # the shipped catalogue is always there: a broken one fails this test (and every load)
    path = write(tmp_path, BASE + """
[scenarios.baseline.target_values]
co2_intensity_cum_2020_fyp13 = -10.0
co2_intensity_cum_2020_fyp31 = -10.0
energy_intensity_cum_2015_fyp12 = -19.5
""")
    assert problems(path) == [
        "bad.toml: scenarios.baseline.target_values.co2_intensity_cum_2020_fyp31: unknown target id "
        "'co2_intensity_cum_2020_fyp31' (did you mean 'co2_intensity_cum_2020_fyp13'?)",
        "bad.toml: scenarios.baseline.target_values.energy_intensity_cum_2015_fyp12: target "
        "'energy_intensity_cum_2015_fyp12' belongs to target set 'fyp12_2015', which is not in run.target_sets "
        "(expected a target of fyp13_2020)",
    ]


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    assert problems(path) == ["nope.toml: cannot read (No such file or directory)"]


def test_all_problems_of_a_file_at_once(tmp_path):
    path = write(tmp_path, """
[run]
as_of = 2021
horizon = 2020
draws = "many"
seed = 1
target_sets = ["fyp13_2020"]

[scenarios.baseline]
description = "x"
[scenarios.baseline.levers.energy_intensty]
shift_pp = -1.0
""")
    assert problems(path) == [
        "bad.toml: run.draws: wrong type (expected integer, got string 'many')",
        "bad.toml: run.as_of: as_of 2021 is after horizon 2020 (expected as_of < horizon)",
        "bad.toml: scenarios.baseline.levers.energy_intensty: unknown key (did you mean 'energy_intensity'?)",
    ]


# ----------------------------------------------------------------------------------------------
# CLI end to end
# ----------------------------------------------------------------------------------------------


def test_cli_validate_reports_every_file(tmp_path, capsys):
    bad = write(tmp_path, BASE.replace("draws = 1000", 'draws = "many"').replace("as_of = 2015", "as_of = 2021"))
    good = write(tmp_path, BASE, "good.toml")
    missing = tmp_path / "missing.toml"
    code = main(["validate", str(bad), str(good), str(missing)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == f"{good}: ok (1 scenario)\n"
    assert captured.err.splitlines() == [
        f"{bad}: run.draws: wrong type (expected integer, got string 'many')",
        f"{bad}: run.as_of: as_of 2021 is after horizon 2020 (expected as_of < horizon)",
        f"{missing}: cannot read (No such file or directory)",
    ]
    assert "Traceback" not in captured.err + captured.out
    assert "pydantic" not in captured.err


def test_cli_validate_syntax_error(tmp_path, capsys):
    bad = write(tmp_path, "[run\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}: line 1, column ") and "TOML syntax error" in err
    assert "Traceback" not in err


def test_cli_validate_ok(tmp_path, capsys):
    good = write(tmp_path, EXTENDS, "ok.toml")
    assert main(["validate", str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: ok (3 scenarios)\n"


def test_cli_schema(capsys, tmp_path):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"run", "output", "scenarios"} <= set(schema["properties"])
    assert schema["properties"]["scenarios"]["required"] == ["baseline"]
    run = schema["$defs"]["RunSpec"]
    assert {"as_of", "horizon", "draws", "seed", "target_sets"} <= set(run["required"])
    assert run["additionalProperties"] is False
    assert set(schema["$defs"]["Levers"]["properties"]) == set(LEVER_DRIVERS)
    out = tmp_path / "scenario.schema.json"
    assert main(["schema", "--out", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == schema


def test_schema_describes_every_key():
    def walk(node, path):
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                assert sub.get("description"), f"{path}.{key} has no description"
            for key, sub in node.items():
                walk(sub, f"{path}/{key}")
        elif isinstance(node, list):
            for sub in node:
                walk(sub, path)

    schema = json_schema()
    walk(schema, "#")
    assert "null" not in json.dumps(schema)  # TOML has no null


def test_a_broken_catalogue_is_an_error_not_a_skip(tmp_path, monkeypatch):
    broken = tmp_path / "targets.csv"
    broken.write_text("id,target_set\nx,y\n", encoding="utf-8")
    monkeypatch.setattr("sim.targets.TARGET_CATALOGUE", broken)
    path = write(tmp_path, BASE + "\n[scenarios.baseline.target_values]\nco2_intensity_cum_2020_fyp13 = -10.0\n")
    with pytest.raises(ProblemList, match=r"targets.csv: line 1: missing column\(s\): series"):
        load_scenario_file(path)


# ----------------------------------------------------------------------------------------------
# Issue 14: BOM, one problem per cause, nesting, non-finite numbers
# ----------------------------------------------------------------------------------------------


def test_utf8_bom_is_accepted(tmp_path):
    """Defect 7: a UTF-8 BOM gave only "TOML syntax error (Invalid statement)"."""
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + (ROOT / "scenarios/baseline_2020.toml").read_bytes())
    assert load_scenario_file(path).scenarios == load_scenario_file(ROOT / "scenarios/baseline_2020.toml").scenarios


def test_unknown_target_set_is_one_problem(tmp_path):
    """Defect 7: an unknown target set also reported "run.target_sets: empty"."""
    path = write(tmp_path, BASE.replace('["fyp13_2020"]', '["fyp13_2021"]'))
    assert problems(path) == [
        "bad.toml: run.target_sets[0]: unknown target set 'fyp13_2021' (expected one of action_plan_2015, "
        "fyp12_2015, fyp13_2020, quality_plan_2020)"]
    path = write(tmp_path, BASE.replace('["fyp13_2020"]', "[]"))
    assert problems(path) == ["bad.toml: run.target_sets: empty (expected at least 1 item)"]


def test_deep_nesting_is_a_problem_not_a_recursion_error(tmp_path, run_cli):
    """Defect 6: more than ~330 nested [ ended in a RecursionError traceback."""
    path = write(tmp_path, BASE + "\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems(path) == ["bad.toml: arrays or tables nested too deeply (expected a scenario file: "
                              "at most a few levels)"]
    code, out, err = run_cli("validate", path)
    assert code == 2 and "Traceback" not in err and "nested too deeply" in err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "+nan"])
def test_non_finite_target_value_is_an_error_not_a_blank(tmp_path, value):
    """Defect 4: target values nan/inf passed validation and were reported as "left blank"."""
    path = write(tmp_path, BASE + f"\n[scenarios.baseline.target_values]\ngdp_2020_fyp13 = {value}\n")
    got = problems(path)
    assert len(got) == 1 and got[0].startswith(
        "bad.toml: scenarios.baseline.target_values.gdp_2020_fyp13: not a finite number"), got


PLAN_RECORD = RUN + """
[scenarios.baseline]
description = "Trends and the plan record."

[scenarios.trends]
extends = "baseline"
description = "Trends only."
plan_record = false

[scenarios.trends_child]
extends = "trends"
description = "Inherits the switch."

[scenarios.back_on]
extends = "trends"
description = "Switches it on again."
plan_record = true
"""


def test_plan_record_option_is_inherited_and_round_trips(tmp_path):
    sf = load_scenario_file(write(tmp_path, PLAN_RECORD, "pr.toml"))
    assert {k: v.plan_record for k, v in sf.scenarios.items()} == {
        "baseline": True, "trends": False, "trends_child": False, "back_on": True}
    back = load_scenario_file(write(tmp_path, resolved_toml(sf), "resolved.toml"))
    assert back.scenarios == sf.scenarios
    bad = PLAN_RECORD.replace("plan_record = false", 'plan_record = "no"')
    assert any("plan_record" in p for p in problems(write(tmp_path, bad)))


# ----------------------------------------------------------------------------------------------
# A file that extends another file (`extends = "other.toml"` / `"other.toml#scenario"`)
# ----------------------------------------------------------------------------------------------

SHIPPED_2020 = ROOT / "scenarios" / "baseline_2020.toml"


def _variant(tmp_path: Path, extends: str, body: str = "") -> Path:
    return write(tmp_path, f'extends = "{extends}"\n' + textwrap.dedent(body), "variant.toml")


def _relative(tmp_path: Path, target: Path) -> str:
    import os

    return os.path.relpath(target, tmp_path)


def test_a_variant_file_builds_on_one_shipped_scenario(tmp_path, run_cli):
    shipped = load_scenario_file(SHIPPED_2020)
    path = _variant(tmp_path, _relative(tmp_path, SHIPPED_2020) + "#low_carbon", """
        [run]
        draws = 500

        [scenarios.low_carbon_plus]
        extends = "low_carbon"
        description = "Low carbon, energy intensity 2 pp/yr faster from 2017."
        [scenarios.low_carbon_plus.levers.energy_intensity]
        shift_pp = -2.0
        """)
    sf = load_scenario_file(path)
    assert list(sf.scenarios) == ["baseline", "low_carbon", "low_carbon_plus"]
    assert sf.run.draws == 500   # the variant's [run] key overrides, the rest is the file's
    assert sf.run.model_dump(exclude={"draws"}) == shipped.run.model_dump(exclude={"draws"})
    assert sf.scenarios["baseline"] == shipped.scenarios["baseline"]   # target values too
    assert sf.scenarios["low_carbon"] == shipped.scenarios["low_carbon"]
    plus = sf.scenarios["low_carbon_plus"]
    assert plus.levers["energy_intensity"].shift_pp == -2.0
    assert plus.levers["carbon_factor"] == shipped.scenarios["low_carbon"].levers["carbon_factor"]
    assert plus.target_values == shipped.baseline.target_values
    # the resolved file stands alone: it reads back equal without the shipped file
    back = load_scenario_file(write(tmp_path, resolved_toml(sf), "resolved.toml"))
    assert back.scenarios == sf.scenarios
    code, out, _ = run_cli("validate", path)
    assert code == 0 and f"{path}: ok (3 scenarios)" in out


def test_a_variant_file_takes_every_scenario_and_may_replace_one(tmp_path):
    shipped = load_scenario_file(SHIPPED_2020)
    path = _variant(tmp_path, _relative(tmp_path, SHIPPED_2020), """
        [scenarios.new_normal]
        extends = "baseline"
        description = "Replaced: growth 2 pp/yr below trend."
        [scenarios.new_normal.levers.gdp_real]
        shift_pp = -2.0
        """)
    sf = load_scenario_file(path)
    assert list(sf.scenarios) == list(shipped.scenarios)
    assert sf.scenarios["new_normal"].description == "Replaced: growth 2 pp/yr below trend."
    assert sf.scenarios["new_normal"].levers["gdp_real"].shift_pp == -2.0
    assert sf.sweep == shipped.sweep   # its scenario is kept, so the sweep is too


def test_file_extends_problems_name_the_file_and_what_was_expected(tmp_path):
    rel = _relative(tmp_path, SHIPPED_2020)
    assert problems(_variant(tmp_path, rel + "#low_carbn")) == [
        f"variant.toml: extends: no scenario 'low_carbn' in {SHIPPED_2020.resolve()} "
        "(did you mean 'low_carbon'?)"]
    expected = ("(expected the path of a scenario file relative to this file's folder, e.g. "
                '"baseline_2020.toml" or "../scenarios/baseline_2020.toml#low_carbon")')
    assert problems(_variant(tmp_path, "nothere.toml")) == [
        f"variant.toml: extends: cannot read 'nothere.toml' (no such file: nothere.toml) "
        f"{expected}"]
    assert problems(write(tmp_path, "extends = 3\n", "variant.toml")) == [
        f"variant.toml: extends: 3 is not a scenario file {expected}"]
    write(tmp_path, 'extends = "b.toml"\n', "a.toml")
    write(tmp_path, 'extends = "a.toml"\n', "b.toml")
    assert problems(tmp_path / "a.toml") == [
        "b.toml: extends: files extend each other in a cycle: a.toml → b.toml → a.toml "
        "(expected a chain ending at a file without extends)"]
    # a problem of the parent file is reported in the parent file
    write(tmp_path, SHIPPED_2020.read_text(encoding="utf-8").replace(
        "draws = 20000", 'draws = "many"'), "parent.toml")
    assert problems(_variant(tmp_path, "parent.toml")) == [
        "parent.toml: run.draws: wrong type (expected integer, got string 'many')"]


def test_file_extends_merge_rules():
    from sim.scenario.extends import _merge_files

    base = {"run": {"as_of": 2015, "draws": 10}, "output": {"figures": True},
            "scenarios": {"baseline": {"description": "b"},
                          "a": {"extends": "baseline", "description": "a"},
                          "b": {"extends": "a", "description": "b"},
                          "c": {"extends": "baseline", "description": "c"}},
            "sweep": {"scenario": "c"}}
    out = _merge_files(base, {"run": {"draws": 5}, "scenarios": {"d": {"description": "d"}}},
                       "b", "v.toml", "p.toml")
    assert out["run"] == {"as_of": 2015, "draws": 5} and out["output"] == {"figures": True}
    assert list(out["scenarios"]) == ["baseline", "a", "b", "d"]   # b, its chain, the baseline
    assert "sweep" not in out                                        # its scenario is not kept
    whole = _merge_files(base, {"sweep": {"scenario": "d"}}, None, "v.toml", "p.toml")
    assert list(whole["scenarios"]) == ["baseline", "a", "b", "c"]
    assert whole["sweep"] == {"scenario": "d"}                       # the variant's replaces it
