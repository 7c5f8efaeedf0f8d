"""One writer per output folder: an OS file lock held from before the work until the rename.

:class:`OutputLock` takes an exclusive ``flock`` on ``<parent>/.<name>.lock`` (the lock file
holds the owner's pid). A second process asking for the same folder fails at once with a
message naming that pid, or waits for it with ``wait=True`` (``--wait``). The lock is
re-entrant within a process (a command holding it may open a
:class:`~sim.output.folder.ResultsFolder` on the same folder), and it is released — and its
file removed — when the last holder leaves. Once it holds the lock, a process removes the
``.<name>.partial-*`` and ``.<name>.old-*`` folders that a killed earlier writer left (nobody
else can be writing them), and on release it removes the parent folders it had to create
when nothing was written after all.

On systems without ``fcntl`` (Windows) there is no lock; the atomic rename still protects
against half-written results.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import threading
from pathlib import Path

from sim.errors import SimError

try:  # POSIX only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_HELD: dict[Path, list[int]] = {}   # lock path -> [fd, depth] held by this process
_GUARD = threading.Lock()


def lock_path(out: Path) -> Path:
    """Where the lock of ``out`` lives: ``<parent>/.<name>.lock``."""
    return out.parent / f".{out.name}.lock"


def stale_siblings(out: Path) -> list[Path]:
    """``.<name>.partial-*`` and ``.<name>.old-*`` folders next to ``out``."""
    prefixes = (f".{out.name}.partial-", f".{out.name}.old-")
    try:
        return [p for p in out.parent.iterdir() if p.name.startswith(prefixes)]
    except OSError:
        return []


def recover_or_clean(out: Path) -> None:
    """With the lock held: put back a result a killed writer had moved aside, drop the rest.

    A writer replaces ``out`` in two renames (``out`` -> ``.<name>.old-*``, then the new folder
    -> ``out``); killed between them, it leaves ``out`` missing and the previous result in
    ``.old-*``. That folder is renamed back to ``out`` (the newest when several) before the
    stale partial and old folders are removed, so a kill at any point loses nothing.
    """
    stale = stale_siblings(out)
    if not out.exists():
        olds = sorted((p for p in stale if p.name.startswith(f".{out.name}.old-")),
                      key=lambda p: p.stat().st_mtime)
        if olds:
            olds[-1].rename(out)
            stale.remove(olds[-1])
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)


class OutputLock:
    """``with OutputLock(out, wait=False):`` — exclusive right to write ``out``."""

    def __init__(self, out: str | Path, *, wait: bool = False):
        self.out = Path(out)
        self.wait = bool(wait)
        self.key: Path | None = None
        self.created: list[Path] = []

    # -------------------------------------------------------------------------------------
    def acquire(self) -> "OutputLock":
        """Take the lock (or join this process's hold on it); SimError when another process
        holds it and ``wait`` is False."""
        self._make_parent()
        key = lock_path(self.out.parent.resolve() / self.out.name)
        with _GUARD:
            if key in _HELD:
                _HELD[key][1] += 1
                self.key = key
                return self
        try:
            fd = self._lock(key)
        except BaseException:
            self._drop_created()
            raise
        with _GUARD:
            _HELD[key] = [fd, 1]
        self.key = key
        recover_or_clean(self.out)
        return self

    def release(self) -> None:
        """Leave the lock; the last holder removes the lock file and unlocks."""
        key, self.key = self.key, None
        if key is None:
            return
        with _GUARD:
            held = _HELD.get(key)
            if held is None:
                return
            held[1] -= 1
            if held[1] > 0:
                return
            del _HELD[key]
        fd = held[0]
        try:
            try:
                os.unlink(key)          # while still locked: a waiter re-checks the inode
            except OSError:
                pass
        finally:
            os.close(fd)
        if not self.out.exists():       # nothing written: drop the parents we created
            self._drop_created()

    def _drop_created(self) -> None:
        """Remove the (empty) parent folders :meth:`acquire` created, deepest first."""
        for p in self.created:
            try:
                p.rmdir()
            except OSError:
                break
        self.created = []

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    # -------------------------------------------------------------------------------------
    def _make_parent(self) -> None:
        """Create the missing parents of ``out`` (remembered, deepest first)."""
        parent = self.out.parent if str(self.out.parent) else Path(".")
        missing = []
        p = parent
        while not p.exists() and p.parent != p:
            missing.append(p)
            p = p.parent
        try:
            for p in reversed(missing):
                p.mkdir()
                self.created.insert(0, p)
        except FileExistsError:
            raise SimError(f"{p}: exists and is not a folder (cannot create {self.out})") from None
        except NotADirectoryError:
            raise SimError(f"{p.parent}: is a file, not a folder (cannot create {self.out})") \
                from None
        except OSError as exc:
            raise SimError(f"{p}: cannot create the folder ({exc.strerror})") from None

    def _lock(self, key: Path) -> int:
        """Open and flock ``key``; the file must still be the one at ``key`` once locked (a
        releasing holder unlinks it while still holding the lock)."""
        while True:
            try:
                fd = os.open(key, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            except OSError as exc:
                raise SimError(f"{key.parent}: cannot write here ({exc.strerror}); choose "
                               "another --out") from None
            if fcntl is None:  # pragma: no cover - Windows
                return fd
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not self.wait:
                    pid = _read_pid(fd)
                    os.close(fd)
                    who = f"process {pid}" if pid else "another process"
                    raise SimError(f"{self.out}: {who} is writing this folder now (lock "
                                   f"{key}); wait for it to finish, or pass --wait") from None
                print(f"sim: waiting for process {_read_pid(fd) or '?'} to finish writing "
                      f"{self.out} ...", file=sys.stderr)
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                    os.close(fd)
                    raise
                return fd   # a file system without locks: go on unlocked
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(key))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd


def _read_pid(fd: int) -> str:
    """The pid a lock file holds ('' when unknown)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""
