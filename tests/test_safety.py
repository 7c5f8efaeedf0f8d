"""Nothing lost, nothing trusted blindly (issue 14): owned output folders, one writer per folder,
clean failures with nothing half-written, and a verified calibration cache.

Each test names the defect of the issue it pins down. The command-line tests call
``sim.cli.main`` in-process (``run_cli``); the concurrency tests start a second process.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from sim.calibrate.cache import CacheWarning, load_or_calibrate
from sim.errors import SimError
from sim.model import FittedModel, fitted_filename
from sim.output.folder import ResultsFolder
from sim.output.lock import OutputLock, lock_path
from sim.output.owned import (MARKER, check_output_path, mark_leftover, marker_text, owner,
                              safe_name)
from sim.paths import DEFAULT_RESULTS_DIR, PACKAGE_DIR, REPO_DIR, SCENARIOS_DIR

ROOT = Path(__file__).resolve().parents[1]
S2020 = SCENARIOS_DIR / "baseline_2020.toml"
FIXTURE = ROOT / "tests" / "data" / "calibrate"
FAST = ["--draws", "200", "--no-figures", "--quiet"]


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes): 'unchanged' means equal trees."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _leftovers(parent: Path) -> list[str]:
    """Partial, old and lock files a writer could leave next to its output."""
    return sorted(p.name for p in parent.iterdir()
                  if ".partial-" in p.name or ".old-" in p.name or p.name.endswith(".lock"))


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err and err.count("\n") <= 2, err


@pytest.fixture
def user_folder(tmp_path):
    """A folder of the user's, not written by sim."""
    d = tmp_path / "important"
    (d / "sub").mkdir(parents=True)
    (d / "thesis.txt").write_text("years of work")
    (d / "sub" / "notes.md").write_text("more")
    return d


# --------------------------------------------------------------------------------------------
# defect 1: --force deletes whatever directory it is given

def test_force_refuses_a_folder_sim_did_not_write(run_cli, user_folder):
    before = _tree(user_folder)
    code, _, err = run_cli("run", S2020, "--out", user_folder, "--force", *FAST)
    assert code == 2 and "not a folder sim wrote" in err and "nothing was touched" in err
    _no_traceback(err)
    assert _tree(user_folder) == before
    assert _leftovers(user_folder.parent) == []
    with pytest.raises(SimError, match="not a folder sim wrote"):
        ResultsFolder(user_folder, force=True)


def test_force_refuses_the_data_directory(run_cli, tmp_path):
    data = tmp_path / "mydata"
    shutil.copytree(FIXTURE, data, ignore=shutil.ignore_patterns("*.py"))
    before = _tree(data)
    code, _, err = run_cli("run", S2020, "--data", data, "--out", data, "--force", *FAST)
    assert code == 2 and "is or holds the input folder" in err
    assert _tree(data) == before
    # nor a folder holding the scenario file being read
    scen = tmp_path / "scen"
    scen.mkdir()
    shutil.copy(S2020, scen / "s.toml")
    (scen / MARKER).write_text(marker_text("run"))   # even one that looks like sim's
    code, _, err = run_cli("run", scen / "s.toml", "--out", scen, "--force", *FAST)
    assert code == 2 and "is or holds the input file" in err
    assert sorted(p.name for p in scen.iterdir()) == [MARKER, "s.toml"]


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_and_dotdot_are_refused_with_force(run_cli, tmp_path, monkeypatch, name):
    work = tmp_path / "a" / "work"
    work.mkdir(parents=True)
    (work / "keep.txt").write_text("x")
    monkeypatch.chdir(work)
    before = _tree(tmp_path)
    code, _, err = run_cli("run", S2020, "--out", name, "--force", *FAST)
    assert code == 2 and "refusing to write into '.' or '..': name the folder" in err
    assert _tree(tmp_path) == before and _leftovers(work) == [] and _leftovers(work.parent) == []


