"""Calibration: history (≤ as_of, one vintage) → :class:`sim.model.FittedModel`.

Every driver and every generic indicator is the change process of :mod:`sim.model`, fitted by
maximum likelihood with :class:`sim.calibrate.statespace.ChangeProcess` on all the observations the data
hold for it — levels, annual changes and multi-year cumulative changes — on the transformed
scale (``log``, or ``logit`` for shares). Missing years stay missing.

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

Levels of different vintages are not comparable (Shenzhen's census revisions moved GDP and
population by up to 25 %): only the run of same-vintage levels that contains the latest level
enters as levels; earlier runs enter as changes between their consecutive levels.

Too little data for a parameter → a documented prior, recorded in ``DriverFit.fallbacks`` and
``FittedModel.fallbacks``:

* ``phi`` is estimated with at least ``MIN_OBS_AR`` informative observations, else ``phi = 0``;
* ``sigma_level`` likewise with at least ``MIN_OBS_LEVEL_SIGMA``, else ``PRIOR_SIGMA_LEVEL``;
* ``sigma_noise`` with at least ``MIN_OBS_NOISE``, else the pooled value: the median of the
  ``sigma_noise`` estimated from their own data by the other series of the same group (drivers,
  or generic indicators; the other group when a group has none; ``DEFAULT_SIGMA_NOISE`` when
  none at all);
* an estimate on the edge of ``sim.calibrate.statespace.THETA_BOUNDS`` (degenerate) is replaced by the
  same prior and the rest re-estimated — except ``sigma_noise`` on its *lower* edge (a series
  so smooth that the moving mean explains every change), which stays fixed at that edge (the
  likelihood's maximum; another series' volatility would be the wrong scale); once
  ``sigma_noise`` is fixed by a fallback, ``phi`` is set to 0 as well;
* a parameter covariance that is not finite and positive definite is replaced by
  ``PRIOR_THETA_VAR`` on the diagonal for the free parameters.

Informative observations: annual changes + cumulative changes + (levels - 1).

Shock correlation: the smoothed standardized AR shocks ``eps`` of the correlated drivers on the
years where each has annual information; pairwise Pearson correlations on overlapping years
(``r_ij = 0`` with fewer than ``MIN_CORR_OVERLAP`` common years), shrunk toward the identity,
``R = (1 - lambda) R_hat + lambda I`` with the Schäfer–Strimmer (2005) intensity
``lambda = sum_ij var(r_ij) / sum_ij r_ij^2``, ``var(r_ij) = (1 - r_ij^2)^2 / (n_ij - 1)``,
clipped to [0, 1] and raised if needed until the smallest eigenvalue is at least
``MIN_CORR_EIGENVALUE``.

Housing delivery ratio (``HOUSING_DRIVER``, ``kind = "iid_lognormal"``): ``log r = log(supplied /
planned)`` for every window (or year) where both are observed; ``mu`` = mean, ``sigma`` = sd
(priors below when there are fewer than 3 pairs).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import SimError
from sim.model import (CHANGE_PARAMS, RATIO_PARAMS, Anchor, DriverFit, FittedModel,
                       fitted_filename)
from sim.vocabulary import (CHANGE_DRIVERS, HOUSING_DRIVER, HOUSING_PLANNED, HOUSING_SERIES,
                            SERIES, expected_unit)
from sim.calibrate.statespace import MEASUREMENT_SD

# --- what is fitted ---------------------------------------------------------------------------
DRIVERS = CHANGE_DRIVERS
REQUIRED_DRIVERS = ("gdp_real",)
HOUSING_PAIR = (HOUSING_PLANNED, HOUSING_SERIES)
ANCHOR_SERIES = ("gdp_nominal", "gdp_per_capita", "gdp_per_capita_usd", "population_resident",
                 "usdcny", "energy_intensity", "energy_consumption", "co2_emissions",
                 "water_intensity", "water_use", "cod_emissions", "nh3n_emissions",
                 "so2_emissions", "nox_emissions")
DEFAULT_BASE_YEARS = (2005, 2010, 2015)

# --- priors and thresholds (judgements of this module, stated here and in every fallback) -----
MIN_OBS_AR = 12             # informative observations needed to estimate phi
MIN_OBS_LEVEL_SIGMA = 12    # ... to estimate sigma_level
MIN_OBS_NOISE = 4           # ... to estimate sigma_noise
PRIOR_PHI = 0.0
PRIOR_SIGMA_LEVEL = 0.005   # the mean change drifts ~0.5 percentage points a year
DEFAULT_SIGMA_NOISE = 0.03  # 3 % a year, only when no series could estimate its own
PRIOR_THETA_VAR = 0.25      # sd 0.5 on the theta scale (x/÷ 1.65 for a sigma)
MAX_THETA_VAR = 1.0         # sd 1 (x/÷ 2.7 for a sigma): beyond it the likelihood is flat and
                            # the inverse Hessian says nothing; capped, keeping correlations
MIN_CORR_OVERLAP = 5
MIN_CORR_EIGENVALUE = 0.05
HOUSING_PRIOR_MU = 0.0      # programmes deliver as planned on average
HOUSING_PRIOR_SIGMA = 0.15  # ±15 % delivery spread between programmes
N_PARAM_DRAWS = 30          # draws of theta used to report the parameter part of sd(mean)


# ============================================================================================
# observations
# ============================================================================================
@dataclass
class SeriesObs:
    """Observations of one driver on the model scale, with their provenance."""

    name: str
    scale: str
    obs: list = field(default_factory=list)       # sim.calibrate.statespace.Obs
    used: list = field(default_factory=list)      # dicts for FittedModel.observations_used
    notes: list = field(default_factory=list)

    def add(self, year, kind, value, base_year=None, record=None):
        from sim.calibrate.statespace import Obs
        self.obs.append(Obs(int(year), kind, float(value),
                            None if base_year is None else int(base_year)))
        rec = {"driver": self.name, "year": int(year), "kind": kind,
               "base_year": None if base_year is None else int(base_year),
               "model_value": float(value)}
        rec.update(record or {})
        self.used.append(rec)

    def n_informative(self) -> int:
        keys = {(o.kind, o.base_year, o.year) for o in self.obs}
        n_level = sum(1 for k in keys if k[0] == "level")
        return sum(1 for k in keys if k[0] != "level") + max(0, n_level - 1)


def _where(row) -> str:
    f = row.get("file", None)
    ln = row.get("line", None)
    if f is not None and not pd.isna(f):
        return f"{Path(str(f)).name}" + (f": line {int(ln)}" if ln is not None and not pd.isna(ln) else "")
    return f"{row['series']} {int(row['year'])}"


def _provenance(row) -> dict:
    base = row.get("base_year")
    return {"series": str(row["series"]), "year": int(row["year"]),
            "base_year": None if base is None or pd.isna(base) else int(base),
            "obs_kind": str(row["kind"]), "value": float(row["value"]), "unit": str(row["unit"]),
            "vintage": str(row.get("vintage", "")), "source": str(row.get("source", "")),
            "file": None if pd.isna(row.get("file", None)) else Path(str(row["file"])).name}


def _check_row(row, scale: str) -> float:
    """Validate one row and return its value on the model scale; SimError naming the row."""
    series = SERIES.get(row["series"])
    value = row["value"]
    where = _where(row)
    if value is None or pd.isna(value) or not np.isfinite(float(value)):
        raise SimError(f"{where}: {row['series']} {row['year']}: value is not a number "
                       f"(got {value!r})")
    value = float(value)
    kind = row["kind"]
    if series is not None:
        unit = expected_unit(series, kind)
        if str(row["unit"]) != unit:
            raise SimError(f"{where}: {row['series']} {row['year']} {kind}: unit "
                           f"'{row['unit']}', expected '{unit}'")
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


def _base(row):
    b = row.get("base_year")
    return None if b is None or pd.isna(b) else int(b)


def _rows(history, series: str, vintage: str) -> pd.DataFrame:
    if series not in set(history.frame["series"]):
        return history.frame.iloc[0:0]
    df = history.select(series, vintage=vintage)
    return df.sort_values(["kind", "year"]).reset_index(drop=True)


def _level_runs(levels: pd.DataFrame):
    """Split level rows (sorted by year) into runs of one vintage; the last run is current."""
    runs, cur, prev = [], [], None
    for _, r in levels.sort_values("year").iterrows():
        v = str(r.get("vintage", ""))
        if cur and v != prev:
            runs.append(cur)
            cur = []
        cur.append(r)
        prev = v
    if cur:
        runs.append(cur)
    return runs


def direct_obs(history, name: str, vintage: str, scale: str | None = None) -> SeriesObs:
    """Observations of ``name`` as held by the data (levels, annual and cumulative changes)."""
    scale = scale or SERIES[name].scale
    so = SeriesObs(name, scale)
    df = _rows(history, name, vintage)
    for _, r in df.iterrows():
        kind = r["kind"]
        if kind == "level":
            continue
        if kind == "period_sum":
            so.notes.append(f"{name}: period_sum rows not used for a change process")
            continue
        if scale == "logit":
            so.notes.append(f"{name} {int(r['year'])}: a % change of a share is not linear on "
                            f"the logit scale; not used")
            continue
        value = _check_row(r, scale)
        if kind == "change_pct":
            so.add(r["year"], "change", value, record=_provenance(r))
        else:
            b = _base(r)
            if b is None or b >= int(r["year"]):
                raise SimError(f"{_where(r)}: {name} {int(r['year'])}: cumulative change needs "
                               f"a base year before the year, got {b}")
            so.add(r["year"], "cum", value, base_year=b, record=_provenance(r))
    levels = df[df["kind"] == "level"]
    runs = _level_runs(levels)
    for i, run in enumerate(runs):
        current = i == len(runs) - 1
        vals = [(int(r["year"]), _check_row(r, scale), r) for r in run]
        if current:
            for y, v, r in vals:
                so.add(y, "level", v, record=_provenance(r))
        else:
            so.notes.append(f"{name}: levels {vals[0][0]}–{vals[-1][0]} are of vintage "
                            f"'{run[0].get('vintage', '')}', not comparable with later levels; "
                            f"used as changes between consecutive levels only")
            for (y0, v0, r0), (y1, v1, r1) in zip(vals, vals[1:]):
                rec = {"derived": True, "formula": f"log {name}[{y1}] - log {name}[{y0}]",
                       "inputs": [_provenance(r0), _provenance(r1)]}
                if y1 == y0 + 1:
                    so.add(y1, "change", v1 - v0, record=rec)
                else:
                    so.add(y1, "cum", v1 - v0, base_year=y0, record=rec)
    return so


def _real_growth(history, vintage) -> dict[int, tuple[float, dict]]:
    df = _rows(history, "gdp_real", vintage)
    out = {}
    for _, r in df[df["kind"] == "change_pct"].iterrows():
        out[int(r["year"])] = (_check_row(r, "log"), _provenance(r))
    return out


def _level_pairs(history, series, vintage):
    """Consecutive (in the data) pairs of same-vintage levels: [(s, t, dlog, prov_s, prov_t)]."""
    df = _rows(history, series, vintage)
    out = []
    for run in _level_runs(df[df["kind"] == "level"]):
        for r0, r1 in zip(run, run[1:]):
            out.append((int(r0["year"]), int(r1["year"]),
                        _check_row(r1, "log") - _check_row(r0, "log"),
                        _provenance(r0), _provenance(r1)))
    return out


def _window_growth(growth, s, t):
    if all(y in growth for y in range(s + 1, t + 1)):
        return (sum(growth[y][0] for y in range(s + 1, t + 1)),
                [growth[y][1] for y in range(s + 1, t + 1)])
    return None


def deflator_obs(history, vintage) -> SeriesObs:
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
        if t == s + 1:
            so.add(t, "change", dlog - wg[0], record=rec)
        else:
            so.add(t, "cum", dlog - wg[0], base_year=s, record=rec)
    return so


def _ei_window(history, vintage):
    """Energy-intensity log change by window (s, t): from annual/cumulative changes or levels."""
    ei = {}
    df = _rows(history, "energy_intensity", vintage)
    for _, r in df.iterrows():
        if r["kind"] == "change_pct":
            y = int(r["year"])
            ei.setdefault((y - 1, y), (_check_row(r, "log"), [_provenance(r)]))
        elif r["kind"] == "cumulative_change_pct" and _base(r) is not None:
            ei.setdefault((_base(r), int(r["year"])), (_check_row(r, "log"), [_provenance(r)]))
    for s, t, dlog, p0, p1 in _level_pairs(history, "energy_intensity", vintage):
        ei.setdefault((s, t), (dlog, [p0, p1]))
    return ei


def carbon_factor_obs(history, vintage) -> SeriesObs:
    so = SeriesObs("carbon_factor", "log")
    ei = _ei_window(history, vintage)
    covered = set()
    # (a) co2-intensity and energy-intensity cumulative changes over the same window
    ci = _rows(history, "co2_intensity", vintage)
    for _, r in ci[ci["kind"] == "cumulative_change_pct"].iterrows():
        s, t = _base(r), int(r["year"])
        e = _rows(history, "energy_intensity", vintage)
        e = e[(e["kind"] == "cumulative_change_pct") & (e["year"] == t)]
        e = e[[_base(x) == s for _, x in e.iterrows()]]
        if s is None or e.empty:
            continue
        er = e.iloc[0]
        value = _check_row(r, "log") - _check_row(er, "log")
        rec = {"derived": True,
               "formula": f"log(1+co2_intensity cum {s}..{t}) - log(1+energy_intensity cum "
                          f"{s}..{t})",
               "inputs": [_provenance(r), _provenance(er)]}
        if t == s + 1:
            so.add(t, "change", value, record=rec)
        else:
            so.add(t, "cum", value, base_year=s, record=rec)
        covered.add((s, t))
    # (b) CO2 levels - real GDP - energy intensity over the same window
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
        value = dlog - wg[0] - e_val
        if t == s + 1:
            so.add(t, "change", value, record=rec)
        else:
            so.add(t, "cum", value, base_year=s, record=rec)
    # (c) level where CO2 and energy consumption are both observed
    co2 = _rows(history, "co2_emissions", vintage)
    en = _rows(history, "energy_consumption", vintage)
    co2 = {int(r["year"]): r for _, r in co2[co2["kind"] == "level"].iterrows()}
    en = {int(r["year"]): r for _, r in en[en["kind"] == "level"].iterrows()}
    for y in sorted(set(co2) & set(en)):
        c, e = co2[y], en[y]
        _check_row(c, "log"), _check_row(e, "log")
        level = 100.0 * float(c["value"]) / float(e["value"])   # Mt CO2 / 1e4 tce -> tCO2/tce
        so.add(y, "level", math.log(level), record={
            "derived": True, "formula": f"100 * co2_emissions[{y}] (Mt) / energy_consumption[{y}] "
                                        f"(1e4 tce) = {level:.4f} tCO2/tce",
            "inputs": [_provenance(c), _provenance(e)]})
    return so


def driver_obs(history, name, vintage) -> SeriesObs:
    if name == "gdp_deflator":
        return deflator_obs(history, vintage)
    if name == "carbon_factor":
        return carbon_factor_obs(history, vintage)
    return direct_obs(history, name, vintage)


# ============================================================================================
# fitting one change process with its fallbacks
# ============================================================================================
@dataclass
class _Fit:
    name: str
    so: SeriesObs
    pf: object            # statespace.ProcessFit
    fallbacks: list
    n_inf: int
    own_sigma_noise: bool
    mean_sd_param: float = 0.0


def _fit_series(so: SeriesObs, as_of: int, base_years, generic: bool, pooled_sigma: float | None,
                pooled_from: str = "") -> _Fit:
    from sim.calibrate.statespace import PARAM_NAMES, THETA_BOUNDS, ChangeProcess, fit_process

    n_inf = so.n_informative()
    fixed, fallbacks = {}, []
    if generic:
        fixed["phi"] = 0.0
    elif n_inf < MIN_OBS_AR:
        fixed["phi"] = PRIOR_PHI
        fallbacks.append(f"phi = {PRIOR_PHI} (prior): {n_inf} informative observations, "
                         f"{MIN_OBS_AR} needed to estimate the AR coefficient")
    if n_inf < MIN_OBS_LEVEL_SIGMA:
        fixed["sigma_level"] = PRIOR_SIGMA_LEVEL
        fallbacks.append(f"sigma_level = {PRIOR_SIGMA_LEVEL} (prior): {n_inf} informative "
                         f"observations, {MIN_OBS_LEVEL_SIGMA} needed")
    if n_inf < MIN_OBS_NOISE:
        if pooled_sigma is None:
            return None  # second pass
        fixed["sigma_noise"] = pooled_sigma
        fallbacks.append(f"sigma_noise = {pooled_sigma:.4g} (pooled{pooled_from}): {n_inf} "
                         f"informative observations, {MIN_OBS_NOISE} needed")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ChangeProcess(so.obs, end=as_of, base_years=base_years)
            pf = fit_process(model, fixed)
            for _ in range(3):
                degenerate = [p for p in pf.at_bound if p not in fixed]
                bad = degenerate or ([] if pf.converged else [p for p in pf.free])
                if not bad:
                    break
                why = ("estimate on the edge of its range" if degenerate else
                       f"optimizer did not converge ({pf.message})")
                for p in bad:
                    i = PARAM_NAMES.index(p)
                    at_lower = pf.theta[i] - THETA_BOUNDS[i][0] < 0.05
                    if p == "phi":
                        fixed[p], label = PRIOR_PHI, "prior"
                    elif p == "sigma_level":
                        fixed[p], label = PRIOR_SIGMA_LEVEL, "prior"
                    elif degenerate and at_lower:
                        # no AR noise discernible beside the moving mean: the MLE is on the
                        # boundary, and another series' volatility would be the wrong scale
                        fixed[p] = float(np.exp(THETA_BOUNDS[i][0]))
                        label = "its lower bound, where the likelihood is maximal"
                    elif pooled_sigma is None:
                        return None  # needs the pooled sigma_noise: second pass
                    else:
                        fixed[p], label = pooled_sigma, "pooled" + pooled_from
                    fallbacks.append(f"{p} = {fixed[p]:.4g} ({label}): {why}")
                if "sigma_noise" in bad and "phi" not in fixed:
                    fixed["phi"] = PRIOR_PHI
                    fallbacks.append(f"phi = {PRIOR_PHI} (prior): not identified once sigma_noise "
                                     f"is fixed by a fallback")
                pf = fit_process(model, fixed)
            if pf.free and not pf.cov_ok:
                idx = [PARAM_NAMES.index(p) for p in pf.free]
                pf.theta_cov = np.zeros((3, 3))
                pf.theta_cov[idx, idx] = PRIOR_THETA_VAR
                fallbacks.append(f"parameter covariance not positive definite at the estimate; "
                                 f"prior variance {PRIOR_THETA_VAR} on the theta scale for "
                                 f"{', '.join(pf.free)}")
            if pf.free and pf.cov_ok:
                _cap_theta_variance(pf, fallbacks)
            mean_sd_param = _mean_sd_param(model, pf)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError, ArithmeticError) as exc:
        raise SimError(f"{so.name}: calibration failed ({exc}); observations: "
                       f"{_describe_obs(so)}") from None
    own = "sigma_noise" in pf.free
    return _Fit(so.name, so, pf, fallbacks, n_inf, own, mean_sd_param)


def _cap_theta_variance(pf, fallbacks: list[str]) -> None:
    """Cap each theta variance at ``MAX_THETA_VAR`` (rescaling its row and column).

    A nearly flat likelihood gives an inverse-Hessian variance of tens on the log-sigma scale;
    drawing from it produces sigmas of 50 and paths that overflow. The cap keeps the
    correlations and is recorded as a fallback.
    """
    from sim.calibrate.statespace import PARAM_NAMES

    var = np.diag(pf.theta_cov).copy()
    scale = np.ones_like(var)
    for i, v in enumerate(var):
        if v > MAX_THETA_VAR:
            scale[i] = np.sqrt(MAX_THETA_VAR / v)
            fallbacks.append(f"{PARAM_NAMES[i]}: variance {v:.3g} on the theta scale capped at "
                             f"{MAX_THETA_VAR} (likelihood nearly flat: weakly identified)")
    if np.any(scale < 1):
        pf.theta_cov = pf.theta_cov * np.outer(scale, scale)


def _mean_sd_param(model, pf) -> float:
    """sd of the filtered mean at as_of across ``N_PARAM_DRAWS`` draws of theta (seed 0)."""
    if not pf.free or not np.any(pf.theta_cov):
        return 0.0
    rng = np.random.default_rng(0)
    draws = rng.multivariate_normal(pf.theta, pf.theta_cov, size=N_PARAM_DRAWS,
                                    method="eigh")
    vals = []
    for th in draws:
        res = model.filter(model.transform_params(th), cov_type="none")
        vals.append(float(np.asarray(res.filtered_state)[1, -1]))
    return float(np.std(vals))


def _describe_obs(so: SeriesObs) -> str:
    parts = []
    for o in sorted(so.obs, key=lambda o: o.year):
        parts.append(f"{o.kind} {o.year}" + (f" from {o.base_year}" if o.base_year else ""))
    return ", ".join(parts) or "none"


def _driver_fit(f: _Fit, correlated: bool) -> DriverFit:
    pf = f.pf
    diag = {
        "loglike": float(pf.loglike), "converged": bool(pf.converged),
        "free_params": list(pf.free), "at_bound": list(pf.at_bound),
        "n_informative": int(f.n_inf), "optimizer_message": pf.message,
        "first_year": int(min(o.year if o.kind != "cum" else o.base_year for o in f.so.obs)),
        "last_obs_year": int(max(o.year for o in f.so.obs)),
        "mean_sd_state": float(math.sqrt(max(pf.state_cov[1, 1], 0.0))),
        "mean_sd_param": float(f.mean_sd_param),
        "eps": {str(k): v for k, v in sorted(pf.eps.items())},
        "notes": list(f.so.notes),
    }
    return DriverFit(
        name=f.name, kind="change", scale=f.so.scale, param_names=CHANGE_PARAMS,
        param_mean=np.asarray(pf.theta, float), param_cov=np.asarray(pf.theta_cov, float),
        state_names=tuple(pf.state_names), state_mean=np.asarray(pf.state_mean, float),
        state_cov=np.asarray(pf.state_cov, float), level_known=bool(pf.level_known),
        correlated=correlated, n_obs=int(pf.n_obs), fallbacks=tuple(f.fallbacks),
        diagnostics=diag)


# ============================================================================================
# housing, anchors, correlation
# ============================================================================================
def housing_fit(history, vintage) -> tuple[DriverFit, list]:
    planned = _rows(history, HOUSING_PAIR[0], vintage)
    supplied = _rows(history, HOUSING_PAIR[1], vintage)
    key = lambda r: (r["kind"], _base(r), int(r["year"]))  # noqa: E731
    sup = {key(r): r for _, r in supplied.iterrows() if r["kind"] in ("level", "period_sum")}
    logs, used = [], []
    for _, p in planned.iterrows():
        k = key(p)
        if k in sup:
            s = sup[k]
            vp, vs = _check_row(p, "log"), _check_row(s, "log")
            logs.append(vs - vp)
            used.append({"driver": HOUSING_DRIVER, "year": k[2], "kind": "log_ratio",
                         "base_year": k[1], "model_value": vs - vp, "derived": True,
                         "formula": f"log({HOUSING_PAIR[1]} / {HOUSING_PAIR[0]}) over "
                                    f"{'(%s, %s]' % (k[1], k[2]) if k[1] is not None else k[2]}",
                         "inputs": [_provenance(p), _provenance(s)]})
    n = len(logs)
    fallbacks = []
    if n >= 3:
        mu, sd = float(np.mean(logs)), float(np.std(logs, ddof=1))
        if sd <= 0:
            sd = HOUSING_PRIOR_SIGMA
            fallbacks.append(f"sigma = {HOUSING_PRIOR_SIGMA} (prior): the {n} ratios are equal")
            cov = np.diag([sd ** 2 / n, 0.0])
        else:
            cov = np.diag([sd ** 2 / n, 1.0 / (2 * (n - 1))])
    elif n >= 1:
        mu, sd = float(np.mean(logs)), HOUSING_PRIOR_SIGMA
        fallbacks.append(f"sigma = {HOUSING_PRIOR_SIGMA} (prior): {n} programme/delivery "
                         f"pair(s), 3 needed")
        cov = np.diag([sd ** 2 / n, 0.0])
    else:
        mu, sd = HOUSING_PRIOR_MU, HOUSING_PRIOR_SIGMA
        fallbacks.append(f"mu = {HOUSING_PRIOR_MU}, sigma = {HOUSING_PRIOR_SIGMA} (prior): no "
                         f"window with both {HOUSING_PAIR[0]} and {HOUSING_PAIR[1]}")
        cov = np.diag([sd ** 2, 0.0])
    fit = DriverFit(
        name=HOUSING_DRIVER, kind="iid_lognormal", scale="log", param_names=RATIO_PARAMS,
        param_mean=np.array([mu, math.log(sd)]), param_cov=cov, state_names=(),
        state_mean=np.zeros(0), state_cov=np.zeros((0, 0)), level_known=False,
        correlated=False, n_obs=n, fallbacks=tuple(fallbacks),
        diagnostics={"log_ratios": [float(x) for x in logs]})
    return fit, used


def find_anchors(history, as_of, vintage, names) -> dict[str, Anchor]:
    out = {}
    for name in names:
        df = _rows(history, name, vintage)
        df = df[(df["kind"] == "level") & (df["year"] <= as_of)]
        if df.empty:
            continue
        r = df.sort_values("year").iloc[-1]
        _check_row(r, SERIES[name].scale if name in SERIES else "log")
        out[name] = Anchor(series=name, year=int(r["year"]), value=float(r["value"]),
                           unit=str(r["unit"]), source=str(r.get("source", "")))
    return out


def derived_anchors(history, as_of, vintage) -> dict[str, Anchor]:
    """Anchors of derived series never observed as levels, computed from observed levels of the
    same year (latest year <= as_of where all inputs exist):

    * ``co2_intensity`` [tCO2/万元] = 100 * co2_emissions [Mt] / gdp_nominal [亿元] (current
      prices: only ratios of it over time are meaningful, and those come from the drivers).
    """
    out = {}
    co2 = _rows(history, "co2_emissions", vintage)
    gdp = _rows(history, "gdp_nominal", vintage)
    co2 = {int(r["year"]): r for _, r in co2[co2["kind"] == "level"].iterrows()
           if r["year"] <= as_of}
    gdp = {int(r["year"]): r for _, r in gdp[gdp["kind"] == "level"].iterrows()
           if r["year"] <= as_of}
    years = sorted(set(co2) & set(gdp))
    if years:
        y = years[-1]
        c, g = co2[y], gdp[y]
        _check_row(c, "log"), _check_row(g, "log")
        out["co2_intensity"] = Anchor(
            series="co2_intensity", year=y, value=100.0 * float(c["value"]) / float(g["value"]),
            unit=SERIES["co2_intensity"].unit,
            source=f"derived: 100 * co2_emissions {y} ({c['source']}) / gdp_nominal {y} "
                   f"(current prices, vintage {g['vintage']}; {g['source']})")
    return out


def shock_correlation(eps: dict[str, dict[int, float]]):
    """Shrunk correlation of standardized shocks (see module docstring).

    Returns ``(R (K, K), lambda, overlaps (K, K) int)`` for the names in ``eps`` order.
    """
    names = list(eps)
    k = len(names)
    r = np.eye(k)
    n = np.zeros((k, k), int)
    for i in range(k):
        n[i, i] = len(eps[names[i]])
        for j in range(i + 1, k):
            years = sorted(set(eps[names[i]]) & set(eps[names[j]]))
            n[i, j] = n[j, i] = len(years)
            if len(years) >= MIN_CORR_OVERLAP:
                a = np.array([eps[names[i]][y] for y in years])
                b = np.array([eps[names[j]][y] for y in years])
                if a.std() > 0 and b.std() > 0:
                    r[i, j] = r[j, i] = float(np.corrcoef(a, b)[0, 1])
    off = ~np.eye(k, dtype=bool) & (n >= MIN_CORR_OVERLAP)
    num = float(np.sum((1 - r[off] ** 2) ** 2 / np.maximum(n[off] - 1, 1)))
    den = float(np.sum(r[off] ** 2))
    lam = 1.0 if den <= 0 else min(1.0, num / den)
    while True:
        shrunk = (1 - lam) * r + lam * np.eye(k)
        if k == 0 or np.linalg.eigvalsh(shrunk).min() >= MIN_CORR_EIGENVALUE or lam >= 1:
            break
        lam = min(1.0, lam + 0.01)
    return shrunk, float(lam), n


# ============================================================================================
# the whole calibration
# ============================================================================================
def calibrate(history, as_of: int, vintage: str = "revised", base_years=None) -> FittedModel:
    """Fit every driver, the housing delivery ratio and every generic indicator on data ≤ as_of.

    Parameters
    ----------
    history : sim.history.History
    as_of : int
        Last year of information; observations dated later (cumulative ones by their end year)
        are not looked at.
    vintage : "first" | "revised"
        Which published values of GDP (and any other series with vintages) are used.
    base_years : sequence of int, optional
        Years ``b`` for the ``cum_from_b`` states; default ``DEFAULT_BASE_YEARS`` before as_of.
        The year of every anchor before as_of is added.
    """
    if vintage not in ("first", "revised"):
        raise SimError(f"vintage must be 'first' or 'revised', got {vintage!r}")
    as_of = int(as_of)
    h = history.upto(as_of)   # nothing later is ever looked at
    if len(h.frame) == 0:
        raise SimError(f"no observations dated {as_of} or earlier")
    present = set(h.frame["series"])

    generic_names = [s.name for s in SERIES.values() if s.role == "generic" and s.name in present]
    anchors = find_anchors(h, as_of, vintage, [n for n in ANCHOR_SERIES if n in present]
                           + generic_names)
    for name, a in derived_anchors(h, as_of, vintage).items():
        anchors.setdefault(name, a)
    by = DEFAULT_BASE_YEARS if base_years is None else tuple(base_years)
    by = tuple(sorted({int(b) for b in by if b < as_of}
                      | {a.year for a in anchors.values() if a.year < as_of}))

    fallbacks, notes, used = [], [], []
    # --- observations -----------------------------------------------------------------------
    series_obs: dict[str, tuple[SeriesObs, bool]] = {}
    for name in DRIVERS:
        so = driver_obs(h, name, vintage)
        series_obs[name] = (so, False)
    for name in generic_names:
        so = direct_obs(h, name, vintage)
        series_obs[name] = (so, True)

    skipped = {}
    for name, (so, generic) in series_obs.items():
        if not so.obs:
            skipped[name] = f"no usable observation dated {as_of} or earlier"
        elif so.n_informative() == 0:
            skipped[name] = (f"only {_describe_obs(so)} dated {as_of} or earlier: no change can "
                             f"be estimated from one observation")
        elif generic and not any(o.kind == "level" for o in so.obs):
            skipped[name] = "no level observation (the generic model needs one)"
    for name, why in skipped.items():
        if name in REQUIRED_DRIVERS:
            raise SimError(f"{name}: cannot be calibrated as of {as_of}: {why}")
        role = "generic indicator" if series_obs[name][1] else "driver"
        fallbacks.append(f"{name}: not fitted ({role}): {why}; targets on it are not evaluable")
        del series_obs[name]

    # --- pass 1: series with enough data for their own sigma_noise; pass 2: pooled ----------
    fits: dict[str, _Fit] = {}
    for name, (so, generic) in series_obs.items():
        f = _fit_series(so, as_of, by, generic, None)
        if f is not None:
            fits[name] = f
    own = {g: [float(np.exp(f.pf.theta[1])) for f in fits.values()
               if f.own_sigma_noise and series_obs[f.name][1] == g] for g in (False, True)}
    for name, (so, generic) in series_obs.items():
        if name in fits:
            continue
        group = own[generic] or own[not generic]
        if own[generic]:
            src = f" median over {len(own[generic])} {'generic indicators' if generic else 'drivers'}"
        elif own[not generic]:
            src = f" median over {len(own[not generic])} {'drivers' if generic else 'generic indicators'}"
        else:
            src = " none estimated: default"
        pooled = float(np.median(group)) if group else DEFAULT_SIGMA_NOISE
        fits[name] = _fit_series(so, as_of, by, generic, pooled, pooled_from=src)

    # --- assemble -----------------------------------------------------------------------------
    drivers: dict[str, DriverFit] = {}
    for name in list(DRIVERS) + generic_names:
        if name not in fits:
            continue
        f = fits[name]
        drivers[name] = _driver_fit(f, correlated=name in DRIVERS)
        fallbacks.extend(f"{name}: {fb}" for fb in f.fallbacks)
        notes.extend(f.so.notes)
        used.extend(f.so.used)
    hfit, hused = housing_fit(h, vintage)
    drivers[HOUSING_DRIVER] = hfit
    fallbacks.extend(f"{HOUSING_DRIVER}: {fb}" for fb in hfit.fallbacks)
    used.extend(hused)

    eps = {n: drivers[n].diagnostics["eps"] for n in DRIVERS if n in drivers}
    eps = {n: {int(y): v for y, v in e.items()} for n, e in eps.items()}
    corr, lam, overlap = shock_correlation(eps)
    shock_names = tuple(eps)
    offd = overlap[~np.eye(len(shock_names), dtype=bool)]
    notes.append(
        f"shock correlation: {len(shock_names)} drivers, pairwise overlaps "
        f"{int(offd.min()) if offd.size else 0}–{int(offd.max()) if offd.size else 0} years "
        f"(median {float(np.median(offd)) if offd.size else 0:g}); pairs with fewer than "
        f"{MIN_CORR_OVERLAP} common years set to 0; Schäfer–Strimmer shrinkage lambda = "
        f"{lam:.3f}")
    notes.append(f"measurement noise sd {MEASUREMENT_SD} on the model scale for every "
                 f"observation (rounding of published figures)")

    return FittedModel(
        as_of=as_of, vintage=vintage, data_hash=str(history.data_hash), drivers=drivers,
        anchors=anchors, shock_names=shock_names, shock_corr=corr, shrinkage=lam,
        base_years=by, observations_used=used, fallbacks=tuple(fallbacks),
        notes=tuple(dict.fromkeys(notes)), calibrator=calibrator_id(),
        not_fitted={name: why for name, why in skipped.items()})


def calibrator_id() -> str:
    """``<sim version>+<hash of the calibration code>``: a saved fit is reused only by the same code."""
    import hashlib

    from sim import __version__

    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for path in (here / "fit.py", here / "statespace.py", here.parent / "model.py"):
        h.update(path.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"
