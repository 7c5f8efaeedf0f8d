"""Which folders sim may write or replace: the ownership marker and the paths never touched.

Every folder :class:`~sim.output.folder.ResultsFolder` writes carries a small marker file,
``.sim-results``, whose JSON body names the tool, its version and the command that wrote it::

    {"tool": "sim", "version": "0.1.0", "command": "run"}

A folder is *owned* by sim when it carries that marker, or — results folders written before
the marker existed — when its ``manifest.json`` parses as a JSON object with a ``sim_version``
string (every manifest sim has written names its version that way). ``--force`` replaces only
an owned folder or an empty one; ``sim report`` rewrites only an owned folder and
``sim compare`` replaces only a folder written by ``sim compare`` (owned, with command
``compare``; before the marker: a sim manifest and a ``compare.csv``).

Some paths are refused whatever the flags (:func:`check_output_path`): the file-system root,
the home folder, the current folder and their ancestors (``.``, ``..``), any folder holding
the repository or the package, the bundled data, scenarios and the ``results/`` folder itself,
and any folder holding an input of the command (scenario file, data directory, results
folders being compared). :func:`safe_name` turns a file stem such as ``.`` (the stem of a file
named ``..toml``) into a name that cannot climb out of ``results/``.

Leftovers: while writing ``out`` sim keeps two kinds of sibling folders, the new result being
written (``.<name>.partial-sim-<token>``) and, for a moment, the previous result moved aside
(``.<name>.old-sim-<token>``), ``<token>`` 16 random hex digits. Each carries a second marker,
``.sim-transient``, whose JSON names its kind, the output and the same token::

    {"tool": "sim", "kind": "partial", "of": "<name>", "token": "<token>"}

Only a folder with that name *and* that marker is ever removed or renamed back
(:func:`leftovers`); anything else beside ``out``, whatever its name, is the user's.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, Iterable

from sim.version import __version__
from sim.errors import SimError
from sim.paths import (DEFAULT_DATA_DIR, DEFAULT_RESULTS_DIR, PACKAGE_DIR, REPO_DIR,
                       SCENARIOS_DIR)

MARKER = ".sim-results"
TRANSIENT_MARKER = ".sim-transient"   # inside a partial or moved-aside folder only
LEFTOVER_KINDS = ("partial", "old")


def marker_text(command: str) -> str:
    """The body of the ``.sim-results`` marker of a folder written by ``command``."""
    return json.dumps({"tool": "sim", "version": __version__, "command": command}) + "\n"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):   # unreadable, not UTF-8, not JSON
        return None


def owner(folder: str | Path) -> dict[str, Any] | None:
    """``{"tool": "sim", "version", "command"}`` when sim wrote ``folder``, else None.

    The marker file decides; a folder without it is owned when its ``manifest.json`` is a JSON
    object naming ``sim_version`` (results written before the marker existed; ``command`` is
    then the manifest's, else ``compare`` when it holds ``compare.csv``, else ``run``).
    """
    folder = Path(folder)
    body = _read_json(folder / MARKER) if (folder / MARKER).is_file() else None
    if isinstance(body, dict) and body.get("tool") == "sim":
        return {"tool": "sim", "version": str(body.get("version", "")),
                "command": str(body.get("command", ""))}
    manifest = _read_json(folder / "manifest.json") if (folder / "manifest.json").is_file() \
        else None
    if isinstance(manifest, dict) and isinstance(manifest.get("sim_version"), str):
        command = manifest.get("command")
        if not isinstance(command, str):
            command = "compare" if (folder / "compare.csv").is_file() else "run"
        return {"tool": "sim", "version": manifest["sim_version"], "command": command}
    return None


def leftover_name(out: str | Path, kind: str, token: str) -> str:
    """``.<name>.partial-sim-<token>`` or ``.<name>.old-sim-<token>``: the name of a leftover
    folder of ``out`` (``kind`` in :data:`LEFTOVER_KINDS`)."""
    assert kind in LEFTOVER_KINDS, kind
    return f".{Path(out).name}.{kind}-sim-{token}"


def _transient_body(out: str | Path, kind: str, token: str) -> dict[str, str]:
    return {"tool": "sim", "kind": kind, "of": Path(out).name, "token": token}


def write_transient_marker(folder: Path, out: str | Path, kind: str, token: str) -> None:
    """Write the ``.sim-transient`` marker of a ``kind`` leftover of ``out`` into ``folder``."""
    (Path(folder) / TRANSIENT_MARKER).write_text(
        json.dumps(_transient_body(out, kind, token)) + "\n", encoding="utf-8")


def mark_leftover(out: str | Path, kind: str) -> Path:
    """Create a new, empty, marked ``kind`` folder next to ``out`` (a fresh random token);
    OSError when it cannot be made (nothing is left behind)."""
    out = Path(out)
    while True:
        token = secrets.token_hex(8)
        folder = out.with_name(leftover_name(out, kind, token))
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        try:
            write_transient_marker(folder, out, kind, token)
        except BaseException:
            for p in folder.iterdir():
                p.unlink()
            folder.rmdir()
            raise
        return folder


def leftover_kind(folder: Path, out: str | Path) -> str | None:
    """``"partial"`` or ``"old"`` when ``folder`` is a leftover sim made for ``out``: a real
    folder (not a link) with a leftover name whose ``.sim-transient`` marker names the same
    kind, output and token; else None (the user's, never touched)."""
    folder = Path(folder)
    m = re.fullmatch(rf"\.{re.escape(Path(out).name)}\.(partial|old)-sim-([0-9a-f]{{16}})",
                     folder.name)
    if m is None or folder.is_symlink() or not folder.is_dir():
        return None
    marker = folder / TRANSIENT_MARKER
    if marker.is_symlink() or not marker.is_file():
        return None
    body = _read_json(marker)
    return m.group(1) if body == _transient_body(out, m.group(1), m.group(2)) else None


def leftovers(out: str | Path) -> list[tuple[Path, str]]:
    """The leftover folders sim made for ``out`` (:func:`leftover_kind`), with their kind."""
    out = Path(out)
    try:
        siblings = list(out.parent.iterdir())
    except OSError:
        return []
    found = [(p, leftover_kind(p, out)) for p in siblings
             if p.name.startswith(f".{out.name}.")]
    return [(p, kind) for p, kind in found if kind is not None]


def safe_name(stem: str) -> str:
    """A folder name made from a file stem that cannot be ``.``, ``..``, empty or hidden.

    ``"baseline_2020"`` stays as it is; ``"."`` (the stem of ``..toml``) becomes ``"unnamed"``,
    ``".x"`` becomes ``"x"``; path separators become ``_``.
    """
    name = re.sub(r"[/\\\x00]", "_", str(stem)).lstrip(".").strip()
    return name or "unnamed"


def _is_within(path: Path, folder: Path) -> bool:
    """``path`` is ``folder`` or lies inside it (both resolved)."""
    return path == folder or folder in path.parents


def _resolve(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()


def protected_paths() -> dict[Path, str]:
    """The paths whose ancestors-or-selves are never an output folder, with why."""
    out: dict[Path, str] = {}
    for p, why in ((REPO_DIR, "holds the sim repository"), (PACKAGE_DIR, "holds the sim package"),
                   (DEFAULT_DATA_DIR, "holds the bundled data"),
                   (SCENARIOS_DIR, "holds the shipped scenarios"),
                   (DEFAULT_RESULTS_DIR, "is the results/ folder itself (a run writes a "
                                         "folder inside it)"),
                   (Path.home(), "is or holds your home folder"),
                   (Path.cwd(), "is or holds the current folder")):
        try:
            out.setdefault(_resolve(p), why)
        except (OSError, RuntimeError):   # no home, or a vanished cwd
            continue
    return out


def check_output_path(out: str | Path, inputs: Iterable[str | Path | None] = ()) -> Path:
    """Refuse an output folder that must never be written or replaced; return ``out``.

    Refused: ``.``/``..`` or a name ending in them, the file-system root, a folder that is or
    holds the home folder, the current folder, the repository, the package, the bundled data,
    the shipped scenarios or ``results/`` itself, and a folder that is or holds one of
    ``inputs`` (files or folders the command reads). Raises :class:`SimError` (exit 2).
    """
    out = Path(out)
    if out.name in ("", ".", "..") or str(out).rstrip("/").endswith(("/.", "/..")):
        raise SimError(f"{out}: refusing to write into '.' or '..': name the folder instead "
                       "(--out DIR, or run from its parent)")
    real = _resolve(out)
    if real.parent == real:
        raise SimError(f"{out}: refusing to write over the file-system root")
    for p, why in protected_paths().items():
        if _is_within(p, real):
            raise SimError(f"{out}: refusing to write here: it {why} ({p}); choose another "
                           "--out")
    for i in inputs:
        if i is None or str(i) == "":
            continue
        p = _resolve(i)
        if _is_within(p, real):
            what = "folder" if p.is_dir() else "file"
            raise SimError(f"{out}: refusing to write here: it is or holds the input {what} "
                           f"{i}; choose another --out")
    return out


def check_replaceable(out: str | Path, force: bool, replaces: str | None = None,
                      hint: str = "choose another --out") -> None:
    """Fail when writing ``out`` would replace anything it must not.

    A missing ``out`` is fine. An existing one needs ``force`` and must be a real folder that
    is empty or owned by sim (:func:`owner`); with ``replaces`` its owner command must be
    that command. Nothing is touched; ``hint`` ends the message of a refusal.
    """
    out = Path(out)
    if out.is_symlink():
        raise SimError(f"{out}: is a symbolic link; give the folder it points to, or another "
                       "--out")
    if not out.exists():
        return
    if not out.is_dir():
        raise SimError(f"{out}: exists and is not a folder")
    if not force:
        raise SimError(f"{out}: results folder exists; pass --force to replace it, or --out DIR")
    try:
        empty = not any(out.iterdir())
    except OSError as exc:
        raise SimError(f"{out}: cannot list the folder ({exc.strerror})") from None
    if empty:
        return
    who = owner(out)
    if who is None:
        raise SimError(f"{out}: not a folder sim wrote (no {MARKER} marker, no sim manifest.json); "
                       f"sim replaces only folders it wrote, so nothing was touched: {hint}")
    if replaces is not None and who["command"] != replaces:
        raise SimError(f"{out}: holds the output of `sim {who['command'] or '?'}`, not of "
                       f"`sim {replaces}`; nothing was touched: {hint}")


def check_parent_writable(out: str | Path) -> None:
    """The first existing ancestor of ``out`` is a folder this process may create files in."""
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    p = parent
    while not p.exists() and not p.is_symlink() and p.parent != p:
        p = p.parent
    if p.exists() and not p.is_dir():
        raise SimError(f"{p}: is a file, not a folder (cannot create {out})")
    if p.exists() and not os.access(p, os.W_OK | os.X_OK):
        raise SimError(f"{p}: cannot write here (permission denied or read-only); "
                       "choose another --out")
