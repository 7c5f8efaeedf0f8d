"""The plan-record data files themselves (calibration/data/plan_records/*.csv): one set of columns,
the vocabularies, a source and a quote on every row, a publication year on every row (issue 18
item 1) and, for the city file, numbers and verdicts that agree with their quotes.

Read with the csv module, not the loader, so that these checks hold whatever the loader does."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd
import pytest

from sim.paths import DEFAULT_DATA_DIR
from sim.plan_record.records import BINDINGS, COLUMNS, DIRECTIONS, FLAGS, LEVELS, MET
from sim.vocabulary import FAMILIES

FOLDER = DEFAULT_DATA_DIR / "plan_records"
PUBLISHED = ("published", "published_source")
ALL_COLUMNS = list(COLUMNS) + list(PUBLISHED)
CITY_FILE = FOLDER / "city_plans.csv"
#: Municipalities under the central government: coded ``province`` as in plan_records.csv.
MUNICIPALITIES = ("北京", "天津", "上海", "重庆")
DEFAULT_TEXT = "default: period_end + 1"


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def data_files() -> list[Path]:
    return sorted(FOLDER.glob("*.csv"))


def all_rows() -> list[tuple[str, int, dict[str, str]]]:
    """(file name, line, row) for every row of every file of the folder."""
    out = []
    for path in data_files():
        _, rows = read(path)
        out += [(path.name, i + 2, r) for i, r in enumerate(rows)]
    return out


def test_the_folder_holds_the_records_and_the_city_file():
    assert {p.name for p in data_files()} == {"plan_records.csv", "city_plans.csv"}


@pytest.mark.parametrize("path", data_files(), ids=lambda p: p.name)
def test_every_file_has_the_same_columns(path):
    header, rows = read(path)
    assert header == ALL_COLUMNS
    assert rows and all(None not in r and None not in r.values() for r in rows)


def test_pandas_reads_both_files_with_the_same_columns():
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in data_files()]
    assert all(list(f.columns) == ALL_COLUMNS for f in frames)
    both = pd.concat(frames, ignore_index=True)
    assert len(both) == sum(len(f) for f in frames)
    assert pd.to_numeric(both["published"]).notna().all()


def test_every_row_uses_the_vocabularies():
    bad = []
    for name, line, r in all_rows():
        if r["level"] not in LEVELS or r["family"] not in FAMILIES or r["met"] not in MET \
                or r["binding"] not in BINDINGS or (r["direction"] and r["direction"] not in DIRECTIONS):
            bad.append((name, line))
        flags = [f.strip() for f in r["flags"].split(";") if f.strip()]
        if any(f not in FLAGS for f in flags):
            bad.append((name, line, r["flags"]))
    assert bad == []


def test_every_row_has_a_source_and_a_short_quote():
    bad = [(name, line) for name, line, r in all_rows()
           if not r["source"].strip() or not r["source_quote"].strip()
           or len(r["source_quote"]) > 200]
    assert bad == []


def test_every_city_file_row_has_an_address():
    _, rows = read(CITY_FILE)
    assert all(r["source_url"].startswith("http") for r in rows)
    # one address per quoted passage
    assert all(r["source_url"].count(" || ") <= r["source_quote"].count(" || ") for r in rows)


def test_every_row_has_a_publication_year_no_earlier_than_its_period_end():
    bad = []
    for name, line, r in all_rows():
        text, why = r["published"], r["published_source"]
        if not text.isdigit():
            bad.append((name, line, "published not a year", text))
            continue
        year, end = int(text), int(r["period_end"])
        if year < end:
            bad.append((name, line, "published before period_end", year, end))
        if why.startswith(DEFAULT_TEXT):
            if year != end + 1:
                bad.append((name, line, "default is not period_end + 1", year, end))
        elif not why.startswith("stated in source: "):
            bad.append((name, line, "published_source neither stated nor default", why))
    assert bad == []


def test_rows_without_an_outcome_use_the_default_publication_year():
    for name, line, r in all_rows():
        if r["met"] == "unknown" and not r["actual_value"]:
            assert r["published_source"].startswith(DEFAULT_TEXT), (name, line)


def test_city_file_levels():
    _, rows = read(CITY_FILE)
    for r in rows:
        expected = "province" if r["jurisdiction"] in MUNICIPALITIES else "city"
        assert r["level"] == expected, r["jurisdiction"]
    assert sum(r["level"] == "city" for r in rows) >= 40


def test_city_file_numbers_appear_in_their_quotes():
    """A target or actual is quoted as printed unless the row says it is derived."""
    _, rows = read(CITY_FILE)
    missing = []
    for r in rows:
        flags = r["flags"].split(";")
        if "implied" in flags or "number_unquoted" in flags:
            continue
        for col in ("target_value", "actual_value"):
            if r[col] and r[col] not in r["source_quote"]:
                missing.append((r["jurisdiction"], r["indicator"], col, r[col]))
    assert missing == []


def test_city_file_verdicts_agree_with_their_numbers():
    """Where target and actual are both given, a `yes` meets the target in its direction and a
    `no` misses it."""
    _, rows = read(CITY_FILE)
    checked = 0
    for r in rows:
        if not (r["target_value"] and r["actual_value"]) or r["met"] not in ("yes", "no"):
            continue
        target, actual = float(r["target_value"]), float(r["actual_value"])
        assert math.isfinite(target) and math.isfinite(actual)
        meets = actual >= target if r["direction"] == "higher" else actual <= target
        assert meets == (r["met"] == "yes"), (r["jurisdiction"], r["indicator"])
        checked += 1
    assert checked >= 20


def test_city_file_adds_no_record_the_main_file_already_has():
    key = ("jurisdiction", "plan", "indicator", "period_end")
    _, main = read(FOLDER / "plan_records.csv")
    _, city = read(CITY_FILE)
    known = {tuple(r[k] for k in key) for r in main}
    city_keys = [tuple(r[k] for k in key) for r in city]
    assert len(set(city_keys)) == len(city_keys)
    assert known.isdisjoint(city_keys)


def test_existing_records_are_the_main_file_rows_with_two_columns_added():
    """The published columns are appended; the reference-derived counts are unchanged."""
    _, main = read(FOLDER / "plan_records.csv")
    assert len(main) == 308
    stated = sum(r["published_source"].startswith("stated in source: ") for r in main)
    assert stated == 211
