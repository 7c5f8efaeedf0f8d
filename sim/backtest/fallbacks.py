"""Where a first-published backtest has to read a revised observation.

A ``--vintage first`` backtest reads, for every series, the ``first`` value of an observation,
else its ``unknown`` one, else the ``revised`` one (:meth:`sim.history.History.select`). The
last case is a fallback: the number was published after the origin (e.g. Shenzhen's GDP levels
2000–2012 restated after the economic censuses, with no first-published twin in the data). It is
used — calibration and base values need a value — but listed, one row per observation with
the origins that could see it::

    series, year, base_year, kind, value, source, first_origin, origins

``first_origin`` is the earliest origin with ``year <= origin``; ``origins`` how many of the
backtest's origins read it.
"""

from __future__ import annotations

from typing import Iterable

import pandas as pd

from sim.history import History

FALLBACK_COLUMNS = ["series", "year", "base_year", "kind", "value", "source", "first_origin",
                    "origins"]


def vintage_fallbacks(history: History, origins: Iterable[int], vintage: str) -> pd.DataFrame:
    """The observations of another vintage a backtest in ``vintage`` reads because the
    vintage it asks for has none (``FALLBACK_COLUMNS``); empty for ``revised`` (the latest
    numbers are what a revised backtest asks for)."""
    origins = sorted(int(o) for o in origins)
    if vintage != "first" or not origins:
        return pd.DataFrame(columns=FALLBACK_COLUMNS)
    rows = []
    for series in history.series_names():
        sel = history.select(series, vintage)
        other = sel[sel["vintage"] == "revised"]
        for r in other.itertuples(index=False):
            seen = [o for o in origins if int(r.year) <= o]
            if seen:
                rows.append(dict(series=series, year=int(r.year),
                                 base_year=None if pd.isna(r.base_year) else int(r.base_year),
                                 kind=r.kind, value=float(r.value), source=r.source,
                                 first_origin=seen[0], origins=len(seen)))
    out = pd.DataFrame(rows, columns=FALLBACK_COLUMNS)
    out["base_year"] = out["base_year"].astype("Int64")
    return out.sort_values(["series", "kind", "year"]).reset_index(drop=True)
