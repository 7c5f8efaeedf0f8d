"""The fitted model: the one object calibration writes and the engine reads.

Every stochastic driver ``d`` (and every generic indicator) is a log-change process on its
``scale`` (log, or logit for shares)::

    x_t = m_t + u_t                      annual change of the transformed level, year t
    m_t = m_{t-1} + sigma_level * eta_t  slowly moving mean (local level), eta ~ N(0, 1)
    u_t = phi * u_{t-1} + sigma_noise * eps_t
                                         AR(1) noise; eps correlated across drivers (shock_corr)
    L_t = L_{t-1} + x_t                  transformed level

For real GDP, ``x_t = log(1 + g_t)`` with ``g_t`` the real growth rate. Generic indicators use
``phi = 0`` (a local linear trend of ``L``) and independent shocks.

Parameters are stored on an unconstrained scale, ``theta = (atanh(phi), log(sigma_noise),
log(sigma_level))``, with the estimate's covariance, so the engine draws ``theta ~ N(mean, cov)``
per Monte Carlo draw (parameter uncertainty). A parameter fixed by a prior has zero variance.

The state at ``as_of`` (= T) is ``(level, mean, ar, cum_from_<b>...)`` with
``level = L_T``, ``mean = m_T``, ``ar = u_T`` and ``cum_from_<b> = L_T - L_b`` for each base year
``b < T`` in ``base_years`` (so a target's base year or window before as_of uses the observed
part, with its uncertainty). ``state_mean`` (s,) and ``state_cov`` (s, s) are the filtered
moments given data ≤ T. When no level was ever observed, ``level_known`` is False and ``level``
is 0 with zero variance (only changes are identified).

The housing delivery ratio is ``kind = "iid_lognormal"``: ``log r_t ~ N(mu, sigma)`` per year,
``theta = (mu, log(sigma))``, no state.

Derived series are sums of driver log levels (``COMPOSITION``), anchored at an observed level:
``log S_t = log anchor + sum_d sign_d * (L_{d,t} - L_{d,anchor_year})``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sim.errors import SimError
from sim.vocabulary import COMPOSITION  # noqa: F401  (re-exported for FittedModel users)

FORMAT_VERSION = 1

CHANGE_PARAMS = ("atanh_phi", "log_sigma_noise", "log_sigma_level")
RATIO_PARAMS = ("mu", "log_sigma")



@dataclass(frozen=True)
class DriverFit:
    """Fitted process of one driver or generic indicator (see module docstring)."""

    name: str
    kind: str                      # "change" | "iid_lognormal"
    scale: str                     # "log" | "logit"
    param_names: tuple[str, ...]
    param_mean: np.ndarray         # (k,)
    param_cov: np.ndarray          # (k, k)
    state_names: tuple[str, ...]   # ("level", "mean", "ar", "cum_from_2010", ...)
    state_mean: np.ndarray         # (s,)
    state_cov: np.ndarray          # (s, s)
    level_known: bool
    correlated: bool               # takes part in the cross-driver shock correlation
    n_obs: int                     # observations used
    fallbacks: tuple[str, ...] = ()          # human-readable: which prior was used and why
    diagnostics: dict = field(default_factory=dict)  # loglike, aic, converged, ...

    def param(self, name: str) -> float:
        return float(self.param_mean[self.param_names.index(name)])

    def state(self, name: str) -> float:
        return float(self.state_mean[self.state_names.index(name)])


@dataclass(frozen=True)
class Anchor:
    """Observed level of a series at or before as_of, used to anchor derived series."""

    series: str
    year: int
    value: float
    unit: str
    source: str


@dataclass(frozen=True)
class FittedModel:
    """Everything the engine needs, fitted on data ≤ ``as_of`` of one vintage."""

    as_of: int
    vintage: str
    data_hash: str
    drivers: dict[str, DriverFit]
    anchors: dict[str, Anchor]
    shock_names: tuple[str, ...]          # drivers with correlated = True, in matrix order
    shock_corr: np.ndarray                # (K, K), already shrunk
    shrinkage: float                      # lambda in R = (1 - lambda) R_hat + lambda I
    base_years: tuple[int, ...]
    observations_used: list[dict] = field(default_factory=list)  # rows of history used
    fallbacks: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    calibrator: str = ""   # version + hash of the calibration code that produced this fit
    not_fitted: dict = field(default_factory=dict)  # series -> why it could not be calibrated

    # --- persistence: one JSON file, arrays as nested lists -----------------------------
    def to_json(self) -> str:
        def enc(o):
            if isinstance(o, np.ndarray):
                return o.tolist()
            if isinstance(o, (np.floating, np.integer)):
                return o.item()
            raise TypeError(type(o))

        payload = asdict(self)
        payload["format_version"] = FORMAT_VERSION
        return json.dumps(payload, default=enc, ensure_ascii=False, indent=1)

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> "FittedModel":
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SimError(f"{path}: cannot read fitted model ({exc})") from None
        if raw.get("format_version") != FORMAT_VERSION:
            raise SimError(
                f"{path}: fitted-model format_version {raw.get('format_version')!r}, "
                f"expected {FORMAT_VERSION}; re-run `python -m sim calibrate`")
        drivers = {}
        for name, d in raw["drivers"].items():
            drivers[name] = DriverFit(
                name=d["name"], kind=d["kind"], scale=d["scale"],
                param_names=tuple(d["param_names"]),
                param_mean=np.asarray(d["param_mean"], float),
                param_cov=np.asarray(d["param_cov"], float).reshape(len(d["param_names"]), len(d["param_names"])),
                state_names=tuple(d["state_names"]),
                state_mean=np.asarray(d["state_mean"], float),
                state_cov=np.asarray(d["state_cov"], float).reshape(len(d["state_names"]), len(d["state_names"])),
                level_known=bool(d["level_known"]), correlated=bool(d["correlated"]),
                n_obs=int(d["n_obs"]), fallbacks=tuple(d.get("fallbacks", ())),
                diagnostics=d.get("diagnostics", {}))
        k = len(raw["shock_names"])
        return cls(
            as_of=int(raw["as_of"]), vintage=raw["vintage"], data_hash=raw["data_hash"],
            drivers=drivers,
            anchors={k_: Anchor(**a) for k_, a in raw["anchors"].items()},
            shock_names=tuple(raw["shock_names"]),
            shock_corr=np.asarray(raw["shock_corr"], float).reshape(k, k),
            shrinkage=float(raw["shrinkage"]), base_years=tuple(raw["base_years"]),
            observations_used=raw.get("observations_used", []),
            fallbacks=tuple(raw.get("fallbacks", ())), notes=tuple(raw.get("notes", ())),
            calibrator=str(raw.get("calibrator", "")),
            not_fitted=dict(raw.get("not_fitted", {})))


def fitted_filename(as_of: int, vintage: str) -> str:
    """File name of a fitted model in ``calibration/fitted/``."""
    return f"fitted_asof{as_of}_{vintage}.json"
