"""ZeRO-3 exposure per pass (simulator.training.data_parallel.dp_communication): a prefetched gather
hides only behind the compute of its own pass, and reduce-scatters are hidden only when the
gradient reduction overlaps the backward (``grad_overlap``)."""

from __future__ import annotations

import dataclasses

import pytest

from simulator.models import load_model
from simulator.training.common import Layout, TrainOptions, train_hardware
from simulator.training.data_parallel import dp_communication
from simulator.training.memory import params_per_device

BIG = 1e9  # seconds of compute: hides any call


@pytest.fixture(scope="module")
def case():
    from hardware_db import load_system

    spec = load_model("gpt3-175b")
    sysm = load_system("dgx-a100").for_devices(384)
    hw = train_hardware(sysm, "fp16")
    lay = Layout.make(tp=1, pp=1, dp=384, micro_batch=4, zero=3)
    return spec, lay, hw, params_per_device(spec, lay)


def _exposed(case, fwd, bwd, m=1.0, **opts):
    spec, lay, hw, pd = case
    o = dataclasses.replace(TrainOptions(dtype="fp16", grad_dtype="fp16"), **opts)
    return float(dp_communication(spec, lay, hw, pd, o, 0.0, fwd, bwd, m, float(spec.num_layers))["dp_comm_s"])


def test_forward_gathers_do_not_hide_behind_the_backward(case):
    gather = _exposed(case, 0.0, BIG)  # only the forward's gathers are left
    assert gather > 0.0
    assert _exposed(case, BIG, BIG) == 0.0
    # the pooled rule max(2G + R - F - B, 0) would hide this; the per-pass rule does not
    assert _exposed(case, 0.0, BIG) == pytest.approx(gather)
    reduce = _exposed(case, BIG, BIG, grad_overlap=False)  # reduce-scatters on the critical path
    assert reduce > 0.0
    # without prefetch every gather is exposed: 2 G + R, from the two terms measured above
    assert _exposed(case, BIG, BIG, zero3_prefetch=False, grad_overlap=False) == pytest.approx(2 * gather + reduce,
                                                                                                 rel=1e-5)
    # per micro-batch: m micro-batches expose m times as much
    assert _exposed(case, 0.0, BIG, m=3.0) == pytest.approx(3 * gather, rel=1e-6)


def test_backward_pass_carries_gathers_and_reduce_scatters(case):
    gather = _exposed(case, 0.0, BIG)
    reduce = _exposed(case, BIG, BIG, grad_overlap=False)
    # backward compute shorter than its gathers + reduce-scatters: the excess shows
    bwd = 0.5 * (gather + reduce)
    assert _exposed(case, BIG, bwd) == pytest.approx(gather + reduce - bwd, rel=1e-5)
    assert _exposed(case, BIG, bwd, grad_overlap=False) == pytest.approx(max(gather - bwd, 0.0) + reduce, rel=1e-5)


def test_context_parallel_ranks_reduce_gradients_and_shard_zero_states():
    """Context-parallel ranks hold the same weights and see other tokens of the same sequences, so
    gradients are reduced, and ZeRO states sharded, over dp x cp (Megatron-Core's dp_cp group):
    dp = 1 with cp = 2 still pays a gradient reduction, and ZeRO-1 optimizer state per device at
    dp 2 x cp 2 equals that at dp 4 x cp 1."""
    from hardware_db import load_system
    from simulator.training.layouts import evaluate_layouts

    spec = load_model("llama-3-8b")
    hw = train_hardware(load_system("dgx-h100").for_devices(8), "bf16")
    opts = TrainOptions()

    def run(**kw):
        lay = Layout.make(tp=1, pp=1, micro_batch=1, recompute="none", zero=1, **kw)
        return evaluate_layouts(spec, lay, hw, 32, 8192, opts)

    only_cp = run(dp=1, cp=2)
    assert float(only_cp["dp_reduce_s"]) > 0.0
    mixed, plain = run(dp=2, cp=2), run(dp=4, cp=1)
    assert float(mixed["optimizer_bytes"]) == pytest.approx(float(plain["optimizer_bytes"]), rel=1e-6)
    assert float(run(dp=2, cp=1)["optimizer_bytes"]) == pytest.approx(2.0 * float(mixed["optimizer_bytes"]), rel=1e-6)
