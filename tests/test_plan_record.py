"""The plan records (data, loader, information rule) and the plan-record model (recovery of known
parameters from synthetic records, pooling, draws)."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import paths
from sim.errors import ProblemList, SimError
from sim.plan_record import (OutcomeModel, PlanRecord, PlanRecordModel, SplitOutcomeModel,
                             VerdictModel, known_by, load_plan_records, records_frame)
from sim.plan_record import verdict as vmod
from sim.plan_record.records import COLUMNS, PLAN_RECORDS
from sim.vocabulary import FAMILIES


@pytest.fixture(scope="module")
def records():
    return load_plan_records()


def rec(family: str, met: str = "unknown", r: float | None = None, binding: str = "binding",
        end: int = 2010, **kw) -> PlanRecord:
    """A synthetic record: a % reduction target of 10 with progress ratio ``r``."""
    fields = dict(jurisdiction="X", level="province", plan="synthetic", indicator="i",
                  indicator_en="", family=family, binding=binding, period_start=end - 4,
                  period_end=end, base_value=None, target_value=10.0 if r is not None else None,
                  target_text="", actual_value=10.0 * r if r is not None else None,
                  unit="% reduction", direction="higher", met=met, flags=(), assessment_text="",
                  source="synthetic", source_url="", source_quote="q")
    fields.update(kw)
    return PlanRecord(**fields)


# --- the shipped file (counts as calibration/data/SOURCES.md "Plan records" states them) -----

def test_shipped_records_load_with_the_documented_counts(records):
    every = records_frame(records)
    assert every["file"].value_counts().to_dict() == {"plan_records.csv": 308, "city_plans.csv": 61}
    df = every[every["file"] == "plan_records.csv"]
    records = [r for r, f in zip(records, every["file"]) if f == "plan_records.csv"]
    assert len(df) == 308
    assert df["family"].value_counts().to_dict() == {
        "energy_intensity": 202, "social": 22, "structure_share": 20, "economic_growth": 19,
        "pollutant_reduction": 18, "environment_quality": 14, "other": 10, "carbon_intensity": 2,
        "population_control": 1}
    assert df["level"].value_counts().to_dict() == {"province": 215, "nation": 56, "city": 37}
    assert df["binding"].value_counts().to_dict() == {"binding": 223, "unknown": 48, "indicative": 37}
    assert df["met"].value_counts().to_dict() == {"yes": 227, "unknown": 39, "no": 32, "partly": 10}
    assert set(df["family"]) <= set(FAMILIES)
    assert sum(r.verdict is not None for r in records) == 269
    assert sum(r.outcome_usable for r in records) == 63
    assert all(r.source and r.source_quote for r in records)


def test_shenzhen_12th_fyp_rows_are_the_seed_table(records):
    """专栏1 of seed 003: 32 rows, quotes verbatim, 31 met and one partly met (tertiary share)."""
    seed = (paths.SEEDS_DIR / "003_f03a317643cd5a3e.txt").read_text(encoding="utf-8")
    sz = [r for r in records if r.jurisdiction == "深圳" and r.plan == "12th FYP"
          and r.source.startswith("calibration/seeds/003")]
    assert len(sz) == 32
    assert all(r.source_quote in seed for r in sz)
    assert sorted(r.met for r in sz) == ["partly"] + ["yes"] * 31
    by = {r.indicator: r for r in sz}
    energy = by["万元GDP能耗累计下降"]
    assert (energy.target_value, energy.actual_value, energy.unit, energy.binding) == (
        19.5, 19.5, "% reduction", "binding")
    assert energy.progress_ratio == 1.0 and energy.outcome_usable
    tertiary = by["第三产业增加值占GDP比重"]
    assert (tertiary.target_value, tertiary.actual_value, tertiary.met) == (60, 58.8, "partly")


def test_flags_keep_doubtful_numbers_out_of_the_outcome_model(records):
    conflict = [r for r in records if "conflict" in r.flags]
    assert {r.jurisdiction for r in conflict} == {"山西", "内蒙古"}
    assert all(r.verdict is True and not r.outcome_usable for r in conflict)
    cpi = next(r for r in records if r.indicator == "居民消费价格")
    assert cpi.progress_ratio == pytest.approx(0.7) and cpi.improves is False   # a limit target
    assert not cpi.outcome_usable


def test_as_of_keeps_records_known_by_then(records):
    at2015 = load_plan_records(as_of=2015)
    assert known_by(records, 2015) == at2015 == tuple(r for r in records if r.known_at(2015))
    assert 150 < len(at2015) < len(records) and max(r.period_end for r in at2015) <= 2015
    # without a stated publication, a period ending in 2015 is published (by default) in 2016,
    # a bare year, so after the information date of 2015 (30 June 2016): not known
    assert not any(r.period_end == 2015 and not r.published_stated for r in at2015)
    with pytest.raises(SimError, match="as_of"):
        load_plan_records(as_of=3000)


def test_information_date_of_a_record():
    """as_of Y = what was published by 30 June Y+1; a bare year counts as its December."""
    default = rec("social", end=2015)                  # published: 2016 by default
    assert default.published_year == 2016 and not default.published_stated
    assert not default.known_at(2015) and default.known_at(2016)
    march = rec("social", end=2015, published=2016, published_month=3, published_source="s")
    assert march.known_at(2015) and not march.known_at(2014)      # period ends after 2014
    july = rec("social", end=2015, published=2016, published_month=7, published_source="s")
    assert not july.known_at(2015) and july.known_at(2016)
    same_year = rec("social", end=2015, published=2015, published_source="s")
    assert same_year.known_at(2015)
    late = rec("social", end=2010, published=2013, published_source="s")
    assert not late.known_at(2011) and late.known_at(2013)


def test_records_published_after_the_origin_do_not_move_the_fit(records):
    """(b) at model level: every record unknown at 2011 changed (verdict flipped, outcome
    halved) leaves the fit at 2011 identical; a known one changed moves it (can fail)."""
    def changed(r):
        return dataclasses.replace(r, met={"yes": "no", "no": "yes"}.get(r.met, r.met),
                       actual_value=None if r.actual_value is None else r.actual_value * 0.5)

    late = [changed(r) if not r.known_at(2011) else r for r in records]
    assert sum(r.period_end <= 2011 and not r.known_at(2011) for r in records) >= 30
    a, b = PlanRecordModel.fit(records, 2011), PlanRecordModel.fit(late, 2011)
    assert (a.verdict, a.outcome, a.split) == (b.verdict, b.outcome, b.split)
    early = [changed(r) if r.known_at(2011) else r for r in records]
    assert VerdictModel.fit(early, 2011) != a.verdict


# --- loader errors ------------------------------------------------------------------------------

def _write(tmp_path: Path, rows: list[dict], columns=COLUMNS, name: str = "records.csv") -> Path:
    p = tmp_path / name
    with open(p, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return p


def _row(**kw) -> dict:
    row = dict.fromkeys(COLUMNS, "")
    row.update(jurisdiction="深圳", level="city", plan="12th FYP", indicator="本市生产总值",
               family="economic_growth", binding="indicative", period_start="2011",
               period_end="2015", target_value="15000", actual_value="17500", unit="亿元",
               direction="higher", met="yes", source="seed", source_quote="15000")
    row.update(kw)
    return row


def test_published_columns_and_every_file_of_a_folder(tmp_path):
    """The optional published/published_source columns, checked; a folder's *.csv all read."""
    cols = COLUMNS + ("published", "published_source")
    rows = [_row(published="2016-03", published_source="work report 2016"),
            _row(published="", published_source=""),
            _row(published="2016-13", published_source="x"),
            _row(published="2009", published_source="x"),
            _row(published="2016", published_source="")]
    p = _write(tmp_path, rows, cols)
    with pytest.raises(ProblemList) as exc:
        load_plan_records(p)
    assert [str(x) for x in exc.value.problems] == [f"{p}: {m}" for m in [
        "line 4: published is not a year or a month (expected YYYY or YYYY-MM, got '2016-13')",
        "line 5: published 2009 is before period_start 2011 (expected the year the outcome "
        "was made public)",
        "line 6: published_source is empty but published is given (where the date is read)"]]
    folder = tmp_path / "dir"
    folder.mkdir()
    _write(folder, rows[:2], cols, "a.csv")
    _write(folder, [_row(plan="other")], COLUMNS, "b.csv")
    got = load_plan_records(folder)
    assert [(r.file, r.line, r.published, r.published_month) for r in got] == [
        ("a.csv", 2, 2016, 3), ("a.csv", 3, None, None), ("b.csv", 2, None, None)]
    assert [r.known_at(2015) for r in got] == [True, False, False]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SimError, match="no plan-records file"):
        load_plan_records(empty)


