"""The history loader (sim.history), the bundled data, and ``python -m sim data``."""

from __future__ import annotations

import csv
import re

import pandas as pd
import pytest

from sim.cli import main
from sim.errors import ProblemList, SimError
from sim.history import COLUMNS, load_history
from sim.paths import DEFAULT_DATA_DIR, SEEDS_DIR
from sim.targets import load_catalogue

HEADER = ",".join(COLUMNS)
GOOD = "gdp_nominal,2015,,level,17502.99,亿元,first,https://example.org/a,"


def write(tmp_path, name, *lines, header=HEADER):
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def problems_of(tmp_path) -> list[str]:
    with pytest.raises(ProblemList) as info:
        load_history(tmp_path)
    return [str(p) for p in info.value.problems]


# ---------------------------------------------------------------- bundled data

def test_bundled_data_loads_and_is_typed():
    h = load_history()
    f = h.frame
    assert list(f.columns) == list(COLUMNS) + ["file", "line"]
    assert f["year"].dtype == "int64" and f["value"].dtype == "float64"
    assert str(f["base_year"].dtype) == "Int64"
    assert len(h.data_hash) == 64
    # every shipped row carries a source; every cumulative row a base year
    assert f["source"].str.len().min() > 0
    cum = f["kind"].isin(["cumulative_change_pct", "period_sum"])
    assert f.loc[cum, "base_year"].notna().all() and f.loc[~cum, "base_year"].isna().all()
    assert not f["series"].str.startswith("target_").any()


def test_bundled_data_has_what_the_model_needs():
    h = load_history()
    names = set(h.series_names())
    for s in ("gdp_real", "gdp_nominal", "population_resident", "usdcny", "energy_intensity",
              "co2_emissions", "co2_intensity", "water_intensity", "cod_emissions", "nh3n_emissions",
              "so2_emissions", "nox_emissions", "affordable_housing_planned", "affordable_housing_supplied"):
        assert s in names, s
    # seed 003 专栏1: energy intensity -19.5% over 2011-2015
    ei = h.select("energy_intensity")
    row = ei[(ei["kind"] == "cumulative_change_pct") & (ei["year"] == 2015)]
    assert row["base_year"].tolist() == [2010] and row["value"].tolist() == [-19.5]
    # GDP carries first-published and revised vintages
    assert set(h.select("gdp_nominal", "first").query("year == 2015")["value"]) == {17502.99}
    assert set(h.select("gdp_nominal", "revised").query("year == 2015")["vintage"]) == {"revised"}


def test_data_hash_changes_with_content(tmp_path):
    write(tmp_path, "a.csv", GOOD)
    h1 = load_history(tmp_path).data_hash
    write(tmp_path, "a.csv", GOOD.replace("17502.99", "17503"))
    assert load_history(tmp_path).data_hash != h1


# ---------------------------------------------------------------- validation, messages pinned

def test_missing_and_extra_columns_are_named(tmp_path):
    path = write(tmp_path, "x.csv", "gdp_nominal,2015,,level,1,亿元,first,src,,x",
                 header=HEADER.replace(",note", "") + ",comment,extra")
    assert problems_of(tmp_path) == [
        f"{path}: line 1: missing column(s) note; unexpected column(s) comment, extra "
        f"(expected exactly: {HEADER})"
    ]


def test_extra_column_alone_is_reported_and_rows_still_checked(tmp_path):
    path = write(tmp_path, "x.csv", "gdp_nomial,2015,,level,1,亿元,first,src,,x", header=HEADER + ",extra")
    got = problems_of(tmp_path)
    assert got[0].startswith(f"{path}: line 1: unexpected column(s) extra")
    assert got[1] == (f"{path}: line 2: unknown series 'gdp_nomial' (did you mean 'gdp_nominal'?) "
                      f"(a new series is declared in the data directory's series.csv)")


