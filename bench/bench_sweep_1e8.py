"""Benchmark: a 1e8-configuration serving sweep streamed to Parquet; prints configs/s and peak memory.

    .venv/bin/python bench/bench_sweep_1e8.py                      # all 1e8 configurations
    .venv/bin/python bench/bench_sweep_1e8.py --configs 1e6        # the first 1e6 (whole chunks)

The grid (exactly 1e8 = 10 x 10 x 10 x 10 x 4 x 5 x 5 x 10 x 10): tp_overlap (10 values) x
output_len (10) x input_len (10) x batch (10) x tp (4) x weight dtype (5) x KV dtype (5) x
hardware (10 devices) x model (10). Model and hardware vary fastest, so every chunk holds all 100
(model, hardware) pairs: the first N configurations are as mixed as the whole grid. ``--configs N``
runs the first ``ceil(N / chunk)`` chunks of the same grid (the sweep stays resumable), so rates at
different N are comparable. The first chunk is run once beforehand into a scratch folder to
compile the evaluation; that warm-up is printed but not counted.

Printed: configurations evaluated and written, wall time, configurations per second, peak
resident memory of the process (``ru_maxrss``, includes the JAX runtime) and its growth over the
pre-sweep baseline, bytes on disk per configuration. The output folder is a temporary folder
deleted at the end unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

MODELS = ["llama-3.2-1b", "llama-3.2-3b", "llama-3-8b", "mistral-7b", "qwen3-14b", "qwen3-32b", "llama-3-70b",
          "mixtral-8x7b", "qwen3-30b-a3b", "llama-2-13b"]
HARDWARE = ["a100", "h100", "h200-sxm-141gb", "b200", "mi300x", "mi325x", "l40s", "gaudi3", "tpu-v5p", "sn40l"]


def bench_spec() -> dict:
    """The 1e8-configuration serving grid (as a spec dict; see the module doc)."""
    return {
        "kind": "serve",
        "name": "bench-1e8",
        "axes": {
            "tp_overlap": [0.1 * i for i in range(10)],
            "output_len": [32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048],
            "input_len": [128, 256, 512, 1024, 2048, 3072, 4096, 6144, 8192, 16384],
            "batch": {"start": 1, "stop": 512, "mul": 2},
            "tp": [1, 2, 4, 8],
            "weight_dtype": ["bf16", "fp8", "int8", "int4", "q4_0"],
            "kv_dtype": ["bf16", "fp16", "fp8", "int8", "int4"],
            "hardware": HARDWARE,
            "model": MODELS,
        },
    }


def _rss_bytes() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0  # Linux: kilobytes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=float, default=1e8, help="configurations to run (first whole chunks)")
    ap.add_argument("--chunk-size", type=int, default=1 << 20, help="configurations per chunk / part")
    ap.add_argument("--compression", default="zstd", help="Parquet compression")
    ap.add_argument("--out", default=None, help="keep the dataset here (default: temporary, deleted)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args(argv)

    from simulator.design_space import parse_spec, run_sweep

    spec = parse_spec(bench_spec(), source="bench_sweep_1e8")
    assert spec.size == 100_000_000, spec.size
    n_chunks = math.ceil(min(args.configs, spec.size) / args.chunk_size)
    tmp = None
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="simlab-bench-sweep-"))
    if args.out is None:
        tmp = out
    base_rss = _rss_bytes()
    try:
        # warm-up: compile the evaluation at the chunk shape outside the timed region (own folder)
        warm_dir = Path(tempfile.mkdtemp(prefix="simlab-bench-warm-"))
        try:
            t = time.perf_counter()
            run_sweep(spec, warm_dir, chunk_size=args.chunk_size, max_chunks=1, progress=False,
                      compression=args.compression)
            warm_s = time.perf_counter() - t
        finally:
            shutil.rmtree(warm_dir, ignore_errors=True)
        t = time.perf_counter()
        report = run_sweep(spec, out, chunk_size=args.chunk_size, max_chunks=n_chunks,
                           compression=args.compression, progress=not args.no_progress)
        wall = time.perf_counter() - t
        disk = sum(p.stat().st_size for p in out.glob("part-*.parquet"))
        peak = _rss_bytes()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    rows = report.configs_run
    figures = {
        "grid_configs": spec.size,
        "configs_run": rows,
        "chunk_size": args.chunk_size,
        "chunks_run": report.chunks_run,
        "compression": args.compression,
        "warmup_first_chunk_s": warm_s,
        "wall_s": wall,
        "configs_per_s": rows / wall if wall > 0 else float("nan"),
        "peak_rss_bytes": peak,
        "baseline_rss_bytes": base_rss,
        "parquet_bytes": disk,
        "parquet_bytes_per_config": disk / rows if rows else float("nan"),
        "extrapolated_1e8_s": spec.size / (rows / wall) if rows else float("nan"),
    }
    print(f"serving sweep: {rows:,} configurations in {wall:.1f} s -> {figures['configs_per_s']:,.0f} configs/s "
          f"(chunk {args.chunk_size:,}, {args.compression}; first-chunk warm-up {warm_s:.1f} s not counted)")
    print(f"peak memory (max RSS): {peak / 1e9:.2f} GB (baseline before the sweep {base_rss / 1e9:.2f} GB)")
    print(f"Parquet on disk: {disk / 1e9:.3f} GB ({figures['parquet_bytes_per_config']:.1f} bytes/config)")
    if rows < spec.size:
        print(f"extrapolated to 1e8 configurations at this rate: {figures['extrapolated_1e8_s'] / 60:.1f} min")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
