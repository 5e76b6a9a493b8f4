"""Benchmark: request-level simulation speed (not a test).

1. 100,000 requests (Poisson at 4 req/s, lognormal prompts of mean 1024, 256 output tokens) on one
   deployment (llama-3.1-8b on one H100, vLLM scheduler): the deployment (one core evaluation of
   the iteration-cost table, compiled once) is built first and timed separately; then the
   simulation + summary is timed and requests/s printed. Target (issue 13): < 2 s here.
2. A capacity search (max QPS with >= 90 % of requests meeting TTFT <= 0.5 s and TPOT <= 0.05 s,
   bisection to 3 %) over 100 deployments (models x devices x tensor parallelism that fit), with
   ``--requests`` requests per probe. Target: < 1 minute.

    .venv/bin/python bench/bench_requests.py [--n 100000] [--deployments 100] [--requests 500]

The load average is printed: other processes on the same two cores slow the wall clock; the CPU
seconds of this process (``time.process_time``, all its threads) are the contention-free cost.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

MODELS = ["llama-3.2-1b", "llama-3.1-8b", "mixtral-8x7b", "qwen3-30b-a3b", "llama-3-70b"]
DEVICES = ["h100-sxm", "a100-sxm4-80gb", "h200-sxm-141gb", "mi300x", "b200", "l40s", "a100-sxm4-40gb",
           "h100-pcie-80gb"]
TPS = [1, 2, 4, 8]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--deployments", type=int, default=100)
    ap.add_argument("--requests", type=int, default=500)
    args = ap.parse_args()
    print(f"load average: {os.getloadavg()}")

    from simulator.errors import ConfigError
    from simulator.requests import synthetic
    from simulator.requests.capacity import deployment_capacity, unit_workload
    from simulator.requests.cluster import simulate_colocated
    from simulator.requests.results import summarise
    from simulator.requests.sim import deployment_for

    w = synthetic(args.n, 4.0, "lognormal:1024:0.5", "256", seed=0)
    t0 = time.perf_counter()
    dep = deployment_for("llama-3.1-8b", "h100-sxm", w, scheduler="vllm")
    t_dep = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    rec, engines = simulate_colocated(dep, w, "vllm")
    t_sim = time.perf_counter() - t0
    res = summarise(w, rec, engines, devices_per_replica=1, n_devices=1, slo_ttft_s=0.5, slo_tpot_s=0.05)
    t_all, c_all = time.perf_counter() - t0, time.process_time() - c0
    s = res.summary
    print(f"[1] {args.n} requests, {dep.name}, vllm: deployment (core table) {t_dep:.2f} s; "
          f"simulation {t_sim:.2f} s + summary {t_all - t_sim:.2f} s = {t_all:.2f} s "
          f"-> {args.n / t_all:,.0f} requests/s; CPU {c_all:.2f} s ({engines[0].iterations:,} iterations, "
          f"{len(engines[0].log):,} events); TTFT p99 {s['ttft_p99_s'] * 1e3:.1f} ms, "
          f"TPOT p99 {s['tpot_p99_s'] * 1e3:.2f} ms")

    lengths = unit_workload(args.requests, "1024", "256", seed=0)
    cands = []
    for m, d, tp in itertools.product(MODELS, DEVICES, TPS):
        cands.append((m, d, tp))
    t0, c0 = time.perf_counter(), time.process_time()
    done, skipped, probes, reach = 0, 0, 0, 0
    for m, d, tp in cands:
        if done >= args.deployments:
            break
        try:
            r = deployment_capacity(m, d, lengths, tp=tp, slo_ttft_s=0.5, slo_tpot_s=0.05)
        except ConfigError:
            skipped += 1
            continue
        done += 1
        probes += len(r.probes)
        reach += r.reachable
    t_cap, c_cap = time.perf_counter() - t0, time.process_time() - c0
    print(f"[2] capacity search over {done} deployments ({skipped} candidates skipped: do not fit or invalid "
          f"layout; {reach} reachable; {probes} simulations of {args.requests} requests): {t_cap:.1f} s "
          f"({t_cap / max(done, 1):.2f} s per deployment); CPU {c_cap:.1f} s")


if __name__ == "__main__":
    main()
