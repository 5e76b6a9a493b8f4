"""Benchmark: per-configuration cost of a small in-process call against a large one (not a test).

Issue 11 target: a 64-configuration in-process call costs at most 2x per configuration what a
1e6-configuration call does, plus the fixed call overhead of one query::

    t(64) <= 64 x 2 x t(1e6) / 1e6 + t(1)

Measured for the two table evaluators, each compiled before it is timed (best of ``--repeat``):

* ``serve``: :func:`simulator.sweep.serve` (the serving sweep), as it pads today, and with
  ``block_rows = n`` (a call padded to the next multiple of its 256-row inner batch instead of
  4,096 rows: what power-of-two buckets with a 256-row floor would cost);
* ``train``: :func:`simulator.design_space.training.train_table` (blocks padded to the next power
  of two >= 8, :func:`~simulator.design_space.training.bucket_rows`).

    .venv/bin/python bench/bench_small_calls.py [--small 64] [--large 1000000] [--train-large 100000]
                                                [--repeat 5] [--only serve|train]

Printed per evaluator: t(1), t(small), t(large), the per-configuration costs, and whether the
target holds. Other processes on the same cores slow wall-clock times (the best of ``--repeat`` is
kept; the load average is printed).

Where the fixed cost of a small call went (cProfile, 2-core CPU) and what removed it: eager JAX
dispatch while building the stacked model / hardware tables (``stack_specs``, ``build_hw``,
``train_hardware``: one small JAX op per leaf, 35 ms for 64 serving configurations) -> NumPy tables;
resolving and stacking the same catalog entries on every call -> ``simulator.table_cache`` (per
process, catalog names only). Measured here after the change: serve t(1) 6.4 ms, t(64) 5.4 ms;
train_table t(1) 7.9 ms, t(64) 8.6 ms (both targets met; before: 35 ms and 29.8 ms).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd


def _best(fn, repeat: int) -> float:
    """Best wall time (s) of ``repeat`` calls after one untimed call (compilation, caches)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def serve_configs(n: int, seed: int = 0) -> pd.DataFrame:
    from bench_serve_sweep import configs

    return configs(n, seed)


def train_configs(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "model": rng.choice(["gpt3-175b", "llama-3-70b", "llama-3-8b"], n),
        "system": rng.choice(["dgx-a100", "dgx-h100"], n),
        "num_devices": rng.choice([64, 512, 1024], n),
        "global_batch": 1536,
        "seq_len": 2048,
        "tokens": 3e11,
        "tp": rng.choice([1, 2, 4, 8], n),
        "pp": rng.choice([1, 2, 4, 8], n),
        "micro_batch": rng.choice([1, 2], n),
        "recompute": rng.choice(["selective", "full"], n),
    })


def _report(label: str, small: int, large: int, t1: float, ts: float, tl: float) -> None:
    per_s, per_l = ts / small, tl / large
    bound = small * 2 * per_l + t1
    print(f"{label}: t(1) = {1e3 * t1:.2f} ms, t({small}) = {1e3 * ts:.2f} ms "
          f"({1e6 * per_s:.1f} us/config), t({large:,}) = {tl:.2f} s ({1e6 * per_l:.2f} us/config); "
          f"ratio per config {per_s / per_l:.0f}x; target t({small}) <= {small} x 2 x t(large)/large + t(1) "
          f"= {1e3 * bound:.2f} ms: {'met' if ts <= bound else 'NOT met'}")


def _measure(label: str, fn, one, small, large, n_small: int, n_large: int, repeat: int) -> float:
    """Time ``fn`` on 1, ``n_small`` and ``n_large`` configurations, print the report; returns t(large)."""
    t1 = _best(lambda: fn(one), repeat)
    ts = _best(lambda: fn(small), repeat)
    tl = _best(lambda: fn(large), max(1, repeat // 2))
    _report(label, n_small, n_large, t1, ts, tl)
    return tl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=64)
    ap.add_argument("--large", type=int, default=1_000_000, help="serving configurations of the large call")
    ap.add_argument("--train-large", type=int, default=100_000, help="training configurations of the large call")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--only", choices=("serve", "train"), default=None)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    if args.only in (None, "serve"):
        from simulator.sweep import serve

        one, small, large = serve_configs(1, 1), serve_configs(args.small, 2), serve_configs(args.large, 3)
        tl = _measure("serve (padding as is)", serve, one, small, large, args.small, args.large, args.repeat)
        t1b = _best(lambda: serve(one, block_rows=1), args.repeat)
        tsb = _best(lambda: serve(small, block_rows=args.small), args.repeat)
        _report("serve (block_rows = n)", args.small, args.large, t1b, tsb, tl)

    if args.only in (None, "train"):
        from simulator.design_space.training import train_table

        one, small, large = train_configs(1, 1), train_configs(args.small, 2), train_configs(args.train_large, 3)
        _measure("train_table (power-of-two buckets)", train_table, one, small, large, args.small, args.train_large,
                 args.repeat)


if __name__ == "__main__":
    main()
