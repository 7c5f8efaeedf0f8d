"""The fuzz and fault suite (issue 14): broken inputs through the public entry points, in-process.

Scenario files (the shipped ones and small ones of the tests) are mutated — values replaced by
other types, huge, tiny, NaN, infinite or negative numbers; keys deleted, duplicated, renamed;
deep nesting; random bytes; a BOM; truncation — and given to ``sim validate`` (and a few to
``sim run``). Copies of ``calibration/data`` get mutated cells, years, kinds, units, columns,
encodings, a directory named ``x.csv`` … and go to ``sim data``. Copies of results folders get a
corrupt ``manifest.json``, a truncated, empty, foreign or all-NaN ``ensemble.nc``, an empty or
column-less ``targets.csv`` … and go to ``sim report`` and ``sim compare``.

The contract checked on every case:

* exit 0 with sane output (the files present, every probability in [0, 1]), or exit 2 with a
  message naming the input file (and the key or line where the input is a file);
* never a traceback, never exit 1 (an internal fault), never a changed input file, never a
  partial output (no ``.partial-``/``.old-`` folder left; the output absent or complete);
* inputs that are wrong by construction (a NaN or 1e308 where a number goes, a level ×1000 next
  to its neighbours, an all-NaN ensemble) are refused: accepting them would be a silent wrong
  result.

The probe's categories (issue 19 item 8) — results damage, FIFOs/devices/symlinks, leftover-name
collisions, a full disk in every mode, injections through run and compare — are in
``tests/fuzz_probe.py``, whose docstring states each oracle; the quick tier fixes the kind of a
few cases of each (and holds the suite's findings as strict xfails).

Tiers: the quick tier runs in CI (``python -m pytest tests/test_fuzz.py``: more than 230 cases,
derandomized; a failure stops the test and prints its draws); the long tier
(up to 3,300 cases, random — hypothesis stops a category early when it runs out of distinct
draws: special files ran 474 of 1,000 on 8 December; validate 1,300, data 600, run 40, results 150, damage 60, special files
1,000, leftover names 60, disk full 60, injection 30) runs only with ``SIM_FUZZ_LONG=1`` (and is
marked ``slow``); it
runs every case and then reports every broken contract with what was mutated. ``SIM_FUZZ_TALLY=FILE`` writes the counts of
cases and outcomes as JSON. A kill -9 test interrupts real ``python -m sim run`` processes at
random points and checks the previous result survives and the next run succeeds.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.scenario.messages import format_loc, printable

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "calibration" / "data"
LONG = os.environ.get("SIM_FUZZ_LONG", "") == "1"
TALLY: Counter = Counter()

SMALL = """\
[run]
as_of = 2015
horizon = 2020
draws = 50
seed = 3
target_sets = ["fyp13_2020"]

[output]
figures = false
table_formats = ["csv", "md"]

[scenarios.baseline]
description = "Trends continue."
label_zh = "基准"

[scenarios.baseline.target_values]
co2_intensity_cum_2020_fyp13 = -10.0

[scenarios.baseline.levers.affordable_housing]
programme_units = { 2016 = 70000, 2017 = 70000, 2018 = 70000, 2019 = 70000, 2020 = 70000 }

[scenarios.push]
extends = "baseline"
description = "Energy intensity falls faster; a fixed exchange rate; a shock in 2018."
label_zh = "加快"

[scenarios.push.levers.energy_intensity]
shift_pp = -1.0
from_year = 2017

[scenarios.push.levers.usdcny]
path = { 2016 = 6.6, 2017 = 6.8 }

