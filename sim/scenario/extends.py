"""``extends``: each scenario's chain of parents, the merge of its entries, and fitting a merged
scenario into another window of years.

A scenario inherits everything from its parent, then overrides — lever tables merge key by key
(a lever's ``path`` / ``programme_units`` is one value and is replaced whole; choosing ``path``
drops an inherited ``shift_pp`` and vice versa, likewise ``programme_units`` /
``units_per_year``); ``shocks`` are the parent's followed by the child's; ``target_values`` merge
by id; ``plan_record`` is the last one set (default true). ``description`` and ``label_zh``
belong to each scenario and are not inherited.

Every merged value remembers where it was written (``origin``), so a problem found in the
resolved scenario is reported at the key of the file that holds the offending value.

A whole file can build on another one (:func:`expand_file_extends`): a top-level
``extends = "baseline_2020.toml"`` (a path relative to the file's folder) takes that file's
``[run]``, ``[output]`` and scenarios; ``extends = "baseline_2020.toml#low_carbon"`` takes only
that scenario, the scenarios it extends and the baseline. The file's own ``[run]`` and
``[output]`` keys override the parent's one by one; its scenarios come after the parent's, and
one of the same name replaces the parent's whole table; its ``[sweep]`` replaces the parent's
(which is kept only when its scenario is kept).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Mapping, TypeAlias

from sim.errors import Problem, ProblemList, did_you_mean
from sim.scenario.messages import Loc
from sim.scenario.base import BASELINE, YEAR_MAX, YEAR_MIN
from sim.scenario.spec import ScenarioEntry
from sim.vocabulary import LEVER_DRIVERS

#: ``{key path in the merged scenario: (scenario that wrote it, key path there)}``.
Origin: TypeAlias = dict[Loc, tuple[str, Loc]]
Issue: TypeAlias = tuple[Loc, str]

# Pairs where choosing one drops the other inherited through `extends`.
_EXCLUSIVE = {"path": ("shift_pp", "from_year", "to_year"), "shift_pp": ("path",),
              "programme_units": ("units_per_year",), "units_per_year": ("programme_units",)}


# --------------------------------------------------------------------------------------------
# Chains
# --------------------------------------------------------------------------------------------
def _parents(entries: Mapping[str, ScenarioEntry | None], raw_entries: Mapping[str, Any]
             ) -> dict[str, str | None]:
    """Each scenario's ``extends`` (from the raw table when the entry did not validate)."""
    parent: dict[str, str | None] = {}
    for name, value in raw_entries.items():
        entry = entries.get(name)
        if entry is not None:
            ext = entry.extends
        else:
            ext = value.get("extends") if isinstance(value, dict) else None
        parent[name] = ext if isinstance(ext, str) else None
    return parent


def _chain(name: str, parent: Mapping[str, str | None]
           ) -> tuple[list[str] | None, list[str] | None]:
    """``(chain [name, parent, ...], None)``; ``(None, cycle)`` for a cycle; ``(None, None)``
    for a chain that reaches an unknown scenario."""
    chain = [name]
    while True:
        ext = parent.get(chain[-1])
        if ext is None:
            return chain, None
        if ext not in parent:
            return None, None
        if ext in chain:
            return None, chain[chain.index(ext):] + [ext]
        chain.append(ext)


def chains(entries: Mapping[str, ScenarioEntry | None], raw_entries: Mapping[str, Any]
           ) -> tuple[dict[str, list[str] | None], list[Issue]]:
    """Each scenario's extends chain ``[self, parent, ...]`` (None when it is broken), and the
    problems found: a baseline that extends, an unknown parent, a cycle (reported once)."""
    parent = _parents(entries, raw_entries)
    issues: list[Issue] = []
    if parent.get(BASELINE):
        issues.append((("scenarios", BASELINE, "extends"),
                       "the baseline cannot extend another scenario (expected no extends)"))
    for name, ext in parent.items():
        if ext is not None and ext not in parent:
            hint = did_you_mean(ext, parent) or f" (expected one of {', '.join(parent)})"
            issues.append((("scenarios", name, "extends"), f"unknown scenario '{ext}'{hint}"))
    out: dict[str, list[str] | None] = {}
    reported: set[frozenset] = set()
    for name in parent:
        out[name], cycle = _chain(name, parent)
        if cycle is not None and cycle[0] == name and frozenset(cycle) not in reported:
            reported.add(frozenset(cycle))
            issues.append((("scenarios", name, "extends"),
                           f"extends cycle {' → '.join(cycle)} (expected a chain ending at a "
                           f"scenario without extends)"))
    return out, issues


