"""History rows → the observations of each driver on its model scale, with their provenance.

Every driver and generic indicator is fitted (:mod:`sim.calibrate.fit`) on all the observations
the data hold for it — levels, annual changes and multi-year cumulative changes — on the
transformed scale (``log``, or ``logit`` for shares): a level ``v`` as ``log v``, a % change
``p`` as ``log(1 + p/100)``. Missing years stay missing.

Observations of a driver the data do not hold directly are *derived* from other series over the
same window, never invented (each one is recorded in ``observations_used`` with its inputs):

* ``gdp_deflator``: ``log(N_t / N_s) - sum_{y in (s, t]} log(1 + g_y)`` for two nominal-GDP
  levels ``N`` of the same vintage (``s < t``, consecutive in the data) and real growth ``g``
  observed for every year of ``(s, t]`` (an annual change when ``t = s + 1``, else cumulative).
* ``carbon_factor`` (CO2 per unit of energy):
  (a) ``log(1 + c/100) - log(1 + e/100)`` for cumulative changes ``c`` of ``co2_intensity`` and
  ``e`` of ``energy_intensity`` over the same window;
  (b) ``log(C_t / C_s) - sum log(1 + g_y) - dlog EI_(s, t]`` from two CO2 levels, real growth
  and the energy-intensity change over the same window (from an annual change, a cumulative
  change or two levels), for windows (a) does not cover;
  (c) a level ``100 * co2 [Mt] / energy [1e4 tce]`` (tCO2/tce) where both are observed.

Levels are comparable only within a run (:mod:`sim.calibrate.levels`): runs end at a declared
structural break (:mod:`sim.calibrate.breaks`) and between different vintages (Shenzhen's census
revisions moved GDP and population by up to 25 %; an ``unknown`` tag joins its neighbours unless
the data show a revision). Only the run that contains the latest level enters as levels; earlier
runs enter as changes between their consecutive levels, so no step across a break is growth.

Every observation carries a measurement-error sd (:mod:`sim.calibrate.measurement`): rounding for
official figures, the source's stated error for inventory levels, combined over the inputs of a
derived observation.

Informative observations (what the fallback thresholds count): annual changes + cumulative
changes + (levels - 1), each weighted by the share of its variance that is signal,
``w = SIGNAL_SD^2 / (SIGNAL_SD^2 + sd^2)`` (:mod:`sim.calibrate.measurement`; 1 for an official
figure, 0.11 for a change read off two inventory levels), summed and rounded up: three inventory
changes do not estimate a volatility the way three official ones would.

Also here: the housing delivery log ratios ``log(supplied / planned)`` of every window (or year)
where both are observed, and the *anchors* (the latest observed level <= as_of of a series,
which derived series are scaled to).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from sim.calibrate.breaks import breaks_of
from sim.calibrate.levels import level_runs
from sim.calibrate.measurement import error_note, record_sd, row_sd, signal_weight
from sim.calibrate.statespace import Obs
from sim.errors import SimError
from sim.history import History
from sim.model import Anchor
from sim.vocabulary import HOUSING_DRIVER, HOUSING_PLANNED, HOUSING_SERIES, SERIES, expected_unit

#: (planned, supplied): the two series whose ratio is the housing delivery ratio.
HOUSING_PAIR = (HOUSING_PLANNED, HOUSING_SERIES)

Row: TypeAlias = pd.Series           # one row of History.frame
Provenance: TypeAlias = dict[str, Any]


@dataclass
class SeriesObs:
    """Observations of one driver on the model scale, with their provenance."""

    name: str
    scale: str
    obs: list[Obs] = field(default_factory=list)
    used: list[dict[str, Any]] = field(default_factory=list)   # FittedModel.observations_used
    notes: list[str] = field(default_factory=list)

    def add(self, year: int, kind: str, value: float, base_year: int | None = None,
            record: dict[str, Any] | None = None) -> None:
        """Add one observation (``kind`` level/change/cum) and its record of provenance; its
        measurement sd comes from the record (:func:`sim.calibrate.measurement.record_sd`)."""
        rec = {"driver": self.name, "year": int(year), "kind": kind,
               "base_year": None if base_year is None else int(base_year),
               "model_value": float(value)}
        rec.update(record or {})
        sd = record_sd(rec)
        rec["measurement_sd"] = sd
        self.obs.append(Obs(int(year), kind, float(value),
                            None if base_year is None else int(base_year), sd))
        self.used.append(rec)

    def add_window(self, s: int, t: int, value: float, record: dict[str, Any]) -> None:
        """The change over ``(s, t]``: an annual change when ``t = s + 1``, else cumulative."""
        if t == s + 1:
            self.add(t, "change", value, record=record)
        else:
            self.add(t, "cum", value, base_year=s, record=record)

    def n_informative(self) -> int:
        """Annual changes + cumulative changes + (levels - 1), distinct observations only, each
        weighted by :func:`sim.calibrate.measurement.signal_weight` of its sd (the best of
        duplicates), the sum rounded up."""
        best: dict[tuple, float] = {}
        for o in self.obs:
            key = (o.kind, o.base_year, o.year)
            best[key] = max(best.get(key, 0.0), signal_weight(o.sd))
        levels = [w for k, w in best.items() if k[0] == "level"]
        total = sum(w for k, w in best.items() if k[0] != "level")
        total += max(0.0, sum(levels) - max(levels, default=0.0))
        return math.ceil(round(total, 9))

    def describe(self) -> str:
        """``"level 2009, cum 2013 from 2008"``: the observations in year order."""
        parts = []
        for o in sorted(self.obs, key=lambda o: o.year):
            parts.append(f"{o.kind} {o.year}" + (f" from {o.base_year}" if o.base_year else ""))
        return ", ".join(parts) or "none"


# ============================================================================================
# rows
# ============================================================================================
def _where(row: Row) -> str:
    f = row.get("file", None)
    ln = row.get("line", None)
    if f is not None and not pd.isna(f):
        line = f": line {int(ln)}" if ln is not None and not pd.isna(ln) else ""
        return f"{Path(str(f)).name}{line}"
    return f"{row['series']} {int(row['year'])}"


def provenance(row: Row) -> Provenance:
    """The record of one history row kept in ``observations_used``."""
    base = row.get("base_year")
    return {"series": str(row["series"]), "year": int(row["year"]),
            "base_year": None if base is None or pd.isna(base) else int(base),
            "obs_kind": str(row["kind"]), "value": float(row["value"]), "unit": str(row["unit"]),
            "vintage": str(row.get("vintage", "")), "source": str(row.get("source", "")),
            "file": None if pd.isna(row.get("file", None)) else Path(str(row["file"])).name,
            "sd": row_sd(str(row.get("source", "")), str(row["kind"]))}


def _check_unit(row: Row, where: str) -> None:
    series = SERIES.get(row["series"])
    if series is None:   # a declared series: its units were checked against the history's
        return           # vocabulary when it was loaded (sim.history.load_history)
    unit = expected_unit(series, row["kind"])
    if str(row["unit"]) != unit:
        raise SimError(f"{where}: {row['series']} {row['year']} {row['kind']}: unit "
                       f"'{row['unit']}', expected '{unit}'")


def model_value(row: Row, scale: str) -> float:
    """Validate one row and return its value on the model scale; SimError naming the row."""
    value = row["value"]
    where = _where(row)
    if value is None or pd.isna(value) or not np.isfinite(float(value)):
        raise SimError(f"{where}: {row['series']} {row['year']}: value is not a number "
                       f"(got {value!r})")
    value = float(value)
    kind = row["kind"]
    _check_unit(row, where)
    if kind in ("level", "period_sum"):
        if scale == "logit" and kind == "level":
            if not 0.0 < value < 100.0:
                raise SimError(f"{where}: {row['series']} {row['year']}: a share must be "
                               f"strictly between 0 and 100 %, got {value}")
            p = value / 100.0
            return math.log(p / (1.0 - p))
        if value <= 0:
            raise SimError(f"{where}: {row['series']} {row['year']}: {kind} must be positive "
                           f"(log scale), got {value}")
        return math.log(value)
    if kind in ("change_pct", "cumulative_change_pct"):
        if value <= -100:
            raise SimError(f"{where}: {row['series']} {row['year']}: a change of {value} % "
                           f"is impossible (must be > -100 %)")
        return math.log1p(value / 100.0)
    return value


def _base(row: Row) -> int | None:
    b = row.get("base_year")
    return None if b is None or pd.isna(b) else int(b)


def rows_of(history: History, series: str, vintage: str) -> pd.DataFrame:
    """The rows of ``series`` (one per observation, ``vintage`` preferred), by kind and year."""
    if series not in set(history.frame["series"]):
        return history.frame.iloc[0:0]
    df = history.select(series, vintage=vintage)
    return df.sort_values(["kind", "year"]).reset_index(drop=True)


def _level_runs(history: History, levels: pd.DataFrame) -> tuple[list[list[Row]], list[str]]:
    """Level rows split into runs of comparable levels (:func:`sim.calibrate.levels.level_runs`);
    the last run is current. Also the notes on where and why."""
    return level_runs(history, levels, breaks_of(history))


def _levels_of(df: pd.DataFrame) -> dict[int, Row]:
    """Level rows by year."""
    return {int(r["year"]): r for _, r in df[df["kind"] == "level"].iterrows()}


# ============================================================================================
# direct observations
# ============================================================================================
def _add_change_row(so: SeriesObs, r: Row) -> None:
    """An annual or cumulative % change row of the series itself."""
    name, scale, kind = so.name, so.scale, r["kind"]
    if kind == "period_sum":
        so.notes.append(f"{name}: period_sum rows not used for a change process")
        return
    if scale == "logit":
        so.notes.append(f"{name} {int(r['year'])}: a % change of a share is not linear on "
                        f"the logit scale; not used")
        return
    value = model_value(r, scale)
    if kind == "change_pct":
        so.add(r["year"], "change", value, record=provenance(r))
        return
    b = _base(r)
    if b is None or b >= int(r["year"]):
        raise SimError(f"{_where(r)}: {name} {int(r['year'])}: cumulative change needs "
                       f"a base year before the year, got {b}")
    so.add(r["year"], "cum", value, base_year=b, record=provenance(r))


def _add_level_runs(so: SeriesObs, history: History, levels: pd.DataFrame) -> None:
    """Levels of the current run as levels; earlier runs as changes between their levels."""
    name = so.name
    runs, notes = _level_runs(history, levels)
    so.notes.extend(notes)
    for i, run in enumerate(runs):
        vals = [(int(r["year"]), model_value(r, so.scale), r) for r in run]
        if i == len(runs) - 1:
            for y, v, r in vals:
                so.add(y, "level", v, record=provenance(r))
            continue
        if len(vals) == 1:
            so.notes.append(f"{name}: level {vals[0][0]} not used (no comparable level beside it)")
        else:
            so.notes.append(f"{name}: levels {vals[0][0]}–{vals[-1][0]} used as changes between "
                            f"consecutive levels only (not comparable with later levels)")
        for (y0, v0, r0), (y1, v1, r1) in zip(vals, vals[1:]):
            rec = {"derived": True, "formula": f"log {name}[{y1}] - log {name}[{y0}]",
                   "inputs": [provenance(r0), provenance(r1)]}
            so.add_window(y0, y1, v1 - v0, rec)


def direct_obs(history: History, name: str, vintage: str, scale: str | None = None
               ) -> SeriesObs:
    """Observations of ``name`` as held by the data (levels, annual and cumulative changes)."""
    scale = scale or history.vocabulary.series(name).scale
    so = SeriesObs(name, scale)
    df = rows_of(history, name, vintage)
    for _, r in df.iterrows():
        if r["kind"] != "level":
            _add_change_row(so, r)
    _add_level_runs(so, history, df[df["kind"] == "level"])
    return so


# ============================================================================================
# derived observations
# ============================================================================================
Growth: TypeAlias = dict[int, tuple[float, Provenance]]


def _real_growth(history: History, vintage: str) -> Growth:
    df = rows_of(history, "gdp_real", vintage)
    out = {}
    for _, r in df[df["kind"] == "change_pct"].iterrows():
        out[int(r["year"])] = (model_value(r, "log"), provenance(r))
    return out


def _level_pairs(history: History, series: str, vintage: str
                 ) -> list[tuple[int, int, float, Provenance, Provenance]]:
    """Consecutive (in the data) pairs of same-vintage levels: [(s, t, dlog, prov_s, prov_t)]."""
    df = rows_of(history, series, vintage)
    out = []
    for run in _level_runs(history, df[df["kind"] == "level"])[0]:
        for r0, r1 in zip(run, run[1:]):
            out.append((int(r0["year"]), int(r1["year"]),
                        model_value(r1, "log") - model_value(r0, "log"),
                        provenance(r0), provenance(r1)))
    return out


def _window_growth(growth: Growth, s: int, t: int) -> tuple[float, list[Provenance]] | None:
    """Sum of real log growth over ``(s, t]`` and its rows, when every year is observed."""
    if all(y in growth for y in range(s + 1, t + 1)):
        return (sum(growth[y][0] for y in range(s + 1, t + 1)),
                [growth[y][1] for y in range(s + 1, t + 1)])
    return None


def deflator_obs(history: History, vintage: str) -> SeriesObs:
    """GDP deflator changes: nominal-GDP level changes minus real growth over the same window."""
    so = SeriesObs("gdp_deflator", "log")
    growth = _real_growth(history, vintage)
    for s, t, dlog, p0, p1 in _level_pairs(history, "gdp_nominal", vintage):
        wg = _window_growth(growth, s, t)
        if wg is None:
            continue
        rec = {"derived": True,
               "formula": f"log(gdp_nominal[{t}]/gdp_nominal[{s}]) - sum log(1+gdp_real growth, "
                          f"{s + 1}..{t})",
               "inputs": [p0, p1] + wg[1]}
        so.add_window(s, t, dlog - wg[0], rec)
    return so


def _ei_window(history: History, vintage: str
               ) -> dict[tuple[int, int], tuple[float, list[Provenance]]]:
    """Energy-intensity log change by window (s, t): from annual/cumulative changes or levels."""
    ei: dict[tuple[int, int], tuple[float, list[Provenance]]] = {}
    df = rows_of(history, "energy_intensity", vintage)
    for _, r in df.iterrows():
        b = _base(r)
        if r["kind"] == "change_pct":
            y = int(r["year"])
            ei.setdefault((y - 1, y), (model_value(r, "log"), [provenance(r)]))
        elif r["kind"] == "cumulative_change_pct" and b is not None:
            ei.setdefault((b, int(r["year"])), (model_value(r, "log"), [provenance(r)]))
    for s, t, dlog, p0, p1 in _level_pairs(history, "energy_intensity", vintage):
        ei.setdefault((s, t), (dlog, [p0, p1]))
    return ei


def _carbon_from_intensities(so: SeriesObs, history: History, vintage: str
                             ) -> set[tuple[int, int]]:
    """(a) co2-intensity and energy-intensity cumulative changes over the same window; returns
    the windows covered."""
    covered = set()
    ci = rows_of(history, "co2_intensity", vintage)
    for _, r in ci[ci["kind"] == "cumulative_change_pct"].iterrows():
        s, t = _base(r), int(r["year"])
        e = rows_of(history, "energy_intensity", vintage)
        e = e[(e["kind"] == "cumulative_change_pct") & (e["year"] == t)]
        e = e[[_base(x) == s for _, x in e.iterrows()]]
        if s is None or e.empty:
            continue
        er = e.iloc[0]
        value = model_value(r, "log") - model_value(er, "log")
        rec = {"derived": True,
               "formula": f"log(1+co2_intensity cum {s}..{t}) - log(1+energy_intensity cum "
                          f"{s}..{t})",
               "inputs": [provenance(r), provenance(er)]}
        so.add_window(s, t, value, rec)
        covered.add((s, t))
    return covered


def _carbon_from_co2_levels(so: SeriesObs, history: History, vintage: str,
                            covered: set[tuple[int, int]],
                            ei: dict[tuple[int, int], tuple[float, list[Provenance]]]) -> None:
    """(b) CO2 levels - real GDP - energy intensity (``ei``, by window) over the same window."""
    growth = _real_growth(history, vintage)
    for s, t, dlog, p0, p1 in _level_pairs(history, "co2_emissions", vintage):
        if (s, t) in covered:
            so.notes.append(f"carbon_factor {s}..{t}: CO2-level window not used, the official "
                            f"co2/energy-intensity window covers it")
            continue
        wg = _window_growth(growth, s, t)
        if wg is None or (s, t) not in ei:
            continue
        e_val, e_prov = ei[(s, t)]
        rec = {"derived": True,
               "formula": f"log(co2[{t}]/co2[{s}]) - sum log(1+gdp_real growth, {s + 1}..{t}) "
                          f"- dlog energy_intensity ({s}, {t}]",
               "inputs": [p0, p1] + wg[1] + e_prov}
        so.add_window(s, t, dlog - wg[0] - e_val, rec)


def _carbon_levels(so: SeriesObs, history: History, vintage: str) -> None:
    """(c) a level where CO2 and energy consumption are both observed."""
    co2 = _levels_of(rows_of(history, "co2_emissions", vintage))
    en = _levels_of(rows_of(history, "energy_consumption", vintage))
    for y in sorted(set(co2) & set(en)):
        c, e = co2[y], en[y]
        model_value(c, "log"), model_value(e, "log")
        level = 100.0 * float(c["value"]) / float(e["value"])   # Mt CO2 / 1e4 tce -> tCO2/tce
        so.add(y, "level", math.log(level), record={
            "derived": True, "formula": f"100 * co2_emissions[{y}] (Mt) / energy_consumption[{y}] "
                                        f"(1e4 tce) = {level:.4f} tCO2/tce",
            "inputs": [provenance(c), provenance(e)]})


def carbon_factor_obs(history: History, vintage: str) -> SeriesObs:
    """CO2 per unit of energy, from the three derivations (a), (b), (c) of the module docstring."""
    so = SeriesObs("carbon_factor", "log")
    ei = _ei_window(history, vintage)
    covered = _carbon_from_intensities(so, history, vintage)
    _carbon_from_co2_levels(so, history, vintage, covered, ei)
    _carbon_levels(so, history, vintage)
    return so


def driver_obs(history: History, name: str, vintage: str) -> SeriesObs:
    """The observations of a driver: derived for the deflator and carbon factor, else direct;
    with a note when some carry a source measurement error."""
    if name == "gdp_deflator":
        so = deflator_obs(history, vintage)
    elif name == "carbon_factor":
        so = carbon_factor_obs(history, vintage)
    else:
        so = direct_obs(history, name, vintage)
    note = error_note(name, [o.sd for o in so.obs])
    if note:
        so.notes.append(note)
    return so


# ============================================================================================
# housing delivery ratios and anchors
# ============================================================================================
def housing_log_ratios(history: History, vintage: str) -> tuple[list[float], list[dict]]:
    """``log(supplied / planned)`` of every window (or year) where both are observed, with the
    records for ``observations_used``."""
    planned = rows_of(history, HOUSING_PAIR[0], vintage)
    supplied = rows_of(history, HOUSING_PAIR[1], vintage)

    def key(r: Row) -> tuple[str, int | None, int]:
        return r["kind"], _base(r), int(r["year"])

    sup = {key(r): r for _, r in supplied.iterrows() if r["kind"] in ("level", "period_sum")}
    logs, used = [], []
    for _, p in planned.iterrows():
        k = key(p)
        if k not in sup:
            continue
        s = sup[k]
        vp, vs = model_value(p, "log"), model_value(s, "log")
        logs.append(vs - vp)
        window = f"({k[1]}, {k[2]}]" if k[1] is not None else k[2]
        used.append({"driver": HOUSING_DRIVER, "year": k[2], "kind": "log_ratio",
                     "base_year": k[1], "model_value": vs - vp, "derived": True,
                     "formula": f"log({HOUSING_PAIR[1]} / {HOUSING_PAIR[0]}) over {window}",
                     "inputs": [provenance(p), provenance(s)]})
    return logs, used


def find_anchors(history: History, as_of: int, vintage: str, names: list[str]
                 ) -> dict[str, Anchor]:
    """The latest observed level ``<= as_of`` of each series in ``names`` that has one."""
    out = {}
    for name in names:
        df = rows_of(history, name, vintage)
        df = df[(df["kind"] == "level") & (df["year"] <= as_of)]
        if df.empty:
            continue
        r = df.sort_values("year").iloc[-1]
        model_value(r, history.vocabulary[name].scale if name in history.vocabulary else "log")
        out[name] = Anchor(series=name, year=int(r["year"]), value=float(r["value"]),
                           unit=str(r["unit"]), source=str(r.get("source", "")))
    return out


def derived_anchors(history: History, as_of: int, vintage: str) -> dict[str, Anchor]:
    """Anchors of derived series never observed as levels, computed from observed levels of the
    same year (latest year <= as_of where all inputs exist):

    * ``co2_intensity`` [tCO2/万元] = 100 * co2_emissions [Mt] / gdp_nominal [亿元] (current
      prices: only ratios of it over time are meaningful, and those come from the drivers).
    """
    out = {}
    co2 = {y: r for y, r in _levels_of(rows_of(history, "co2_emissions", vintage)).items()
           if y <= as_of}
    gdp = {y: r for y, r in _levels_of(rows_of(history, "gdp_nominal", vintage)).items()
           if y <= as_of}
    years = sorted(set(co2) & set(gdp))
    if years:
        y = years[-1]
        c, g = co2[y], gdp[y]
        model_value(c, "log"), model_value(g, "log")
        out["co2_intensity"] = Anchor(
            series="co2_intensity", year=y, value=100.0 * float(c["value"]) / float(g["value"]),
            unit=SERIES["co2_intensity"].unit,
            source=f"derived: 100 * co2_emissions {y} ({c['source']}) / gdp_nominal {y} "
                   f"(current prices, vintage {g['vintage']}; {g['source']})")
    return out