[[scenarios.push.shocks]]
driver = "gdp_real"
year = 2018
shift_pp = -2.0
note = "test"
"""

SWEEP = """
[sweep]
scenario = "push"
method = "lhs"
points = 8
seed = 11
levers = { "gdp_real.shift_pp" = [-2.0, 1.0], "affordable_housing.units_per_year" = [40000, 90000] }
"""

SCENARIO_BASES = {
    "baseline_2015": (ROOT / "scenarios" / "baseline_2015.toml").read_text(encoding="utf-8"),
    "baseline_2020": (ROOT / "scenarios" / "baseline_2020.toml").read_text(encoding="utf-8"),
    "small": SMALL,
    "small_sweep": SMALL + SWEEP,
}


def quick(n: int, shrink: bool = True):
    """The quick tier: ``n`` derandomized cases (the same every CI run), no example database;
    no shrinking of the slow cases (a failure prints its draws, which reproduce it)."""
    phases = list(Phase) if shrink else [Phase.explicit, Phase.reuse, Phase.generate]
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck), phases=phases)


#: the case being run, for the messages of the long tier (which collects instead of stopping)
CURRENT: dict[str, str] = {"case": ""}
long_tier = pytest.mark.skipif(not LONG, reason="long fuzz tier: set SIM_FUZZ_LONG=1")


def run_long(case, n: int, *args) -> None:
    """The long tier: ``case(data, *args)`` on ``n`` random examples; every broken contract is
    collected (with what was mutated) and reported at the end, instead of stopping at the first.
    ``SIM_FUZZ_SCALE=0.1`` runs a tenth of the cases (a trial of the long tier)."""
    n = max(1, round(n * float(os.environ.get("SIM_FUZZ_SCALE", "1"))))
    found: list[str] = []

    @settings(max_examples=n, deadline=None, database=None,
              phases=[Phase.explicit, Phase.reuse, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def inner(data):
        CURRENT["case"] = ""
        try:
            case(data, *args)
        except AssertionError as exc:
            found.append(f"{CURRENT['case']}: {' '.join(str(exc).split())[:1500]}")

    inner()
    TALLY["violations"] += len(found)
    assert not found, f"{len(found)} of {n} cases broke the contract:\n\n" + "\n\n".join(found)


@pytest.fixture(scope="module", autouse=True)
def _tally():
    """Write the counts of cases and outcomes (SIM_FUZZ_TALLY=FILE)."""
    yield
    path = os.environ.get("SIM_FUZZ_TALLY")
    if path:
        old = json.loads(Path(path).read_text()) if Path(path).exists() else {}
        for k, v in TALLY.items():
            old[k] = old.get(k, 0) + v
        Path(path).write_text(json.dumps(old, indent=1, sort_keys=True))


# --------------------------------------------------------------------------------------------
# The contract
# --------------------------------------------------------------------------------------------


class Outcome:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out[-1500:]}\n--- stderr\n{self.err[-3000:]}"


def call(*argv) -> Outcome:
    """``sim ARGV`` in this process: exit code, stdout, stderr (an exception escaping ``main``
    fails the test: that is a traceback)."""
    out, err = io.StringIO(), io.StringIO()
    unraisable: list[str] = []   # "Exception ignored in …" + a traceback on a user's stderr
    hook = sys.unraisablehook
    sys.unraisablehook = lambda u: unraisable.append(f"{u.object!r}: {u.exc_type.__name__}: "
                                                     f"{u.exc_value}")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as exc:   # argparse: a bad flag
                code = exc.code if isinstance(exc.code, int) else 2
            if argv[0] in ("report", "compare", "run"):   # they open NetCDF/HDF5 files
                gc.collect()
    finally:
        sys.unraisablehook = hook
    text = err.getvalue() + "".join(f"Exception ignored in {u}\nTraceback (unraisable)\n"
                                    for u in unraisable)
    return Outcome(code, out.getvalue(), text)


def _entry(p: Path) -> str | None:
    """What ``p`` is, without following a link or reading a FIFO or device: a regular file's
    sha256, "dir", "link -> TARGET", "special MODE", or None when absent."""
    import stat

    try:
        st_ = p.lstat()
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st_.st_mode):
        return f"link -> {os.readlink(p)}"
    if stat.S_ISDIR(st_.st_mode):
        return "dir"
    if stat.S_ISREG(st_.st_mode):
        return hashlib.sha256(p.read_bytes()).hexdigest()
    return f"special {stat.S_IFMT(st_.st_mode):o}"


def digest(*paths: Path) -> dict[str, str | None]:
    """sha256 of every file under ``paths`` (and the names of folders, links and FIFOs: a link
    is not followed, a FIFO not read; a link given in ``paths`` is followed one step)."""
    out: dict[str, str | None] = {}
    for p in map(Path, paths):
        out[str(p)] = _entry(p)
        if p.is_symlink():
            out[f"{p} target"] = _entry(p.resolve()) if p.exists() else None
        if p.is_dir() and not p.is_symlink():
            for root, dirs, files in os.walk(p):   # links to folders are not followed
                for name in sorted(dirs + files):
                    q = Path(root) / name
                    out[str(q)] = _entry(q)
    return out


def leftovers(*parents: Path) -> list[str]:
    """Half-written folders a command left next to its output."""
    found = []
    for parent in parents:
        if parent.is_dir():
            found += [p.name for p in parent.iterdir()
                      if ".partial-" in p.name or ".old-" in p.name]
    return found


def check(res: Outcome, entry: str, *, inputs: list[Path], before: dict, names: list[str],
          outputs: tuple[Path, ...] = ()) -> None:
    """The contract every case meets (see the module docstring)."""
    TALLY[f"{entry}.cases"] += 1
    TALLY[f"{entry}.exit{res.code}"] += 1
    if "Traceback" in res.err or "Traceback" in res.out:
        TALLY[f"{entry}.tracebacks"] += 1
    assert "Traceback" not in res.err + res.out, res
    assert res.code in (0, 2), res
    if digest(*inputs) != before:
        TALLY[f"{entry}.changed_inputs"] += 1
    assert digest(*inputs) == before, f"an input changed\n{res}"
    assert not leftovers(*{p.parent for p in outputs}), f"partial output left\n{res}"
    if res.code == 2:
        assert res.err.strip(), res
        assert any(n in res.err for n in names), f"the message names none of {names}\n{res}"


def must_refuse(res: Outcome, entry: str, *needles: str) -> None:
    """A case wrong by construction: accepting it would be a silent wrong result."""
    if res.code == 0:
        TALLY[f"{entry}.silent_wrong"] += 1
    assert res.code == 2, f"accepted an input that is wrong by construction\n{res}"
    for n in needles:
        assert n in res.err, f"the message lacks {n!r}\n{res}"


def probabilities_ok(csv_path: Path) -> None:
    """A written targets/compare table: every evaluated probability in [0, 1]."""
    table = pd.read_csv(csv_path)
    assert "probability" in table
    p = table["probability"].dropna()
    assert len(p) and p.between(0, 1).all(), csv_path


# --------------------------------------------------------------------------------------------
# Mutations of scenario files
# --------------------------------------------------------------------------------------------

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
SPECIAL = [math.nan, math.inf, -math.inf, 1e308, -1e308, 1e-308, 5e-324, 0, 0.0, -0.0, -1, -50.5,
           2 ** 63, 2 ** 64, -(2 ** 63) - 1, 10 ** 30, "", "nan", "1e308", True, False, [], {},
           "=HYPERLINK(\"http://x\")", "<img src=x onerror=alert(1)>", "../../etc/passwd"]
WEIRD = st.one_of(
    st.sampled_from(SPECIAL),
    st.integers(min_value=-2 ** 70, max_value=2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
    st.lists(st.one_of(st.integers(-5, 5), st.floats(), st.text(max_size=5)), max_size=4),
    st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(st.integers(-3, 3), _TEXT),
                    max_size=3),
    st.datetimes(), st.dates(),
)


def leaves(node, path=()):
    """``(key path, value)`` of every scalar (and empty table or array) of a TOML document."""
    if isinstance(node, dict) and node:
        for k, v in node.items():
            yield from leaves(v, path + (k,))
    elif isinstance(node, list) and node:
        for i, v in enumerate(node):
            yield from leaves(v, path + (i,))
    else:
        yield path, node


def key_paths(node, path=()):
    """Every table key's path."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path + (k,)
            yield from key_paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from key_paths(v, path + (i,))


