"""Benchmark of the engine kernels (run on demand, not a test).

    python benchmarks/bench_engine.py [--draws 1000000] [--json] [--skip-numpy]

In one process, on a synthetic fitted model with every driver (``sim.testing``), horizon
as_of+1..2020 (2016-2020), one scenario:

(a) ``kernels``: the numba kernel :func:`sim.engine.kernels.simulate_range` over every draw, warm
    (compiled beforehand), outputs preallocated; ``simulate_s`` is the full ``engine.simulate``
    call (allocation and packing included);
(b) ``numpy``: the same model in plain NumPy vectorised over the draws of each block
    (:func:`sim.engine.reference.simulate_rng`, the twin, same random numbers);
(c) ``rng_floor``: drawing the same normal variates with the same generator and threads
    (:func:`sim.engine.kernels.normals_floor`).

Prints ``speedup_vs_numpy = b / a``, ``ratio_to_rng_floor = a / c`` and the peak RSS; also
(a) on one thread (``kernel_1thread_s``, ``speedup_vs_numpy_1thread``), since (b) uses one core.
Timings are best-of-N with (a) and (c) interleaved; on a shared machine they still move with the
load (``loadavg_1min_at_end``).
``cold_run_s`` / ``warm_run_s``: a full ``sim run scenarios/baseline_2020.toml`` (``--run-draws``
draws, no figures) in a child process with an empty ``NUMBA_CACHE_DIR`` (first-call compile),
then again with the same cache (warm). ``default_run``: the same warm run *with* figures
(the default run of the README), repeated ``--figure-repeat`` times, each with the timings of
its ``manifest.json`` (``figures_s``, ``simulate_and_evaluate_s``, …), ``figures_le_simulate``
(the goal of issue 13: figures cost no more than the simulation) and the size of
``ensemble.nc``; ``no_figures_timings`` are the manifest timings of the warm run without
figures. ``--summaries-draws N`` also times ``sim run
--summaries-only --draws N`` and reports the child's peak RSS (``summaries_peak_rss_mb``; the
goal is < 4 GiB at 10^7 draws).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from sim.engine import kernels, reference
from sim.engine import simulation as engine
from sim.engine.rng import split_seed
from sim.paths import SCENARIOS_DIR
from sim.testing import synthetic_fitted


def _best(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its numbers (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1_000_000)
    ap.add_argument("--block-size", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--horizon", type=int, default=2020)
    ap.add_argument("--repeat", type=int, default=5, help="best of N for (a) and (c), interleaved")
    ap.add_argument("--numpy-draws", type=int, default=None,
                    help="draws for (b), scaled linearly to --draws (default: all)")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    ap.add_argument("--run-draws", type=int, default=20_000,
                    help="draws of the cold/warm full `sim run` (default 20,000)")
    ap.add_argument("--summaries-draws", type=int, default=None,
                    help="also time `sim run --summaries-only` at this many draws (e.g. 10000000)")
    ap.add_argument("--skip-runs", action="store_true", help="no full `sim run` timings")
    ap.add_argument("--figure-repeat", type=int, default=1,
                    help="how many default runs with figures to time (default 1)")
    args = ap.parse_args(argv)

    fitted = synthetic_fitted(as_of=2015)
    levers = [engine.no_levers(fitted, args.horizon)]
    p = engine.pack(fitted, levers, args.horizon)
    k0, k1 = split_seed(args.seed)
    n, bs = args.draws, args.block_size

    # warm-up (compile or load from cache)
    t0 = time.perf_counter()
    engine.simulate(fitted, levers, horizon=args.horizon, draws=10, seed=1, block_size=bs)
    kernels.normals_floor(p, k0, k1, bs, 0, 10)
    warmup_s = time.perf_counter() - t0

    out = reference.empty_outputs(p, n)
    for a in out:
        a.fill(0.0)  # touch the pages outside the timings

    # (a) and (c) alternate, best of --repeat each, so that load from other processes on the
    # machine hits both alike
    t_kernel = t_floor = float("inf")
    for _ in range(args.repeat):
        t_kernel = min(t_kernel, _best(
            lambda: kernels.simulate_range(p, k0, k1, bs, 0, n, 0, *out), 1))
        t_floor = min(t_floor, _best(
            lambda: kernels.normals_floor(p, k0, k1, bs, 0, n), 1))

    # the same kernel on one thread, for transparency (NumPy (b) runs on one core)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    t_kernel1 = _best(lambda: kernels.simulate_range(p, k0, k1, bs, 0, n, 0, *out),
                      max(1, args.repeat // 2))
    numba.set_num_threads(threads)

    t0 = time.perf_counter()
    sim = engine.simulate(fitted, levers, horizon=args.horizon, draws=n, seed=args.seed, block_size=bs)
    t_simulate = time.perf_counter() - t0
    assert np.array_equal(sim.delta, out[0])
    del sim

    nn = args.numpy_draws or n
    t0 = time.perf_counter()
    reference.simulate_rng(p, k0, k1, bs, nn, out=tuple(a[..., :nn, :] if a.ndim == 4 else a for a in out)
                           if nn == n else None)
    t_numpy = (time.perf_counter() - t0) * (n / nn)

    res = {
        "draws": n,
        "block_size": bs,
        "threads": numba.get_num_threads(),
        "drivers": len(p.par_mean),
        "years": int(p.shift.shape[2]),
        "normals_per_draw": int(p.n_var),
        "kernel_s": round(t_kernel, 4),
        "kernel_1thread_s": round(t_kernel1, 4),
        "simulate_s": round(t_simulate, 4),
        "numpy_s": round(t_numpy, 4),
        "numpy_draws_timed": nn,
        "rng_floor_s": round(t_floor, 4),
        "speedup_vs_numpy": round(t_numpy / t_kernel, 2),
        "ratio_to_rng_floor": round(t_kernel / t_floor, 3),
        "speedup_vs_numpy_1thread": round(t_numpy / t_kernel1, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "warmup_s": round(warmup_s, 3),
        "loadavg_1min_at_end": os.getloadavg()[0],
    }
    if not args.skip_runs:
        res.update(full_runs(args.run_draws, args.summaries_draws, args.figure_repeat))
    if args.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:>20}: {v}")
    return 0


def _child_run(argv, env) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MB) of ``python -m sim run ...`` in a child process."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sim", "run", *argv], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"sim run failed ({proc.returncode}):\n{proc.stderr}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # max over children so far
    return wall, usage.ru_maxrss / 1024


def _manifest_timings(folder: Path) -> dict:
    """The ``timings`` of a results folder's ``manifest.json``."""
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("timings", {})


