"""RunContext: everything a command needs before the engine, built once per command.

``RunContext.build(path)`` loads the history once (the data directory: observations, declared
series and targets, breaks), reads the scenario file once against that history's catalogue
(with any command-line overrides; ``[target_values]`` may name a declared target), picks the
target catalogue of the file's target sets, calibrates (or reuses a cached fit of) the model on
data <= as_of, and turns every scenario into engine levers. ``run``, ``sweep``, ``solve``,
``sensitivity``, ``backtest`` and the mid-term evaluation all start from it, so they cannot
disagree about what was read.

``as_of`` has one home: ``ctx.settings.as_of``. ``build`` checks that a fitted model passed in
was calibrated at that as_of (and the same vintage), ``check_as_of`` that an ensemble was made at
it, and ``at_as_of`` makes the context of the same file at another information set (the plan's
start, for a mid-term evaluation) from the same history. With an ``as_of`` override ``build``
also reads the file at its own as_of (the plan's start); that reading is the plan-start
context's, so a mid-term evaluation reads the file once per context.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import xarray as xr

from sim.calibrate.cache import load_or_calibrate
from sim.engine.settings import RunSettings
from sim.engine.simulation import ScenarioLevers, levers_from_spec
from sim.ensemble import ensemble_facts
from sim.errors import SimError
from sim.history import History, load_history
from sim.model import FittedModel
from sim.plan_record import PlanRecordModel, fit_plan_record_model
from sim.scenario.read import load_scenario_file
from sim.scenario.spec import ScenarioFile, ScenarioSpec
from sim.targets import targets_for_sets
from sim.vocabulary import HOUSING_LEVER, Vocabulary


def base_years_needed(catalogue: pd.DataFrame, as_of: int) -> list[int]:
    """Years before ``as_of`` from which a target's window starts (its ``base_year``, or the
    year before its ``period_start``): the fitted model keeps a ``cum_from_<b>`` state for each."""
    return sorted({int(b) for b in catalogue["base_year"].dropna() if int(b) < as_of}
                  | {int(p) - 1 for p in catalogue["period_start"].dropna()
                     if int(p) - 1 < as_of})


def check_fitted(fitted: FittedModel, settings: RunSettings) -> None:
    """Refuse a fitted model calibrated at another as_of (or vintage) than the run's."""
    if int(fitted.as_of) != settings.as_of or fitted.vintage != settings.vintage:
        raise SimError(f"the fitted model was calibrated as of {fitted.as_of} "
                       f"({fitted.vintage} vintage) but the run is as of {settings.as_of} "
                       f"({settings.vintage}); calibrate at the run's as_of")


def usable_scenarios(scenarios: Mapping[str, ScenarioSpec], fitted: FittedModel
                     ) -> tuple[list[ScenarioSpec], list[str]]:
    """Scenarios without levers/shocks on drivers the fitted model could not calibrate.

    A driver with no history <= as_of is not simulated (its targets are reported not
    evaluable); a lever on it cannot act, so it is dropped with a message instead of failing
    the whole run. Returns ``(scenarios, ignored)`` with ``ignored`` a list of messages.
    """
    def available(driver: str) -> bool:
        return driver == HOUSING_LEVER or driver in fitted.drivers

    out, ignored = [], []
    for sc in scenarios.values():
        drop = [d for d in sc.levers if not available(d)]
        drop_shocks = [k for k in sc.shocks if not available(k.driver)]
        for d in drop:
            ignored.append(f"scenario '{sc.name}': lever on {d} ignored: no history of {d} "
                           f"up to as_of {fitted.as_of} to calibrate it")
        for k in drop_shocks:
            ignored.append(f"scenario '{sc.name}': shock on {k.driver} in {k.year} ignored: no "
                           f"history of {k.driver} up to as_of {fitted.as_of}")
        if drop or drop_shocks:
            sc = sc.model_copy(update={
                "levers": {d: v for d, v in sc.levers.items() if d not in drop},
                "shocks": tuple(k for k in sc.shocks if k not in drop_shocks)})
        out.append(sc)
    return out, ignored