def parent_of(doc, path):
    node = doc
    for part in path[:-1]:
        node = node[part]
    return node


def wrong_by_construction(value) -> bool:
    """A value no number, key or text of a scenario file may take: NaN, infinite, |x| > 1e13
    for a float, |n| >= 2**64 for an integer."""
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return not math.isfinite(value) or abs(value) > 1e13
    if isinstance(value, int):
        return abs(value) >= 2 ** 64
    return False


def mutate_scenario(data, text: str) -> tuple[bytes, str, tuple | None]:
    """A mutated scenario file: ``(bytes, what was done, key path that must be named or None)``."""
    doc = tomllib.loads(text)
    op = data.draw(st.sampled_from(["replace", "replace", "replace", "delete", "rename",
                                    "duplicate_line", "nest", "nest_table", "bytes", "truncate",
                                    "bom", "garbage", "swap"]), label="op")
    if op in ("replace", "delete", "rename", "swap"):
        doc = json.loads(json.dumps(doc, default=str))   # a deep copy (dates do not occur)
        if op == "replace":
            path, _ = data.draw(st.sampled_from(list(leaves(doc))), label="leaf")
            value = data.draw(WEIRD, label="value")
            if not path:
                return tomli_w.dumps({"x": value}).encode(), "replace root", None
            parent_of(doc, path)[path[-1]] = value
            must = path if wrong_by_construction(value) else None
            return tomli_w.dumps(doc).encode(), f"replace {path} = {value!r}", must
        path = data.draw(st.sampled_from(list(key_paths(doc))), label="key")
        parent = parent_of(doc, path)
        if op == "delete":
            del parent[path[-1]]
            return tomli_w.dumps(doc).encode(), f"delete {path}", None
        if op == "swap":
            other = data.draw(st.sampled_from(list(key_paths(doc))), label="other")
            if other[:len(path)] == path or path[:len(other)] == other:
                return tomli_w.dumps(doc).encode(), "unchanged", None   # a table and its own key
            parent[path[-1]], parent_of(doc, other)[other[-1]] = \
                parent_of(doc, other)[other[-1]], parent[path[-1]]
            return tomli_w.dumps(doc).encode(), f"swap {path} {other}", None
        new = data.draw(st.one_of(st.text(min_size=1, max_size=12),
                                  st.just(str(path[-1])[:-1] or "x"),
                                  st.just(str(path[-1]).upper())), label="new name")
        parent[new] = parent.pop(path[-1])
        return tomli_w.dumps(doc).encode(), f"rename {path} -> {new!r}", None
    lines = text.splitlines(keepends=True)
    assignments = [i for i, ln in enumerate(lines) if "=" in ln and not ln.lstrip().startswith("#")]
    if op == "duplicate_line":
        i = data.draw(st.sampled_from(assignments), label="line")
        lines.insert(i + 1, lines[i])
        return "".join(lines).encode(), f"duplicate line {i + 1}", None
    if op == "nest":
        i = data.draw(st.sampled_from(assignments), label="line")
        depth = data.draw(st.one_of(st.integers(1, 40), st.integers(200, 3000)), label="depth")
        key = lines[i].split("=", 1)[0]
        lines[i] = f"{key}= {'[' * depth}1{']' * depth}\n"
        return "".join(lines).encode(), f"nest line {i + 1} depth {depth}", None
    if op == "nest_table":
        depth = data.draw(st.integers(1, 3000), label="depth")
        return (text + "\n[" + ".".join(["a"] * depth) + "]\nx = 1\n").encode(), \
            f"table depth {depth}", None
    raw = text.encode()
    if op == "bytes":
        at = data.draw(st.integers(0, len(raw)), label="offset")
        junk = data.draw(st.binary(min_size=1, max_size=16), label="junk")
        return raw[:at] + junk + raw[at:], f"insert {junk!r} at {at}", None
    if op == "truncate":
        at = data.draw(st.integers(0, len(raw)), label="offset")
        return raw[:at], f"truncate at {at}", None
    if op == "bom":
        return b"\xef\xbb\xbf" + raw, "BOM", None
    return data.draw(st.binary(max_size=200), label="garbage"), "garbage", None


FILE_LEVEL = ("cannot read", "file too large", "arrays or tables nested too deeply",
              "input nested too deeply", "line ")


