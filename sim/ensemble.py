"""The ensemble: an xarray Dataset of every simulated series, and its NetCDF file.

Layout (CF conventions where they apply)::

    dims    scenario (S), draw (N, a CF "realization"), year (Y+1: as_of..horizon, integer)
    <series>(scenario, draw, year)   natural-scale value; for a series with no observed level
                                     (``attrs["relative_to_as_of"] = 1``) an index with as_of = 1
    attrs["not_simulated"]           JSON {series: why calibration could not fit it}
    attrs["ignored_levers"]          JSON [message, ...] (levers on drivers not calibrated)
    <series>_log_change_since_<b>(draw)
                                     log(S_as_of / S_b) for base years b < as_of — the part of a
                                     cumulative-change window already behind as_of, drawn from
                                     the filtered state (identical in every scenario)

Evaluation works on this Dataset alone, so ``sim report`` can rebuild every table from
``ensemble.nc`` without re-simulating. Facts that must survive NetCDF travel as JSON attributes;
:func:`ensemble_facts` is the one reader that turns them back into objects.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sys
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import h5netcdf
import h5py
import numpy as np
import xarray as xr

from sim.engine.simulation import Simulation, series_paths
from sim.ensemble_check import check_coordinates
from sim.errors import SimError
from sim.model import FittedModel
from sim.vocabulary import COMPOSITION, HOUSING_SERIES, SERIES, Series

SINCE = "_log_change_since_"


@dataclass(frozen=True)
class EnsembleFacts:
    """What an ensemble's attributes say about how it was made, as objects (not JSON text)."""

    as_of: int
    not_simulated: dict[str, str] = field(default_factory=dict)  # series -> why not calibrated
    ignored_levers: tuple[str, ...] = ()                        # levers dropped, with reasons
    vintage: str = ""
    seed: int | None = None
    data_hash: str = ""
    summaries_only: bool = False
    scenario_resolved: str = ""
    versions: dict[str, str] = field(default_factory=dict)      # package -> version


def _json_attr(attrs: Mapping[str, Any], key: str, empty: Any) -> Any:
    """The JSON attribute ``key`` parsed, of the same type as ``empty`` (a dict or a list)."""
    raw = attrs.get(key)
    if raw is None or raw == "":
        return empty
    try:
        value = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    except ValueError:
        raise SimError(f"ensemble attribute {key!r} is not JSON (got {str(raw)[:60]!r})") from None
    if not isinstance(value, type(empty)):
        raise SimError(f"ensemble attribute {key!r}: expected a JSON {type(empty).__name__}, "
                       f"got {type(value).__name__}")
    return value


def _int_attr(attrs: Mapping[str, Any], key: str, required: bool) -> int | None:
    raw = attrs.get(key)
    if raw is None:
        if required:
            raise SimError(f"ensemble attribute {key!r} is missing (not an ensemble sim wrote?)")
        return None
    try:
        return int(raw)
    except (TypeError, ValueError, OverflowError):
        raise SimError(f"ensemble attribute {key!r}: expected a whole number, got {raw!r}") from None


def ensemble_facts(ds: xr.Dataset) -> EnsembleFacts:
    """The one reader of an ensemble's attributes (``not_simulated``, ``ignored_levers``, ...).

    Works on a Dataset from :func:`build_dataset` or read back from ``ensemble.nc``; an
    attribute of the wrong type is a :class:`~sim.errors.SimError` naming it.
    """
    a = ds.attrs
    as_of = _int_attr(a, "as_of", required=True)
    assert as_of is not None
    return EnsembleFacts(
        as_of=as_of,
        not_simulated={str(k): str(v) for k, v in _json_attr(a, "not_simulated", {}).items()},
        ignored_levers=tuple(str(m) for m in _json_attr(a, "ignored_levers", [])),
        vintage=str(a.get("vintage") or ""), seed=_int_attr(a, "seed", required=False),
        data_hash=str(a.get("data_hash") or ""), summaries_only=bool(a.get("summaries_only", 0)),
        scenario_resolved=str(a.get("scenario_resolved") or ""),
        versions={str(k): str(v) for k, v in _json_attr(a, "versions", {}).items()})


