"""Scaling of the distributed engine (run on demand, not a test).

1. Strong scaling: a 64-point lever sweep (8 x 8 grid of energy-intensity and carbon-factor
   shifts on the baseline of scenarios/baseline_2020.toml) x DRAWS draws, on LocalClusters of
   1, 2 and 4 single-threaded worker processes, measured in the same run; reported as
   speed-up ratios against 1 worker (cluster start-up excluded, a warm-up task per worker).
2. Client memory: peak RSS of the client process (a fresh subprocess each) reducing a run of
   N1 and N2 = 4 x N1 draws on a 2-worker cluster to met counts — flat when nothing but
   tallies comes back.

    python benchmarks/bench_scaling.py            # 64 points x 200,000 draws (hours on 2 cores)
    python benchmarks/bench_scaling.py --quick    # 64 points x 5,000 draws
    python benchmarks/bench_scaling.py --draws 20000 --workers 1 2 4
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

from sim.analysis.sweep import run_sweep
from sim.engine.dispatch import connect, draw_ranges
from sim.evaluation import evaluate_draws
from sim.paths import REPO_DIR
from sim.run.context import RunContext
from sim.scenario.spec import SweepSpec

SCENARIO = REPO_DIR / "scenarios" / "baseline_2020.toml"
TARGETS = ["co2_intensity_cum_2020_fyp13", "water_intensity_cum_2020_fyp13", "gdp_2020_fyp13"]


def _ctx(draws: int) -> RunContext:
    return RunContext.build(SCENARIO, overrides={"draws": int(draws)})


def _sweep() -> SweepSpec:
    return SweepSpec.model_validate({"levers": {
        "energy_intensity.shift_pp": {"start": -3.5, "stop": 0.0, "num": 8},
        "carbon_factor.shift_pp": {"start": -3.5, "stop": 0.0, "num": 8}}})


def scaling(draws: int, workers: list[int], points_per_task: int, chunk: int) -> dict:
    """Seconds of the 64-point sweep on a LocalCluster of each number of workers."""
    ctx = _ctx(draws)
    sweep = _sweep()
    out, ref = {}, None
    for n in workers:
        with connect(f"local:{n}") as client:
            # warm-up: every worker imports sim and loads the numba cache
            run_sweep(ctx, sweep, draws=ctx.settings.block_size // 10, scheduler=client,
                      targets=TARGETS, points_per_task=64 // n)
            t0 = time.perf_counter()
            res = run_sweep(ctx, sweep, draws=draws, scheduler=client, targets=TARGETS,
                            points_per_task=points_per_task, chunk_draws=chunk)
            dt = time.perf_counter() - t0
        if ref is None:
            ref = res.met
        assert np.array_equal(ref, res.met), "results differ between worker counts"
        out[n] = dt
        print(f"  {n} worker(s): {dt:8.1f} s  ({64 * draws / dt:,.0f} point-draws/s)", flush=True)
    return out


def memory_probe(draws: int) -> None:
    """Child process: reduce DRAWS draws of the baseline on a 2-worker cluster; print peak RSS."""
    ctx = _ctx(draws)
    ranges = draw_ranges(draws, ctx.settings.block_size, 8)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with connect("local:2") as client:
        t0 = time.perf_counter()
        acc = evaluate_draws(ctx.fitted, ctx.levers, ctx.settings, ctx.catalogue,
                             ctx.target_values, ranges, scheduler=client)
        dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"draws": draws, "n": acc.n, "peak_rss_mb": peak / 1024,
                      "before_mb": base / 1024, "seconds": dt}))


def memory(n1: int) -> list[dict]:
    """Client peak RSS at N1 and 4 x N1 draws (a fresh process each)."""
    rows = []
    for n in (n1, 4 * n1):
        cp = subprocess.run([sys.executable, __file__, "--memory-probe", str(n)],
                            capture_output=True, text=True, cwd=REPO_DIR, check=True)
        row = json.loads(cp.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"  {n:>9,} draws (6 scenarios, all targets): client peak RSS "
              f"{row['peak_rss_mb']:.0f} MB ({row['seconds']:.1f} s)", flush=True)
    return rows


def main() -> int:
    """Run the scaling and memory measurements (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="64 points x 5,000 draws; memory at 20k / 80k")
    ap.add_argument("--draws", type=int, help="draws per sweep point (default 200,000; quick 5,000)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--points-per-task", type=int, default=4)
    ap.add_argument("--chunk", type=int, help="draws per task (default one block)")
    ap.add_argument("--memory-draws", type=int, help="N1 of the memory test (N2 = 4 N1)")
    ap.add_argument("--memory-probe", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--skip-scaling", action="store_true")
    args = ap.parse_args()
    if args.memory_probe:
        memory_probe(args.memory_probe)
        return 0
    draws = args.draws or (5_000 if args.quick else 200_000)
    print(f"machine: {os.cpu_count()} cores; sweep 64 points x {draws:,} draws, "
          f"targets {', '.join(TARGETS)}")
    if not args.skip_scaling:
        times = scaling(draws, args.workers, args.points_per_task, args.chunk or 0)
        one = times.get(1)
        if one:
            for n, dt in times.items():
                print(f"  speed-up {n} vs 1 worker: {one / dt:5.2f}x  (efficiency {one / dt / n:4.0%})")
    print("client memory (peak RSS, fresh process each):")
    memory(args.memory_draws or (20_000 if args.quick else 100_000))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
