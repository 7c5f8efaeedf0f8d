"""Atomic results folders: a failure while writing never destroys what was there."""

import pytest

from sim.errors import SimError
from sim.output.folder import atomic_folder


def test_interrupted_write_leaves_previous_results(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "targets.csv").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(out, force=True) as tmp:
            (tmp / "targets.csv").write_text("new, half written")
            raise KeyboardInterrupt
    assert (out / "targets.csv").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no partial folder left behind


def test_existing_folder_needs_force(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    with pytest.raises(SimError, match="results folder exists; pass --force"):
        with atomic_folder(out, force=False):
            pass


def test_force_replaces_after_success(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("x")
    with atomic_folder(out, force=True) as tmp:
        (tmp / "new.txt").write_text("y")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