def ignored_levers(sf: ScenarioFile, *, data_dir: str | Path | None = None,
                   cache_dir: str | Path | None = None, history: History | None = None
                   ) -> list[str]:
    """The levers and shocks of ``sf`` a run would drop for lack of history (the messages of
    :func:`usable_scenarios`), from the model a run fits at the file's as_of (cached)."""
    settings = RunSettings.from_spec(sf)
    if history is None:
        history = load_history(Path(data_dir) if data_dir else None)
    catalogue = targets_for_sets(list(sf.run.target_sets), declarations=history.declarations)
    fitted = load_or_calibrate(settings.as_of, settings.vintage,
                               history=history,
                               base_years=base_years_needed(catalogue, settings.as_of),
                               cache_dir=Path(cache_dir) if cache_dir else None)
    return usable_scenarios(sf.scenarios, fitted)[1]


@dataclass(frozen=True)
class RunContext:
    """A scenario file made ready to simulate: spec, catalogue, history, fitted model, levers.

    ``plan_start`` is the file's own ``as_of`` (before a ``--as-of`` override): a context whose
    ``settings.as_of`` is later is a mid-term evaluation.
    """

    path: Path | None
    spec: ScenarioFile
    settings: RunSettings
    catalogue: pd.DataFrame
    history: History
    fitted: FittedModel
    scenarios: tuple[ScenarioSpec, ...]   # usable scenarios, in file order
    levers: tuple[ScenarioLevers, ...]    # engine levers of ``scenarios``
    ignored: tuple[str, ...]              # levers/shocks dropped (driver not calibrated)
    plan_start: int
    data_dir: Path | None = None
    cache_dir: Path | None = None
    overrides: Mapping[str, Any] | None = None   # the [run] keys set on the command line
    start_spec: ScenarioFile | None = None       # the file read at plan_start (mid-term only)
    record_model: PlanRecordModel | None = None  # plan records known by as_of (None: trend only)

    @classmethod
    def build(cls, path: str | Path, *, overrides: Mapping[str, Any] | None = None,
              data_dir: str | Path | None = None, fitted: FittedModel | None = None,
              history: History | None = None, cache_dir: str | Path | None = None,
              catalogue: pd.DataFrame | None = None,
              record_model: PlanRecordModel | None = None) -> "RunContext":
        """Read ``path`` (with ``overrides`` of ``[run]`` keys), load history, calibrate once.

        With an ``as_of`` override the file is also read without it (the plan's start, kept
        as ``start_spec``: :meth:`at_as_of` of the plan start reuses it instead of a third read).
        """
        overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        if history is None:
            history = load_history(Path(data_dir) if data_dir is not None else None)
        known = history.catalogue()
        sf = load_scenario_file(path, overrides=overrides or None, catalogue=known)
        start_spec = None
        if "as_of" in overrides:
            rest = {k: v for k, v in overrides.items() if k != "as_of"}
            start_spec = load_scenario_file(path, overrides=rest or None, catalogue=known)
        plan_start = start_spec.run.as_of if start_spec is not None else sf.run.as_of
        ctx = cls.from_spec(sf, path=Path(path), data_dir=data_dir, fitted=fitted,
                            history=history, plan_start=plan_start, cache_dir=cache_dir,
                            catalogue=catalogue, record_model=record_model)
        return replace(ctx, overrides=dict(overrides),
                       start_spec=start_spec if ctx.is_midterm else None)

    @classmethod
    def from_spec(cls, sf: ScenarioFile, *, path: Path | None = None,
                  data_dir: str | Path | None = None, fitted: FittedModel | None = None,
                  history: History | None = None, plan_start: int | None = None,
                  cache_dir: str | Path | None = None, catalogue: pd.DataFrame | None = None,
                  record_model: PlanRecordModel | None = None) -> "RunContext":
        """The context of an already loaded :class:`~sim.scenario.spec.ScenarioFile`.

        ``catalogue`` (default: the targets of the file's target sets) is what the run
        evaluates; the fitted model keeps a ``cum_from_<b>`` state for each of its base years.
        ``record_model`` (default: the bundled plan records with ``period_end <= as_of``,
        :func:`~sim.plan_record.fit_plan_record_model`) is the plan-record model of the run;
        pass another fit (e.g. leave-one-plan-out) to use it instead.
        """
        settings = RunSettings.from_spec(sf)
        data_dir = Path(data_dir) if data_dir is not None else None
        cache_dir = Path(cache_dir) if cache_dir is not None else None
        history = history if history is not None else load_history(data_dir)
        if catalogue is None:
            catalogue = targets_for_sets(list(sf.run.target_sets),
                                         declarations=history.declarations)
        if fitted is None:
            fitted = load_or_calibrate(settings.as_of, settings.vintage, history=history,
                                       base_years=base_years_needed(catalogue, settings.as_of),
                                       cache_dir=cache_dir)
        else:
            check_fitted(fitted, settings)
        if record_model is None:
            record_model = fit_plan_record_model(settings.as_of)
        elif record_model.as_of is not None and int(record_model.as_of) > settings.as_of:
            raise SimError(f"the plan-record model was fitted as of {record_model.as_of}, after "
                           f"the run's as_of {settings.as_of}")
        usable, ignored = usable_scenarios(sf.scenarios, fitted)
        levers = tuple(levers_from_spec(sc, fitted, settings.horizon) for sc in usable)
        return cls(path=path, spec=sf, settings=settings, catalogue=catalogue, history=history,
                   fitted=fitted, scenarios=tuple(usable), levers=levers, ignored=tuple(ignored),
                   plan_start=int(plan_start if plan_start is not None else settings.as_of),
                   data_dir=data_dir, cache_dir=cache_dir, record_model=record_model)

    @property
    def as_of(self) -> int:
        return self.settings.as_of

    @property
    def vocabulary(self) -> Vocabulary:
        """The run's series: the built-in ones plus those its data directory declares."""
        return self.history.vocabulary

    @property
    def scenario_names(self) -> list[str]:
        return [sc.name for sc in self.scenarios]

    @property
    def target_values(self) -> dict[str, dict[str, float]]:
        """``{scenario: {target_id: value}}``: the scenarios' overrides of blank/plan values."""
        return {name: dict(sc.target_values) for name, sc in self.spec.scenarios.items()}

    @property
    def is_midterm(self) -> bool:
        return self.settings.as_of > self.plan_start

    def with_draws(self, draws: int) -> "RunContext":
        """The same context with another number of draws (draw ``i`` does not change)."""
        sf = self.spec.model_copy(update={"run": self.spec.run.model_copy(
            update={"draws": int(draws)})})
        return replace(self, spec=sf, settings=replace(self.settings, draws=int(draws)))

    def at_as_of(self, as_of: int, *, fitted: FittedModel | None = None) -> "RunContext":
        """The same file, overrides, draws and seed with the information set ``as_of``: read
        again (lever years are fitted to the new window) and recalibrated on the same history
        (or ``fitted``, which must be calibrated at ``as_of``).
        ``ctx.at_as_of(ctx.plan_start)`` is the plan-start context of a mid-term evaluation;
        it reuses the reading of the file at its own as_of made by :meth:`build`."""
        if self.path is None:
            raise SimError("at_as_of needs a context built from a scenario file")
        overrides = {k: v for k, v in (self.overrides or {}).items() if k != "as_of"}
        if int(as_of) == self.plan_start and self.start_spec is not None:
            ctx = RunContext.from_spec(self.start_spec, path=self.path, data_dir=self.data_dir,
                                       fitted=fitted, history=self.history,
                                       plan_start=self.plan_start, cache_dir=self.cache_dir,
                                       catalogue=self.catalogue)
            ctx = replace(ctx, overrides=overrides)
            return ctx if ctx.settings.draws == self.settings.draws else \
                ctx.with_draws(self.settings.draws)
        overrides.update(draws=self.settings.draws, seed=self.settings.seed)
        if int(as_of) != self.plan_start:
            overrides["as_of"] = int(as_of)
        return RunContext.build(self.path, overrides=overrides, data_dir=self.data_dir,
                                fitted=fitted, history=self.history, cache_dir=self.cache_dir,
                                catalogue=self.catalogue)

    def check_as_of(self, dataset: xr.Dataset) -> None:
        """Refuse an ensemble made at another as_of than this context and its fitted model."""
        made = ensemble_facts(dataset).as_of
        if made != self.as_of or int(self.fitted.as_of) != self.as_of:
            raise SimError(f"as_of disagrees: the run is as of {self.as_of}, the fitted model "
                           f"as of {self.fitted.as_of} and the ensemble as of {made}")
