"""Training simulator: FLOP conventions, memory model (ZeRO, Korthikanti activations), step-time
properties, time-to-train bookkeeping and bad input."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from hardware_db import load_system
from simulator.errors import ConfigError
from simulator.models import load_model
from simulator.training import (
    MEGATRON_2021,
    Layout,
    TrainOptions,
    check_layout,
    enumerate_layouts,
    evaluate_layouts,
    megatron_flops_per_iteration,
    megatron_model_flops_per_iteration,
    model_flops_per_token,
    predict_training,
    time_to_train,
    train_hardware,
)
from simulator.training.memory import activation_bytes_per_layer, memory_breakdown, params_per_device
from simulator.training.step import train_step


@pytest.fixture(scope="module")
def a100():
    return train_hardware(load_system("dgx-a100").for_devices(1024), "bf16")


@pytest.fixture(scope="module")
def gpt3():
    return load_model("gpt3-175b")


# ------------------------------------------------------------------------------------- FLOPs
@pytest.mark.parametrize("name", ["megatron-gpt-1.7b", "megatron-gpt-145.6b", "megatron-gpt-1008b"])
def test_flops_match_narayanan_eq3_and_korthikanti(name):
    """Model FLOPs (full s^2 convention) from the inventory = Korthikanti Sec. 6; the FLOPs the
    step prices under Megatron-LM 2021 (materialised attention, full recompute) = Narayanan Eq. 3."""
    spec = load_model(name)
    B, s = 512, 2048
    L, h, V = spec.num_layers, spec.hidden_size, spec.vocab_size
    model = float(model_flops_per_token(spec, s, "full")) * B * s
    assert model == pytest.approx(float(megatron_model_flops_per_iteration(B, s, L, h, V)), rel=1e-5)
    hw = train_hardware(load_system("dgx-a100").for_devices(8), "fp16")
    full = train_step(spec, Layout.make(tp=8, micro_batch=1, recompute="full"), hw, B, s, MEGATRON_2021)
    assert float(full["hardware_flops_per_step"]) == pytest.approx(
        float(megatron_flops_per_iteration(B, s, L, h, V)), rel=1e-5)
    # selective recompute re-executes exactly the attention core forward: 4 L s h per token
    sel = train_step(spec, Layout.make(tp=8, micro_batch=1, recompute="selective"), hw, B, s, MEGATRON_2021)
    none = train_step(spec, Layout.make(tp=8, micro_batch=1, recompute="none"), hw, B, s, MEGATRON_2021)
    diff = float(sel["hardware_flops_per_step"]) - float(none["hardware_flops_per_step"])
    assert diff == pytest.approx(4.0 * L * s * h * B * s, rel=1e-5)
    # causal convention: the attention term is (s + 1) / (2 s) of the full one
    causal = float(model_flops_per_token(spec, s, "causal")) * B * s
    assert model - causal == pytest.approx(3 * 4.0 * L * h * B * s * (s - (s + 1) / 2.0), rel=1e-4)


# ------------------------------------------------------------------------------------ memory
def test_korthikanti_activation_formula(gpt3):
    """Eq. 1 (34 sbh + 5 a s^2 b), TP without SP (Eq. 2), TP + SP (Eq. 4), selective, full."""
    s, b, h, a, t = 2048, 1, 12288, 96, 8
    opts = MEGATRON_2021  # materialised attention, dropout, 2-byte activations
    one = Layout.make(micro_batch=b, recompute="none")
    none, _ = activation_bytes_per_layer(gpt3, one, s, opts)
    assert float(none) == pytest.approx(s * b * h * (34 + 5 * a * s / h), rel=1e-9)
    tp = Layout.make(tp=t, micro_batch=b, recompute="none")
    no_sp, _ = activation_bytes_per_layer(gpt3, tp, s, opts)
    assert float(no_sp) == pytest.approx(s * b * h * (10 + 24 / t + 5 * a * s / (h * t)), rel=1e-9)
    sp_opts = dataclasses.replace(opts, sequence_parallel=True)
    sp, _ = activation_bytes_per_layer(gpt3, tp, s, sp_opts)
    assert float(sp) == pytest.approx(s * b * h / t * (34 + 5 * a * s / h), rel=1e-9)
    sel, _ = activation_bytes_per_layer(gpt3, Layout.make(tp=t, micro_batch=b, recompute="selective"), s, sp_opts)
    assert float(sel) == pytest.approx(34 * s * b * h / t, rel=1e-9)
    full, _ = activation_bytes_per_layer(gpt3, Layout.make(tp=t, micro_batch=b, recompute="full"), s, sp_opts)
    assert float(full) == pytest.approx(2 * s * b * h / t, rel=1e-9)


@pytest.mark.parametrize("zero,expected", [(0, 16.0), (1, 4.0 + 12.0 / 64), (2, 2.0 + 14.0 / 64), (3, 16.0 / 64)])
def test_zero_model_states(gpt3, a100, zero, expected):
    """Rajbhandari et al. 2020 Fig. 1: (2 + 2 + K) P with K = 12, sharded over N_d = 64."""
    lay = Layout.make(dp=64, zero=zero, recompute="full")
    mem = memory_breakdown(gpt3, lay, a100, 64, 2048, TrainOptions())
    P = float(params_per_device(gpt3, lay)["dense"])
    states = float(mem["weights_bytes"] + mem["gradients_bytes"] + mem["optimizer_bytes"])
    assert states == pytest.approx(expected * P, rel=1e-6)


def test_pipeline_inflight_activations(gpt3, a100):
    """1F1B first stage holds p micro-batches of L/p layers (= L layers); interleaving adds (p-1)/(pv)."""
    opts = dataclasses.replace(MEGATRON_2021, sequence_parallel=True)
    per_layer, _ = activation_bytes_per_layer(gpt3, Layout.make(tp=8, recompute="selective"), 2048, opts)
    for v in (1, 2, 4):
        lay = Layout.make(tp=8, pp=8, dp=2, virtual_stages=v, recompute="selective")
        mem = memory_breakdown(gpt3, lay, a100, 1536, 2048, opts)
        expect = 96 * float(per_layer) * (1 + (7 / (8 * v) if v > 1 else 0.0))
        # plus the selective working set (one layer's attention core), logits live on the last stage
        assert float(mem["activation_bytes"]) >= expect
        assert float(mem["activation_bytes"]) <= expect * 1.25


def test_property_more_dp_never_raises_memory_under_zero(a100):
    """Memory per device is non-increasing in the data-parallel degree for ZeRO >= 1."""
    for name in ("llama-3-70b", "gpt3-175b", "mixtral-8x7b"):
        spec = load_model(name)
        dps = np.array([1, 2, 4, 8, 16, 32, 64, 128])
        for zero in (1, 2, 3):
            for rc in (0, 1, 2):
                for pp in ((1,) if zero >= 2 else (1, 4)):
                    lay = Layout(*(jnp.asarray(np.broadcast_to(x, dps.shape), dtype=jnp.int32) for x in
                                   (8, pp, dps, 1, 1, 1, 1, rc, zero, 0)))
                    mem = np.asarray(memory_breakdown(spec, lay, a100, 1024, 4096, TrainOptions())["total_bytes"])
                    assert np.all(np.diff(mem) <= 1e-6 * mem[:-1]), (name, zero, rc, pp, mem)


def test_property_full_recompute_never_above_selective(a100):
    """Over every enumerated layout of several models: full <= selective <= none activation memory."""
    for name, opts in (("gpt3-175b", MEGATRON_2021), ("llama-3-70b", TrainOptions()),
                       ("megatron-gpt-1.7b", dataclasses.replace(MEGATRON_2021, sequence_parallel=True))):
        spec = load_model(name)
        base = enumerate_layouts(spec, 256, 512, 2048, recompute=("none",), zero=(0, 1), virtual_stages=(1, 2))
        acts = []
        for rc in (0, 1, 2):
            lay = dataclasses.replace(base, recompute=jnp.full_like(base.recompute, rc))
            acts.append(np.asarray(memory_breakdown(spec, lay, a100, 512, 2048, opts)["activation_bytes"]))
        none, sel, full = acts
        assert np.all(full <= sel * (1 + 1e-9)) and np.all(sel <= none * (1 + 1e-9))


# --------------------------------------------------------------------------------- step time
def test_mfu_hfu_bounded_over_many_layouts(a100):
    for name in ("gpt3-175b", "llama-3-8b", "mixtral-8x7b", "deepseek-v3"):
        spec = load_model(name)
        lay = enumerate_layouts(spec, 512, 1024, 4096, cp=(1, 2), max_micro_batch=8)
        res = evaluate_layouts(spec, lay, a100, 1024, 4096, TrainOptions())
        assert np.all(np.isfinite(res["step_time_s"])) and np.all(res["step_time_s"] > 0)
        assert np.all(res["mfu"] > 0) and np.all(res["mfu"] <= 1.0)
        assert np.all(res["hfu"] >= res["mfu"] * (1 - 1e-6)) and np.all(res["hfu"] <= 1.0)
        parts = sum(res[k] for k in ("compute_s", "bubble_s", "dp_comm_s", "optimizer_s"))
        assert np.all(parts <= res["step_time_s"] * (1 + 1e-5))


def test_bubble_and_recompute_directions(gpt3, a100):
    opts = dataclasses.replace(MEGATRON_2021, sequence_parallel=True)
    lay = Layout(*(jnp.asarray(x, dtype=jnp.int32) for x in
                   ([8, 8, 8], [8, 8, 8], [2, 2, 2], 1, 1, 1, [1, 2, 4], 1, 0, 0)))
    res = evaluate_layouts(gpt3, lay, a100, 512, 2048, opts)
    bubble_frac = res["bubble_s"] / res["step_time_s"]
    assert np.all(np.diff(bubble_frac) < 0)  # (p-1)/(v m) shrinks with v
    m = 512 / 2
    # bubble fraction of the pipeline ~ (p-1)/(v m) (communication and head make it inexact)
    assert bubble_frac[0] == pytest.approx(7 / m, rel=0.3)
    rcs = Layout(*(jnp.asarray(x, dtype=jnp.int32) for x in (8, 8, 2, 1, 1, 1, 1, [0, 1, 2], 0, 0)))
    r = evaluate_layouts(gpt3, rcs, a100, 512, 2048, opts)
    assert r["step_time_s"][0] < r["step_time_s"][1] < r["step_time_s"][2]
    assert r["activation_bytes"][0] > r["activation_bytes"][1] > r["activation_bytes"][2]
    assert np.allclose(r["mfu"][0], r["hfu"][0]) and r["hfu"][2] > r["mfu"][2] * 1.3


def test_time_energy_cost_bookkeeping(a100):
    res = {"tokens_per_s": jnp.asarray(2.0e5), "devices": jnp.asarray(1024.0)}
    hw = dataclasses.replace(a100, price_per_hour_usd=jnp.asarray(2.0))
    tt = time_to_train(res, hw, 300e9)
    t = 300e9 / 2.0e5
    assert float(tt["train_time_s"]) == pytest.approx(t)
    assert float(tt["device_hours"]) == pytest.approx(t * 1024 / 3600)
    assert float(tt["energy_j"]) == pytest.approx(400.0 * 1024 * t)
    assert float(tt["energy_kwh"]) == pytest.approx(400.0 * 1024 * t / 3.6e6)
    assert float(tt["cost_usd"]) == pytest.approx(2.0 * t * 1024 / 3600)


def test_predict_training_gpt3_reasonable():
    r = predict_training("gpt3-175b", "dgx-a100", 1024, tp=8, pp=8, global_batch=1536, seq_len=2048,
                         tokens=300e9, zero=1, recompute="selective")
    assert r["fits"] and r["layout"]["dp"] == 16
    assert 0.3 < r["mfu"] < 0.75  # published PTD-P runs of this size reach 0.4-0.55
    assert 5 < r["train_days"] < 60
    assert r["memory"]["total_bytes"] < r["memory"]["capacity_bytes"]


def test_offload_frees_device_memory_and_costs_time(gpt3):
    r0 = predict_training(gpt3, "dgx-a100", 64, tp=8, dp=8, global_batch=64, seq_len=2048, zero=1,
                          recompute="full")
    r1 = predict_training(gpt3, "dgx-a100", 64, tp=8, dp=8, global_batch=64, seq_len=2048, zero=1,
                          recompute="full", offload="cpu")
    assert r1["memory"]["optimizer_bytes"] == 0 and r1["memory"]["offloaded_bytes"] == pytest.approx(
        r0["memory"]["optimizer_bytes"])
    assert r1["optimizer_s"] > r0["optimizer_s"]


def test_not_fitting_reports_shortfall(gpt3):
    r = predict_training(gpt3, "dgx-a100", 8, tp=8, global_batch=8, seq_len=2048, recompute="full")
    assert not r["fits"]
    mem = r["memory"]
    assert mem["shortfall_bytes"] == pytest.approx(mem["total_bytes"] - mem["capacity_bytes"])


# --------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,match", [
    (dict(tp=8, pp=8, dp=15), "does not equal the device count"),
    (dict(tp=8, pp=97, dp=1), "96 layers do not split into pp = 97"),
    (dict(tp=8, pp=8, dp=16, micro_batch=7), "not divisible by micro_batch x dp"),
    (dict(tp=7, pp=1, dp=1), "does not divide"),
    (dict(tp=8, pp=1, dp=128, zero=3, virtual_stages=2), "needs pp > 1"),
    (dict(tp=8, pp=8, dp=16, zero=3), "cannot be combined with pp > 1"),
])
def test_bad_layouts_raise_one_line_config_error(gpt3, kwargs, match):
    n = kwargs["tp"] * kwargs["pp"] * kwargs["dp"] if "device count" not in match else 1024
    with pytest.raises(ConfigError, match=match) as err:
        check_layout(gpt3, n, 1536, 2048, **kwargs)
    assert "\n" not in str(err.value)


def test_unknown_names_raise_simlab_errors():
    from hardware_db.errors import SimlabError

    with pytest.raises(SimlabError, match="unknown system"):
        predict_training("gpt3-175b", "no-such-system", 8, tp=8, global_batch=8, seq_len=2048)
    with pytest.raises(ConfigError, match="recompute"):
        predict_training("gpt3-175b", "dgx-a100", 8, tp=8, global_batch=8, seq_len=2048, recompute="some")


def test_expert_and_context_parallel_directions(a100):
    """EP splits expert weights (memory falls, all-to-all time appears); CP splits the sequence
    (activation memory falls) and its ring exchange is never negative."""
    spec = load_model("mixtral-8x7b")
    lay = Layout(*(jnp.asarray(x, dtype=jnp.int32) for x in (2, 1, 64, 1, [1, 2, 4, 8], 1, 1, 2, 1, 0)))
    r = evaluate_layouts(spec, lay, a100, 512, 4096, TrainOptions())
    assert np.all(np.diff(r["weights_bytes"]) < 0) and r["ep_comm_s"][0] == 0 and np.all(r["ep_comm_s"][1:] > 0)
    dense = load_model("llama-3-70b")
    lay = Layout(*(jnp.asarray(x, dtype=jnp.int32) for x in (8, 4, [16, 8, 4], [1, 2, 4], 1, 1, 1, 1, 1, 0)))
    r = evaluate_layouts(dense, lay, a100, 64, 32768, TrainOptions())
    assert np.all(np.diff(r["activation_bytes"]) < 0) and np.all(r["cp_comm_s"] >= 0)


# ------------------------------------------------------------------------- uneven pipeline stages
@pytest.mark.parametrize("pp,v,first,last,ok", [
    (16, 8, 7, 7, True),    # Llama 3 (arXiv:2407.21783 Sec. 3.3.2): embedding / output alone in a chunk
    (8, 8, 15, 15, True),   # issue 12: Llama 3.1 405B at pp 8 x virtual 8
    (16, 8, 6, 8, False),   # the first stage needs v - 1 = 7 layers
    (16, 8, 7, 9, False),   # the middle stages must split the rest evenly (126 - 16 = 110 over 14)
    (16, 1, 0, 0, False),   # 126 layers do not split evenly over 16 stages
])
def test_uneven_stages_of_llama_3_405b(pp, v, first, last, ok):
    from simulator.models import load_model

    spec = load_model("llama-3.1-405b")
    dp = 2
    kwargs = dict(tp=8, pp=pp, dp=dp, virtual_stages=v, first_stage_layers=first, last_stage_layers=last)
    n = 8 * pp * dp
    if ok:
        check_layout(spec, n, 16 * pp * dp, 8192, **kwargs)
        r = predict_training(spec, "dgx-h100", n, global_batch=16 * pp * dp, seq_len=8192, zero=1, recompute="none",
                             **kwargs)
        assert np.isfinite(float(r["step_time_s"])) and 0 < float(r["mfu"]) < 1
    else:
        with pytest.raises(ConfigError, match="do not split into pp") as err:
            check_layout(spec, n, 16 * pp * dp, 8192, **kwargs)
        assert "\n" not in str(err.value)


def test_more_interleaving_shrinks_the_bubble_of_uneven_stages():
    """126 layers on pp 16 as 7 + 14 x 8 + 7: the bubble falls as (p - 1)/v from v = 1 to 8 (a little
    less: each of the v chunks adds its point-to-point transfer to the bubble's slots)."""
    from simulator.models import load_model

    spec = load_model("llama-3.1-405b")
    kw = dict(tp=8, pp=16, dp=2, first_stage_layers=7, last_stage_layers=7, global_batch=32, seq_len=8192,
              zero=1, recompute="none")
    b = {v: float(predict_training(spec, "dgx-h100", 256, virtual_stages=v, **kw)["bubble_s"]) for v in (1, 2, 8)}
    assert 1.9 < b[1] / b[2] <= 2.0 and 7.0 < b[1] / b[8] <= 8.0
