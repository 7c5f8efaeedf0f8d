"""The bundled history's provenance (issue 20 items 4 and 5): every row cites a source, secondary
compilations cite the original publication first, and the news-and-reports series are quoted,
measure catalogue targets and become trends only with two years of information."""

from __future__ import annotations

import csv
import re

import pytest

from sim import paths
from sim.paths import DEFAULT_DATA_DIR
from sim.targets import load_catalogue
from sim.vocabulary import SERIES

OBSERVATION_FILES = sorted(p for p in DEFAULT_DATA_DIR.glob("*.csv") if p.name != "breaks.csv")
REPORTS = DEFAULT_DATA_DIR / "reports_indicators.csv"
#: Series declared for reports_indicators.csv, and the targets each measures.
NEW_SERIES = {
    "doctors_per_1000": {"doctors_per1000_2020_fyp13", "doctors_per1000_2020_qdp",
                         "doctors_per10k_2015_ap"},
    "invention_patents_stock_per_10k": {"invention_patents_stock_per10k_2020_fyp13",
                                        "invention_patents_stock_per10k_2020_qdp"},
    "new_jobs": {"new_jobs_2016_2020_fyp13"},
    "national_hightech_firms": {"national_hightech_firms_2020_fyp13"},
    "container_throughput": {"container_throughput_2020_fyp13"},
    "airport_passengers": {"airport_passengers_2020_fyp13"},
    "university_students": {"university_students_2020_fyp13"},
}


def _rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_every_bundled_observation_cites_a_source():
    missing = [(p.name, i + 2) for p in OBSERVATION_FILES for i, r in enumerate(_rows(p))
               if not r["source"].strip()]
    assert OBSERVATION_FILES and missing == []


def test_secondary_compilations_cite_the_publication_first():
    """A repository path or an unattributed file is never the first thing a reader sees: the
    source starts with the original publication, or says it is a secondary compilation."""
    bad = []
    for p in OBSERVATION_FILES:
        for i, r in enumerate(_rows(p)):
            src = r["source"]
            if src.startswith(("github:", "GitHub public file")):
                bad.append((p.name, i + 2, src[:60]))
            elif "github:" in src and not (src.startswith("Secondary compilation")
                                          or re.search(r"copy: github:", src)):
                bad.append((p.name, i + 2, src[:60]))
    assert bad == []
    economy = {(r["series"], r["year"], r["vintage"]): r["source"]
               for r in _rows(DEFAULT_DATA_DIR / "economy.csv")}
    assert economy[("gdp_nominal", "2015", "revised")].startswith(
        "Secondary compilation of city GDP statistics")
    assert economy[("gdp_nominal", "2015", "unknown")].startswith(
        "National Bureau of Statistics, 主要城市年度数据")
    co2 = _rows(DEFAULT_DATA_DIR / "energy_carbon.csv")[0]["source"]
    assert co2.startswith("CEADs city CO2 inventory (Shan et al. 2022")


def test_reports_rows_are_quoted_and_measure_targets():
    rows = _rows(REPORTS)
    assert len(rows) == 22
    seeds = {p.name: p.read_text(encoding="utf-8") for p in paths.SEEDS_DIR.glob("*.txt")}
    for r in rows:
        assert r["source"] and r["note"].startswith("'"), (r["series"], r["year"])
        if r["source"].startswith("seed "):
            quote = r["note"].split("'")[1]
            assert quote in seeds[r["source"].split()[1]], (r["series"], r["year"])
    catalogue = load_catalogue()
    by_series = catalogue.groupby("series")["id"].apply(set).to_dict()
    assert {r["series"] for r in rows} <= set(by_series)          # each series measures a target
    for name, targets in NEW_SERIES.items():
        assert SERIES[name].role == "generic" and by_series[name] == targets, name
        assert any(r["series"] == name for r in rows), name


@pytest.mark.parametrize("series, fitted", [
    ("invention_patents_stock_per_10k", True),   # 2011 and 2014 levels
    ("hospital_beds_per_1000", True),            # 2010 and 2015 levels
    ("disposable_income", True),                 # 2015 level and its 2015 change
    ("doctors_per_1000", False),                 # 2010 only: one point is not a trend
    ("container_throughput", False),             # 2010 only by 2015
    ("university_students", False),             # 2007 only
    ("new_jobs", False),                         # nothing by 2015
])
def test_a_series_is_a_trend_only_with_two_years_of_information(fitted_real, series, fitted):
    fm = fitted_real(2015)
    assert (series in fm.drivers) is fitted
