"""Precision per operator on the single cost path (issue 12, low precision).

FP8/FP4 recipes run the linear-layer GEMMs (``OpInfo.lowp``) at the low-precision peak with that
dtype's measured GEMM efficiency (the device TOML's ``[efficiency.lowp_gemm]``), keep attention, the LM head, the
router, softmax and norms in bf16, price Transformer Engine's casts in training
(``lowp_cast`` / ``lowp_cast_grad``), and count block scales in the weight bytes.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardware_db import list_devices, load_device, load_system
from simulator import ops, pricing
from simulator.hw import build_hw, stack_hw
from simulator.models import load_model
from simulator.serving.frontend import predict_serve, resolve_dtypes, weight_bytes_of
from simulator.training import Layout, TrainOptions, train_hardware
from simulator.training.step import _ops_s, layer_inventory, layer_times

LOWP_GEMMS = ("qkv_proj", "o_proj", "mlp_up", "mlp_down", "moe_up", "moe_down", "shared_up", "shared_down")


def test_registry_marks_linear_layer_gemms_only():
    assert {n for n, i in ops.OP_INFO.items() if i.lowp} == set(LOWP_GEMMS)
    for n in ("lm_head", "router", "attention", "softmax"):
        assert not ops.OP_INFO[n].lowp
    assert ops.OP_INFO["lowp_cast"].in_forward and not ops.OP_INFO["lowp_cast_grad"].in_forward


def test_build_hw_splits_a_low_precision_compute_dtype():
    dev = load_device("h100-sxm5-80gb")
    bf, f8 = build_hw(dev, "bf16"), build_hw(dev, "fp8")
    assert float(f8.matrix_flops_per_s) == pytest.approx(dev.peak("bf16"))
    assert float(f8.lowp_peak_ratio) == pytest.approx(dev.peak("fp8") / dev.peak("bf16"))
    # MAMF: FP8 1402.6 / 1978.9 over BF16 794.5 / 989.4
    assert float(f8.lowp_eff_ratio) == pytest.approx((1402.6 / 1978.9) / (794.5 / 989.4), rel=1e-6)
    assert float(f8.attn_lowp) == 0.0 and float(build_hw(dev, "fp8", lowp_attention=True).attn_lowp) == 1.0
    assert float(bf.lowp_peak_ratio) == 1.0 and float(bf.lowp_eff_ratio) == 1.0 and float(bf.attn_lowp) == 0.0
    # every sourced ratio is a fraction of the bf16 efficiency and names its source; FP8 ratios are
    # near 1 (MAMF tables), B200 NVFP4 at model shapes is 0.70 (FlashInfer / vLLM kernel tables)
    with_ratio = [d for d in (load_device(n) for n in list_devices()) if d.efficiency.lowp_gemm]
    assert {d.name for d in with_ratio} >= {"H100-SXM5-80GB", "H200-SXM-141GB", "B200-SXM-180GB"}
    for d in with_ratio:
        assert "mamf" in d.efficiency.lowp_source.lower(), d.name
        for dtype, r in d.efficiency.lowp_gemm.items():
            low = 0.6 if dtype == "fp4" else 0.8
            assert low < r <= 1.0, (d.name, dtype)
    assert "flashinfer" in load_device("b200").efficiency.lowp_source.lower()
    b200 = build_hw(load_device("b200"), "fp4")
    assert float(b200.lowp_peak_ratio) == pytest.approx(4.0)


def _inventory(prec=None, T=8192.0):
    spec = load_model("llama-3.1-8b")
    return ops.forward_ops(spec, T, ops.attention_work(1.0, T, 0.0), 1.0, prec or ops.Precision(), 1)


def test_fp8_prices_linear_gemms_faster_and_leaves_attention_in_bf16():
    dev = load_device("h100-sxm5-80gb")
    inv = _inventory()
    tb = pricing.op_times_s(inv, build_hw(dev, "bf16"))
    t8 = pricing.op_times_s(inv, build_hw(dev, "fp8"))
    for n in ("qkv_proj", "mlp_up", "mlp_down", "o_proj"):
        speedup = float(tb[n] / t8[n])
        assert 1.3 < speedup < 2.0, (n, speedup)  # FP8 peak 2x, efficiency 0.883x, start-up
    for n in ("attention", "lm_head", "softmax", "attn_norm"):
        assert float(t8[n]) == pytest.approx(float(tb[n]), rel=1e-6), n
    t8a = pricing.op_times_s(inv, build_hw(dev, "fp8", lowp_attention=True))
    assert float(t8a["attention"]) < float(tb["attention"])


def test_pricing_vmaps_over_stacked_specs_of_both_precisions():
    dev = load_device("h100-sxm5-80gb")
    inv = _inventory()
    hws = stack_hw([build_hw(dev, "bf16"), build_hw(dev, "fp8")])
    t = jax.vmap(lambda h: pricing.op_times_s(inv, h)["mlp_up"])(hws)
    assert float(t[0]) == pytest.approx(float(pricing.op_times_s(inv, build_hw(dev, "bf16"))["mlp_up"]), rel=1e-6)
    assert float(t[1]) < float(t[0])


def test_casts_are_zero_without_a_training_recipe_and_scale_with_the_gemms():
    inv = _inventory()
    for n in ops.CAST_OPS:
        assert float(inv[n].flops) == 0.0 and float(inv[n].act_bytes) == 0.0 and float(inv[n].kernels) == 0.0
    T = 4096.0
    spec = load_model("llama-3.1-8b")
    cast = _inventory(ops.Precision(weight_bytes=1.0, cast_bytes=1.0), T)
    h, f, L = float(spec.hidden_size), float(spec.ffn_size), float(spec.num_layers)
    q_kv = float(ops.qkv_weight_elems(spec))
    # forward: inputs (T h qkv, T q o_proj, T h up, T f down) + all linear weights; bwd: outputs
    q = float(spec.num_heads * spec.head_dim)
    fwd_elems = L * (T * (h + q + h + f) + q_kv + q * h + 3.0 * h * f)
    bwd_elems = L * T * (q_kv / h + h + 2.0 * f + h)
    assert float(cast["lowp_cast"].act_bytes) == pytest.approx(fwd_elems * (2.0 + 2.0), rel=1e-5)
    assert float(cast["lowp_cast_grad"].act_bytes) == pytest.approx(bwd_elems * (2.0 + 2.0), rel=1e-5)
    assert float(cast["lowp_cast"].kernels) == pytest.approx(L * 4 * 2.0)


def test_current_scaling_reads_each_cast_input_twice():
    """FP8 current scaling (TransformerEngine ``Float8CurrentScalingQuantizer``: ``nvte_compute_amax``
    then ``nvte_quantize_v2``) reads every cast's bf16 input once more than delayed scaling and
    launches one more kernel per cast; the FP8 writes are the same."""
    T = 4096.0
    delayed = _inventory(ops.Precision(weight_bytes=1.0, cast_bytes=1.0), T)
    current = _inventory(ops.Precision(weight_bytes=1.0, cast_bytes=1.0, cast_reads=2.0), T)
    for n in ops.CAST_OPS:
        elems = float(delayed[n].act_bytes) / (2.0 + 2.0)  # read bf16 + two FP8 copies per element
        assert float(current[n].act_bytes) == pytest.approx(elems * (2.0 * 2.0 + 2.0), rel=1e-6)
        assert float(current[n].kernels) == pytest.approx(2.0 * float(delayed[n].kernels))
        assert float(current[n].flops) == pytest.approx(float(delayed[n].flops))
    assert TrainOptions(dtype="fp8", lowp_scaling="current").cast_reads == 2.0
    assert TrainOptions(dtype="fp8").cast_reads == 1.0
    with pytest.raises(Exception, match="lowp_scaling"):
        TrainOptions(lowp_scaling="per-block")


def _fp8_setup():
    spec = load_model("llama-3.1-8b")
    sysm = load_system("dgx-h100").for_devices(8)
    lay = Layout.make(tp=1, dp=8, micro_batch=1, recompute="none")
    return spec, sysm, lay


def test_training_fp8_recipe_gemms_faster_casts_extra_and_backward_only_grad_casts():
    spec, sysm, lay = _fp8_setup()
    ob, o8 = TrainOptions(dtype="bf16"), TrainOptions(dtype="fp8")
    assert o8.act_bytes == 2.0 and o8.cast_bytes == 1.0 and ob.cast_bytes == 0.0
    hb, h8 = train_hardware(sysm, "bf16"), train_hardware(sysm, "fp8")
    lb, l8 = layer_times(spec, lay, hb, 4096, ob), layer_times(spec, lay, h8, 4096, o8)
    assert float(l8["gemm_fwd"]) < float(lb["gemm_fwd"])
    assert float(l8["attn_fwd"]) == pytest.approx(float(lb["attn_fwd"]), rel=1e-6)
    assert float(l8["elem_fwd"]) > float(lb["elem_fwd"])  # the casts
    # the hardware executes the same matrix FLOP
    assert float(l8["hw_flops"]) == pytest.approx(float(lb["hw_flops"]), rel=1e-6)
    # lowp_cast_grad costs nothing in the forward and its own work in the backward
    inv = layer_inventory(spec, lay, 4096, o8)["dense"]
    g = inv["lowp_cast_grad"]
    assert float(g.act_bytes) > 0
    t = _ops_s(h8, {"lowp_cast_grad": g.backward(ops.OP_INFO["lowp_cast_grad"])})["lowp_cast_grad"]
    assert float(t) > 0
    # the forward casts have no backward of their own
    c = inv["lowp_cast"].backward(ops.OP_INFO["lowp_cast"])
    assert float(c.act_bytes) == 0.0 and float(c.kernels) == 0.0
    # forward = priced forward operators (lowp_cast_grad excluded) + the two dropout kernels (none here)
    o8_nodrop = dataclasses.replace(o8, dropout=False)
    fwd_ops = {n: c for n, c in inv.items() if ops.OP_INFO[n].kind != ops.COMM and ops.OP_INFO[n].in_forward}
    expect = sum(_ops_s(h8, fwd_ops).values())
    got = layer_times(spec, lay, h8, 4096, o8_nodrop)["fwd"]
    assert float(got) == pytest.approx(float(expect), rel=1e-5)


def test_scaled_weight_formats_carry_their_block_scales():
    assert weight_bytes_of("mxfp4") == pytest.approx(4.25 / 8.0)  # OCP MX v1.0: 32 x E2M1 + E8M0
    assert weight_bytes_of("nvfp4") == pytest.approx(4.5 / 8.0)  # 16 x E2M1 + E4M3 scale
    assert weight_bytes_of("mxfp8") == pytest.approx(8.25 / 8.0)
    assert weight_bytes_of("fp8_e4m3") == 1.0 and weight_bytes_of("fp4") == 0.5
    dtype, prec = resolve_dtypes(load_device("b200"), "nvfp4", "nvfp4", "fp8")
    # W4A4: the GEMM inputs carry the NVFP4 scales; activations, embedding and LM head stay bf16
    assert dtype == "fp4" and float(prec.gemm_input_bytes()) == pytest.approx(4.5 / 8.0)
    assert float(prec.act_bytes) == 2.0 and float(prec.head_bytes()) == 2.0
    assert float(prec.weight_bytes) == pytest.approx(4.5 / 8.0) and float(prec.kv_bytes) == 1.0


def test_w8a8_keeps_activations_head_and_allreduce_in_bf16():
    """ModelOpt FP8 / NVFP4 checkpoints quantise only the linear layers (weights and inputs): the
    TP all-reduce carries bf16, the LM head reads bf16 weights, weight memory counts the embedding
    and LM head at 2 bytes; the linear GEMMs read their FP8 input. Weight-only and bf16 unchanged."""
    dev = load_device("h100-sxm5-80gb")
    _, fp8 = resolve_dtypes(dev, "fp8", "fp8", "fp8")
    _, bf16 = resolve_dtypes(dev, None, None, None)
    assert float(fp8.act_bytes) == 2.0 and float(fp8.gemm_input_bytes()) == 1.0 and float(fp8.head_bytes()) == 2.0
    assert float(bf16.gemm_in_bytes) == 0.0 and float(bf16.head_weight_bytes) == 2.0
    _, w4 = resolve_dtypes(dev, "int4", "bf16", None)   # weight-only: the embedding follows the weights
    assert float(w4.head_bytes()) == pytest.approx(float(w4.weight_bytes)) and float(w4.gemm_in_bytes) == 0.0
    spec = load_model("llama-3.1-70b")
    inv8 = ops.forward_ops(spec, 64.0, ops.attention_work(64.0, 1.0, 1024.0), 64.0, fp8, 8)
    h, v = spec.hidden_size, spec.vocab_size
    assert float(inv8["mlp_allreduce"].comm_bytes) == pytest.approx(spec.num_layers * 64 * h * 2.0)
    assert float(inv8["lm_head"].weight_bytes) == pytest.approx(h * v / 8 * 2.0)
    # QKV input read in FP8, output written in bf16
    qkv_out = float(ops.qkv_weight_elems(spec)) / h / 8
    assert float(inv8["qkv_proj"].act_bytes) == pytest.approx(spec.num_layers * 64 * (h * 1.0 + qkv_out * 2.0))
    r = predict_serve(spec, "h100-sxm", batch=1, tp=8, weight_dtype="fp8", act_dtype="fp8", kv_dtype="fp8")
    head = float(ops.head_param_count(spec, 8))
    body = float(ops.param_counts(spec, 8)[0]) - head
    assert r["weights_bytes"] == pytest.approx(body * 1.0 + head * 2.0, rel=1e-6)


def test_bf16_results_unchanged_by_the_low_precision_fields():
    """Defaults (ratios 1, no casts) leave every bf16 price bit-for-bit as without them."""
    dev = load_device("a100-sxm4-80gb")
    hw = build_hw(dev, "bf16")
    inv = _inventory()
    names, t, _ = pricing._compute_op_times(inv, hw)
    st = pricing._stack_ops(inv, names)
    cls = np.asarray([pricing.CLASS_INDEX[ops.OP_INFO[n].eff_class] for n in names])
    vec = np.asarray([ops.OP_INFO[n].kind == ops.VECTOR for n in names])
    nbytes = st["weight_bytes"] + st["act_bytes"] + st["kv_bytes"]
    t0, _ = pricing.price_kernels(st["flops"], nbytes, st["kernels"], st["rows"], cls, hw, vec)  # no lowp mask
    assert bool(jnp.all(t == t0))


def test_weight_only_dequantisation_hides_at_small_batch_and_shows_at_large():
    """MARLIN (Frantar et al. 2024): near-ideal speed-up of 4-bit weights up to batch 16-32, shrinking
    towards 64-128; dequantisation is vector work inside the GEMM (``OpCost.vec_flops``), one pass per
    64 rows, not counted in the FLOP counters."""
    dev = load_device("a100-sxm4-80gb")
    _, p16 = resolve_dtypes(dev, "fp16", "fp16")
    _, p4 = resolve_dtypes(dev, "q4_0", "fp16")
    assert float(p16.dequant_flop) == 0.0 and float(p4.dequant_flop) == ops.DEQUANT_FLOP_PER_WEIGHT
    assert float(resolve_dtypes(load_device("h100-sxm5-80gb"), "fp8", "fp8")[1].dequant_flop) == 0.0  # W8A8
    hw = build_hw(dev, "fp16")
    spec = load_model("llama-2-7b")

    def mlp_up(prec, rows):
        inv = ops.forward_ops(spec, rows, ops.attention_work(rows, 1.0, 512.0), rows, prec, 1)
        return inv, float(pricing.op_times_s(inv, hw)["mlp_up"])

    speed = {}
    for m in (1.0, 16.0, 256.0, 4096.0):
        inv4, t4 = mlp_up(p4, m)
        inv16, t16 = mlp_up(p16, m)
        assert float(ops.matmul_flops(inv4)) == pytest.approx(float(ops.matmul_flops(inv16)))  # FLOP unchanged
        speed[m] = t16 / t4
        # without dequantisation cost the 4-bit GEMM would never be slower than fp16
        free = dataclasses.replace(p4, dequant_flop=0.0)
        assert mlp_up(free, m)[1] <= t4 * (1 + 1e-6)
    assert speed[1.0] > 3.0 and speed[16.0] > 3.0  # memory-bound: ~ 16 / 4.5 bits
    assert speed[256.0] < speed[16.0] and speed[4096.0] < 1.0  # compute-bound: dequantisation shows
    assert float(ops.dequant_passes(16.0)) == 1.0 and float(ops.dequant_passes(128.0)) == 2.0


def test_w8a8_expert_dispatch_is_fp8_and_combine_bf16():
    """DeepSeek-V3 report Sec. 3.3.2: dispatch the FP8-quantised expert input, combine in BF16; in
    bf16 both directions carry 2 bytes (the pre-stop-21 formula)."""
    dev = load_device("h100-sxm5-80gb")
    spec = load_model("mixtral-8x7b")
    _, fp8 = resolve_dtypes(dev, "fp8", "fp8", "fp8")
    _, bf16 = resolve_dtypes(dev, None, None, None)
    attn = ops.attention_work(64.0, 1.0, 1024.0)
    a8 = float(ops.forward_ops(spec, 64.0, attn, 64.0, fp8, 1, 1, 8, 8)["moe_all_to_all"].comm_bytes)
    a16 = float(ops.forward_ops(spec, 64.0, attn, 64.0, bf16, 1, 1, 8, 8)["moe_all_to_all"].comm_bytes)
    k, h = spec.experts_per_token, spec.hidden_size
    assert a16 == pytest.approx(spec.num_layers * 2.0 * 64 * k * h * 2.0)
    assert a8 == pytest.approx(spec.num_layers * 64 * k * h * (1.0 + 2.0))
