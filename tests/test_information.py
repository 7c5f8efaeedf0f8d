"""The information and low_information columns of the evaluation table (sim.evaluation.information)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.evaluation.information import add_information, series_information
from sim.evaluation.record import RECORD_ONLY, TREND_ONLY, TREND_RECORD
from sim.model import CHANGE_PARAMS, DriverFit, FittedModel, Information

H = 20


def _info(n: int, total: float, prior: float) -> Information:
    """Variance ``total * h`` of which ``prior * h`` from priors, h = 1..H."""
    return Information(n_informative=n, prior_params=("sigma_level",) if prior else (),
                       var_total=tuple(total * h for h in range(1, H + 1)),
                       var_prior=tuple(prior * h for h in range(1, H + 1)), min_obs=4,
                       max_prior_share=0.5)


def _driver(name: str, info: Information | None) -> DriverFit:
    return DriverFit(name=name, kind="change", scale="log", param_names=CHANGE_PARAMS,
                     param_mean=np.zeros(3), param_cov=np.zeros((3, 3)),
                     state_names=("level", "mean", "ar"), state_mean=np.zeros(3),
                     state_cov=np.zeros((3, 3)), level_known=True, correlated=False, n_obs=3,
                     information=info)


@pytest.fixture
def fitted() -> FittedModel:
    drivers = {"gdp_real": _driver("gdp_real", _info(16, 1.0, 0.0)),
               "gdp_deflator": _driver("gdp_deflator", _info(15, 3.0, 1.0)),
               "rd_share": _driver("rd_share", _info(1, 2.0, 2.0)),
               "green_coverage": _driver("green_coverage", _info(8, 4.0, 1.0)),
               "old_fit": _driver("old_fit", None)}
    return FittedModel(as_of=2015, vintage="revised", data_hash="h", drivers=drivers, anchors={},
                       shock_names=(), shock_corr=np.zeros((0, 0)), shrinkage=0.0,
                       base_years=(2010,))


def _table() -> pd.DataFrame:
    rows = [("rd_2020", "rd_share", 2020, TREND_RECORD, False, np.nan),
            ("green_2020", "green_coverage", 2020, TREND_ONLY, False, np.nan),
            ("gdp_2020", "gdp_nominal", 2020, TREND_RECORD, False, np.nan),
            ("thin_record", "", 2020, RECORD_ONLY, True, 3),
            ("old", "old_fit", 2020, TREND_ONLY, False, np.nan),
            ("past", "green_coverage", 2014, TREND_ONLY, False, np.nan),
            ("cod", "cod_emissions", 2020, "not evaluable", False, np.nan)]
    return pd.DataFrame(rows, columns=["target_id", "series", "target_year", "method",
                                       "low_information", "record_n_family"])


def test_every_row_gets_its_information_and_flag(fitted):
    out = add_information(_table(), fitted).set_index("target_id")
    assert out.loc["rd_2020", "information"] == ("1 informative observation; 100 % of the 2020 "
                                                 "variance from priors")
    assert out.loc["rd_2020", "low_information"]
    assert out.loc["green_2020", "information"] == ("8 informative observations; 25 % of the 2020 "
                                                    "variance from priors")
    assert not out.loc["green_2020", "low_information"]
    # derived: variances added (1 + 3 per year, 1 from priors), the fewest observations
    assert out.loc["gdp_2020", "information"] == ("15 informative observations; 25 % of the 2020 "
                                                  "variance from priors")
    assert out.loc["thin_record", "information"] == ("no trend forecast: plan record only "
                                                     "(3 past targets of its family)")
    assert out.loc["thin_record", "low_information"]          # the record's flag is kept
    assert out.loc["old", "information"] == "information measure unavailable (fit without it)"
    assert out.loc["past", "information"] == "8 informative observations"
    assert out.loc["cod", "information"] == "" and not out.loc["cod", "low_information"]
    assert list(out.index) == list(_table()["target_id"])


def test_flag_follows_the_prior_share_at_the_target_year(fitted):
    info = series_information(fitted, "gdp_nominal")
    assert info is not None and info.prior_share(5) == pytest.approx(0.25)
    fitted.drivers["gdp_deflator"] = _driver("gdp_deflator", _info(15, 3.0, 2.5))
    info = series_information(fitted, "gdp_nominal")
    assert info is not None and info.prior_share(5) == pytest.approx(0.625) and info.low(5)
    assert series_information(fitted, "unknown_series") is None
    fitted.drivers["gdp_deflator"] = _driver("gdp_deflator", _info(3, 3.0, 0.0))
    info = series_information(fitted, "gdp_nominal")     # too few observations in one driver
    assert info is not None and info.prior_share(5) == 0.0 and info.low(5)
    assert info.n_informative == 3


def test_an_empty_table_gets_both_columns(fitted):
    out = add_information(_table().iloc[:0], fitted)
    assert {"information", "low_information"} <= set(out.columns) and len(out) == 0


@pytest.mark.slow
def test_run_writes_both_columns(tmp_path, run_cli, shipped):
    out = tmp_path / "r"
    code, _, err = run_cli("run", shipped["2020"], "--draws", "300", "--out", out, "--quiet",
                           "--no-figures")
    assert code == 0, err
    t = pd.read_csv(out / "targets.csv").set_index(["scenario", "target_id"])
    land = t.loc[("baseline", "construction_land_per_gdp_2020_fyp13")]
    assert bool(land["low_information"])
    assert land["information"].startswith("1 informative observation")
    green = t.loc[("baseline", "green_coverage_2020_fyp13")]   # flat: its band is the prior's
    assert bool(green["low_information"])
    assert green["information"].startswith("8 informative observations")
    gdp = t.loc[("baseline", "gdp_2020_fyp13")]
    assert not bool(gdp["low_information"]) and "informative observations" in gdp["information"]
