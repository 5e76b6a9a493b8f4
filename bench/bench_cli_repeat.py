"""Benchmark: repeated CLI queries with and without the persistent JAX compilation cache (not a test).

Runs the same ``simlab`` query several times as fresh processes (what a user typing it again gets)
and prints each wall time, the ratio of the 2nd (and later) call to the 1st, and the ratio to the
start-up floor ``python -c "import jax"``. Issue 11's target: later ``predict serve`` /
``predict train`` calls at most 1.5x ``import jax``. Two modes:

* ``cache``: ``SIMLAB_COMPILE_CACHE_DIR`` points at a fresh temporary folder (the first call fills
  it, later calls load compiled executables from it; see :mod:`simulator.jax_setup`);
* ``no-cache``: ``SIMLAB_NO_COMPILE_CACHE=1`` (every call compiles again).

    .venv/bin/python bench/bench_cli_repeat.py [--repeat 3] [--query serve|train|tts]

Wall-clock times depend on the load of the machine (printed); the CPU seconds (user + sys of each
child process) much less so. Compare ratios measured together.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUERIES = {
    "serve": ["predict", "serve", "--model", "llama-3-70b", "--hardware", "h100-sxm", "--tp", "4", "--batch", "32",
              "--input", "2048", "--output", "256"],
    "train": ["predict", "train", "--model", "gpt3-175b", "--system", "dgx-a100", "--gpus", "1024", "--tp", "8",
              "--pp", "8", "--global-batch", "1536", "--seq", "2048", "--tokens", "300e9"],
    "tts": ["predict", "tts", "--family", "qwen3", "--hardware", "b200", "--budget-s", "60"],
}


def _simlab() -> list[str]:
    exe = Path(sys.executable).with_name("simlab")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "cli.main"]


CPU: list[float] = []  # CPU seconds (user + sys) of each timed child, in call order


def _time(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run of ``cmd``; its CPU seconds are appended to :data:`CPU`."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip().splitlines()[-1:]}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="calls per mode (the first one is the cold call)")
    ap.add_argument("--query", choices=sorted(QUERIES), default="serve")
    args = ap.parse_args()
    base = {k: v for k, v in os.environ.items()
            if k not in ("SIMLAB_NO_COMPILE_CACHE", "SIMLAB_COMPILE_CACHE_DIR", "JAX_COMPILATION_CACHE_DIR")}
    base.setdefault("JAX_PLATFORMS", "cpu")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; query: simlab {' '.join(QUERIES[args.query])}")
    jax_s = min(_time([sys.executable, "-c", "import jax"], base) for _ in range(3))
    jax_cpu = min(CPU[-3:])
    print(f"python -c 'import jax': {jax_s:.2f} s wall, {jax_cpu:.2f} s CPU (best of 3)")
    tmp = tempfile.mkdtemp(prefix="simlab-bench-jaxcache-")
    try:
        modes = {"no-cache": {**base, "SIMLAB_NO_COMPILE_CACHE": "1"},
                 "cache": {**base, "SIMLAB_COMPILE_CACHE_DIR": tmp}}
        for mode, env in modes.items():
            times = [_time(_simlab() + QUERIES[args.query], env) for _ in range(args.repeat)]
            cpu = CPU[-args.repeat:]
            later = min(times[1:]) if len(times) > 1 else float("nan")
            later_cpu = min(cpu[1:]) if len(cpu) > 1 else float("nan")
            print(f"{mode:9s} wall: {', '.join(f'{t:.2f}' for t in times)} s; later/1st = {later / times[0]:.2f}; "
                  f"later/import jax = {later / jax_s:.2f}")
            print(f"{'':9s} CPU:  {', '.join(f'{t:.2f}' for t in cpu)} s; later/1st = {later_cpu / cpu[0]:.2f}; "
                  f"later/import jax = {later_cpu / jax_cpu:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
