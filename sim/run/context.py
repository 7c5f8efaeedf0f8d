"""RunContext: everything a command needs before the engine, built once per command.

``RunContext.build(path)`` reads the scenario file once (with any command-line overrides),
loads the history once, picks the target catalogue of the file's target sets, calibrates (or
reuses a cached fit of) the model on data <= as_of, and turns every scenario into engine
levers. ``run``, ``sweep``, ``solve``, ``sensitivity``, ``backtest`` and the mid-term evaluation
all start from it, so they cannot disagree about what was read.

``as_of`` has one home: ``ctx.settings.as_of``. ``build`` checks that a fitted model passed in
was calibrated at that as_of (and the same vintage), and ``at_as_of`` makes the context of the
same file at another information set (the plan's start, for a mid-term evaluation) from the
same history.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from sim.calibrate.cache import load_or_calibrate
from sim.engine.settings import RunSettings
from sim.engine.simulation import ScenarioLevers, levers_from_spec
from sim.errors import SimError
from sim.history import History, load_history
from sim.model import FittedModel
from sim.scenario.read import load_scenario_file
from sim.scenario.spec import ScenarioFile, ScenarioSpec
from sim.targets import targets_for_sets
from sim.vocabulary import HOUSING_LEVER


def base_years_needed(catalogue: pd.DataFrame, as_of: int) -> list[int]:
    """Years before ``as_of`` from which a target's window starts (its ``base_year``, or the
    year before its ``period_start``): the fitted model keeps a ``cum_from_<b>`` state for each."""
    return sorted({int(b) for b in catalogue["base_year"].dropna() if int(b) < as_of}
                  | {int(p) - 1 for p in catalogue["period_start"].dropna()
                     if int(p) - 1 < as_of})


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

    @classmethod
    def build(cls, path: str | Path, *, overrides: Mapping[str, Any] | None = None,
              data_dir: str | Path | None = None, fitted: FittedModel | None = None,
              history: History | None = None, cache_dir: str | Path | None = None
              ) -> "RunContext":
        """Read ``path`` (with ``overrides`` of ``[run]`` keys), load history, calibrate once."""
        overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        sf = load_scenario_file(path, overrides=overrides or None)
        plan_start = (load_scenario_file(path).run.as_of if "as_of" in overrides
                      else sf.run.as_of)
        ctx = cls.from_spec(sf, path=Path(path), data_dir=data_dir, fitted=fitted,
                            history=history, plan_start=plan_start, cache_dir=cache_dir)
        return replace(ctx, overrides=dict(overrides))

    @classmethod
    def from_spec(cls, sf: ScenarioFile, *, path: Path | None = None,
                  data_dir: str | Path | None = None, fitted: FittedModel | None = None,
                  history: History | None = None, plan_start: int | None = None,
                  cache_dir: str | Path | None = None) -> "RunContext":
        """The context of an already loaded :class:`~sim.scenario.spec.ScenarioFile`."""
        settings = RunSettings.from_spec(sf)
        data_dir = Path(data_dir) if data_dir is not None else None
        cache_dir = Path(cache_dir) if cache_dir is not None else None
        history = history if history is not None else load_history(data_dir)
        catalogue = targets_for_sets(list(sf.run.target_sets))
        if fitted is None:
            fitted = load_or_calibrate(settings.as_of, settings.vintage, history=history,
                                       base_years=base_years_needed(catalogue, settings.as_of),
                                       cache_dir=cache_dir)
        elif int(fitted.as_of) != settings.as_of or fitted.vintage != settings.vintage:
            raise SimError(f"the fitted model was calibrated as of {fitted.as_of} "
                           f"({fitted.vintage} vintage) but the run is as of {settings.as_of} "
                           f"({settings.vintage}); calibrate at the run's as_of")
        usable, ignored = usable_scenarios(sf.scenarios, fitted)
        levers = tuple(levers_from_spec(sc, fitted, settings.horizon) for sc in usable)
        return cls(path=path, spec=sf, settings=settings, catalogue=catalogue, history=history,
                   fitted=fitted, scenarios=tuple(usable), levers=levers, ignored=tuple(ignored),
                   plan_start=int(plan_start if plan_start is not None else settings.as_of),
                   data_dir=data_dir, cache_dir=cache_dir)

    @property
    def as_of(self) -> int:
        return self.settings.as_of

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

    def at_as_of(self, as_of: int) -> "RunContext":
        """The same file, overrides, draws and seed with the information set ``as_of``: read
        again (lever years are fitted to the new window) and recalibrated on the same history.
        ``ctx.at_as_of(ctx.plan_start)`` is the plan-start context of a mid-term evaluation."""
        if self.path is None:
            raise SimError("at_as_of needs a context built from a scenario file")
        overrides = dict(self.overrides or {})
        overrides.update(draws=self.settings.draws, seed=self.settings.seed)
        overrides.pop("as_of", None)
        if int(as_of) != self.plan_start:
            overrides["as_of"] = int(as_of)
        return RunContext.build(self.path, overrides=overrides, data_dir=self.data_dir,
                                history=self.history, cache_dir=self.cache_dir)
