"""The calibration cache: a fitted model is reused only when data, code and as_of match.

A fit is saved as ``<cache>/fitted_asof<Y>_<vintage>.json``. The cache lives where the user
says (``cache_dir=``, ``--cache DIR``, or the ``SIM_CACHE_DIR`` environment variable) and
otherwise in the user's cache folder (``$XDG_CACHE_HOME/sim/fitted``, default
``~/.cache/sim/fitted``) — never silently inside the repository. A cache that cannot be
written is reported with a warning and the run goes on with the fresh fit.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Iterable

from sim.calibrate.fit import DEFAULT_BASE_YEARS, calibrate, calibrator_id
from sim.errors import SimError
from sim.history import History, load_history
from sim.model import FittedModel, fitted_filename


class CacheWarning(UserWarning):
    """The calibration cache could not be read or written; the run used a fresh fit."""


def default_cache_dir() -> Path:
    """``$SIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/sim/fitted``, else ``~/.cache/sim/fitted``."""
    if os.environ.get("SIM_CACHE_DIR"):
        return Path(os.environ["SIM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sim" / "fitted"


def load_or_calibrate(as_of: int, vintage: str = "revised", *, history: History | None = None,
                      data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                      base_years: Iterable[int] | None = None) -> FittedModel:
    """A fitted model on the data <= ``as_of``: the cached one when it was fitted on the same data
    (same ``data_hash``) by the same calibration code (``calibrator_id``) and has a
    ``cum_from_b`` state for every requested base year; otherwise calibrate (base years:
    ``DEFAULT_BASE_YEARS``, the requested ones and those of the cached file) and cache it.

    ``history`` is used when given (no second read of the data directory), else
    ``load_history(data_dir)``.
    """
    as_of = int(as_of)
    if history is None:
        history = load_history(data_dir)
    path = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = path / fitted_filename(as_of, vintage)
    wanted = {int(b) for b in (*DEFAULT_BASE_YEARS, *(base_years or ())) if int(b) < as_of}
    if path.is_file():
        try:
            fm: FittedModel | None = FittedModel.load(path)
        except (SimError, KeyError, TypeError, ValueError, AttributeError, OSError):
            fm = None
        if fm is not None and fm.data_hash == history.data_hash and fm.as_of == as_of \
                and fm.vintage == vintage and fm.calibrator == calibrator_id():
            if wanted <= set(fm.base_years):
                return fm
            wanted |= set(fm.base_years)
    fm = calibrate(history, as_of, vintage, base_years=sorted(wanted))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fm.save(path)
    except OSError as exc:
        warnings.warn(f"calibration cache {path.parent} is not writable ({exc.strerror}); "
                      f"the fit is not cached (set SIM_CACHE_DIR to a writable folder)",
                      CacheWarning, stacklevel=2)
    return fm
