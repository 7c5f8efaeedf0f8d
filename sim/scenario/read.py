"""Scenario files: TOML in, resolved :class:`~sim.scenario.spec.ScenarioFile` out, and back to TOML.

``load_scenario_file`` reads a file, applies command-line overrides to ``[run]``, validates every
section, expands ``extends`` (:mod:`sim.scenario.extends`) and checks the resolved scenarios
against the run's years and target sets. It collects *every* problem of the file and raises them
together as a :class:`~sim.errors.ProblemList`; each reads ``FILE: key.path: what is wrong
(expected …, got …)`` (the text: :mod:`sim.scenario.messages`).
"""

from __future__ import annotations

import re
import stat
import tomllib
from pathlib import Path
from typing import Any, Mapping, TypeVar

import pandas as pd
import tomli_w
from pydantic import BaseModel, ValidationError

from sim.bounds import TARGET_KIND_RANGES
from sim.errors import Problem, ProblemList, did_you_mean
from sim.scenario.extends import (Origin, chains, clip, expand_file_extends, merge, origin_of,
                                  window)
from sim.scenario.messages import Loc, describe, format_loc, printable, translate, unknown_key
from sim.scenario.base import BASELINE, NAME_PATTERN
from sim.scenario.spec import (
    OutputSpec,
    RunSpec,
    ScenarioDocument,
    ScenarioEntry,
    ScenarioFile,
    ScenarioSpec,
    SweepSpec,
    run_issues,
    scenario_issues,
)
from sim.targets import load_catalogue
from sim.vocabulary import TARGET_SETS

__all__ = ["load_scenario_file", "resolved_toml", "json_schema"]

Years = tuple[int, int]   # (as_of, horizon)
_M = TypeVar("_M", bound=BaseModel)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def load_scenario_file(path: str | Path, *, overrides: Mapping[str, Any] | None = None,
                       catalogue: pd.DataFrame | None = None) -> ScenarioFile:
    """Read, validate and resolve a scenario file.

    ``catalogue`` holds the target ids ``[target_values]`` may name (default: the bundled
    catalogue; a run with ``--data DIR`` passes its history's, ``history.catalogue()``, so a
    scenario may name a target that directory declares).

    ``overrides`` (e.g. ``{"draws": 1000, "seed": 1, "as_of": 2018}``) replace keys of ``[run]``
    before validation. When they move ``as_of`` or ``horizon``, the scenarios are checked against
    the file's own years and then fitted to the new ones: lever years clipped, path / programme
    years and shocks outside the new window dropped (at or before the new as_of they are history).
    Raises :class:`~sim.errors.ProblemList` with every problem of the file.
    """
    reader = _Reader(str(path))
    raw = _read_toml(path, reader.file)
    raw = expand_file_extends(raw, path, _read_toml,
                              check=lambda parent: load_scenario_file(parent, catalogue=catalogue))
    result = reader.check(raw, dict(overrides or {}), catalogue)
    if reader.problems:
        raise ProblemList(_unique(reader.problems))
    run, output, scenarios, sweep = result
    assert run is not None and output is not None   # else a problem was reported
    return ScenarioFile(path=Path(path), run=run, output=output, scenarios=scenarios, sweep=sweep)


def resolved_toml(sf: ScenarioFile) -> str:
    """The resolved scenario file as TOML (defaults filled, ``extends`` expanded); reads back equal."""
    doc = {
        "run": _plain(sf.run.model_dump()),
        "output": _plain(sf.output.model_dump()),
        "scenarios": {},
    }
    for name, sc in sf.scenarios.items():
        entry: dict[str, Any] = {"description": sc.description}
        if sc.label_zh is not None:
            entry["label_zh"] = sc.label_zh
        entry["target_values"] = dict(sc.target_values)
        if sc.target_value_sources:
            entry["target_value_sources"] = dict(sc.target_value_sources)
        if not sc.plan_record:
            entry["plan_record"] = False
        entry["levers"] = {d: _plain(lever.model_dump(exclude_none=True)) for d, lever in sc.levers.items()}
        entry["shocks"] = [_plain(s.model_dump(exclude_none=True)) for s in sc.shocks]
        doc["scenarios"][name] = entry
    if sf.sweep is not None:
        doc["sweep"] = _plain(sf.sweep.model_dump(exclude_none=True))
    source = f" from {sf.path}" if sf.path else ""
    header = (
        f"# Resolved scenario file{source}: every scenario complete (extends expanded, defaults filled).\n"
        "# Written by sim; `python -m sim validate` reads it back unchanged.\n\n"
    )
    return header + tomli_w.dumps(doc)


