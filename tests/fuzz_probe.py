"""The probe's categories of the fuzz suite (issue 19 item 8): cases and oracles.

Each category is a function ``case(data, ...)`` drawing one hostile situation with hypothesis'
``data`` and checking its oracle; :mod:`test_fuzz` runs a few of each in the quick tier and
many in the long tier (``SIM_FUZZ_LONG=1``). Every case is tallied per category
(``SIM_FUZZ_TALLY=FILE``): ``cases``, ``refused`` (exit 2 with a message naming the file),
``exit0``, ``tracebacks``, ``internal`` (exit 1 / "internal error"), ``hangs`` (no answer
within :data:`PATIENCE` seconds: a FIFO read), ``silent_wrong`` (accepted what must be
refused, or an output different from its reference) and ``changed_inputs``.

Categories and their oracles:

* ``damage`` — a results folder damaged by hand: coordinates of ``ensemble.nc`` shifted,
  dropped, reversed, renumbered or renamed; its attributes or ``manifest.json`` edited to
  disagree; ``targets.csv`` hand-edited; the ``.sim-results`` marker missing, garbage, a folder,
  a FIFO or a link to a user's file. ``sim report``: an ensemble that disagrees with its
  attributes or manifest is **refused with a message naming the file** (``ensemble.nc``), the
  folder unchanged; otherwise the rebuilt ``targets.csv`` **equals the reference** (the run's own
  probabilities: a hand-edited table is recomputed, not trusted). ``sim compare --no-figures``
  (reads ``targets.csv``; the ensemble only for paired errors): refused naming the file, or
  ``compare.csv`` carries exactly the table's probabilities; a probability outside [0, 1] or a
  duplicated (scenario, target) row with another probability **must be refused**. Always:
  inputs unchanged, files outside the folder (a marker's link target) unchanged.
* ``special`` — FIFOs, devices and symlinks where sim reads or writes: a data directory's CSV,
  the scenario path, the ``--out`` path and the lock path ``.<out>.lock``. A FIFO, a device or a
  dangling link is **refused at once** (exit 2 naming the path, within :data:`PATIENCE` s, never
  a hang); ``--out`` or the lock path as a link, FIFO, folder or user's file is **refused**,
  nothing followed: the link's target (a user's file or folder) unchanged, a dangling target not
  created, no output. A link to a regular file where sim only reads (a data CSV, a scenario
  file) gives the **same outcome as the file itself** (reference: a copy in its place).
* ``leftover`` — user folders named like sim's leftovers beside an output
  (``.<out>.partial-*``, ``.<out>.old-*``, also ``partial-sim-<16 hex>`` and with a damaged
  transient marker, or holding a results marker): ``sim compare`` and
  ``sim run --force`` write the output; the user's folders are **unchanged byte for byte**, the
  output complete.
* ``disk`` — ENOSPC injected at the k-th write of a writer (HDF5's RuntimeError ``errno = 28``
  from ``to_netcdf``, ``OSError(ENOSPC)`` from ``to_csv``, ``write_text``, ``write_bytes``, an
  XLSX ``save``; or a free-space check that finds the disk too small) in every mode: ``run``
  (full draws), ``run --summaries-only``, ``report`` and ``compare``, each over a previous
  result: a **clean error** (exit 2, "No space left on device" or "not enough free space",
  naming the output), **no half-written result**, the **previous result intact** byte for
  byte; when the fault point is never reached, a complete new result.
* ``inject`` — hostile labels, descriptions and sources (the generators of
  :mod:`test_injection`) in a scenario file given to ``sim run`` and ``sim compare``: no cell of
  ``targets_table.csv`` or ``compare.csv`` is a formula, nothing in ``targets.md`` or
  ``compare.md`` is live (the oracles of :mod:`test_injection`), the labels kept.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path

import pandas as pd
import tomli_w
from hypothesis import strategies as st

#: seconds a command may take on a case that must be refused at once (a FIFO read hangs forever)
PATIENCE = 60
ROOT = Path(__file__).resolve().parents[1]
SCENARIO_2020 = ROOT / "scenarios" / "baseline_2020.toml"


def _f():
    """The contract of :mod:`test_fuzz` (imported late: test_fuzz imports this module)."""
    import test_fuzz

    return test_fuzz


class Hang(BaseException):
    """A command took longer than :data:`PATIENCE` seconds (not an Exception: sim's own
    handlers must not turn it into an exit code)."""


@contextlib.contextmanager
def patience(seconds: int = PATIENCE):
    """Raise :class:`Hang` in the main thread after ``seconds`` (SIGALRM)."""
    def ring(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def call(*argv, seconds: int = PATIENCE):
    """``sim ARGV`` in-process (:func:`test_fuzz.call`) under :func:`patience`; a hang is an
    outcome with exit code ``"hang"``."""
    F = _f()
    try:
        with patience(seconds):
            return F.call(*argv)
    except Hang as exc:
        return F.Outcome("hang", "", str(exc))   # type: ignore[arg-type]


def choose(data, fixed: dict | None, label: str, options: list):
    """``fixed[label]`` when the quick tier fixes it, else a draw from ``options``."""
    if fixed and label in fixed:
        return fixed[label]
    return data.draw(st.sampled_from(options), label=label)


def judge(category: str, res, *, inputs: list[Path], before: dict, names: list[str],
          refuse: bool = False, needles: tuple[str, ...] = ()) -> None:
    """The contract of every probe case, tallied under ``category``: no hang, no traceback,
    no internal error, exit 0 or 2, inputs unchanged, a refusal naming one of ``names``; when
    ``refuse``, accepting is a silent wrong result and the message holds every needle."""
    F = _f()
    T = F.TALLY
    T[f"{category}.cases"] += 1
    text = res.err + res.out
    if res.code == "hang":
        T[f"{category}.hangs"] += 1
    if "Traceback" in text:
        T[f"{category}.tracebacks"] += 1
    if res.code == 1 or "internal error" in text:
        T[f"{category}.internal"] += 1
    changed = F.digest(*inputs) != before
    if changed:
        T[f"{category}.changed_inputs"] += 1
    named = res.code == 2 and bool(res.err.strip()) and any(n in res.err for n in names)
    if named:
        T[f"{category}.refused"] += 1
    if res.code == 0:
        T[f"{category}.exit0"] += 1
    if refuse and res.code == 0:
        T[f"{category}.silent_wrong"] += 1
    assert res.code != "hang", f"hung (a FIFO read?)\n{res}"
    assert "Traceback" not in text, res
    assert res.code in (0, 2) and "internal error" not in text, res
    assert not changed, f"an input changed\n{res}"
    if res.code == 2:
        assert named, f"the message names none of {names}\n{res}"
    if refuse:
        assert res.code == 2, f"accepted an input that must be refused\n{res}"
        for n in needles:
            assert n in res.err, f"the message lacks {n!r}\n{res}"


def wrong_output(category: str, ok: bool, message: str) -> None:
    """An output that differs from its reference: a silent wrong result."""
    if not ok:
        _f().TALLY[f"{category}.silent_wrong"] += 1
    assert ok, message


def probabilities(path: Path, **where) -> dict[tuple[str, str], float]:
    """``(scenario, target_id) -> probability`` of a targets or compare table (rows matching
    ``where``: column -> substring)."""
    table = pd.read_csv(path)
    for col, text in where.items():
        table = table[table[col].astype(str).str.contains(text, regex=False)]
    table = table.dropna(subset=["probability"])
    return {(str(r.scenario), str(r.target_id)): float(r.probability)
            for r in table.itertuples()}


def same_probabilities(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= 1e-9 for k in a)


# --------------------------------------------------------------------------------------------
# damage: results folders edited by hand

#: damage that makes the ensemble disagree with its attributes or manifest: must be refused
MISMATCH = ["years_shift", "years_drop_last", "years_drop_middle", "years_drop_first",
            "attr_as_of", "attr_horizon", "attr_draws", "draws_drop", "scenario_dup",
            "manifest_as_of", "manifest_horizon", "manifest_draws", "manifest_scenarios"]
#: damage sim may refuse or read as it is (an output equal to the reference)
TOLERATED = ["years_reverse", "draws_renumber", "scenario_rename"]
TABLE = ["targets_prob_edit", "targets_prob_bad", "targets_rows_deleted", "targets_dup_row"]
MARKERS = ["marker_delete", "marker_garbage", "marker_link", "marker_dir", "marker_fifo",
           "marker_and_manifest_gone", "marker_other_tool"]
DAMAGE = MISMATCH + TOLERATED + TABLE + MARKERS
#: Table damage `sim report` must refuse (a finding of this suite, fixed by
#: sim.output.targets_check: report kept a probability of 1.5, a duplicated (scenario, target)
#: row or deleted rows without a word).
REPORT_KEEPS_TABLE = {"targets_prob_bad", "targets_dup_row", "targets_rows_deleted"}
#: Table damage `sim compare` must refuse too (the same finding: a duplicated row was taken).
COMPARE_TAKES_DUPLICATES = {"targets_dup_row"}


def damage(data, folder: Path, outside: Path, fixed: dict | None = None) -> tuple[str, str]:
    """Damage the results folder ``folder`` (a copy); ``outside`` is a user's folder next to it.
    Returns ``(what, kind)``, kind one of mismatch, tolerated, table, marker."""
    F = _f()
    from sim.ensemble import write_netcdf

    op = choose(data, fixed, "damage", DAMAGE)
    nc, manifest = folder / "ensemble.nc", folder / "manifest.json"
    k = data.draw(st.sampled_from([-3, -2, -1, 1, 2, 5, 100]), label="k")
    if op.startswith("manifest_"):
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        key = op.split("_", 1)[1]
        doc[key] = list(reversed(doc[key])) + (["x"] if k > 2 else []) if key == "scenarios" \
            else int(doc[key]) + k
        if doc.get("draws", 1) <= 0:
            doc["draws"] = 7
        manifest.write_text(json.dumps(doc), encoding="utf-8")
        return f"{op} {k}", "mismatch"
    if op in MISMATCH or op in TOLERATED:
        ds = F._base_dataset(nc).copy(deep=True)
        years = ds["year"].values
        if op == "years_shift":
            ds = ds.assign_coords(year=years + k)
        elif op == "years_drop_last":
            ds = ds.isel(year=slice(0, -1))
        elif op == "years_drop_first":
            ds = ds.isel(year=slice(1, None))
        elif op == "years_drop_middle":
            ds = ds.isel(year=[i for i in range(len(years)) if i != len(years) // 2])
        elif op == "years_reverse":
            ds = ds.isel(year=slice(None, None, -1))
        elif op.startswith("attr_"):
            key = op.split("_", 1)[1]
            ds.attrs[key] = int(ds.attrs[key]) + k
            if ds.attrs[key] <= 0:
                ds.attrs[key] = 7
        elif op == "draws_drop":
            ds = ds.isel(draw=slice(0, ds.sizes["draw"] - abs(k) % 10 - 1))
        elif op == "draws_renumber":
            ds = ds.assign_coords(draw=ds["draw"].values + abs(k))
        elif op == "scenario_dup":
            names = [str(s) for s in ds["scenario"].values]
            ds = ds.assign_coords(scenario=[names[0]] * len(names))
        else:   # scenario_rename: the ensemble and manifest disagree on names
            names = [str(s) for s in ds["scenario"].values]
            ds = ds.assign_coords(scenario=[n + "_x" for n in names])
        nc.unlink()
        write_netcdf(ds, nc)
        kind = "mismatch" if op in MISMATCH else "tolerated"
        if op == "scenario_rename":
            kind = "mismatch"   # manifest.json lists the old names
        return f"{op} {k}", kind
    targets = folder / "targets.csv"
    if op in TABLE:
        table = pd.read_csv(targets)
        ev = table.index[table["status"] == "evaluated"].tolist()
        i = data.draw(st.sampled_from(ev), label="row")
        if op == "targets_prob_edit":
            old = float(table.loc[i, "probability"])
            new = data.draw(st.floats(0, 1), label="p")
            if abs(new - old) < 1e-6:
                new = 1.0 - old if abs(1.0 - 2 * old) > 1e-6 else 0.0
            table.loc[i, "probability"] = new
        elif op == "targets_prob_bad":
            table.loc[i, "probability"] = data.draw(st.sampled_from(
                [1.5, -0.1, 100.0, float("nan"), float("inf"), -1e-3]), label="p")
        elif op == "targets_rows_deleted":
            n = data.draw(st.integers(1, max(1, len(table) // 2)), label="n")
            table = table.drop(index=table.index[:n])
        else:
            row = table.loc[[i]].copy()
            row["probability"] = (float(row["probability"].iloc[0]) + 0.37) % 1.0
            table = pd.concat([table, row], ignore_index=True)
        table.to_csv(targets, index=False)
        return f"{op} row {i}", "table"
    marker = folder / ".sim-results"
    if op == "marker_delete":
        marker.unlink()
    elif op == "marker_garbage":
        marker.write_bytes(data.draw(st.binary(max_size=60), label="bytes"))
    elif op == "marker_other_tool":
        marker.write_text(json.dumps({"tool": "other", "command": "run"}), encoding="utf-8")
    elif op == "marker_link":
        user = outside / "users_marker.json"
        user.write_text(json.dumps({"tool": "sim", "version": "0", "command": "run"}))
        marker.unlink()
        marker.symlink_to(user)
    elif op == "marker_dir":
        marker.unlink()
        marker.mkdir()
        (marker / "n.txt").write_text("mine")
    elif op == "marker_fifo":
        marker.unlink()
        os.mkfifo(marker)
    else:
        marker.unlink()
        manifest.unlink()
    return op, "marker"


def damage_case(data, pair: list[Path], references: dict, fixed: dict | None = None) -> None:
    """See the module docstring (``damage``)."""
    F = _f()
    with tempfile.TemporaryDirectory() as tmp:
        a, outside = Path(tmp) / "runs" / "a", Path(tmp) / "user"
        shutil.copytree(pair[0], a)
        outside.mkdir()
        (outside / "keep.txt").write_text("mine")
        what, kind = damage(data, a, outside, fixed)
        command = choose(data, fixed, "command", ["report", "compare"])
        F.CURRENT["case"] = f"damage {command} [{what}]"
        table_before = probabilities(a / "targets.csv") if kind == "table" else None
        raw_table = pd.read_csv(a / "targets.csv") if kind == "table" else None
        if command == "report":
            before = F.digest(a, outside, pair[1])
            res = call("report", a, "--no-figures", "--quiet")
            must = kind == "mismatch" or what.split()[0] in REPORT_KEEPS_TABLE
            if res.code == 0:   # the folder is rewritten: compare the result, not the bytes
                before = F.digest(outside, pair[1])
                judge("damage", res, inputs=[outside, pair[1]], before=before, names=[str(a)],
                      refuse=must)
                # report keeps a run's targets.csv (its record draws are not in ensemble.nc):
                # a plausible edit is carried through, otherwise the run's own table
                want = table_before if table_before is not None else references["report"]
                wrong_output("damage", same_probabilities(probabilities(a / "targets.csv"),
                                                          want),
                             f"report's targets.csv differs from the reference\n{res}")
                assert (a / ".sim-results").is_file() and not (a / ".sim-results").is_symlink()
            else:
                judge("damage", res, inputs=[a, outside, pair[1]], before=before,
                      names=[str(a)], refuse=must,
                      needles=("ensemble.nc",) if kind == "mismatch" else ())
            return
        out = Path(tmp) / "cmp"
        before = F.digest(a, outside, pair[1])
        res = call("compare", a, pair[1], "--out", out, "--no-figures", "--quiet")
        must = kind == "table" and ("prob_bad" in what or "dup_row" in what)
        if must and "prob_bad" in what:
            p = raw_table["probability"]
            must = bool((~p.between(0, 1)).any())
        judge("damage", res, inputs=[a, outside, pair[1]], before=before,
              names=[str(a), str(pair[1])], refuse=must,
              needles=(str(a / "targets.csv"),) if must else ())
        if res.code == 0:
            got = probabilities(out / "compare.csv", run="seed 1")
            want = table_before if table_before is not None else references["report"]
            if kind == "table":
                got = {k: v for k, v in got.items() if k in want}
                want = {k: v for k, v in want.items() if k in got}
            wrong_output("damage", same_probabilities(got, want) and bool(got),
                         f"compare.csv differs from the runs' targets.csv\n{res}")
        else:
            assert not out.exists(), res


# --------------------------------------------------------------------------------------------
# special: FIFOs, devices and symlinks

SPECIAL_KINDS = ["fifo", "link_fifo", "dangling", "link_dev_zero", "link_dev_null", "dir",
                 "link_regular"]
OUT_KINDS = ["link_user_dir", "link_user_file", "dangling", "fifo", "link_empty_dir",
             "user_file"]
LOCK_KINDS = ["link_user_file", "dangling", "fifo", "dir", "user_file", "hardlink"]


def make_special(path: Path, kind: str, tmp: Path, regular: bytes | None = None) -> Path | None:
    """Put a ``kind`` at ``path``; return the link's target (None when none)."""
    if path.exists() or path.is_symlink():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    target = None
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "link_fifo":
        target = tmp / "elsewhere.fifo"
        os.mkfifo(target)
        path.symlink_to(target)
    elif kind == "dangling":
        target = tmp / "nowhere"
        path.symlink_to(target)
    elif kind == "link_dev_zero":
        path.symlink_to("/dev/zero")
    elif kind == "link_dev_null":
        path.symlink_to("/dev/null")
    elif kind == "dir":
        path.mkdir()
        (path / "n.txt").write_text("mine")
    elif kind == "link_regular":
        target = tmp / "elsewhere" / path.name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(regular or b"")
        path.symlink_to(target)
    elif kind in ("link_user_dir", "link_empty_dir"):
        target = tmp / "users_folder"
        target.mkdir()
        if kind == "link_user_dir":
            (target / "thesis.txt").write_text("years of work")
        path.symlink_to(target)
    elif kind == "link_user_file":
        target = tmp / "users_file.txt"
        target.write_text("precious\n")
        path.symlink_to(target)
    elif kind == "user_file":
        path.write_text("my notes\n")
    elif kind == "hardlink":
        target = tmp / "users_file.txt"
        target.write_text("precious\n")
        os.link(target, path)
    return target


