"""The one results writer: every command writes its folder through :class:`ResultsFolder`.

Everything goes into a temporary sibling folder, ``manifest.json`` is written last, and the
folder then replaces ``out`` in one rename. A crash or Ctrl-C while writing leaves the previous
results untouched; an existing folder is replaced only when asked (``--force``), and even then
only after the new one is complete.

    with ResultsFolder(out, force=force, command="run") as folder:
        folder.csv("targets.csv", table)
        folder.manifest.update(seed=1, draws=4000)

A command that rewrites part of an existing folder (``sim report``) carries the files it does not
rewrite into the new folder with :meth:`ResultsFolder.keep` (hard links: no copy of a large
``ensemble.nc``). :func:`check_results_folder` and :func:`read_manifest` read a folder that
``sim run`` wrote.

Safety (:mod:`sim.output.owned`, :mod:`sim.output.lock`): the folder gets an ownership marker
(``.sim-results``); ``--force`` replaces only a folder sim wrote, or an empty one; some paths
(``.``, ``..``, the home folder, the repository, the inputs of the command, ...) are refused
whatever the flags; and an OS lock on the output (``folder.lock``, re-entrant, also taken by
``with folder:``) keeps a second process from writing the same folder at the same time. All of
these checks run in the constructor, before any work, and again once the lock is held.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import stat
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from sim.version import __version__
from sim.errors import SimError
from sim.output.lock import OutputLock
from sim.output.owned import (MARKER, TRANSIENT_MARKER, check_output_path,
                              check_parent_writable, check_replaceable, leftover_name,
                              mark_leftover, marker_text, write_transient_marker)


def versions() -> dict[str, str]:
    """Versions of sim, Python and the numerical libraries (for manifests and NetCDF attrs)."""
    import numba
    import numpy
    import scipy
    import statsmodels
    import xarray

    return {"sim": __version__, "python": platform.python_version(),
            "numpy": numpy.__version__, "numba": numba.__version__, "scipy": scipy.__version__,
            "statsmodels": statsmodels.__version__, "xarray": xarray.__version__,
            "pandas": pd.__version__}


def check_results_folder(folder: Path) -> Path:
    """``folder`` if it is a results folder written by ``sim run`` (holds ``ensemble.nc``)."""
    folder = Path(folder)
    if not folder.exists():
        raise SimError(f"{folder}: no such results folder")
    if not folder.is_dir():
        raise SimError(f"{folder}: not a folder (expected a results folder written by `sim run`)")
    if not (folder / "ensemble.nc").exists():
        found = ", ".join(sorted(p.name for p in folder.iterdir() if p.name != MARKER)[:8]) \
            or "nothing"
        raise SimError(f"{folder}: not a results folder (no ensemble.nc; found {found})")
    return folder


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The ``manifest.json`` of a results folder, or None when it is missing or unreadable."""
    path = Path(folder) / "manifest.json"
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):   # unreadable, a folder, not UTF-8 or JSON
        return None
    return manifest if isinstance(manifest, dict) else None


def check_writable(out: Path, force: bool, *, inputs: Iterable[str | Path | None] = (),
                   replaces: str | None = None, hint: str = "choose another --out") -> None:
    """Fail early (before any work, touching nothing) when ``out`` may not be written.

    ``out`` must not be a refused path (:func:`sim.output.owned.check_output_path`, with the
    command's ``inputs``); an existing ``out`` needs ``force`` and must be empty or a folder
    sim wrote (``replaces``: written by that command); its parent must be a writable folder.
    ``hint`` ends the message of a refused existing folder.
    """
    out = Path(out)
    check_output_path(out, inputs)
    check_replaceable(out, force, replaces, hint)
    check_parent_writable(out)