def test_good_fixture_loads(tmp_path):
    (r,) = load_plan_records(_write(tmp_path, [_row()]))
    assert (r.target_value, r.actual_value, r.period_end, r.flags, r.line) == (15000, 17500, 2015, (), 2)
    assert r.progress_ratio is None and r.verdict is True   # a level without a base: no ratio


def test_loader_reports_every_problem_with_file_and_line(tmp_path):
    rows = [
        _row(),                                                   # line 2: fine
        _row(level="county", family="growth"),                    # line 3
        _row(binding="must", met="maybe", direction="up"),        # line 4
        _row(target_value="lots", base_value="inf"),              # line 5
        _row(period_start="2016"),                                # line 6: end before start
        _row(period_end="20x5", source=""),                       # line 7
        _row(unit="", flags="implied;guessed"),                   # line 8
        _row(direction=""),                                       # line 9
    ]
    p = _write(tmp_path, rows)
    with pytest.raises(ProblemList) as exc:
        load_plan_records(p)
    assert [str(x) for x in exc.value.problems] == [f"{p}: {m}" for m in [
        "line 3: unknown level 'county' (did you mean 'city'?) (expected one of city, province, nation)",
        "line 3: unknown family 'growth' (expected one of energy_intensity, carbon_intensity, "
        "pollutant_reduction, economic_growth, structure_share, population_control, social, "
        "environment_quality, other)",
        "line 4: unknown binding 'must' (expected one of binding, indicative, unknown)",
        "line 4: unknown met 'maybe' (expected one of yes, partly, no, unknown)",
        "line 4: unknown direction 'up' (expected one of higher, lower)",
        "line 5: base_value is not finite (got 'inf')",
        "line 5: target_value is not a number (got 'lots')",
        "line 6: period_end 2015 is before period_start 2016",
        "line 7: source is empty",
        "line 7: period_end is not a whole year (got '20x5')",
        "line 8: unknown flag 'guessed' (expected one of implied, preliminary, partial_period, "
        "conflict, number_unquoted, verdict_unquoted, definition_changed)",
        "line 8: unit is empty but a value is given",
        "line 9: direction is empty but target_value is given (higher or lower)",
    ]]


