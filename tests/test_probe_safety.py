"""The probe of issue 19, items 2, 4, 6 and 7: what sim touches beside its output, clean
failures on damaged results and full disks, the calibration cache on request, and the declared
lower bounds of the dependencies.

Each test states its oracle: *inputs unchanged* (every byte of the user's files as before),
*refused with a message* (exit 2, one line naming the file, no traceback), or *output equal to a
reference*. The quick tier holds a few cases of each category of the probe (item 8).
"""

from __future__ import annotations

import errno
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


@pytest.mark.parametrize("damage", ["not_json", "other_token", "other_output", "other_kind",
                                    "marker_is_a_link", "marker_is_a_folder", "folder_is_a_link"])
def test_a_leftover_with_a_damaged_marker_is_left_alone(tmp_path, damage):
    """Oracle: inputs unchanged. Only the exact marker sim wrote makes a folder a leftover."""
    out = tmp_path / "res"
    folder = mark_leftover(out, "old")
    (folder / "targets.csv").write_text("keep me")
    marker = folder / TRANSIENT_MARKER
    body = json.loads(marker.read_text())
    if damage == "not_json":
        marker.write_text("{oops")
    elif damage in ("other_token", "other_output", "other_kind"):
        key = {"other_token": "token", "other_output": "of", "other_kind": "kind"}[damage]
        body[key] = {"token": "f" * 16, "of": "other", "kind": "partial"}[key]
        marker.write_text(json.dumps(body))
    elif damage == "marker_is_a_link":
        (tmp_path / "elsewhere.json").write_text(marker.read_text())
        marker.unlink()
        marker.symlink_to(tmp_path / "elsewhere.json")
    elif damage == "marker_is_a_folder":
        marker.unlink()
        marker.mkdir()
    else:                                   # the leftover name is a link to a user's folder
        real = tmp_path / "real"
        folder.rename(real)
        folder.symlink_to(real)
    before = _tree(tmp_path)
    with OutputLock(out):
        assert not out.exists()             # nothing was put back in its place
    assert _tree(tmp_path) == before and (folder.is_symlink() or folder.is_dir())


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


# --------------------------------------------------------------------------------------------
# item 4: an ensemble.nc that does not match its run is an error naming the file


def _damage_ensemble(run: Path, how: str) -> None:
    """Rewrite the run's ensemble.nc (or its manifest) as the probe did."""
    from sim.ensemble import write_netcdf

    import xarray as xr

    with xr.open_dataset(run / "ensemble.nc", engine="h5netcdf") as ds:
        ds = ds.load()
    if how == "years_shifted":                     # the probe: every year + 1
        ds = ds.assign_coords(year=ds["year"].values + 1)
    elif how == "years_shifted_attrs_too":         # attributes edited to match: the manifest
        ds = ds.assign_coords(year=ds["year"].values + 1)   # still says 2015
        ds.attrs.update(as_of=int(ds.attrs["as_of"]) + 1, horizon=int(ds.attrs["horizon"]) + 1)
    elif how == "draws_renumbered":
        ds = ds.assign_coords(draw=ds["draw"].values + 5)
    elif how == "scenarios_swapped":
        manifest = json.loads((run / "manifest.json").read_text())
        manifest["scenarios"] = ["faster", "baseline"]
        (run / "manifest.json").write_text(json.dumps(manifest))
        return
    write_netcdf(ds, run / "ensemble.nc")


@pytest.mark.parametrize("how, message", [
    ("years_shifted", "attribute as_of is 2015 but the first year of the ensemble is 2016"),
    ("years_shifted_attrs_too", "manifest.json as_of is 2015 but the first year of the "
                                "ensemble is 2016"),
    ("draws_renumbered", "coordinate draw is not 0 .. 299"),
    ("scenarios_swapped", "manifest.json lists scenarios ['faster', 'baseline'] but the "
                          "ensemble holds ['baseline', 'faster']"),
])
@pytest.mark.parametrize("command", ["report", "compare"])
def test_an_ensemble_that_does_not_match_its_run_is_refused(run_cli, make_results, tmp_path,
                                                            how, message, command):
    """Oracle: refused with a message naming ensemble.nc; the folder unchanged (before the
    fix: `internal error: KeyError` from report, `IndexError` from compare)."""
    run = make_results(tmp_path / "run", outputs=False)
    _damage_ensemble(run, how)
    before = _tree(tmp_path)
    extra = ["--out", tmp_path / "cmp"] if command == "compare" else []
    code, _, err = run_cli(command, run, "--quiet", *extra)
    _one_line_error(code, err, f"{run / 'ensemble.nc'}: does not match the run that wrote it",
                    message)
    assert _tree(tmp_path) == before


