"""``python -m sim warmup`` — compile the engine's kernels into numba's on-disk cache.

A planner's first ``sim run`` then loads machine code instead of waiting for the compiler.
The cache lives next to the package (``sim/__pycache__``) unless ``NUMBA_CACHE_DIR`` is set.
"""

from __future__ import annotations

import time

HELP = "compile the simulation kernels ahead of time (numba cache), so the first run starts fast"


def add_arguments(p) -> None:
    """The flags of ``sim warmup``."""
    p.add_argument("--quiet", action="store_true", help="print nothing")


def warmup() -> float:
    """Run every kernel once on a tiny synthetic model, through the engine; return the seconds."""
    t0 = time.perf_counter()
    from sim.engine import simulation as engine
    from sim.testing import synthetic_fitted

    fitted = synthetic_fitted(as_of=2015)
    levers = [engine.no_levers(fitted, 2017)]
    engine.simulate(fitted, levers, horizon=2017, draws=8, seed=0, block_size=4)
    n_var = int(engine.pack(fitted, levers, 2017).n_var)
    engine.simulate_given_normals(fitted, levers, engine.run_normals(0, 4, 0, 2, n_var),
                                  horizon=2017)
    return time.perf_counter() - t0


def run(args) -> int:
    """Compile the kernels; say how long it took."""
    seconds = warmup()
    if not args.quiet:
        import numba

        print(f"kernels ready in {seconds:.1f} s (numba {numba.__version__}, "
              f"{numba.get_num_threads()} threads; cached for later runs)")
    return 0
