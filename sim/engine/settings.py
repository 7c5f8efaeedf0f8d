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
    ``ensemble_dtype`` is how ``ensemble.nc`` stores the draws (``[run] ensemble_float64 = true``
    keeps float64; the probabilities are computed before, from the float64 draws).
    """

    as_of: int
    horizon: int
    draws: int
    seed: int
    block_size: int = 10_000
    parameter_uncertainty: bool = True
    correlated_shocks: bool = True
    vintage: str = "revised"
    ensemble_dtype: str = "float32"   # how ensemble.nc stores the draws (float32 or float64)

    @classmethod
    def from_spec(cls, sf: ScenarioFile) -> "RunSettings":
        r = sf.run
        return cls(as_of=int(r.as_of), horizon=int(r.horizon), draws=int(r.draws),
                   seed=int(r.seed), block_size=int(r.block_size),
                   parameter_uncertainty=bool(r.parameter_uncertainty),
                   correlated_shocks=bool(r.correlated_shocks), vintage=str(r.vintage),
                   ensemble_dtype="float64" if r.ensemble_float64 else "float32")

    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`sim.engine.simulation.simulate` (all but draws/first_draw)."""
        return dict(horizon=self.horizon, seed=self.seed, block_size=self.block_size,
                    parameter_uncertainty=self.parameter_uncertainty,
                    correlated_shocks=self.correlated_shocks)