def json_schema() -> dict:
    """JSON Schema (draft 2020-12) of the scenario file format, with a description for every key."""
    schema = ScenarioDocument.model_json_schema()
    schema = _clean_schema(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "sim scenario file",
    }


# --------------------------------------------------------------------------------------------
# Reading TOML
# --------------------------------------------------------------------------------------------


#: Largest scenario file read (bytes): the shipped ones are 4–6 kB, a resolved file with a big
#: sweep some 100 kB; a larger file is not a scenario file.
MAX_FILE_BYTES = 1_000_000
_BOM = "\ufeff"


def _read_toml(path: str | Path, file: str) -> dict:
    try:
        st = Path(path).stat()
        if not stat.S_ISREG(st.st_mode):   # a FIFO or device would block or never end
            raise ProblemList([Problem(file, "", "not a regular file (expected a scenario file; "
                                                 "sim does not read FIFOs, devices or folders)")])
        size = st.st_size
        if size > MAX_FILE_BYTES:
            raise ProblemList([Problem(file, "", f"file too large ({size} bytes; expected a "
                                                 f"scenario file of at most {MAX_FILE_BYTES} bytes)")])
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ProblemList([Problem(file, "", f"cannot read ({exc.strerror or exc})")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProblemList([Problem(file, "", f"cannot read (not UTF-8 text: byte {exc.start})")]) from None
    text = text.removeprefix(_BOM)   # a UTF-8 byte-order mark (Windows editors) is not content
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ProblemList([Problem(file, "", "arrays or tables nested too deeply (expected a "
                                             "scenario file: at most a few levels)")]) from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)\s*$", msg)
        what = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)\s*$", "", msg)
        if m:
            where = f"line {m.group(1)}, column {m.group(2)}"
        elif msg.rstrip().endswith("(at end of document)"):
            where = f"line {text.count(chr(10)) + 1}, end of file"
        else:
            where = ""
        raise ProblemList([Problem(file, where, f"TOML syntax error ({what})")]) from None


# --------------------------------------------------------------------------------------------
# Checking and resolving
# --------------------------------------------------------------------------------------------