def ensemble_of(sim: Simulation, fitted: FittedModel, attrs: Mapping[str, Any] | None = None,
                vocabulary: Mapping[str, Series] = SERIES) -> xr.Dataset:
    """The ensemble Dataset of an engine :class:`~sim.engine.simulation.Simulation`: every
    series (:func:`~sim.engine.simulation.series_paths`) via :func:`build_dataset`."""
    return build_dataset(sim, fitted, series_paths(sim, fitted), dict(attrs or {}), vocabulary)


def build_dataset(sim: Simulation, fitted: FittedModel, paths: dict[str, np.ndarray],
                  attrs: Mapping[str, Any], vocabulary: Mapping[str, Series] = SERIES
                  ) -> xr.Dataset:
    """Assemble the Dataset from an engine ``Simulation`` and its ``series_paths``.
    ``vocabulary`` (the run's, ``history.vocabulary``) gives the variables' labels and units.

    ``paths[name]`` is (S, N, Y+1) on the natural scale (NaN when unanchored).
    """
    years = np.asarray(sim.years, dtype=np.int64)
    coords = {
        "scenario": ("scenario", list(sim.scenarios)),
        "draw": ("draw", np.arange(sim.delta.shape[2], dtype=np.int64)),
        "year": ("year", years),
    }
    ds = xr.Dataset(coords=coords)
    ds["draw"].attrs.update(standard_name="realization", long_name="Monte Carlo draw")
    ds["year"].attrs.update(long_name="calendar year", units="1")
    d_index = {d: i for i, d in enumerate(sim.drivers)}
    for name, arr in paths.items():
        var = _series_variable(sim, name, arr, d_index, vocabulary, fitted)
        if var is None:
            continue
        ds[name] = var
        if name == HOUSING_SERIES:
            continue
        for b_idx, b in enumerate(sim.base_years):
            if b >= fitted.as_of:
                continue
            since = _log_change_since(sim, name, b_idx, d_index)
            if since is not None:
                ds[f"{name}{SINCE}{b}"] = xr.DataArray(
                    since, dims=("draw",),
                    attrs={"long_name": f"log({name}[as_of] / {name}[{b}]), filtered on data <= as_of",
                           "units": "1"})
    ds.attrs.update({k: (json.dumps(v) if isinstance(v, (dict, list, tuple)) else v)
                     for k, v in attrs.items()})
    ds.attrs["Conventions"] = "CF-1.10"
    ds.attrs["as_of"] = int(fitted.as_of)
    ds.attrs["not_simulated"] = json.dumps(dict(getattr(fitted, "not_fitted", {}) or {}),
                                           ensure_ascii=False)
    return ds


def _series_variable(sim: Simulation, name: str, arr: np.ndarray, d_index: Mapping[str, int],
                     vocabulary: Mapping[str, Series] = SERIES,
                     fitted: FittedModel | None = None) -> xr.DataArray | None:
    """The (scenario, draw, year) variable of one series, with its CF attributes; a driver or
    derived series without an observed level becomes an index with as_of = 1 (None when it
    cannot be formed)."""
    meta = vocabulary.get(name)
    relative = False
    values = np.asarray(arr, dtype=np.float64)
    if (name in COMPOSITION or name in d_index) and name != HOUSING_SERIES \
            and np.all(np.isnan(values[..., 0])):
        fit = fitted.drivers.get(name) if fitted is not None else None
        rel = _relative_path(sim, name, d_index, vocabulary[name].scale if name in vocabulary
                             else fit.scale if fit is not None else "log")
        if rel is None:
            return None
        values, relative = rel, True
    var = xr.DataArray(values, dims=("scenario", "draw", "year"))
    var.attrs["long_name"] = meta.label_en if meta else name
    if meta:
        var.attrs["long_name_zh"] = meta.label_zh
        var.attrs["units"] = "1" if relative else meta.unit
        var.attrs["scale"] = meta.scale
    if relative:
        var.attrs["relative_to_as_of"] = 1
    return var


