"""``python -m sim calibrate`` — fit every driver on the history known as of a year and write the
fitted model (JSON, :meth:`sim.model.FittedModel.save`) with a short summary on stdout."""

from __future__ import annotations

import math
from pathlib import Path

from sim.errors import SimError

HELP = "fit every driver on history up to --as-of and write calibration/fitted/fitted_asof<Y>_<vintage>.json"


def add_arguments(p) -> None:
    p.add_argument("--as-of", type=int, default=None, metavar="YEAR",
                   help="last year of information (default: the latest year with GDP data)")
    p.add_argument("--vintage", choices=("first", "revised"), default="revised",
                   help="GDP values as first published or as revised (default: revised)")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="history data directory (default: the bundled calibration/data)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="where to write the fitted model (default: calibration/fitted)")


def default_as_of(history) -> int:
    f = history.frame
    gdp = f[f["series"].isin(["gdp_real", "gdp_nominal"])]
    if gdp.empty:
        raise SimError("no GDP observations (gdp_real or gdp_nominal) in the data; "
                       "give --as-of YEAR")
    return int(gdp["year"].max())


def run(args) -> int:
    from sim.calibrate.fit import calibrate
    from sim.history import load_history
    from sim.model import fitted_filename
    from sim.paths import DEFAULT_FITTED_DIR

    history = load_history(args.data)
    as_of = args.as_of if args.as_of is not None else default_as_of(history)
    first = int(history.frame["year"].min())
    if as_of < first:
        raise SimError(f"--as-of {as_of} is before the first observation ({first})")
    fm = calibrate(history, as_of, args.vintage)
    out = Path(args.out) if args.out else DEFAULT_FITTED_DIR
    try:
        path = fm.save(out / fitted_filename(as_of, args.vintage))
    except OSError as exc:
        raise SimError(f"cannot write the fitted model to {out}: {exc}") from None
    print(summary(fm, history.data_dir))
    print(f"\nwrote {path}")
    return 0


# ---------------------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return f"{100 * (math.exp(x) - 1):+.1f}%"


def _history_items(fm, name: str, max_annual: int = 5) -> list[str]:
    """Historical values behind a driver: annual changes (last few), level-to-level changes,
    cumulative windows (with the constant annual rate); ``*`` marks derived observations."""
    rows = [r for r in fm.observations_used if r.get("driver") == name]
    annual, cums, levels = [], [], {}
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
    annual = [s for _, s in sorted(annual)][-max_annual:]
    cums = [s for _, s in sorted(cums)][-3:]
    return annual + cums


def summary(fm, data_dir=None) -> str:
    """Human-readable summary of a fitted model (one block per driver)."""
    lines = [f"calibration as of {fm.as_of}, vintage {fm.vintage}"
             + (f", data {data_dir}" if data_dir else "") + f" (hash {fm.data_hash[:12]})",
             f"base years {', '.join(map(str, fm.base_years))}; mean change = exp(m)-1 at "
             f"{fm.as_of} ± 1 sd (state and parameter uncertainty); history: annual changes, "
             f"cumulative windows; * derived from other series, ᴸ from two levels", ""]
    head = f"{'series':26s} {'mean change/yr':>18s} {'phi':>5s} {'σ_noise':>8s} {'σ_level':>8s} {'n_obs':>5s}"
    lines += [head, "-" * len(head)]
    for name, d in fm.drivers.items():
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
    not_fitted = [f for f in fm.fallbacks if ": not fitted" in f]
    if not_fitted:
        lines += ["", f"not fitted ({len(not_fitted)}):"]
        lines += ["  " + f.replace(": not fitted (generic indicator): ", ": ")
                  .replace(": not fitted (driver): ", ": ")
                  .replace("; targets on it are not evaluable", "") for f in not_fitted]
        lines.append("  (targets on these series are not evaluable)")
    lines += ["", f"shock correlation over {len(fm.shock_names)} drivers, shrinkage lambda "
                  f"{fm.shrinkage:.2f}"]
    lines += [f"note: {n}" for n in fm.notes if n.startswith(("shock", "measurement"))]
    return "\n".join(lines)