class _Reader:
    """Collects the problems of one file while its sections are checked and resolved."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []
        self.overridden: set[str] = set()   # [run] keys set on the command line

    def add(self, loc: Loc, message: str) -> None:
        if len(loc) == 2 and loc[0] == "run" and loc[1] in self.overridden:
            message += f" (set on the command line: --{str(loc[1]).replace('_', '-')})"
        self.problems.append(Problem(self.file, printable(format_loc(loc)), printable(message)))

    # -- sections -------------------------------------------------------------------------

    def check(self, raw: dict, overrides: dict, catalogue: pd.DataFrame | None = None
              ) -> tuple[RunSpec | None, OutputSpec | None, dict[str, ScenarioSpec],
                         SweepSpec | None]:
        """Check every section: ``(run, output, resolved scenarios, sweep)``."""
        for key in raw:
            if key not in ScenarioDocument.model_fields:
                self.add((key,), unknown_key(key, ScenarioDocument.model_fields))

        run, years, file_years = self._run(raw, overrides)
        output = self._validate(OutputSpec, raw.get("output", {}), ("output",))[0]
        entries, raw_entries = self._entries(raw)
        scenario_chains, issues = chains(entries, raw_entries)
        for loc, msg in issues:
            self.add(loc, msg)
        target_sets = _valid_target_sets(raw.get("run"), run)
        targets = _Targets(*_target_ids(catalogue), target_sets) if target_sets else None

        valid = {n: e for n, e in entries.items() if e is not None}
        scenarios: dict[str, ScenarioSpec] = {}
        order = sorted(scenario_chains, key=lambda n: n != BASELINE)  # baseline first
        for name in order:
            chain = scenario_chains[name]
            if chain is None or any(n not in valid for n in chain):
                continue  # problem already reported
            merged, origin = merge([(n, valid[n]) for n in reversed(chain)])
            merged["target_value_sources"] = _merge_sources(
                [(n, valid[n]) for n in reversed(chain)], origin)
            if years is None:
                continue
            spec = self._resolve(name, merged, origin, years, file_years, targets)
            if spec is not None:
                scenarios[name] = spec
        sweep = self._sweep(raw, raw_entries)
        return run, output, scenarios, sweep

    def _resolve(self, name: str, merged: dict, origin: Origin, years: Years,
                 file_years: Years | None, targets: _Targets | None) -> ScenarioSpec | None:
        """One merged scenario resolved in the run's years (checked against the file's own years
        first when overrides moved them), its target values checked against the catalogue."""
        if file_years is not None and file_years != years:
            # Overrides moved the window: check the file against its own years, then clip.
            spec = self._resolved_spec(name, merged, file_years)
            issues = scenario_issues(spec, *file_years) if spec is not None else []
            for loc, msg in issues:
                self.add(*origin_of(name, loc, origin, msg))
            if spec is None or issues:
                return None
            merged = clip(merged, *years)
        spec = self._resolved_spec(name, merged, years)
        if spec is None:
            return None
        for loc, msg in scenario_issues(spec, *years):
            self.add(*origin_of(name, loc, origin, msg))
        for tid in spec.target_value_sources:
            if tid not in spec.target_values:
                self.add(*origin_of(name, ("target_value_sources", tid), origin,
                                    f"a source for '{tid}', which has no value in target_values "
                                    f"(expected a source for one of the target_values of this "
                                    f"scenario: {', '.join(spec.target_values) or 'none'})"))
        if targets is not None:
            for tid, value in spec.target_values.items():
                why = targets.problem(tid) or targets.value_problem(tid, value)
                if why:
                    self.add(*origin_of(name, ("target_values", tid), origin, why))
        return spec

    def _sweep(self, raw: dict, raw_entries: dict[str, Any]) -> SweepSpec | None:
        """[sweep], when there is one; its scenario must be one of the file's."""
        if "sweep" not in raw:
            return None
        sweep = self._validate_sweep(raw["sweep"])
        name = raw["sweep"].get("scenario") if isinstance(raw["sweep"], dict) else None
        if (isinstance(name, str) and re.match(NAME_PATTERN, name) and raw_entries
                and name not in raw_entries):
            hint = (did_you_mean(name, raw_entries)
                    or f" (expected one of {', '.join(raw_entries)})")
            self.add(("sweep", "scenario"), f"unknown scenario '{name}'{hint}")
            return None
        return sweep

    def _run(self, raw: dict, overrides: dict
             ) -> tuple[RunSpec | None, Years | None, Years | None]:
        """``(run, (as_of, horizon) when valid, the file's own years when valid)``."""
        run_raw = raw.get("run")
        if run_raw is None:
            self.add(("run",), "missing required table [run] (expected as_of, horizon, draws, "
                               "seed, target_sets)")
            return None, None, None
        if not isinstance(run_raw, dict):
            self.add(("run",), f"wrong type (expected table, got {describe(run_raw)})")
            return None, None, None
        file_years = window(run_raw.get("as_of"), run_raw.get("horizon"))
        run_raw = {**run_raw, **overrides}
        self.overridden = set(overrides)
        run, bad = self._validate(RunSpec, run_raw, ("run",))
        as_of, horizon = run_raw.get("as_of"), run_raw.get("horizon")
        if "as_of" in bad or "horizon" in bad or as_of is None or horizon is None:
            return run, None, file_years
        issues = run_issues(as_of, horizon)
        for loc, msg in issues:
            self.add(loc, msg)
        return run, (None if issues else (as_of, horizon)), file_years

    def _entries(self, raw: dict) -> tuple[dict[str, ScenarioEntry | None], dict[str, Any]]:
        """The scenario entries as validated (None when invalid) and as written."""
        entries: dict[str, ScenarioEntry | None] = {}
        raw_entries: dict[str, Any] = {}
        scen = raw.get("scenarios")
        if scen is None:
            self.add(("scenarios",), "missing required table (expected [scenarios.baseline] "
                                     "and alternatives)")
            return entries, raw_entries
        if not isinstance(scen, dict):
            self.add(("scenarios",), f"wrong type (expected table, got {describe(scen)})")
            return entries, raw_entries
        for name, value in scen.items():
            loc = ("scenarios", name)
            if not re.match(NAME_PATTERN, name):
                self.add(loc, f"invalid scenario name (expected [a-z][a-z0-9_]*: lowercase "
                              f"letters, digits, underscores, starting with a letter; "
                              f"got '{name}')")
                continue
            raw_entries[name] = value
            if not isinstance(value, dict):
                self.add(loc, f"wrong type (expected table, got {describe(value)})")
                entries[name] = None
                continue
            entries[name] = self._validate(ScenarioEntry, value, loc)[0]
        if BASELINE not in scen:
            self.add(("scenarios",), f"no scenario named 'baseline'{did_you_mean(BASELINE, scen)} "
                                     "(expected a [scenarios.baseline] table)")
        return entries, raw_entries

    def _resolved_spec(self, name: str, merged: dict, years: Years) -> ScenarioSpec | None:
        """Fill lever year defaults (as_of + 1, horizon) and build the resolved scenario."""
        as_of, horizon = years
        levers = {}
        for driver, fields in merged["levers"].items():
            if "shift_pp" in fields:
                fields = {"from_year": as_of + 1, "to_year": horizon, **fields}
            levers[driver] = fields
        spec, _ = self._validate(ScenarioSpec, {"name": name, **merged, "levers": levers},
                                 ("scenarios", name))
        return spec

    def _validate_sweep(self, data: Any) -> SweepSpec | None:
        """Validate [sweep]; errors of the union member that does not apply are dropped."""
        if isinstance(data, dict) and isinstance(data.get("levers"), dict):
            data = {**data, "levers": SweepSpec._flatten(data["levers"])}
        try:
            return SweepSpec.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = tuple(_TUPLE_TAG if _is_tuple_tag(p) else p for p in err["loc"])
                if _TUPLE_TAG in loc and isinstance(_at(data, loc[:loc.index(_TUPLE_TAG)]), dict):
                    continue  # a table: only the {start, stop, num} errors matter
                if (_RANGE_TAG in loc
                        and not isinstance(_at(data, loc[:loc.index(_RANGE_TAG)]), dict)):
                    continue  # an array: only the array errors matter
                loc = tuple(p for p in loc if p not in (_TUPLE_TAG, _RANGE_TAG))
                self.add(*translate(SweepSpec, {**err, "loc": loc}, ("sweep",)))
            return None

    # -- pydantic -> problems -------------------------------------------------------------

    def _validate(self, model: type[_M], data: Any, prefix: Loc) -> tuple[_M | None, set]:
        """Validate ``data``; report each error; return (model or None, top-level keys in error)."""
        try:
            return model.model_validate(data), set()
        except ValidationError as exc:
            bad = set()
            errors = exc.errors(include_url=False)
            for err in errors:
                if err["type"] == "inconsistent":
                    continue  # cross-field rules are reported by run_issues / scenario_issues
                loc = tuple(err["loc"])
                if err["type"] == "too_short" and _has_item_errors(loc, errors):
                    continue  # "empty" only because its items were refused: they are reported
                if loc:
                    bad.add(loc[0])
                self.add(*translate(model, err, prefix))
            return None, bad


