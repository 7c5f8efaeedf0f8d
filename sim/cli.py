"""Command-line front door: ``python -m sim COMMAND ...`` (also the ``sim`` console script).

Each command lives in its own module ``sim.commands.<name>`` exposing::

    HELP: str                                  # one line for ``--help``
    def add_arguments(parser) -> None          # its flags
    def run(args) -> int                       # exit code

Heavy imports (numba, statsmodels, xarray) happen inside ``run`` so ``--help`` stays fast.

The exit-code contract (every command, never a traceback unless ``SIM_DEBUG=1``):

* 0 — done (``sim solve`` exits 1 when no lever value reaches the probability);
* 2 — a user or environment error, one message on stderr ``sim COMMAND: error: ...``:
  :class:`sim.errors.SimError` (bad input, refused output folder, folder locked by another
  run, ...), an :class:`OSError` (``PATH: strerror``: missing or unreadable file, read-only
  or full disk, a folder where a file was expected), a :class:`RecursionError` (input
  nested too deeply), and argparse's own usage errors;
* 1 — an internal fault: ``sim COMMAND: internal error: TYPE: message (run with SIM_DEBUG=1
  for the traceback)``;
* 130 — interrupted (Ctrl-C); nothing half-written is left.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import traceback
from typing import Sequence

from sim.version import __version__
from sim.errors import SimError

# Order shown in --help.
COMMANDS = (
    "run",
    "validate",
    "schema",
    "targets",
    "data",
    "calibrate",
    "warmup",
    "report",
    "compare",
    "backtest",
    "sweep",
    "solve",
    "sensitivity",
)


def build_parser() -> argparse.ArgumentParser:
    """The ``sim`` parser with one subcommand per module of ``sim.commands``."""
    parser = argparse.ArgumentParser(
        prog="sim",
        description=(
            "How likely is each planning target to be met, under each policy scenario, "
            "given the data known as of a chosen year."
        ),
        epilog="Start with: python -m sim run scenarios/baseline_2020.toml",
    )
    parser.add_argument("--version", action="version", version=f"sim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"sim.commands.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code (2 for a user error, 1 for an internal fault, 130 when
    interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    code = _run(args)
    if argv is None and code != 0:   # the real command line, not a caller in Python
        _exit_past_broken_hdf5(code)
    return code


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command: its exit code, every failure reported in one message."""
    prefix = f"sim {args.command}"
    try:
        check_path_arguments(args)
        return int(args._run(args) or 0)
    except SimError as exc:
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted; nothing was written over.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `sim targets | head`
        return 0
    except RecursionError:
        _debug()
        where = _input_named(args)
        print(f"{prefix}: error: {where + ': ' if where else ''}input nested too deeply "
              "(more levels of brackets or tables than sim reads)", file=sys.stderr)
        return 2
    except OSError as exc:
        _debug()
        print(f"{prefix}: error: {os_error_text(exc, summaries_hint=_may_keep_summaries(args))}",
              file=sys.stderr)
        return 2
    except Exception as exc:
        _debug()
        text = " ".join(str(exc).split())[:500]
        print(f"{prefix}: internal error: {type(exc).__name__}: {text} (run with SIM_DEBUG=1 "
              "for the traceback)", file=sys.stderr)
        return 1


#: argument (dest) -> how the user wrote it, for every option or operand naming a path
PATH_ARGUMENTS = {"out": "--out", "data": "--data", "cache": "--cache", "json_out": "--json",
                  "file": "FILE", "folder": "RESULTS_DIR", "folders": "RESULTS_DIR"}


def check_path_arguments(args: argparse.Namespace) -> None:
    """SimError for a path given as an empty string (``--out ''``): it would silently mean the
    default folder, or the current one."""
    for dest, flag in PATH_ARGUMENTS.items():
        value = getattr(args, dest, None)
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and not v.strip():
                raise SimError(f"{flag} {v!r}: expected a path, got an empty name (omit "
                               f"{flag} out for the default)" if flag.startswith("--") else
                               f"{flag} {v!r}: expected a path, got an empty name")


def os_error_text(exc: OSError, summaries_hint: bool = True) -> str:
    """``PATH: strerror`` (``PATH -> PATH2`` for a rename) with a hint for a full disk
    (``--summaries-only`` in it when ``summaries_hint``)."""
    what = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    text = f"{' -> '.join(names)}: {what}" if names else what
    if exc.errno == errno.ENOSPC or "No space left" in text:
        text += (" (free some space, write elsewhere with --out, or use --summaries-only)"
                 if summaries_hint else " (free some space, or write elsewhere with --out)")
    return text


def _may_keep_summaries(args: argparse.Namespace) -> bool:
    """The command has ``--summaries-only`` and it was not given."""
    return hasattr(args, "summaries_only") and not args.summaries_only


def _input_named(args: argparse.Namespace) -> str:
    """The input file(s) of the command, for a message."""
    for key in ("file", "files", "folder", "folders"):
        v = getattr(args, key, None)
        if v:
            return ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
    return ""


def _exit_past_broken_hdf5(code: int) -> None:
    """End the process now when a failed write left HDF5 objects open (a full disk): HDF5's own
    clean-up at interpreter exit would try to flush them again and crash (exit 139). Every
    file sim writes has been closed or removed by then; stdout and stderr are flushed."""
    h5py = sys.modules.get("h5py")
    try:
        leaked = h5py is not None and len(h5py.h5f.get_obj_ids()) > 0
    except Exception:
        leaked = True
    if leaked:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _debug() -> None:
    """The traceback on stderr when ``SIM_DEBUG`` is set."""
    if os.environ.get("SIM_DEBUG", "") not in ("", "0"):
        traceback.print_exc()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