@pytest.mark.parametrize("row, message", [
    ("gdp_nominall,2015,,level,1,亿元,first,src,",
     "unknown series 'gdp_nominall' (did you mean 'gdp_nominal'?) (a new series is declared "
     "in the data directory's series.csv)"),
    ("gdp_nominal,2015,,levl,1,亿元,first,src,",
     "unknown kind 'levl' (expected one of level, change_pct, cumulative_change_pct, period_sum)"),
    ("gdp_nominal,2015,,level,1,亿元,final,src,", "unknown vintage 'final' (expected one of first, revised, unknown)"),
    ("gdp_nominal,2015,,level,1,万元,first,src,", "wrong unit for gdp_nominal level (expected '亿元', got '万元')"),
    ("gdp_real,2015,,change_pct,8.9,index,first,src,", "wrong unit for gdp_real change_pct (expected '%', got 'index')"),
    ("gdp_nominal,2015,,level,abc,亿元,first,src,", "value is not a number (expected a finite number, got 'abc')"),
    ("gdp_nominal,2015,,level,inf,亿元,first,src,", "value is not finite (expected a finite number, got 'inf')"),
    ("gdp_nominal,2015,,level,nan,亿元,first,src,", "value is not finite (expected a finite number, got 'nan')"),
    ("gdp_nominal,2015,,level,-5,亿元,first,src,", "level of gdp_nominal out of range (expected 1e-06 <= value <= 1000000000000, got -5)"),
    ("affordable_housing_supplied,2015,2010,period_sum,-1,套,first,src,", "period_sum of affordable_housing_supplied out of range (expected 1e-06 <= value <= 1000000000000, got -1)"),
    ("gdp_nominal,1850,,level,1,亿元,first,src,", "year 1850 is outside 1978–2100"),
    ("gdp_nominal,20x5,,level,1,亿元,first,src,", "year is not a whole year (got '20x5')"),
    ("energy_intensity,2015,2015,cumulative_change_pct,-19.5,%,first,src,",
     "base_year must be before year (got base_year 2015, year 2015)"),
    ("energy_intensity,2015,,cumulative_change_pct,-19.5,%,first,src,",
     "base_year missing (required for kind cumulative_change_pct: the window is (base_year, year])"),
    ("gdp_nominal,2015,2010,level,1,亿元,first,src,", "base_year given for kind level (expected blank, got '2010')"),
    ("gdp_nominal,2015,,level,1,亿元,first,,", "empty source (every observation needs a URL or citation)"),
])
def test_each_row_check_names_file_line_expected_and_got(tmp_path, row, message):
    path = write(tmp_path, "obs.csv", GOOD, row)
    assert problems_of(tmp_path) == [f"{path}: line 3: {message}"]


def test_exact_duplicate_and_conflict_across_files(tmp_path):
    a = write(tmp_path, "a.csv", GOOD)
    b = write(tmp_path, "b.csv", GOOD, "gdp_nominal,2015,,level,17500,亿元,first,seed 003,rounded")
    assert problems_of(tmp_path) == [
        f"{b}: line 2: exact duplicate of a.csv line 2",
        f"{b}: line 3: conflicting value for gdp_nominal level 2015 vintage first "
        f"(got 17500, but a.csv line 2 has 17502.99); keep one, or mark them first/revised",
    ]
    assert a.exists()


def test_same_value_other_vintage_or_source_is_not_a_conflict(tmp_path):
    write(tmp_path, "a.csv", GOOD, "gdp_nominal,2015,,level,18436.84,亿元,revised,src2,",
          "gdp_nominal,2015,,level,17502.99,亿元,first,other source,same value")
    assert len(load_history(tmp_path).frame) == 3


def test_all_problems_of_a_file_at_once_in_line_order(tmp_path):
    path = write(tmp_path, "x.csv",
                 "gdp_nominal,2015,,level,abc,亿元,first,src,",
                 GOOD,
                 "pm25,2015,,level,29.8,ug/m3,first,,")
    assert problems_of(tmp_path) == [
        f"{path}: line 2: value is not a number (expected a finite number, got 'abc')",
        f"{path}: line 4: wrong unit for pm25 level (expected 'μg/m3', got 'ug/m3')",
        f"{path}: line 4: empty source (every observation needs a URL or citation)",
    ]


def test_wrong_field_count(tmp_path):
    path = write(tmp_path, "x.csv", "gdp_nominal,2015,level")
    assert problems_of(tmp_path) == [f"{path}: line 2: has 3 fields, expected 9"]


def test_missing_dir_and_dir_without_csv(tmp_path):
    with pytest.raises(SimError, match="history data directory not found: .*nope"):
        load_history(tmp_path / "nope")
    (tmp_path / "README.txt").write_text("no data")
    with pytest.raises(SimError, match="no CSV files in history data directory"):
        load_history(tmp_path)


# ---------------------------------------------------------------- upto and select

