"""The one results writer (ResultsFolder): a failure while writing never destroys what was there."""

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest

from sim import __version__
from sim.errors import SimError
from sim.output.folder import ResultsFolder, check_results_folder, read_manifest
from sim.output.owned import MARKER, marker_text


def _old_run(tmp_path):
    """A folder an earlier `sim run` wrote (it carries sim's ownership marker)."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "targets.csv").write_text("old")
    (out / MARKER).write_text(marker_text("run"))
    return out


def _names(folder):
    return sorted(p.name for p in folder.iterdir() if p.name != MARKER)


def test_interrupted_write_leaves_previous_results(tmp_path):
    out = _old_run(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        with ResultsFolder(out, force=True) as folder:
            folder.text("targets.csv", "new, half written")
            raise KeyboardInterrupt
    assert (out / "targets.csv").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no partial folder left behind


def test_failure_while_writing_the_manifest_leaves_previous_results(tmp_path):
    out = _old_run(tmp_path)
    with pytest.raises(TypeError, match="not JSON serialisable"):
        with ResultsFolder(out, force=True) as folder:
            folder.text("targets.csv", "new")
            folder.manifest["bad"] = object()
    assert _names(out) == ["targets.csv"]
    assert (out / "targets.csv").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_existing_folder_needs_force(tmp_path):
    out = _old_run(tmp_path)
    with pytest.raises(SimError, match="results folder exists; pass --force"):
        ResultsFolder(out)
    with pytest.raises(SimError, match="results folder exists; pass --force"):
        with ResultsFolder(out, force=False):
            pass
    assert (out / "targets.csv").read_text() == "old"


def test_files_appear_only_on_success(tmp_path):
    out = tmp_path / "new"
    with ResultsFolder(out) as folder:
        folder.text("a.txt", "a")
        assert folder.path != out and not out.exists()  # written into a temporary sibling
    assert (out / "a.txt").read_text() == "a"


def test_force_replaces_after_success_and_manifest_lists_files(tmp_path):
    out = _old_run(tmp_path)
    (out / "old.txt").write_text("x")
    with ResultsFolder(out, force=True, command="sweep") as folder:
        folder.csv("table.csv", pd.DataFrame({"a": [1, 2]}))
        folder.json("data.json", {"n": 1})
        folder.manifest.update(seed=3)
        folder.text("figures/f.png", "png")  # written after the manifest was filled
    assert _names(out) == ["data.json", "figures", "manifest.json", "table.csv"]
    assert json.loads((out / MARKER).read_text())["command"] == "sweep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    manifest = read_manifest(out)
    assert manifest["command"] == "sweep" and manifest["seed"] == 3
    assert manifest["files"] == ["data.json", "figures", "table.csv", "manifest.json"]
    # the manifest is the last file written
    stamp = (out / "manifest.json").stat().st_mtime_ns
    assert all(p.stat().st_mtime_ns <= stamp for p in out.rglob("*") if p.is_file())


def test_no_manifest_when_asked(tmp_path):
    with ResultsFolder(tmp_path / "x", manifest=False) as folder:
        folder.text("a.txt", "a")
    assert _names(tmp_path / "x") == ["a.txt"]
    assert json.loads((tmp_path / "x" / MARKER).read_text()) == {
        "tool": "sim", "version": __version__, "command": "run"}


def test_keep_carries_files_as_links(tmp_path):
    out = _old_run(tmp_path)
    (out / "ensemble.nc").write_bytes(b"big")
    (out / "sub").mkdir()
    (out / "sub" / "s.txt").write_text("s")
    inode = (out / "ensemble.nc").stat().st_ino
    with ResultsFolder(out, force=True, manifest=False) as folder:
        folder.keep(out / "ensemble.nc")
        folder.keep(out / "sub")
    assert _names(out) == ["ensemble.nc", "sub"]
    assert (out / "ensemble.nc").read_bytes() == b"big"
    assert (out / "sub" / "s.txt").read_text() == "s"
    if hasattr(os, "link"):
        assert (out / "ensemble.nc").stat().st_ino == inode


def test_json_handles_numpy_and_paths(tmp_path):
    with ResultsFolder(tmp_path / "x", manifest=False) as folder:
        folder.json("a.json", {"x": np.float64(1.5), "v": np.arange(2), "p": tmp_path, "s": {1}})
    assert json.loads((tmp_path / "x" / "a.json").read_text()) == {
        "x": 1.5, "v": [0, 1], "p": str(tmp_path), "s": [1]}


def test_check_results_folder_and_read_manifest(tmp_path):
    with pytest.raises(SimError, match="no such results folder"):
        check_results_folder(tmp_path / "nope")
    (tmp_path / "f").write_text("x")
    with pytest.raises(SimError, match="not a folder"):
        check_results_folder(tmp_path / "f")
    run = _old_run(tmp_path)
    with pytest.raises(SimError, match=r"no ensemble.nc; found targets.csv"):
        check_results_folder(run)
    (run / "ensemble.nc").write_bytes(b"")
    assert check_results_folder(run) == run
    assert read_manifest(run) is None
    (run / "manifest.json").write_text("{broken")
    assert read_manifest(run) is None
    (run / "manifest.json").write_text('{"seed": 1}')
    assert read_manifest(run) == {"seed": 1}


def test_permissions_are_those_of_the_replaced_folder_or_the_umask(tmp_path):
    out = _old_run(tmp_path)
    out.chmod(0o750)
    with ResultsFolder(out, force=True) as folder:
        folder.text("a.txt", "a")
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    mask = os.umask(0o022)
    try:
        with ResultsFolder(tmp_path / "new"):
            pass
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o755  # not mkdtemp's 0o700
