"""Operator model (simulator/ops.py): FLOP and byte counts against closed forms."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from simulator import ops as O
from simulator.models import load_model

BF16 = O.Precision(2.0, 2.0, 2.0)
MATRIX_KINDS = (O.GEMM, O.ATTENTION)


def matrix_flops(ops):
    return sum(float(np.sum(c.flops)) for n, c in ops.items() if O.OP_KINDS[n] in MATRIX_KINDS)


@pytest.mark.parametrize(
    "name", ["llama-2-7b", "llama-3-70b", "mixtral-8x7b", "qwen3-30b-a3b", "deepseek-v3", "gpt3-175b", "phi-2"]
)
@pytest.mark.parametrize("context", [0, 1000, 8000])
def test_decode_flops_per_token_is_2n_plus_attention(name, context):
    """Forward FLOP per decoded token = 2 x (active weights except the input table) + attention, within 1%."""
    m = load_model(name)
    b = 4
    ops = O.forward_ops(m, b, O.attention_work(b, 1, context), b, BF16)
    per_token = matrix_flops(ops) / b
    lm_head = m.vocab_size * m.hidden_size
    weights = m.active_params() - m.embedding_params() + lm_head  # input embedding is a gather
    expected = 2.0 * weights + float(O.attention_flops_per_token(m, context + 1))
    assert per_token == pytest.approx(expected, rel=0.01)


def test_attention_flops_exact_for_prefill_causal_pairs():
    m = load_model("llama-3-8b")
    b, L = 3, 512
    att = O.attention_ops(m, b * L, O.attention_work(b, L, 0), BF16)["attention"]
    pairs = b * L * (L + 1) / 2
    assert float(att.flops) == pytest.approx(2 * m.num_heads * (2 * m.head_dim) * pairs, rel=1e-6)


def test_prefill_lm_head_only_for_last_token():
    m = load_model("llama-3-8b")
    short = O.forward_ops(m, 2 * 128, O.attention_work(2, 128, 0), 2, BF16)["lm_head"]
    long = O.forward_ops(m, 2 * 4096, O.attention_work(2, 4096, 0), 2, BF16)["lm_head"]
    assert float(short.flops) == float(long.flops) == pytest.approx(2 * 2 * m.hidden_size * m.vocab_size)


def test_norms_softmax_activation_are_operators():
    m = load_model("llama-3-8b")
    ops = O.forward_ops(m, 8, O.attention_work(8, 1, 100), 8, BF16)
    for name in ("attn_norm", "mlp_norm", "softmax", "activation", "final_norm", "logits_softmax", "rope"):
        assert float(ops[name].flops) > 0, name
        assert O.OP_KINDS[name] == O.VECTOR


def test_expected_distinct_experts():
    e, k = 8, 2
    assert float(O.expected_distinct_experts(e, k, 1)) == pytest.approx(2.0)
    assert float(O.expected_distinct_experts(e, k, 10_000)) == pytest.approx(8.0)
    t = jnp.arange(1, 200)
    d = np.asarray(O.expected_distinct_experts(e, k, t))
    assert np.all(np.diff(d) >= 0) and np.all(d <= e) and np.all(d >= k - 1e-5)
    assert float(O.expected_distinct_experts(0, 0, 5)) == 0.0


def test_moe_decode_reads_distinct_experts_not_top_k():
    """Batch-1 decode of Mixtral reads 2 of 8 experts; a large batch reads (almost) all 8."""
    m = load_model("mixtral-8x7b")
    expert_bytes = 3 * m.hidden_size * m.expert_ffn_size * 2.0
    moe_layers = m.num_layers
    one = O.forward_ops(m, 1, O.attention_work(1, 1, 10), 1, BF16)
    many = O.forward_ops(m, 256, O.attention_work(256, 1, 10), 256, BF16)
    read_one = float(one["moe_up"].weight_bytes + one["moe_down"].weight_bytes)
    read_many = float(many["moe_up"].weight_bytes + many["moe_down"].weight_bytes)
    assert read_one == pytest.approx(2 * expert_bytes * moe_layers, rel=1e-4)
    assert read_many == pytest.approx(8 * expert_bytes * moe_layers, rel=1e-3)


def test_shared_experts_counted():
    m = load_model("deepseek-v3")
    ops = O.forward_ops(m, 1, O.attention_work(1, 1, 10), 1, BF16)
    assert float(ops["shared_up"].flops) > 0 and float(ops["router"].flops) > 0
    assert float(ops["mlp_up"].flops) > 0  # the 3 leading dense layers


def test_kv_cache_bytes_match_model_spec():
    for name in ("llama-3-70b", "deepseek-v3", "qwen3-8b"):
        m = load_model(name)
        assert float(O.kv_cache_bytes_per_token(m, BF16)) == pytest.approx(m.kv_cache_bytes_per_token(2))


def test_tensor_parallel_splits_work():
    m = load_model("llama-3-70b")
    one = O.forward_ops(m, 64, O.attention_work(64, 1, 100), 64, BF16, tp=1)
    four = O.forward_ops(m, 64, O.attention_work(64, 1, 100), 64, BF16, tp=4)
    for name in ("qkv_proj", "o_proj", "mlp_up", "mlp_down", "attention", "lm_head"):
        assert float(four[name].flops) == pytest.approx(float(one[name].flops) / 4, rel=1e-5), name
    assert float(one["attn_allreduce"].comm_bytes) == 0.0
    assert float(four["attn_allreduce"].comm_bytes) == pytest.approx(80 * 64 * m.hidden_size * 2.0)


def test_per_tensor_dtypes_w4a16kv8():
    m = load_model("llama-3-8b")
    w4 = O.Precision(weight_bytes=0.5, act_bytes=2.0, kv_bytes=1.0)
    a = O.forward_ops(m, 1, O.attention_work(1, 1, 2000), 1, BF16)
    b = O.forward_ops(m, 1, O.attention_work(1, 1, 2000), 1, w4)
    assert float(b["mlp_up"].weight_bytes) == pytest.approx(float(a["mlp_up"].weight_bytes) / 4)
    assert float(b["attention"].kv_bytes) == pytest.approx(float(a["attention"].kv_bytes) / 2)
    assert float(b["mlp_up"].act_bytes) == pytest.approx(float(a["mlp_up"].act_bytes))


def test_vectorised_over_tokens():
    m = load_model("llama-3-8b")
    b = jnp.asarray([1.0, 8.0, 64.0])
    ops = O.forward_ops(m, b, O.attention_work(b, 1, 1000), b, BF16)
    flops = np.asarray(O.total_cost(ops).flops)
    assert flops.shape == (3,) and np.all(np.diff(flops) > 0)


def test_mixed_iteration_adds_attention_work():
    pre = O.attention_work(1, 256, 512)
    dec = O.attention_work(16, 1, 1000)
    mixed = pre + dec
    assert float(mixed.pairs) == pytest.approx(float(pre.pairs) + float(dec.pairs))
    assert float(mixed.q_tokens) == 256 + 16


@pytest.mark.parametrize("name", ["deepseek-v3", "phi-2", "llama-3-8b"])
def test_layer_ops_times_layer_counts_equal_forward_ops(name):
    """The per-layer API (reused by training) sums to the whole-model operator costs."""
    m = load_model(name)
    attn = O.attention_work(4, 1, 300)
    per = O.layer_ops(m, 4, attn, BF16, tp=2)
    n_dense, n_moe = (float(x) for x in O.layer_counts(m))
    full = O.forward_ops(m, 4, attn, 4, BF16, tp=2)
    for op in O.LAYER_OPS:
        for field in ("flops", "weight_bytes", "act_bytes", "kv_bytes", "comm_bytes"):
            got = n_dense * float(getattr(per["dense"][op], field)) + n_moe * float(getattr(per["moe"][op], field))
            assert got == pytest.approx(float(getattr(full[op], field)), rel=1e-5, abs=1e-3), (op, field)
