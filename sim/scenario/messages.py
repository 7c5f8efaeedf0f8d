"""The text of scenario-file problems: key paths, values as TOML names them, pydantic errors.

Every problem reads ``FILE: key.path: what is wrong (expected …, got …)``. :func:`translate`
turns one pydantic error into such a message, finding the expected type and bounds in the
model's own annotations (:func:`sim.scenario.spec` models), so pydantic's own wording never
reaches the user for the types a scenario file has.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Annotated, Any, Literal, Mapping, TypeAlias, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from sim.bounds import fmt_number
from sim.errors import did_you_mean
from sim.scenario.base import YEAR_MAX, YEAR_MIN

Loc: TypeAlias = tuple  # key path: ("scenarios", "baseline", "shocks", 0, "year")
Node: TypeAlias = "tuple[Any, list] | None"   # (type, constraints) at a key path


def printable(text: str) -> str:
    """``text`` with every character that is not printable (control characters, line and
    paragraph separators) written as an escape, so one problem stays one line of output."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else
                   (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}") for c in text)


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


def unknown_key(key: Any, fields: Mapping[str, Any]) -> str:
    """``unknown key (did you mean 'x'?)``, else the keys expected there."""
    hint = did_you_mean(key, fields)
    if not hint and fields:
        hint = f" (expected one of {', '.join(fields)})"
    return f"unknown key{hint}"


# --------------------------------------------------------------------------------------------
# pydantic errors
# --------------------------------------------------------------------------------------------
_TYPE_WORDS = {
    "int": "integer", "float": "number", "bool": "boolean (true or false)", "string": "string",
    "list": "array", "tuple": "array", "dict": "table", "model": "table",
    "model_attributes": "table",
}
_TYPE_ERRORS = ("int_from_float", "int_parsing", "float_parsing", "bool_parsing")
_RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


def translate(model: type[BaseModel], err: ErrorDetails | dict, prefix: Loc) -> tuple[Loc, str]:
    """One pydantic error -> (key path, our message). Never shows pydantic's text for known
    types."""
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
        return full, unknown_key(loc[-1], fields)
    if kind == "missing":
        return full, f"missing required key (expected {_expected(node)})"
    if is_key:
        return full, _key_message(kind, value)
    if kind.endswith("_type") or kind in _TYPE_ERRORS:
        return full, _type_message(kind, value, node)
    if kind == "literal_error":
        return full, _literal_message(full, value, node)
    if kind in _RANGE_ERRORS:
        return full, f"out of range (expected {_bounds(node) or _ctx_bound(err)}, got {_num(value)})"
    if kind == "finite_number":
        return full, (f"not a finite number (expected {_bounds(node) or 'a finite number'}, "
                      f"got {_num(value)})")
    return full, _other_message(kind, err)


def _key_message(kind: str, value: Any) -> str:
    """A table key that is not a valid name or year."""
    if kind == "string_pattern_mismatch":
        return f"invalid name (expected [a-z][a-z0-9_]*, got '{value}')"
    return f"invalid year (expected a year from {YEAR_MIN} to {YEAR_MAX} as key, got '{value}')"


def _type_message(kind: str, value: Any, node: Node) -> str:
    """A value of the wrong TOML type."""
    word = _TYPE_WORDS.get(kind.removesuffix("_type").removesuffix("_parsing"), None)
    if kind == "int_from_float":
        word = "integer"
    return f"wrong type (expected {word or _expected(node)}, got {describe(value)})"


def _literal_message(full: Loc, value: Any, node: Node) -> str:
    """A value that is not one of the allowed choices (with the closest one)."""
    choices = ([str(c) for c in get_args(node[0])]
               if node and get_origin(node[0]) is Literal else [])
    what = "unknown driver" if full and full[-1] == "driver" else "unknown value"
    shown = f"'{value}'" if isinstance(value, str) else describe(value)
    hint = did_you_mean(value, choices).strip()[1:-1] if isinstance(value, str) else ""
    hint = f"{hint} " if hint else ""
    return f"{what} {shown} ({hint}expected one of {', '.join(choices)})"


def _other_message(kind: str, err: ErrorDetails | dict) -> str:
    """Empty values, our own validators' errors, and our PydanticCustomError messages."""
    if kind == "too_short":
        return f"empty (expected at least {err['ctx'].get('min_length', 1)} item)"
    if kind == "string_too_short":
        return "empty (expected a non-empty text)"
    if kind == "string_too_long":
        n = len(err["input"]) if isinstance(err.get("input"), str) else "more"
        return (f"too long (expected at most {err['ctx'].get('max_length')} characters, "
                f"got {n})")
    if kind == "too_long":
        return f"too many items (expected at most {err['ctx'].get('max_length')})"
    if kind == "value_error":
        return str(err.get("ctx", {}).get("error", err["msg"]))
    return err["msg"]  # our own PydanticCustomError messages (one_of, unknown_target_set, ...)


def _num(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return describe(value)


def _ctx_bound(err: ErrorDetails | dict) -> str:
    ctx = err.get("ctx", {})
    for key, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if key in ctx:
            return f"{op} {fmt_number(ctx[key])}"
    return "a value in range"


def _fmt_bound(x: Any) -> str:
    return fmt_number(x)


def _bounds(node: Node) -> str:
    """``0 <= value <= 1``, ``value >= 0``, ... from the constraints at a key path."""
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


def _expected(node: Node) -> str:
    """What is expected at a key path, in words: ``a table``, ``an integer``, ..."""
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
    words = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    return words.get(t, "a value")


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


def _node(model: type[BaseModel], loc: Loc) -> Node:
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
