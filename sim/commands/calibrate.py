"""``python -m sim calibrate`` — fit every driver on the history known as of a year and write the
fitted model (JSON, :meth:`sim.model.FittedModel.save`) with a short summary on stdout.

The fit goes into the calibration cache (:func:`sim.calibrate.cache.default_cache_dir`:
``$SIM_CACHE_DIR``, else ``~/.cache/sim/fitted``), where ``sim run`` finds and reuses it, or
into ``--out DIR``; never silently into the repository. The file
``fitted_asof<Y>_<vintage>.json`` is replaced atomically (written aside, then renamed): the
folder is a cache shared with other fits, so it is not a results folder replaced whole."""

from __future__ import annotations

from pathlib import Path

from sim.errors import SimError

HELP = ("fit every driver on history up to --as-of and write fitted_asof<Y>_<vintage>.json into "
        "the calibration cache (or --out DIR)")


def add_arguments(p) -> None:
    """The flags of ``sim calibrate``."""
    p.add_argument("--as-of", type=int, default=None, metavar="YEAR",
                   help="last year of information (default: the latest year with GDP data)")
    p.add_argument("--vintage", choices=("first", "revised"), default="revised",
                   help="GDP values as first published or as revised (default: revised)")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="history data directory (default: the bundled calibration/data)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="folder to write the fitted model into (default: the calibration cache, "
                        "$SIM_CACHE_DIR or ~/.cache/sim/fitted, where `sim run` reuses it)")


def add_cache_arguments(p, *, cache_dir: bool = True) -> None:
    """``--no-cache`` (and ``--cache DIR`` when ``cache_dir``) of a command that calibrates."""
    group = p.add_mutually_exclusive_group()
    if cache_dir:
        group.add_argument("--cache", metavar="DIR",
                           help="calibration cache (default: $SIM_CACHE_DIR, else "
                                "~/.cache/sim/fitted); a fit is reused when data, code and "
                                "as_of match")
    group.add_argument("--no-cache", action="store_true", dest="no_cache",
                       help="calibrate afresh: neither read nor write the calibration cache")


def default_as_of(history) -> int:
    """The latest year with a GDP observation (the default ``--as-of``)."""
    f = history.frame
    gdp = f[f["series"].isin(["gdp_real", "gdp_nominal"])]
    if gdp.empty:
        raise SimError("no GDP observations (gdp_real or gdp_nominal) in the data; "
                       "give --as-of YEAR")
    return int(gdp["year"].max())


def run(args) -> int:
    """Calibrate, write the fit, print its summary."""
    from sim.calibrate.cache import default_cache_dir
    from sim.calibrate.fit import calibrate
    from sim.history import load_history
    from sim.model import fitted_filename

    history = load_history(args.data)
    as_of = args.as_of if args.as_of is not None else default_as_of(history)
    first = int(history.frame["year"].min())
    if as_of < first:
        raise SimError(f"--as-of {as_of} is before the first observation ({first})")
    fm = calibrate(history, as_of, args.vintage)
    out = Path(args.out) if args.out else default_cache_dir()
    try:
        path = fm.save(out / fitted_filename(as_of, args.vintage))
    except OSError as exc:
        raise SimError(f"cannot write the fitted model to {out}: {exc}") from None
    print(fm.summary(history.data_dir))
    where = "" if args.out else " (the calibration cache; set SIM_CACHE_DIR or --out to change)"
    print(f"\nwrote {path}{where}")
    return 0
