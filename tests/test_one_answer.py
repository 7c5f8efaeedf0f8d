"""One indicator, one answer (issue 21 item 5).

Targets of different plans that ask the same question — the same indicator, target year,
comparator, value and unit — are evaluated the same way: the same series mapping and the same
method. Their probabilities may still differ through the plan record (binding status enters the
verdict model), never through one being modelled and the other not.
"""

from __future__ import annotations

import csv
import re

import pytest

from sim.paths import TARGET_CATALOGUE

# Pairs of the shipped 2020 run that ask one question, with the method each must get. Fortune 500
# firms: a two-sided range on a series with two equal points (2014, 2015): the trend is thin, so
# the record decides both rows (before, one row was trend only with P ~ 0 and the other record only
# with P ~ 0.9). Disposable income: a level with a quoted base and a yearly series: both combine.
# Doctors per 1,000: one observation by 2015 (2010), no trend: the record decides both.
PAIRS_2020 = {
    ("fortune500_firms_2020_fyp13", "fortune500_firms_2020_qdp"): "record only",
    ("disposable_income_2020_fyp13", "disposable_income_2020_qdp"): "trend+record",
    ("doctors_per1000_2020_fyp13", "doctors_per1000_2020_qdp"): "record only",
}


def _question(row: dict[str, str]) -> tuple[str, ...]:
    """What a target asks, independent of the plan that states it."""
    indicator = re.sub(r"[^a-z0-9]", "", row["indicator_en"].lower())
    return (row["target_year"], indicator, row["comparator"], row["value"], row["value_high"],
            row["unit"])


def test_the_same_question_in_two_plans_maps_to_the_same_series():
    with open(TARGET_CATALOGUE, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    by_question: dict[tuple[str, ...], list[dict[str, str]]] = {}
    for row in rows:
        by_question.setdefault(_question(row), []).append(row)
    mismatched = {tuple(r["id"] for r in group): sorted({r["series"] for r in group})
                  for group in by_question.values()
                  if len(group) > 1 and len({r["series"] for r in group}) > 1}
    assert mismatched == {}
    listed = {frozenset(pair) for pair in PAIRS_2020}
    grouped = {frozenset(r["id"] for r in g) for g in by_question.values() if len(g) > 1}
    assert listed <= grouped, "every listed pair asks one question in the catalogue"


@pytest.mark.slow
def test_the_same_question_gets_the_same_method_in_the_shipped_run(run_cli, shipped, tmp_path):
    out = tmp_path / "run"
    code, _, err = run_cli("run", shipped["2020"], "--draws", "400", "--out", out, "--no-figures",
                           "--quiet")
    assert code == 0, err
    with open(out / "targets.csv", encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["scenario"] == "baseline"]
    method = {r["target_id"]: r["method"] for r in rows}
    got = {pair: (method[pair[0]], method[pair[1]]) for pair in PAIRS_2020}
    assert got == {pair: (m, m) for pair, m in PAIRS_2020.items()}
