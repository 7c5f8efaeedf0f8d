"""Measurement error of an observation, by its source.

A published official figure is exact up to rounding: ``ROUNDING_SD`` on the model scale (the
state-space default :data:`sim.calibrate.statespace.MEASUREMENT_SD`). A level from a model-based
inventory is not: its error is stated per source in ``SOURCE_ERRORS`` (matched on the row's
``source`` text) as an sd ``s`` on the log scale of the level, independent between years.

A derived observation (a CO2-level change minus real growth and the energy-intensity change, a
deflator change, a change between two levels of an earlier vintage) adds the errors of its
inputs::

    sd(derived) = sqrt(sum_i sd_i^2)          e.g. two CEADs levels: sqrt(2) s

so a change read off two inventory levels carries ``sqrt(2) s`` whatever the window length,
and the state-space fit weighs it against the official figures instead of taking it as exact:
where sources conflict the fitted trend's uncertainty grows instead of following the noisier
source. (Two changes sharing one inventory level are correlated, -1/2 for adjacent windows;
the fit treats them as independent, which slightly overstates their information.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

from sim.calibrate.statespace import MEASUREMENT_SD

ROUNDING_SD = MEASUREMENT_SD
#: A typical annual shock of a driver on the log scale (the project's default ``sigma_noise``,
#: ``sim.calibrate.fit.DEFAULT_SIGMA_NOISE``): the signal an observation's error is weighed
#: against when counting informative observations.
SIGNAL_SD = 0.03


@dataclass(frozen=True)
class SourceError:
    """The measurement-error sd ``sd`` (log scale, per level) of rows whose ``source`` contains
    ``pattern`` (case-insensitive), with the evidence for it."""

    pattern: str
    sd: float
    what: str
    basis: str


#: Stated per source. CEADs: Shenzhen's annual log changes of CO2 in the CEADs city inventory
#: (Shan et al. 2022) and in EDGAR v8 (both in ../shared/reference/history/: ceads_shenzhen.csv
#: and city_panels_shenzhen.csv, series co2_emissions_edgar_v8) differ by an rms of 0.117 over
#: the 3 annual pairs before the first backtest origin (2001-2003) and 0.111 over all 12 pairs
#: 2001-2019. Two independent inventories with per-level error s give changes differing by
#: sd 2 s, so s = 0.117 / 2 = 0.058, rounded to 0.06. The official CO2-intensity figures
#: disagree with the CEADs-derived ones by more (0.43 log points over 2010-2015, 0.33 over
#: 2015-2018: a difference of scope, not only noise); that is not in this number.
SOURCE_ERRORS: tuple[SourceError, ...] = (
    SourceError(
        pattern="ceads", sd=0.06, what="CEADs city CO2 inventory level",
        basis="rms 0.117 of the CEADs-minus-EDGAR v8 annual log changes of Shenzhen's CO2 "
              "over 2001-2003 (0.111 over 2001-2019), split equally between the two "
              "inventories and between the two levels of a change"),
)


def source_error(source: str) -> SourceError | None:
    """The stated error of rows from ``source``, or None (an official figure: rounding only)."""
    text = source.lower()
    for err in SOURCE_ERRORS:
        if err.pattern in text:
            return err
    return None


def row_sd(source: str, kind: str) -> float:
    """Measurement sd of one history row on the model scale: its source's stated error for a
    level, else ``ROUNDING_SD`` (published changes are official figures)."""
    err = source_error(source)
    if err is not None and kind == "level":
        return err.sd
    return ROUNDING_SD


def signal_weight(sd: float) -> float:
    """``SIGNAL_SD^2 / (SIGNAL_SD^2 + sd^2)``: how much of one informative observation an
    observation with measurement error ``sd`` counts as (0.999 for rounding, 0.11 for sd 0.085)."""
    return SIGNAL_SD ** 2 / (SIGNAL_SD ** 2 + float(sd) ** 2)


def combined_sd(sds: Iterable[float]) -> float:
    """``sqrt(sum sd_i^2)``: the error of a sum or difference of independent inputs."""
    return math.sqrt(sum(float(s) ** 2 for s in sds))


def record_sd(record: dict[str, Any]) -> float:
    """The sd of an observation from its provenance record: the inputs' errors combined for a
    derived observation, else the row's own ``sd`` (``ROUNDING_SD`` when not stated)."""
    inputs = record.get("inputs")
    if inputs:
        return combined_sd(inp.get("sd", ROUNDING_SD) for inp in inputs)
    return float(record.get("sd", ROUNDING_SD))


def error_note(driver: str, sds: list[float]) -> str | None:
    """``"carbon_factor: 3 of 4 observations carry a source error (sd 0.085 ...)"``, or None
    when every observation has rounding error only."""
    noisy = sorted({round(s, 4) for s in sds if s > 2 * ROUNDING_SD})
    if not noisy:
        return None
    n = sum(1 for s in sds if s > 2 * ROUNDING_SD)
    names = ", ".join(f"{e.what} sd {e.sd}" for e in SOURCE_ERRORS)
    return (f"{driver}: {n} of {len(sds)} observations carry a source measurement error "
            f"(sd {', '.join(f'{s:g}' for s in noisy)} on the model scale; stated per source: "
            f"{names}); the rest {ROUNDING_SD} (rounding of official figures)")
