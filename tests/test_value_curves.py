"""The target value met with P 0.5/0.8/0.9 and the curve of P(met) over target values
(issue 20 item 1): exact order statistics on injected draws, the root of the combined P(met | v)
through the run's own record path, two-sided and record-only rows, chunk invariance, the
tables, and ``sim run`` end to end."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sim.evaluation import EvaluationAccumulator, compare, evaluate
from sim.evaluation.record import (PILOT_DRAWS, RECORD_ONLY, TREND_RECORD, RecordSetup,
                                   RowRecord, _trend_row, transform_of)
from sim.evaluation.value_met import (BISECT_STEPS, GRID_POINTS, NOTE_RECORD_ONLY,
                                      VALUE_MET_COLUMNS, allocation_range, value_met_from_draws)
from sim.output.value_met_cells import RECORD_ONLY_TEXT, value_met_text
from sim.targets import Target

AS_OF = 2015
BLANK = ("energy_intensity_cum_2020_fyp13", "cod_cum_2020_fyp13", "nh3n_cum_2020_fyp13",
         "so2_cum_2020_fyp13", "nox_cum_2020_fyp13")


# --- exact: the order statistic -------------------------------------------------------------

def share_met(x, comparator, v):
    return float(compare(np.asarray(x, float), comparator, v, None, None).mean())


@pytest.mark.parametrize("comparator, expected", [
    ("<=", {0.5: 5.0, 0.8: 8.0, 0.9: 9.0}),     # at most v: the k-th smallest, k = ceil(p n)
    (">=", {0.5: 6.0, 0.8: 3.0, 0.9: 2.0}),     # at least v: the k-th largest
])
def test_value_met_is_the_most_demanding_value_met_in_p_of_the_draws(comparator, expected):
    x = np.random.default_rng(1).permutation(np.arange(1.0, 11.0))
    for p, v in expected.items():
        got = value_met_from_draws(x, comparator, p)
        assert got == v
        assert share_met(x, comparator, got) >= p
        harder = got - 1e-9 if comparator == "<=" else got + 1e-9
        assert share_met(x, comparator, harder) < p


def test_ties_count_as_met_and_the_value_is_a_draw():
    x = np.array([1, 2, 2, 2, 2, 3, 4, 5, 6, 7], float)
    assert value_met_from_draws(x, "<=", 0.2) == 2.0      # P(x <= 2) = 0.5, P(x < 2) = 0.1
    assert value_met_from_draws(x, ">=", 0.9) == 2.0      # P(x >= 2) = 0.9
    assert value_met_from_draws(x, ">=", 0.95) == 1.0
    assert value_met_from_draws(np.full(7, 3.0), "<=", 0.9) == 3.0


@pytest.mark.parametrize("x", [np.full(5, np.nan), np.array([1.0, np.nan, 2.0]), np.array([])])
def test_no_finite_draws_no_value(x):
    assert math.isnan(value_met_from_draws(x, "<=", 0.5))


def test_two_sided_comparators_have_no_single_value():
    x = np.arange(10.0)
    for comp in ("approx", "range", "=="):
        assert math.isnan(value_met_from_draws(x, comp, 0.5))


# --- through the evaluator: kinds, directions, blank targets ---------------------------------

def make_ds(n=2000, seed=0, scenarios=("baseline", "alt"), shift=(0.0, -0.1)):
    """GDP (level), energy intensity (falls) and a share in % for 2015–2017, (S, N, 3)."""
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(n, 3, 2))
    years = np.array([2015, 2016, 2017])
    ds = xr.Dataset(coords={"scenario": list(scenarios), "draw": np.arange(n), "year": years})
    for name, start, mu, sd in (("gdp_nominal", 100.0, 0.05, 0.05),
                                ("energy_intensity", 0.5, -0.04, 0.03),
                                ("green_coverage", 40.0, 0.01, 0.02)):
        k = ["gdp_nominal", "energy_intensity", "green_coverage"].index(name)
        vals = np.empty((len(scenarios), n, 3))
        for s, sh in enumerate(shift):
            steps = mu + sd * e[:, k, :] + sh / 2
            vals[s, :, 0] = start
            vals[s, :, 1:] = start * np.exp(np.cumsum(steps, axis=1))
        ds[name] = xr.DataArray(vals, dims=("scenario", "draw", "year"))
    ds.attrs["as_of"] = AS_OF
    return ds


def target(**kw):
    row = dict(id="gdp", target_set="s", series="gdp_nominal", indicator_en="GDP",
               indicator_zh="GDP", target_year=2017, kind="level", comparator=">=", value=110.0,
               value_high=None, tolerance=None, unit="亿元", base_year=None, period_start=None,
               period_end=None, binding="binding", family="economic_growth", base_value=100.0,
               approx_sense="")
    row.update(kw)
    return row


CATALOGUE = [
    target(),
    target(id="ei_blank", series="energy_intensity", kind="cumulative_change", comparator="<=",
           value=None, unit="%", base_year=2015, base_value=None, family="energy_intensity"),
    target(id="green", series="green_coverage", kind="share", comparator=">=", value=41.0,
           unit="%", base_value=40.0, family="environment_quality"),
    target(id="gdp_about", comparator="approx", approx_sense="both", value=111.0),
    target(id="gdp_range", comparator="range", value=105.0, value_high=115.0),
    target(id="gdp_about_more", comparator="approx", approx_sense="higher", value=111.0,
           tolerance=0.05),
]


def indicator_draws(ds, tid, scen):
    t = Target.from_row(next(r for r in CATALOGUE if r["id"] == tid))
    from sim.evaluation.indicator import indicator_for
    return indicator_for(ds, t).values[list(ds["scenario"].values).index(scen)]


def test_trend_only_value_met_are_the_quantiles_for_each_kind_and_direction():
    ds = make_ds()
    table = evaluate(ds, CATALOGUE).table.set_index(["scenario", "target_id"])
    for scen in ("baseline", "alt"):
        for tid, comp in (("gdp", ">="), ("ei_blank", "<="), ("green", ">=")):
            x = indicator_draws(ds, tid, scen)
            row = table.loc[(scen, tid)]
            for col, p in zip(VALUE_MET_COLUMNS, (0.5, 0.8, 0.9)):
                expect = np.quantile(-x, p, method="inverted_cdf") * -1 if comp == ">=" \
                    else np.quantile(x, p, method="inverted_cdf")
                assert row[col] == expect, (scen, tid, col)
            assert row["value_met_note"].startswith("quantile of the draws")
    # the blank target stays not evaluable: only the new columns are filled
    assert table.loc[("baseline", "ei_blank"), "status"] == "not evaluable"
    assert table.loc[("alt", "ei_blank"), "value_met_p80"] < table.loc[
        ("baseline", "ei_blank"), "value_met_p80"]     # the alternative falls faster


def test_filling_a_blank_with_its_value_met_gives_that_probability():
    ds = make_ds()
    first = evaluate(ds, CATALOGUE).table.set_index(["scenario", "target_id"])
    n = ds.sizes["draw"]
    for col, p in zip(VALUE_MET_COLUMNS, (0.5, 0.8, 0.9)):
        v = first.loc[("baseline", "ei_blank"), col]
        again = evaluate(ds, CATALOGUE, {"baseline": {"ei_blank": v}}).table
        prob = again.set_index(["scenario", "target_id"]).loc[("baseline", "ei_blank"),
                                                               "probability"]
        assert p <= prob < p + 1.5 / n      # continuous draws: one draw above p at most


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_blank_target_whose_draws_broke_down_gets_no_value_and_says_why(bad):
    ds = make_ds(n=50)
    ds["energy_intensity"][:, 7, 2] = bad       # one draw of the target year, both scenarios
    table = evaluate(ds, CATALOGUE).table.set_index(["scenario", "target_id"])
    row = table.loc[("baseline", "ei_blank")]
    assert all(math.isnan(row[c]) for c in VALUE_MET_COLUMNS)
    assert row["value_met_note"] == "the indicator is not a finite number in every draw"
    assert not math.isnan(table.loc[("baseline", "gdp"), "value_met_p50"])   # others unaffected


def test_an_approx_target_with_a_side_is_one_sided_within_its_tolerance():
    """≈ 111 (more is better, 5 %): met at x >= 0.95 v. The value met with P = p is found on
    the grid; filling it in gives P >= p, and a value more demanding by the bisection's
    resolution gives less (the same draws, the run's own comparison)."""
    ds = make_ds()
    ev = evaluate(ds, CATALOGUE)
    row = ev.table.set_index(["scenario", "target_id"]).loc[("baseline", "gdp_about_more")]
    assert row["value_met_note"].startswith("root of P(met | v), v on a grid")
    x = indicator_draws(ds, "gdp", "baseline")
    curve = ev.curves[(ev.curves.target_id == "gdp_about_more") & (ev.curves.scenario == "baseline")]
    step = float(np.diff(curve["value"]).max())
    for col, p in zip(VALUE_MET_COLUMNS, (0.5, 0.8, 0.9)):
        v = row[col]
        assert compare(x, "approx", v, None, 0.05, "higher").mean() >= p
        harder = v + step / 2 ** BISECT_STEPS
        assert compare(x, "approx", harder, None, 0.05, "higher").mean() < p
        # about the order statistic divided by (1 - tol)
        assert v == pytest.approx(value_met_from_draws(x, ">=", p) / 0.95, rel=1e-3)


def test_two_sided_targets_get_the_curve_only():
    ev = evaluate(make_ds(), CATALOGUE)
    table = ev.table.set_index(["scenario", "target_id"])
    for tid, comp in (("gdp_about", "approx"), ("gdp_range", "range")):
        row = table.loc[("baseline", tid)]
        assert all(math.isnan(row[c]) for c in VALUE_MET_COLUMNS)
        assert row["value_met_note"].startswith(f"two-sided target ({comp})")
        curve = ev.curves[(ev.curves.target_id == tid) & (ev.curves.scenario == "baseline")]
        assert len(curve) == GRID_POINTS + 1 and curve["probability"].between(0, 1).all()
        assert curve["probability"].max() > 0.3       # an actual curve, not zeros


def test_curves_and_value_met_do_not_depend_on_chunks_or_merge_order():
    ds = make_ds(n=1500)
    one = evaluate(ds, CATALOGUE)
    parts = []
    for a, b in ((1000, 1500), (0, 600), (600, 1000)):
        acc = EvaluationAccumulator(CATALOGUE, ["baseline", "alt"])
        acc.add(ds.isel(draw=slice(a, b)), first_draw=a)
        parts.append(acc)
    total = parts[0].merge(parts[1]).merge(parts[2])
    chunked = total.result()
    cols = list(VALUE_MET_COLUMNS) + ["value_met_note"]
    pd.testing.assert_frame_equal(one.table[cols], chunked.table[cols])
    pd.testing.assert_frame_equal(one.curves, chunked.curves)


# --- the record combined: roots of P(met | v) --------------------------------------------------

class NormalLogRatio:
    """A synthetic plan-record model: ln r ~ N(mu, sd); verdicts met with probability theta."""

    def __init__(self, mu=0.3, sd=0.15, theta=0.7):
        self.mu, self.sd, self.theta = mu, sd, theta

    def log_ratio(self, n, rng):
        return rng.normal(self.mu, self.sd, n)

    def met(self, n, rng):
        return rng.random(n) < self.theta


def synthetic_setup(ds, catalogue, values, ids, record=None):
    """A RecordSetup built as :func:`build_record_setup` does (``_trend_row`` on the pilot of
    draws 0 .. PILOT_DRAWS-1), with the synthetic record model for every target in ``ids``."""
    from sim.evaluation.indicator import indicator_for
    setup = RecordSetup(11, {}, {tid: record or NormalLogRatio() for tid in ids})
    rows = {}
    for r in catalogue:
        if r["id"] not in ids:
            continue
        t = Target.from_row(r)
        pilot = indicator_for(ds.isel(draw=slice(0, PILOT_DRAWS)), t).values
        for s, scen in enumerate(ds["scenario"].values):
            v = values.get((str(scen), t.id), t.value)
            if pilot is None:
                rows[(str(scen), t.id)] = RowRecord(RECORD_ONLY, "no series")
            elif v is not None:
                base = 0.0 if t.kind == "cumulative_change" else t.base_value
                rows[(str(scen), t.id)] = _trend_row(setup, t, float(v), base, "",
                                                     transform_of(t), pilot[s])
    return RecordSetup(11, {}, setup.samplers, rows)


def evaluate_with_record(ds, catalogue, values, ids, record=None):
    tv: dict = {}
    for (scen, tid), v in values.items():
        tv.setdefault(scen, {})[tid] = v
    setup = synthetic_setup(ds, catalogue, values, ids, record)
    return evaluate(ds, catalogue, tv, record=setup)


def test_combined_value_met_is_the_root_of_the_run_s_own_p_met():
    """P(met | v) of a trend+record row changes with v through the record; the value returned
    for P = 0.8 is where the run itself, re-evaluated with that value, reports P >= 0.8, and
    a value more demanding by the bisection's resolution (grid step / 2^BISECT_STEPS) reports
    less than 0.8. Tolerance of the run's P at the value: 0.8 <= P < 0.8 + 5/n (the bisection
    stops within a few draws' jumps of the crossing)."""
    ds = make_ds(n=6000)
    cat = [target(id="gdp", value=110.0),
           target(id="ei", series="energy_intensity", kind="cumulative_change", comparator="<=",
                  value=-7.0, unit="%", base_year=2015, base_value=None,
                  family="energy_intensity")]
    ids = ("gdp", "ei")
    ev = evaluate_with_record(ds, cat, {}, ids)
    table = ev.table.set_index(["scenario", "target_id"])
    n = ds.sizes["draw"]
    for tid in ids:
        row = table.loc[("baseline", tid)]
        assert row["method"] == TREND_RECORD
        assert row["value_met_note"].startswith("root of P(met | v)")
        # the curve at the plan's own value is the headline probability, exactly
        curve = ev.curves[(ev.curves.target_id == tid) & (ev.curves.scenario == "baseline")]
        at_value = curve[curve["value"] == row["value"]]
        assert at_value["probability"].iloc[0] == row["probability"]
        assert (curve["probability"] != curve["p_trend"]).any()       # the record matters
        step = float(np.diff(curve["value"]).mean())
        comp = cat[ids.index(tid)]["comparator"]
        for col, p in zip(VALUE_MET_COLUMNS, (0.5, 0.8, 0.9)):
            v = float(row[col])
            p_run = evaluate_with_record(ds, cat, {("baseline", tid): v}, ids).table.set_index(
                ["scenario", "target_id"]).loc[("baseline", tid), "probability"]
            assert p <= p_run < p + 5 / n, (tid, col, v, p_run)
            harder = v + step / 2 ** BISECT_STEPS * (1 if comp == ">=" else -1)
            p_harder = evaluate_with_record(ds, cat, {("baseline", tid): harder}, ids
                                            ).table.set_index(["scenario", "target_id"]).loc[
                ("baseline", tid), "probability"]
            assert p_harder < p, (tid, col)
            # not the trend's quantile: the record moved it
            x = indicator_draws(ds, "gdp", "baseline") if tid == "gdp" else None
            if x is not None:
                assert v != value_met_from_draws(x, comp, p)


def test_a_probability_reached_only_where_the_record_stops_applying_says_so():
    """ln r ~ N(0, 0.15): the record alone meets a target half the time, so with the record
    P(met | v) stays below 0.9 for every v above the base; at the base the run's method is
    trend only (the target equals its base) and P jumps: the value is the base, with why."""
    ds = make_ds(n=PILOT_DRAWS)
    cat = [target(id="gdp", value=110.0)]
    ev = evaluate_with_record(ds, cat, {}, ("gdp",), NormalLogRatio(mu=0.0))
    row = ev.table.set_index(["scenario", "target_id"]).loc[("baseline", "gdp")]
    assert row["value_met_p90"] == 100.0
    assert "p90: reached only at the base value 100" in row["value_met_note"]
    p_base = evaluate_with_record(ds, cat, {("baseline", "gdp"): 100.0}, ("gdp",),
                                  NormalLogRatio(mu=0.0)).table
    assert p_base.set_index(["scenario", "target_id"]).loc[("baseline", "gdp"),
                                                           "probability"] >= 0.9


def test_record_only_rows_say_their_p_does_not_depend_on_the_value():
    ds = make_ds(n=PILOT_DRAWS)
    cat = [target(), target(id="rec", series="", family="social", value=50.0)]
    ev = evaluate_with_record(ds, cat, {}, ("gdp", "rec"))
    row = ev.table.set_index(["scenario", "target_id"]).loc[("baseline", "rec")]
    assert row["method"] == RECORD_ONLY
    assert all(math.isnan(row[c]) for c in VALUE_MET_COLUMNS)
    assert row["value_met_note"] == NOTE_RECORD_ONLY
    assert value_met_text(row.to_dict()) == RECORD_ONLY_TEXT
    assert "does not depend on the value" in RECORD_ONLY_TEXT
    assert "rec" not in set(ev.curves["target_id"])


def test_cells_show_the_comparator_and_the_probability():
    r = {"comparator": "<=", "value_met_p50": -21.8, "value_met_p80": -11.56,
         "value_met_p90": float("nan"), "value_met_note": "root of ..."}
    assert value_met_text(r) == "≤ −21.8 (50%) · ≤ −11.56 (80%) · – (90%)"


def test_allocation_range_is_the_family_s_five_year_reductions_known_by_as_of():
    t = Target.from_row(target(id="ei", series="energy_intensity", kind="cumulative_change",
                               comparator="<=", value=None, unit="%", base_year=2015,
                               family="energy_intensity"))
    lo, hi = allocation_range(t, 2015)
    assert (lo, hi) == (-25.0, -10.0)   # 11th FYP Shanxi/Inner Mongolia 25 %; 12th FYP Hainan … 10 %
    assert allocation_range(t, 2005) is None    # nothing known before the 11th FYP ended
    level = Target.from_row(target())
    assert allocation_range(level, 2015) is None


# --- sim run end to end -----------------------------------------------------------------------

@pytest.mark.slow
def test_sim_run_answers_the_five_blank_binding_targets(run_cli, shipped, tmp_path):
    out = tmp_path / "run"
    code, _, err = run_cli("run", shipped["2020"], "--draws", "1000", "--out", out, "--quiet")
    assert code == 0, err
    table = pd.read_csv(out / "targets.csv")
    blank = table[table["target_id"].isin(BLANK)]
    assert len(blank) == 5 * table["scenario"].nunique()
    assert blank[list(VALUE_MET_COLUMNS)].notna().all().all()
    assert (blank["status"] == "not evaluable").all()       # still no probability of its own
    # a reduction target: more certain = a smaller reduction (a larger cumulative change)
    assert (blank["value_met_p50"] <= blank["value_met_p80"]).all()
    assert (blank["value_met_p80"] <= blank["value_met_p90"]).all()
    curves = pd.read_csv(out / "value_curves.csv")
    assert set(BLANK) <= set(curves["target_id"])
    for tid in BLANK:
        assert (out / "figures" / f"value_curve_{tid}.png").stat().st_size > 10_000
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "the plan leaves this value to the province; here is what each value would mean" \
        in page.lower()
    assert "规划将此目标值留给省里确定" in page
    plan = pd.read_csv(out / "targets_table.csv")
    assert plan.loc[plan["target_id"].isin(BLANK), "value_met"].str.contains("≤").all()
    # `sim report` rebuilds the page from the run's own files: the curves are kept
    code, _, err = run_cli("report", out, "--no-figures", "--quiet")
    assert code == 0, err
    pd.testing.assert_frame_equal(pd.read_csv(out / "value_curves.csv"), curves)
    assert "规划将此目标值留给省里确定" in (out / "report.html").read_text(encoding="utf-8")


# --- outputs: tables, figure, report section ------------------------------------------------

def test_tables_list_the_blank_targets_with_their_values_met(results_folder):
    """The synthetic run gives CO₂ intensity (blank in the plan) a scenario value: the tables,
    which list evaluated rows per scenario, also list it with its values met, in md, html and
    xlsx, and targets_table.csv has the columns."""
    from openpyxl import load_workbook

    from sim.output.value_met_cells import BLANK_HEAD, PLANNER_WORDS
    md = (results_folder / "targets.md").read_text(encoding="utf-8")
    assert f"## {BLANK_HEAD}" in md and "The plan leaves this value to the province" in md
    section = md.split(f"## {BLANK_HEAD}")[1]
    assert "二氧化碳" in section and "≤ −" in section
    html = (results_folder / "targets.html").read_text(encoding="utf-8")
    assert BLANK_HEAD in html and "规划将此目标值留给省里确定" in html
    assert PLANNER_WORDS.split(" · ")[1] in html
    wb = load_workbook(results_folder / "targets.xlsx", read_only=True)
    assert "留白目标值 Blank values" in wb.sheetnames
    plan = pd.read_csv(results_folder / "targets_table.csv")
    assert {"value_met_p50", "value_met_p80", "value_met_p90", "value_met"} <= set(plan.columns)
    co2 = plan[plan["target_id"] == "co2_intensity_cum_2020_fyp13"]
    assert co2["value_met_p80"].notna().all()


def test_figure_and_report_section_of_each_blank_target(make_dataset, tmp_path):
    from sim.evaluation import evaluate as evaluate_
    from sim.output.value_curves import (CURVES_FILE, blank_targets, value_section,
                                         write_value_figures)
    from sim.targets import targets_for_sets
    ds = make_dataset()
    tv = {s: {"co2_intensity_cum_2020_fyp13": -10.0} for s in ("baseline", "faster")}
    ev = evaluate_(ds, targets_for_sets(["fyp13_2020"]), tv)
    ev.curves.to_csv(tmp_path / CURVES_FILE, index=False)
    ids = blank_targets(ev.table, ev.curves)
    assert ids == ["co2_intensity_cum_2020_fyp13"]   # the only blank one the synthetic ds has
    records = write_value_figures(tmp_path, ev.table)
    assert [r["file"] for r in records] == ["figures/value_curve_co2_intensity_cum_2020_fyp13.png"]
    assert (tmp_path / records[0]["file"]).stat().st_size > 10_000
    page = value_section(tmp_path, ev.table, records)
    assert "here is what each value would mean" in page and "data:image/png;base64," in page
    assert "five-year targets of the same family" in page
    assert value_section(tmp_path / "nowhere", ev.table, records) == ""   # no curves: nothing


def test_a_damaged_curves_file_is_an_error_naming_it(tmp_path):
    from sim.errors import SimError
    from sim.output.value_curves import CURVES_FILE, read_curves
    (tmp_path / CURVES_FILE).write_text("scenario,target_id\nbaseline,x\n", encoding="utf-8")
    with pytest.raises(SimError, match=r"value_curves.csv: no column value, probability"):
        read_curves(tmp_path)
