"""Properties of the serving model (hypothesis): monotone in hardware, batch and TP; finite."""

from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware_db import load_device
from simulator import ops as O
from simulator.hw import build_hw
from simulator.models import load_model
from simulator.serving import ServeConfig, serve_core

MODELS = ("llama-3-8b", "llama-3-70b", "mixtral-8x7b", "qwen3-30b-a3b", "deepseek-v3")
DEVICES = ("h100-sxm", "a100-sxm4-80gb", "mi300x", "rtx-4090")
TIMES = ("ttft_s", "tpot_s", "tpot_avg_s", "e2e_latency_s")
SETTINGS = settings(max_examples=20, deadline=None, derandomize=True)
core = jax.jit(serve_core)


@functools.cache
def model(name):
    m = dataclasses.replace(load_model(name), name="any")  # one static name: one compilation
    return jax.tree_util.tree_map(lambda x: np.float32(x), m)


@functools.cache
def hw(name):
    return build_hw(load_device(name), "bf16")


configs = st.fixed_dictionaries({
    "model": st.sampled_from(MODELS),
    "device": st.sampled_from(DEVICES),
    "batch": st.integers(1, 256),
    "input_len": st.integers(1, 8192),
    "output_len": st.integers(1, 2048),
    "tp": st.sampled_from([1, 2, 4, 8]),
    "w": st.sampled_from([2.0, 1.0, 0.5]),
    "kv": st.sampled_from([2.0, 1.0]),
    "overlap": st.sampled_from([0.0, 0.5, 1.0]),
})


def run(c, hwspec=None, **changes):
    args = dict(batch=c["batch"], input_len=c["input_len"], output_len=c["output_len"], tp=c["tp"],
                tp_overlap=c["overlap"])
    args.update(changes)
    prec = O.Precision(c["w"], 2.0, c["kv"])
    res = core(model(c["model"]), hw(c["device"]) if hwspec is None else hwspec, prec, ServeConfig.make(**args))
    return {k: np.asarray(v) for k, v in res.items()}


@SETTINGS
@given(configs, st.floats(1.1, 10.0), st.sampled_from(["mem_bytes_per_s", "matrix_flops_per_s",
                                                        "vector_flops_per_s", "intra_bytes_per_s"]))
def test_more_bandwidth_or_flops_is_never_slower(c, factor, field):
    base_hw = hw(c["device"])
    faster = base_hw.replace(**{field: getattr(base_hw, field) * factor})
    a, b = run(c), run(c, faster)
    for k in TIMES:
        assert b[k] <= a[k] * (1 + 1e-5), (k, field)
    assert b["output_tokens_per_s"] >= a["output_tokens_per_s"] * (1 - 1e-5)


@SETTINGS
@given(configs, st.integers(1, 64))
def test_larger_batch_never_lowers_throughput_while_it_fits(c, extra):
    a = run(c)
    b = run(c, batch=c["batch"] + extra)
    if bool(b["fits"]):
        assert b["output_tokens_per_s"] >= a["output_tokens_per_s"] * (1 - 1e-4)
        assert b["total_tokens_per_s"] >= a["total_tokens_per_s"] * (1 - 1e-4)


@SETTINGS
@given(configs)
def test_more_tp_never_raises_memory_per_device(c):
    heads = int(load_model(c["model"]).num_heads)
    tps = [t for t in (1, 2, 4, 8, 16) if heads % t == 0]
    mem = [float(run(c, tp=t)["memory_bytes"]) for t in tps]
    assert all(m2 <= m1 * (1 + 1e-6) for m1, m2 in zip(mem, mem[1:], strict=False))


@SETTINGS
@given(configs)
def test_results_finite_and_positive(c):
    r = run(c)
    for k in (*TIMES, "output_tokens_per_s", "total_tokens_per_s", "weights_bytes", "kv_cache_bytes",
              "memory_bytes", "energy_per_output_token_j"):
        assert np.isfinite(r[k]) and r[k] > 0, k
    assert r["shortfall_bytes"] >= 0 and r["max_batch"] >= 0
    assert bool(r["fits"]) == (r["memory_bytes"] <= r["capacity_bytes"])
