"""``python -m sim report RESULTS_DIR`` — rebuild tables, figures and report.html from ensemble.nc.

Nothing is simulated: the targets are re-evaluated on the stored ensemble (``targets.csv``,
``joint.csv``), then figures, the evaluation table (CSV, Markdown, XLSX, HTML) and the
self-contained ``report.html`` are written again (:mod:`sim.output.rebuild`; the folder is
replaced in one step, a failure leaves it as it was). Only a folder sim wrote is rewritten.
"""

from __future__ import annotations

from pathlib import Path

HELP = "rebuild targets, tables, figures and report.html of a results folder from its ensemble.nc"


def add_arguments(p) -> None:
    """Arguments of ``sim report``."""
    from sim.commands.sweep import add_wait_argument

    p.add_argument("folder", help="results folder written by `sim run` (holds ensemble.nc)")
    p.add_argument("--data", help="history data directory for the observed part of the charts "
                                  "(default: the run's, from manifest.json, else calibration/data)")
    p.add_argument("--no-figures", action="store_true", dest="no_figures",
                   help="tables and report only (faster)")
    p.add_argument("--quiet", action="store_true", help="no summary")
    add_wait_argument(p)


def run(args) -> int:
    """Rebuild the folder; print the P(met) summary unless ``--quiet``."""
    from sim.output.rebuild import rebuild
    from sim.output.summary import print_summary

    out = rebuild(Path(args.folder), data_dir=args.data,
                  figures=False if args.no_figures else None, wait=args.wait)
    if not args.quiet:
        print_summary(out["table"], out["folder"])
        t = out["timings"]
        print(f"Rebuilt {len(out['files'])} files in {out['folder']} "
              f"(evaluate {t.get('evaluate_s', 0):.1f} s, figures {t.get('figures_s', 0):.1f} s, "
              f"tables {t.get('tables_s', 0):.1f} s, report {t.get('report_s', 0):.1f} s); "
              f"open {Path(out['folder']) / 'report.html'}")
    return 0