def test_report_on_a_summaries_only_folder_says_so(run_cli, make_results, tmp_path):
    """Oracle: refused with a message saying why (before: 'not a sim ensemble (expected dims
    scenario, draw, year; got quantile, ...)')."""
    from sim.ensemble import read_netcdf, write_netcdf
    from sim.run.pipeline import _summaries

    run = make_results(tmp_path / "run", outputs=False)
    write_netcdf(_summaries(read_netcdf(run / "ensemble.nc"), (0.1, 0.5, 0.9)),
                 run / "ensemble.nc")
    before = _tree(tmp_path)
    code, _, err = run_cli("report", run, "--quiet")
    _one_line_error(code, err, f"{run / 'ensemble.nc'}: holds summaries only",
                    "run `sim run` again without --summaries-only")
    assert _tree(tmp_path) == before


def test_an_ensemble_that_matches_its_run_is_read_unchanged(make_results, tmp_path):
    """The check passes a folder as sim wrote it (oracle: the dataset read is the one written)."""
    from sim.ensemble import read_netcdf
    from sim.ensemble_check import coordinate_problems, manifest_beside

    run = make_results(tmp_path / "run", outputs=False)
    ds = read_netcdf(run / "ensemble.nc")
    assert coordinate_problems(ds, manifest_beside(run / "ensemble.nc")) == []
    assert ds["year"].values.tolist() == list(range(2015, 2021)) and ds.sizes["draw"] == 300


# --------------------------------------------------------------------------------------------
# item 4: a full disk in every mode is one message, nothing left behind; --out '' is refused

S2020 = ROOT / "scenarios" / "baseline_2020.toml"
FAST = ["--draws", "200", "--no-figures", "--quiet"]


def test_disk_full_writing_a_summaries_only_ensemble(run_cli, tmp_path, monkeypatch):
    """The probe: --summaries-only on a full disk gave `RuntimeError ... errno = 28`, then a
    segfault. HDF5's error (as h5py raises it) is injected; oracle: one message naming the
    results file, exit 2, no partial folder, no lock."""
    import xarray as xr

    def full(self, path, *a, **k):
        Path(path).write_bytes(b"\x89HDF half")
        raise RuntimeError("Disable slist on flush dest failure failed (file write failed: "
                           f"filename = '{path}', errno = 28, error message = 'No space left "
                           "on device')")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full)
    out = tmp_path / "r"
    code, _, err = run_cli("run", S2020, "--out", out, "--summaries-only", *FAST)
    _one_line_error(code, err, f"{out / 'ensemble.nc'}: No space left on device",
                    "free some space, or write elsewhere with --out")
    assert "--summaries-only" not in err            # it was given: no such hint
    assert list(tmp_path.iterdir()) == []


def test_too_little_space_for_summaries_fails_before_simulating(run_cli, tmp_path, monkeypatch):
    """The free-space check covers --summaries-only (before: full-draw ensembles only)."""
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("sim.output.folder.shutil.disk_usage", lambda p: usage(10**9, 0, 10**6))

    def never(*a, **k):
        raise AssertionError("simulated although the disk is too small")

    monkeypatch.setattr("sim.run.pipeline._stream_into", never)
    code, _, err = run_cli("run", S2020, "--out", tmp_path / "r", "--summaries-only", *FAST)
    _one_line_error(code, err, "not enough free space for the results", "1.0 MB free")
    assert list(tmp_path.iterdir()) == []


def test_write_netcdf_turns_hdf5s_full_disk_into_one_oserror(tmp_path, monkeypatch,
                                                            make_dataset):
    """Every writer of a NetCDF file (ensemble, summaries, sweep.nc) goes through
    write_netcdf: ENOSPC before writing when the disk is too small, and HDF5's RuntimeError
    as an OSError(ENOSPC) naming the file, the half-written file emptied."""
    import errno as errno_module
    from collections import namedtuple

    import xarray as xr

    from sim.ensemble import write_netcdf

    path = tmp_path / "e.nc"
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("sim.ensemble.shutil.disk_usage", lambda p: usage(10**9, 0, 10**4))
    with pytest.raises(OSError) as info:
        write_netcdf(make_dataset(), path)
    assert info.value.errno == errno_module.ENOSPC and info.value.filename == str(path)
    assert not path.exists()
    monkeypatch.undo()

    def full(self, p, *a, **k):
        Path(p).write_bytes(b"\x89HDF half")
        raise RuntimeError("Can't write data (file write failed: errno = 28, error message = "
                           "'No space left on device')")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full)
    with pytest.raises(OSError) as info:
        write_netcdf(make_dataset(), path)
    assert info.value.errno == errno_module.ENOSPC and info.value.filename == str(path)
    assert path.stat().st_size == 0


