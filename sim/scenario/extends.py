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
"""

from __future__ import annotations

from typing import Any, Mapping, TypeAlias

from sim.errors import did_you_mean
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
