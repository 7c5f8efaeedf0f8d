"""The verdict model: how often past targets of a family were officially met.

Data: every plan record with a verdict (``met`` yes → 1; partly or no → 0; unknown left out)
known at ``as_of`` (:meth:`~sim.plan_record.records.PlanRecord.known_at`). ``y`` counts met
targets, ``n`` targets, ``m = n − y`` the others; ``f`` is a family
(:data:`sim.vocabulary.FAMILIES`), ``b`` a binding status.

Level 1, families (beta-binomial, empirical Bayes)::

    y_f | θ_f ~ Binomial(n_f, θ_f),        θ_f ~ Beta(α, β)
    (α, β) = argmax Σ_f [ln B(y_f + α, m_f + β) − ln B(α, β)]        (marginal likelihood)
    θ_f | data ~ Beta(α + y_f, β + m_f)

Level 2, binding status within a family::

    y_fb | θ_fb ~ Binomial(n_fb, θ_fb),     θ_fb | θ_f ~ Beta(λ θ_f, λ (1 − θ_f))
    λ = argmax Σ_fb [ln B(y_fb + λ θ̃, m_fb + λ (1 − θ̃)) − ln B(λ θ̃, λ (1 − θ̃))]
        with θ̃ = θ̃_f,−b = (α + y_f − y_fb) / (α + β + n_f − n_fb), the family's mean without
        the cell, over the families with records of two or more binding statuses.

The posterior of a cell is exact given (α, β, λ): θ_f is drawn from the family posterior
without the cell, ``Beta(α + y_f − y_fb, β + m_f − m_fb)``, weighted by the cell's marginal
likelihood ``B(y_fb + λθ_f, m_fb + λ(1 − θ_f)) / B(λθ_f, λ(1 − θ_f))``, then
``θ_fb | θ_f ~ Beta(λθ_f + y_fb, λ(1 − θ_f) + m_fb)`` — a mixture of betas, evaluated on
:data:`QUAD_POINTS` quantile nodes of the proposal (deterministic means and intervals; the same
mixture is sampled by :meth:`VerdictModel.draws`).

A target whose binding status is not ``binding`` or ``indicative`` (``unknown``, the catalogue's
``unspecified``) gets its family's rate θ_f. A family without records gets the pooled
``Beta(α, β)``. Small families shrink to the pooled rate: the posterior mean is
``(α + y_f) / (α + β + n_f)``; fewer than :data:`THIN_RECORDS` records set ``thin``.

(α, β) and λ are point estimates (empirical Bayes, bounded by :data:`CONCENTRATION_BOUNDS`).
Their uncertainty is not propagated; the rates' is.

**How much to pool families: chosen from earlier records only.** Two rules for ``α + β``:
``partial`` (maximum marginal likelihood, the model above; with fewer than two families the
spread is not identified and the pool is used) and ``pooled`` (``α + β`` at the upper bound of
:data:`CONCENTRATION_BOUNDS`: every family shares ``θ ≈ (y + ½)/(n + 1)``). The fit picks one by a
prequential test on its own training records, never on a backtest's scored events
(:func:`choose_pooling`): for every information year ``y`` at which records became known
(:attr:`PlanRecord.first_known`), each rule is fitted on the records known before ``y`` and
scored (log loss) on the verdicts that became known at ``y``; the rule with the smaller total
wins. Where no such step exists (all records known at once) the rule is ``partial``, the
model as designed before any backtest (:data:`DEFAULT_POOLING`). (The earlier rule, "estimate
the spread only when three families hold ten verdicts", was chosen by its Brier score on the
backtest's reported events: retired.) Without a family with two binding statuses λ takes its
upper bound: binding then adds nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import optimize, special, stats

from sim.bounds import check_as_of
from sim.errors import SimError
from sim.plan_record.records import PlanRecord, known_by
from sim.vocabulary import FAMILIES

THIN_RECORDS = 10                  # a family with fewer verdicts is flagged thin (display only)
POOLINGS = ("partial", "pooled")   # how α + β is set (module docstring)
DEFAULT_POOLING = "partial"        # without an earlier step to test the rules on
LOG_LOSS_EPS = 1e-3                # probabilities clipped to [ε, 1 − ε] in the prequential test
CONCENTRATION_BOUNDS = (0.5, 1.0e4)
QUAD_POINTS = 400
CELL_BINDINGS = ("binding", "indicative")   # statuses with their own level-2 rate
LEVEL = 0.95


def _log_bb(y: ArrayLike, m: ArrayLike, a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Log marginal likelihood of y successes and m failures under Beta(a, b) (no n-choose-y)."""
    y, m, a, b = (np.asarray(v, dtype=float) for v in (y, m, a, b))
    return np.asarray(special.betaln(y + a, m + b) - special.betaln(a, b))


