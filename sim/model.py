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

Derived series are sums of driver log levels (``sim.vocabulary.COMPOSITION``), anchored at an
observed level:
``log S_t = log anchor + sum_d sign_d * (L_{d,t} - L_{d,anchor_year})``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sim.errors import SimError

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
        """A parameter's point estimate on the stored (theta) scale."""
        return float(self.param_mean[self.param_names.index(name)])

    def state(self, name: str) -> float:
        """A state's filtered mean at as_of."""
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

    def summary(self, data_dir: str | Path | None = None) -> str:
        """Human-readable summary: one block per driver (mean change at as_of ± 1 sd, parameters,
        the history behind it, fallbacks), what could not be fitted, the shock correlation.
        ``data_dir`` is named in the header when given."""
        lines = [f"calibration as of {self.as_of}, vintage {self.vintage}"
                 + (f", data {data_dir}" if data_dir else "") + f" (hash {self.data_hash[:12]})",
                 f"base years {', '.join(map(str, self.base_years))}; mean change = exp(m)-1 at "
                 f"{self.as_of} ± 1 sd (state and parameter uncertainty); history: annual changes, "
                 f"cumulative windows; * derived from other series, ᴸ from two levels", ""]
        head = (f"{'series':26s} {'mean change/yr':>18s} {'phi':>5s} {'σ_noise':>8s} "
                f"{'σ_level':>8s} {'n_obs':>5s}")
        lines += [head, "-" * len(head)]
        for name, d in self.drivers.items():
            lines += _driver_summary(self, name, d)
        lines += _not_fitted_summary(self)
        lines += ["", f"shock correlation over {len(self.shock_names)} drivers, shrinkage lambda "
                      f"{self.shrinkage:.2f}"]
        lines += [f"note: {n}" for n in self.notes if n.startswith(("shock", "measurement"))]
        return "\n".join(lines)

    # --- persistence: one JSON file, arrays as nested lists -----------------------------
    def to_json(self) -> str:
        """The model as JSON (arrays as nested lists, with ``format_version``)."""
        def enc(o: object) -> object:
            if isinstance(o, np.ndarray):
                return o.tolist()
            if isinstance(o, (np.floating, np.integer)):
                return o.item()
            raise TypeError(type(o))

        payload = asdict(self)
        payload["format_version"] = FORMAT_VERSION
        return json.dumps(payload, default=enc, ensure_ascii=False, indent=1)

    def save(self, path: Path) -> Path:
        """Write :meth:`to_json` to ``path`` atomically (a temporary file, then a rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> "FittedModel":
        """Read a model written by :meth:`save`; SimError when it cannot be read."""
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SimError(f"{path}: cannot read fitted model ({exc})") from None
        if raw.get("format_version") != FORMAT_VERSION:
            raise SimError(
                f"{path}: fitted-model format_version {raw.get('format_version')!r}, "
                f"expected {FORMAT_VERSION}; re-run `python -m sim calibrate`")
        drivers = {name: _driver_from_json(d) for name, d in raw["drivers"].items()}
        k = len(raw["shock_names"])
        return cls(
            as_of=int(raw["as_of"]), vintage=raw["vintage"], data_hash=raw["data_hash"],
            drivers=drivers,
            anchors={k_: Anchor(**a) for k_, a in raw["anchors"].items()},
            shock_names=tuple(raw["shock_names"]),
            shock_corr=_square(raw["shock_corr"], k),
            shrinkage=float(raw["shrinkage"]), base_years=tuple(raw["base_years"]),
            observations_used=raw.get("observations_used", []),
            fallbacks=tuple(raw.get("fallbacks", ())), notes=tuple(raw.get("notes", ())),
            calibrator=str(raw.get("calibrator", "")),
            not_fitted=dict(raw.get("not_fitted", {})))


def _square(values: list, n: int) -> np.ndarray:
    """A (n, n) float array from nested lists (an empty list for n = 0)."""
    return np.asarray(values, float).reshape(n, n)


def _driver_from_json(d: dict) -> DriverFit:
    k, s = len(d["param_names"]), len(d["state_names"])
    return DriverFit(
        name=d["name"], kind=d["kind"], scale=d["scale"], param_names=tuple(d["param_names"]),
        param_mean=np.asarray(d["param_mean"], float), param_cov=_square(d["param_cov"], k),
        state_names=tuple(d["state_names"]), state_mean=np.asarray(d["state_mean"], float),
        state_cov=_square(d["state_cov"], s), level_known=bool(d["level_known"]),
        correlated=bool(d["correlated"]), n_obs=int(d["n_obs"]),
        fallbacks=tuple(d.get("fallbacks", ())), diagnostics=d.get("diagnostics", {}))


# --------------------------------------------------------------------------------------------
# summary text
# --------------------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return f"{100 * (math.exp(x) - 1):+.1f}%"


def _history_items(fm: FittedModel, name: str, max_annual: int = 5) -> list[str]:
    """Historical values behind a driver: annual changes (last few), level-to-level changes,
    cumulative windows (with the constant annual rate); ``*`` marks derived observations."""
    rows = [r for r in fm.observations_used if r.get("driver") == name]
    annual: list[tuple[int, str]] = []
    cums: list[tuple[int, str]] = []
    levels: dict[int, float] = {}
    for r in rows:
        star = "*" if r.get("derived") else ""
        if r["kind"] == "change":
            annual.append((r["year"], f"{r['year']} {_pct(r['model_value'])}{star}"))
        elif r["kind"] == "cum":
            n = r["year"] - r["base_year"]
            cums.append((r["year"], f"{r['base_year']}→{r['year']} {_pct(r['model_value'])}{star}"
                                    f" ({_pct(r['model_value'] / n)}/yr)"))
        elif r["kind"] == "level":
            levels[r["year"]] = r["model_value"]
    ys = sorted(levels)
    for a, b in zip(ys, ys[1:]):
        if name in fm.drivers and fm.drivers[name].scale == "logit":
            break
        d = levels[b] - levels[a]
        if b == a + 1:
            annual.append((b, f"{b} {_pct(d)}ᴸ"))
        else:
            cums.append((b, f"{a}→{b} {_pct(d)}ᴸ ({_pct(d / (b - a))}/yr)"))
    return [s for _, s in sorted(annual)][-max_annual:] + [s for _, s in sorted(cums)][-3:]


def _driver_summary(fm: FittedModel, name: str, d: DriverFit) -> list[str]:
    """The lines of one driver in :meth:`FittedModel.summary`."""
    lines = []
    if d.kind == "iid_lognormal":
        mu, ls = d.param_mean
        lines.append(f"{name:26s} ratio {math.exp(mu):.2f} (log-sd {math.exp(ls):.2f})"
                     f"{'':14s}{d.n_obs:5d} programme/delivery pairs")
        for x in d.diagnostics.get("log_ratios", []):
            lines.append(f"{'':28s}history: log ratio {x:+.3f}")
    else:
        m = d.state("mean")
        sd = math.sqrt(max(d.state_cov[1, 1], 0.0) + d.diagnostics.get("mean_sd_param", 0) ** 2)
        phi = math.tanh(d.param_mean[0])
        sn, sl = math.exp(d.param_mean[1]), math.exp(d.param_mean[2])
        if d.scale == "logit":
            p = 1 / (1 + math.exp(-d.state("level")))
            mean = f"{100 * p * (1 - p) * m:+.2f}±{100 * p * (1 - p) * sd:.2f}pp"
        else:
            mean = f"{100 * (math.exp(m) - 1):+.2f}%±{100 * math.exp(m) * sd:.2f}"
        lines.append(f"{name:26s} {mean:>18s} {phi:5.2f} {sn:8.4f} {sl:8.4f} {d.n_obs:5d}")
        hist = _history_items(fm, name)
        if hist:
            lines.append(f"{'':28s}history: " + ", ".join(hist))
    for fb in d.fallbacks:
        lines.append(f"{'':28s}fallback: {fb}")
    return lines


def _not_fitted_summary(fm: FittedModel) -> list[str]:
    """The series that could not be fitted (targets on them are not evaluable)."""
    not_fitted = [f for f in fm.fallbacks if ": not fitted" in f]
    if not not_fitted:
        return []
    lines = ["", f"not fitted ({len(not_fitted)}):"]
    lines += ["  " + f.replace(": not fitted (generic indicator): ", ": ")
              .replace(": not fitted (driver): ", ": ")
              .replace("; targets on it are not evaluable", "") for f in not_fitted]
    lines.append("  (targets on these series are not evaluable)")
    return lines


def fitted_filename(as_of: int, vintage: str) -> str:
    """File name of a fitted model in ``calibration/fitted/``."""
    return f"fitted_asof{as_of}_{vintage}.json"
