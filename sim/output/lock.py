"""One writer per output folder: an OS file lock held from before the work until the rename.

:class:`OutputLock` takes an exclusive ``flock`` on ``<parent>/.<name>.lock`` (the lock file
holds ``sim lock: pid <pid>``). A second process asking for the same folder fails at once with
a message naming that pid, or waits for it with ``wait=True`` (``--wait``). The lock is
re-entrant within a process (a command holding it may open a
:class:`~sim.output.folder.ResultsFolder` on the same folder), and it is released — and its
file removed — when the last holder leaves. Once it holds the lock, a process puts back or
removes the leftovers a killed earlier writer left (:func:`sim.output.owned.leftovers`: only
folders carrying sim's ``.sim-transient`` marker; nobody else can be writing them), and on
release it removes the parent folders it had to create when nothing was written after all.

The lock file is opened without following a symbolic link and must be a regular file with one
link that is empty or holds a pid sim wrote; anything else at that path (a link to a user's
file, a folder, a FIFO, a user's own file) is refused untouched.

On systems without ``fcntl`` (Windows) there is no lock; the atomic rename still protects
against half-written results.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import sys
import threading
from pathlib import Path

from sim.errors import SimError
from sim.output.owned import TRANSIENT_MARKER, leftovers

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
    """The leftover folders sim made for ``out`` (partial and moved-aside results)."""
    return [p for p, _ in leftovers(out)]


def recover_or_clean(out: Path) -> None:
    """With the lock held: put back a result a killed writer had moved aside, drop the rest.

    A writer replaces ``out`` in two renames (``out`` -> ``.<name>.old-sim-*``, then the new
    folder -> ``out``); killed between them, it leaves ``out`` missing and the previous result
    in the ``old`` leftover. That folder is renamed back to ``out`` (the newest when several)
    and its transient marker removed before the other leftovers are removed, so a kill at any
    point loses nothing. Only folders carrying sim's transient marker are touched.
    """
    stale = leftovers(out)
    if not out.exists() and not out.is_symlink():
        olds = sorted((p for p, kind in stale if kind == "old"), key=lambda p: p.stat().st_mtime)
        if olds:
            olds[-1].rename(out)
            (out / TRANSIENT_MARKER).unlink(missing_ok=True)
            stale = [(p, kind) for p, kind in stale if p != olds[-1]]
    for p, _ in stale:
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
            fd = _open_lock_file(key)
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
                same = os.path.samestat(os.fstat(fd), os.stat(key, follow_symlinks=False))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{LOCK_TEXT}{os.getpid()}\n".encode())
            return fd


LOCK_TEXT = "sim lock: pid "
#: what a lock file sim wrote holds: nothing yet, its pid, or (before 0.1.0's marker) a bare pid
_LOCK_BODY = re.compile(rf"(?:(?:{re.escape(LOCK_TEXT)})?\d+\n)?")
_NOT_OURS = "not a lock file sim made; nothing was touched: remove it, or choose another --out"


def _open_lock_file(key: Path) -> int:
    """A descriptor of the lock file ``key``, created if missing; never through a link.

    An existing path must be a regular file with one link holding what sim writes (nothing or
    a pid, :data:`_LOCK_BODY`); else a :class:`SimError` naming it, and the file untouched.
    """
    flags = os.O_RDWR | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0) \
        | getattr(os, "O_NONBLOCK", 0)            # a FIFO must not block the open
    try:
        try:
            return os.open(key, flags | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            fd = os.open(key, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP or os.path.islink(key):
            raise SimError(f"{key}: is a symbolic link, {_NOT_OURS}") from None
        if exc.errno == errno.EISDIR:
            raise SimError(f"{key}: is a folder, {_NOT_OURS}") from None
        raise SimError(f"{key.parent}: cannot write here ({exc.strerror}); choose "
                       "another --out") from None
    st = os.fstat(fd)
    why = ("is not a regular file" if not stat.S_ISREG(st.st_mode) else
           "has other hard links" if st.st_nlink != 1 else
           "holds something else" if st.st_size > 64 or not _LOCK_BODY.fullmatch(
               _head(fd, 65)) else "")
    if why:
        os.close(fd)
        raise SimError(f"{key}: {why}, {_NOT_OURS}")
    return fd


def _head(fd: int, n: int) -> str:
    """The first ``n`` bytes of the open file ``fd`` as text (the offset is left at 0)."""
    if hasattr(os, "pread"):
        return os.pread(fd, n, 0).decode("ascii", "replace")
    os.lseek(fd, 0, os.SEEK_SET)     # pragma: no cover - Windows
    try:
        return os.read(fd, n).decode("ascii", "replace")
    finally:
        os.lseek(fd, 0, os.SEEK_SET)


def _read_pid(fd: int) -> str:
    """The pid a lock file holds ('' when unknown)."""
    try:
        text = _head(fd, 64).strip()
    except OSError:
        return ""
    text = text.removeprefix(LOCK_TEXT)
    return text if text.isdigit() else ""
