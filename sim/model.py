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

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sim.atomic_file import write_text_atomic
from sim.errors import SimError

FORMAT_VERSION = 1

CHANGE_PARAMS = ("atanh_phi", "log_sigma_noise", "log_sigma_level")
RATIO_PARAMS = ("mu", "log_sigma")
INFO_HORIZONS = 20     # years after as_of for which Information keeps the variance parts
PLAN_TERM = 5          # the horizon of Information.low_information (a five-year plan's term)


@dataclass(frozen=True)
class Information:
    """How much a change process's forecast rests on its own data (``sim.calibrate.priors``).

    ``var_total`` and ``var_prior`` (``INFO_HORIZONS``,): forecast variance of the transformed
    level ``h = 1, 2, ...`` years after as_of, and the part of it whose scale is fixed by a prior
    (``prior_params``: ``sigma_level`` at its prior, a pooled ``sigma_noise``). Low information:
    ``n_informative < min_obs`` or ``prior_share(h) >= max_prior_share``.
    """

    n_informative: int
    prior_params: tuple[str, ...]
    var_total: tuple[float, ...]
    var_prior: tuple[float, ...]
    min_obs: int
    max_prior_share: float

    def prior_share(self, h: int) -> float:
        """Share of the forecast variance ``h`` years after as_of from priors (0 for h <= 0;
        beyond ``INFO_HORIZONS`` the last one)."""
        if h <= 0 or not self.var_total:
            return 0.0
        i = min(h, len(self.var_total)) - 1
        total = self.var_total[i]
        return float(self.var_prior[i] / total) if total > 0 else 0.0

    def low(self, h: int) -> bool:
        """Too few informative observations, or most of the variance at ``h`` from priors."""
        return bool(self.n_informative < self.min_obs
                    or self.prior_share(h) >= self.max_prior_share)

    @property
    def low_information(self) -> bool:
        """:meth:`low` at ``PLAN_TERM`` years after as_of."""
        return self.low(PLAN_TERM)

    def describe(self, h: int, year: int | None = None) -> str:
        """``2 informative observations; 80 % of the 2020 variance from the prior``."""
        n = f"{self.n_informative} informative observation{'s' if self.n_informative != 1 else ''}"
        if h <= 0:
            return n
        when = f"the {year}" if year is not None else f"the {h}-year-ahead"
        return f"{n}; {100 * self.prior_share(h):.0f} % of {when} variance from priors"


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
    information: Information | None = None   # change processes (None: iid, or an older file)

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

    # --- checks ------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """What is wrong with the model's contents (empty when it is usable): finite
        parameters and states, covariances of the right shapes, symmetric and positive
        semi-definite, a shock correlation matrix with unit diagonal over correlated drivers,
        state names consistent with the base years. See :meth:`validate`."""
        out: list[str] = []
        if not isinstance(self.as_of, int) or not 1900 <= self.as_of <= 2200:
            out.append(f"as_of {self.as_of!r}: expected a year")
        if not all(isinstance(b, int) for b in self.base_years):
            out.append(f"base_years {self.base_years!r}: expected years")
        cum = tuple(f"cum_from_{b}" for b in self.base_years)
        for name, d in self.drivers.items():
            out += [f"drivers.{name}: {m}" for m in _driver_problems(d, name, cum)]
        for name, a in self.anchors.items():
            if not _finite(a.value):
                out.append(f"anchors.{name}.value {a.value!r}: expected a finite level")
        k = len(self.shock_names)
        if len(set(self.shock_names)) != k:
            out.append("shock_names: duplicate names")
        for n in self.shock_names:
            fit = self.drivers.get(n)
            if fit is None or fit.kind != "change" or not fit.correlated:
                out.append(f"shock_names: {n} is not a correlated change driver")
        out += [f"shock_corr: {m}" for m in _matrix_problems(self.shock_corr, k, corr=True)]
        if not _finite(self.shrinkage) or not 0 <= self.shrinkage <= 1:
            out.append(f"shrinkage {self.shrinkage!r}: expected a number in [0, 1]")
        return out

    def validate(self) -> "FittedModel":
        """The model itself when :meth:`problems` finds nothing, else SimError listing them."""
        found = self.problems()
        if found:
            more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
            raise SimError("fitted model is not usable: " + "; ".join(found[:5]) + more)
        return self

    # --- persistence: one JSON file, arrays as nested lists -----------------------------
    def to_json(self) -> str:
        """The model as JSON (arrays as nested lists, with ``format_version``)."""
        payload = asdict(self)
        payload["format_version"] = FORMAT_VERSION
        return json.dumps(payload, default=_encode, ensure_ascii=False, indent=1)

    def file_text(self) -> str:
        """What :meth:`save` writes: :meth:`to_json` with ``sha256``, the :func:`checksum` of
        the rest, which :meth:`load` verifies (an edited or damaged file is refused)."""
        payload = json.loads(self.to_json())
        payload["sha256"] = checksum(payload)
        return json.dumps(payload, ensure_ascii=False, indent=1)

    def save(self, path: Path) -> Path:
        """Write :meth:`file_text` to ``path`` atomically (:func:`~sim.atomic_file.write_text_atomic`:
        a new temporary file, never a link planted at its name, then a rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_text_atomic(path, self.file_text())

    @classmethod
    def load(cls, path: Path) -> "FittedModel":
        """Read a model written by :meth:`save`; SimError when it cannot be read, is not a
        fitted model of this format, or its checksum does not match its contents (edited)."""
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise SimError(f"{path}: cannot read fitted model ({exc})") from None
        if not isinstance(raw, dict):
            raise SimError(f"{path}: not a fitted model (expected a JSON object, got "
                           f"{type(raw).__name__})")
        if raw.get("format_version") != FORMAT_VERSION:
            raise SimError(
                f"{path}: fitted-model format_version {raw.get('format_version')!r}, "
                f"expected {FORMAT_VERSION}; re-run `python -m sim calibrate`")
        stored = raw.pop("sha256", None)
        if stored != checksum(raw):
            raise SimError(f"{path}: checksum {'missing' if stored is None else 'mismatch'}: "
                           "the file was edited or damaged after it was written; re-run "
                           "`python -m sim calibrate`")
        try:
            return cls._from_raw(raw)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SimError(f"{path}: malformed fitted model ({type(exc).__name__}: {exc})") \
                from None

    @classmethod
    def _from_raw(cls, raw: dict) -> "FittedModel":
        drivers = {name: _driver_from_json(d) for name, d in raw["drivers"].items()}
        k = len(raw["shock_names"])
        return cls(
            as_of=int(raw["as_of"]), vintage=str(raw["vintage"]), data_hash=str(raw["data_hash"]),
            drivers=drivers,
            anchors={k_: Anchor(**a) for k_, a in raw["anchors"].items()},
            shock_names=tuple(raw["shock_names"]),
            shock_corr=_square(raw["shock_corr"], k),
            shrinkage=float(raw["shrinkage"]), base_years=tuple(raw["base_years"]),
            observations_used=list(raw.get("observations_used", [])),
            fallbacks=tuple(raw.get("fallbacks", ())), notes=tuple(raw.get("notes", ())),
            calibrator=str(raw.get("calibrator", "")),
            not_fitted=dict(raw.get("not_fitted", {})))


def checksum(payload: dict) -> str:
    """sha256 of the canonical JSON of ``payload`` (sorted keys, no spaces), without any
    ``sha256`` key: what :meth:`FittedModel.to_json` stores and :meth:`FittedModel.load`
    verifies."""
    body = {k: v for k, v in payload.items() if k != "sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _encode(o: object) -> object:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(type(o))


def _finite(x: object) -> bool:
    return isinstance(x, (int, float, np.floating, np.integer)) and math.isfinite(float(x))


def _matrix_problems(m: np.ndarray, n: int, *, corr: bool = False) -> list[str]:
    """Shape (n, n), finite, symmetric, positive semi-definite (a correlation: unit diagonal)."""
    m = np.asarray(m)
    if m.shape != (n, n):
        return [f"shape {m.shape}, expected {(n, n)}"]
    if n == 0:
        return []
    if not np.all(np.isfinite(m)):
        return ["not finite"]
    scale = max(1.0, float(np.max(np.abs(m))))
    out = []
    if not np.allclose(m, m.T, rtol=0, atol=1e-9 * scale):
        out.append("not symmetric")
    elif float(np.min(np.linalg.eigvalsh((m + m.T) / 2))) < -1e-8 * scale:
        out.append("not positive semi-definite")
    if corr and (not np.allclose(np.diag(m), 1.0, rtol=0, atol=1e-9)
                 or np.any(np.abs(m) > 1 + 1e-12)):
        out.append("not a correlation matrix (unit diagonal, entries in [-1, 1])")
    return out


def _driver_problems(d: DriverFit, name: str, cum: tuple[str, ...]) -> list[str]:
    """What is wrong with one driver's fit (see :meth:`FittedModel.problems`)."""
    out = []
    if d.name != name:
        out.append(f"name {d.name!r} differs from its key")
    names = {"change": CHANGE_PARAMS, "iid_lognormal": RATIO_PARAMS}.get(d.kind)
    if names is None:
        return [f"kind {d.kind!r}: expected 'change' or 'iid_lognormal'"]
    if tuple(d.param_names) != names:
        out.append(f"param_names {list(d.param_names)}: expected {list(names)}")
    if d.scale not in ("log", "logit"):
        out.append(f"scale {d.scale!r}: expected 'log' or 'logit'")
    k = len(names)
    pm = np.asarray(d.param_mean)
    if pm.shape != (k,) or not np.all(np.isfinite(pm)) or np.any(np.abs(pm) > 50):
        out.append(f"param_mean: expected {k} finite values of moderate size")
    out += [f"param_cov: {m}" for m in _matrix_problems(d.param_cov, k)]
    states = ("level", "mean", "ar") + cum if d.kind == "change" else ()
    if d.kind == "change" and (tuple(d.state_names[:3]) != states[:3]
                               or set(d.state_names[3:]) != set(cum)
                               or len(d.state_names) != len(states)):
        out.append(f"state_names {list(d.state_names)}: expected {list(states)}")
    if d.kind != "change" and tuple(d.state_names):
        out.append("state_names: an iid_lognormal driver has no state")
    s = len(d.state_names)
    sm = np.asarray(d.state_mean)
    if sm.shape != (s,) or not np.all(np.isfinite(sm)):
        out.append(f"state_mean: expected {s} finite values")
    out += [f"state_cov: {m}" for m in _matrix_problems(d.state_cov, s)]
    return out


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
        fallbacks=tuple(d.get("fallbacks", ())), diagnostics=d.get("diagnostics", {}),
        information=_information_from_json(d.get("information")))


def _information_from_json(d: dict | None) -> Information | None:
    """An :class:`Information` from its JSON object (None when absent: files before it)."""
    if d is None:
        return None
    return Information(
        n_informative=int(d["n_informative"]), prior_params=tuple(d["prior_params"]),
        var_total=tuple(float(v) for v in d["var_total"]),
        var_prior=tuple(float(v) for v in d["var_prior"]), min_obs=int(d["min_obs"]),
        max_prior_share=float(d["max_prior_share"]))


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
    if d.information is not None and d.information.low_information:
        lines.append(f"{'':28s}low information: "
                     f"{d.information.describe(PLAN_TERM, fm.as_of + PLAN_TERM)}")
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
