"""Calibration (sim.calibrate.fit) and ``python -m sim calibrate``: as_of isolation, derived
observations, fallbacks, bad data, the command end to end on a synthetic fixture and on the
bundled data."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sim.calibrate.cache import load_or_calibrate
from sim.calibrate.correlation import shock_correlation
from sim.calibrate.fit import (CALIBRATION_MODULES, MAX_THETA_VAR, _cap_theta_variance,
                               calibrate, calibrator_id)
from sim.cli import main
from sim.errors import SimError
from sim.history import DECLARATION_FILES, History, load_history
from sim.model import FittedModel, fitted_filename
from sim.paths import DEFAULT_DATA_DIR, PACKAGE_DIR
from sim.vocabulary import CHANGE_DRIVERS, HOUSING_DRIVER

FIXTURE = Path(__file__).resolve().parent / "data" / "calibrate"
HAS_BUNDLED = any(DEFAULT_DATA_DIR.glob("*.csv"))
needs_bundled = pytest.mark.skipif(not HAS_BUNDLED, reason="bundled calibration/data not present")


def without_hash(fm: FittedModel) -> dict:
    d = json.loads(fm.to_json())
    d.pop("data_hash")
    return d


def copy_with(src: Path, dst: Path, edit) -> Path:
    """Copy every CSV of ``src`` to ``dst``, passing each data row through ``edit(row) -> row |
    None`` (None deletes it)."""
    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.csv")):
        if path.name in DECLARATION_FILES:             # declarations, not observations: as they are
            (dst / path.name).write_bytes(path.read_bytes())
            continue
        with open(path, encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        out = [rows[0]] + [r for r in (edit(dict(zip(rows[0], row))) for row in rows[1:]) if r]
        with open(dst / path.name, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            for r in out:
                w.writerow(r if isinstance(r, list) else [r[c] for c in rows[0]])
    return dst


@pytest.fixture(scope="module")
def fixture_history():
    return load_history(FIXTURE)


@pytest.fixture(scope="module")
def fitted_2014(fixture_history):
    return calibrate(fixture_history, 2014)


# --- as_of isolation ------------------------------------------------------------------------
def _perturb_after(as_of):
    counter = {"n": 0}

    def edit(row):
        if int(row["year"]) <= as_of:
            return row
        counter["n"] += 1
        if counter["n"] % 3 == 0:
            return None                                      # delete
        v = float(row["value"])
        row["value"] = repr(v * 0.5 if row["kind"] != "change_pct" else v - 3.0)   # change
        return row

    return edit


@pytest.mark.parametrize("as_of", [2008, 2011])
def test_as_of_isolation_on_fixture(tmp_path, fixture_history, as_of):
    base = calibrate(fixture_history, as_of)
    changed = load_history(copy_with(FIXTURE, tmp_path / "changed", _perturb_after(as_of)))
    dropped = load_history(copy_with(FIXTURE, tmp_path / "dropped",
                                     lambda r: r if int(r["year"]) <= as_of else None))
    assert changed.data_hash != fixture_history.data_hash
    assert without_hash(calibrate(changed, as_of)) == without_hash(base)
    assert without_hash(calibrate(dropped, as_of)) == without_hash(base)


@pytest.mark.slow
@needs_bundled
def test_as_of_isolation_on_bundled_data(tmp_path, fitted_real):
    as_of = 2015
    base = fitted_real(as_of)                       # the shipped history, calibrated once
    changed = load_history(copy_with(DEFAULT_DATA_DIR, tmp_path / "d", _perturb_after(as_of)))
    assert without_hash(calibrate(changed, as_of, base_years=base.base_years)) == without_hash(base)


# --- what is fitted and from what --------------------------------------------------------------
def test_every_driver_housing_and_generic_fitted(fitted_2014):
    fm = fitted_2014
    for name in ("gdp_real", "gdp_deflator", "population_resident", "usdcny", "energy_intensity",
                 "carbon_factor", "water_intensity", "cod_emissions", "so2_emissions",
                 "tertiary_share", HOUSING_DRIVER):
        assert name in fm.drivers, name
    assert fm.drivers["tertiary_share"].param("atanh_phi") == 0.0       # generic: phi fixed 0
    assert not fm.drivers["tertiary_share"].correlated
    assert fm.drivers["tertiary_share"].scale == "logit"
    assert fm.shock_names == tuple(n for n in CHANGE_DRIVERS if n in fm.drivers)
    for d in fm.drivers.values():
        if d.kind == "change":
            assert d.state_names[:3] == ("level", "mean", "ar")
            assert d.state_names[3:] == tuple(f"cum_from_{b}" for b in fm.base_years)
            assert np.all(np.linalg.eigvalsh(d.state_cov) > -1e-12)
            assert np.all(np.linalg.eigvalsh(d.param_cov) > -1e-12)
    assert not fm.drivers["gdp_real"].level_known          # only growth rates observed
    assert fm.drivers["population_resident"].level_known


def test_base_years_are_defaults_before_as_of_plus_anchor_years(fitted_2014):
    fm = fitted_2014
    assert {2005, 2010}.issubset(fm.base_years)
    assert all(b < 2014 for b in fm.base_years)
    for a in fm.anchors.values():
        assert a.year == 2014 or a.year in fm.base_years
    assert fm.anchors["gdp_per_capita"].year == 2012 and 2012 in fm.base_years


def test_derived_observations_are_recorded_with_inputs(fitted_2014):
    used = fitted_2014.observations_used
    defl = [r for r in used if r["driver"] == "gdp_deflator"]
    assert defl and all(r["derived"] for r in defl)
    assert {i["series"] for i in defl[0]["inputs"]} == {"gdp_nominal", "gdp_real"}
    cf = [r for r in used if r["driver"] == "carbon_factor" and r["kind"] == "cum"]
    assert [(r["base_year"], r["year"]) for r in cf] == [(2008, 2013)]
    assert {i["series"] for i in cf[0]["inputs"]} == {"co2_intensity", "energy_intensity"}
    # the value is computed from the two inputs, not invented
    ci, ei = (next(i["value"] for i in cf[0]["inputs"] if i["series"] == s)
              for s in ("co2_intensity", "energy_intensity"))
    assert cf[0]["model_value"] == pytest.approx(math.log1p(ci / 100) - math.log1p(ei / 100))
    # CO2-level windows covered by the official window are not used twice
    cf_annual = {r["year"] for r in used if r["driver"] == "carbon_factor" and r["kind"] == "change"}
    assert cf_annual == {2009, 2012}      # the years energy intensity changes are known


def test_deflator_is_nominal_minus_real_growth(fitted_2014):
    fm = fitted_2014
    rows = {r["year"]: r for r in fm.observations_used
            if r["driver"] == "gdp_deflator" and r["kind"] == "change"}
    r = rows[2010]
    nom = {i["year"]: i["value"] for i in r["inputs"] if i["series"] == "gdp_nominal"}
    g = next(i["value"] for i in r["inputs"] if i["series"] == "gdp_real")
    assert r["model_value"] == pytest.approx(math.log(nom[2010] / nom[2009]) - math.log1p(g / 100))


def test_cumulative_change_is_used_exactly(fixture_history):
    fm = calibrate(fixture_history, 2013)
    f = fixture_history.frame
    ei = f[f["series"] == "energy_intensity"]
    l2008 = float(ei[(ei["kind"] == "level") & (ei["year"] == 2008)]["value"].iloc[0])
    cum = float(ei[ei["kind"] == "cumulative_change_pct"]["value"].iloc[0])
    d = fm.drivers["energy_intensity"]
    assert d.state("level") == pytest.approx(math.log(l2008 * (1 + cum / 100)), abs=3e-3)
    assert d.state("cum_from_2008") == pytest.approx(math.log1p(cum / 100), abs=3e-3)


def test_vintage_chooses_gdp_values(fixture_history, fitted_2014):
    first = calibrate(fixture_history, 2014, "first")
    revised = fitted_2014                                   # the default vintage
    assert first.anchors["gdp_nominal"].value == pytest.approx(
        0.97 * revised.anchors["gdp_nominal"].value, rel=1e-3)
    used_first = {(r["year"]) for r in first.observations_used
                  if r["driver"] == "gdp_real" and r.get("vintage") == "first"}
    assert used_first == {2006, 2007, 2011, 2012}
    assert first.vintage == "first"


def test_housing_ratio_from_programme_and_delivery_pairs(fitted_2014):
    h = fitted_2014.drivers[HOUSING_DRIVER]
    assert h.kind == "iid_lognormal" and h.n_obs == 2
    assert h.param("mu") == pytest.approx((math.log(0.9) + math.log(1.05)) / 2)
    assert any("sigma = 0.15 (prior)" in fb for fb in h.fallbacks)


def test_state_is_predicted_forward_when_the_last_observation_is_early(fixture_history):
    fm = calibrate(fixture_history, 2012)
    w = fm.drivers["water_intensity"]
    assert w.diagnostics["last_obs_year"] == 2009
    assert w.state_cov[0, 0] > 0.02 ** 2     # three unobserved years


# --- fallbacks -------------------------------------------------------------------------------
def test_fallbacks_recorded_when_a_series_is_short(fitted_2014):
    fm = fitted_2014
    so2 = fm.drivers["so2_emissions"]
    assert so2.n_obs == 1
    assert any(fb.startswith("sigma_noise =") and "pooled" in fb for fb in so2.fallbacks)
    assert any(fb.startswith("phi = 0.0 (prior)") for fb in so2.fallbacks)
    own = [math.exp(d.param("log_sigma_noise")) for d in fm.drivers.values()
           if d.kind == "change" and d.correlated and "sigma_noise" in d.diagnostics["free_params"]]
    assert len(own) >= 4
    assert math.exp(so2.param("log_sigma_noise")) == pytest.approx(float(np.median(own)))
    assert so2.param_cov[1, 1] == 0.0              # a prior has no sampling variance
    assert any(f.startswith("so2_emissions: sigma_noise") for f in fm.fallbacks)
    assert any(f.startswith("nh3n_emissions: not fitted") for f in fm.fallbacks)
    assert any(f.startswith("rd_share: not fitted") for f in fm.fallbacks)
    assert "nh3n_emissions" not in fm.drivers


# --- shock correlation ------------------------------------------------------------------------
def test_shock_correlation_is_shrunk_and_positive_definite(fitted_2014):
    fm = fitted_2014
    r = fm.shock_corr
    assert r.shape == (len(fm.shock_names),) * 2
    assert np.allclose(r, r.T) and np.allclose(np.diag(r), 1.0)
    assert np.linalg.eigvalsh(r).min() > 0
    assert 0.0 <= fm.shrinkage <= 1.0
    assert any(n.startswith("shock correlation:") and "lambda" in n for n in fm.notes)


def test_shock_correlation_rule():
    rng = np.random.default_rng(0)
    z = rng.standard_normal(40)
    eps = {"a": dict(enumerate(z)), "b": dict(enumerate(z + 0.1 * rng.standard_normal(40))),
           "c": dict(enumerate(rng.standard_normal(40))), "d": {0: 1.0, 1: -1.0}}
    r, lam, n = shock_correlation(eps)
    assert n[0, 1] == 40 and n[0, 3] == 2
    assert r[0, 3] == 0.0                        # too few common years
    assert 0 < lam < 0.2 and r[0, 1] > 0.8       # strong evidence, little shrinkage
    assert np.linalg.eigvalsh(r).min() >= 0.05 - 1e-12


# --- bad data --------------------------------------------------------------------------------
def _history(rows) -> History:
    frame = pd.DataFrame(rows)
    for c, default in (("base_year", None), ("vintage", "first"), ("source", "test"),
                       ("note", ""), ("file", "t.csv")):
        if c not in frame:
            frame[c] = default
    frame["line"] = range(2, len(frame) + 2)
    frame["base_year"] = frame["base_year"].astype("Int64")
    return History(frame, "h", Path("."))


def _gdp_rows():
    return [{"series": "gdp_real", "year": y, "kind": "change_pct", "value": 10.0 - 0.2 * (y - 2000),
             "unit": "%"} for y in range(2001, 2011)]


def test_one_point_gdp_is_a_clear_error():
    h = _history([{"series": "gdp_real", "year": 2010, "kind": "change_pct", "value": 9.0, "unit": "%"}])
    fm = calibrate(h, 2010)   # one annual change is one informative observation: prior fit
    assert fm.drivers["gdp_real"].fallbacks
    h = _history([{"series": "population_resident", "year": 2010, "kind": "level", "value": 9.0,
                   "unit": "万人"}])
    with pytest.raises(SimError, match=r"gdp_real: cannot be calibrated as of 2010: no usable"):
        calibrate(h, 2010)


def test_one_point_series_is_reported_not_fitted():
    h = _history(_gdp_rows() + [{"series": "usdcny", "year": 2009, "kind": "level", "value": 6.8,
                                 "unit": "CNY per USD"}])
    fm = calibrate(h, 2010)
    assert "usdcny" not in fm.drivers
    assert any(f.startswith("usdcny: not fitted (driver): only level 2009") for f in fm.fallbacks)


@pytest.mark.parametrize("row, message", [
    ({"series": "usdcny", "year": 2008, "kind": "level", "value": float("nan"), "unit": "CNY per USD"},
     r"t.csv: line 12: usdcny 2008: value is not a number"),
    ({"series": "usdcny", "year": 2008, "kind": "level", "value": 6.8, "unit": "USD"},
     r"t.csv: line 12: usdcny 2008 level: unit 'USD', expected 'CNY per USD'"),
    ({"series": "tertiary_share", "year": 2008, "kind": "level", "value": 120.0, "unit": "%"},
     r"a share must be strictly between 0 and 100 %, got 120.0"),
    ({"series": "usdcny", "year": 2008, "kind": "level", "value": 0.0, "unit": "CNY per USD"},
     r"level must be positive \(log scale\), got 0.0"),
    ({"series": "energy_intensity", "year": 2008, "kind": "change_pct", "value": -100.0, "unit": "%"},
     r"a change of -100.0 % is impossible"),
])
def test_bad_values_give_messages_naming_the_row(row, message):
    h = _history(_gdp_rows() + [row])
    with pytest.raises(SimError, match=message):
        calibrate(h, 2010)


@pytest.mark.parametrize("value, unit, message", [
    ("nan", "CNY per USD", "value is not finite"),
    ("6.8", "USD", "wrong unit for usdcny level"),
])
def test_cli_bad_data_exits_2_without_traceback(tmp_path, capsys, value, unit, message):
    d = tmp_path / "bad"
    shutil.copytree(FIXTURE, d, ignore=shutil.ignore_patterns("*.py"))
    with open(d / "economy.csv", "a", encoding="utf-8") as fh:
        fh.write(f"usdcny,1999,,level,{value},{unit},unknown,test,\n")
    assert main(["calibrate", "--data", str(d), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "economy.csv" in err and "Traceback" not in err


def test_bad_vintage_and_early_as_of(tmp_path, capsys, fixture_history):
    with pytest.raises(SimError, match="vintage must be 'first' or 'revised'"):
        calibrate(fixture_history, 2010, "unknown")
    assert main(["calibrate", "--data", str(FIXTURE), "--as-of", "1990", "--out", str(tmp_path)]) == 2
    assert "before the first observation (2000)" in capsys.readouterr().err


# --- persistence and the command --------------------------------------------------------------
def test_json_round_trip(tmp_path, fitted_2014):
    path = fitted_2014.save(tmp_path / "f.json")
    assert FittedModel.load(path).to_json() == fitted_2014.to_json()


def test_load_or_calibrate_reuses_a_fit_of_the_same_data(tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(FIXTURE, data, ignore=shutil.ignore_patterns("*.py"))
    out = tmp_path / "fitted"
    fm = load_or_calibrate(2012, "revised", data_dir=data, cache_dir=out)
    assert (out / fitted_filename(2012, "revised")).exists()

    def boom(*a, **k):
        raise AssertionError("should have reused the saved fit")

    monkeypatch.setattr("sim.calibrate.cache.calibrate", boom)
    assert load_or_calibrate(2012, "revised", data_dir=data, cache_dir=out).to_json() == fm.to_json()
    with pytest.raises(AssertionError, match="reused"):     # a base year the file lacks
        load_or_calibrate(2012, "revised", data_dir=data, cache_dir=out, base_years=[2003])
    monkeypatch.setattr("sim.calibrate.cache.calibrator_id", lambda: "0.0+othercode")
    with pytest.raises(AssertionError, match="reused"):     # fitted by other calibration code
        load_or_calibrate(2012, "revised", data_dir=data, cache_dir=out)
    monkeypatch.undo()
    monkeypatch.setattr("sim.calibrate.cache.calibrate", boom)
    with open(data / "other_indicators.csv", "a", encoding="utf-8") as fh:
        fh.write("pm25,2013,,level,30,μg/m3,first,test,\n")   # data changed: hash differs
    with pytest.raises(AssertionError, match="reused"):
        load_or_calibrate(2012, "revised", data_dir=data, cache_dir=out)


def test_flat_likelihood_variance_is_capped_keeping_correlation():
    cov = np.array([[0.5, 0.0, 0.3], [0.0, 0.1, 0.0], [0.3, 0.0, 21.78]])
    pf = SimpleNamespace(theta_cov=cov.copy())   # only theta_cov is read and written
    notes = []
    _cap_theta_variance(pf, notes)
    assert pf.theta_cov[2, 2] == pytest.approx(MAX_THETA_VAR)
    assert pf.theta_cov[0, 0] == 0.5 and pf.theta_cov[1, 1] == 0.1
    corr = lambda c: c[0, 2] / np.sqrt(c[0, 0] * c[2, 2])
    assert corr(pf.theta_cov) == pytest.approx(corr(cov))
    assert notes == ["sigma_level: variance 21.8 on the theta scale capped at 1.0 "
                     "(likelihood nearly flat: weakly identified)"]


def test_cli_on_fixture(tmp_path, capsys):
    assert main(["calibrate", "--data", str(FIXTURE), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    path = tmp_path / fitted_filename(2014, "revised")      # default as_of: last GDP year
    fm = json.loads(path.read_text(encoding="utf-8"))
    assert fm["as_of"] == 2014 and fm["vintage"] == "revised" and fm["format_version"] == 1
    assert "calibration as of 2014, vintage revised" in out
    assert "energy_intensity" in out and "2008→2013" in out and "history:" in out
    assert "fallback: sigma_noise" in out and "not fitted (3):" in out
    assert f"wrote {path}" in out


@pytest.mark.slow
@needs_bundled
def test_cli_on_bundled_data(tmp_path, capsys):
    assert main(["calibrate", "--as-of", "2015", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    fm = FittedModel.load(tmp_path / fitted_filename(2015, "revised"))
    assert fm.as_of == 2015 and "gdp_real" in out and "energy_intensity" in out
    assert fm.summary(DEFAULT_DATA_DIR) in out                # the model's own summary


@pytest.mark.slow
@needs_bundled
@pytest.mark.parametrize("as_of", [2010, 2015, 2018])
def test_bundled_fit_is_plausible(fitted_real, as_of):
    fm = fitted_real(as_of)
    assert {"gdp_real", "gdp_deflator", "population_resident", "usdcny", "energy_intensity",
            "carbon_factor"}.issubset(fm.drivers)
    g = fm.drivers["gdp_real"].state("mean")
    assert 0.05 < math.exp(g) - 1 < 0.16               # Shenzhen grew 6-17 % a year
    if as_of >= 2015:
        # -19.5 % over 2011-2015 is -4.2 %/yr; the filtered mean also weighs 2005-2011 levels
        ei = fm.drivers["energy_intensity"]
        m, sd = ei.state("mean"), math.sqrt(ei.state_cov[1, 1])
        assert abs(m - math.log(1 - 0.195) / 5) < 2 * sd
        assert -0.06 < math.exp(m) - 1 < -0.025


# --- the calibrator id ------------------------------------------------------------------------
def test_calibrator_id_hashes_every_calibration_module():
    here = {p.name for p in (PACKAGE_DIR / "calibrate").glob("*.py")} - {"__init__.py", "cache.py"}
    assert {f"calibrate/{n}" for n in here} <= set(CALIBRATION_MODULES)
    assert all((PACKAGE_DIR / m).is_file() for m in CALIBRATION_MODULES)
    assert calibrator_id().startswith("0.") and len(calibrator_id().split("+")[1]) == 12


def test_summary_names_every_driver_and_fallback(fitted_2014):
    text = fitted_2014.summary("somewhere")
    assert text.startswith("calibration as of 2014, vintage revised, data somewhere (hash ")
    for name, d in fitted_2014.drivers.items():
        assert f"\n{name} " in text
        assert all(f"fallback: {fb}" in text for fb in d.fallbacks)
    assert "not fitted (" in text and "shock correlation over" in text