def _normal(res, *paths: Path) -> tuple:
    """An outcome with the case's own paths taken out (to compare it with a reference)."""
    text = res.err
    for p in paths:
        text = text.replace(str(p), "<P>")
    return res.code, text.strip()


def special_case(data, pair: list[Path], fixed: dict | None = None) -> None:
    """See the module docstring (``special``)."""
    F = _f()
    where = choose(data, fixed, "where", ["data", "data", "scenario", "scenario", "out", "lock"])
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if where == "data":
            d = tmp / "data"
            shutil.copytree(F.DATA, d)
            kind = choose(data, fixed, "kind", SPECIAL_KINDS)
            names = sorted(p.name for p in d.glob("*.csv"))
            name = data.draw(st.sampled_from(names + ["new.csv"]), label="file")
            victim = d / name
            original = victim.read_bytes() if victim.exists() else b"series,year\n"
            target = make_special(victim, kind, tmp, original)
            command = choose(data, fixed, "command", ["data", "validate", "run"]
                             if kind != "link_regular" else ["data", "validate"])
            F.CURRENT["case"] = f"special data {command} [{name} is {kind}]"
            argv = {"data": ["data", "--data", d], "validate": ["validate", "--data", d],
                    "run": ["run", SCENARIO_2020, "--data", d, "--out", tmp / "o",
                            "--quiet", "--no-figures", "--draws", "50"]}[command]
            inputs = [F.DATA, d] + [t for t in [target] if t is not None and t.is_file()]
            before = F.digest(*inputs)   # (digest follows no link, reads no FIFO)
            res = call(*argv)
            # a folder named like a CSV is not a file sim must refuse (a missing file may be
            # fine): any clean outcome; every other special file is refused naming it
            must = kind not in ("link_regular", "dir")
            judge("special", res, inputs=inputs, before=before, names=[str(victim), str(d)],
                  refuse=must, needles=(str(victim),) if must else ())
            if kind == "link_regular":     # reference: the same bytes as a regular file
                victim.unlink()
                victim.write_bytes(original)
                ref = call(*argv)
                wrong_output("special", _normal(res, d) == _normal(ref, d),
                             f"a link to a regular file gave another outcome than the file\n"
                             f"{res}\nreference\n{ref}")
            assert not (tmp / "o").exists() or kind == "link_regular", res
            return
        if where == "scenario":
            kind = choose(data, fixed, "kind", SPECIAL_KINDS)
            path = tmp / "s.toml"
            content = SCENARIO_2020.read_bytes()
            target = make_special(path, kind, tmp, content)
            command = "validate" if kind == "link_regular" else \
                choose(data, fixed, "command", ["validate", "run"])
            F.CURRENT["case"] = f"special scenario {command} [{kind}]"
            argv = ["validate", path] if command == "validate" else \
                ["run", path, "--out", tmp / "o", "--quiet", "--no-figures"]
            inputs = [t for t in [target] if t and t.is_file()]
            before = F.digest(*inputs)
            res = call(*argv)
            judge("special", res, inputs=inputs, before=before, names=[str(path)],
                  refuse=kind != "link_regular")
            if kind == "link_regular":
                path.unlink()
                path.write_bytes(content)
                ref = call(*argv)
                wrong_output("special", _normal(res, path) == _normal(ref, path),
                             f"a link to a scenario file gave another outcome\n{res}\n{ref}")
            assert not (tmp / "o").exists(), res
            return
        kinds = OUT_KINDS if where == "out" else LOCK_KINDS
        kind = choose(data, fixed, "kind", kinds)
        out = tmp / "res" / "lk2"
        out.parent.mkdir()
        spot = out if where == "out" else out.parent / f".{out.name}.lock"
        target = make_special(spot, kind, tmp)
        command = choose(data, fixed, "command", ["compare", "run"])
        force = data.draw(st.booleans(), label="force")
        F.CURRENT["case"] = f"special {where} {command} force={force} [{kind}]"
        argv = (["compare", pair[0], "--no-figures"] if command == "compare" else
                ["run", SCENARIO_2020, "--no-figures", "--draws", "50"]) + \
            ["--out", out, "--quiet"] + (["--force"] if force and command == "run" else [])
        watched = [tmp / "users_folder", tmp / "users_file.txt", pair[0]]
        before = F.digest(*watched, tmp / "nowhere")
        before_spot = F.digest(spot) if not spot.is_symlink() and kind != "fifo" else None
        res = call(*argv)
        judge("special", res, inputs=[*watched, tmp / "nowhere"], before=before,
              names=[str(spot)], refuse=True, needles=(str(spot),))
        if before_spot is not None:
            assert F.digest(spot) == before_spot, f"{spot} changed\n{res}"
        assert spot.is_symlink() or spot.exists(), f"{spot} was removed\n{res}"