def validate_case(data) -> None:
    base = data.draw(st.sampled_from(sorted(SCENARIO_BASES)), label="base")
    content, what, must = mutate_scenario(data, SCENARIO_BASES[base])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.toml"
        path.write_bytes(content)
        before = digest(path)
        note = f"[{base}: {what}]"
        CURRENT["case"] = f"validate {note}"
        res = call("validate", path)
        check(res, "validate", inputs=[path], before=before, names=[str(path)])
        if res.code == 0:
            assert res.out.startswith(f"{path}: ok"), (note, res)
            return
        for line in res.err.strip().split("\n"):   # one problem per line, whatever the keys hold
            assert line.startswith(f"{path}: "), (note, res)
            rest = line[len(f"{path}: "):]
            assert rest.startswith(FILE_LEVEL) or ": " in rest, (note, res)
        if must is not None:
            must_refuse(res, "validate", f"{path}: {printable(format_loc(must))}: ")


@quick(150)
@given(data=st.data())
def test_fuzz_validate(data):
    validate_case(data)


@pytest.mark.slow
@long_tier
def test_fuzz_validate_long():
    run_long(validate_case, 1300)


# --------------------------------------------------------------------------------------------
# Mutations of history data folders
# --------------------------------------------------------------------------------------------

CSV_FILES = sorted(p.name for p in DATA.glob("*.csv") if p.name != "breaks.csv")  # observations
CELL = st.one_of(
    st.sampled_from(["", "nan", "inf", "-inf", "1e308", "1e-300", "-5", "0", "1e6", "NaN", "١٢",
                     "1,5", '"', "x\ny", "20x5", "2101", "1977", "level", "change_pct", "%",
                     "亿元", "revised", "first", "gdp_nominal", "break: test", " ", "\t"]),
    _TEXT, st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10 ** 20, 10 ** 20).map(str))
BAD_BY_KIND = {
    "level": ["nan", "inf", "-inf", "1e308", "1e-300", "-5", "0", "-0.0"],
    "period_sum": ["nan", "inf", "1e308", "1e-300", "-1", "0"],
    "change_pct": ["nan", "inf", "1e6", "-100", "-150", "1e308"],
    "cumulative_change_pct": ["nan", "-inf", "-100", "-120", "1e9"],
}


def read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def write_rows(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding, errors="replace"))


def jump_rows(rows: list[list[str]]) -> list[int]:
    """Indexes of level rows with a neighbour of the same series and vintage within 2 years."""
    h = rows[0]
    si, yi, ki, vi = (h.index(c) for c in ("series", "year", "kind", "vintage"))
    seen: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows[1:], 1):
        if r[ki] == "level":
            seen.setdefault((r[si], r[vi]), []).append(i)
    out = []
    for idx in seen.values():
        years = [int(rows[i][yi]) for i in idx]
        out += [i for i, y in zip(idx, years) if any(0 < abs(y - z) <= 2 for z in years)]
    return out


def mutate_data(data, d: Path) -> tuple[str, tuple[str, int] | None, list[str]]:
    """Mutate the data folder ``d``: ``(what, (file, line) that must be named or None,
    needles that must appear)``."""
    name = data.draw(st.sampled_from(CSV_FILES), label="file")
    path = d / name
    rows = read_rows(path)
    op = data.draw(st.sampled_from(["cell", "cell", "bad_value", "bad_value", "x1000", "dup_row",
                                    "del_row", "junk_row", "del_col", "rename_col", "add_col",
                                    "swap_cols", "encoding", "bytes", "truncate", "empty",
                                    "delete", "delete_all", "dir_csv", "new_csv", "mixed_eol"]),
                   label="op")
    header = rows[0]
    if op == "cell":
        i = data.draw(st.integers(1, len(rows) - 1), label="row")
        j = data.draw(st.integers(0, len(header) - 1), label="col")
        rows[i][j] = data.draw(CELL, label="cell")
        write_rows(path, rows)
        return f"{name} row {i} {header[j]} = {rows[i][j]!r}", None, []
    if op == "bad_value":
        ki, vi = header.index("kind"), header.index("value")
        i = data.draw(st.integers(1, len(rows) - 1), label="row")
        rows[i][vi] = data.draw(st.sampled_from(BAD_BY_KIND[rows[i][ki]]), label="value")
        write_rows(path, rows)
        return f"{name} row {i} value = {rows[i][vi]}", (name, i + 1), []
    if op == "x1000":
        candidates = jump_rows(rows)
        if candidates:
            i = data.draw(st.sampled_from(candidates), label="row")
            vi = header.index("value")
            factor = data.draw(st.sampled_from([1000.0, 0.001, 1e6]), label="factor")
            rows[i][vi] = repr(float(rows[i][vi]) * factor)
            write_rows(path, rows)
            return f"{name} row {i} value ×{factor}", (name, i + 1), []   # a jump or a range
        op = "dup_row"
    if op == "dup_row":
        i = data.draw(st.integers(1, len(rows) - 1), label="row")
        rows.insert(i, list(rows[i]))
        write_rows(path, rows)
        return f"{name} duplicate row {i}", (name, i + 2), ["exact duplicate"]
    if op == "del_row":
        del rows[data.draw(st.integers(1, len(rows) - 1), label="row")]
        write_rows(path, rows)
        return f"{name} delete a row", None, []
    if op == "junk_row":
        rows.append(data.draw(st.lists(CELL, max_size=12), label="junk"))
        write_rows(path, rows)
        return f"{name} junk row {rows[-1]!r}", None, []
    if op in ("del_col", "rename_col", "swap_cols", "add_col"):
        j = data.draw(st.integers(0, len(header) - 1), label="col")
        if op == "del_col":
            rows = [r[:j] + r[j + 1:] for r in rows]
        elif op == "rename_col":
            rows[0][j] = data.draw(st.text(max_size=10), label="name")
        elif op == "add_col":
            rows = [r[:j] + [data.draw(CELL, label="add") if k else "extra"] + r[j:]
                    for k, r in enumerate(rows)]
        else:
            k = data.draw(st.integers(0, len(header) - 1), label="col2")
            for r in rows:
                r[j], r[k] = r[k], r[j]
        write_rows(path, rows)
        return f"{name} {op} {j}", None, []
    if op == "encoding":
        enc = data.draw(st.sampled_from(["utf-16", "gbk", "latin-1", "utf-8-sig", "utf-32"]),
                        label="encoding")
        write_rows(path, rows, enc)
        return f"{name} as {enc}", None, []
    raw = path.read_bytes()
    if op == "bytes":
        at = data.draw(st.integers(0, len(raw)), label="offset")
        path.write_bytes(raw[:at] + data.draw(st.binary(min_size=1, max_size=16), label="junk")
                         + raw[at:])
    elif op == "truncate":
        path.write_bytes(raw[:data.draw(st.integers(0, len(raw)), label="offset")])
    elif op == "empty":
        path.write_bytes(b"")
    elif op == "delete":
        path.unlink()
    elif op == "delete_all":
        for p in d.glob("*.csv"):
            p.unlink()
    elif op == "dir_csv":
        (d / "sub.csv").mkdir()
    elif op == "new_csv":
        (d / "new.csv").write_bytes(data.draw(st.binary(max_size=300), label="content"))
    else:
        path.write_bytes(raw.replace(b"\n", b"\r\n", 5).replace(b"\n", b"\r", 3))
    return f"{name} {op}", None, []


