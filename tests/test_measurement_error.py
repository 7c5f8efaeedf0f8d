"""Source-level measurement error (issue 12 item 4): an inventory level carries its source's
stated error, a derived observation the errors of its inputs, and the fit weighs them."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from sim.calibrate.measurement import ROUNDING_SD, SOURCE_ERRORS, row_sd
from sim.calibrate.observations import carbon_factor_obs, driver_obs
from sim.calibrate.statespace import MEASUREMENT_SD, ChangeProcess, Obs, fit_process
from sim.history import load_history

HEADER = "series,year,base_year,kind,value,unit,vintage,source,note".split(",")
CEADS = "CEADs city inventory (Shan et al. 2022)"
CEADS_SD = next(e.sd for e in SOURCE_ERRORS if e.pattern == "ceads")


def row(series, year, kind, value, unit, source, base_year=""):
    return dict(series=series, year=str(year), base_year=str(base_year), kind=kind,
                value=str(value), unit=unit, vintage="first", source=source, note="")


def history_of(tmp_path, rows):
    with open(tmp_path / "obs.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HEADER)
        w.writeheader()
        w.writerows(rows)
    return load_history(tmp_path)


def test_row_sd_is_the_sources_stated_error_for_inventory_levels_only():
    assert row_sd("github:...CEADS_china_cities/...xlsx; Shan et al. 2022", "level") == CEADS_SD
    assert row_sd(CEADS, "change_pct") == ROUNDING_SD
    assert row_sd("seed 003 专栏1 row 28", "level") == ROUNDING_SD == MEASUREMENT_SD


def test_a_carbon_factor_change_from_two_inventory_levels_carries_both_errors(tmp_path):
    rows = [row("co2_emissions", 2009, "level", 32.4782, "Mt CO2", CEADS),
            row("co2_emissions", 2010, "level", 37.0861, "Mt CO2", CEADS),
            row("gdp_real", 2010, "change_pct", 12.0, "%", "bulletin"),
            row("energy_intensity", 2010, "change_pct", -3.0, "%", "bulletin")]
    so = carbon_factor_obs(history_of(tmp_path, rows), "revised")
    [obs] = so.obs
    assert obs.value == pytest.approx(math.log(37.0861 / 32.4782) - math.log(1.12)
                                      - math.log(0.97), abs=1e-12)
    assert obs.sd == pytest.approx(math.sqrt(2 * CEADS_SD ** 2 + 2 * ROUNDING_SD ** 2), rel=1e-12)
    assert so.used[0]["measurement_sd"] == obs.sd


def test_official_figures_keep_rounding_error_and_the_note_says_which_carry_more(tmp_path):
    rows = [row("co2_intensity", 2015, "cumulative_change_pct", -21, "%", "plan", 2010),
            row("energy_intensity", 2015, "cumulative_change_pct", -19.5, "%", "plan", 2010),
            row("co2_emissions", 2014, "level", 29.4357, "Mt CO2", CEADS),
            row("co2_emissions", 2015, "level", 29.8944, "Mt CO2", CEADS),
            row("gdp_real", 2015, "change_pct", 8.9, "%", "bulletin"),
            row("energy_intensity", 2015, "change_pct", -3.0, "%", "bulletin")]
    so = driver_obs(history_of(tmp_path, rows), "carbon_factor", "revised")
    sds = {o.kind: o.sd for o in so.obs}
    assert sds["cum"] == pytest.approx(math.sqrt(2) * ROUNDING_SD)
    assert sds["change"] == pytest.approx(math.sqrt(2 * CEADS_SD ** 2 + 2 * ROUNDING_SD ** 2))
    assert so.notes == [
        f"carbon_factor: 1 of 2 observations carry a source measurement error (sd "
        f"{round(sds['change'], 4):g} on the model scale; stated per source: CEADs city CO2 "
        f"inventory level sd {CEADS_SD}); the rest {ROUNDING_SD} (rounding of official figures)"]


def test_each_column_has_its_observations_variance():
    obs = [Obs(2010, "change", 0.05), Obs(2011, "change", 0.04, sd=0.1),
           Obs(2012, "change", 0.03)]
    model = ChangeProcess(obs, end=2012)
    assert model.endog.shape[1] == 2
    sds = sorted(np.sqrt(np.diag(model["obs_cov"])))
    assert sds == pytest.approx([MEASUREMENT_SD, 0.1])


def test_a_non_positive_sd_is_refused():
    with pytest.raises(ValueError, match="measurement sd must be positive"):
        Obs(2010, "change", 0.1, sd=0.0)


def test_a_noisy_source_widens_the_trend_instead_of_fixing_it():
    # one annual change read off an inventory: with its error, the mean change is as uncertain
    # as the noise and the error together (diffuse prior on the mean, sd 1)
    fixed = {"phi": 0.0, "sigma_noise": 0.023, "sigma_level": 1e-4}
    exact = fit_process(ChangeProcess([Obs(2010, "change", 0.05)], end=2010), dict(fixed))
    noisy = fit_process(ChangeProcess([Obs(2010, "change", 0.05, sd=0.085)], end=2010),
                        dict(fixed))
    for fit, sd in ((exact, MEASUREMENT_SD), (noisy, 0.085)):
        s2 = 0.023 ** 2 + sd ** 2
        assert math.sqrt(fit.state_cov[1, 1]) == pytest.approx(math.sqrt(s2 / (1 + s2)), rel=0.02)
        assert fit.state_mean[1] == pytest.approx(0.05 / (1 + s2), rel=0.02)


def test_an_official_window_outweighs_conflicting_inventory_changes():
    # official: -1.9 % over five years; inventory: a +15 % year inside it
    fixed = {"phi": 0.0, "sigma_noise": 0.03, "sigma_level": 0.005}
    official = Obs(2015, "cum", -0.019, 2010, sd=math.sqrt(2) * MEASUREMENT_SD)
    as_exact = fit_process(ChangeProcess([official, Obs(2011, "change", 0.15)], end=2015),
                           dict(fixed))
    with_error = fit_process(ChangeProcess([official, Obs(2011, "change", 0.15, sd=0.085)],
                                           end=2015), dict(fixed))
    # the mean change at the end of the window: closer to the official -0.4 %/yr with the error
    assert abs(with_error.state_mean[1] + 0.0038) < abs(as_exact.state_mean[1] + 0.0038)


def test_inventory_changes_count_as_a_fraction_of_an_informative_observation():
    from sim.calibrate.observations import SeriesObs

    official = SeriesObs("x", "log", [Obs(y, "change", 0.01) for y in range(2001, 2013)]
                         + [Obs(2000, "level", 1.0), Obs(2012, "level", 1.1)])
    assert official.n_informative() == 13          # 12 changes + (2 levels - 1), as before
    noisy = SeriesObs("carbon_factor", "log",
                      [Obs(2015, "cum", -0.02, 2010, sd=math.sqrt(2) * MEASUREMENT_SD)]
                      + [Obs(y, "change", 0.0, sd=0.085) for y in (2010, 2011, 2015)])
    # 1 official window + 3 x 0.03^2/(0.03^2 + 0.085^2) = 1.33, rounded up
    assert noisy.n_informative() == 2
    assert SeriesObs("c", "log", [Obs(2010, "change", 0.05, sd=0.085)]).n_informative() == 1