# --------------------------------------------------------------------------------------------
# leftover: user folders named like sim's leftovers

def leftover_names(data, out: Path) -> list[str]:
    """Names of user folders beside ``out`` that look like sim's leftovers."""
    hexes = st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)
    suffix = st.one_of(st.sampled_from(["mybackup", "notes", "1", "", "old", "sim", "sim-"]),
                       hexes.map(lambda h: "sim-" + h), hexes,
                       st.text(alphabet="abcxyz-_0123456789", min_size=1, max_size=20))
    kinds = st.sampled_from(["partial", "old"])
    n = data.draw(st.integers(1, 4), label="n")
    names = {f".{out.name}.{data.draw(kinds, label='kind')}-{data.draw(suffix, label='suffix')}"
             for _ in range(n)}
    return sorted(names)


def plant(data, folder: Path, out: Path, pair: list[Path]) -> str:
    """Fill a user's folder named like a leftover: notes, a copy of a result, a damaged
    transient marker (what a user or another tool could have put there)."""
    what = data.draw(st.sampled_from(["notes", "result_copy", "bad_marker", "empty", "nested"]),
                     label="content")
    folder.mkdir()
    if what == "notes":
        (folder / "n.txt").write_text("notes")
    elif what == "result_copy":
        shutil.copytree(pair[0], folder, dirs_exist_ok=True)
    elif what == "bad_marker":   # sim's transient marker, one field wrong (a perfect forgery
        token = folder.name.rsplit("-", 1)[-1]   # is sim's own leftover: not a user's folder)
        kind = "partial" if ".partial-" in folder.name else "old"
        body = {"tool": "sim", "kind": kind, "of": out.name, "token": token}
        key = data.draw(st.sampled_from(sorted(body)), label="bad key")
        body[key] = "x"
        (folder / ".sim-transient").write_text(json.dumps(body))
        (folder / "thesis.txt").write_text("years of work")
    elif what == "nested":
        (folder / "a" / "b").mkdir(parents=True)
        (folder / "a" / "b" / "c.txt").write_text("deep")
    return what


