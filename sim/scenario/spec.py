"""Scenario specs: immutable, validated objects for everything a scenario file can say.

Two layers of models live here:

* the **file form** (:class:`ScenarioDocument`, :class:`ScenarioEntry`, with the levers of
  :mod:`sim.scenario.levers`) mirrors a TOML scenario file as written — with ``extends`` and
  optional keys — and is what the published JSON Schema describes;
* the **resolved form** (:class:`ScenarioFile`, :class:`ScenarioSpec`) is what the engine uses:
  ``extends`` expanded, defaults filled, every scenario complete and independent.

Rules that need more than one value (``as_of < horizon``, lever years inside
``(as_of, horizon]``) are plain functions returning ``(key path, message)`` pairs, so that the
reader (:mod:`sim.scenario.read`) can report every problem of a file at once; the resolved
models call them too, so an inconsistent spec cannot be built in code either.

Reading is in :mod:`sim.scenario.read`, ``extends`` in :mod:`sim.scenario.extends`, the text of
problems in :mod:`sim.scenario.messages`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, Field, Strict, field_validator, model_validator
from pydantic_core import PydanticCustomError

from sim.bounds import (BLOCK_SIZE, DRAWS, PROGRAMME_UNITS, QUANTILE, SEED, SHIFT_PP,
                        TARGET_VALUE, Range)
from sim.scenario.base import (BASELINE, FiniteFloat, ScenarioName, Spec, StrictBool, StrictStr,
                               Year)
from sim.scenario.levers import (LEVER_MODELS, RATE_DRIVERS, FxLever, Lever, Levers, RateLever,
                                 Shock)
from sim.vocabulary import TARGET_SETS

VINTAGES: tuple[str, ...] = ("first", "revised")
TableFormat = Literal["csv", "md", "xlsx", "html"]
TABLE_FORMATS: tuple[TableFormat, ...] = ("csv", "md", "xlsx", "html")
DEFAULT_QUANTILES: tuple[float, ...] = (0.025, 0.1, 0.5, 0.9, 0.975)
DEFAULT_BLOCK_SIZE = 10_000
#: Longest ``description`` and ``label_zh`` (characters): a description is a sentence or two; a
#: 52 MB one made a 104 MB report.
DESCRIPTION_MAX, LABEL_MAX = 5_000, 200

Seed = Annotated[int, Strict(), Field(**SEED.constraints())]


# --------------------------------------------------------------------------------------------
# [run] and [output]
# --------------------------------------------------------------------------------------------


def run_issues(as_of: int, horizon: int) -> list[tuple[tuple, str]]:
    """Cross-field problems of ``[run]`` as ``(key path, message)``."""
    if as_of >= horizon:
        word = "after" if as_of > horizon else "equal to"
        return [(("run", "as_of"),
                 f"as_of {as_of} is {word} horizon {horizon} (expected as_of < horizon)")]
    return []


def _check_target_set(name: str) -> str:
    if name not in TARGET_SETS:
        raise PydanticCustomError(
            "unknown_target_set",
            "unknown target set '{name}' (expected one of {choices})",
            {"name": name, "choices": ", ".join(sorted(TARGET_SETS))},
        )
    return name


TargetSetName = Annotated[str, Strict(), AfterValidator(_check_target_set)]


class RunSpec(Spec):
    """Run settings shared by every scenario of the file (运行设置)."""

    as_of: Year = Field(description="Information set: only data for years <= as_of are used "
                                    "(calibration and start of simulation).")
    horizon: Year = Field(description="Last simulated year; must be after as_of.")
    draws: Annotated[int, Strict(), Field(**DRAWS.constraints())] = Field(
        description="Number of Monte Carlo draws.")
    seed: Seed = Field(
        description="Random seed, 0 <= seed < 2**64; the same seed gives the same results.")
    target_sets: Annotated[tuple[TargetSetName, ...], Field(min_length=1)] = Field(
        description="Target sets to evaluate: "
                    + "; ".join(f"{k} = {v}" for k, v in TARGET_SETS.items()))
    vintage: Literal["first", "revised"] = Field(
        "revised", description="GDP vintage used for calibration: 'first' (initial release) or "
                               "'revised' (latest revision).")
    parameter_uncertainty: StrictBool = Field(
        True, description="Draw model parameters afresh for every draw (true) or use point "
                          "estimates (false).")
    correlated_shocks: StrictBool = Field(
        True, description="Correlate the yearly shocks across drivers as estimated from history.")
    block_size: Annotated[int, Strict(), Field(**BLOCK_SIZE.constraints())] = Field(
        DEFAULT_BLOCK_SIZE, description="Draws per random-number block; results do not depend on it "
                                        "beyond the seed stream layout.")
    ensemble_float64: StrictBool = Field(
        False, description="Store every draw in ensemble.nc as float64 (default float32: half "
                           "the size; probabilities are computed from float64 draws either way).")

    @field_validator("target_sets")
    @classmethod
    def _target_sets_known_and_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            dup = next(v for i, v in enumerate(value) if v in value[:i])
            raise PydanticCustomError(
                "duplicate", "target set '{name}' listed twice (expected unique names)", {"name": dup})
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "RunSpec":
        issues = run_issues(self.as_of, self.horizon)
        if issues:
            raise PydanticCustomError("inconsistent", "{msg}", {"msg": issues[0][1]})
        return self


class OutputSpec(Spec):
    """What to write into results/ (输出设置). Every key is optional."""

    summaries_only: StrictBool = Field(
        False, description="Write only summary tables, not the per-draw ensemble.")
    quantiles: tuple[Annotated[FiniteFloat, Field(**QUANTILE.constraints())], ...] = Field(
        DEFAULT_QUANTILES, description="Quantiles reported for every simulated indicator; each in "
                                       "(0, 1), strictly increasing.")
    figures: StrictBool = Field(True, description="Draw figures (fan charts, probability bars).")
    table_formats: tuple[TableFormat, ...] = Field(
        TABLE_FORMATS, description="Table formats to write: any of csv, md, xlsx, html."
    )

    @field_validator("quantiles")
    @classmethod
    def _increasing(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        for a, b in zip(value, value[1:]):
            if not a < b:
                raise PydanticCustomError(
                    "not_increasing", "quantiles must be strictly increasing (got {a} then {b})",
                    {"a": a, "b": b})
        return value

    @field_validator("table_formats")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise PydanticCustomError(
                "duplicate", "table format listed twice (expected unique names)", {})
        return value


TargetValues = dict[StrictStr, Annotated[FiniteFloat, Field(**TARGET_VALUE.constraints())]]
_TARGET_VALUES = (
    "Fill or override target values by target id (see `python -m sim targets`), "
    "e.g. a blank binding target given its provincial allocation. Value in the target's unit."
)
#: at most this many characters of source text per target value
SOURCE_MAX = 500
TargetValueSources = dict[StrictStr, Annotated[StrictStr, Field(min_length=1, max_length=SOURCE_MAX)]]
_TARGET_VALUE_SOURCES = (
    "Where each value of target_values comes from (document, table, page), by target id. Shown "
    "next to the value in every table, so a scenario's value is never taken for the plan's; a "
    "value without one is marked 'no source given'. A source applies to the value written in "
    "the same scenario: overriding an inherited value drops the parent's source."
)

# --------------------------------------------------------------------------------------------
# Lever sweeps ([sweep])
# --------------------------------------------------------------------------------------------

#: Lever values a sweep (or ``sim solve``) can vary: ``"<driver>.<field>"``.
SWEEP_PATHS: tuple[str, ...] = (tuple(f"{d}.shift_pp" for d in RATE_DRIVERS)
                                + ("affordable_housing.units_per_year",))
SWEEP_MAX_POINTS = 10_000
#: Plausible values of each sweep path (those of the lever it sets).
SWEEP_RANGES: dict[str, Range] = {p: (PROGRAMME_UNITS if p.startswith("affordable_housing.")
                                      else SHIFT_PP) for p in SWEEP_PATHS}
#: Any sweep value: inside the union of those ranges (each path's own range is checked after).
SweepValue = Annotated[FiniteFloat, Field(
    ge=min(r.lo for r in SWEEP_RANGES.values() if r.lo is not None),
    le=max(r.hi for r in SWEEP_RANGES.values() if r.hi is not None))]
_RANGE_KEYS = ("start", "stop", "num")


class SweepRange(Spec):
    """Evenly spaced grid values: ``{ start = -2.0, stop = 0.0, num = 5 }`` (both ends included)."""

    start: SweepValue = Field(description="First value.")
    stop: SweepValue = Field(description="Last value (included).")
    num: Annotated[int, Strict(), Field(ge=2, le=1000)] = Field(
        description="Number of values, 2..1000.")

    def values(self) -> tuple[float, ...]:
        """The ``num`` values from ``start`` to ``stop`` (both included)."""
        step = (self.stop - self.start) / (self.num - 1)
        return tuple(float(self.start + i * step) for i in range(self.num - 1)) + (float(self.stop),)


SweepAxis = Union[Annotated[tuple[SweepValue, ...], Field(min_length=1)], SweepRange]


class SweepSpec(Spec):
    """A lever sweep (``python -m sim sweep FILE``): P(met) over a grid or Latin hypercube of lever values.

    Every point is the chosen scenario with the swept lever values set; all points use the same
    draws (common random numbers), so differences between points are not Monte Carlo noise.
    """

    scenario: ScenarioName = Field(
        BASELINE, description="Scenario the sweep starts from (its other levers stay as they are).")
    method: Literal["grid", "lhs"] = Field(
        "grid", description="'grid': every combination of the listed values; 'lhs': a Latin "
                            "hypercube of `points` points in the [low, high] ranges.")
    points: Annotated[int, Strict(), Field(ge=1, le=SWEEP_MAX_POINTS)] | None = Field(
        None, description=f"Number of Latin-hypercube points (method = 'lhs' only), "
                          f"1..{SWEEP_MAX_POINTS}.")
    seed: Seed | None = Field(
        None, description="Seed of the Latin-hypercube design (default: run.seed); the Monte Carlo "
                          "draws always use run.seed.")
    levers: dict[str, SweepAxis] = Field(
        description=(
            'Lever values by lever path "<driver>.<field>", e.g. "energy_intensity.shift_pp" = '
            "[-2.0, -1.0, 0.0] or { start = -2.0, stop = 0.0, num = 5 } (grid); [low, high] (lhs). "
            "Paths: " + ", ".join(SWEEP_PATHS)
        ),
        json_schema_extra={"propertyNames": {"enum": list(SWEEP_PATHS)}, "minProperties": 1},
    )

    @field_validator("levers", mode="before")
    @classmethod
    def _flatten(cls, value: Any) -> Any:
        # [sweep.levers.energy_intensity] shift_pp = [...] is the same as
        # "energy_intensity.shift_pp" = [...]
        if isinstance(value, dict):
            flat = {}
            for key, sub in value.items():
                if isinstance(sub, dict) and sub and not set(sub) & set(_RANGE_KEYS):
                    for field, v in sub.items():
                        flat[f"{key}.{field}"] = v
                else:
                    flat[key] = sub
            return flat
        return value

    @field_validator("levers")
    @classmethod
    def _known_paths(cls, value: dict) -> dict:
        if not value:
            raise PydanticCustomError(
                "empty", "no lever to sweep (expected at least one lever path)", {})
        for key in value:
            if key not in SWEEP_PATHS:
                raise PydanticCustomError(
                    "unknown_lever_path", "unknown lever path '{key}' (expected one of {choices})",
                    {"key": key, "choices": ", ".join(SWEEP_PATHS)},
                )
        for key, axis in value.items():
            ends = (axis.start, axis.stop) if isinstance(axis, SweepRange) else axis
            for v in ends:
                why = SWEEP_RANGES[key].problem(v)
                if why:
                    raise PydanticCustomError("sweep_range", "{key}: {why}", {"key": key, "why": why})
        return value

    @model_validator(mode="after")
    def _method_consistent(self) -> "SweepSpec":
        if self.method == "lhs":
            if self.points is None:
                raise PydanticCustomError(
                    "lhs_points", "method 'lhs' needs points (expected an integer >= 1)", {})
            for key, axis in self.levers.items():
                if isinstance(axis, SweepRange) or len(axis) != 2 or not axis[0] < axis[1]:
                    raise PydanticCustomError(
                        "lhs_range",
                        "levers.{key}: method 'lhs' needs a range [low, high] with low < high",
                        {"key": key})
        else:
            if self.points is not None:
                raise PydanticCustomError(
                    "grid_points",
                    "points applies only to method 'lhs' (a grid has one point per combination)", {})
            n = 1
            for axis in self.axes().values():
                n *= len(axis)
            if n > SWEEP_MAX_POINTS:
                raise PydanticCustomError(
                    "too_many", "the grid has {n} points (expected at most {max})",
                    {"n": n, "max": SWEEP_MAX_POINTS})
        return self

    def axes(self) -> dict[str, tuple[float, ...]]:
        """Grid values of each lever path (for lhs: the [low, high] range)."""
        return {k: (a.values() if isinstance(a, SweepRange) else tuple(float(v) for v in a))
                for k, a in self.levers.items()}


# --------------------------------------------------------------------------------------------
# File form
# --------------------------------------------------------------------------------------------


class ScenarioEntry(Spec):
    """One scenario as written in the file (may inherit from another with ``extends``)."""

    extends: ScenarioName | None = Field(
        None, description="Name of another scenario of this file to inherit everything from; keys "
                          "given here override.")
    description: Annotated[str, Strict(), Field(min_length=1, max_length=DESCRIPTION_MAX)] = Field(
        description=f"What this scenario assumes, in plain language (at most {DESCRIPTION_MAX} "
                    f"characters).")
    label_zh: Annotated[StrictStr, Field(max_length=LABEL_MAX)] | None = Field(
        None, description=f"Short Chinese label for tables and figures (中文名称, at most "
                          f"{LABEL_MAX} characters).")
    levers: Levers = Field(
        default_factory=Levers,
        description="Policy levers: [scenarios.NAME.levers.DRIVER] tables; a driver without one "
                    "follows its calibrated trend.",
    )
    shocks: tuple[Shock, ...] = Field((), description="One-off shocks ([[scenarios.NAME.shocks]] tables).")
    target_values: TargetValues = Field(default_factory=dict, description=_TARGET_VALUES)
    target_value_sources: TargetValueSources = Field(default_factory=dict,
                                                     description=_TARGET_VALUE_SOURCES)
    plan_record: StrictBool | None = Field(
        None, description="Use the record of past plans (default true): false asks the pure "
                          "'trends continue' question (probability = p_trend).")

    @field_validator("description")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError(
                "blank", "description is blank (expected a non-empty text)", {})
        return value


class ScenarioDocument(Spec):
    """A scenario file: run settings shared by every scenario, output options, then a baseline and alternatives."""  # noqa: E501 (the schema's text)

    extends: StrictStr | None = Field(
        None, description='Another scenario file this one builds on, relative to this file: '
                          '"baseline_2020.toml" (its [run], [output] and scenarios) or '
                          '"baseline_2020.toml#low_carbon" (that scenario, its parents and the '
                          'baseline); keys given here override.')
    run: RunSpec = Field(
        description="[run]: as_of, horizon, draws, seed, target sets — shared by every scenario.")
    output: OutputSpec = Field(
        default_factory=OutputSpec, description="[output]: what to write; every key optional.")
    scenarios: dict[ScenarioName, ScenarioEntry] = Field(
        description="Scenarios by name ([a-z][a-z0-9_]*); 'baseline' is required, the others "
                    "usually extend it.",
        json_schema_extra={"required": [BASELINE], "additionalProperties": False},
    )
    sweep: SweepSpec | None = Field(
        None, description="[sweep]: optional lever sweep for `python -m sim sweep` (grid or Latin "
                          "hypercube of lever values).")


# --------------------------------------------------------------------------------------------
# Resolved form
# --------------------------------------------------------------------------------------------


Issue = tuple[tuple, str]   # (key path, message)


def _outside(loc: tuple, year: int, what: str, as_of: int, horizon: int) -> list[Issue]:
    """The problem of a year outside ``(as_of, horizon]``, if it is."""
    if as_of < year <= horizon:
        return []
    window = f"expected {as_of} < year <= {horizon}, i.e. after as_of and up to horizon"
    return [(loc, f"{what} {year} is outside the simulated years {as_of + 1}–{horizon} ({window})")]


def _shift_issues(base: tuple, lever: RateLever | FxLever, as_of: int, horizon: int) -> list[Issue]:
    """``from_year`` / ``to_year`` of a shift: inside the window and in order."""
    issues: list[Issue] = []
    for key in ("from_year", "to_year"):
        year = getattr(lever, key)
        if year is not None:
            issues += _outside(base + (key,), year, key, as_of, horizon)
    if (not issues and lever.from_year is not None and lever.to_year is not None
            and lever.from_year > lever.to_year):
        issues.append((base + ("to_year",), f"to_year {lever.to_year} is before from_year "
                                            f"{lever.from_year} (expected from_year <= to_year)"))
    return issues


def scenario_issues(scenario: "ScenarioSpec", as_of: int, horizon: int) -> list[Issue]:
    """Problems of a resolved scenario against the run's years, as ``(key path within the
    scenario, message)``."""
    issues: list[Issue] = []
    for driver, lever in scenario.levers.items():
        base = ("levers", driver)
        if isinstance(lever, (RateLever, FxLever)) and lever.shift_pp is not None:
            issues += _shift_issues(base, lever, as_of, horizon)
        years = getattr(lever, "path", None) or getattr(lever, "programme_units", None) or {}
        key = "path" if isinstance(lever, FxLever) else "programme_units"
        for year in years:
            issues += _outside(base + (key, str(year)), year, "year", as_of, horizon)
    for i, shock in enumerate(scenario.shocks):
        issues += _outside(("shocks", i, "year"), shock.year, "shock year", as_of, horizon)
    return issues


class ScenarioSpec(Spec):
    """One resolved scenario: complete, independent of the others (``extends`` expanded,
    defaults filled)."""

    name: ScenarioName
    description: Annotated[str, Strict(), Field(min_length=1, max_length=DESCRIPTION_MAX)]
    label_zh: Annotated[StrictStr, Field(max_length=LABEL_MAX)] | None = None
    levers: dict[str, Lever] = Field(default_factory=dict)
    shocks: tuple[Shock, ...] = ()
    target_values: TargetValues = Field(default_factory=dict)
    target_value_sources: TargetValueSources = Field(default_factory=dict)
    plan_record: StrictBool = True

    @model_validator(mode="before")
    @classmethod
    def _lever_models(cls, data: Any) -> Any:
        # Pick each lever's model by its driver (a Union alone could pick the wrong one).
        if isinstance(data, dict) and isinstance(data.get("levers"), dict):
            levers = {}
            for driver, value in data["levers"].items():
                if driver not in LEVER_MODELS:
                    raise PydanticCustomError("unknown_driver", "unknown lever driver '{d}'",
                                              {"d": driver})
                model = LEVER_MODELS[driver]
                levers[driver] = value if isinstance(value, model) else model.model_validate(value)
            data = {**data, "levers": levers}
        return data

    def lever(self, driver: str) -> Lever | None:
        """The lever on ``driver``, or None (the driver follows its calibrated trend)."""
        return self.levers.get(driver)


class ScenarioFile(Spec):
    """A resolved scenario file: the run settings, output options and every scenario (baseline
    first)."""

    path: Path | None = None
    run: RunSpec
    output: OutputSpec = Field(default_factory=OutputSpec)
    scenarios: dict[str, ScenarioSpec]
    sweep: SweepSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "ScenarioFile":
        if BASELINE not in self.scenarios or next(iter(self.scenarios)) != BASELINE:
            raise ValueError("the first scenario must be 'baseline'")
        for name, sc in self.scenarios.items():
            if sc.name != name:
                raise ValueError(f"scenario stored under '{name}' is named '{sc.name}'")
            issues = scenario_issues(sc, self.run.as_of, self.run.horizon)
            if issues:
                loc, msg = issues[0]
                raise ValueError(f"scenarios.{name}.{'.'.join(map(str, loc))}: {msg}")
        if self.sweep is not None and self.sweep.scenario not in self.scenarios:
            raise ValueError(f"sweep.scenario: unknown scenario '{self.sweep.scenario}'")
        return self

    @property
    def baseline(self) -> ScenarioSpec:
        return self.scenarios[BASELINE]