def test_paths_never_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for p in (Path("/"), Path.home(), REPO_DIR, PACKAGE_DIR, REPO_DIR / "calibration",
              DEFAULT_RESULTS_DIR, Path("."), tmp_path, tmp_path.parent, Path("sub/..")):
        with pytest.raises(SimError, match="refusing"):
            check_output_path(p)
    assert check_output_path(DEFAULT_RESULTS_DIR / "baseline_2020") == \
        DEFAULT_RESULTS_DIR / "baseline_2020"
    with pytest.raises(SimError, match="input file"):
        check_output_path(tmp_path / "in", inputs=[tmp_path / "in" / "s.toml"])


def test_a_file_named_dotdot_toml_gets_a_sane_default_name():
    # Path("..toml").stem is "." and results/"." is results/ itself: every earlier run
    assert Path("..toml").stem == "." and DEFAULT_RESULTS_DIR / Path("..toml").stem == \
        DEFAULT_RESULTS_DIR
    assert safe_name(".") == "unnamed" and safe_name("..") == "unnamed"
    assert safe_name(".hidden") == "hidden" and safe_name("a/b") == "a_b"
    assert safe_name("baseline_2020") == "baseline_2020"
    with pytest.raises(SimError, match="results/ folder itself"):
        check_output_path(DEFAULT_RESULTS_DIR)


def test_force_replaces_empty_marked_and_legacy_folders(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    legacy = tmp_path / "legacy"      # written by sim before the marker existed
    legacy.mkdir()
    (legacy / "manifest.json").write_text(json.dumps({"sim_version": "0.1.0", "seed": 1}))
    foreign = tmp_path / "foreign"    # a manifest.json of something else
    foreign.mkdir()
    (foreign / "manifest.json").write_text(json.dumps({"name": "my app"}))
    assert owner(legacy) == {"tool": "sim", "version": "0.1.0", "command": "run"}
    assert owner(foreign) is None and owner(empty) is None
    for out in (empty, legacy):
        with ResultsFolder(out, force=True, command="run") as f:
            f.text("a.txt", "new")
        assert (out / "a.txt").read_text() == "new" and owner(out)["command"] == "run"
    with pytest.raises(SimError, match="not a folder sim wrote"):
        ResultsFolder(foreign, force=True)


def test_compare_never_deletes_a_users_figures(run_cli, make_results, tmp_path, user_folder):
    run = make_results(tmp_path / "run", outputs=False)
    (user_folder / "figures").mkdir()
    (user_folder / "figures" / "mine.png").write_bytes(b"png")
    before = _tree(user_folder)
    code, _, err = run_cli("compare", run, "--no-figures", "--quiet", "--out", user_folder)
    assert code == 2 and "not a folder sim wrote" in err
    assert _tree(user_folder) == before
    # an empty folder is fine, and so is replacing the comparison written there
    out = tmp_path / "cmp"
    out.mkdir()
    for _ in range(2):
        assert run_cli("compare", run, "--no-figures", "--quiet", "--out", out)[0] == 0
    assert owner(out)["command"] == "compare" and _leftovers(tmp_path) == []


def test_report_rewrites_only_a_folder_sim_wrote(run_cli, make_results, tmp_path):
    run = make_results(tmp_path / "run", outputs=False)
    (run / MARKER).unlink()
    (run / "manifest.json").write_text("[1, 2]")   # neither marker nor a sim manifest
    before = _tree(run)
    code, _, err = run_cli("report", run, "--no-figures", "--quiet")
    assert code == 2 and "`sim report` rewrites only results folders sim wrote" in err
    assert _tree(run) == before


# --------------------------------------------------------------------------------------------
# defect 2: concurrent runs on one folder silently replace each other

HOLD_LOCK = ("import sys, pathlib; from sim.output.lock import OutputLock; "
             "lock = OutputLock(sys.argv[1]).acquire(); print('locked', flush=True); "
             "sys.stdin.read(); "
             "sys.argv[2:] and pathlib.Path(sys.argv[1]).mkdir(); lock.release()")


@pytest.fixture
def other_process_writing():
    """``start(out, create=False)``: another process holding the lock of ``out`` until its
    stdin is closed (or the test ends); with ``create`` it makes ``out`` before letting go."""
    procs = []

    def start(out: Path, create: bool = False) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)] + ["create"] * create,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout.readline().strip() == "locked"
        return p

    yield start
    for p in procs:
        p.stdin.close()
        p.wait(timeout=30)


