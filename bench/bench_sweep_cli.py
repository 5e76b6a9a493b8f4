"""End-to-end `simlab sweep` of 921,600 serving configurations (the issue asks about 800,000), process start included.

Issue 11 target: >= 1e5 configurations/s on the 2-core development machine. Writes a sweep spec
to a temporary folder, runs ``simlab sweep SPEC --out DIR`` in a fresh process (persistent caches
off, so compilation is included) and prints configurations per second.

    python bench/bench_sweep_cli.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = """kind = "serve"
name = "bench-800k"

[axes]
model = ["llama-3-8b", "llama-3-70b", "qwen3-8b", "mistral-7b", "mixtral-8x7b"]
hardware = ["h100", "a100", "mi300x", "b200", "h200"]
batch = { start = 1, stop = 256, mul = 2 }
input_len = [128, 256, 512, 1024, 2048, 4096, 8192, 16384]
output_len = [64, 128, 256, 512]
tp = [1, 2, 4, 8]
weight_dtype = ["bf16", "int4", "fp8", "int8"]
kv_dtype = ["bf16", "fp8"]
chunk = [0, 512, 1024, 2048]
"""


def main() -> None:
    simlab = Path(sys.executable).with_name("simlab")
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.toml"
        spec.write_text(SPEC)
        env = dict(os.environ, SIMLAB_NO_COMPILE_CACHE="1")
        t0 = time.perf_counter()
        out = subprocess.run([str(simlab), "sweep", str(spec), "--out", str(Path(tmp) / "out"), "--json"],
                             capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        if out.returncode != 0:
            sys.exit(f"simlab sweep failed: {out.stderr.strip()[-500:]}")
        import pyarrow.parquet as pq

        rows = sum(pq.ParquetFile(p).metadata.num_rows for p in (Path(tmp) / "out").rglob("*.parquet"))
    print(f"{rows:,} configurations in {wall:.1f} s end to end (process start and compilation included): "
          f"{rows / wall:,.0f} configurations/s (target >= 100,000/s); load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
