"""Levels in several vintages (issue 12 item 6): which levels form one run, and the message."""

from __future__ import annotations

import csv

from sim.calibrate.observations import direct_obs
from sim.history import load_history
from sim.vocabulary import SERIES

HEADER = "series,year,base_year,kind,value,unit,vintage,source,note".split(",")


def history_of(tmp_path, series, levels):
    """A data directory with ``levels`` [(year, value, vintage)] of ``series``."""
    with open(tmp_path / "obs.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HEADER)
        w.writeheader()
        for y, v, vin in levels:
            w.writerow(dict(series=series, year=y, base_year="", kind="level", value=v,
                            unit=SERIES[series].unit, vintage=vin, source="s", note=""))
    return load_history(tmp_path)


def test_an_unknown_vintage_joins_a_first_published_level(tmp_path):
    # the bundled hospital beds: a 2004-2012 yearbook panel ('unknown') and the 2015 plan figure
    h = history_of(tmp_path, "hospital_beds",
                   [(2011, 22322, "unknown"), (2012, 26205, "unknown"), (2015, 37000, "first")])
    so = direct_obs(h, "hospital_beds", "revised")
    assert sorted((o.kind, o.year) for o in so.obs) == [("level", 2011), ("level", 2012),
                                                        ("level", 2015)]
    assert so.n_informative() == 2
    assert so.notes == [
        "hospital_beds: levels of vintage 'unknown' and 'first' joined across 2012→2015: an "
        "'unknown' vintage is no evidence of another basis and no year shows a revision between "
        "them (declare a break in breaks.csv if there is one)"]


def test_unknown_and_first_that_disagree_in_a_year_stay_apart(tmp_path):
    # Shenzhen GDP: the NBS database ('unknown') and the first release differ by 2.4 % in 2001
    h = history_of(tmp_path, "gdp_nominal",
                   [(2001, 1908.2, "first"), (2001, 1954.17, "unknown"), (2002, 2256.83, "unknown"),
                    (2003, 2860.51, "first")])
    so = direct_obs(h, "gdp_nominal", "first")
    # three runs of one level each: only the latest level is used, no step is growth
    assert [(o.kind, o.year) for o in so.obs] == [("level", 2003)]
    assert ("gdp_nominal: level step 2001→2002 not read as growth: vintages 'first' and "
            "'unknown' differ (a year holds both with different values)") in so.notes
    assert ("gdp_nominal: level step 2002→2003 not read as growth: vintages 'unknown' and "
            "'first' differ (a year holds both with different values)") in so.notes


def test_agreeing_vintages_within_rounding_are_one_run(tmp_path):
    # the tertiary share of 2014: 57.3 (plan draft, first) and 57.39 (panel, unknown)
    h = history_of(tmp_path, "tertiary_share",
                   [(2013, 56.54, "unknown"), (2014, 57.3, "first"), (2014, 57.39, "unknown"),
                    (2015, 58.8, "first")])
    so = direct_obs(h, "tertiary_share", "first")
    assert sorted((o.kind, o.year) for o in so.obs) == [("level", 2013), ("level", 2014),
                                                        ("level", 2015)]


def test_first_and_revised_are_never_joined(tmp_path):
    h = history_of(tmp_path, "population_resident",
                   [(2009, 995.01, "first"), (2010, 1037.2, "first"), (2011, 1122.94, "revised"),
                    (2012, 1195.85, "revised")])
    so = direct_obs(h, "population_resident", "revised")
    assert sorted((o.kind, o.year) for o in so.obs) == [("change", 2010), ("level", 2011),
                                                        ("level", 2012)]
    assert ("population_resident: level step 2010→2011 not read as growth: vintages 'first' and "
            "'revised' are different publications") in so.notes