def test_a_second_writer_fails_at_once_naming_the_other(run_cli, tmp_path, other_process_writing):
    out = tmp_path / "c1"
    holder = other_process_writing(out)
    t0 = time.perf_counter()
    code, _, err = run_cli("run", S2020, "--out", out, *FAST)
    assert code == 2 and f"process {holder.pid} is writing this folder now" in err
    assert "--wait" in err and time.perf_counter() - t0 < 5   # before any calibration
    assert not out.exists()
    with pytest.raises(SimError, match="is writing this folder now"):
        with ResultsFolder(out):
            pass
    holder.stdin.close()
    holder.wait(timeout=30)
    with ResultsFolder(out) as f:   # free again; the lock file goes with its holder
        f.text("a.txt", "a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c1"]


def test_wait_takes_the_folder_when_the_other_writer_is_done(tmp_path, other_process_writing,
                                                            capsys):
    out = tmp_path / "c1"
    holder = other_process_writing(out)

    def release_soon():
        time.sleep(1.0)
        holder.stdin.close()

    import threading
    threading.Thread(target=release_soon).start()
    t0 = time.perf_counter()
    with ResultsFolder(out, wait=True) as f:
        f.text("a.txt", "a")
    assert time.perf_counter() - t0 >= 0.9
    assert "waiting for process" in capsys.readouterr().err
    # after waiting the existence check runs again: never a silent replacement
    out2 = tmp_path / "c2"
    holder2 = other_process_writing(out2, create=True)
    folder = ResultsFolder(out2, wait=True)     # out2 does not exist yet
    threading.Thread(target=lambda: (time.sleep(0.5), holder2.stdin.close())).start()
    with pytest.raises(SimError, match="results folder exists; pass --force"):
        with folder:
            pass
    assert out2.is_dir() and list(out2.iterdir()) == []


def test_lock_is_reentrant_and_leaves_nothing_behind(tmp_path):
    out = tmp_path / "new" / "deeper" / "out"
    with OutputLock(out) as outer:
        assert lock_path(out).exists()
        with ResultsFolder(out) as f:   # the same process: joins the lock
            f.text("a.txt", "a")
        assert lock_path(out).exists()  # still held by the outer lock
        assert outer.key is not None
    assert not lock_path(out).exists() and (out / "a.txt").exists()
    # parents created for an output that was never written are removed again
    other = tmp_path / "x" / "y" / "out"
    with pytest.raises(RuntimeError):
        with OutputLock(other):
            raise RuntimeError("failed before writing")
    assert not (tmp_path / "x").exists()