def test_disk_full_while_rebuilding_leaves_the_folder_as_it_was(run_cli, make_results,
                                                                tmp_path, monkeypatch):
    """`sim report` on a full disk (a library's write error naming no file): the message names
    the folder; the folder unchanged."""
    run = make_results(tmp_path / "run", outputs=False)
    before = _tree(tmp_path)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("sim.output.rebuild.write_outputs", full)
    code, _, err = run_cli("report", run, "--no-figures", "--quiet")
    _one_line_error(code, err, f"{run}: No space left on device")
    assert _tree(tmp_path) == before


def test_disk_full_while_comparing_names_the_output(run_cli, make_results, tmp_path,
                                                   monkeypatch):
    """Any writer of a results folder (here `sim compare`'s tables): a full disk is one line
    naming the output, no partial folder or lock left."""
    run = make_results(tmp_path / "run", outputs=False)
    before = _tree(run)

    def full(self, name, df, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ResultsFolder, "csv", full)
    out = tmp_path / "cmp"
    code, _, err = run_cli("compare", run, "--no-figures", "--quiet", "--out", out)
    _one_line_error(code, err, f"{out}: No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"] and _tree(run) == before


@pytest.mark.parametrize("argv, message", [
    (["run", S2020, "--out", ""], "--out '': expected a path, got an empty name"),
    (["run", S2020, "--out", "  "], "--out '  ': expected a path"),
    (["run", S2020, "--data", ""], "--data '': expected a path"),
    (["run", S2020, "--cache", ""], "--cache '': expected a path"),
    (["run", ""], "FILE '': expected a path"),
    (["compare", "", "--quiet"], "RESULTS_DIR '': expected a path"),
    (["report", ""], "RESULTS_DIR '': expected a path"),
])
def test_an_empty_path_is_refused(run_cli, tmp_path, monkeypatch, argv, message):
    """The probe: `--out ''` wrote to results/<stem> in the repository. Oracle: refused with a
    message before any work; nothing written."""
    monkeypatch.chdir(tmp_path)

    def never(*a, **k):
        raise AssertionError("calibrated although an argument was empty")

    monkeypatch.setattr("sim.run.context.RunContext.build", never)
    code, _, err = run_cli(*argv)
    _one_line_error(code, err, message)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# item 6: the cache's trust model, and --no-cache

FIXTURE_DATA = ROOT / "tests" / "data" / "calibrate"


def test_no_cache_refits_and_leaves_a_forged_cache_alone(tmp_path):
    """The probe re-checksummed an edited fit with sim.model.checksum and it was reused: the
    checksum detects damage, not forgery (README, Safety). --no-cache calibrates afresh:
    oracle: the fresh fit equals the honest one, the forged file is unchanged, and the
    temporary cache is gone afterwards."""
    import shutil

    from sim.calibrate.cache import cache_dir_for, load_or_calibrate
    from sim.model import fitted_filename

    data = tmp_path / "data"
    shutil.copytree(FIXTURE_DATA, data, ignore=shutil.ignore_patterns("*.py"))
    cache = tmp_path / "cache"
    honest = load_or_calibrate(2012, "revised", data_dir=data, cache_dir=cache)
    raw = json.loads(honest.file_text())
    raw["drivers"]["gdp_real"]["state_mean"][1] += 0.1       # the forgery, then a new checksum
    from sim.model import checksum

    raw["sha256"] = checksum(raw)
    path = cache / fitted_filename(2012, "revised")
    path.write_text(json.dumps(raw))
    forged_bytes = path.read_bytes()
    reused = load_or_calibrate(2012, "revised", data_dir=data, cache_dir=cache)
    assert reused.drivers["gdp_real"].state("mean") != honest.drivers["gdp_real"].state("mean")
    with cache_dir_for(cache, no_cache=True) as fresh_dir:
        assert fresh_dir is not None and fresh_dir != cache and list(fresh_dir.iterdir()) == []
        fresh = load_or_calibrate(2012, "revised", data_dir=data, cache_dir=fresh_dir)
    assert fresh.to_json() == honest.to_json()
    assert path.read_bytes() == forged_bytes and not fresh_dir.exists()
    with cache_dir_for(cache) as same:
        assert same == cache


@pytest.mark.parametrize("command, extra", [("run", []), ("sweep", []), ("sensitivity", []),
                                             ("solve", ["--target", "x", "--lever",
                                                        "gdp_real.shift_pp"])])
