"""Command-line front door: ``python -m sim COMMAND ...`` (also the ``sim`` console script).

Each command lives in its own module ``sim.commands.<name>`` exposing::

    HELP: str                                  # one line for ``--help``
    def add_arguments(parser) -> None          # its flags
    def run(args) -> int                       # exit code

Heavy imports (numba, statsmodels, xarray) happen inside ``run`` so ``--help`` stays fast.
User errors (:class:`sim.errors.SimError`) print as ``sim: error: ...`` and exit 2, never as a
traceback; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from sim import __version__
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
    """Run one command; its exit code (2 for a user error, 130 when interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except SimError as exc:
        print(f"sim {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"sim {args.command}: interrupted; nothing was written over.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `sim targets | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