def leftover_case(data, pair: list[Path], fitted, fixed: dict | None = None) -> None:
    """See the module docstring (``leftover``)."""
    F = _f()
    command = choose(data, fixed, "command", ["compare", "compare", "run"])
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        out = tmp / "res" / "sib"
        out.parent.mkdir()
        previous = data.draw(st.booleans(), label="previous result")
        names = leftover_names(data, out)
        contents = [plant(data, out.parent / n, out, pair) for n in names]
        F.CURRENT["case"] = f"leftover {command} previous={previous} {list(zip(names, contents))}"
        scen = tmp / "small.toml"
        scen.write_text(F.SMALL, encoding="utf-8")
        argv = (["compare", pair[0], "--no-figures"] if command == "compare" else
                ["run", scen, "--draws", "50", "--no-figures"]) + ["--out", out, "--quiet"]
        if previous and command == "run":       # a run's folder (copied: a run costs seconds)
            shutil.copytree(pair[0], out)
            argv.append("--force")
        elif previous:
            res = call(*argv)
            assert res.code == 0, res
        users = [out.parent / n for n in names]
        before = F.digest(*users, pair[0])
        res = call(*argv)
        judge("leftover", res, inputs=[*users, pair[0]], before=before, names=[str(out)])
        assert res.code == 0, f"a user's folder beside the output stopped the command\n{res}"
        left = sorted(p.name for p in out.parent.iterdir() if p.name not in names)
        assert left == ["sib"], f"left beside the output: {left}\n{res}"
        name = "compare.csv" if command == "compare" else "targets.csv"
        F.probabilities_ok(out / name)


