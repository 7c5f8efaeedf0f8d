"""The probe of issue 19, items 2, 4, 6 and 7: what sim touches beside its output, clean
failures on damaged results and full disks, the calibration cache on request, and the declared
lower bounds of the dependencies.

Each test states its oracle: *inputs unchanged* (every byte of the user's files as before),
*refused with a message* (exit 2, one line naming the file, no traceback), or *output equal to a
reference*. The quick tier holds a few cases of each category of the probe (item 8).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from sim.errors import SimError
from sim.output.folder import ResultsFolder
from sim.output.lock import OutputLock, lock_path
from sim.output.owned import MARKER, TRANSIENT_MARKER, leftover_name, mark_leftover, marker_text

ROOT = Path(__file__).resolve().parents[1]


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def _one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err and err.count("\n") <= 1, err
    for n in needles:
        assert n in err, err


# --------------------------------------------------------------------------------------------
# item 2: a lock path that is a symlink, a FIFO, a folder or a user's file is never written


@pytest.mark.parametrize("kind", ["symlink", "dangling_symlink", "hardlink", "users_file",
                                  "folder", "fifo"])
def test_a_lock_path_sim_did_not_make_is_refused_and_left_alone(tmp_path, kind):
    """Oracle: refused with a message; the user's files unchanged; no output written."""
    afile = tmp_path / "afile"
    afile.write_text("precious\n")
    out = tmp_path / "lk2"
    lock = lock_path(out)
    if kind == "symlink":
        lock.symlink_to(afile)                      # the probe: `ln -s afile .lk2.lock`
    elif kind == "dangling_symlink":
        lock.symlink_to(tmp_path / "nowhere")
    elif kind == "hardlink":
        os.link(afile, lock)
    elif kind == "users_file":
        lock.write_text("my notes about lk2\n")
    elif kind == "folder":
        lock.mkdir()
        (lock / "n.txt").write_text("mine")
    else:
        os.mkfifo(lock)
    before = _tree(tmp_path)
    with pytest.raises(SimError, match=re.escape(str(lock)) + ": .*not a lock file sim made"):
        with ResultsFolder(out) as f:
            f.text("a.txt", "a")
    assert _tree(tmp_path) == before
    assert not out.exists() and not (tmp_path / "nowhere").exists()
    assert lock.is_symlink() or lock.exists()


def test_run_through_a_symlinked_lock_leaves_the_target_alone(run_cli, make_results, tmp_path):
    """The probe's case end to end on a command that writes a folder (`sim compare`, quick):
    exit 2 with the message, `afile` unchanged."""
    run = make_results(tmp_path / "run", outputs=False)
    afile = tmp_path / "afile"
    afile.write_text("precious\n")
    lock_path(tmp_path / "lk2").symlink_to(afile)
    code, _, err = run_cli("compare", run, "--no-figures", "--quiet", "--out", tmp_path / "lk2")
    _one_line_error(code, err, ".lk2.lock: is a symbolic link", "not a lock file sim made")
    assert afile.read_text() == "precious\n" and not (tmp_path / "lk2").exists()


def test_a_lock_file_sim_left_behind_is_taken_over(tmp_path):
    """A lock file a killed sim left (its pid, old or new format) is reused, then removed."""
    out = tmp_path / "res"
    for text in ("99999999\n", "sim lock: pid 99999999\n", ""):
        lock_path(out).write_text(text)
        with ResultsFolder(out, force=True) as f:
            f.text("a.txt", text)
        assert not lock_path(out).exists() and (out / "a.txt").read_text() == text


# --------------------------------------------------------------------------------------------
# item 2: leftovers are recognised by sim's own marker inside, under names no user would pick


def test_folders_named_like_leftovers_are_never_moved_or_deleted(tmp_path):
    """The probe: `.sib.old-mybackup/` and `.sib.partial-notes/n.txt` beside a new `sib`
    (oracle: inputs unchanged; before the fix the first became `sib`, the second was deleted)."""
    backup = tmp_path / ".sib.old-mybackup"
    backup.mkdir()
    (backup / "thesis.txt").write_text("years of work")
    notes = tmp_path / ".sib.partial-notes"
    notes.mkdir()
    (notes / "n.txt").write_text("notes")
    # even names of sim's own pattern, but without its marker inside, are the user's
    lookalike = tmp_path / leftover_name(tmp_path / "sib", "old", "0" * 16)
    lookalike.mkdir()
    (lookalike / "copy.txt").write_text("mine")
    before = _tree(tmp_path)
    with ResultsFolder(tmp_path / "sib") as f:
        f.text("a.txt", "new")
    with ResultsFolder(tmp_path / "sib", force=True) as f:
        f.text("a.txt", "newer")
    assert (tmp_path / "sib" / "a.txt").read_text() == "newer"
    after = _tree(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("sib/")} == before


def test_a_users_copy_of_a_results_folder_named_like_a_leftover_is_kept(tmp_path):
    """A folder holding sim's results marker (a user's backup copy of a result) is not a
    leftover: only the transient marker with the folder's own token counts."""
    copy = tmp_path / leftover_name(tmp_path / "res", "old", "a" * 16)
    copy.mkdir()
    (copy / MARKER).write_text(marker_text("run"))
    (copy / "targets.csv").write_text("my backup")
    other = tmp_path / leftover_name(tmp_path / "res", "partial", "b" * 16)
    other.mkdir()
    (other / TRANSIENT_MARKER).write_text(json.dumps({"tool": "sim", "kind": "partial",
                                                      "of": "res", "token": "c" * 16}))
    before = _tree(tmp_path)
    with OutputLock(tmp_path / "res"):
        pass
    assert _tree(tmp_path) == before


def test_leftovers_sim_marked_are_recovered_and_cleaned(tmp_path):
    """Killed between the two renames: the marked old result is put back, a marked partial
    folder removed (oracle: the previous result, byte for byte)."""
    out = tmp_path / "res"
    old = mark_leftover(out, "old")
    (old / "targets.csv").write_text("previous result\n")
    (old / MARKER).write_text(marker_text("run"))
    partial = mark_leftover(out, "partial")
    (partial / "ensemble.nc").write_bytes(b"x" * 100)
    with OutputLock(out):
        assert (out / "targets.csv").read_text() == "previous result\n"
        assert not (out / TRANSIENT_MARKER).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]


def test_the_names_sim_writes_carry_the_marker_and_a_long_token(tmp_path, monkeypatch):
    """While writing, the temporary folder is `.<name>.partial-sim-<16 hex>` with the transient
    marker; the finished folder holds no transient marker."""
    out = tmp_path / "res"
    with ResultsFolder(out) as f:
        assert re.fullmatch(r"\.res\.partial-sim-[0-9a-f]{16}", f.path.name)
        body = json.loads((f.path / TRANSIENT_MARKER).read_text())
        assert body == {"tool": "sim", "kind": "partial", "of": "res",
                        "token": f.path.name.rsplit("-", 1)[1]}
        f.text("a.txt", "a")
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "a.txt", "manifest.json"]
    assert "files" in json.loads((out / "manifest.json").read_text())
    assert TRANSIENT_MARKER not in json.loads((out / "manifest.json").read_text())["files"]