def test_loader_missing_column_and_file(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("jurisdiction,level,colour\n深圳,city,red\n", encoding="utf-8")
    with pytest.raises(ProblemList, match=r"line 1: missing column\(s\): plan, indicator.*; "
                                          r"unexpected column\(s\): colour"):
        load_plan_records(p)
    with pytest.raises(SimError, match="plan-records file not found"):
        load_plan_records(tmp_path / "nope.csv")


def test_the_bundled_file_is_apart_from_the_history_files():
    """The history loader reads every *.csv of calibration/data: the records live one level down."""
    assert PLAN_RECORDS.parent.parent == paths.DEFAULT_DATA_DIR
    assert not list(paths.DEFAULT_DATA_DIR.glob("plan_records*.csv"))


# --- the information rule -----------------------------------------------------------------------

def test_a_record_after_as_of_changes_nothing(records):
    late = [rec("structure_share", met="no", r=0.2, binding="indicative", end=2016),
            rec("population_control", met="no", r=0.5, end=2016),
            rec("energy_intensity", met="no", r=0.1, end=2020)]
    base = PlanRecordModel.fit(records, as_of=2015)
    more = PlanRecordModel.fit(list(records) + late, as_of=2015)
    pd.testing.assert_frame_equal(base.summary(), more.summary())
    assert base.verdict == more.verdict and base.outcome == more.outcome and base.split == more.split
    for family in FAMILIES:
        for binding in ("binding", "indicative", "unknown"):
            assert base.verdict.p_record(family, binding) == more.verdict.p_record(family, binding)
        assert base.outcome.predictive(family) == more.outcome.predictive(family)
        assert base.split.predictive(family) == more.split.predictive(family)
    # and the same fit from the records filtered by the loader
    assert PlanRecordModel.fit(load_plan_records(as_of=2015), 2015).verdict == base.verdict
    # while at a later as_of the late records count
    assert PlanRecordModel.fit(list(records) + late, as_of=2020).verdict != \
        PlanRecordModel.fit(records, as_of=2020).verdict


# --- verdict model: recovery and pooling ------------------------------------------------------

def _verdict_records(rng, thetas, n, binding="binding"):
    out = []
    for i, theta in enumerate(thetas):
        for _ in range(n):
            out.append(rec(f"f{i:02d}", met="yes" if rng.random() < theta else "no", binding=binding))
    return out


def test_verdict_model_recovers_the_family_distribution():
    rng = np.random.default_rng(11)
    thetas = rng.beta(8.0, 2.0, size=40)                    # μ = 0.8, κ = α + β = 10
    model = VerdictModel.fit(_verdict_records(rng, thetas, 30))
    mu, kappa = model.alpha / (model.alpha + model.beta), model.alpha + model.beta
    assert mu == pytest.approx(0.8, abs=0.03)
    assert 5.0 <= kappa <= 20.0
    post = np.array([model.p_record(f"f{i:02d}", "unknown").mean for i in range(40)])
    raw = np.array([model.families[f"f{i:02d}"][0] / 30 for i in range(40)])
    assert np.sqrt(np.mean((post - thetas) ** 2)) < np.sqrt(np.mean((raw - thetas) ** 2))
    cover = [p.lower <= t <= p.upper for t, p in
             zip(thetas, (model.p_record(f"f{i:02d}", "unknown") for i in range(40)))]
    assert np.mean(cover) >= 0.85


def test_small_families_shrink_to_the_pooled_rate():
    rng = np.random.default_rng(5)
    recs = _verdict_records(rng, [0.6, 0.7, 0.8, 0.9, 0.75], 40) + [rec("social", met="yes")] * 2
    model = VerdictModel.fit(recs)
    p = model.p_record("social", "unknown")
    assert model.pooled_rate < p.mean < 1.0 and p.thin and p.n_family == 2
    assert p.mean == pytest.approx((model.alpha + 2) / (model.alpha + model.beta + 2))
    empty = model.p_record("carbon_intensity", "unknown")              # no records: the pool
    assert empty.mean == pytest.approx(model.pooled_rate) and empty.n_family == 0 and empty.thin
    assert empty.upper - empty.lower > p.upper - p.lower
    with pytest.raises(SimError, match="unknown family 'growth'"):
        model.p_record("growth")


def test_how_much_to_pool_families_is_chosen_on_earlier_records_only():
    """The pooling rule is picked by a prequential test on the fit's own records: fitted on
    the records known before each information year, scored on the verdicts that became known
    then. Scored events of a backtest never enter; a single information year: the default."""
    # 2008: one family of 60 verdicts (48 met), three of one verdict each, none met; 2010: the
    # small families' later verdicts are met like everyone's. Partial pooling reads a spread
    # off the 0-of-1 families (P ≈ 0.3) and is punished for it: every family shares the pool.
    small = ("social", "structure_share", "pollutant_reduction")
    recs = ([rec("energy_intensity", met="yes", end=2008)] * 48
            + [rec("energy_intensity", met="no", end=2008)] * 12
            + [rec(f, met="no", end=2008) for f in small]
            + [rec(f, met="yes", end=2010) for f in small for _ in range(4)])
    model = VerdictModel.fit(recs)
    assert model.pooling == "pooled" and model.pooling_steps == 12
    assert model.pooling_losses[1] < model.pooling_losses[0]
    assert model.alpha + model.beta == pytest.approx(1.0e4)
    assert model.p_record("social", "unknown").mean == pytest.approx(model.pooled_rate, abs=2e-3)
    # families that really differ, seen in two periods: the spread is estimated
    rng = np.random.default_rng(3)
    early = _verdict_records(rng, [0.3, 0.6, 0.9], 30)
    late = [dataclasses.replace(r, period_end=2012, period_start=2008)
            for r in _verdict_records(rng, [0.3, 0.6, 0.9], 30)]
    estimated = VerdictModel.fit(early + late)
    assert estimated.pooling == "partial" and estimated.alpha + estimated.beta < 1.0e3
    assert estimated.p_record("f00", "unknown").mean < 0.5 < estimated.p_record("f02", "unknown").mean
    # at an as_of before the second period only the first is known: one year, the default
    assert VerdictModel.fit(early + late, 2011).pooling == "partial" == vmod.DEFAULT_POOLING
    assert VerdictModel.fit(early + late, 2011).pooling_losses is None
    partial_2008 = VerdictModel.fit(recs[:63], pooling="partial")     # the 2008 records
    assert partial_2008.p_record("social", "unknown").mean < 0.5      # what the choice avoided
    with pytest.raises(SimError, match="unknown pooling 'some'"):
        VerdictModel.fit(recs, pooling="some")


@pytest.mark.parametrize("theta_binding, theta_indicative, gap", [(0.95, 0.5, (0.3, 0.5)),
                                                                  (0.8, 0.8, (-0.06, 0.06))])
def test_binding_status_is_a_second_level(theta_binding, theta_indicative, gap):
    rng = np.random.default_rng(3)
    thetas = rng.beta(8.0, 2.0, size=12)
    recs = []
    for i, t in enumerate(thetas):
        shift_b, shift_i = theta_binding - 0.8, theta_indicative - 0.8
        for binding, shift in (("binding", shift_b), ("indicative", shift_i)):
            p = float(np.clip(t + shift, 0.01, 0.99))
            recs += [rec(f"f{i:02d}", met="yes" if rng.random() < p else "no", binding=binding)
                     for _ in range(40)]
    model = VerdictModel.fit(recs)
    diffs = [model.p_record(f"f{i:02d}", "binding").mean - model.p_record(f"f{i:02d}", "indicative").mean
             for i in range(12)]
    assert gap[0] <= np.mean(diffs) <= gap[1]


def test_verdict_draws_match_the_posterior_and_the_seed():
    rng = np.random.default_rng(2)
    recs = _verdict_records(rng, [0.6, 0.7, 0.8, 0.9], 25) + \
        _verdict_records(rng, [0.5, 0.95, 0.85, 0.7], 10, binding="indicative")
    model = VerdictModel.fit(recs)
    for family, binding in (("f01", "binding"), ("f02", "indicative"), ("f03", "unknown")):
        p = model.p_record(family, binding)
        d = model.draws(family, binding, 40000, np.random.default_rng(7))
        assert d.mean() == pytest.approx(p.mean, abs=0.005)
        assert np.mean((d >= p.lower) & (d <= p.upper)) == pytest.approx(0.95, abs=0.01)
        assert np.array_equal(d, model.draws(family, binding, 40000, np.random.default_rng(7)))


# --- outcome model: recovery ---------------------------------------------------------------------

def _outcome_records(rng, m, tau, nu0, s0, n_families, n):
    mus = rng.normal(m, tau, size=n_families)
    sig2 = nu0 * s0 ** 2 / rng.chisquare(nu0, size=n_families)
    recs = []
    for i in range(n_families):
        x = rng.normal(mus[i], np.sqrt(sig2[i]), size=n)
        recs += [rec(f"f{i:02d}", r=float(np.exp(v))) for v in x]
    return recs, mus


def test_outcome_model_recovers_mu_tau_sigma():
    # 60 families of 8: se(m̂) ≈ 0.027, tolerances about two standard errors
    rng = np.random.default_rng(2)
    recs, mus = _outcome_records(rng, m=0.1, tau=0.2, nu0=10.0, s0=0.15, n_families=60, n=8)
    model = OutcomeModel.fit(recs)
    assert model.m == pytest.approx(0.1, abs=0.05)
    assert model.tau == pytest.approx(0.2, abs=0.05)
    assert np.sqrt(model.s0sq) == pytest.approx(0.15, rel=0.15)
    assert 4.0 <= model.nu0 <= 40.0
    post = np.array([model.predictive(f"f{i:02d}").mu_mean for i in range(60)])
    raw = np.array([model.families[f"f{i:02d}"].mean for i in range(60)])
    assert np.sqrt(np.mean((post - mus) ** 2)) <= np.sqrt(np.mean((raw - mus) ** 2))
    new = model.predictive("social")                         # a family without records
    assert new.mu_mean == model.m and new.thin and new.n_family == 0
    assert new.sd == pytest.approx(np.sqrt(model.tau ** 2 + model.m_var + new.sigma2_mean))


def test_outcome_model_agrees_with_statsmodels_mixedlm_for_equal_variances():
    """With one σ for all families (ν0 → ∞), m and τ are the REML estimates of a random-intercept
    model."""
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(8)
    recs, _ = _outcome_records(rng, m=0.05, tau=0.3, nu0=1e6, s0=0.2, n_families=30, n=10)
    model = OutcomeModel.fit(recs)
    df = pd.DataFrame({"x": [np.log(r.progress_ratio) for r in recs], "g": [r.family for r in recs]})
    ref = smf.mixedlm("x ~ 1", df, groups=df["g"]).fit(reml=True)
    assert model.m == pytest.approx(float(ref.fe_params.iloc[0]), abs=0.01)
    assert model.tau == pytest.approx(float(np.sqrt(ref.cov_re.iloc[0, 0])), abs=0.02)
    assert np.sqrt(model.s0sq) == pytest.approx(float(np.sqrt(ref.scale)), rel=0.05)


def test_outcome_draws_match_the_predictive():
    rng = np.random.default_rng(4)
    recs, _ = _outcome_records(rng, m=0.2, tau=0.2, nu0=8.0, s0=0.2, n_families=10, n=6)
    p = OutcomeModel.fit(recs).predictive("f03")
    x = p.sample_log_ratio(200_000, np.random.default_rng(1))
    assert x.mean() == pytest.approx(p.mean, abs=0.01)
    assert x.std() == pytest.approx(p.sd, rel=0.03)
    assert np.array_equal(np.exp(x), p.sample_ratio(200_000, np.random.default_rng(1)))


def test_split_model_recovers_the_two_sides():
    """Overshoots HalfNormal(σ_f) with σ_f around 0.1, misses HalfNormal(0.4), 80 % on the met side."""
    rng = np.random.default_rng(9)
    sig_up = 0.1 * np.sqrt(8.0 / rng.chisquare(8.0, size=30))        # Scaled-Inv-χ²(8, 0.1²)
    recs = []
    for i in range(30):
        for _ in range(12):
            up = rng.random() < 0.8
            x = abs(rng.normal()) * (sig_up[i] if up else 0.4) * (1 if up else -1)
            recs.append(rec(f"f{i:02d}", met="yes" if up else "no", r=float(np.exp(x))))
    split = SplitOutcomeModel.fit(recs)
    assert np.sqrt(split.s_up2) == pytest.approx(0.1, rel=0.15)
    n_down, ss_down = split.down
    assert np.sqrt(ss_down / n_down) == pytest.approx(0.4, rel=0.1)
    post = np.array([np.sqrt(split.predictive(f"f{i:02d}").up_scale) for i in range(30)])
    raw = np.array([np.sqrt(split.up[f"f{i:02d}"][1] / split.up[f"f{i:02d}"][0]) for i in range(30)])
    assert np.sqrt(np.mean((post - sig_up) ** 2)) <= np.sqrt(np.mean((raw - sig_up) ** 2))
    x = split.predictive("f03").sample_log_ratio(0.8, 100_000, np.random.default_rng(1))
    assert np.mean(x >= 0) == pytest.approx(0.8, abs=0.005)
    model = PlanRecordModel.fit(recs)
    draws = model.log_ratio_draws("f03", "binding", 100_000, np.random.default_rng(2))
    assert np.mean(draws >= 0) == pytest.approx(model.verdict.p_record("f03", "binding").mean, abs=0.005)


def test_split_model_shows_the_bunching_the_normal_model_misses(records):
    """Energy intensity: most outcomes on or just past the target, a few large misses."""
    model = PlanRecordModel.fit(records, 2015)
    x = np.array([np.log(r.progress_ratio) for r in known_by(records, 2015)
                  if r.outcome_usable and r.family == "energy_intensity"])
    assert np.mean(x >= 0) > 0.75
    normal = model.outcome.predictive("energy_intensity")
    assert np.mean(normal.sample_log_ratio(50_000, np.random.default_rng(0)) >= 0) < 0.55
    split = model.log_ratio_draws("energy_intensity", "binding", 50_000, np.random.default_rng(0))
    assert np.mean(split >= 0) == pytest.approx(0.83, abs=0.02)


def test_fits_without_data_say_so():
    with pytest.raises(SimError, match="no plan records with a verdict known by 2000"):
        VerdictModel.fit([rec("social", met="yes", end=2010)], as_of=2000)
    with pytest.raises(SimError, match="no plan records with a usable outcome"):
        OutcomeModel.fit([rec("social", met="yes")])


# --- the shipped model --------------------------------------------------------------------------

def test_shipped_model_at_2015_and_2020(records):
    for as_of in (2015, 2020):
        model = PlanRecordModel.fit(records, as_of)
        summary = model.summary()
        assert set(summary["family"]) <= set(FAMILIES)
        assert (summary["lower"] <= summary["rate"]).all() and (summary["rate"] <= summary["upper"]).all()
        assert 0.75 <= model.verdict.pooled_rate <= 0.95
        energy = model.verdict.p_record("energy_intensity", "binding")
        known = known_by(records, as_of)
        assert not energy.thin and energy.n_family == sum(
            r.family == "energy_intensity" and r.verdict is not None for r in known) >= 100
        # outcomes bunch on the target; from 2016 the city assessments of city_plans.csv (Sichuan's
        # 21 cities, 11 with target and outcome) overshoot more: mean log ratio 0.00 at 2015, 0.09
        # at 2020 (without the city file -0.03 and -0.00)
        tolerance = 0.05 if as_of == 2015 else 0.15
        assert model.outcome.predictive("energy_intensity").mean == pytest.approx(0.0, abs=tolerance)
        assert model.n_records == len(known)
    # the information rule in the counts: the 2018 national plan is not known in 2015
    assert PlanRecordModel.fit(records, 2015).n_records < PlanRecordModel.fit(records, 2020).n_records
    assert PlanRecordModel.fit(records, 2021).n_records == len(records)


def test_record_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec("social").met = "yes"  # type: ignore[misc]