# --------------------------------------------------------------------------------------------
# Merging
# --------------------------------------------------------------------------------------------
def _merge_levers(name: str, entry: ScenarioEntry, levers: dict[str, dict], origin: Origin
                  ) -> None:
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


def merge(chain: list[tuple[str, ScenarioEntry]]) -> tuple[dict[str, Any], Origin]:
    """Merge entries root-first; return the merged scenario dict and where each value came
    from."""
    levers: dict[str, dict] = {}
    shocks: list = []
    target_values: dict[str, float] = {}
    origin: Origin = {}
    plan_record = True
    for name, entry in chain:
        _merge_levers(name, entry, levers, origin)
        if entry.plan_record is not None:
            plan_record = entry.plan_record
            origin[("plan_record",)] = (name, ("plan_record",))
        for j, shock in enumerate(entry.shocks):
            origin[("shocks", len(shocks))] = (name, ("shocks", j))
            shocks.append(shock)
        for tid, value in entry.target_values.items():
            target_values[tid] = value
            origin[("target_values", tid)] = (name, ("target_values", tid))
    last = chain[-1][1]
    levers = {d: levers[d] for d in LEVER_DRIVERS if d in levers}  # canonical order
    merged = {"description": last.description, "label_zh": last.label_zh,
              "levers": levers, "shocks": tuple(shocks), "target_values": target_values,
              "plan_record": plan_record}
    return merged, origin


def origin_of(name: str, loc: Loc, origin: Origin, msg: str) -> Issue:
    """Report a problem of a resolved scenario where the offending value was written."""
    for cut in range(len(loc), 0, -1):
        if loc[:cut] in origin:
            src, src_loc = origin[loc[:cut]]
            return ("scenarios", src) + src_loc + loc[cut:], msg
    return ("scenarios", name) + loc, msg


# --------------------------------------------------------------------------------------------
# Another window of years
# --------------------------------------------------------------------------------------------
def window(as_of: Any, horizon: Any) -> tuple[int, int] | None:
    """(as_of, horizon) when both are plausible years with as_of < horizon, else None."""
    ok = all(isinstance(y, int) and not isinstance(y, bool) and YEAR_MIN <= y <= YEAR_MAX
             for y in (as_of, horizon))
    return (as_of, horizon) if ok and as_of < horizon else None


def _clip_lever(fields: dict, as_of: int, horizon: int) -> dict | None:
    """One lever's fields fitted into ``(as_of, horizon]``; None when no year is left."""
    fields = dict(fields)
    if "from_year" in fields:
        fields["from_year"] = max(fields["from_year"], as_of + 1)
    if "to_year" in fields:
        fields["to_year"] = min(fields["to_year"], horizon)
    if "shift_pp" in fields and fields.get("from_year", as_of + 1) > fields.get("to_year", horizon):
        return None
    for key in ("path", "programme_units"):
        if key in fields:
            fields[key] = {y: v for y, v in fields[key].items() if as_of < y <= horizon}
            if not fields[key]:
                return None
    return fields


def clip(merged: dict[str, Any], as_of: int, horizon: int) -> dict[str, Any]:
    """Fit a scenario written for one window into another (as_of/horizon overridden).

    What falls at or before the new as_of is history by then, what falls after the new horizon
    is not simulated: lever years are clipped, path / programme years and shocks outside the
    window dropped, and a lever left with no year removed.
    """
    levers = {}
    for driver, fields in merged["levers"].items():
        clipped = _clip_lever(fields, as_of, horizon)
        if clipped is not None:
            levers[driver] = clipped
    shocks = tuple(s for s in merged["shocks"] if as_of < s.year <= horizon)
    return {**merged, "levers": levers, "shocks": shocks}