def _merge_sources(chain: list[tuple[str, Any]], origin: Origin) -> dict[str, str]:
    """The target-value sources of a chain of entries, root first: a source belongs to the value
    written in the same entry, so an entry setting a value drops the inherited source of that
    id before adding its own (``origin`` gains where each source was written)."""
    sources: dict[str, str] = {}
    for name, entry in chain:
        for tid in entry.target_values:
            sources.pop(tid, None)
        for tid, text in entry.target_value_sources.items():
            sources[tid] = text
            origin[("target_value_sources", tid)] = (name, ("target_value_sources", tid))
    return sources


class _Targets:
    """The catalogue's target ids, to check a scenario's ``target_values`` against the run's
    target sets."""

    def __init__(self, ids: dict[str, str], kinds: dict[str, str], target_sets: tuple[str, ...]):
        self.ids = ids                                    # id -> target set
        self.kinds = kinds                                # id -> kind
        self.target_sets = target_sets
        self.chosen = [i for i, s in ids.items() if s in target_sets]

    def problem(self, tid: str) -> str | None:
        """Why ``tid`` cannot take a value in this run, or None."""
        if tid in self.chosen:
            return None
        if tid in self.ids:
            return (f"target '{tid}' belongs to target set '{self.ids[tid]}', which is not in "
                    f"run.target_sets (expected a target of {', '.join(self.target_sets)})")
        hint = did_you_mean(tid, self.chosen) or " (see `python -m sim targets` for the ids)"
        return f"unknown target id '{tid}'{hint}"

    def value_problem(self, tid: str, value: float) -> str | None:
        """Why ``value`` is not plausible for the kind of target ``tid`` (a share outside
        0–100 %, a cumulative change of -100 % or less, a negative count), or None."""
        kind = self.kinds.get(tid, "")
        limits = TARGET_KIND_RANGES.get(kind)
        why = limits.problem(value) if limits is not None else None
        what = f" for a {kind.replace('_', ' ')} target"
        return why.replace(" (expected", what + " (expected", 1) if why else None