def check_free_space(folder: Path, need: int, what: str, hint: str = "") -> None:
    """SimError when the file system of ``folder`` (or its first existing ancestor) has less
    than ``need`` bytes free for ``what``."""
    p = Path(folder)
    while not p.exists() and p.parent != p:
        p = p.parent
    try:
        free = shutil.disk_usage(p).free
    except OSError:
        return
    if need > free:
        raise SimError(f"{folder}: not enough free space for {what}: about {_size(need)} needed, "
                       f"{_size(free)} free{'; ' + hint if hint else ''}")


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class ResultsFolder:
    """A results folder being written: files go to ``self.path`` (a temporary folder).

    ``manifest`` is a dict the caller fills; on a clean exit it is written as ``manifest.json``
    with ``sim_version``, ``command`` and the list of ``files`` added, the ownership marker
    ``.sim-results`` is written, then the folder is renamed to ``out``. On any exception the
    temporary folder is removed and ``out`` is left as it was.

    Parameters
    ----------
    out : the folder to write.
    force : replace an existing ``out`` (only an empty one or one sim wrote).
    command : the command writing it (manifest and marker).
    manifest : write ``manifest.json``.
    wait : wait for another process writing ``out`` instead of failing at once.
    inputs : files and folders the command reads; ``out`` may not be or hold any of them.
    replaces : an existing ``out`` must have been written by this command (e.g. ``compare``).

    ``folder.lock`` (an :class:`~sim.output.lock.OutputLock`) can be held around the whole
    command (``with folder.lock:``) so the lock covers the work before writing too.
    """

    def __init__(self, out: str | Path, *, force: bool = False, command: str = "run",
                 manifest: bool = True, wait: bool = False,
                 inputs: Iterable[str | Path | None] = (), replaces: str | None = None):
        self.out = Path(out)
        self.force = bool(force)
        self.command = command
        self.write_manifest = manifest
        self.inputs = tuple(inputs)
        self.replaces = replaces
        self.manifest: dict[str, Any] = {}
        self.path: Path = self.out   # the temporary folder while open
        self.lock = OutputLock(self.out, wait=wait)
        self._entered_lock: OutputLock | None = None
        check_writable(self.out, self.force, inputs=self.inputs, replaces=self.replaces)

    # -- writing --------------------------------------------------------------------------
    def file(self, name: str) -> Path:
        """Path of ``name`` inside the folder (sub-folders are created)."""
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def text(self, name: str, text: str) -> Path:
        """Write ``text`` (UTF-8) as ``name``."""
        p = self.file(name)
        p.write_text(text, encoding="utf-8")
        return p

    def json(self, name: str, obj: Any) -> Path:
        """Write ``obj`` as indented JSON (numpy values, paths and sets allowed) as ``name``."""
        return self.text(name, json.dumps(obj, indent=1, ensure_ascii=False, default=_jsonable))

    def csv(self, name: str, df: pd.DataFrame, **kwargs: Any) -> Path:
        """Write ``df`` as ``name`` (no index; ``kwargs`` go to :meth:`pandas.DataFrame.to_csv`)."""
        p = self.file(name)
        df.to_csv(p, index=False, **kwargs)
        return p

    def keep(self, src: Path, name: str | None = None) -> Path:
        """Carry an existing file or folder ``src`` into the new folder as ``name``.

        Files are hard-linked when the file system allows it (the temporary folder is a sibling
        of ``out``, so replacing ``out`` later leaves them intact), else copied.
        """
        src = Path(src)
        dst = self.file(name or src.name)
        if src.is_dir():
            shutil.copytree(src, dst, copy_function=_link_or_copy)
        else:
            _link_or_copy(src, dst)
        return dst

    # -- life cycle -----------------------------------------------------------------------
    def __enter__(self) -> "ResultsFolder":
        lock = OutputLock(self.out, wait=self.lock.wait).acquire()
        try:
            # again, now that no other process can be writing ``out``
            check_writable(self.out, self.force, inputs=self.inputs, replaces=self.replaces)
            self.path = _temporary_sibling(self.out)
        except BaseException:
            lock.release()
            raise
        self._entered_lock = lock
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        tmp = self.path
        self.path = self.out
        lock, self._entered_lock = self._entered_lock, None
        try:
            if exc_type is not None:
                shutil.rmtree(tmp, ignore_errors=True)
                if isinstance(exc, OSError):
                    _name_the_output(exc, tmp, self.out)
                return
            try:
                (tmp / MARKER).write_text(marker_text(self.command), encoding="utf-8")
                if self.write_manifest:   # the last file written
                    manifest = {"sim_version": __version__, "command": self.command,
                                **self.manifest}
                    manifest["files"] = sorted(p.name for p in tmp.iterdir() if p.name not in (
                        MARKER, TRANSIENT_MARKER)) + ["manifest.json"]
                    (tmp / "manifest.json").write_text(
                        json.dumps(manifest, indent=1, ensure_ascii=False, default=_jsonable),
                        encoding="utf-8")
                (tmp / TRANSIENT_MARKER).unlink()   # complete: no longer a leftover
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            _replace(tmp, self.out)
        finally:
            if lock is not None:
                lock.release()


def _name_the_output(exc: OSError, tmp: Path, out: Path) -> None:
    """Raise ``exc`` again naming the file the user asked for: a path in the temporary folder
    becomes the same path in ``out``, a write error naming no file (a full disk while a
    library flushes) names ``out``."""
    name = exc.filename
    if name is None and exc.errno is not None:
        name = str(out)
    elif isinstance(name, (str, Path)) and (Path(name) == tmp or tmp in Path(name).parents):
        name = str(out / Path(name).relative_to(tmp))
    if name is not exc.filename:
        raise OSError(exc.errno, exc.strerror or str(exc), name) from None


def _temporary_sibling(out: Path) -> Path:
    """A new folder next to ``out`` holding only sim's transient marker
    (:func:`~sim.output.owned.mark_leftover`), with the permissions ``out`` has (or the
    umask's)."""
    try:
        tmp = mark_leftover(out, "partial")
    except OSError as exc:
        raise SimError(f"{out.parent}: cannot create the results folder here "
                       f"({exc.strerror}); choose another --out") from None
    if out.is_dir():
        tmp.chmod(stat.S_IMODE(out.stat().st_mode))
    return tmp


def _replace(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an existing ``out`` is marked as sim's leftover, moved aside
    (``.<name>.old-sim-<token>``) and removed after, so a kill between the two renames leaves
    a folder the next writer recognises and puts back."""
    old = None
    try:
        if out.exists():
            token = tmp.name.rsplit("-", 1)[-1]
            write_transient_marker(out, out, "old", token)
            old = out.with_name(leftover_name(out, "old", token))
            try:
                out.rename(old)
            except BaseException:
                old = None
                (out / TRANSIENT_MARKER).unlink(missing_ok=True)
                raise
        tmp.rename(out)
    except BaseException:
        if old is not None and not out.exists():
            old.rename(out)
            (out / TRANSIENT_MARKER).unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _link_or_copy(src: str | Path, dst: str | Path) -> str | Path:
    """Hard-link ``src`` to ``dst``; copy it where links are not possible."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _jsonable(obj: Any) -> Any:
    """numpy scalars and arrays, paths and sets in JSON."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (Path, set, frozenset, tuple)):
        return str(obj) if isinstance(obj, Path) else list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
