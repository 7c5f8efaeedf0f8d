"""The building blocks of every scenario spec: strict scalar types, years, names, the base model.

TOML is typed, so the scalar types are strict: ``"5"`` is not an integer and ``true`` is not
``1``; numbers are finite and in the plausible ranges of :mod:`sim.bounds`. Every spec model
is frozen and forbids unknown keys.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field, Strict, StringConstraints
from pydantic_core import PydanticCustomError

from sim.bounds import YEAR

YEAR_MIN, YEAR_MAX = int(YEAR.lo or 0), int(YEAR.hi or 0)
BASELINE = "baseline"
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"

StrictInt = Annotated[int, Strict()]
StrictFloat = Annotated[float, Strict()]  # accepts TOML integers too
#: A strict float that is not NaN or infinite (TOML's ``nan``/``inf`` are refused); constrain it
#: further with ``Annotated[FiniteFloat, Field(**RANGE.constraints())]`` (:mod:`sim.bounds`).
FiniteFloat = Annotated[float, Strict(), AllowInfNan(False)]
StrictBool = Annotated[bool, Strict()]
StrictStr = Annotated[str, Strict()]
Year = Annotated[int, Strict(), Field(**YEAR.constraints())]
# Year keys of a TOML table are strings ("2016"); they are parsed to integers.
YearKey = Annotated[int, Field(**YEAR.constraints())]
ScenarioName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]

#: JSON Schema of a table keyed by year.
YEAR_KEYS: dict = {"propertyNames": {"pattern": r"^[0-9]{4}$"}}


class Spec(BaseModel):
    """Base of every spec model: frozen, unknown keys forbidden."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def one_of(model: BaseModel, a: str, b: str) -> None:
    """Raise the ``one_of`` error unless exactly one of the fields ``a`` and ``b`` is set."""
    has_a, has_b = getattr(model, a) is not None, getattr(model, b) is not None
    if has_a and has_b:
        raise PydanticCustomError("one_of", "give either {a} or {b}, not both (expected exactly one)",
                                  {"a": a, "b": b})
    if not has_a and not has_b:
        raise PydanticCustomError("one_of", "give {a} or {b} (expected exactly one)",
                                  {"a": a, "b": b})