def _log_change_since(sim: Simulation, name: str, b_idx: int, d_index: Mapping[str, int]
                      ) -> np.ndarray | None:
    """``log(S[as_of] / S[b])`` (N,) of a driver or derived series, None when not identified."""
    if name in d_index:
        v = sim.cum0[d_index[name], b_idx]
        return None if np.all(np.isnan(v)) else v
    if name in COMPOSITION:
        total = np.zeros(sim.cum0.shape[2])
        for d, sign in COMPOSITION[name]:
            part = _log_change_since(sim, d, b_idx, d_index)
            if part is None:
                return None
            total = total + sign * part
        return total
    return None


def _relative_path(sim: Simulation, name: str, d_index: Mapping[str, int],
                   scale: str = "log") -> np.ndarray | None:
    """exp(sum_d sign_d * delta_d): the series relative to its as_of value, (S, N, Y+1)."""
    parts = COMPOSITION.get(name, ((name, 1),))
    total = np.zeros(sim.delta.shape[:1] + sim.delta.shape[2:])
    for d, sign in parts:
        if d not in d_index:
            return None
        total = total + sign * sim.delta[:, d_index[d]]
    if scale != "log":
        return None
    return np.exp(total)


#: how the draws are stored: float32 (7 significant digits, far below the Monte Carlo error of
#: any quantile) unless a run asks for float64; P(met) is computed from the float64 draws in
#: memory before they are written, so it does not depend on this
ENSEMBLE_DTYPES = ("float32", "float64")


def _dtype(dtype: str) -> str:
    if dtype not in ENSEMBLE_DTYPES:
        raise SimError(f"ensemble dtype {dtype!r}: expected one of {', '.join(ENSEMBLE_DTYPES)}")
    return dtype


def write_netcdf(ds: xr.Dataset, path: Path, dtype: str = "float32") -> Path:
    """Write with h5netcdf, zlib compression with byte shuffling, floats as ``dtype``."""
    dtype = _dtype(dtype)
    encoding = {}
    nbytes = 0
    for name, var in ds.data_vars.items():
        enc: dict[str, Any] = {"zlib": True, "complevel": 4, "shuffle": True}
        if np.issubdtype(var.dtype, np.floating):
            enc["dtype"] = dtype
        encoding[name] = enc
        nbytes += int(var.size) * np.dtype(enc.get("dtype", var.dtype)).itemsize
    ensure_space(Path(path), nbytes)     # HDF5 cannot fail cleanly on a full disk
    try:
        with _hdf5_errors(Path(path)):
            ds.to_netcdf(path, engine="h5netcdf", encoding=encoding)
    except BaseException:
        _release_file(Path(path))
        raise
    return Path(path)


def _release_file(path: Path) -> None:
    """After a failed write: empty ``path`` (on a full disk HDF5 needs room to close what is
    still open on it; :func:`sim.cli.main` then ends the process past HDF5's own clean-up)."""
    try:
        os.truncate(path, 0)
    except OSError:
        pass