# --------------------------------------------------------------------------------------------
# A file that extends another file
# --------------------------------------------------------------------------------------------
#: ``extends`` of a whole file: ``other.toml`` or ``other.toml#scenario``
FILE_EXTENDS = re.compile(r"^(?P<file>[^#]+\.toml)(?:#(?P<name>[a-z][a-z0-9_]*))?$")
#: most files in one chain of file ``extends`` (a.toml → b.toml → …)
MAX_FILE_DEPTH = 8
_EXAMPLE = ('(expected the path of a scenario file relative to this file\'s folder, e.g. '
            '"baseline_2020.toml" or "../scenarios/baseline_2020.toml#low_carbon")')


def expand_file_extends(raw: dict, path: str | Path, read_toml: Callable[[Path, str], dict],
                        check: Callable[[Path], object] | None = None,
                        _chain: tuple[Path, ...] = ()) -> dict:
    """``raw`` (a scenario file's TOML document) with its top-level ``extends`` expanded.

    ``read_toml(path, name)`` reads a parent's TOML; ``check(path)``, when given, validates the
    parent as a file of its own first, so that its problems name it (called once the whole
    chain is known to end). Raises :class:`~sim.errors.ProblemList` (``FILE: extends: …``) for
    a value that is not a file name, a file that cannot be read, an unknown scenario, a cycle
    or a chain longer than :data:`MAX_FILE_DEPTH`.
    """
    if "extends" not in raw:
        return raw
    path = Path(path)
    here = str(path)
    chain = _chain + (path.resolve(),)
    value = raw["extends"]
    m = FILE_EXTENDS.match(value) if isinstance(value, str) else None
    if m is None:
        raise ProblemList([Problem(here, "extends", f"{value!r} is not a scenario file {_EXAMPLE}")])
    parent = path.parent / m.group("file")
    if parent.resolve() in chain:
        names = " → ".join(p.name for p in chain + (parent.resolve(),))
        raise ProblemList([Problem(here, "extends", f"files extend each other in a cycle: {names} "
                                                    "(expected a chain ending at a file without "
                                                    "extends)")])
    if len(chain) >= MAX_FILE_DEPTH:
        raise ProblemList([Problem(here, "extends", f"more than {MAX_FILE_DEPTH} files extend "
                                                    "one another (expected a shorter chain)")])
    if not parent.is_file():
        raise ProblemList([Problem(here, "extends", f"cannot read '{m.group('file')}' (no such "
                                                    f"file: {parent}) {_EXAMPLE}")])
    base = expand_file_extends(read_toml(parent, str(parent)), parent, read_toml, None, chain)
    if check is not None:
        check(parent)
    return _merge_files(base, {k: v for k, v in raw.items() if k != "extends"}, m.group("name"),
                        here, str(parent.resolve()))


def _kept(scenarios: dict, name: str | None, here: str, parent: str) -> dict:
    """The parent's scenarios a child takes: all, or ``name``, its ``extends`` chain and the
    baseline."""
    if name is None:
        return dict(scenarios)
    if name not in scenarios:
        hint = did_you_mean(name, scenarios) or f" (expected one of {', '.join(scenarios)})"
        raise ProblemList([Problem(here, "extends", f"no scenario '{name}' in {parent}{hint}")])
    keep = {BASELINE, name}
    while isinstance(scenarios.get(name), dict) and isinstance(scenarios[name].get("extends"), str):
        name = scenarios[name]["extends"]
        if name in keep:
            break
        keep.add(name)
    return {k: v for k, v in scenarios.items() if k in keep}


def _merge_files(base: dict, child: dict, name: str | None, here: str, parent: str) -> dict:
    """The parent document ``base`` overridden by ``child`` (see the module docstring)."""
    out = {k: v for k, v in base.items() if k not in ("scenarios", "sweep")}
    found = base.get("scenarios")
    scenarios = _kept(found if isinstance(found, dict) else {}, name, here, parent)
    for key, value in child.items():
        if key in ("run", "output") and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        elif key == "scenarios" and isinstance(value, dict):
            scenarios.update(value)
        else:
            out[key] = value
    out["scenarios"] = scenarios
    sweep = base.get("sweep")
    if "sweep" not in child and isinstance(sweep, dict) and sweep.get("scenario") in scenarios:
        out["sweep"] = sweep
    return out
