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
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import stat
from pathlib import Path
from typing import Any

import pandas as pd

from sim import __version__
from sim.errors import SimError


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
        found = ", ".join(sorted(p.name for p in folder.iterdir())[:8]) or "nothing"
        raise SimError(f"{folder}: not a results folder (no ensemble.nc; found {found})")
    return folder


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The ``manifest.json`` of a results folder, or None when it is missing or unreadable."""
    path = Path(folder) / "manifest.json"
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return manifest if isinstance(manifest, dict) else None


def check_writable(out: Path, force: bool) -> None:
    """Fail early (before any simulation) when ``out`` exists and ``force`` is not set."""
    out = Path(out)
    if out.exists() and not force:
        raise SimError(f"{out}: results folder exists; pass --force to replace it, or --out DIR")
    if out.exists() and not out.is_dir():
        raise SimError(f"{out}: exists and is not a folder")


class ResultsFolder:
    """A results folder being written: files go to ``self.path`` (a temporary folder).

    ``manifest`` is a dict the caller fills; on a clean exit it is written as ``manifest.json``
    with ``sim_version``, ``command`` and the list of ``files`` added, then the folder is renamed
    to ``out``. On any exception the temporary folder is removed and ``out`` is left as it was.
    """

    def __init__(self, out: str | Path, *, force: bool = False, command: str = "run",
                 manifest: bool = True):
        self.out = Path(out)
        self.force = bool(force)
        self.command = command
        self.write_manifest = manifest
        self.manifest: dict[str, Any] = {}
        self.path: Path = self.out   # the temporary folder while open
        check_writable(self.out, self.force)

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
        check_writable(self.out, self.force)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.path = _temporary_sibling(self.out)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        tmp = self.path
        self.path = self.out
        if exc_type is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            return
        try:
            if self.write_manifest:
                manifest = {"sim_version": __version__, "command": self.command,
                            **self.manifest}
                manifest["files"] = sorted(p.name for p in tmp.iterdir()) + ["manifest.json"]
                (tmp / "manifest.json").write_text(
                    json.dumps(manifest, indent=1, ensure_ascii=False, default=_jsonable),
                    encoding="utf-8")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _replace(tmp, self.out)


def _temporary_sibling(out: Path) -> Path:
    """A new empty folder next to ``out``, with the permissions ``out`` has (or the umask's)."""
    while True:
        tmp = out.with_name(f".{out.name}.partial-{secrets.token_hex(4)}")
        try:
            tmp.mkdir()
        except FileExistsError:
            continue
        if out.is_dir():
            tmp.chmod(stat.S_IMODE(out.stat().st_mode))
        return tmp


def _replace(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an existing ``out`` is moved aside first and removed after."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{tmp.name.rsplit('-', 1)[-1]}")
        out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        if old is not None:
            old.rename(out)
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