class EnsembleWriter:
    """Write ``ensemble.nc`` chunk by chunk of draws, so a run never holds every draw.

    The file is created at its full size (``draws``) from the first chunk's layout; each chunk
    (a Dataset of :func:`build_dataset`, any order) is written into its ``draw`` slice and can
    then be dropped. Reading the file with xarray gives the same Dataset as
    :func:`write_netcdf` of the whole ensemble. Chunking: one scenario × 10,000 draws × all
    years (one HDF5 chunk per scenario and block of draws), zlib level 4 with byte shuffling;
    floats stored as ``dtype`` (float32 unless asked for float64).
    """

    def __init__(self, path: Path, draws: int, dtype: str = "float32"):
        self.path, self.draws, self.dtype = Path(path), int(draws), _dtype(dtype)
        self.file = None
        self.written = 0

    def _create(self, ds: xr.Dataset) -> None:
        f = h5netcdf.File(self.path, "w")
        n, years = self.draws, np.asarray(ds["year"].values, dtype=np.int64)
        f.dimensions = {"scenario": ds.sizes["scenario"], "draw": n, "year": len(years)}
        sc = f.create_variable("scenario", ("scenario",), dtype=h5py.string_dtype())
        sc[:] = np.array([str(v) for v in ds["scenario"].values], dtype=object)
        for coord, values in (("draw", np.arange(n, dtype=np.int64)), ("year", years)):
            var = f.create_variable(coord, (coord,), dtype="int64")
            var[:] = values
            var.attrs.update(ds[coord].attrs)
        for name, da in ds.data_vars.items():
            chunks = ((1, min(n, 10_000), len(years)) if da.ndim == 3 else (min(n, 65_536),))
            var = f.create_variable(name, da.dims, dtype=self.dtype, chunks=chunks, shuffle=True,
                                    compression="gzip", compression_opts=4, fillvalue=np.nan)
            var.attrs.update(da.attrs)
        f.attrs.update(ds.attrs)
        self.file = f

    def write(self, ds: xr.Dataset, first_draw: int) -> None:
        """Write the chunk whose draw 0 is global draw ``first_draw``.

        Fails with ``OSError(ENOSPC)`` *before* writing when the disk lacks the room for the
        chunk: HDF5 reports a failed write only while freeing its caches (as "exception
        ignored" messages, and a crash at exit). Such errors are caught here
        (:func:`_hdf5_errors`) and raised as one OSError once the chunk is flushed.
        """
        ensure_space(self.path, sum(int(da.size) * np.dtype(self.dtype).itemsize
                                    for da in ds.data_vars.values()))
        a, b = int(first_draw), int(first_draw) + ds.sizes["draw"]
        with _hdf5_errors(self.path):
            if self.file is None:
                self._create(ds)
            assert self.file is not None
            for name, da in ds.data_vars.items():
                var = self.file.variables[name]
                if da.ndim == 3:
                    var[:, a:b, :] = da.values
                else:
                    var[a:b] = da.values
                del var
            self.file._h5file.flush()
        self.written += b - a

    def close(self, attrs: dict | None = None) -> Path:
        """Add global ``attrs`` (e.g. the resolved scenario) and close; every draw must be in.

        The HDF5 file is released even when closing fails (e.g. the disk is full while the last
        chunks are flushed); the error is raised after, as an OSError.
        """
        if self.file is None:
            raise SimError(f"{self.path}: no chunk was written")
        if self.written != self.draws:
            raise SimError(f"{self.path}: {self.written} of {self.draws} draws written")
        f, self.file = self.file, None
        try:
            with _hdf5_errors(self.path):
                f.attrs.update(attrs or {})
                f.close()
        except BaseException:
            self._discard(f)
            raise
        return self.path

    def abort(self) -> None:
        """Close the file after a failure (never raises: the first error is the one to report)."""
        f, self.file = self.file, None
        if f is not None:
            self._discard(f)

    def _discard(self, f: Any) -> None:
        """Close a file being thrown away, quietly. It is emptied first: on a full disk HDF5
        needs room to close it."""
        try:
            os.truncate(self.path, 0)
        except OSError:
            pass
        try:
            with _hdf5_errors(self.path):
                _close_quietly(f)
        except OSError:
            pass


