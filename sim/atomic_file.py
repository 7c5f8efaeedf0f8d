"""Write a small file whole or not at all, without following a link at a temporary name.

``write_text_atomic(path, text)`` writes ``text`` to a new temporary file that
:func:`tempfile.mkstemp` creates in ``path``'s folder (``O_CREAT | O_EXCL``: a name that already
exists — a user's file, a symbolic link planted there — is never opened), then renames it onto
``path`` with :func:`os.replace`. The rename replaces ``path`` itself (a link at ``path`` is
replaced, its target untouched); on any error the temporary file is removed and ``path`` keeps
its old contents.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomic(path: Path | str, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` whole or not at all (see the module docstring)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding) as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
