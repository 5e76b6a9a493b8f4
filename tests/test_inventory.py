"""Invariants of the one operator inventory (simulator.ops) and the one pricing path (simulator.pricing).

Every built-in model: parameters read from the inventory equal ModelSpec totals and active counts;
training model FLOPs per token equal 3x the inventory's forward matrix FLOPs under the documented
attention convention; HFU never exceeds the device's compute efficiency; serving and training price
the same GEMM identically; the registry and the block functions stay in sync.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardware_db import load_system
from simulator import ops, pricing
from simulator.hw import build_hw
from simulator.models import list_models, load_model
from simulator.training import Layout, TrainOptions, train_hardware
from simulator.training.flops import forward_matmul_flops_per_token, model_flops_per_token
from simulator.training.step import train_step

MODELS = list_models()


@pytest.mark.parametrize("name", MODELS)
def test_inventory_params_equal_modelspec_totals(name):
    spec = load_model(name)
    with jax.enable_x64(True):
        total, active = ops.param_counts(spec)
        assert float(total) == pytest.approx(float(spec.total_params()), rel=1e-9)
        assert float(active) == pytest.approx(float(spec.active_params()), rel=1e-9)


@pytest.mark.parametrize("name", MODELS)
def test_model_flops_are_three_forward_passes_of_the_inventory(name):
    spec = load_model(name)
    s = 4096.0
    for conv in ("causal", "full"):
        fwd = float(forward_matmul_flops_per_token(spec, s, conv))
        assert float(model_flops_per_token(spec, s, conv)) == pytest.approx(3.0 * fwd, rel=1e-6)
    # the weight part is 2 x (active matrix weights): MLA, GQA, MoE, tied heads all from one place
    causal = float(forward_matmul_flops_per_token(spec, s, "causal"))
    full = float(forward_matmul_flops_per_token(spec, s, "full"))
    attn_full = float(ops.attention_flops_per_token(spec, s))
    assert full - causal == pytest.approx(attn_full * (1.0 - (s + 1.0) / (2.0 * s)), rel=1e-4)


def test_deepseek_v3_training_flops_follow_its_active_parameters():
    """v0.1 counted ~80 B FLOP-equivalent parameters per token for DeepSeek-V3 (no MLA in the
    training counter); the inventory's weight FLOPs per token are 2 x 37.6 B active matmul weights."""
    spec = load_model("deepseek-v3")
    per_token = float(forward_matmul_flops_per_token(spec, 1.0, "causal")) / 2.0
    _, active = ops.param_counts(spec)
    emb = float(spec.vocab_size) * float(spec.hidden_size)  # the embedding lookup is not a matmul
    assert per_token == pytest.approx(float(active) - emb, rel=0.01)
    assert 36e9 < per_token < 39e9


@pytest.mark.parametrize("seq", [2048, 131072])
def test_hfu_never_exceeds_compute_efficiency(seq):
    spec = load_model("llama-3-8b")
    sysm = load_system("dgx-h100").for_devices(8)
    hw = train_hardware(sysm, "bf16")
    lay = Layout.make(tp=8, dp=1, micro_batch=1, recompute="selective")
    r = train_step(spec, lay, hw, 8, seq, TrainOptions())
    cap = float(np.max(np.asarray(hw.spec.class_compute_eff)))
    assert 0.0 < float(r["mfu"]) <= float(r["hfu"]) <= cap


def test_serving_and_training_price_the_same_gemm_identically():
    spec = load_model("llama-2-7b")
    sysm = load_system("dgx-a100").for_devices(8)
    hws = build_hw(sysm, "bf16")
    prec = ops.Precision()
    T = 4096.0
    attn = ops.attention_work(1.0, T, 0.0)
    inv = ops.forward_ops(spec, T, attn, 1.0, prec, 2)
    serve_t = pricing.op_times_s(inv, hws, 2)["mlp_up"]
    from simulator.training.step import _ops_s

    train_t = _ops_s(train_hardware(sysm, "bf16"), {"mlp_up": inv["mlp_up"]})["mlp_up"]
    assert float(serve_t) == pytest.approx(float(train_t), rel=1e-7)
    single = pricing.kernel_s(hws, inv["mlp_up"].flops, inv["mlp_up"].bytes, "gemm", inv["mlp_up"].kernels,
                              inv["mlp_up"].rows)
    assert float(single) == pytest.approx(float(serve_t), rel=1e-6)


def test_registry_and_blocks_stay_in_sync():
    spec = load_model("qwen3-30b-a3b")
    inv = ops.forward_ops(spec, 8.0, ops.attention_work(8.0, 1.0, 100.0), 8.0, ops.Precision())
    assert list(inv) == list(ops.OP_INFO)
    for name, info in ops.OP_INFO.items():
        assert info.eff_class in ("gemm", "attention", "elementwise", "collective"), name
        assert (info.kind == ops.COMM) == bool(info.collective), name
    with pytest.raises(KeyError, match="out of sync"):
        ops._checked({k: v for k, v in inv.items() if k != "router_topk"})


def test_backward_is_forward_times_the_registry_factors():
    spec = load_model("llama-2-7b")
    inv = ops.forward_ops(spec, 512.0, ops.attention_work(1.0, 512.0, 0.0), 512.0, ops.Precision())
    g = inv["qkv_proj"].backward(ops.OP_INFO["qkv_proj"])
    a = inv["attention"].backward(ops.OP_INFO["attention"])
    assert float(g.flops) == pytest.approx(2.0 * float(inv["qkv_proj"].flops))
    assert float(a.flops) == pytest.approx(2.5 * float(inv["attention"].flops))
    assert float(jnp.asarray(g.params)) == 0.0