def test_stale_partial_folders_of_killed_runs_are_cleaned_up(tmp_path):
    out = tmp_path / "res"
    partial = mark_leftover(out, "partial")             # as a killed writer leaves it
    (partial / "ensemble.nc").write_bytes(b"x" * 1000)
    (tmp_path / ".res.lock").write_text("99999999\n")   # left by kill -9: no process holds it
    other = mark_leftover(tmp_path / "other", "partial")  # another output's: not ours to touch
    with ResultsFolder(out) as f:
        f.text("a.txt", "a")
    mark_leftover(out, "old")                           # out exists: this one is garbage
    with ResultsFolder(out, force=True) as f:
        f.text("b.txt", "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "res"]
    assert (out / "b.txt").exists()


@pytest.mark.slow
def test_two_runs_on_one_folder_one_succeeds_one_fails(run_cli, tmp_path):
    """Two real `sim run` processes on the same --out: the second fails at once with the
    message, the first completes, the folder holds one complete result; with --wait the
    second runs after the first."""
    out = tmp_path / "c1"
    flag = tmp_path / "flag"
    slow_run = (
        "import sys, time, pathlib\n"
        "import sim.run.pipeline as P\n"
        "orig = P.write_outputs\n"
        "def slow(*a, **k):\n"
        "    pathlib.Path(sys.argv[1]).write_text('writing')\n"
        "    time.sleep(float(sys.argv[2]))\n"
        "    return orig(*a, **k)\n"
        "P.write_outputs = slow\n"
        "from sim.cli import main\n"
        "sys.exit(main(sys.argv[3:]))\n")

    def start(*extra, sleep=3.0):
        flag.unlink(missing_ok=True)
        p = subprocess.Popen([sys.executable, "-c", slow_run, str(flag), str(sleep), "run",
                              str(S2020), "--out", str(out), *FAST, *extra],
                             stderr=subprocess.PIPE, text=True)
        t0 = time.time()
        while not flag.exists():
            assert p.poll() is None, p.stderr.read()
            assert time.time() - t0 < 300
            time.sleep(0.1)
        return p

    first = start()
    code, _, err = run_cli("run", S2020, "--out", out, *FAST)
    assert code == 2 and f"process {first.pid} is writing this folder now" in err
    assert first.wait(timeout=300) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == {p.name for p in out.iterdir()} - {MARKER}
    assert (out / "targets.csv").stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c1", "flag"]

    second = start("--force", sleep=2.0)
    code, _, err = run_cli("run", S2020, "--out", out, "--force", "--wait", *FAST)
    assert code == 0 and f"waiting for process {second.pid}" in err
    assert second.wait(timeout=300) == 0
    assert (out / "targets.csv").stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c1", "flag"]


# --------------------------------------------------------------------------------------------
# defect 6: tracebacks instead of `sim: error:`, half-written results

def test_out_below_a_file(run_cli, tmp_path):
    (tmp_path / "afile").write_text("x")
    code, _, err = run_cli("run", S2020, "--out", tmp_path / "afile" / "sub", *FAST)
    assert code == 2 and "afile: is a file, not a folder" in err
    _no_traceback(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_unwritable_out(run_cli, tmp_path, monkeypatch):
    monkeypatch.setattr("sim.output.owned.os.access", lambda *a: False)   # as a read-only fs
    code, _, err = run_cli("run", S2020, "--out", tmp_path / "r", *FAST)
    assert code == 2 and "cannot write here" in err
    _no_traceback(err)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes into read-only folders; covered by test_unwritable_out")
def test_read_only_out(run_cli, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, _, err = run_cli("run", S2020, "--out", ro / "r", *FAST)
    finally:
        ro.chmod(0o755)
    assert code == 2 and "cannot write here" in err and list(ro.iterdir()) == []


def test_read_only_file_system_while_writing(run_cli, tmp_path, monkeypatch):
    import pathlib

    real_mkdir = pathlib.Path.mkdir

    def mkdir(self, *a, **k):
        if ".partial-" in self.name:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)
    code, _, err = run_cli("run", S2020, "--out", tmp_path / "r", *FAST)
    assert code == 2 and "Read-only file system" in err
    _no_traceback(err)
    assert list(tmp_path.iterdir()) == []


def test_disk_full_while_writing_the_ensemble(run_cli, tmp_path, monkeypatch):
    from sim.ensemble import EnsembleWriter

    out = tmp_path / "r"

    def full(self, ds, first_draw):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.path))

    monkeypatch.setattr(EnsembleWriter, "write", full)
    code, _, err = run_cli("run", S2020, "--out", out, *FAST)
    assert code == 2 and "ensemble.nc: No space left on device" in err
    assert "--summaries-only" in err
    _no_traceback(err)
    assert list(tmp_path.iterdir()) == []   # no result, no partial folder, no lock