@pytest.fixture
def small(tmp_path):
    write(tmp_path, "a.csv",
          "energy_intensity,2010,,level,0.513,吨标准煤/万元,first,src,",
          "energy_intensity,2014,,change_pct,-4,%,first,src,",
          "energy_intensity,2015,2010,cumulative_change_pct,-19.5,%,first,src,",
          "energy_intensity,2016,,change_pct,-4.1,%,first,src,",
          "gdp_nominal,2015,,level,17502.99,亿元,first,src,",
          "gdp_nominal,2015,,level,18436.84,亿元,revised,src,",
          "gdp_nominal,2015,,level,17502.86,亿元,unknown,src,",
          "gdp_nominal,2016,,level,19492.6,亿元,first,src,",
          "gdp_nominal,2016,,level,19492.60,亿元,unknown,src,",
          "gdp_nominal,2017,,level,23280.27,亿元,revised,src,")
    return load_history(tmp_path)


def test_upto_drops_later_rows_and_counts_windows_by_end_year(small):
    assert sorted(small.upto(2015).frame.query("series == 'energy_intensity'")["year"]) == [2010, 2014, 2015]
    assert small.upto(2014).frame.query("kind == 'cumulative_change_pct'").empty
    assert small.upto(2015).frame.query("kind == 'cumulative_change_pct'")["base_year"].tolist() == [2010]
    assert small.upto(2009).frame.empty
    assert small.upto(2015).data_hash == small.data_hash


@pytest.mark.parametrize("vintage, expected", [
    ("revised", [(2015, 18436.84, "revised"), (2016, 19492.6, "unknown"), (2017, 23280.27, "revised")]),
    ("first", [(2015, 17502.99, "first"), (2016, 19492.6, "first"), (2017, 23280.27, "revised")]),
    ("unknown", [(2015, 17502.86, "unknown"), (2016, 19492.6, "unknown"), (2017, 23280.27, "revised")]),
])
def test_select_prefers_requested_then_unknown_then_other(small, vintage, expected):
    got = small.select("gdp_nominal", vintage)
    assert list(zip(got["year"], got["value"], got["vintage"])) == expected


def test_select_sorted_by_kind_then_year_and_errors(small):
    got = small.select("energy_intensity")
    assert list(zip(got["kind"], got["year"])) == [
        ("change_pct", 2014), ("change_pct", 2016), ("cumulative_change_pct", 2015), ("level", 2010)]
    assert small.select("pm25").empty
    with pytest.raises(SimError, match="unknown series 'gdp_nominl' \\(did you mean 'gdp_nominal'\\?\\)"):
        small.select("gdp_nominl")
    with pytest.raises(SimError, match="unknown vintage 'latest'"):
        small.select("gdp_nominal", "latest")
    assert small.series_names() == ["energy_intensity", "gdp_nominal"]


# ---------------------------------------------------------------- the `sim data` command

def test_cli_data_table_lists_series_years_and_targets(capsys):
    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert "energy_intensity" in out and "cumulative_change_pct 2015, 2018" in out
    assert "gdp_nominal" in out and "first,revised,unknown" in out
    assert "level 2000–2024" in out
    assert "Targets without history" in out


