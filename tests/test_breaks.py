"""Structural breaks (issue 12 item 3): breaks.csv, `break:` notes, and what calibration makes of
the step across a break."""

from __future__ import annotations

import csv
import math

import pytest

from sim.calibrate.breaks import BREAKS_FILE, read_breaks
from sim.calibrate.observations import direct_obs
from sim.calibrate.statespace import ChangeProcess, fit_process
from sim.errors import ProblemList
from sim.history import load_history
from sim.paths import DEFAULT_DATA_DIR
from sim.vocabulary import SERIES

HEADER = "series,year,base_year,kind,value,unit,vintage,source,note"
FIXED = {"phi": 0.0, "sigma_noise": 0.02, "sigma_level": 0.005}
BREAK_2005 = "series,year,vintage,reason,source\ntertiary_share,2005,,census,a yearbook\n"


def bundled_rows(series: str, last: int) -> list[dict]:
    """The bundled rows of ``series`` dated ``<= last`` (real data, unchanged)."""
    with open(DEFAULT_DATA_DIR / "other_indicators.csv", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if r["series"] == series and int(r["year"]) <= last]


def write_dir(path, rows: list[dict], breaks: str | None = None):
    path.mkdir(exist_ok=True)
    with open(path / "obs.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HEADER.split(","))
        w.writeheader()
        w.writerows(rows)
    if breaks is not None:
        (path / BREAKS_FILE).write_text(breaks, encoding="utf-8")
    return load_history(path)


def trend_pp_per_year(history, as_of: int) -> float:
    """The fitted mean annual change of the tertiary share at as_of, in pp a year (fixed
    parameters, so only the observations differ)."""
    so = direct_obs(history.upto(as_of), "tertiary_share", "revised")
    fit = fit_process(ChangeProcess(so.obs, end=as_of), dict(FIXED))
    level, mean = fit.state_mean[0], fit.state_mean[1]
    p = 1.0 / (1.0 + math.exp(-level))
    return 100.0 * mean * p * (1.0 - p)


def test_tertiary_trend_as_of_2010_leaves_out_the_2004_05_census_step(tmp_path):
    rows = bundled_rows("tertiary_share", 2010)
    assert [r["year"] for r in rows][:2] == ["2004", "2005"]
    unmarked = trend_pp_per_year(write_dir(tmp_path / "a", rows), 2010)
    marked = trend_pp_per_year(write_dir(tmp_path / "b", rows, BREAK_2005), 2010)
    dropped = trend_pp_per_year(write_dir(tmp_path / "c", rows[1:]), 2010)
    # marking the break is exactly the fit without the step (the 2004 level alone says nothing)
    assert marked == pytest.approx(dropped, rel=1e-9)
    # the +8.6 pp step doubles the trend when read as growth (issue 12: 2.47 against 1.22)
    assert 1.0 < marked < 1.5
    assert unmarked > 1.6 * marked


def test_a_break_note_on_the_row_is_the_same_break(tmp_path):
    rows = bundled_rows("tertiary_share", 2010)
    noted = [dict(r) for r in rows]
    noted[1]["note"] = "break: 1st economic census"
    a = direct_obs(write_dir(tmp_path / "a", noted), "tertiary_share", "revised")
    b = direct_obs(write_dir(tmp_path / "b", rows, BREAK_2005), "tertiary_share", "revised")
    assert a.obs == b.obs
    assert "break before 2005 (1st economic census; obs.csv: line 3)" in " ".join(a.notes)
    assert "break before 2005 (census; breaks.csv: line 2)" in " ".join(b.notes)


def test_levels_on_both_sides_are_used_as_changes_and_the_latest_run_as_levels(tmp_path):
    rows = bundled_rows("retail_sales", 2010)
    brk = "series,year,vintage,reason,source\nretail_sales,2007,,test,a source\n"
    so = direct_obs(write_dir(tmp_path, rows, brk), "retail_sales", "revised")
    kinds = sorted((o.kind, o.year) for o in so.obs)
    assert kinds == [("change", 2005), ("change", 2006), ("level", 2007), ("level", 2008),
                     ("level", 2009), ("level", 2010)]
    assert "retail_sales: level step 2006→2007 not read as growth: break before 2007 (test; " \
           "breaks.csv: line 2)" in so.notes


def test_a_published_change_across_a_break_is_kept(tmp_path):
    rows = [dict(series="so2_emissions", year="2015", base_year="2010", kind="cumulative_change_pct",
                 value="-43.2", unit="%", vintage="first", source="plan table", note=""),
            dict(series="so2_emissions", year="2016", base_year="", kind="change_pct",
                 value="-10.2", unit="%", vintage="first", source="forum", note="")]
    brk = "series,year,vintage,reason,source\nso2_emissions,2011,,scope,a source\n"
    so = direct_obs(write_dir(tmp_path, rows, brk), "so2_emissions", "revised")
    assert sorted((o.kind, o.year) for o in so.obs) == [("change", 2016), ("cum", 2015)]


def test_a_break_of_one_vintage_leaves_the_others_comparable(tmp_path):
    rows = [dict(series="gdp_nominal", year=str(y), base_year="", kind="level", value=str(v),
                 unit=SERIES["gdp_nominal"].unit, vintage=vin, source="s", note="")
            for y, v, vin in [(2004, 3422, "first"), (2005, 4927, "first"),
                              (2004, 4282.14, "revised"), (2005, 5035.77, "revised")]]
    brk = "series,year,vintage,reason,source\ngdp_nominal,2005,first,census,a source\n"
    h = write_dir(tmp_path, rows, brk)
    first = direct_obs(h, "gdp_nominal", "first")
    revised = direct_obs(h, "gdp_nominal", "revised")
    assert [(o.kind, o.year) for o in first.obs] == [("level", 2005)]
    assert sorted((o.kind, o.year) for o in revised.obs) == [("level", 2004), ("level", 2005)]


def test_breaks_csv_problems_name_file_line_column_and_what_was_expected(tmp_path):
    path = tmp_path / BREAKS_FILE
    path.write_text("series,year,vintage,reason,source\n"
                    "tertiary_shar,2005,,census,src\n"
                    "tertiary_share,20x5,,census,src\n"
                    "tertiary_share,2005,final,census,\n"
                    "tertiary_share,2005,,census,src\n"
                    "tertiary_share,2005,,again,src\n", encoding="utf-8")
    with pytest.raises(ProblemList) as exc:
        read_breaks(path, set(SERIES))
    assert [str(p) for p in exc.value.problems] == [
        f"{path}: line 2: series: unknown series 'tertiary_shar' (expected a series of the "
        f"vocabulary or of the data)",
        f"{path}: line 3: year: not a whole year (got '20x5')",
        f"{path}: line 4: vintage: unknown vintage 'final' (expected blank for every vintage, "
        f"or one of first, revised, unknown)",
        f"{path}: line 4: source: empty (every break needs its source)",
        f"{path}: line 6: duplicate of line 5 (one break per series, year and vintage)",
    ]


def test_breaks_csv_header_is_checked(tmp_path):
    path = tmp_path / BREAKS_FILE
    path.write_text("series,year,why\n", encoding="utf-8")
    with pytest.raises(ProblemList) as exc:
        read_breaks(path, set(SERIES))
    assert str(exc.value) == (f"{path}: line 1: missing column(s) reason, source; unexpected "
                              f"column(s) why (expected series,year,vintage,reason,source; "
                              f"vintage may be omitted)")


def test_a_bad_breaks_file_stops_calibration_with_its_message(tmp_path, run_cli):
    for name in ("economy.csv", "energy_carbon.csv"):
        (tmp_path / name).write_bytes((DEFAULT_DATA_DIR / name).read_bytes())
    (tmp_path / BREAKS_FILE).write_text("series,year,reason,source\ngdp_real,1066,x,y\n",
                                        encoding="utf-8")
    code, _out, err = run_cli("calibrate", "--data", tmp_path, "--as-of", "2010",
                              "--out", tmp_path / "fit")
    assert code == 2
    assert f"{tmp_path / BREAKS_FILE}: line 2: year: 1066 is outside" in err


def test_bundled_breaks_are_valid_sourced_and_mark_the_known_ones():
    found = read_breaks(DEFAULT_DATA_DIR / BREAKS_FILE, set(SERIES))
    keys = {(b.series, b.year, b.vintage) for b in found}
    assert {("tertiary_share", 2005, None), ("retail_sales", 2005, None),
            ("population_resident", 2020, "first"), ("so2_emissions", 2011, None)} <= keys
    assert all(b.reason and b.source for b in found)
