"""``python -m sim validate FILE...`` — check scenario files; report every problem of every file."""

from __future__ import annotations

import sys

from sim.errors import ProblemList, SimError

HELP = "check scenario files (TOML) and list every problem: FILE: key.path: what is wrong"


def add_arguments(p) -> None:
    """The flags of ``sim validate``."""
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario file(s) to check")


def run(args) -> int:
    """Check every file; exit 2 if any has a problem."""
    from sim.scenario.read import load_scenario_file

    failed = False
    for file in args.files:
        try:
            sf = load_scenario_file(file)
        except ProblemList as exc:
            failed = True
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            continue
        except SimError as exc:  # e.g. the target catalogue cannot be read
            failed = True
            print(f"{file}: {exc}", file=sys.stderr)
            continue
        except RecursionError:
            failed = True
            print(f"{file}: input nested too deeply (more levels of brackets or tables than "
                  "sim reads)", file=sys.stderr)
            continue
        n = len(sf.scenarios)
        print(f"{file}: ok ({n} scenario{'s' if n != 1 else ''})")
    return 2 if failed else 0