@dataclass(frozen=True)
class RecordProbability:
    """P(met) from the plan record for one family and binding status, with its interval.

    ``mean`` is the posterior mean of the rate, ``lower``/``upper`` the central ``level``
    interval; ``n_family`` the family's verdicts, ``n_cell`` those of its binding status (0 when
    the family rate is used), ``n_pooled`` all verdicts of the fit; ``thin`` when
    ``n_family < THIN_RECORDS``.
    """

    family: str
    binding: str
    mean: float
    lower: float
    upper: float
    level: float
    n_family: int
    n_cell: int
    n_pooled: int
    thin: bool


@dataclass(frozen=True)
class VerdictModel:
    """The fitted verdict model (see the module docstring for the equations)."""

    as_of: int | None
    alpha: float
    beta: float
    lam: float
    families: Mapping[str, tuple[int, int]]            # family -> (met, n)
    cells: Mapping[tuple[str, str], tuple[int, int]]   # (family, binding) -> (met, n)
    n_pooled: int
    pooling: str = DEFAULT_POOLING                     # the rule used (module docstring)
    pooling_losses: tuple[float, float] | None = None  # prequential log loss (partial, pooled)
    pooling_steps: int = 0                             # verdicts the choice was scored on

    @classmethod
    def fit(cls, records: Iterable[PlanRecord], as_of: int | None = None,
            pooling: str | None = None) -> "VerdictModel":
        """Fit on the records with a verdict known at ``as_of`` (all when None); ``pooling``
        one of :data:`POOLINGS`, default chosen by :func:`choose_pooling` on these records."""
        recs = tuple(records)
        if as_of is not None:
            as_of = check_as_of(as_of)
            recs = known_by(recs, as_of)
        if pooling is None:
            choice = choose_pooling(recs)
            return cls._fit(recs, as_of, choice.rule, choice.losses, choice.n)
        if pooling not in POOLINGS:
            raise SimError(f"unknown pooling '{pooling}' (expected one of {', '.join(POOLINGS)})")
        return cls._fit(recs, as_of, pooling, None, 0)

    @classmethod
    def _fit(cls, recs: tuple[PlanRecord, ...], as_of: int | None, pooling: str,
             losses: tuple[float, float] | None, steps: int) -> "VerdictModel":
        judged = [r for r in recs if r.verdict is not None]
        if not judged:
            raise SimError(f"no plan records with a verdict known by {as_of} "
                           f"(nothing to fit the verdict model on)")
        fam = {f: (sum(bool(r.verdict) for r in judged if r.family == f),
                   sum(r.family == f for r in judged))
               for f in sorted({r.family for r in judged})}
        cell = {k: (sum(bool(r.verdict) for r in judged if (r.family, r.binding) == k),
                    sum((r.family, r.binding) == k for r in judged))
                for k in sorted({(r.family, r.binding) for r in judged})}
        alpha, beta = _fit_level1(fam, pooling)
        lam = _fit_level2(fam, cell, alpha, beta)
        return cls(as_of, alpha, beta, lam, fam, cell, sum(n for _, n in fam.values()),
                   pooling, losses, steps)

    # --- the posterior of one family / cell -------------------------------------------------

    def _family_counts(self, family: str) -> tuple[int, int]:
        if family not in FAMILIES and family not in self.families:
            raise SimError(f"unknown family '{family}' (expected one of {', '.join(FAMILIES)})")
        return self.families.get(family, (0, 0))

    def _mixture(self, family: str, binding: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(weights, a, b)``: the rate's posterior as ``Σ w_j Beta(a_j, b_j)``."""
        y_f, n_f = self._family_counts(family)
        if binding not in CELL_BINDINGS:
            return (np.ones(1), np.array([self.alpha + y_f]),
                    np.array([self.beta + n_f - y_f]))
        y_c, n_c = self.cells.get((family, binding), (0, 0))
        m_c = n_c - y_c
        a0, b0 = self.alpha + y_f - y_c, self.beta + (n_f - y_f) - m_c
        nodes = stats.beta.ppf((np.arange(QUAD_POINTS) + 0.5) / QUAD_POINTS, a0, b0)
        nodes = np.clip(nodes, 1e-12, 1 - 1e-12)
        pa, pb = self.lam * nodes, self.lam * (1 - nodes)
        logw = _log_bb(y_c, m_c, pa, pb)
        w = np.exp(logw - logw.max())
        return w / w.sum(), pa + y_c, pb + m_c

    def mean(self, family: str, binding: str = "unknown") -> float:
        """The posterior mean of the rate (:meth:`p_record`'s ``mean``, without the interval)."""
        w, a, b = self._mixture(family, binding)
        return float(np.sum(w * a / (a + b)))

    def p_record(self, family: str, binding: str = "unknown",
                 level: float = LEVEL) -> RecordProbability:
        """P(met) for a new target of ``family`` with ``binding`` status, and its interval."""
        w, a, b = self._mixture(family, binding)
        mean = float(np.sum(w * a / (a + b)))
        lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
        if len(w) == 1:
            lower, upper = (float(q) for q in stats.beta.ppf([lo_q, hi_q], a[0], b[0]))
        else:
            def cdf(x: float) -> float:
                return float(np.sum(w * stats.beta.cdf(x, a, b)))

            lower, upper = (optimize.brentq(lambda x, q=q: cdf(x) - q, 0.0, 1.0, xtol=1e-10)
                            for q in (lo_q, hi_q))
        n_family = self._family_counts(family)[1]
        n_cell = self.cells.get((family, binding), (0, 0))[1] if binding in CELL_BINDINGS else 0
        return RecordProbability(family, binding, mean, lower, upper, level, n_family, n_cell,
                                 self.n_pooled, n_family < THIN_RECORDS)

    def draws(self, family: str, binding: str, n: int,
              rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of the rate θ (P(met)) from its posterior, for Monte Carlo."""
        w, a, b = self._mixture(family, binding)
        j = rng.choice(len(w), size=n, p=w) if len(w) > 1 else np.zeros(n, dtype=int)
        return rng.beta(a[j], b[j])

    def summary(self, level: float = LEVEL) -> pd.DataFrame:
        """One row per family (and per binding status with records): counts, raw and pooled
        rates with their interval."""
        rows = []
        for family, (y, n) in self.families.items():
            keys = [(family, "any")] + [k for k in self.cells if k[0] == family
                                        and k[1] in CELL_BINDINGS]
            for _, binding in keys:
                y_c, n_c = (y, n) if binding == "any" else self.cells[(family, binding)]
                p = self.p_record(family, binding, level)
                rows.append({"family": family, "binding": binding, "met": y_c, "n": n_c,
                             "raw_rate": y_c / n_c, "rate": p.mean, "lower": p.lower,
                             "upper": p.upper, "thin": p.thin})
        return pd.DataFrame(rows)

    @property
    def pooled_rate(self) -> float:
        """The mean of the pooled prior, α / (α + β): the rate of a family without records."""
        return self.alpha / (self.alpha + self.beta)


@dataclass(frozen=True)
class PoolingChoice:
    """The rule :func:`choose_pooling` picked, its prequential log losses ``(partial,
    pooled)`` (None without a step) and the number of verdicts they were scored on."""

    rule: str
    losses: tuple[float, float] | None
    n: int


def choose_pooling(records: Iterable[PlanRecord]) -> PoolingChoice:
    """Pick the pooling rule by a prequential test on ``records`` alone (module docstring).

    For each information year ``y`` (:attr:`PlanRecord.first_known`) after the first, both rules
    are fitted on the records known before ``y`` and score the verdicts first known at ``y``:
    ``−Σ [v ln p + (1 − v) ln(1 − p)]``, ``p`` clipped to ``[ε, 1 − ε]`` (:data:`LOG_LOSS_EPS`).
    The smaller total wins (a tie, or no step: :data:`DEFAULT_POOLING`).
    """
    judged = [r for r in records if r.verdict is not None]
    years = sorted({r.first_known for r in judged})
    loss = dict.fromkeys(POOLINGS, 0.0)
    n = 0
    for y in years[1:]:
        train = tuple(r for r in judged if r.first_known < y)
        test = [r for r in judged if r.first_known == y]
        cells = Counter((r.family, r.binding, bool(r.verdict)) for r in test)
        for rule in POOLINGS:
            model = VerdictModel._fit(train, None, rule, None, 0)
            for (family, binding, met), k in cells.items():
                p = min(max(model.mean(family, binding), LOG_LOSS_EPS), 1 - LOG_LOSS_EPS)
                loss[rule] -= k * float(np.log(p if met else 1 - p))
        n += len(test)
    if n == 0:
        return PoolingChoice(DEFAULT_POOLING, None, 0)
    rule = min(POOLINGS, key=lambda k: (loss[k], k != DEFAULT_POOLING))
    return PoolingChoice(rule, (loss["partial"], loss["pooled"]), n)


def _fit_level1(fam: Mapping[str, tuple[int, int]], pooling: str) -> tuple[float, float]:
    """(α, β) by maximum marginal likelihood over families (``partial``, two or more
    families), or the pooled rate at the upper concentration bound (``pooled``, or a single
    family: the spread is then not identified)."""
    y = np.array([c[0] for c in fam.values()], dtype=float)
    n = np.array([c[1] for c in fam.values()], dtype=float)
    pooled = float(np.clip((y.sum() + 0.5) / (n.sum() + 1.0), 1e-3, 1 - 1e-3))
    lo, hi = np.log(CONCENTRATION_BOUNDS)
    if pooling == "pooled" or len(fam) < 2:
        kappa = CONCENTRATION_BOUNDS[1]
        return pooled * kappa, (1 - pooled) * kappa

    def nll(z: np.ndarray) -> float:
        mu, kappa = special.expit(z[0]), np.exp(z[1])
        return -float(np.sum(_log_bb(y, n - y, mu * kappa, (1 - mu) * kappa)))

    res = optimize.minimize(nll, x0=np.array([special.logit(pooled), np.log(10.0)]),
                            method="L-BFGS-B", bounds=[(-10.0, 10.0), (lo, hi)])
    mu, kappa = float(special.expit(res.x[0])), float(np.exp(res.x[1]))
    return mu * kappa, (1 - mu) * kappa


def _fit_level2(fam: Mapping[str, tuple[int, int]], cells: Mapping[tuple[str, str], tuple[int, int]],
                alpha: float, beta: float) -> float:
    """λ by maximum marginal likelihood over the cells of families with several statuses."""
    per_family: dict[str, int] = {}
    for f, _ in cells:
        per_family[f] = per_family.get(f, 0) + 1
    ys, ms, means = [], [], []
    for (f, _), (y_c, n_c) in cells.items():
        if per_family[f] < 2:
            continue
        y_f, n_f = fam[f]
        ys.append(y_c)
        ms.append(n_c - y_c)
        means.append((alpha + y_f - y_c) / (alpha + beta + n_f - n_c))
    if not ys:
        return CONCENTRATION_BOUNDS[1]
    y, m, t = np.array(ys, float), np.array(ms, float), np.array(means)

    def nll(log_lam: float) -> float:
        lam = np.exp(log_lam)
        return -float(np.sum(_log_bb(y, m, lam * t, lam * (1 - t))))

    lo, hi = np.log(CONCENTRATION_BOUNDS)
    res = optimize.minimize_scalar(nll, bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-6})
    return float(np.exp(res.x))
