"""RunSettings: how the draws of a run are produced (one object instead of loose arguments)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.scenario.spec import ScenarioFile


@dataclass(frozen=True)
class RunSettings:
    """How the draws of a run are produced (everything the engine needs besides model and levers).

    ``draws`` draws ``0 .. draws-1`` of the counter-based streams keyed by ``seed``; years
    ``as_of+1 .. horizon`` are simulated; ``block_size`` draws share one RNG block.
    """

    as_of: int
    horizon: int
    draws: int
    seed: int
    block_size: int = 10_000
    parameter_uncertainty: bool = True
    correlated_shocks: bool = True
    vintage: str = "revised"

    @classmethod
    def from_spec(cls, sf: ScenarioFile) -> "RunSettings":
        r = sf.run
        return cls(as_of=int(r.as_of), horizon=int(r.horizon), draws=int(r.draws),
                   seed=int(r.seed), block_size=int(r.block_size),
                   parameter_uncertainty=bool(r.parameter_uncertainty),
                   correlated_shocks=bool(r.correlated_shocks), vintage=str(r.vintage))

    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`sim.engine.simulation.simulate` (all but draws/first_draw)."""
        return dict(horizon=self.horizon, seed=self.seed, block_size=self.block_size,
                    parameter_uncertainty=self.parameter_uncertainty,
                    correlated_shocks=self.correlated_shocks)
