"""The calibration cache: a fitted model is reused only when it is verified and still current.

A fit is saved as ``<cache>/fitted_asof<Y>_<vintage>.json``. The cache lives where the user
says (``cache_dir=``, ``--cache DIR``, or the ``SIM_CACHE_DIR`` environment variable) and
otherwise in the user's cache folder (``$XDG_CACHE_HOME/sim/fitted``, default
``~/.cache/sim/fitted``) — never silently inside the repository.

A cached file is reused only when (:func:`cached_fit`)

* it loads as a :class:`~sim.model.FittedModel` of the current ``format_version`` whose
  ``sha256`` checksum matches its contents (a hand-edited parameter is detected),
* its contents validate (:meth:`~sim.model.FittedModel.validate`: finite, well-shaped,
  positive semi-definite covariances, a proper correlation matrix, consistent state names),
* and it is current: same calibration code (``calibrator_id``), data (``data_hash``),
  ``as_of`` and vintage, with a ``cum_from_b`` state for every base year asked for.

Otherwise the model is calibrated again and the file replaced. A damaged, edited or invalid
file is reported with a :class:`CacheWarning` naming the reason; a file that is merely out of
date (other data, other code, missing base years) is replaced silently (the reason goes to the
``sim.calibrate.cache`` logger). A cache that cannot be written is reported with a warning and
the run goes on with the fresh fit.

Trust: the checksum detects damage (a truncated file, a hand-edited number), not a forgery: a
person who can write the cache folder can also write a matching checksum. The cache folder is
trusted like the installation itself; ``--no-cache`` (:func:`cache_dir_for`) calibrates afresh
without reading or writing it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from sim.calibrate.fit import DEFAULT_BASE_YEARS, calibrate, calibrator_id
from sim.errors import SimError
from sim.history import History, load_history
from sim.model import FittedModel, fitted_filename

log = logging.getLogger(__name__)


class CacheWarning(UserWarning):
    """A cached fit was rejected (damaged, edited, invalid) or the cache could not be written;
    the run used a fresh fit."""


def default_cache_dir() -> Path:
    """``$SIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/sim/fitted``, else ``~/.cache/sim/fitted``."""
    if os.environ.get("SIM_CACHE_DIR"):
        return Path(os.environ["SIM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sim" / "fitted"


@contextmanager
def cache_dir_for(cache_dir: str | Path | None, no_cache: bool = False
                  ) -> Iterator[Path | None]:
    """``with cache_dir_for(args.cache, args.no_cache) as cache:`` — the calibration cache of
    a command: ``cache_dir`` (None: :func:`default_cache_dir`), or with ``no_cache`` a new
    empty folder removed afterwards, so the model is calibrated afresh and the user's cache is
    neither read nor written."""
    if not no_cache:
        yield Path(cache_dir) if cache_dir is not None else None
        return
    with tempfile.TemporaryDirectory(prefix="sim-no-cache-") as fresh:
        yield Path(fresh)


def cached_fit(path: Path, *, as_of: int, vintage: str, data_hash: str,
               base_years: set[int]) -> tuple[FittedModel | None, str, bool]:
    """``(model, reason, damaged)``: the cached fit at ``path`` when it can be reused, else
    None with why not, and whether the file is damaged/edited/invalid (not just out of date).
    """
    try:
        fm = FittedModel.load(path)
    except SimError as exc:
        return None, str(exc), True
    if not isinstance(fm, FittedModel):   # pragma: no cover - load returns a model or raises
        return None, f"{path}: not a fitted model", True
    found = fm.problems()
    if found:
        return None, f"{path}: " + "; ".join(found[:3]), True
    stale = [what for what, ok in (
        (f"calibration code {fm.calibrator!r} (now {calibrator_id()!r})",
         fm.calibrator == calibrator_id()),
        (f"data hash {fm.data_hash[:12]} (now {data_hash[:12]})", fm.data_hash == data_hash),
        (f"as_of {fm.as_of} (asked {as_of})", fm.as_of == as_of),
        (f"vintage {fm.vintage} (asked {vintage})", fm.vintage == vintage),
        (f"base years {sorted(fm.base_years)} lack {sorted(base_years - set(fm.base_years))}",
         base_years <= set(fm.base_years))) if not ok]
    if stale:
        return None, f"{path}: out of date: " + "; ".join(stale), False
    return fm, "", False


def load_or_calibrate(as_of: int, vintage: str = "revised", *, history: History | None = None,
                      data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                      base_years: Iterable[int] | None = None) -> FittedModel:
    """A fitted model on the data <= ``as_of``: the cached one when :func:`cached_fit` accepts
    it, otherwise calibrated now (base years: ``DEFAULT_BASE_YEARS``, the requested ones and
    those of a current cached file) and cached.

    ``history`` is used when given (no second read of the data directory), else
    ``load_history(data_dir)``. A rejected damaged or edited file gives a CacheWarning.
    """
    as_of = int(as_of)
    if history is None:
        history = load_history(data_dir)
    path = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = path / fitted_filename(as_of, vintage)
    wanted = {int(b) for b in (*DEFAULT_BASE_YEARS, *(base_years or ())) if int(b) < as_of}
    if path.is_file():
        fm, reason, damaged = cached_fit(path, as_of=as_of, vintage=vintage,
                                         data_hash=history.data_hash, base_years=wanted)
        if fm is not None:
            return fm
        if damaged:
            warnings.warn(f"calibration cache: {reason}; calibrating again and replacing it",
                          CacheWarning, stacklevel=2)
        else:
            log.info("calibration cache: %s; calibrating again", reason)
            old = _current_base_years(path, history.data_hash, as_of, vintage)
            wanted |= old
    fm = calibrate(history, as_of, vintage, base_years=sorted(wanted))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fm.save(path)
    except OSError as exc:
        warnings.warn(f"calibration cache {path} cannot be written ({exc.strerror}); "
                      f"the fit is not cached (set SIM_CACHE_DIR to a writable folder)",
                      CacheWarning, stacklevel=2)
    return fm


def _current_base_years(path: Path, data_hash: str, as_of: int, vintage: str) -> set[int]:
    """Base years of a cached fit of the same data, code, as_of and vintage (kept when it is
    recalibrated for more base years), else none."""
    try:
        fm = FittedModel.load(path)
    except SimError:
        return set()
    if (fm.data_hash, fm.as_of, fm.vintage, fm.calibrator) == (data_hash, as_of, vintage,
                                                               calibrator_id()):
        return {int(b) for b in fm.base_years}
    return set()
