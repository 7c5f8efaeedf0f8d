"""``python -m sim warmup`` — compile the engine's kernels into numba's on-disk cache.

A planner's first ``sim run`` then loads machine code instead of waiting for the compiler.
The cache lives next to the package (``sim/__pycache__``) unless ``NUMBA_CACHE_DIR`` is set.
"""

from __future__ import annotations

import time

HELP = "compile the simulation kernels ahead of time (numba cache), so the first run starts fast"


def add_arguments(p) -> None:
    p.add_argument("--quiet", action="store_true", help="print nothing")


def warmup() -> float:
    """Run every kernel once on a tiny synthetic model; return the seconds taken."""
    t0 = time.perf_counter()
    import numpy as np

    from sim.engine import kernels, simulation as engine
    from sim.engine.rng import split_seed
    from sim.testing import synthetic_fitted

    fitted = synthetic_fitted(as_of=2015)
    levers = [engine.no_levers(fitted, 2017)]
    engine.simulate(fitted, levers, horizon=2017, draws=8, seed=0, block_size=4)
    p = engine.pack(fitted, levers, 2017)
    k0, k1 = split_seed(0)
    kernels.normals_floor(k0, k1, 4, 0, 4, p.n_var, p.g_start)
    from sim.engine.reference import empty_outputs

    kernels.simulate_injected(p, np.zeros((2, p.n_var)), *empty_outputs(p, 2))
    return time.perf_counter() - t0


def run(args) -> int:
    seconds = warmup()
    if not args.quiet:
        import numba

        print(f"kernels ready in {seconds:.1f} s (numba {numba.__version__}, "
              f"{numba.get_num_threads()} threads; cached for later runs)")
    return 0
