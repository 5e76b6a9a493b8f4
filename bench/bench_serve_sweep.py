"""Benchmark: serving configurations per second of ``simulator.sweep.serve`` (not a test).

Builds a sweep of random serving configurations (models x devices x layouts x lengths x dtypes),
compiles once on a warm-up of one block, then times the full sweep end to end (DataFrame in,
DataFrame out: name resolution, validation, the jitted JAX core and result assembly) and prints
configurations per second and the time per configuration. Target on the project's 2-core CPU
machine: >= 1e6 configs/s (for scale: GenZ takes about 100 ms per prefill+decode configuration).

    .venv/bin/python bench/bench_serve_sweep.py [--n 1000000] [--repeat 3]

The load average is printed too: other processes on the same cores slow the wall-clock figure;
the CPU seconds per configuration (all threads) are the contention-free cost.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from simulator.sweep import BLOCK_ROWS, serve

MODELS = ["llama-3.1-8b", "llama-3-70b", "mixtral-8x7b", "qwen3-30b-a3b", "deepseek-v3", "llama-3.2-1b"]
DEVICES = ["h100-sxm", "a100-sxm4-80gb", "h200-sxm-141gb", "mi300x", "b200", "tpu-v5p"]


def configs(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "model": rng.choice(MODELS, n),
        "hardware": rng.choice(DEVICES, n),
        "batch": rng.integers(1, 512, n),
        "input_len": rng.integers(16, 32768, n),
        "output_len": rng.integers(1, 4096, n),
        "tp": rng.choice([1, 2, 4, 8], n),
        "pp": rng.choice([1, 1, 2], n),
        "weight_dtype": rng.choice(["bf16", "fp8", "int4"], n),
        "kv_dtype": rng.choice(["bf16", "fp8"], n),
        "chunk": rng.choice([0, 0, 2048], n),
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    df = configs(args.n)
    t0 = time.perf_counter()
    serve(configs(BLOCK_ROWS, seed=1))  # compile the large-block kernel once
    print(f"warm-up (compile) {time.perf_counter() - t0:.1f} s")
    best = None
    for _ in range(args.repeat):
        c0, t0 = os.times(), time.perf_counter()
        out = serve(df)
        wall, c1 = time.perf_counter() - t0, os.times()
        cpu = (c1.user - c0.user) + (c1.system - c0.system)
        best = wall if best is None else min(best, wall)
        print(f"{args.n:,} configs in {wall:.3f} s: {args.n / wall:,.0f} configs/s, "
              f"{1e9 * wall / args.n:.0f} ns/config wall, {1e9 * cpu / args.n:.0f} ns/config CPU "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    assert len(out) == args.n and out["tpot_s"].notna().all()
    print(f"best: {args.n / best:,.0f} configs/s ({1e9 * best / args.n:.0f} ns per configuration); "
          f"{int(out['fits'].sum()):,} of them fit in memory")


if __name__ == "__main__":
    main()
