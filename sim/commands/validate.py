"""``python -m sim validate [FILE...] [--data DIR]`` — check scenario files and a data directory.

Every problem of every file is reported. ``--data DIR`` checks a data directory exactly as a run
reads it (:func:`sim.declared.check.read_data_dir`: observation files, ``series.csv``,
``targets.csv``, ``breaks.csv``, plan records, non-regular files) with ``FILE: line N: column:
what is wrong`` messages; the scenario files are then read against that directory's catalogue
(``[target_values]`` may name a target it declares) and their levers against its history.

A file that reads cleanly is then checked against the history a run would calibrate on: a
lever or shock on a driver with no history up to the file's as_of would be dropped by
``sim run``, so it is reported as ``FILE: warning: ...`` (the file is still valid, exit 0).
"""

from __future__ import annotations

import sys

from sim.errors import ProblemList, SimError

HELP = "check scenario files (TOML) and list every problem: FILE: key.path: what is wrong"


def add_arguments(p) -> None:
    """The flags of ``sim validate``."""
    p.add_argument("files", nargs="*", metavar="FILE", help="scenario file(s) to check")
    p.add_argument("--data", metavar="DIR", help="also check a data directory (observations, "
                                                 "series.csv, targets.csv)")


def _check_data(args):
    """``(history, failed)`` of ``--data DIR`` (``(None, False)`` without it), every problem
    printed: the one reading a run makes (:func:`sim.declared.check.read_data_dir`)."""
    from sim.declared.check import read_data_dir

    if not args.data:
        return None, False
    history, problems = read_data_dir(args.data)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{args.data}: ok")
    return history, bool(problems)


def run(args) -> int:
    """Check every file; exit 2 if any has a problem (warnings alone exit 0)."""
    from sim.run.context import ignored_levers
    from sim.scenario.read import load_scenario_file

    if not args.files and not args.data:
        raise SimError("nothing to check (expected scenario files, --data DIR, or both)")
    history, failed = _check_data(args)
    if failed and args.files:
        print(f"{args.data}: scenario files not checked (the data directory has problems)",
              file=sys.stderr)
        return 2
    catalogue = history.catalogue() if history is not None else None
    for file in args.files:
        try:
            sf = load_scenario_file(file, catalogue=catalogue)
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
        try:
            warnings = [f"{m} (a run leaves it out)" for m in ignored_levers(sf, history=history)]
        except SimError as exc:  # the history cannot be calibrated at the file's as_of
            warnings = [f"levers not checked against the history: {exc}"]
        for msg in warnings:
            print(f"{file}: warning: {msg}", file=sys.stderr)
        n = len(sf.scenarios)
        print(f"{file}: ok ({n} scenario{'s' if n != 1 else ''}"
              f"{f', {len(warnings)} warning' + ('s' if len(warnings) != 1 else '') if warnings else ''})")
    return 2 if failed else 0
