"""The plan-record model: what the record of past plans says about a new target.

Chinese plan targets are steered (assessed yearly and at the end), so the plan's own number is
an informative, biased, noisy forecast of its outcome. Two parts, both fitted only on records
whose outcome was published by the information date of ``as_of`` (30 June of as_of + 1,
:meth:`PlanRecord.known_at`), both partially pooled across the indicator families of
:data:`sim.vocabulary.FAMILIES` and both carrying parameter uncertainty:

**Verdict model** (:mod:`sim.plan_record.verdict`) — P(met) for a target without a trend model,
from the official verdicts (``met`` yes vs partly/no; unknown left out)::

    y_f ~ Binomial(n_f, θ_f),            θ_f ~ Beta(α, β)                (families)
    y_fb ~ Binomial(n_fb, θ_fb),         θ_fb | θ_f ~ Beta(λθ_f, λ(1 − θ_f))  (binding status)

with (α, β) and λ by maximum marginal likelihood (empirical Bayes) and exact beta(-mixture)
posteriors for the rates: :meth:`VerdictModel.p_record` (mean, interval, counts, ``thin``) and
:meth:`VerdictModel.draws` (Monte Carlo draws of the rate).

**Outcome model** (:mod:`sim.plan_record.outcome`) — how outcomes land relative to targets, on
the progress-ratio scale ``r = (actual − base) / (target − base)`` (base 0 for rates of change,
so ``r = actual / target``; 1 = exactly on target), for combination with trend draws::

    ln r_i ~ Normal(μ_f, σ_f²),   μ_f ~ Normal(m, τ²),   σ_f² ~ Scaled-Inv-χ²(ν0, s0²)

with τ by REML, (ν0, s0²) by maximum likelihood of the sample variances, normal and
scaled-inverse-χ² posteriors: :meth:`OutcomeModel.predictive` gives the predictive distribution
of ``ln r`` for a new target of a family (mean, sd, sampler).

**Split outcome model** (:mod:`sim.plan_record.split`) — the same records, with the side of the
target taken from the verdict model, because steered outcomes bunch on and just past the target
while the misses are few and large (the normal model above cannot show that)::

    P(ln r >= 0) = θ_fb,   ln r | ln r >= 0 ~ HalfNormal(σ_up,f),   −ln r | ln r < 0 ~ HalfNormal(σ_down)

:meth:`PlanRecordModel.log_ratio_draws` samples it (θ, side, scales and magnitude per draw).

:class:`PlanRecordModel` holds the three, fitted at one ``as_of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from sim.bounds import check_as_of
from sim.plan_record.outcome import OutcomeModel
from sim.plan_record.records import PlanRecord, known_by, load_plan_records
from sim.plan_record.split import SplitOutcomeModel
from sim.plan_record.verdict import VerdictModel


@dataclass(frozen=True)
class PlanRecordModel:
    """The verdict, outcome and split models fitted on the plan records known by ``as_of``."""

    as_of: int | None
    verdict: VerdictModel
    outcome: OutcomeModel
    split: SplitOutcomeModel
    n_records: int           # records known by as_of (with or without a verdict or outcome)

    @classmethod
    def fit(cls, records: Iterable[PlanRecord], as_of: int | None = None) -> "PlanRecordModel":
        """Fit both parts on ``records`` known at ``as_of`` (all when None)."""
        recs = tuple(records)
        if as_of is not None:
            as_of = check_as_of(as_of)
            recs = known_by(recs, as_of)
        return cls(as_of, VerdictModel.fit(recs, as_of), OutcomeModel.fit(recs, as_of),
                   SplitOutcomeModel.fit(recs, as_of), len(recs))

    def log_ratio_draws(self, family: str, binding: str, n: int,
                        rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of ``ln r`` for a new target of ``family`` with ``binding`` status from
        the split model: the side from the verdict model's rate, the distance from the
        outcomes (1 = exactly on target; ``r >= 1`` met for an improvement target)."""
        theta = self.verdict.draws(family, binding, n, rng)
        return self.split.predictive(family).sample_log_ratio(theta, n, rng)

    def summary(self) -> pd.DataFrame:
        """One row per family: verdict counts and pooled P(met) with its 95 % interval; usable
        outcomes, the pooled mean and sd of ``ln r`` (normal model) and the overshoot scale
        (split model; ``sigma_down`` is common to all families)."""
        verdict = self.verdict.summary()
        verdict = verdict[verdict["binding"] == "any"].drop(columns="binding")
        outcome = self.outcome.summary().rename(columns={"n": "n_outcome", "thin": "thin_outcome"})
        split = self.split.summary()
        out = verdict.merge(outcome[["family", "n_outcome", "mu", "mu_sd", "sigma",
                                     "thin_outcome"]], on="family", how="outer")
        out = out.merge(split[["family", "sigma_up", "sigma_down"]], on="family", how="left")
        return out.sort_values("family").reset_index(drop=True)


def fit_plan_record_model(as_of: int | None = None,
                          path: str | Path | None = None) -> PlanRecordModel:
    """Load the plan records (default: the bundled file) and fit the model at ``as_of``."""
    return PlanRecordModel.fit(load_plan_records(path, as_of=as_of), as_of)
