"""Levers and shocks: what a scenario can move, as validated spec models.

A *lever* changes one driver over the simulated years: ``shift_pp`` percentage points added to
its annual % change (:class:`RateLever`; the exchange rate also takes a fixed ``path``,
:class:`FxLever`), or the affordable-housing programme's planned units (:class:`HousingLever`).
A *shock* adds percentage points to one driver's change in one year (:class:`Shock`).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, Field, Strict, model_validator
from pydantic_core import PydanticCustomError

from sim.bounds import FX_RATE, PROGRAMME_UNITS, SHIFT_PP, SHOCK_PP
from sim.scenario.base import YEAR_KEYS, FiniteFloat, Spec, StrictStr, Year, YearKey, one_of
from sim.vocabulary import CHANGE_DRIVERS, HOUSING_LEVER, LEVER_DRIVERS

#: Drivers simulated as an annual % change, moved by ``shift_pp`` (usdcny also takes a ``path``).
RATE_DRIVERS: tuple[str, ...] = CHANGE_DRIVERS
#: Drivers a one-off shock (pp added to one year's % change) can hit.
SHOCK_DRIVERS: tuple[str, ...] = RATE_DRIVERS

_DRIVER_TEXT: dict[str, str] = {
    "gdp_real": "real GDP growth (地区生产总值实际增速)",
    "gdp_deflator": "GDP deflator (GDP平减指数)",
    "population_resident": "resident population (常住人口)",
    "usdcny": "exchange rate, CNY per USD (人民币兑美元汇率)",
    "energy_intensity": "energy use per 10,000 CNY of GDP (万元GDP能耗)",
    "carbon_factor": "CO2 per unit of energy, the fuel mix (单位能耗二氧化碳排放)",
    "water_intensity": "water use per 10,000 CNY of GDP (万元GDP用水量)",
    "cod_emissions": "COD emissions (化学需氧量排放量)",
    "nh3n_emissions": "ammonia-nitrogen emissions (氨氮排放量)",
    "so2_emissions": "SO2 emissions (二氧化硫排放量)",
    "nox_emissions": "NOx emissions (氮氧化物排放量)",
    "affordable_housing": "affordable-housing programme units (保障性住房)",
}

#: pp added to a driver's annual % change (sim.bounds.SHIFT_PP)
ShiftPP = Annotated[FiniteFloat, Field(**SHIFT_PP.constraints())]
#: exchange rate, CNY per USD (sim.bounds.FX_RATE)
FxRate = Annotated[FiniteFloat, Field(**FX_RATE.constraints())]
#: affordable-housing programme units in one year (sim.bounds.PROGRAMME_UNITS)
Units = Annotated[int, Strict(), Field(**PROGRAMME_UNITS.constraints())]
#: pp added to one year's % change by a shock (sim.bounds.SHOCK_PP)
ShockPP = Annotated[FiniteFloat, Field(**SHOCK_PP.constraints())]
#: free text of a shock, at most this many characters
NOTE_MAX = 500

_SHIFT = ("Percentage points added to the driver's annual % change, every year from from_year to "
          "to_year (-50..50). Negative = faster decline.")
_FROM = "First year the lever applies (default: as_of + 1); must be in (as_of, horizon]."
_TO = "Last year the lever applies (default: horizon); >= from_year, <= horizon."


class RateLever(Spec):
    """Shift of a driver's annual % change in percentage points over a range of years."""

    shift_pp: ShiftPP = Field(description=_SHIFT)
    from_year: Year | None = Field(None, description=_FROM)
    to_year: Year | None = Field(None, description=_TO)


class FxLever(Spec):
    """Exchange rate (CNY per USD): either a shift of its annual % change, or a fixed path."""

    shift_pp: ShiftPP | None = Field(None, description=_SHIFT)
    from_year: Year | None = Field(None, description=_FROM + " Only with shift_pp.")
    to_year: Year | None = Field(None, description=_TO + " Only with shift_pp.")
    path: dict[YearKey, FxRate] | None = Field(
        None,
        description="Fixed exchange rate, CNY per USD, by year: { 2016 = 6.64, 2017 = 6.75 }; "
                    f"years in (as_of, horizon]; values {FX_RATE.expected()}.",
        json_schema_extra=YEAR_KEYS,
    )

    @model_validator(mode="after")
    def _shift_or_path(self) -> "FxLever":
        one_of(self, "shift_pp", "path")
        if self.path is not None and (self.from_year is not None or self.to_year is not None):
            raise PydanticCustomError(
                "one_of", "from_year and to_year apply only with shift_pp "
                          "(expected no from_year/to_year with path)", {})
        return self