def test_too_little_free_space_fails_before_simulating(run_cli, tmp_path, monkeypatch):
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("sim.output.folder.shutil.disk_usage", lambda p: usage(10**9, 0, 10**5))

    def never(*a, **k):
        raise AssertionError("simulated although the disk is too small")

    monkeypatch.setattr("sim.run.pipeline._stream_into", never)
    code, _, err = run_cli("run", S2020, "--out", tmp_path / "r", *FAST)
    assert code == 2 and "not enough free space for ensemble.nc" in err
    assert "--summaries-only" in err and list(tmp_path.iterdir()) == []


def test_hdf5_errors_reported_only_as_ignored_become_one_oserror(tmp_path):
    from types import SimpleNamespace

    from sim.ensemble import _hdf5_errors

    path = tmp_path / "e.nc"
    with pytest.raises(OSError) as info:
        with _hdf5_errors(path):
            sys.unraisablehook(SimpleNamespace(
                object="h5py._objects.ObjectID.__dealloc__", exc_type=RuntimeError,
                exc_value=RuntimeError("Can't decrement id ref count (file write failed: "
                                       "errno = 28, error message = 'No space left on device')"),
                exc_traceback=None, err_msg=None))
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)


def test_an_aborted_ensemble_file_is_closed(tmp_path, make_dataset):
    import h5py

    from sim.ensemble import EnsembleWriter

    path = tmp_path / "ensemble.nc"
    before = len(h5py.h5f.get_obj_ids())
    w = EnsembleWriter(path, draws=600)
    w.write(make_dataset(draws=300), 0)
    assert len(h5py.h5f.get_obj_ids()) > before
    w.abort()
    assert w.file is None and len(h5py.h5f.get_obj_ids()) == before


def test_deeply_nested_toml(run_cli, tmp_path):
    f = tmp_path / "deep.toml"
    f.write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    for argv in (("run", f, "--out", tmp_path / "r", *FAST), ("validate", f)):
        code, _, err = run_cli(*argv)
        assert code == 2 and "deep.toml" in err and "nested too deeply" in err, err
        _no_traceback(err)
    assert not (tmp_path / "r").exists()


def test_a_folder_named_like_a_data_file(run_cli, tmp_path):
    data = tmp_path / "d"
    shutil.copytree(FIXTURE, data, ignore=shutil.ignore_patterns("*.py"))
    (data / "sub.csv").mkdir()
    code, _, err = run_cli("data", "--data", data)
    assert code == 2 and "sub.csv" in err
    _no_traceback(err)


def test_internal_errors_are_one_line_with_exit_1(run_cli, tmp_path, monkeypatch):
    def boom(*a, **k):
        raise ValueError("something impossible\nsecond line")

    monkeypatch.setattr("sim.run.pipeline.run_file", boom)
    code, _, err = run_cli("run", S2020, "--out", tmp_path / "r")
    assert code == 1
    assert err == ("sim run: internal error: ValueError: something impossible second line "
                   "(run with SIM_DEBUG=1 for the traceback)\n")
    monkeypatch.setenv("SIM_DEBUG", "1")
    code, _, err = run_cli("run", S2020, "--out", tmp_path / "r")
    assert code == 1 and "Traceback" in err and "internal error: ValueError" in err


def test_os_errors_name_the_path(run_cli, tmp_path, monkeypatch):
    def missing(*a, **k):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", "/some/where.csv")

    monkeypatch.setattr("sim.run.pipeline.run_file", missing)
    code, _, err = run_cli("run", S2020, "--out", tmp_path / "r")
    assert code == 2 and err == "sim run: error: /some/where.csv: Is a directory\n"


@pytest.mark.parametrize("flags, message", [
    (["--tolerance", "0"], "--tolerance 0.0: expected a standard error in (0, 0.5)"),
    (["--tolerance", "0.05", "--max-draws", "-5"], "--max-draws -5: expected a whole number"),
    (["--tolerance", "nan"], "--tolerance nan"),
])
def test_bad_adaptive_flags_fail_before_calibrating(run_cli, tmp_path, monkeypatch, flags,
                                                    message):
    def never(*a, **k):
        raise AssertionError("calibrated despite bad flags")

    monkeypatch.setattr("sim.run.context.RunContext.build", never)
    code, _, err = run_cli("run", S2020, "--out", tmp_path / "r", *flags)
    assert code == 2 and message in err
    assert list(tmp_path.iterdir()) == []


