"""Does an ensemble agree with what made it? Its coordinates against its own attributes and the
``manifest.json`` of its results folder.

An ``ensemble.nc`` whose years were shifted by one (or whose draws or scenarios differ from
the run that wrote it) would otherwise reach the evaluator and fail deep inside it (a
``KeyError`` on a year, an ``IndexError`` on an empty selection). Checked here, once, when the
file is read (:func:`sim.ensemble.read_netcdf`), it is a :class:`~sim.errors.SimError` naming
the file and the disagreement::

    year     consecutive integers as_of .. horizon (attributes as_of, horizon)
    draw     0 .. N-1, N = attribute draws
    scenario distinct names
    and, when manifest.json beside the file says so: the same as_of, horizon, draws, scenarios
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import xarray as xr

from sim.errors import SimError


def _int(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (not a bool), else None."""
    if isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return int(f) if np.isfinite(f) and f == int(f) else None


def manifest_beside(path: Path) -> Mapping[str, Any]:
    """The ``manifest.json`` next to ``path`` as a dict ({} when missing or unreadable)."""
    try:
        doc = json.loads((Path(path).parent / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return doc if isinstance(doc, dict) else {}


def coordinate_problems(ds: xr.Dataset, manifest: Mapping[str, Any] | None = None) -> list[str]:
    """What disagrees between the coordinates of ``ds``, its attributes and ``manifest``
    (empty when all agree; an empty dimension is left to the caller's own message)."""
    if not all(ds.sizes.get(d) for d in ("scenario", "draw", "year")):
        return []
    found: list[str] = []
    years = np.asarray(ds["year"].values)
    if not np.issubdtype(years.dtype, np.number) or np.any(years != np.round(years)):
        return [f"coordinate year is not whole years (got {years[:3].tolist()}...)"]
    years = years.astype(np.int64)
    if years.size > 1 and np.any(np.diff(years) != 1):
        found.append(f"coordinate year is not consecutive years (got {years.tolist()[:6]}...)")
    first, last = int(years[0]), int(years[-1])
    draws = ds.sizes["draw"]
    if not np.array_equal(np.asarray(ds["draw"].values), np.arange(draws)):
        found.append(f"coordinate draw is not 0 .. {draws - 1}")
    names = [str(s) for s in ds["scenario"].values]
    if len(set(names)) != len(names):
        found.append(f"coordinate scenario repeats a name (got {names})")
    claims: list[tuple[str, Mapping[str, Any]]] = [("attribute", ds.attrs)]
    if manifest:
        claims.append(("manifest.json", manifest))
    for source, facts in claims:
        for key, have, what in (("as_of", first, "the first year"),
                                ("horizon", last, "the last year"),
                                ("draws", draws, "the number of draws")):
            said = _int(facts.get(key)) if key in facts else None
            if said is not None and said != have:
                found.append(f"{source} {key} is {said} but {what} of the ensemble is {have}")
    listed = manifest.get("scenarios") if manifest else None
    if isinstance(listed, list) and all(isinstance(s, str) for s in listed) and listed != names:
        found.append(f"manifest.json lists scenarios {listed} but the ensemble holds {names}")
    return found


def check_coordinates(ds: xr.Dataset, path: Path) -> None:
    """:class:`SimError` naming ``path`` when :func:`coordinate_problems` finds any, with the
    ``manifest.json`` beside it."""
    found = coordinate_problems(ds, manifest_beside(path))
    if found:
        raise SimError(f"{path}: does not match the run that wrote it: {'; '.join(found[:3])} "
                       "(damaged or edited; run `sim run` again)")
