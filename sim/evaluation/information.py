"""How much information stands behind each evaluated row: the ``information`` and
``low_information`` columns of ``targets.csv``.

A row whose probability uses the trend (``method`` trend+record or trend only) rests on the
fitted process of its ``series`` (:class:`sim.model.Information`, ``sim.calibrate.priors``): its
informative observations and the share of the forecast variance at the target year that comes
from priors. A derived series (``sim.vocabulary.COMPOSITION``) adds its drivers' variances
(independence assumed, for this measure only) and has the fewest informative observations of
them; affordable housing supplied rests on the delivery ratio. Low information: some driver
has fewer informative observations than its fit needs for its own noise scale, or at least half
the (added) variance at the target year comes from priors. The variance is that of the
level at the target year (a cumulative change's base-year level is not subtracted).

``low_information`` is the plan-record flag already in the table (record-only rows with a thin
family) OR, for rows using the trend, :meth:`SeriesInformation.low` at the target year.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.evaluation.record import RECORD_OFF, RECORD_ONLY, THIN_TREND, TREND_ONLY, TREND_RECORD
from sim.model import FittedModel, Information
from sim.vocabulary import COMPOSITION, HOUSING_DRIVER, HOUSING_SERIES

USES_TREND = (TREND_RECORD, TREND_ONLY, RECORD_OFF)


@dataclass(frozen=True)
class SeriesInformation:
    """The information of one target series: its drivers' :class:`Information` combined."""

    n_informative: int      # the fewest of its drivers
    var_total: np.ndarray   # (INFO_HORIZONS,) the drivers' variances added
    var_prior: np.ndarray   # (INFO_HORIZONS,)
    too_few: bool           # some driver has fewer informative observations than its min_obs
    max_prior_share: float

    def prior_share(self, h: int) -> float:
        """Share of the variance ``h`` years after as_of from priors (0 for h <= 0)."""
        if h <= 0 or len(self.var_total) == 0:
            return 0.0
        i = min(h, len(self.var_total)) - 1
        total = float(self.var_total[i])
        return float(self.var_prior[i]) / total if total > 0 else 0.0

    def low(self, h: int) -> bool:
        """Low information at horizon ``h``: too few observations, or at least
        ``max_prior_share`` of the variance from priors."""
        return self.too_few or self.prior_share(h) >= self.max_prior_share


def series_information(fitted: FittedModel, series: str) -> SeriesInformation | None:
    """The information behind ``series`` (a driver, a derived series, housing supplied), or
    None when some driver it needs has none (not fitted, or a fit from before the measure)."""
    names = ([d for d, _ in COMPOSITION[series]] if series in COMPOSITION
             else [HOUSING_DRIVER] if series == HOUSING_SERIES else [series])
    infos: list[Information] = []
    for name in names:
        fit = fitted.drivers.get(name)
        if fit is None or fit.information is None:
            return None
        infos.append(fit.information)
    n_h = min(len(i.var_total) for i in infos)
    total = np.sum([np.asarray(i.var_total[:n_h]) for i in infos], axis=0)
    prior = np.sum([np.asarray(i.var_prior[:n_h]) for i in infos], axis=0)
    return SeriesInformation(min(i.n_informative for i in infos), total, prior,
                             any(i.n_informative < i.min_obs for i in infos),
                             min(i.max_prior_share for i in infos))


def describe(info: SeriesInformation, h: int, year: int) -> str:
    """``2 informative observations; 80 % of the 2020 variance from priors``."""
    n = info.n_informative
    text = f"{n} informative observation{'' if n == 1 else 's'}"
    if h > 0:
        text += f"; {100 * info.prior_share(h):.0f} % of the {year} variance from priors"
    return text


def _row(row: pd.Series, fitted: FittedModel,
         cache: dict[str, SeriesInformation | None]) -> tuple[str, bool]:
    """``(information, low_information)`` of one row of the evaluation table."""
    raw = row.get("low_information", False)
    flag = bool(raw) if isinstance(raw, (bool, np.bool_)) else str(raw).strip().lower() == "true"
    method = row.get("method")
    series = row.get("series")
    if method == RECORD_ONLY:
        n = row.get("record_n_family")
        fam = f" ({int(n)} past targets of its family)" if pd.notna(n) else ""
        note = str(row.get("record_note") or "")
        if note.startswith(THIN_TREND):      # a trend exists but rests on too little
            return f"{note.split(';')[0]}: plan record only{fam}", True
        return f"no trend forecast: plan record only{fam}", flag
    if method not in USES_TREND or not isinstance(series, str) or not series:
        return "", flag
    if series not in cache:
        cache[series] = series_information(fitted, series)
    info = cache[series]
    if info is None:
        return "information measure unavailable (fit without it)", flag
    year = int(row["target_year"])
    h = year - fitted.as_of
    return describe(info, h, year), flag or info.low(h)


def add_information(table: pd.DataFrame, fitted: FittedModel) -> pd.DataFrame:
    """``table`` (``targets.csv`` rows: one per scenario x target, with ``series``,
    ``target_year``, ``method`` and the record's ``low_information``) with the columns
    ``information`` (short text) and ``low_information`` (the record flag OR, for rows using
    the trend, the trend's flag at the target year); a new frame, rows and order kept."""
    out = table.copy()
    if len(out) == 0:
        out["information"] = pd.Series(dtype=str)
        out["low_information"] = pd.Series(dtype=bool)
        return out
    cache: dict[str, SeriesInformation | None] = {}
    pairs = [_row(r, fitted, cache) for _, r in out.iterrows()]
    out["information"] = [p[0] for p in pairs]
    out["low_information"] = [p[1] for p in pairs]
    return out
