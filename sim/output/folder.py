"""The one results writer: every command writes its folder through :class:`ResultsFolder`.

Everything goes into a temporary sibling folder, ``manifest.json`` is written last, and the
folder then replaces ``out`` in one rename. A crash or Ctrl-C while writing leaves the previous
results untouched; an existing folder is replaced only when asked (``--force``), and even then
only after the new one is complete.

    with ResultsFolder(out, force=force, command="run") as folder:
        folder.csv("targets.csv", table)
        folder.manifest.update(seed=1, draws=4000)
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
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
        p = self.file(name)
        p.write_text(text, encoding="utf-8")
        return p

    def json(self, name: str, obj: Any) -> Path:
        return self.text(name, json.dumps(obj, indent=1, ensure_ascii=False, default=_jsonable))

    def csv(self, name: str, df: pd.DataFrame, **kwargs: Any) -> Path:
        p = self.file(name)
        df.to_csv(p, index=False, **kwargs)
        return p

    # -- life cycle -----------------------------------------------------------------------
    def __enter__(self) -> "ResultsFolder":
        check_writable(self.out, self.force)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.partial-",
                                          dir=self.out.parent))
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


def _jsonable(obj: Any) -> Any:
    """numpy scalars and arrays, paths and sets in JSON."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (Path, set, frozenset, tuple)):
        return str(obj) if isinstance(obj, Path) else list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


# TEMPORARY (removed once every command writes through ResultsFolder)
import contextlib  # noqa: E402


@contextlib.contextmanager
def atomic_folder(out: Path, force: bool):
    with ResultsFolder(out, force=force, manifest=False) as folder:
        yield folder.path