@contextmanager
def _hdf5_errors(path: Path) -> Iterator[None]:
    """Collect the errors HDF5 reports only as "exception ignored" (a failed write while a
    cache is flushed) and raise the first as an OSError naming ``path``; h5py's RuntimeError
    or KeyError of a failed flush or close becomes an OSError too."""
    seen: list[BaseException] = []
    previous, previous_except = sys.unraisablehook, sys.excepthook

    def hook(u: Any) -> None:
        if "h5py" in str(getattr(u, "object", "")) and u.exc_value is not None:
            seen.append(u.exc_value)
        else:
            previous(u)

    def excepthook(kind: Any, value: Any, tb: Any) -> None:
        # Cython prints an error in __dealloc__ through sys.excepthook before reporting it
        # as unraisable; only HDF5's are caught
        if "h5py" in "".join(str(f.f_code.co_filename) for f, _ in traceback.walk_tb(tb)):
            seen.append(value)
        else:
            previous_except(kind, value, tb)

    sys.unraisablehook, sys.excepthook = hook, excepthook
    try:
        try:
            yield
        except (RuntimeError, KeyError) as exc:
            seen.insert(0, exc)
        if seen:
            raise _as_oserror(seen[0], path)
    finally:
        sys.unraisablehook, sys.excepthook = previous, previous_except


def _as_oserror(exc: BaseException, path: Path) -> OSError:
    """An HDF5 write error as an OSError with its errno (ENOSPC when the disk is full)."""
    if isinstance(exc, OSError) and exc.errno:
        return OSError(exc.errno, os.strerror(exc.errno), str(path))
    m = re.search(r"errno = (\d+)", str(exc))
    if m:
        return OSError(int(m.group(1)), os.strerror(int(m.group(1))), str(path))
    return OSError(errno.EIO, f"HDF5 write failed ({' '.join(str(exc).split())[:200]})",
                   str(path))


def ensure_space(path: Path, nbytes: int, margin: int = 1 << 20) -> None:
    """``OSError(ENOSPC)`` naming ``path`` when its file system has less than ``nbytes`` (plus
    ``margin``) free."""
    try:
        free = shutil.disk_usage(Path(path).parent).free
    except OSError:
        return
    if free < nbytes + margin:
        raise OSError(errno.ENOSPC, f"No space left on device (about {(nbytes + margin) / 1e6:.1f}"
                                    f" MB needed, {free / 1e6:.1f} MB free)", str(path))


def _close_quietly(f: Any) -> None:
    """Close an h5netcdf file whatever state it is in: first normally, then the HDF5 file
    underneath; the h5netcdf object is then marked closed (its ``__del__`` would try again)."""
    try:
        f.close()
        return
    except Exception:
        pass
    try:
        h5 = f._h5file
        if h5 is not None and h5.id.valid:
            h5.close()
    except Exception:
        pass
    f._closed = True


def read_netcdf(path: Path) -> xr.Dataset:
    """Open ``ensemble.nc`` fully into memory; a clear error when it is missing, not ours, or
    its coordinates disagree with its attributes or the ``manifest.json`` beside it
    (:func:`sim.ensemble_check.check_coordinates`)."""
    path = Path(path)
    if not path.exists():
        raise SimError(f"{path}: no such file (expected the ensemble.nc of a results folder)")
    try:
        with h5py.File(path, "r"):     # probe: a corrupt file fails here, not in a destructor
            pass
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            ds = ds.load()
        # float32 draws are read as float64: every reader computes as on the run's draws
        ds = ds.assign({n: v.astype(np.float64) for n, v in ds.data_vars.items() if v.dtype == np.float32})
    except Exception as exc:  # h5py/xarray raise many types for a broken file
        raise SimError(f"{path}: cannot read as NetCDF ({exc})") from None
    if "draw" not in ds.dims and ds.attrs.get("summaries_only"):
        raise SimError(f"{path}: holds summaries only (quantiles, written with --summaries-only), "
                       "not the draws needed here; run `sim run` again without --summaries-only")
    if not {"scenario", "draw", "year"} <= set(ds.dims):
        raise SimError(f"{path}: not a sim ensemble (expected dims scenario, draw, year; "
                       f"got {sorted(map(str, ds.dims))})")
    try:
        ensemble_facts(ds)          # attributes of the right types, checked once, here
    except SimError as exc:
        raise SimError(f"{path}: {exc}") from None
    check_coordinates(ds, path)     # years, draws, scenarios as the run wrote them
    return ds
