"""Regenerate the synthetic history fixture of tests/test_calibrate.py (values are made up by
the model itself with a fixed seed; they are not Shenzhen data).

    python tests/data/calibrate/make_fixture.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HEADER = ["series", "year", "base_year", "kind", "value", "unit", "vintage", "source", "note"]
SRC = "synthetic test fixture (tests/data/calibrate/make_fixture.py)"
YEARS = range(2000, 2015)


def path(rng, mean, phi, s_noise, s_level, start=1.0):
    """Log level L_t on YEARS from the model: x = m + u, m random walk, u AR(1)."""
    m, u, level, out = mean, 0.0, np.log(start), {}
    for y in YEARS:
        m += s_level * rng.standard_normal()
        u = phi * u + s_noise * rng.standard_normal()
        level += m + u
        out[y] = level
    return out


def main() -> None:
    rng = np.random.default_rng(20240601)
    real = path(rng, 0.10, 0.3, 0.015, 0.004)
    defl = path(rng, 0.03, 0.2, 0.02, 0.003)
    pop = path(rng, 0.04, 0.5, 0.01, 0.002, start=700.0)
    fx = path(rng, -0.01, 0.3, 0.03, 0.003, start=8.0)
    ei = path(rng, -0.04, 0.0, 0.02, 0.003, start=0.8)
    cf = path(rng, -0.01, 0.0, 0.02, 0.003, start=2.5)
    wi = path(rng, -0.08, 0.0, 0.03, 0.003, start=40.0)
    cod = path(rng, -0.05, 0.0, 0.04, 0.003, start=5e4)
    so2 = path(rng, -0.06, 0.0, 0.04, 0.003, start=4e4)
    tert = path(rng, 0.03, 0.0, 0.03, 0.003, start=1.0)   # logit of the share
    nominal = {y: np.log(2000.0) + real[y] + defl[y] for y in YEARS}

    def r(v, d=4):
        return f"{v:.{d}f}"

    def pct(a, b):
        return r(100 * (np.exp(b - a) - 1), 2)

    files = {}
    econ = []
    for y in YEARS:
        if y > 2000:
            econ.append(["gdp_real", y, "", "change_pct", pct(real[y - 1], real[y]), "%", "revised", SRC, ""])
        if y in (2006, 2007, 2011, 2012):
            econ.append(["gdp_real", y, "", "change_pct", pct(real[y - 1], real[y] - 0.002), "%", "first", SRC, "first release"])
        econ.append(["gdp_nominal", y, "", "level", r(np.exp(nominal[y]), 2), "亿元", "revised", SRC, ""])
        if y >= 2008:
            econ.append(["gdp_nominal", y, "", "level", r(0.97 * np.exp(nominal[y]), 2), "亿元", "first", SRC, "before the census revision"])
        econ.append(["population_resident", y, "", "level", r(np.exp(pop[y]), 2), "万人", "first", SRC, ""])
        econ.append(["usdcny", y, "", "level", r(np.exp(fx[y])), "CNY per USD", "unknown", SRC, ""])
    econ.append(["gdp_per_capita", 2012, "", "level", r(1e4 * np.exp(nominal[2012] - pop[2012]), 0), "元", "first", SRC, ""])
    files["economy.csv"] = econ

    energy = [
        ["energy_intensity", 2005, "", "level", r(np.exp(ei[2005])), "吨标准煤/万元", "first", SRC, ""],
        ["energy_intensity", 2008, "", "level", r(np.exp(ei[2008])), "吨标准煤/万元", "first", SRC, ""],
        ["energy_intensity", 2009, "", "change_pct", pct(ei[2008], ei[2009]), "%", "first", SRC, ""],
        ["energy_intensity", 2012, "", "change_pct", pct(ei[2011], ei[2012]), "%", "first", SRC, ""],
        ["energy_intensity", 2013, 2008, "cumulative_change_pct", pct(ei[2008], ei[2013]), "%", "first", SRC, ""],
        ["co2_intensity", 2013, 2008, "cumulative_change_pct", pct(ei[2008] + cf[2008], ei[2013] + cf[2013]), "%", "first", SRC, ""],
    ]
    for y in range(2000, 2013):
        co2 = np.log(100.0) + real[y] + ei[y] + cf[y]
        energy.append(["co2_emissions", y, "", "level", r(np.exp(co2)), "Mt CO2", "unknown", SRC, ""])
    files["energy_carbon.csv"] = energy

    files["water.csv"] = [
        ["water_intensity", 2006, "", "level", r(np.exp(wi[2006])), "立方米/万元", "first", SRC, ""],
        ["water_intensity", 2007, "", "change_pct", pct(wi[2006], wi[2007]), "%", "first", SRC, ""],
        ["water_intensity", 2008, "", "change_pct", pct(wi[2007], wi[2008]), "%", "first", SRC, ""],
        ["water_intensity", 2009, "", "change_pct", pct(wi[2008], wi[2009]), "%", "first", SRC, ""],
        ["water_intensity", 2014, 2009, "cumulative_change_pct", pct(wi[2009], wi[2014]), "%", "first", SRC, ""],
    ]
    files["pollutants.csv"] = [
        ["cod_emissions", 2010, 2005, "cumulative_change_pct", pct(cod[2005], cod[2010]), "%", "first", SRC, ""],
        ["cod_emissions", 2012, "", "change_pct", pct(cod[2011], cod[2012]), "%", "first", SRC, ""],
        ["so2_emissions", 2011, "", "change_pct", pct(so2[2010], so2[2011]), "%", "first", SRC, "one point only"],
    ]
    files["housing.csv"] = [
        ["affordable_housing_planned", 2010, 2005, "period_sum", "100000", "套", "first", SRC, ""],
        ["affordable_housing_supplied", 2010, 2005, "period_sum", "90000", "套", "first", SRC, ""],
        ["affordable_housing_planned", 2014, 2010, "period_sum", "80000", "套", "first", SRC, ""],
        ["affordable_housing_supplied", 2014, 2010, "period_sum", "84000", "套", "first", SRC, ""],
    ]
    other = []
    for y in YEARS:
        other.append(["tertiary_share", y, "", "level", r(100 / (1 + np.exp(-(tert[y] - 0.5))), 2), "%", "first", SRC, ""])
    other.append(["rd_share", 2013, "", "level", "3.50", "%", "first", SRC, "one point only"])
    files["other_indicators.csv"] = other

    for name, rows in files.items():
        with open(HERE / name, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(HEADER)
            w.writerows(rows)


if __name__ == "__main__":
    main()