_TUPLE_TAG, _RANGE_TAG = "tuple[float, ...]", "SweepRange"  # pydantic's names of SweepAxis members


def _is_tuple_tag(part: Any) -> bool:
    """pydantic's name of the array member of SweepAxis (``tuple[constrained-float, ...]``)."""
    return isinstance(part, str) and part.startswith("tuple[") and part.endswith(", ...]")


def _has_item_errors(loc: Loc, errors: list) -> bool:
    """Is there an error inside the array at ``loc`` (an item of it refused)?"""
    n = len(loc)
    return any(len(e["loc"]) > n and tuple(e["loc"][:n]) == loc for e in errors)


def _at(data: Any, loc: Loc) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _valid_target_sets(run_raw: Any, run: RunSpec | None) -> tuple[str, ...] | None:
    """The run's target sets when they are valid (even if other [run] keys are not)."""
    if run is not None:
        return run.target_sets
    sets = run_raw.get("target_sets") if isinstance(run_raw, dict) else None
    if isinstance(sets, list) and sets and all(isinstance(s, str) and s in TARGET_SETS for s in sets):
        return tuple(sets)
    return None


def _target_ids(catalogue: pd.DataFrame | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Target id -> target set, and target id -> kind, from ``catalogue`` (default: the
    bundled one)."""
    cat = load_catalogue() if catalogue is None else catalogue
    return ({str(i): str(s) for i, s in zip(cat["id"], cat["target_set"])},
            {str(i): str(k) for i, k in zip(cat["id"], cat["kind"])})


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


# --------------------------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Make a model dump TOML-ready: tuples -> lists, integer dict keys (years) -> strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _clean_schema(node: Any) -> Any:
    """Drop JSON-only noise TOML cannot express: ``anyOf [X, null]`` -> X, ``default: null``."""
    if isinstance(node, list):
        return [_clean_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _clean_schema(v) for k, v in node.items()}
    any_of = node.get("anyOf")
    if isinstance(any_of, list):
        rest = [s for s in any_of if s != {"type": "null"}]
        if len(rest) != len(any_of):
            node.pop("anyOf")
            if len(rest) == 1:
                node = {**rest[0], **node}
            else:
                node["anyOf"] = rest
    if "default" in node and node["default"] is None:
        node.pop("default")
    return node