def test_commands_that_calibrate_take_no_cache(run_cli, tmp_path, monkeypatch, command, extra):
    """Every command that calibrates passes an empty, private cache folder with --no-cache
    and the user's cache (SIM_CACHE_DIR) otherwise."""
    seen = []

    def build(*a, cache_dir=None, **k):
        seen.append(cache_dir)
        assert cache_dir is None or list(Path(cache_dir).iterdir()) == []
        raise SimError("stop here")

    monkeypatch.setattr("sim.run.context.RunContext.build", build)
    scenario = ROOT / "scenarios" / "baseline_2020.toml"
    out = ["--out", tmp_path / "o"] if command != "solve" else []
    run_cli(command, scenario, *extra, *out, "--no-cache")
    run_cli(command, scenario, *extra, *out)
    assert len(seen) == 2 and seen[0] is not None and not Path(seen[0]).exists()
    assert seen[1] is None


def test_cache_and_no_cache_exclude_each_other(run_cli, tmp_path):
    with pytest.raises(SystemExit):
        run_cli("run", ROOT / "scenarios" / "baseline_2020.toml", "--cache", tmp_path,
                "--no-cache")


# --------------------------------------------------------------------------------------------
# item 7: the declared lower bounds are what CI installs in its lowest-versions step


def _requirements() -> dict[str, str]:
    """``name -> lower bound`` of every dependency in pyproject.toml (extras included)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    out = {}
    for spec in specs:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?>=([0-9][0-9.]*)", spec.replace(" ", ""))
        assert m, f"pyproject.toml: {spec!r}: expected NAME>=LOWER (a lower bound CI installs)"
        out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def test_every_lower_bound_is_pinned_in_the_lowest_constraints():
    """.ci/lowest-constraints.txt pins each dependency at exactly its declared lower bound
    (CI installs and tests with it), so a bound cannot drift from what was tested."""
    pins = {}
    for line in (ROOT / ".ci" / "lowest-constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    for name, low in _requirements().items():
        assert pins.get(name) is not None, f"{name}>={low} has no ==pin in lowest-constraints"
        assert tuple(map(int, pins[name].split("."))) == tuple(map(int, low.split("."))) + (0,) * (
            pins[name].count(".") - low.count(".")), f"{name}: pinned {pins[name]}, declared >={low}"
    assert "lowest-constraints.txt" in (ROOT / ".ci" / "run").read_text()


PINNED_LHS = [[-0.44523265151317637, 1.080068134385971], [0.6665962342444924, 1.8851861665426555],
              [0.14966629229234996, 0.8488184996671608], [-0.5256899457697853, 0.027575033486316125]]


def test_latin_hypercube_design_is_the_same_on_every_scipy():
    """sweep's Latin hypercube passes rng= (SciPy >= 1.15) or seed= (1.11-1.14) the same
    Generator: the design points are pinned (oracle: the values SciPy 1.17 gives with rng=)."""
    import numpy as np

    from sim.analysis.sweep import design
    from sim.scenario.spec import SweepSpec

    spec = SweepSpec.model_validate({"method": "lhs", "points": 4, "seed": 11, "levers": {
        "gdp_real.shift_pp": [-1.0, 1.0], "energy_intensity.shift_pp": [0.0, 2.0]}})
    pts = design(spec, run_seed=1).points
    assert pts.shape == (4, 2)
    np.testing.assert_allclose(pts, PINNED_LHS, rtol=0, atol=1e-15)


def test_small_files_are_written_through_a_new_name_never_a_planted_link(tmp_path):
    """The fitted model and solve's JSON were written through ``<file>.tmp`` /
    ``.<file>.tmp``, following a symbolic link planted at that name (the user's file it points to
    was overwritten). Now through a fresh temporary name: the planted links' targets keep their
    contents, the file is written whole, no temporary file is left."""
    from sim.atomic_file import write_text_atomic

    victim = tmp_path / "victim.txt"
    victim.write_text("mine", encoding="utf-8")
    out = tmp_path / "fitted_model.json"
    for planted in (out.with_suffix(".json.tmp"), tmp_path / f".{out.name}.tmp"):
        planted.symlink_to(victim)
    write_text_atomic(out, "new contents")
    assert out.read_text(encoding="utf-8") == "new contents"
    assert victim.read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".fitted_model.json.tmp", "fitted_model.json", "fitted_model.json.tmp", "victim.txt"])


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    from sim.atomic_file import write_text_atomic

    out = tmp_path / "f.json"
    out.write_text("old", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(out, "\udcff", encoding="ascii")
    assert out.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_saving_a_fitted_model_leaves_a_link_planted_at_its_temporary_name_alone(tmp_path,
                                                                                 fitted_real):
    victim = tmp_path / "victim.txt"
    victim.write_text("mine", encoding="utf-8")
    out = tmp_path / "fitted_model.json"
    out.with_suffix(".json.tmp").symlink_to(victim)
    fitted_real(2015).save(out)
    assert victim.read_text(encoding="utf-8") == "mine"
    assert json.loads(out.read_text(encoding="utf-8"))["sha256"]