def data_case(data) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "data"
        shutil.copytree(DATA, d)
        what, must, needles = mutate_data(data, d)
        CURRENT["case"] = f"data [{what}]"
        before = digest(d)
        res = call("data", "--data", d)
        check(res, "data", inputs=[d], before=before, names=[str(d)])
        if res.code == 0:
            assert res.out.startswith("History in"), (what, res)
        if must is not None:
            must_refuse(res, "data", f"{d / must[0]}: line ", f"line {must[1]}", *needles)


@quick(70)
@given(data=st.data())
def test_fuzz_data(data):
    data_case(data)


@pytest.mark.slow
@long_tier
def test_fuzz_data_long():
    run_long(data_case, 600)


# --------------------------------------------------------------------------------------------
# Runs (few: a run costs about a second with the shared fitted model)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_2015(fitted_real):
    """The shipped history calibrated at 2015 with the base years the small file needs, in the
    session's calibration cache (runs in this process and in subprocesses reuse it)."""
    from sim.run.context import base_years_needed
    from sim.targets import targets_for_sets

    years = base_years_needed(targets_for_sets(["fyp13_2020"]), 2015)
    return fitted_real(2015, "revised", tuple(years))


@pytest.fixture
def fast_html(monkeypatch):
    """Skip the font subsetting of report.html (2 s a page) in the quick tier."""
    monkeypatch.setattr("sim.output.html.font_face_css", lambda text: "")


VALID_LEVERS = st.fixed_dictionaries({
    "shift": st.floats(-50, 50), "fx": st.floats(0.1, 100), "units": st.integers(0, 10_000_000),
    "shock": st.floats(-100, 100), "target": st.floats(-99, 500),
})


def run_case(data, fitted) -> None:
    valid = data.draw(st.booleans(), label="valid")
    if valid:
        v = data.draw(VALID_LEVERS, label="levers")
        text = (SMALL.replace("shift_pp = -1.0", f"shift_pp = {v['shift']!r}")
                .replace("2017 = 6.8", f"2017 = {v['fx']!r}")
                .replace("2019 = 70000", f"2019 = {v['units']}")
                .replace("shift_pp = -2.0", f"shift_pp = {v['shock']!r}")
                .replace("= -10.0", f"= {v['target']!r}"))
        content, what, must = text.encode(), f"valid {v}", None
    else:
        content, what, must = mutate_scenario(data, SMALL)
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "fuzz.toml", Path(tmp) / "res" / "out"
        path.write_bytes(content)
        CURRENT["case"] = f"run [{what}]"
        before = digest(path, DATA)
        res = call("run", path, "--draws", 50, "--out", out, "--quiet", "--no-figures")
        check(res, "run", inputs=[path, DATA], before=before, names=[str(path)], outputs=(out,))
        if valid:
            assert res.code == 0, (what, res)   # valid bounded input: finite draws, a result
        if res.code == 0:
            for name in ("targets.csv", "manifest.json", "ensemble.nc", "scenario.resolved.toml"):
                assert (out / name).is_file(), (what, name)
            probabilities_ok(out / "targets.csv")
        else:
            assert not out.exists(), (what, res)
        if must is not None:
            must_refuse(res, "run", printable(format_loc(must)))


@quick(4, shrink=False)
@given(data=st.data())
def test_fuzz_run(data, fitted_2015, fast_html):
    run_case(data, fitted_2015)


