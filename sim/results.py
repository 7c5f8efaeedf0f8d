"""Atomic results folders: write everything into a temporary sibling, then rename.

A crash or Ctrl-C while writing leaves the previous results untouched; an existing folder is
replaced only when asked (``--force``), and even then only after the new one is complete.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

from sim.errors import SimError


def check_writable(out: Path, force: bool) -> None:
    """Fail early (before any simulation) when ``out`` exists and ``force`` is not set."""
    if out.exists() and not force:
        raise SimError(f"{out}: results folder exists; pass --force to replace it, or --out DIR")
    if out.exists() and not out.is_dir():
        raise SimError(f"{out}: exists and is not a folder")


@contextlib.contextmanager
def atomic_folder(out: Path, force: bool):
    """Yield a temporary folder; on success it replaces ``out`` in one rename."""
    out = Path(out)
    check_writable(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
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