def test_report_on_damaged_folders(run_cli, make_results, make_dataset, tmp_path):
    run = make_results(tmp_path / "run", outputs=False)
    (run / "manifest.json").write_text("[1, 2]")   # marked as sim's: the manifest is ignored
    assert run_cli("report", run, "--no-figures", "--quiet")[0] == 0
    assert json.loads((run / "manifest.json").read_text())["rebuilt"]["command"] == "report"

    text = (run / "scenario.resolved.toml").read_text()
    (run / "scenario.resolved.toml").write_text(
        text.replace("co2_intensity_cum_2020_fyp13 = -10.0", 'co2_intensity_cum_2020_fyp13 = "x"'))
    before = _tree(run)
    code, _, err = run_cli("report", run, "--no-figures", "--quiet")
    assert code == 2 and "target_values.co2_intensity_cum_2020_fyp13: expected a finite number" in err
    assert _tree(run) == before
    (run / "scenario.resolved.toml").write_text(text)

    make_dataset().isel(draw=slice(0, 0)).to_netcdf(run / "ensemble.nc", engine="h5netcdf")
    before = _tree(run)
    code, _, err = run_cli("report", run, "--no-figures", "--quiet")
    assert code == 2 and "empty ensemble" in err and "0 draws" in err
    _no_traceback(err)
    assert _tree(run) == before and _leftovers(tmp_path) == []


@pytest.mark.parametrize("content, message", [
    ("", "cannot read as a targets table"),
    ("scenario,target_id,status\nbaseline,x,evaluated\n", "missing columns probability, mc_se"),
    ("scenario,target_id,status,probability,mc_se\n", "no rows"),
    ("scenario,target_id,status,probability,mc_se\nbaseline,x,evaluated,high,0\n",
     "expected a number in [0, 1]"),
])
def test_compare_on_broken_targets_csv(run_cli, make_results, tmp_path, content, message):
    run = make_results(tmp_path / "run", outputs=False)
    (run / "targets.csv").write_text(content)
    code, _, err = run_cli("compare", run, "--no-figures", "--quiet")
    assert code == 2 and message in err, err
    _no_traceback(err)
    assert not (run / "compare").exists() and _leftovers(run) == []


# --------------------------------------------------------------------------------------------
# defect 5: a cached fit is trusted blindly

