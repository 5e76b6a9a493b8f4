"""Request-level replay of TensorRT-LLM's published max-throughput rows (not a test; prints a table).

The rows (``/work/shared/reference/measured_public.csv`` ids ``trtllm-*``, NVIDIA TensorRT-LLM
performance overview, ``trtllm-bench`` "max throughput, infinite request rate") are mapped as in
``data/validation/serving_rows.csv`` (model, device, dtypes, TP). Here they are replayed as a
request stream: ``--requests`` requests of fixed ISL/OSL all arriving at once, in-flight batching
(the ``vllm`` scheduler) with at most ``--max-batch`` 2048 running sequences (an assumption:
trtllm-bench tunes its batch limit per row and the source table does not list it; the KV room of
the deployment binds first in 6 of the 8 rows) and 8192 prompt tokens per prefill iteration.
Output tokens/s = output tokens / makespan (ramp-up and drain included, as in trtllm-bench). Each
row's serving engine (``engine`` column: ``tensorrt-llm`` since stop 21) adds its host time per step.

    .venv/bin/python bench/validate_requests_trtllm.py [--requests 4000]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

ROWS = Path(__file__).resolve().parents[1] / "data" / "validation" / "serving_rows.csv"
MEASURED = Path("/work/shared/reference/measured_public.csv")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--max-batch", type=int, default=2048)
    args = ap.parse_args()
    from simulator.requests import simulate, synthetic

    measured = {}
    if MEASURED.exists():
        measured = {r["id"]: float(r["value"]) for r in csv.DictReader(MEASURED.open())}
    errs = []
    print(f"{'row':40s} {'measured':>9s} {'simulated':>9s} {'error':>7s}  batch  kv-occ")
    for row in csv.DictReader(ROWS.open()):
        if not row["id"].startswith("trtllm"):
            continue
        isl, osl = int(row["input_len"]), int(row["output_len"])
        w = synthetic(args.requests, 1e6, str(isl), str(osl), arrival="uniform", seed=0)
        r = simulate(row["model"], row["hardware"], w, scheduler="vllm", tp=int(row["tp"]),
                     max_batch=args.max_batch, max_prefill_tokens=max(8192, isl), weight_dtype=row["weight_dtype"],
                     act_dtype=row["act_dtype"], kv_dtype=row["kv_dtype"], engine=row["engine"])
        sim = r.summary["output_tokens_per_s"]
        meas = measured.get(row["id"])
        err = (sim / meas - 1.0) if meas else float("nan")
        errs.append(abs(err))
        print(f"{row['id']:40s} {meas or float('nan'):9.0f} {sim:9.0f} {100 * err:+6.1f}%  {r.summary['batch_mean']:5.0f}"
              f"  {r.summary['kv_occupancy_mean']:.2f}")
    errs = sorted(e for e in errs if e == e)
    if errs:
        print(f"median |error| {100 * errs[len(errs) // 2]:.1f}% over {len(errs)} rows")


if __name__ == "__main__":
    main()
