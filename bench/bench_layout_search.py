"""Layouts evaluated per second by the training layout search (``simlab predict train --search``).

Enumerates every valid layout of GPT-3 175B on DGX A100 nodes for several device counts (with
context parallelism and CPU/NVMe offload enabled to make the set large), evaluates them with the
jitted vectorised step model, and reports layouts/s excluding the one-off compilation (which is
reported separately). Target: >= 1e5 layouts/s on this machine (Calculon: about 2.3 ms/layout).

Run: ``.venv/bin/python bench/bench_layout_search.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

os.environ.setdefault("JAX_PLATFORMS", "cpu")


def main() -> None:
    from hardware_db import load_system
    from simulator.models import load_model
    from simulator.training import Layout, TrainOptions, enumerate_layouts, train_hardware
    from simulator.training.layouts import _evaluate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="gpt3-175b")
    ap.add_argument("--system", default="dgx-a100")
    ap.add_argument("--gpus", type=int, nargs="+", default=[1024, 2048, 3072])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    spec = load_model(args.model)
    opts = TrainOptions()
    parts = []
    for n in args.gpus:
        hw = train_hardware(load_system(args.system).for_devices(n), opts.dtype)
        parts.append(enumerate_layouts(spec, n, 1536, 2048, cp=(1, 2, 4, 8),
                                       offload=("none", "cpu", "nvme"), max_micro_batch=128))
    # one batch across device counts (dp differs per row; the system only sets node shapes)
    lay = Layout(*(jnp.concatenate([getattr(p, f) for p in parts]) for f in Layout.__dataclass_fields__))
    n_layouts = int(lay.tp.shape[0])
    B, S = jnp.asarray(1536.0), jnp.asarray(2048.0)
    t0 = time.perf_counter()
    out = _evaluate(spec, lay, hw, B, S, opts)
    jax.block_until_ready(out["step_time_s"])
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        out = _evaluate(spec, lay, hw, B, S, opts)
        np.asarray(out["step_time_s"])  # include the device-to-host copy of the result
        times.append(time.perf_counter() - t0)
    best = min(times)
    print(f"backend: {jax.default_backend()}  devices: {jax.device_count()}  cpus: {os.cpu_count()}")
    print(f"model {args.model} on {args.system}, gpus {args.gpus}: {n_layouts} valid layouts")
    print(f"first call (compile + run): {compile_s:.2f} s")
    print(f"evaluation: best {best * 1e3:.1f} ms, median {np.median(times) * 1e3:.1f} ms "
          f"-> {n_layouts / best:.3g} layouts/s (target >= 1e5)")


if __name__ == "__main__":
    main()