# --------------------------------------------------------------------------------------------
# disk: ENOSPC at the k-th write

WRITERS = ["to_netcdf", "to_csv", "write_text", "write_bytes", "xlsx", "disk_usage"]


class Faults:
    """Patch the writers so the ``k``-th call of ``which`` raises ENOSPC (after writing a few
    bytes where it writes to a path: a half-written file)."""

    def __init__(self, mp, which: str, k: int):
        self.calls, self.k, self.which, self.fired = 0, k, which, False
        import pathlib

        import openpyxl
        import xarray as xr

        if which == "disk_usage":
            from collections import namedtuple

            usage = namedtuple("usage", "total used free")
            for mod in ("sim.output.folder", "sim.ensemble"):
                try:
                    mp.setattr(f"{mod}.shutil.disk_usage",
                               lambda p: self._usage(usage))
                except AttributeError:
                    pass
            return
        owner, attr = {"to_netcdf": (xr.Dataset, "to_netcdf"),
                       "to_csv": (pd.DataFrame, "to_csv"),
                       "write_text": (pathlib.Path, "write_text"),
                       "write_bytes": (pathlib.Path, "write_bytes"),
                       "xlsx": (openpyxl.Workbook, "save")}[which]
        original = getattr(owner, attr)

        def patched(obj, *args, **kwargs):
            target = obj if which in ("write_text", "write_bytes") else \
                (args[0] if args else kwargs.get("path_or_buf", kwargs.get("filename")))
            if self._now():
                if isinstance(target, (str, Path)):
                    with contextlib.suppress(OSError):
                        Path(target).write_bytes(b"\x89HDF half" if which == "to_netcdf"
                                                 else b"half,")
                if which == "to_netcdf":
                    raise RuntimeError(f"Can't write data (file write failed: filename = "
                                       f"'{target}', errno = 28, error message = 'No space "
                                       "left on device')")
                raise OSError(errno.ENOSPC, "No space left on device")
            return original(obj, *args, **kwargs)

        self.original = original
        mp.setattr(owner, attr, patched)

    def _now(self) -> bool:
        self.calls += 1
        if self.calls == self.k:
            self.fired = True
            return True
        return False

    def _usage(self, usage):
        self.fired = True
        return usage(10 ** 9, 10 ** 9, 0)