@pytest.fixture(scope="module")
def fixture_cache(tmp_path_factory):
    """A calibration cache holding the fit of the small fixture data (as_of 2012)."""
    data = tmp_path_factory.mktemp("data")
    shutil.copytree(FIXTURE, data, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.py"))
    cache = tmp_path_factory.mktemp("cache")
    fm = load_or_calibrate(2012, "revised", data_dir=data, cache_dir=cache)
    return data, cache, fm


def _reload(fixture_cache, tmp_path, text: str | None = None, model: FittedModel | None = None):
    data, cache, fm = fixture_cache
    mine = tmp_path / "cache"
    shutil.copytree(cache, mine)
    path = mine / fitted_filename(2012, "revised")
    if model is not None:
        text = model.file_text()   # a valid checksum over bad contents
    path.write_text(text if text is not None else path.read_text())
    return load_or_calibrate(2012, "revised", data_dir=data, cache_dir=mine), path


@pytest.mark.parametrize("content, reason", [
    ("[]", "not a fitted model"),
    ("\x00garbage{", "cannot read fitted model"),
    ('{"format_version": 1}', "checksum missing"),
])
def test_a_damaged_cache_file_is_recomputed_with_a_warning(fixture_cache, tmp_path, content,
                                                           reason):
    with pytest.warns(CacheWarning, match=reason):
        fm, path = _reload(fixture_cache, tmp_path, text=content)
    assert isinstance(fm, FittedModel)
    assert fm.to_json() == fixture_cache[2].to_json()
    assert FittedModel.load(path).to_json() == fm.to_json()   # the cache was repaired


def test_an_edited_parameter_is_detected(fixture_cache, tmp_path):
    original = fixture_cache[2]
    raw = json.loads(original.file_text())
    raw["drivers"]["gdp_real"]["state_mean"][1] += 0.1   # 10 % more growth a year, by hand
    with pytest.warns(CacheWarning, match="checksum mismatch"):
        fm, _ = _reload(fixture_cache, tmp_path, text=json.dumps(raw))
    assert fm.drivers["gdp_real"].state("mean") == original.drivers["gdp_real"].state("mean")


def test_invalid_contents_are_recomputed(fixture_cache, tmp_path):
    fm = fixture_cache[2]
    d = fm.drivers["gdp_real"]
    bad_cov = d.param_cov.copy()
    bad_cov[0, 0] = -1.0                                 # a negative variance
    broken = dataclasses.replace(fm, drivers={**fm.drivers, "gdp_real": dataclasses.replace(
        d, param_cov=bad_cov)})
    assert any("param_cov: not positive semi-definite" in p for p in broken.problems())
    with pytest.warns(CacheWarning, match="param_cov"):
        again, _ = _reload(fixture_cache, tmp_path, model=broken)
    assert again.problems() == [] and np.array_equal(again.drivers["gdp_real"].param_cov,
                                                     d.param_cov)


def test_validate_checks_shapes_correlation_and_state_names(fixture_cache):
    fm = fixture_cache[2]
    assert fm.validate() is fm
    k = len(fm.shock_names)
    corr = fm.shock_corr.copy()
    corr[0, 0] = 2.0
    found = dataclasses.replace(fm, shock_corr=corr).problems()
    assert any(p.startswith("shock_corr: not a correlation matrix") for p in found)
    found = dataclasses.replace(fm, shock_corr=np.eye(k + 1)).problems()
    assert any("shock_corr: shape" in p for p in found)
    d = fm.drivers["gdp_real"]
    renamed = dataclasses.replace(d, state_names=d.state_names[:-1] + ("cum_from_1900",))
    found = dataclasses.replace(fm, drivers={**fm.drivers, "gdp_real": renamed}).problems()
    assert any(p.startswith("drivers.gdp_real: state_names") for p in found)
    nan = d.state_mean.copy()
    nan[0] = np.nan
    with pytest.raises(SimError, match="state_mean: expected"):
        dataclasses.replace(fm, drivers={**fm.drivers, "gdp_real": dataclasses.replace(
            d, state_mean=nan)}).validate()


def test_an_out_of_date_cache_is_replaced_without_a_warning(fixture_cache, tmp_path,
                                                             monkeypatch):
    import sim.calibrate.cache as cache_module

    calls = []
    real = cache_module.calibrate
    monkeypatch.setattr(cache_module, "calibrate", lambda *a, **k: calls.append(1) or real(*a, **k))
    fm, _ = _reload(fixture_cache, tmp_path)              # current: reused
    assert calls == [] and fm.to_json() == fixture_cache[2].to_json()
    monkeypatch.setattr(cache_module, "calibrator_id", lambda: "0.0+othercode")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # stale is not damage: no warning
        _reload(fixture_cache, tmp_path / "again")
    assert calls == [1]


def test_a_kill_between_the_two_renames_loses_nothing(tmp_path):
    """Killed after moving the old result aside but before renaming the new one in: the next
    writer on that output puts the old result back before cleaning up."""
    from sim.output.lock import OutputLock

    out = tmp_path / "res"
    old = mark_leftover(out, "old")
    (old / "targets.csv").write_text("previous result\n")
    partial = mark_leftover(out, "partial")
    with OutputLock(out):
        assert (out / "targets.csv").read_text() == "previous result\n"
    assert not old.exists() and not partial.exists()
