"""``python -m sim run FILE`` — simulate every scenario of a file and write the results."""

from __future__ import annotations

from sim.errors import SimError

HELP = "simulate every scenario in a scenario file and write results/<file stem>/"


def add_arguments(p) -> None:
    p.add_argument("file", help="scenario file (TOML)")


def run(args) -> int:
    raise SimError("the Monte Carlo engine is not yet built (issue: engine and `sim run`)")