DISK_MODES = ["run", "run_summaries", "report", "compare"]


def disk_case(data, pair: list[Path], fitted, fixed: dict | None = None) -> None:
    """See the module docstring (``disk``)."""
    import pytest

    F = _f()
    mode = choose(data, fixed, "mode", DISK_MODES)
    which = choose(data, fixed, "writer", WRITERS)
    k = choose(data, fixed, "k", [1, 2, 3, 4, 5, 6])
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        scen = tmp / "small.toml"
        scen.write_text(F.SMALL, encoding="utf-8")
        out = tmp / "res" / "out"
        out.parent.mkdir()
        if mode == "report":
            shutil.copytree(pair[0], out)
            argv = ["report", out, "--no-figures", "--quiet"]
        elif mode == "compare":
            argv = ["compare", pair[0], pair[1], "--no-figures", "--quiet", "--out", out]
        else:
            argv = ["run", scen, "--draws", "50", "--no-figures", "--quiet", "--out", out] + \
                (["--summaries-only"] if mode == "run_summaries" else [])
        if mode == "compare":                   # the previous result (compare replaces its own)
            assert call(*argv).code == 0
        elif mode.startswith("run"):            # a run's folder (copied: a run costs seconds)
            shutil.copytree(pair[0], out)
            argv.append("--force")
        F.CURRENT["case"] = f"disk {mode} [{which} call {k}]"
        previous = F.digest(out)
        inputs = [pair[0], pair[1], scen]
        before = F.digest(*inputs)
        mp = pytest.MonkeyPatch()
        try:
            faults = Faults(mp, which, k)
            res = call(*argv)
        finally:
            mp.undo()
        judge("disk", res, inputs=inputs, before=before, names=[str(out), str(out.parent)],
              refuse=faults.fired)
        left = sorted(p.name for p in out.parent.iterdir())
        assert left == ["out"], f"left beside the output: {left}\n{res}"
        if res.code == 2:
            assert "No space left on device" in res.err or "not enough free space" in res.err, res
            assert F.digest(out) == previous, f"the previous result changed\n{res}"
        else:
            name = "compare.csv" if mode == "compare" else "targets.csv"
            F.probabilities_ok(out / name)


