"""Scenario files: TOML in, resolved :class:`~sim.scenario.spec.ScenarioFile` out, and back to TOML.

``load_scenario_file`` reads a file, applies command-line overrides to ``[run]``, validates every
section, expands ``extends`` and checks the resolved scenarios against the run's years and target
sets. It collects *every* problem of the file and raises them together as a
:class:`~sim.errors.ProblemList`; each reads ``FILE: key.path: what is wrong (expected …, got …)``.

``extends`` semantics: a scenario inherits everything from its parent, then overrides —
lever tables merge key by key (a lever's ``path`` / ``programme_units`` is one value and is replaced
whole; choosing ``path`` drops an inherited ``shift_pp`` and vice versa, likewise
``programme_units`` / ``units_per_year``); ``shocks`` are the parent's followed by the child's;
``target_values`` merge by id. ``description`` and ``label_zh`` belong to each scenario and are not
inherited.
"""

from __future__ import annotations

import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Annotated, Literal, Mapping, get_args, get_origin

import annotated_types as at
import tomli_w
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from sim.errors import Problem, ProblemList, did_you_mean
from sim.targets import TARGET_SETS
from sim.scenario.spec import (
    BASELINE,
    LEVER_DRIVERS,
    NAME_PATTERN,
    YEAR_MAX,
    YEAR_MIN,
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

__all__ = ["load_scenario_file", "resolved_toml", "json_schema", "ScenarioFile", "ScenarioSpec"]

Loc = tuple  # key path: ("scenarios", "baseline", "shocks", 0, "year")

# Pairs where choosing one drops the other inherited through `extends`.
_EXCLUSIVE = {"path": ("shift_pp", "from_year", "to_year"), "shift_pp": ("path",),
              "programme_units": ("units_per_year",), "units_per_year": ("programme_units",)}


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def load_scenario_file(path: str | Path, *, overrides: Mapping[str, Any] | None = None) -> ScenarioFile:
    """Read, validate and resolve a scenario file.

    ``overrides`` (e.g. ``{"draws": 1000, "seed": 1, "as_of": 2018}``) replace keys of ``[run]``
    before validation. When they move ``as_of`` or ``horizon``, the scenarios are checked against
    the file's own years and then fitted to the new ones: lever years clipped, path / programme
    years and shocks outside the new window dropped (at or before the new as_of they are history).
    Raises :class:`~sim.errors.ProblemList` with every problem of the file.
    """
    reader = _Reader(str(path))
    raw = _read_toml(path, reader.file)
    result = reader.check(raw, dict(overrides or {}))
    if reader.problems:
        raise ProblemList(_unique(reader.problems))
    run, output, scenarios, sweep = result
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


def _read_toml(path: str | Path, file: str) -> dict:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ProblemList([Problem(file, "", f"cannot read ({exc.strerror or exc})")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProblemList([Problem(file, "", f"cannot read (not UTF-8 text: byte {exc.start})")]) from None
    try:
        return tomllib.loads(text)
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
    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []
        self.overridden: set[str] = set()   # [run] keys set on the command line

    def add(self, loc: Loc, message: str) -> None:
        if len(loc) == 2 and loc[0] == "run" and loc[1] in self.overridden:
            message += f" (set on the command line: --{str(loc[1]).replace('_', '-')})"
        self.problems.append(Problem(self.file, format_loc(loc), message))

    # -- sections -------------------------------------------------------------------------

    def check(self, raw: dict, overrides: dict):
        for key in raw:
            if key not in ScenarioDocument.model_fields:
                self.add((key,), _unknown_key(key, ScenarioDocument.model_fields))

        run, years, file_years = self._run(raw, overrides)
        output = self._validate(OutputSpec, raw.get("output", {}), ("output",))[0]
        entries, raw_entries = self._entries(raw)
        chains = self._chains(entries, raw_entries)
        target_sets = _valid_target_sets(raw.get("run"), run)
        target_ids = _target_ids() if target_sets else None

        scenarios: dict[str, ScenarioSpec] = {}
        order = sorted(chains, key=lambda n: n != BASELINE)  # baseline first, then file order
        for name in order:
            chain = chains[name]
            if chain is None or any(entries.get(n) is None for n in chain):
                continue  # problem already reported
            merged, origin = _merge([(n, entries[n]) for n in reversed(chain)])
            if years is None:
                continue
            if file_years is not None and file_years != years:
                # Overrides moved the window: check the file against its own years, then clip.
                spec = self._resolved_spec(name, merged, file_years)
                issues = scenario_issues(spec, *file_years) if spec is not None else []
                for loc, msg in issues:
                    self.add(*_origin(name, loc, origin, msg))
                if spec is None or issues:
                    continue
                merged = _clip(merged, *years)
            spec = self._resolved_spec(name, merged, years)
            if spec is None:
                continue
            for loc, msg in scenario_issues(spec, *years):
                self.add(*_origin(name, loc, origin, msg))
            if target_ids is not None:
                for tid in spec.target_values:
                    msg = _target_problem(tid, target_ids, target_sets)
                    if msg:
                        self.add(*_origin(name, ("target_values", tid), origin, msg))
            scenarios[name] = spec
        sweep = None
        if "sweep" in raw:
            sweep = self._validate_sweep(raw["sweep"])
            name = raw["sweep"].get("scenario") if isinstance(raw["sweep"], dict) else None
            if isinstance(name, str) and re.match(NAME_PATTERN, name) and raw_entries and name not in raw_entries:
                hint = did_you_mean(name, raw_entries) or f" (expected one of {', '.join(raw_entries)})"
                self.add(("sweep", "scenario"), f"unknown scenario '{name}'{hint}")
                sweep = None
        return run, output, scenarios, sweep

    def _run(self, raw: dict, overrides: dict):
        run_raw = raw.get("run")
        if run_raw is None:
            self.add(("run",), "missing required table [run] (expected as_of, horizon, draws, seed, target_sets)")
            return None, None, None
        if not isinstance(run_raw, dict):
            self.add(("run",), f"wrong type (expected table, got {describe(run_raw)})")
            return None, None, None
        file_years = _window(run_raw.get("as_of"), run_raw.get("horizon"))
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

    def _entries(self, raw: dict):
        entries: dict[str, ScenarioEntry | None] = {}
        raw_entries: dict[str, Any] = {}
        scen = raw.get("scenarios")
        if scen is None:
            self.add(("scenarios",), "missing required table (expected [scenarios.baseline] and alternatives)")
            return entries, raw_entries
        if not isinstance(scen, dict):
            self.add(("scenarios",), f"wrong type (expected table, got {describe(scen)})")
            return entries, raw_entries
        for name, value in scen.items():
            loc = ("scenarios", name)
            if not re.match(NAME_PATTERN, name):
                self.add(loc, f"invalid scenario name (expected [a-z][a-z0-9_]*: lowercase letters, digits, "
                              f"underscores, starting with a letter; got '{name}')")
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

    def _chains(self, entries, raw_entries) -> dict[str, list[str] | None]:
        """Each scenario's extends chain [self, parent, ...], or None when it is broken."""
        parent: dict[str, str | None] = {}
        for name, value in raw_entries.items():
            entry = entries.get(name)
            ext = entry.extends if entry is not None else (value.get("extends") if isinstance(value, dict) else None)
            parent[name] = ext if isinstance(ext, str) else None
        if parent.get(BASELINE):
            self.add(("scenarios", BASELINE, "extends"), "the baseline cannot extend another scenario (expected no extends)")
        for name, ext in parent.items():
            if ext is not None and ext not in parent:
                hint = did_you_mean(ext, parent) or f" (expected one of {', '.join(parent)})"
                self.add(("scenarios", name, "extends"), f"unknown scenario '{ext}'{hint}")
        chains: dict[str, list[str] | None] = {}
        reported: set[frozenset] = set()
        for name in parent:
            chain = [name]
            while True:
                ext = parent.get(chain[-1])
                if ext is None:
                    chains[name] = chain
                    break
                if ext not in parent:
                    chains[name] = None
                    break
                if ext in chain:
                    cycle = chain[chain.index(ext):] + [ext]
                    if ext == name and frozenset(cycle) not in reported:
                        reported.add(frozenset(cycle))
                        self.add(("scenarios", name, "extends"),
                                 f"extends cycle {' → '.join(cycle)} (expected a chain ending at a scenario without extends)")
                    chains[name] = None
                    break
                chain.append(ext)
        return chains

    def _resolved_spec(self, name: str, merged: dict, years: tuple[int, int]) -> ScenarioSpec | None:
        """Fill lever year defaults (as_of + 1, horizon) and build the resolved scenario."""
        as_of, horizon = years
        levers = {}
        for driver, fields in merged["levers"].items():
            if "shift_pp" in fields:
                fields = {"from_year": as_of + 1, "to_year": horizon, **fields}
            levers[driver] = fields
        spec, _ = self._validate(ScenarioSpec, {"name": name, **merged, "levers": levers}, ("scenarios", name))
        return spec

    def _validate_sweep(self, data: Any) -> SweepSpec | None:
        """Validate [sweep]; errors of the union member that does not apply are dropped."""
        if isinstance(data, dict) and isinstance(data.get("levers"), dict):
            data = {**data, "levers": SweepSpec._flatten(data["levers"])}
        try:
            return SweepSpec.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = tuple(err["loc"])
                if _TUPLE_TAG in loc and isinstance(_at(data, loc[:loc.index(_TUPLE_TAG)]), dict):
                    continue  # a table: only the {start, stop, num} errors matter
                if _RANGE_TAG in loc and not isinstance(_at(data, loc[:loc.index(_RANGE_TAG)]), dict):
                    continue  # an array: only the array errors matter
                err = {**err, "loc": tuple(p for p in loc if p not in (_TUPLE_TAG, _RANGE_TAG))}
                self.add(*translate(SweepSpec, err, ("sweep",)))
            return None

    # -- pydantic -> problems -------------------------------------------------------------

    def _validate(self, model: type[BaseModel], data: Any, prefix: Loc):
        """Validate ``data``; report each error; return (model or None, top-level keys in error)."""
        try:
            return model.model_validate(data), set()
        except ValidationError as exc:
            bad = set()
            for err in exc.errors(include_url=False):
                if err["type"] == "inconsistent":
                    continue  # cross-field rules are reported by run_issues / scenario_issues
                loc = tuple(err["loc"])
                if loc:
                    bad.add(loc[0])
                self.add(*translate(model, err, prefix))
            return None, bad


_TUPLE_TAG, _RANGE_TAG = "tuple[float, ...]", "SweepRange"  # pydantic's names of SweepAxis members


def _at(data: Any, loc: Loc) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _merge(chain: list[tuple[str, ScenarioEntry]]):
    """Merge entries root-first; return the merged scenario dict and where each value came from."""
    levers: dict[str, dict] = {}
    shocks: list = []
    target_values: dict[str, float] = {}
    origin: dict[Loc, tuple[str, Loc]] = {}
    for name, entry in chain:
        for driver in entry.levers.model_fields_set:
            lever = getattr(entry.levers, driver)
            if lever is None:
                continue
            fields = lever.model_dump(exclude_unset=True)
            current = levers.setdefault(driver, {})
            for key in fields:
                for other in _EXCLUSIVE.get(key, ()):
                    if other not in fields:
                        current.pop(other, None)
            current.update(fields)
            origin[("levers", driver)] = (name, ("levers", driver))
            for key in fields:
                origin[("levers", driver, key)] = (name, ("levers", driver, key))
        for j, shock in enumerate(entry.shocks):
            origin[("shocks", len(shocks))] = (name, ("shocks", j))
            shocks.append(shock)
        for tid, value in entry.target_values.items():
            target_values[tid] = value
            origin[("target_values", tid)] = (name, ("target_values", tid))
    last = chain[-1][1]
    levers = {d: levers[d] for d in LEVER_DRIVERS if d in levers}  # canonical order
    merged = {"description": last.description, "label_zh": last.label_zh,
              "levers": levers, "shocks": tuple(shocks), "target_values": target_values}
    return merged, origin


def _window(as_of: Any, horizon: Any) -> tuple[int, int] | None:
    """(as_of, horizon) when both are plausible years with as_of < horizon, else None."""
    ok = all(isinstance(y, int) and not isinstance(y, bool) and YEAR_MIN <= y <= YEAR_MAX for y in (as_of, horizon))
    return (as_of, horizon) if ok and as_of < horizon else None


def _clip(merged: dict, as_of: int, horizon: int) -> dict:
    """Fit a scenario written for one window into another (as_of/horizon overridden).

    What falls at or before the new as_of is history by then, what falls after the new horizon
    is not simulated: lever years are clipped, path / programme years and shocks outside the
    window dropped, and a lever left with no year removed.
    """
    levers = {}
    for driver, fields in merged["levers"].items():
        fields = dict(fields)
        if "from_year" in fields:
            fields["from_year"] = max(fields["from_year"], as_of + 1)
        if "to_year" in fields:
            fields["to_year"] = min(fields["to_year"], horizon)
        if "shift_pp" in fields and fields.get("from_year", as_of + 1) > fields.get("to_year", horizon):
            continue
        for key in ("path", "programme_units"):
            if key in fields:
                fields[key] = {y: v for y, v in fields[key].items() if as_of < y <= horizon}
                if not fields[key]:
                    fields = None
                    break
        if fields is not None:
            levers[driver] = fields
    shocks = tuple(s for s in merged["shocks"] if as_of < s.year <= horizon)
    return {**merged, "levers": levers, "shocks": shocks}


def _origin(name: str, loc: Loc, origin: dict, msg: str) -> tuple[Loc, str]:
    """Report a problem of a resolved scenario where the offending value was written."""
    for cut in range(len(loc), 0, -1):
        if loc[:cut] in origin:
            src, src_loc = origin[loc[:cut]]
            return ("scenarios", src) + src_loc + loc[cut:], msg
    return ("scenarios", name) + loc, msg


def _valid_target_sets(run_raw: Any, run: RunSpec | None) -> tuple[str, ...] | None:
    """The run's target sets when they are valid (even if other [run] keys are not)."""
    if run is not None:
        return run.target_sets
    sets = run_raw.get("target_sets") if isinstance(run_raw, dict) else None
    if isinstance(sets, list) and sets and all(isinstance(s, str) and s in TARGET_SETS for s in sets):
        return tuple(sets)
    return None


def _target_ids() -> dict[str, str] | None:
    """Target id -> target set, from the catalogue; None while the catalogue is not available."""
    try:
        from sim.targets import load_catalogue
        cat = load_catalogue()
    except (ImportError, AttributeError, NotImplementedError):
        return None
    return {str(i): str(s) for i, s in zip(cat["id"], cat["target_set"])}


def _target_problem(tid: str, ids: dict[str, str], target_sets: tuple[str, ...]) -> str | None:
    chosen = [i for i, s in ids.items() if s in target_sets]
    if tid in chosen:
        return None
    if tid in ids:
        return (f"target '{tid}' belongs to target set '{ids[tid]}', which is not in run.target_sets "
                f"(expected a target of {', '.join(target_sets)})")
    hint = did_you_mean(tid, chosen) or " (see `python -m sim targets` for the ids)"
    return f"unknown target id '{tid}'{hint}"


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


def format_loc(loc: Loc) -> str:
    """``("run", "target_sets", 1)`` -> ``run.target_sets[1]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if re.match(r"^[A-Za-z0-9_-]+$", str(part)) else f'"{part}"'
            out += ("." if out else "") + key
    return out


def describe(value: Any) -> str:
    """How a TOML value is named in messages: ``string 'many'``, ``integer 5``, ``table``."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if isinstance(value, (list, tuple)):
        return f"array of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "table"
    if hasattr(value, "isoformat"):
        return f"date-time {value.isoformat()}"
    return type(value).__name__


_TYPE_WORDS = {
    "int": "integer", "float": "number", "bool": "boolean (true or false)", "string": "string",
    "list": "array", "tuple": "array", "dict": "table", "model": "table", "model_attributes": "table",
}


def translate(model: type[BaseModel], err: dict, prefix: Loc) -> tuple[Loc, str]:
    """One pydantic error -> (key path, our message). Never shows pydantic's text for known types."""
    kind, value = err["type"], err.get("input")
    loc = tuple(err["loc"])
    is_key = bool(loc) and loc[-1] == "[key]"
    if is_key:
        loc = loc[:-1]
    node = _node(model, loc)
    full = prefix + loc

    if kind == "extra_forbidden":
        parent = _node(model, loc[:-1])
        fields = parent[0].model_fields if parent and _is_model(parent[0]) else {}
        return full, _unknown_key(loc[-1], fields)
    if kind == "missing":
        return full, f"missing required key (expected {_expected(node)})"
    if is_key:
        if kind == "string_pattern_mismatch":
            return full, f"invalid name (expected [a-z][a-z0-9_]*, got '{value}')"
        return full, f"invalid year (expected a year from {YEAR_MIN} to {YEAR_MAX} as key, got '{value}')"
    if kind.endswith("_type") or kind in ("int_from_float", "int_parsing", "float_parsing", "bool_parsing"):
        word = _TYPE_WORDS.get(kind.removesuffix("_type").removesuffix("_parsing"), None)
        if kind == "int_from_float":
            word = "integer"
        return full, f"wrong type (expected {word or _expected(node)}, got {describe(value)})"
    if kind == "literal_error":
        choices = [str(c) for c in get_args(node[0])] if node and get_origin(node[0]) is Literal else []
        what = "unknown driver" if full and full[-1] == "driver" else "unknown value"
        shown = f"'{value}'" if isinstance(value, str) else describe(value)
        hint = did_you_mean(value, choices).strip()[1:-1] if isinstance(value, str) else ""
        hint = f"{hint} " if hint else ""
        return full, f"{what} {shown} ({hint}expected one of {', '.join(choices)})"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return full, f"out of range (expected {_bounds(node) or _ctx_bound(err)}, got {_num(value)})"
    if kind == "too_short":
        return full, f"empty (expected at least {err['ctx'].get('min_length', 1)} item)"
    if kind == "string_too_short":
        return full, "empty (expected a non-empty text)"
    if kind == "value_error":
        return full, str(err.get("ctx", {}).get("error", err["msg"]))
    return full, err["msg"]  # our own PydanticCustomError messages (one_of, unknown_target_set, ...)


def _unknown_key(key: Any, fields: Mapping[str, Any]) -> str:
    hint = did_you_mean(key, fields)
    if not hint and fields:
        hint = f" (expected one of {', '.join(fields)})"
    return f"unknown key{hint}"


def _num(value: Any) -> str:
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else describe(value)


def _ctx_bound(err: dict) -> str:
    ctx = err.get("ctx", {})
    for key, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if key in ctx:
            return f"{op} {ctx[key]}"
    return "a value in range"


def _fmt_bound(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def _bounds(node) -> str:
    if not node:
        return ""
    lo = hi = None
    for m in node[1]:
        if isinstance(m, at.Ge):
            lo = f"{_fmt_bound(m.ge)} <= value"
        elif isinstance(m, at.Gt):
            lo = f"{_fmt_bound(m.gt)} < value"
        elif isinstance(m, at.Le):
            hi = f"<= {_fmt_bound(m.le)}"
        elif isinstance(m, at.Lt):
            hi = f"< {_fmt_bound(m.lt)}"
    if lo and hi:
        return f"{lo} {hi}"
    if lo:  # "0 <= value" -> "value >= 0"
        bound, op, _ = lo.split(" ")
        return f"value {'>=' if op == '<=' else '>'} {bound}"
    if hi:
        return f"value {hi}"
    return ""


def _expected(node) -> str:
    if not node:
        return "a value"
    t = node[0]
    if _is_model(t):
        return "a table"
    if get_origin(t) is Literal:
        return "one of " + ", ".join(map(str, get_args(t)))
    if get_origin(t) in (tuple, list):
        return "an array"
    if get_origin(t) is dict:
        return "a table"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(t, "a value")


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _strip(t: Any) -> tuple[Any, list]:
    """Unwrap Annotated[...] and Optional[...]; return the bare type and collected constraints."""
    meta: list = []
    while True:
        origin = get_origin(t)
        if origin is Annotated:
            base, *extra = get_args(t)
            for e in extra:
                meta.extend(e.metadata if isinstance(e, FieldInfo) else [e])
            t = base
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in get_args(t) if a is not type(None)]
            if len(args) != 1:
                return t, meta
            t = args[0]
        else:
            return t, meta


def _node(model: type[BaseModel], loc: Loc):
    """The (type, constraints) found at ``loc`` inside ``model``, or None."""
    t: Any = model
    meta: list = []
    for part in loc:
        t, m = _strip(t)
        if _is_model(t):
            field = t.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            t, meta = field.annotation, list(field.metadata)
            continue
        origin = get_origin(t)
        if origin is tuple and isinstance(part, int):
            t, meta = get_args(t)[0], []
        elif origin is dict:
            t, meta = get_args(t)[1], []
        else:
            return None
    t, m = _strip(t)
    return t, meta + m


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
