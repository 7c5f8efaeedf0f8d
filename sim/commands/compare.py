"""``python -m sim compare RESULTS_DIR [RESULTS_DIR...]`` — scenarios and runs side by side.

Takes one or more results folders that share targets (e.g. a baseline run and a mid-term run, or
two scenario files over the same target sets) and writes, into ``--out`` (default:
``results/compare_<folder names>``): ``compare.csv`` (P(met), Wilson interval and ΔP with its
paired or unpaired standard error per target and run/scenario), ``compare.md``, a
self-contained ``compare.html``, a dot-and-whisker chart, a heat map and the overlaid fans of
every shared target indicator with its history, and ``manifest.json``
(:mod:`sim.output.compare`; an earlier comparison in that folder is replaced, any other
non-empty folder is refused). Runs are labelled by scenario file, as_of and seed. Prints the
P(met) table and the largest differences.
"""

from __future__ import annotations

from pathlib import Path

HELP = "compare P(met) and fans across the scenarios of one or more results folders"


def add_arguments(p) -> None:
    """Arguments of ``sim compare``."""
    from sim.commands.sweep import add_wait_argument

    p.add_argument("folders", nargs="+", metavar="RESULTS_DIR",
                   help="results folders written by `sim run`")
    p.add_argument("--out", help="output folder (default: results/compare_<folder names>; replaced "
                                 "when it holds an earlier comparison)")
    p.add_argument("--no-figures", action="store_true", dest="no_figures", help="tables only")
    p.add_argument("--quiet", action="store_true", help="do not print the tables")
    add_wait_argument(p)


def run(args) -> int:
    """Write the comparison; print the P(met) table unless ``--quiet``."""
    from sim.output.compare import compare_runs, print_compare

    result = compare_runs([Path(f) for f in args.folders], Path(args.out) if args.out else None,
                          figures=not args.no_figures, wait=args.wait)
    if not args.quiet:
        print_compare(result)
    return 0