# --------------------------------------------------------------------------------------------
# inject: hostile text in a scenario file, through run and compare

def inject_case(data, fitted) -> None:
    """See the module docstring (``inject``)."""
    import tomllib

    from test_injection import HOSTILE, csv_cells, formula_like, live_markdown, unescape

    F = _f()
    doc = tomllib.loads(F.SMALL)
    labels = {}
    for name, scen in doc["scenarios"].items():
        scen["label_zh"] = labels[name] = data.draw(HOSTILE, label=f"{name} label")
        scen["description"] = data.draw(HOSTILE, label=f"{name} description")
    doc["scenarios"]["baseline"]["target_value_sources"] = {
        "co2_intensity_cum_2020_fyp13": data.draw(HOSTILE, label="source")}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        scen = tmp / "inj.toml"
        scen.write_text(tomli_w.dumps(doc), encoding="utf-8")
        out, cmp = tmp / "run", tmp / "cmp"
        F.CURRENT["case"] = f"inject {labels}"
        before = F.digest(scen)
        res = call("run", scen, "--draws", "50", "--no-figures", "--quiet", "--out", out)
        judge("inject", res, inputs=[scen], before=before, names=[str(scen)])
        if res.code == 2:    # a label the scenario schema refuses (control characters …)
            assert not out.exists(), res
            return
        res = call("compare", out, "--no-figures", "--quiet", "--out", cmp)
        judge("inject", res, inputs=[scen], before=before, names=[str(out)])
        assert res.code == 0, res
        for path in (out / "targets_table.csv", cmp / "compare.csv"):
            bad = [(k, v) for r in csv_cells(path) for k, v in r.items() if formula_like(v)]
            wrong_output("inject", bad == [], f"{path.name}: formulas {bad[:3]}")
        by_scenario = {r["scenario"]: r["scenario_zh"]
                       for r in csv_cells(out / "targets_table.csv")}
        for name, label in labels.items():
            shown = by_scenario.get(name)
            wrong_output("inject", shown in (label, "'" + label) or
                         (shown is not None and shown.strip() == label.strip()),
                         f"label of {name}: {shown!r}, typed {label!r}")
        for path in (out / "targets.md", cmp / "compare.md"):
            md = path.read_text(encoding="utf-8")
            live = live_markdown(md)
            wrong_output("inject", live == [], f"{path.name}: live markup {live[:3]}")
            assert unescape(md)