def test_cli_data_csv_with_own_dir(tmp_path, capsys):
    write(tmp_path, "a.csv",
          "pm25,2014,,level,34,μg/m3,first,https://wanglu.net/x,",
          "pm25,2015,,level,29.8,μg/m3,first,seed 003_f03a317643cd5a3e.txt 第一章,",
          "pm25,2017,,level,28,μg/m3,first,https://example.org/y,")
    assert main(["data", "--data", str(tmp_path), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    table = pd.read_csv(__import__("io").StringIO(out.split("\n\n")[0]))
    row = table.set_index("series").loc["pm25"]
    assert row["kinds_years"] == "level 2014–2015, 2017"
    assert row["n"] == 3 and row["vintages"] == "first"
    assert row["sources"] == "example.org; seed 003; wanglu.net"


def test_cli_data_bad_dir_exits_2_without_traceback(tmp_path, capsys):
    assert main(["data", "--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "history data directory not found" in err and "Traceback" not in err
    write(tmp_path, "bad.csv", "gdp_nominal,2015,,level,1,万元,first,src,")
    assert main(["data", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv: line 2: wrong unit for gdp_nominal level (expected '亿元', got '万元')" in err
    assert "Traceback" not in err


# ---------------------------------------------------------------- issue 14: plausible values and jumps

GDP_ROWS = ("gdp_nominal,2013,,level,14500.23,亿元,first,src,",
            "gdp_nominal,2014,,level,{v},亿元,first,src,{note}",
            "gdp_nominal,2015,,level,17502.99,亿元,first,src,")


def gdp_with_2014(tmp_path, value, note=""):
    rows = [r.format(v=value, note=note) for r in GDP_ROWS]
    return write(tmp_path, "gdp.csv", *rows)


@pytest.mark.parametrize("value, message", [
    ("1e-300", "level of gdp_nominal out of range (expected 1e-06 <= value <= 1000000000000, got 1e-300)"),
    ("1e308", "level of gdp_nominal out of range (expected 1e-06 <= value <= 1000000000000, got 1e308)"),
    ("0", "level of gdp_nominal out of range (expected 1e-06 <= value <= 1000000000000, got 0)"),
])
def test_implausible_level_names_file_and_line(tmp_path, value, message):
    """Defect 4: GDP 2014 = 1e-300 or 1e308 ran with exit 0 and P = 1.0 or 0.0."""
    path = gdp_with_2014(tmp_path, value)
    assert problems_of(tmp_path) == [f"{path}: line 3: {message}"]


def test_level_times_1000_is_a_jump_error_on_both_sides(tmp_path):
    """Defect 4: GDP 2014 ×1000 ran with exit 0."""
    path = gdp_with_2014(tmp_path, "16001990.0")
    got = problems_of(tmp_path)
    assert got == [
        f"{path}: line 3: implausible jump of gdp_nominal level (first) from 14500.23 in 2013 (line 2) to "
        f"16001990 in 2014: ×1.1e+03 a year (expected a ratio between 0.2 and 5); correct the value, "
        f"or if the series really breaks here write a note starting 'break: <reason>'",
        f"{path}: line 4: implausible jump of gdp_nominal level (first) from 16001990 in 2014 (line 3) to "
        f"17502.99 in 2015: ×0.00109 a year (expected a ratio between 0.2 and 5); correct the value, "
        f"or if the series really breaks here write a note starting 'break: <reason>'",
    ]


def test_a_marked_break_skips_the_jump_into_its_row(tmp_path):
    write(tmp_path, "gdp.csv",
          "gdp_nominal,2013,,level,14500.23,亿元,first,src,",
          "gdp_nominal,2014,,level,160019.9,亿元,first,src,break: test of a new definition from 2014",
          "gdp_nominal,2015,,level,175029.9,亿元,first,src,")
    assert len(load_history(tmp_path).frame) == 3
    write(tmp_path, "gdp.csv",
          "gdp_nominal,2013,,level,14500.23,亿元,first,src,",
          "gdp_nominal,2014,,level,160019.9,亿元,first,src,a break but not marked as one",
          "gdp_nominal,2015,,level,175029.9,亿元,first,src,")
    assert len(problems_of(tmp_path)) == 1


def test_jumps_scale_with_the_gap_and_mixed_vintages_are_checked(tmp_path):
    # 2005 -> 2015 ×10 over ten years: 26 %/yr, plausible
    write(tmp_path, "a.csv", "gdp_nominal,2005,,level,1750.3,亿元,first,src,",
          "gdp_nominal,2015,,level,17502.99,亿元,first,src,")
    load_history(tmp_path)
    # a revised 2014 ×1000 next to first-vintage neighbours: the mix calibration uses jumps
    path = write(tmp_path, "a.csv", "gdp_nominal,2013,,level,14500.23,亿元,first,src,",
                 "gdp_nominal,2014,,level,16001990.0,亿元,revised,src,",
                 "gdp_nominal,2015,,level,17502.99,亿元,first,src,")
    got = problems_of(tmp_path)
    assert got and all(p.startswith(f"{path}: line ") and "implausible jump" in p for p in got)
    assert "(first then revised)" in got[0]


@pytest.mark.parametrize("row, message", [
    ("gdp_real,2015,,change_pct,1000000,%,first,src,",
     "change_pct of gdp_real out of range (expected -100 < value <= 1000, got 1000000)"),
    ("gdp_real,2015,,change_pct,-100,%,first,src,",
     "change_pct of gdp_real out of range (expected -100 < value <= 1000, got -100)"),
    ("energy_intensity,2015,2010,cumulative_change_pct,-120,%,first,src,",
     "cumulative_change_pct of energy_intensity out of range (expected -100 < value <= 100000, got -120)"),
    ("tertiary_share,2015,,level,100,%,first,src,",
     "level of tertiary_share out of range (expected 1e-06 <= value < 100, got 100)"),
    ("tertiary_share,2015,,level,0,%,first,src,",
     "level of tertiary_share out of range (expected 1e-06 <= value < 100, got 0)"),
])
def test_changes_and_shares_out_of_range(tmp_path, row, message):
    """Defect 4: a growth of 1e6 % ran with exit 0."""
    path = write(tmp_path, "obs.csv", GOOD, row)
    assert problems_of(tmp_path) == [f"{path}: line 3: {message}"]


def test_bundled_data_has_no_implausible_value_or_jump():
    from sim.bounds import JUMP_RATIO
    from sim.history import plausible_range

    frame = load_history().frame
    for row in frame.itertuples():
        assert plausible_range(row.series, row.kind).contains(row.value), row
    levels = frame[frame["kind"] == "level"].sort_values("year")
    for (_, _), g in levels.groupby(["series", "vintage"]):
        ratios = (g["value"].values[1:] / g["value"].values[:-1]) ** (1 / g["year"].diff().values[1:])
        assert all(JUMP_RATIO.contains(float(r)) for r in ratios)


def test_cli_data_rejects_a_jump_with_file_and_line(tmp_path, capsys):
    path = gdp_with_2014(tmp_path, "16001990.0")
    assert main(["data", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: line 3: implausible jump" in err and "Traceback" not in err


def test_a_folder_named_like_a_csv_is_a_problem_not_a_crash(tmp_path, capsys):
    """Defect 6: a data folder holding a directory named sub.csv ended in IsADirectoryError."""
    write(tmp_path, "gdp.csv", GOOD)
    (tmp_path / "sub.csv").mkdir()
    assert problems_of(tmp_path) == [f"{tmp_path / 'sub.csv'}: is a folder, not a CSV file (expected a "
                                     f"file of observations; rename or move it)"]
    assert main(["data", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "sub.csv: is a folder" in err and "Traceback" not in err


def test_extra_indicators_quote_their_seed_and_measure_catalogue_targets():
    """calibration/data/extra_indicators.csv (issue 12 item 8): every row quoted from a seed plan
    quotes it verbatim (spaces aside), and each series measures at least one catalogue target."""
    load_history()
    rows = list(csv.DictReader(open(DEFAULT_DATA_DIR / "extra_indicators.csv", encoding="utf-8")))
    quoted = [r for r in rows if r["source"].startswith("seed ")]
    assert len(quoted) == 8 and all(r["source"] and r["note"] for r in rows)
    for r in quoted:
        seed = (SEEDS_DIR / r["source"].split()[1]).read_text(encoding="utf-8")
        quote = re.search(r"'([^']+)'", r["note"]).group(1)
        assert re.sub(r"\s", "", quote) in re.sub(r"\s", "", seed), (r["series"], r["year"], quote)
    mapped = set(load_catalogue()["series"])
    assert {r["series"] for r in rows} <= mapped


# --- an unknown series is an error naming it, never "nothing observed" (issue 19 item 1) ------

def _observers():
    """Every reader of observed values that used to turn an unknown series into None."""
    from sim.evaluation.indicator import observation_for
    from sim.evaluation.record import base_of
    from sim.output.figures import _history_of
    from sim.output.midterm_table import _observed_level, observed_sum
    from sim.output.report_compare import _history
    from sim.output.tables import _latest_observed
    from sim.targets import Target

    def target(series):
        return Target.from_row({"id": "t", "series": series, "kind": "level", "target_year": 2015,
                                "base_year": 2010, "unit": "%"})

    return {
        "tables._latest_observed": lambda h, s: _latest_observed(h, s, "level", 2015, "revised"),
        "figures._history_of": lambda h, s: _history_of(h, s, "revised"),
        "report_compare._history": lambda h, s: _history(h, s, "revised"),
        "midterm_table._observed_level": lambda h, s: _observed_level(h, s, 2015, "revised"),
        "midterm_table.observed_sum": lambda h, s: observed_sum(h, s, 2011, 2015, "revised"),
        "indicator.observation_for": lambda h, s: observation_for(h, target(s)),
        "record.base_of": lambda h, s: base_of(target(s), h, 2011, 2015),
    }


@pytest.mark.parametrize("reader", list(_observers()))
def test_an_unknown_series_is_an_error_naming_it(reader):
    h = load_history()
    read = _observers()[reader]
    with pytest.raises(SimError, match="unknown series 'forest_coverage'"):
        read(h, "forest_coverage")
    read(h, "tertiary_share")   # a known series reads as before