@pytest.mark.slow
@long_tier
def test_fuzz_run_long(fitted_2015):
    run_long(run_case, 40, fitted_2015)


# --------------------------------------------------------------------------------------------
# Results folders given to report and compare
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def results_pair(fitted_2015, tmp_path_factory):
    """Two small results folders of real runs (seeds 1 and 2), shared read-only."""
    base = tmp_path_factory.mktemp("fuzz-results")
    scen = base / "small.toml"
    scen.write_text(SMALL, encoding="utf-8")
    mp = pytest.MonkeyPatch()
    mp.setattr("sim.output.html.font_face_css", lambda text: "")
    try:
        folders = []
        for seed in (1, 2):
            out = base / f"run{seed}"
            res = call("run", scen, "--seed", seed, "--out", out, "--quiet", "--no-figures")
            assert res.code == 0, res
            folders.append(out)
    finally:
        mp.undo()
    return folders


def _json_values():
    return st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | _TEXT,
                        lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(_TEXT, inner, max_size=3), max_leaves=8)


RESULTS_OPS = ["manifest", "manifest_key", "nc_truncate", "nc_bytes", "nc_empty", "nc_foreign",
               "nc_nan", "nc_some_nan", "nc_zero_draws", "nc_attrs", "targets_empty",
               "targets_header", "targets_drop_col", "targets_garbage", "targets_text_value",
               "resolved", "delete", "marker", "new_file"]
#: the quick tier leaves out a zero-draw ensemble: h5netcdf takes 30 s to read one
QUICK_RESULTS_OPS = [op for op in RESULTS_OPS if op != "nc_zero_draws"]
_DATASETS: dict[str, object] = {}


def _base_dataset(nc: Path):
    """The ensemble of the (unmutated) base folder, read once (reading costs a second)."""
    from sim.ensemble import read_netcdf

    key = hashlib.sha256(nc.read_bytes()).hexdigest()
    if key not in _DATASETS:
        _DATASETS[key] = read_netcdf(nc)
    return _DATASETS[key]


def mutate_results(data, folder: Path) -> tuple[str, bool]:
    """Corrupt a copy of a results folder: ``(what, all draws NaN)``."""
    import xarray as xr

    from sim.ensemble import write_netcdf

    op = data.draw(st.sampled_from(RESULTS_OPS if LONG else QUICK_RESULTS_OPS), label="op")
    nc = folder / "ensemble.nc"
    if op == "manifest":
        text = data.draw(st.one_of(st.sampled_from(["[1,2]", "", "{}", "null", "{", "\"x\""]),
                                   _json_values().map(json.dumps),
                                   st.binary(max_size=50).map(lambda b: b.decode("latin-1"))),
                         label="manifest")
        (folder / "manifest.json").write_text(text, encoding="utf-8")
        return f"manifest = {text!r}", False
    if op == "manifest_key":
        doc = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        key = data.draw(st.sampled_from(sorted(doc)), label="key")
        if data.draw(st.booleans(), label="delete"):
            del doc[key]
        else:
            doc[key] = data.draw(_json_values(), label="value")
        (folder / "manifest.json").write_text(json.dumps(doc), encoding="utf-8")
        return f"manifest[{key}] changed", False
    if op in ("nc_truncate", "nc_bytes", "nc_empty"):
        raw = nc.read_bytes()
        at = data.draw(st.integers(0, len(raw) - 1), label="offset")
        if op == "nc_truncate":
            raw = raw[:at]
        elif op == "nc_bytes":
            junk = data.draw(st.binary(min_size=1, max_size=64), label="junk")
            raw = raw[:at] + junk + raw[at + len(junk):]
        else:
            raw = b""
        nc.write_bytes(raw)
        return f"{op} at {at}", False
    if op == "nc_foreign":
        xr.Dataset({"x": ("t", np.arange(5.0))}, attrs={"as_of": 2015}).to_netcdf(
            nc, engine="h5netcdf")
        return op, False
    ds = _base_dataset(nc).copy(deep=True)
    all_nan = False
    if op in ("nc_nan", "nc_some_nan"):
        frac = 1.0 if op == "nc_nan" else data.draw(st.floats(0.01, 0.5), label="fraction")
        rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed"))
        for name, var in ds.data_vars.items():
            if var.dtype.kind == "f" and "draw" in var.dims:
                values = var.values.copy()
                values[rng.random(values.shape) < frac] = np.nan
                ds[name] = var.copy(data=values)
        all_nan = op == "nc_nan"
    elif op == "nc_zero_draws":
        ds = ds.isel(draw=slice(0, 0))
    elif op == "nc_attrs":
        key = data.draw(st.sampled_from(sorted(ds.attrs)), label="attr")
        value = data.draw(st.one_of(st.integers(-5, 5000), _TEXT, st.floats()), label="value")
        ds.attrs[key] = value
        op += f" {key}={value!r}"
    if op.startswith("nc_"):
        nc.unlink()
        write_netcdf(ds, nc)
        return op, all_nan
    targets = folder / "targets.csv"
    if op == "targets_empty":
        targets.write_bytes(b"")
    elif op == "targets_header":
        targets.write_text(targets.read_text(encoding="utf-8").splitlines()[0] + "\n")
    elif op == "targets_drop_col":
        table = pd.read_csv(targets)
        col = data.draw(st.sampled_from(list(table.columns)), label="col")
        table.drop(columns=[col]).to_csv(targets, index=False)
        op += f" {col}"
    elif op == "targets_garbage":
        targets.write_bytes(data.draw(st.binary(max_size=200), label="garbage"))
    elif op == "targets_text_value":
        table = pd.read_csv(targets)
        col = data.draw(st.sampled_from(["value", "probability", "mc_se", "target_year"]),
                        label="col")
        table[col] = table[col].astype(object)
        table.loc[table.index[:3], col] = data.draw(_TEXT, label="text")
        table.to_csv(targets, index=False)
        op += f" {col}"
    elif op == "resolved":
        path = folder / "scenario.resolved.toml"
        content, what, _ = mutate_scenario(data, path.read_text(encoding="utf-8"))
        path.write_bytes(content)
        op += f" {what}"
    elif op == "delete":
        victim = data.draw(st.sampled_from(sorted(p.name for p in folder.iterdir())), label="file")
        (folder / victim).unlink()
        op += f" {victim}"
    elif op == "marker":
        marker = folder / ".sim-results"
        if data.draw(st.booleans(), label="delete marker"):
            marker.unlink(missing_ok=True)
        else:
            marker.write_text(data.draw(_TEXT, label="marker"), encoding="utf-8")
    else:
        (folder / data.draw(st.sampled_from(["notes.txt", "figures", "x.csv"]), label="new")
         ).write_bytes(b"user data")
    return op, False