class HousingLever(Spec):
    """Affordable-housing programme (保障性住房): planned units (套) per year."""

    programme_units: dict[YearKey, Units] | None = Field(
        None,
        description="Planned programme units (套) by year: { 2016 = 70000, 2017 = 70000 }; "
                    f"years in (as_of, horizon]; {PROGRAMME_UNITS.expected()}.",
        json_schema_extra=YEAR_KEYS,
    )
    units_per_year: Units | None = Field(
        None, description="Planned programme units (套) every year from as_of + 1 to horizon "
                          f"(instead of programme_units); {PROGRAMME_UNITS.expected()}.")

    @model_validator(mode="after")
    def _exactly_one(self) -> "HousingLever":
        one_of(self, "programme_units", "units_per_year")
        return self

    def units_by_year(self, first: int, last: int) -> dict[int, int]:
        """Planned units for each year from ``first`` to ``last`` that the lever names."""
        if self.units_per_year is not None:
            return {y: self.units_per_year for y in range(first, last + 1)}
        return {y: u for y, u in sorted((self.programme_units or {}).items()) if first <= y <= last}


Lever = Union[RateLever, FxLever, HousingLever]
#: Lever model for each driver.
LEVER_MODELS: dict[str, type[BaseModel]] = {
    d: (HousingLever if d == HOUSING_LEVER else FxLever if d == "usdcny" else RateLever)
    for d in LEVER_DRIVERS
}


class Levers(Spec):
    """Policy levers (政策杠杆), one table per driver; a driver without a table follows its calibrated trend."""  # noqa: E501 (the schema's text)

    gdp_real: RateLever | None = Field(None, description="Lever on " + _DRIVER_TEXT["gdp_real"])
    gdp_deflator: RateLever | None = Field(None, description="Lever on " + _DRIVER_TEXT["gdp_deflator"])
    population_resident: RateLever | None = Field(
        None, description="Lever on " + _DRIVER_TEXT["population_resident"])
    usdcny: FxLever | None = Field(
        None, description="Lever on " + _DRIVER_TEXT["usdcny"] + ": shift_pp or a fixed path")
    energy_intensity: RateLever | None = Field(
        None, description="Lever on " + _DRIVER_TEXT["energy_intensity"])
    carbon_factor: RateLever | None = Field(None, description="Lever on " + _DRIVER_TEXT["carbon_factor"])
    water_intensity: RateLever | None = Field(None, description="Lever on " + _DRIVER_TEXT["water_intensity"])
    cod_emissions: RateLever | None = Field(None, description="Lever on " + _DRIVER_TEXT["cod_emissions"])
    nh3n_emissions: RateLever | None = Field(None, description="Lever on " + _DRIVER_TEXT["nh3n_emissions"])
    so2_emissions: RateLever | None = Field(None, description="Lever on " + _DRIVER_TEXT["so2_emissions"])
    nox_emissions: RateLever | None = Field(None, description="Lever on " + _DRIVER_TEXT["nox_emissions"])
    affordable_housing: HousingLever | None = Field(
        None, description="Lever on " + _DRIVER_TEXT["affordable_housing"]
                          + ": programme_units or units_per_year")


assert tuple(Levers.model_fields) == LEVER_DRIVERS


class Shock(Spec):
    """A one-off shock: percentage points added to one driver's % change in one year (e.g. a pandemic)."""

    driver: Literal[SHOCK_DRIVERS] = Field(description="Driver hit by the shock: " + ", ".join(SHOCK_DRIVERS))  # type: ignore[valid-type]
    year: Year = Field(description="Year of the shock, in (as_of, horizon].")
    shift_pp: ShockPP = Field(
        description="Percentage points added to that year's % change (-100..100)."
    )
    note: Annotated[StrictStr, Field(max_length=NOTE_MAX)] | None = Field(
        None, description=f"Free text, e.g. 'pandemic' (at most {NOTE_MAX} characters).")