def figure_runs(scenario: str, run_draws: int, env: dict, tmp: Path, repeat: int) -> list[dict]:
    """``repeat`` warm default runs with figures: wall, manifest timings, figures ≤ simulation."""
    runs = []
    for _ in range(repeat):
        folder = tmp / "with_figures"
        wall, _ = _child_run([scenario, "--draws", str(run_draws), "--quiet", "--force",
                              "--out", str(folder)], env)
        t = _manifest_timings(folder)
        runs.append({"run_s": round(wall, 2), **t,
                     "figures_le_simulate": t.get("figures_s", 0) <= t.get("simulate_and_evaluate_s", 0),
                     "figures": len(list((folder / "figures").glob("*.png"))),
                     "ensemble_nc_mb": round((folder / "ensemble.nc").stat().st_size / 1e6, 1),
                     "loadavg_1min": os.getloadavg()[0]})
    return runs


def full_runs(run_draws: int, summaries_draws: int | None, figure_repeat: int = 1) -> dict:
    """Cold (empty numba cache) and warm full runs, the default run with figures; optionally a
    --summaries-only run."""
    scenario = str(SCENARIOS_DIR / "baseline_2020.toml")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / "numba_cache"))
        common = [scenario, "--draws", str(run_draws), "--no-figures", "--quiet", "--force",
                  "--out", str(Path(tmp) / "out")]
        cold, _ = _child_run(common, env)
        warm, _ = _child_run(common, env)
        out = {"run_draws": run_draws, "cold_run_s": round(cold, 2), "warm_run_s": round(warm, 2),
               "no_figures_timings": _manifest_timings(Path(tmp) / "out"),
               "default_run": figure_runs(scenario, run_draws, env, Path(tmp), figure_repeat)}
        if summaries_draws:
            wall, _ = _child_run([scenario, "--draws", str(summaries_draws), "--summaries-only",
                                  "--no-figures", "--quiet", "--force",
                                  "--out", str(Path(tmp) / "big")], env)
            out.update(summaries_draws=summaries_draws, summaries_run_s=round(wall, 1),
                       summaries_peak_rss_mb=round(
                           resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