def results_case(data, pair: list[Path]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        a = Path(tmp) / "runs" / "a"
        shutil.copytree(pair[0], a)
        what, all_nan = mutate_results(data, a)
        command = data.draw(st.sampled_from(["report", "compare"]), label="command")
        CURRENT["case"] = f"{command} [{what}]"
        if command == "report":
            before = digest(a)
            res = call("report", a, "--no-figures", "--quiet")
            if res.code == 0:
                TALLY["report.cases"] += 1
                TALLY["report.exit0"] += 1
                assert "Traceback" not in res.err, (what, res)
                assert not leftovers(a.parent), (what, res)
                for name in ("targets.csv", "manifest.json", "report.html"):
                    assert (a / name).is_file(), (what, name, res)
                probabilities_ok(a / "targets.csv")
            else:   # refused: the folder untouched
                check(res, "report", inputs=[a], before=before, names=[str(a)], outputs=(a,))
            if all_nan:
                must_refuse(res, "report", "not a finite number")
        else:
            out = Path(tmp) / "cmp"
            before = digest(a, pair[1])
            res = call("compare", a, pair[1], "--out", out, "--no-figures", "--quiet")
            check(res, "compare", inputs=[a, pair[1]], before=before,
                  names=[str(a), str(pair[1]), str(out)], outputs=(out,))
            if res.code == 0:
                probabilities_ok(out / "compare.csv")
            else:
                assert not out.exists() or not any(out.iterdir()), (what, res)


@quick(4, shrink=False)
@given(data=st.data())
def test_fuzz_results(data, results_pair, fast_html):
    results_case(data, results_pair)


@pytest.mark.slow
@long_tier
def test_fuzz_results_long(results_pair):
    run_long(results_case, 150, results_pair)


def test_report_on_an_all_nan_ensemble_fails_cleanly(results_pair, tmp_path, fast_html):
    """Defect 4: `sim report` on an all-NaN ensemble.nc reported 22 targets at P = 0."""
    from sim.ensemble import read_netcdf, write_netcdf

    a = tmp_path / "a"
    shutil.copytree(results_pair[0], a)
    ds = read_netcdf(a / "ensemble.nc")
    for name, var in ds.data_vars.items():
        if var.dtype.kind == "f" and "draw" in var.dims:
            ds[name] = var.copy(data=np.full(var.shape, np.nan))
    (a / "ensemble.nc").unlink()
    write_netcdf(ds, a / "ensemble.nc")
    before = digest(a)
    res = call("report", a, "--no-figures", "--quiet")
    assert res.code == 2 and "Traceback" not in res.err, res
    assert "scenario 'baseline'" in res.err and "is not a finite number in 50 of 50 draws" in res.err
    assert digest(a) == before


# --------------------------------------------------------------------------------------------
# kill -9 at random points of a run
# --------------------------------------------------------------------------------------------


def test_kill_9_never_loses_the_previous_result(results_pair, tmp_path, fitted_2015):
    """SIGKILL a real `python -m sim run … --out X --force` at random moments: X always holds a
    complete result (the previous one, or the new one when the kill came after the swap), and
    the next run on X succeeds and leaves nothing half-written."""
    scen = tmp_path / "small.toml"
    scen.write_text(SMALL, encoding="utf-8")
    x = tmp_path / "out" / "X"
    shutil.copytree(results_pair[0], x)
    previous = digest(x)
    rng = random.Random(int(os.environ.get("SIM_FUZZ_SEED", "14")))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    kills = 0
    for delay in sorted(rng.uniform(0.3, 5.0) for _ in range(3)):
        proc = subprocess.Popen([sys.executable, "-m", "sim", "run", str(scen), "--draws", "200",
                                 "--out", str(x), "--force", "--quiet", "--no-figures"],
                                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=120)
        assert x.is_dir(), f"killed after {delay:.1f} s: X is gone"
        if digest(x) != previous:   # the kill came after the swap: a complete new result
            assert json.loads((x / "manifest.json").read_text())["draws"] == 200
            probabilities_ok(x / "targets.csv")
            previous = digest(x)
    TALLY["kill9.kills"] += kills
    res = call("run", scen, "--draws", 60, "--out", x, "--force", "--quiet", "--no-figures")
    assert res.code == 0, res
    assert json.loads((x / "manifest.json").read_text())["draws"] == 60
    probabilities_ok(x / "targets.csv")
    assert not leftovers(x.parent), sorted(p.name for p in x.parent.iterdir())


# --------------------------------------------------------------------------------------------
# The probe's categories (issue 19 item 8): results damage, FIFOs and symlinks, leftover-name
# collisions, full disks, injections. Cases and oracles: tests/fuzz_probe.py (its docstring
# states each oracle). The quick tier fixes the kind of a few cases of each category (so CI
# covers every category whatever hypothesis draws); the long tier draws everything.
# --------------------------------------------------------------------------------------------

import fuzz_probe as P  # noqa: E402  (it reads this module's contract when a case runs)


@pytest.fixture(scope="module")
def probe_references(results_pair):
    """The run's own probabilities (what a rebuilt or compared targets table must carry)."""
    return {"report": P.probabilities(results_pair[0] / "targets.csv")}


@pytest.mark.parametrize("fixed", [
    {"damage": "years_shift", "command": "report"},          # the probe: KeyError
    {"damage": "manifest_as_of", "command": "report"},
    {"damage": "targets_prob_bad", "command": "compare"},
    {"damage": "marker_link", "command": "report"},
], ids=lambda f: "-".join(f.values()))
def test_fuzz_damage(fixed, results_pair, probe_references, fast_html):
    quick(1, shrink=False)(given(data=st.data())(
        lambda data: P.damage_case(data, results_pair, probe_references, fixed)))()


@pytest.mark.parametrize("damage", sorted(P.REPORT_KEEPS_TABLE))
def test_fuzz_damage_report_keeps_a_broken_targets_table(damage, results_pair,
                                                         probe_references, fast_html):
    """Oracle: refused with a message naming the folder (like `sim compare` refuses a
    probability outside [0, 1]); a finding of this suite: before sim.output.targets_check,
    exit 0 and the broken table carried into the report."""
    quick(1, shrink=False)(given(data=st.data())(
        lambda data: P.damage_case(data, results_pair, probe_references,
                                   {"damage": damage, "command": "report"})))()


def test_fuzz_damage_compare_takes_a_duplicated_row(results_pair, probe_references, fast_html):
    """Oracle: refused with a message naming targets.csv; a finding of this suite: before
    sim.output.targets_check, exit 0."""
    quick(1, shrink=False)(given(data=st.data())(
        lambda data: P.damage_case(data, results_pair, probe_references,
                                   {"damage": "targets_dup_row", "command": "compare"})))()


@pytest.mark.slow
@long_tier
def test_fuzz_damage_long(results_pair, probe_references):
    run_long(P.damage_case, 60, results_pair, probe_references)


@pytest.mark.parametrize("fixed", [
    {"where": "data", "kind": "fifo", "command": "validate"},       # the probe: a hang
    {"where": "data", "kind": "link_dev_zero", "command": "data"},
    {"where": "scenario", "kind": "link_fifo", "command": "run"},
    {"where": "out", "kind": "link_user_dir", "command": "run"},
    {"where": "lock", "kind": "link_user_file", "command": "compare"},   # the probe: overwritten
], ids=lambda f: "-".join(f.values()))
def test_fuzz_special_files(fixed, results_pair):
    quick(1, shrink=False)(given(data=st.data())(
        lambda data: P.special_case(data, results_pair, fixed)))()


@pytest.mark.slow
@long_tier
def test_fuzz_special_files_long(results_pair):
    run_long(P.special_case, 1000, results_pair)


@pytest.mark.parametrize("fixed", [{"command": "compare"}, {"command": "run"}],
                         ids=lambda f: f["command"])
def test_fuzz_leftover_names(fixed, results_pair, fitted_2015, fast_html):
    quick(1, shrink=False)(given(data=st.data())(
        lambda data: P.leftover_case(data, results_pair, fitted_2015, fixed)))()


@pytest.mark.slow
@long_tier
def test_fuzz_leftover_names_long(results_pair, fitted_2015):
    run_long(P.leftover_case, 60, results_pair, fitted_2015)


@pytest.mark.parametrize("fixed", [
    {"mode": "run", "writer": "to_netcdf", "k": 1},
    {"mode": "run_summaries", "writer": "to_netcdf", "k": 1},   # the probe: errno 28, rc 139
    {"mode": "report", "writer": "to_csv", "k": 2},
    {"mode": "compare", "writer": "write_text", "k": 1},
], ids=lambda f: "-".join(map(str, f.values())))
def test_fuzz_disk_full(fixed, results_pair, fitted_2015, fast_html):
    quick(1, shrink=False)(given(data=st.data())(
        lambda data: P.disk_case(data, results_pair, fitted_2015, fixed)))()


@pytest.mark.slow
@long_tier
def test_fuzz_disk_full_long(results_pair, fitted_2015):
    run_long(P.disk_case, 60, results_pair, fitted_2015)


@quick(1, shrink=False)
@given(data=st.data())
def test_fuzz_injection_end_to_end(data, fitted_2015, fast_html):
    P.inject_case(data, fitted_2015)


@pytest.mark.slow
@long_tier
def test_fuzz_injection_end_to_end_long(fitted_2015):
    run_long(P.inject_case, 30, fitted_2015)
