"""Draw figure jobs in parallel: a spawn-started process pool, or serially in this process.

A job (:mod:`sim.output.drawing`) is plain data, so a worker imports only numpy, matplotlib, PIL
and :mod:`sim.output.drawing` (never the simulation or evaluation code). Jobs are submitted as
the caller produces them (the parent computes the next fan's quantiles while workers draw), and
the files are the same bytes as drawn serially (same code, same font, same Agg renderer).

``SIM_FIGURE_WORKERS`` sets the number of worker processes (``1``: draw serially in this
process); the default is the CPUs this process may use, at most 4, when workers can start
safely: a spawned worker re-runs the main script unless it is a package's ``__main__``
(``python -m sim``) or guarded by ``if __name__ == "__main__":`` (the ``sim`` console script
is), so from an unguarded script the figures are drawn in this process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

from sim.errors import SimError
from sim.output.drawing import Job, draw

MAX_WORKERS = 4


def figure_workers() -> int:
    """Worker processes for the figures: ``$SIM_FIGURE_WORKERS``, else the usable CPUs (≤ 4)."""
    value = os.environ.get("SIM_FIGURE_WORKERS", "").strip()
    if value:
        try:
            n = int(value)
        except ValueError:
            raise SimError(f"SIM_FIGURE_WORKERS={value!r}: expected a whole number of processes "
                           "(1 = draw in this process)") from None
        if n < 1:
            raise SimError(f"SIM_FIGURE_WORKERS={value!r}: expected at least 1")
        return n
    if not main_can_spawn():
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cpus))


def main_can_spawn() -> bool:
    """Whether a spawned worker can start without re-running this program: the main module is
    a package's ``__main__`` (``python -m sim``, never re-run), interactive (no file), or a
    script with an ``if __name__ == "__main__":`` guard."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and str(spec.name).endswith("__main__"):
        return True
    path = getattr(main, "__file__", None)
    if path is None:
        return True
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "__name__ == '__main__'" in text or '__name__ == "__main__"' in text


def draw_jobs(jobs: Iterable[Job], workers: int | None = None) -> list[str]:
    """Draw every job (each into its ``path``); return the paths in job order.

    ``workers``: processes (default :func:`figure_workers`); 1 draws here, one after another.
    A job that fails stops the drawing with a :class:`SimError` naming its file; the pool is
    shut down (pending jobs cancelled) on any error or interrupt.
    """
    n = figure_workers() if workers is None else int(workers)
    if n <= 1:
        return [_draw_here(job) for job in jobs]
    futures: list[tuple[str, Future]] = []
    pool = ProcessPoolExecutor(max_workers=n, mp_context=_context())
    try:
        for job in jobs:
            futures.append((str(job["path"]), pool.submit(draw, job)))
        return [_result(path, f) for path, f in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _context():
    """Where workers come from: a fork server started fresh (never a fork of this process,
    which may hold numba or dask threads) that has imported the drawing code once, so each
    worker starts as a copy of it instead of importing matplotlib again (spawn where there is no
    fork server)."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return get_context("spawn")
    ctx = get_context("forkserver")
    ctx.set_forkserver_preload(["sim.output.drawing", "matplotlib.figure",
                                "matplotlib.backends.backend_agg", "PIL.Image"])
    return ctx


def _draw_here(job: Job) -> str:
    try:
        return draw(job)
    except OSError:   # a full or read-only disk: the CLI's message names the file
        raise
    except Exception as exc:
        raise SimError(f"figure {job.get('path')}: {type(exc).__name__}: {exc}") from exc


def _result(path: str, future: Future) -> str:
    """The path a worker drew, or a SimError naming the figure."""
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise SimError(f"figure {path}: a figure worker process died ({exc}); "
                       "set SIM_FIGURE_WORKERS=1 to draw in one process") from exc
    except OSError:
        raise
    except Exception as exc:
        raise SimError(f"figure {path}: {type(exc).__name__}: {exc}") from exc
