"""Operator model of a decoder-only transformer: FLOP, bytes per memory tier and collective bytes.

Every operator of one forward step (prefill, decode or a mixed chunked-prefill iteration) is
described by an :class:`OpCost` of ``jax.numpy`` arrays, so one call evaluates one configuration
or millions (all arguments broadcast; use ``jax.vmap`` over stacked :class:`ModelSpec` pytrees).
The serving simulator (``simulator.serving``) and the training simulator reuse these functions;
they turn the counts into time with :func:`simulator.roofline.kernel_time_s` (see
:func:`op_times_s`).

Conventions (``docs/CONTRACTS.md``): 2 FLOP per multiply-add; bytes are read + written in the tier
the tensor lives in (no reuse across kernels); costs are **per device** of a tensor-parallel group
of size ``tp`` (weights, heads and FFN columns split ``tp`` ways, norms replicated); sequences in a
step share each weight read.

Operators of one layer (names are the keys of the returned dicts):

============== ======= =================================================================
name           kind    work (T = new tokens in the step, h = hidden, per device)
============== ======= =================================================================
attn_norm      vector  RMSNorm (4 FLOP/elem) or LayerNorm (7 FLOP/elem) of T x h
qkv_proj       gemm    T x h @ h x (q + k + v) / tp (MLA: down/up projections)
rope           vector  rotary embedding of q and k (3 FLOP/elem)
attention      attn    FlashAttention: QK^T and PV over causal query-key pairs; reads Q, the
                       whole KV cache of each sequence, writes O and the new K, V
softmax        vector  online softmax inside the attention kernel (5 FLOP per score; fused,
                       no launch of its own; Dao 2023, FlashAttention-2 Sec. 3.1)
o_proj         gemm    T x (heads x v_dim / tp) @ ... x h
attn_allreduce comm    TP all-reduce of T x h activations (Megatron-LM, Shoeybi et al. 2019)
attn_residual  vector  residual add (fused into the next norm, no launch)
mlp_norm       vector  as attn_norm
mlp_up         gemm    gate+up (gated) or up: T x h @ h x (1 + gated) ffn / tp
activation     vector  SiLU/GELU (x gate): 5 FLOP/elem of T x ffn / tp
mlp_down       gemm    T x ffn / tp @ ffn / tp x h
mlp_allreduce  comm    TP all-reduce of T x h
mlp_residual   vector  residual add (fused)
router         gemm    MoE gate T x h @ h x E (replicated) + top-k softmax
moe_up/act/down gemm   routed experts: T k token-expert pairs of FLOP; weights read for the
                       *expected number of distinct experts* touched by the step,
                       E (1 - (1 - k/E)^T) (tokens route independently, uniform load)
shared_up/act/down     shared experts, a dense MLP of width num_shared * expert_ffn
moe_all_to_all comm    expert-parallel dispatch + combine (ep > 1)
============== ======= =================================================================

Head operators: ``embedding`` (gather of T rows), ``final_norm``, ``lm_head`` (only for
``lm_tokens``: the last token of each sequence in prefill, every token in decode),
``logits_softmax`` (sampling softmax over the vocabulary) and ``logits_gather`` (vocab-parallel
all-gather of the logits), plus ``pp_send_recv`` (activations between pipeline stages).

MoE layout (``ep``): ``ep = 1`` shards every expert ``tp`` ways like a dense MLP; ``ep > 1``
splits the experts over ``ep`` devices of the ``tp * dp`` devices that step together, tokens of
all ``dp`` replicas are pooled (DeepSeek-V3-style expert parallelism with data-parallel
attention) and dispatched with an all-to-all.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from simulator.kernels import elementwise_bytes, elementwise_flops, gemm_bytes, gemm_flops

# FLOP per element of the vector operators (documented approximations).
RMSNORM_FLOP_PER_ELEM = 4.0  # square, accumulate, scale by rsqrt, multiply by weight
LAYERNORM_FLOP_PER_ELEM = 7.0  # mean, centre, square, accumulate, rsqrt-scale, weight, bias
ROPE_FLOP_PER_ELEM = 3.0  # x cos + rotate(x) sin
SOFTMAX_FLOP_PER_SCORE = 5.0  # running max, subtract, exp, sum, rescale (FlashAttention-2 Sec. 3.1)
ACTIVATION_FLOP_PER_ELEM = 5.0  # SiLU = x / (1 + exp(-x)) and the gate multiply
RESIDUAL_FLOP_PER_ELEM = 1.0
FLASH_BLOCK_ROWS = 128.0  # query rows per FlashAttention tile: K/V re-read once per tile (Dao et al. 2022)
LOGITS_BYTES = 4.0  # logits are materialised in fp32 for sampling (vLLM, TensorRT-LLM)

# Operator kinds (static metadata): which peak rate a kernel runs at.
GEMM, ATTENTION, VECTOR, COMM = "gemm", "attention", "vector", "comm"

LAYER_OPS: dict[str, str] = {
    "attn_norm": VECTOR,
    "qkv_proj": GEMM,
    "rope": VECTOR,
    "attention": ATTENTION,
    "softmax": VECTOR,
    "o_proj": GEMM,
    "attn_allreduce": COMM,
    "attn_residual": VECTOR,
    "mlp_norm": VECTOR,
    "mlp_up": GEMM,
    "activation": VECTOR,
    "mlp_down": GEMM,
    "mlp_allreduce": COMM,
    "mlp_residual": VECTOR,
    "router": GEMM,
    "moe_up": GEMM,
    "moe_act": VECTOR,
    "moe_down": GEMM,
    "shared_up": GEMM,
    "shared_act": VECTOR,
    "shared_down": GEMM,
    "moe_all_to_all": COMM,
}
HEAD_OPS: dict[str, str] = {
    "embedding": VECTOR,
    "final_norm": VECTOR,
    "lm_head": GEMM,
    "logits_softmax": VECTOR,
    "logits_gather": COMM,
    "pp_send_recv": COMM,
}
OP_KINDS: dict[str, str] = {**LAYER_OPS, **HEAD_OPS}
# Efficiency class of every operator (``hardware_db.EFFICIENCY_CLASSES``): which per-class curve of
# ``Efficiency.classes`` its time uses. The online softmax inside FlashAttention belongs to the fused
# attention kernel; the sampling softmax over the vocabulary is elementwise.
EFF_GEMM, EFF_ATTENTION, EFF_ELEMENTWISE, EFF_COLLECTIVE = "gemm", "attention", "elementwise", "collective"
OP_EFF_CLASS: dict[str, str] = {
    **{name: {GEMM: EFF_GEMM, ATTENTION: EFF_ATTENTION, VECTOR: EFF_ELEMENTWISE, COMM: EFF_COLLECTIVE}[kind]
       for name, kind in OP_KINDS.items()},
    "softmax": EFF_ATTENTION,
}
# Which collective each communication operator is, and over which parallel group.
COMM_OPS: dict[str, tuple[str, str]] = {
    "attn_allreduce": ("all_reduce", "tp"),
    "mlp_allreduce": ("all_reduce", "tp"),
    "moe_all_to_all": ("all_to_all", "ep"),
    "logits_gather": ("all_gather", "tp"),
    "pp_send_recv": ("send_recv", "pp"),
}

# Effective storage of quantisation formats that carry scales (bytes per weight).
QUANT_FORMAT_BYTES: dict[str, float] = {
    "q4_0": 18.0 / 32.0,  # llama.cpp block_q4_0: 32 x 4-bit + one fp16 scale = 4.5 bits/weight
    "q8_0": 34.0 / 32.0,  # llama.cpp block_q8_0: 32 x 8-bit + one fp16 scale = 8.5 bits/weight
    "q4_k_m": 4.85 / 8.0,  # llama.cpp Q4_K_M mix, about 4.85 bits/weight for Llama-7B/8B
}


def _f(x):
    return jnp.asarray(x, dtype=jnp.result_type(float))


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Precision:
    """Bytes per element of the weights, the activations and the KV cache (e.g. W4A16KV8).

    All three are pytree leaves so that precisions can be stacked and vmapped. Quantisation scales
    are included in ``weight_bytes`` (llama.cpp Q4_0 = 18/32 byte). Matmuls run in the activation
    dtype (weight-only formats are dequantised on the fly), which the hardware spec resolves.
    """

    weight_bytes: jax.Array | float = 2.0
    act_bytes: jax.Array | float = 2.0
    kv_bytes: jax.Array | float = 2.0


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class AttnWork:
    """Attention work of a step, summed over its sequences (helper of :func:`attention_work`).

    ``pairs``: causal query-key pairs; ``kv_read_tokens``: cached + new tokens whose K/V are read;
    ``kv_write_tokens``: new tokens whose K/V are written; ``q_tokens``: query tokens;
    ``seqs``: sequences.
    """

    pairs: jax.Array
    kv_read_tokens: jax.Array
    kv_write_tokens: jax.Array
    q_tokens: jax.Array
    seqs: jax.Array

    def __add__(self, other: AttnWork) -> AttnWork:
        return jax.tree_util.tree_map(jnp.add, self, other)


def attention_work(seqs, new_tokens, context) -> AttnWork:
    """Attention work of ``seqs`` sequences each appending ``new_tokens`` to ``context`` cached tokens.

    Causal pairs per sequence: ``sum_{i=1..q} (c + i) = q c + q (q + 1) / 2`` (masked blocks are
    skipped, as FlashAttention does). Prefill of a prompt of L tokens is ``(seqs, L, 0)``, a decode
    step ``(seqs, 1, c)``, a chunk of a chunked prefill ``(1, chunk, done)``; add two results
    (``+``) for a mixed iteration.
    """
    seqs, q, c = jnp.broadcast_arrays(_f(seqs), _f(new_tokens), _f(context))
    return AttnWork(
        pairs=seqs * (q * c + q * (q + 1.0) / 2.0),
        kv_read_tokens=seqs * (c + q),
        kv_write_tokens=seqs * q,
        q_tokens=seqs * q,
        seqs=seqs,
    )


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class OpCost:
    """Work of one operator on one device (arrays that broadcast together).

    flops: FLOP (matrix units for gemm/attention kinds, vector units for vector kinds);
    weight_bytes: bytes read from the tier holding the weights; act_bytes: activation bytes
    read + written in main memory; kv_bytes: KV-cache bytes read + written; comm_bytes: payload of
    the collective per device (bytes, before the algorithm's factor); kernels: kernel launches;
    rows: output rows ``M`` of one GEMM call (tokens per device for the projections and the LM head,
    tokens per expert for MoE experts; 0 = not a GEMM / unknown), read by the GEMM-shape term
    (``simulator.roofline.gemm_row_utilisation``). ``scaled`` keeps ``rows``; ``+`` keeps the larger.
    """

    flops: jax.Array
    weight_bytes: jax.Array
    act_bytes: jax.Array
    kv_bytes: jax.Array
    comm_bytes: jax.Array
    kernels: jax.Array
    rows: jax.Array | float = 0.0

    def scaled(self, factor) -> OpCost:
        rows = self.rows
        out = jax.tree_util.tree_map(lambda x: x * factor, self)
        return dataclasses.replace(out, rows=rows)

    def __add__(self, other: OpCost) -> OpCost:
        out = jax.tree_util.tree_map(jnp.add, self, other)
        return dataclasses.replace(out, rows=jnp.maximum(self.rows, other.rows))

    @property
    def bytes(self):
        """All bytes moved in memory (weights + activations + KV)."""
        return self.weight_bytes + self.act_bytes + self.kv_bytes


def _op(flops=0.0, weight_bytes=0.0, act_bytes=0.0, kv_bytes=0.0, comm_bytes=0.0, kernels=1.0, rows=0.0) -> OpCost:
    return OpCost(*(_f(v) for v in (flops, weight_bytes, act_bytes, kv_bytes, comm_bytes, kernels, rows)))


def _gemm(m, n, k, prec: Precision, weight_bytes_per_elem=None, kernels=1.0, weight_elems=None) -> OpCost:
    """A GEMM ``[m, k] @ [k, n]`` with weights (``k n`` elements unless ``weight_elems``) in the weight tier."""
    wb = prec.weight_bytes if weight_bytes_per_elem is None else weight_bytes_per_elem
    welems = _f(k) * n if weight_elems is None else weight_elems
    return _op(
        flops=gemm_flops(m, n, k),
        weight_bytes=welems * wb,
        act_bytes=gemm_bytes(m, n, k, prec.act_bytes, 0.0, prec.act_bytes),
        kernels=kernels,
        rows=m,
    )


def _vector(elems, flop_per_elem, act_bytes, reads=1.0, writes=1.0, kernels=1.0) -> OpCost:
    return _op(
        flops=elementwise_flops(elems, flop_per_elem),
        act_bytes=elementwise_bytes(elems, act_bytes, reads, writes),
        kernels=kernels,
    )


# ---------------------------------------------------------------------------------------------
# Architecture helpers (work on ModelSpec leaves, so they trace under jit/vmap)
# ---------------------------------------------------------------------------------------------


def is_mla(model):
    """1.0 for multi-head latent attention (DeepSeek-V2/V3), else 0.0."""
    return (_f(model.kv_lora_rank) > 0).astype(jnp.result_type(float))


def qk_head_dim(model):
    """Per-head dimension of queries/keys (MLA: nope + rope part = ``head_dim``)."""
    return _f(model.head_dim)


def v_head_dim(model):
    """Per-head dimension of values (MLA: ``v_head_dim``; otherwise ``head_dim``)."""
    return jnp.where(_f(model.v_head_dim) > 0, _f(model.v_head_dim), _f(model.head_dim))


def local_kv_heads(model, tp):
    """K/V heads held by one of ``tp`` devices: ``ceil(kv_heads / tp)`` (replicated when kv < tp)."""
    return jnp.ceil(_f(model.num_kv_heads) / tp)


def kv_elems_per_token_layer(model, tp=1):
    """KV-cache elements per token per layer on one device.

    GQA/MQA: ``2 * ceil(kv_heads / tp) * head_dim``; MLA: the compressed latent plus the shared
    rope key, ``kv_lora_rank + qk_rope_head_dim``, replicated on every TP rank.
    """
    gqa = 2.0 * local_kv_heads(model, tp) * _f(model.head_dim)
    mla = _f(model.kv_lora_rank) + _f(model.qk_rope_head_dim)
    return jnp.where(is_mla(model) > 0, mla, gqa)


def kv_cache_bytes_per_token(model, prec: Precision, tp=1, pp=1):
    """KV-cache bytes per token on one device: ``layers / pp * kv_elems_per_token_layer * kv_bytes``."""
    return _f(model.num_layers) / pp * kv_elems_per_token_layer(model, tp) * prec.kv_bytes


def qkv_weight_elems(model):
    """Weight elements of the Q, K, V projections of one layer (all heads, before TP split).

    GQA: ``h (heads + 2 kv_heads) head_dim``. MLA (DeepSeek-V2 Sec. 2.1): ``h q_lora +
    q_lora heads qk_dim`` (or ``h heads qk_dim`` without q-LoRA) ``+ h (kv_lora + rope) +
    kv_lora heads (qk_dim - rope + v_dim)``.
    """
    h, nh, nkv, hd = _f(model.hidden_size), _f(model.num_heads), _f(model.num_kv_heads), _f(model.head_dim)
    gqa = h * (nh + 2.0 * nkv) * hd
    qlr, kvlr, rope = _f(model.q_lora_rank), _f(model.kv_lora_rank), _f(model.qk_rope_head_dim)
    qk, vd = qk_head_dim(model), v_head_dim(model)
    q_part = jnp.where(qlr > 0, h * qlr + qlr * nh * qk, h * nh * qk)
    kv_part = h * (kvlr + rope) + kvlr * nh * (qk - rope + vd)
    return jnp.where(is_mla(model) > 0, q_part + kv_part, gqa)


def layer_counts(model):
    """(dense layers, MoE layers): dense models have ``num_experts == 0``."""
    n = _f(model.num_layers)
    moe = _f(model.num_experts) > 0
    n_dense = jnp.where(moe, jnp.minimum(_f(model.first_dense_layers), n), n)
    return n_dense, n - n_dense


def expected_distinct_experts(num_experts, experts_per_token, tokens):
    """Expected distinct experts touched when ``tokens`` each pick ``k`` of ``E`` uniformly.

    ``E (1 - (1 - k/E)^T)``: 1 token touches k, many tokens touch all E. Not simply top-k.
    """
    e = _f(num_experts)
    k = _f(experts_per_token)
    safe_e = jnp.maximum(e, 1.0)
    frac = jnp.clip(k / safe_e, 0.0, 1.0)
    return jnp.where(e > 0, e * (1.0 - (1.0 - frac) ** _f(tokens)), 0.0)


# ---------------------------------------------------------------------------------------------
# Operators
# ---------------------------------------------------------------------------------------------


def attention_ops(model, tokens, attn: AttnWork, prec: Precision, tp=1) -> dict[str, OpCost]:
    """Operators of the attention block of one layer (norm, QKV, RoPE, attention, O, all-reduce)."""
    t = _f(tokens)
    h = _f(model.hidden_size)
    nh_local = _f(model.num_heads) / tp
    qk, vd = qk_head_dim(model), v_head_dim(model)
    mla = is_mla(model)
    norm_flop = jnp.where(_f(model.layernorm) > 0, LAYERNORM_FLOP_PER_ELEM, RMSNORM_FLOP_PER_ELEM)
    rope_dim = jnp.where(mla > 0, _f(model.qk_rope_head_dim), qk)
    rope_heads = jnp.where(mla > 0, nh_local + 1.0, nh_local + local_kv_heads(model, tp))
    kv_elems = kv_elems_per_token_layer(model, tp)
    # FlashAttention streams K/V once per block of query rows: reads >= the cache, more in prefill.
    kv_reads = jnp.maximum(attn.kv_read_tokens, attn.pairs / FLASH_BLOCK_ROWS)
    qkv_elems = qkv_weight_elems(model) / tp
    tp_f = _f(tp)
    return {
        "attn_norm": _vector(t * h, norm_flop, prec.act_bytes),
        "qkv_proj": _gemm(t, qkv_elems / h, h, prec),
        "rope": _vector(attn.q_tokens * rope_heads * rope_dim, ROPE_FLOP_PER_ELEM, prec.act_bytes),
        "attention": _op(
            flops=2.0 * attn.pairs * nh_local * (qk + vd),
            act_bytes=attn.q_tokens * nh_local * (qk + vd) * prec.act_bytes,
            kv_bytes=(kv_reads + attn.kv_write_tokens) * kv_elems * prec.kv_bytes,
        ),
        "softmax": _op(flops=SOFTMAX_FLOP_PER_SCORE * attn.pairs * nh_local, kernels=0.0),
        "o_proj": _gemm(t, h, nh_local * vd, prec),
        "attn_allreduce": _op(comm_bytes=jnp.where(tp_f > 1, t * h * prec.act_bytes, 0.0), kernels=tp_f > 1),
        "attn_residual": _vector(t * h, RESIDUAL_FLOP_PER_ELEM, prec.act_bytes, reads=2.0, kernels=0.0),
    }


def dense_mlp_ops(model, tokens, prec: Precision, tp=1) -> dict[str, OpCost]:
    """Operators of a dense MLP block (norm, up/gate, activation, down, all-reduce, residual)."""
    t = _f(tokens)
    h = _f(model.hidden_size)
    f_local = _f(model.ffn_size) / tp
    gate = 1.0 + _f(model.gated_mlp)
    norm_flop = jnp.where(_f(model.layernorm) > 0, LAYERNORM_FLOP_PER_ELEM, RMSNORM_FLOP_PER_ELEM)
    return {
        "mlp_norm": _vector(t * h, norm_flop, prec.act_bytes),
        "mlp_up": _gemm(t, gate * f_local, h, prec),
        "activation": _vector(t * f_local, ACTIVATION_FLOP_PER_ELEM, prec.act_bytes, reads=gate),
        "mlp_down": _gemm(t, h, f_local, prec),
        "mlp_allreduce": _op(comm_bytes=jnp.where(_f(tp) > 1, t * h * prec.act_bytes, 0.0), kernels=_f(tp) > 1),
        "mlp_residual": _vector(t * h, RESIDUAL_FLOP_PER_ELEM, prec.act_bytes, reads=2.0, kernels=0.0),
    }


def moe_ops(model, tokens, prec: Precision, tp=1, ep=1, dp=1) -> dict[str, OpCost]:
    """Operators of an MoE block: router, routed experts, shared experts, all-to-all.

    With ``ep > 1`` the ``dp`` replicas pool their tokens (``T_g = T dp``) and each device holds
    ``E / ep`` experts sharded ``S / ep`` ways, ``S = tp dp``; with ``ep = 1``, ``S = tp``.
    Per device: expert FLOP ``2 T_g k h (1 + gated) f_e / S`` for up+gate (same for down) and
    expert weights read for ``(E / ep)(1 - (1 - k/E)^T_g)`` distinct experts, ``/ (S / ep)`` each.
    """
    t = _f(tokens)
    h = _f(model.hidden_size)
    e, k = _f(model.num_experts), _f(model.experts_per_token)
    fe = _f(model.expert_ffn_size)
    gate = 1.0 + _f(model.gated_mlp)
    ep_f, tp_f, dp_f = _f(ep), _f(tp), _f(dp)
    split = ep_f > 1
    t_g = jnp.where(split, t * dp_f, t)
    shards = jnp.where(split, tp_f * dp_f, tp_f)
    distinct = expected_distinct_experts(e, k, t_g) / ep_f  # per device: its E / ep experts
    per_expert_shard = 1.0 / (shards / ep_f)
    pairs = t_g * k / shards  # token-expert pairs of work per device (uniform routing)
    up_w = distinct * h * gate * fe * per_expert_shard
    down_w = distinct * fe * h * per_expert_shard
    fs = _f(model.num_shared_experts) * fe / tp_f
    moe = (e > 0).astype(t.dtype)
    a2a = jnp.where(split, 2.0 * (t / tp_f) * k * h * prec.act_bytes, 0.0)
    # GEMM rows of one expert call: tokens per expert that is hit (uniform routing), >= 1
    hit = expected_distinct_experts(e, k, t_g)
    per_expert_rows = jnp.where(e > 0, t_g * k / jnp.maximum(hit, 1e-30), 0.0)
    return {
        "router": _gemm(t, e, h, prec, weight_bytes_per_elem=prec.act_bytes).scaled(moe)
        + _op(flops=SOFTMAX_FLOP_PER_SCORE * t * e, kernels=1.0).scaled(moe),
        "moe_up": _op(
            flops=gemm_flops(pairs, gate * fe, h),
            weight_bytes=up_w * prec.weight_bytes,
            act_bytes=pairs * (h + gate * fe) * prec.act_bytes,
            kernels=moe,
            rows=per_expert_rows,
        ),
        "moe_act": _vector(pairs * fe, ACTIVATION_FLOP_PER_ELEM, prec.act_bytes, reads=gate).scaled(moe),
        "moe_down": _op(
            flops=gemm_flops(pairs, h, fe),
            weight_bytes=down_w * prec.weight_bytes,
            act_bytes=pairs * (fe + h) * prec.act_bytes,
            kernels=moe,
            rows=per_expert_rows,
        ),
        "shared_up": _gemm(t, gate * fs, h, prec, kernels=(fs > 0)),
        "shared_act": _vector(t * fs, ACTIVATION_FLOP_PER_ELEM, prec.act_bytes, reads=gate, kernels=(fs > 0)),
        "shared_down": _gemm(t, h, fs, prec, kernels=(fs > 0)),
        "moe_all_to_all": _op(comm_bytes=a2a, kernels=2.0 * split),
    }


def layer_ops(model, tokens, attn: AttnWork, prec: Precision, tp=1, ep=1, dp=1) -> dict[str, OpCost]:
    """Per-device costs of ONE dense layer and ONE MoE layer, keyed by :data:`LAYER_OPS`.

    Returns ``{"dense": {op: OpCost}, "moe": {op: OpCost}}``; both share the attention block.
    Training reuses this with ``tokens = micro_batch * seq`` and
    ``attn = attention_work(micro_batch, seq, 0)`` (backward = 2 x forward GEMM FLOP).
    """
    att = attention_ops(model, tokens, attn, prec, tp)
    dense = dense_mlp_ops(model, tokens, prec, tp)
    # a parallel block (GPT-J/PaLM/Phi-2) feeds attention and MLP from the same norm
    dense["mlp_norm"] = dense["mlp_norm"].scaled(1.0 - _f(model.parallel_block))
    moe = moe_ops(model, tokens, prec, tp, ep, dp)
    zeros_dense = {k: v.scaled(0.0) for k, v in moe.items()}
    # An MoE layer has norm + residual around the experts but no dense up/act/down.
    moe_block = {
        "mlp_norm": dense["mlp_norm"],
        "mlp_up": dense["mlp_up"].scaled(0.0),
        "activation": dense["activation"].scaled(0.0),
        "mlp_down": dense["mlp_down"].scaled(0.0),
        "mlp_allreduce": dense["mlp_allreduce"],
        "mlp_residual": dense["mlp_residual"],
    }
    return {"dense": {**att, **dense, **zeros_dense}, "moe": {**att, **moe_block, **moe}}


def head_ops(model, tokens, lm_tokens, prec: Precision, tp=1, pp=1) -> dict[str, OpCost]:
    """Embedding gather, final norm, LM head (``lm_tokens`` rows only), sampling softmax, gathers.

    ``pp_send_recv`` carries ``(pp - 1)`` hand-offs of ``T h`` activations per forward step.
    """
    t = _f(tokens)
    lm = _f(lm_tokens)
    h, v = _f(model.hidden_size), _f(model.vocab_size)
    norm_flop = jnp.where(_f(model.layernorm) > 0, LAYERNORM_FLOP_PER_ELEM, RMSNORM_FLOP_PER_ELEM)
    v_local = v / tp
    return {
        "embedding": _op(act_bytes=2.0 * t * h * prec.act_bytes),
        "final_norm": _vector(lm * h, norm_flop, prec.act_bytes),
        "lm_head": _op(
            flops=gemm_flops(lm, v_local, h),
            weight_bytes=h * v_local * prec.weight_bytes,
            act_bytes=lm * h * prec.act_bytes + lm * v_local * LOGITS_BYTES,
            rows=lm,
        ),
        "logits_softmax": _vector(lm * v_local, SOFTMAX_FLOP_PER_SCORE, LOGITS_BYTES),
        "logits_gather": _op(comm_bytes=jnp.where(_f(tp) > 1, lm * v_local * LOGITS_BYTES, 0.0),
                             kernels=_f(tp) > 1),
        "pp_send_recv": _op(comm_bytes=(_f(pp) - 1.0) * t * h * prec.act_bytes, kernels=_f(pp) - 1.0),
    }


def forward_ops(model, tokens, attn: AttnWork, lm_tokens, prec: Precision, tp=1, pp=1, ep=1, dp=1
                ) -> dict[str, OpCost]:
    """Per-TP-rank costs of one forward step through ALL layers plus the head, keyed by :data:`OP_KINDS`.

    Layer operators are summed over layers (dense layers x dense costs + MoE layers x MoE costs);
    with pipeline parallelism each stage does ``1 / pp`` of the layer work. ``tokens`` is the number
    of new tokens in the step (prefill ``B L``, decode ``B``), ``lm_tokens`` the rows of the LM head.
    """
    n_layers = _f(model.num_layers)
    n_dense, n_moe = layer_counts(model)
    out = {name: c.scaled(n_layers) for name, c in attention_ops(model, tokens, attn, prec, tp).items()}
    dense = dense_mlp_ops(model, tokens, prec, tp)
    # norm, all-reduce and residual surround every MLP block (dense or MoE); a parallel block
    # (GPT-J/PaLM) shares the attention norm.
    for name in ("mlp_norm", "mlp_allreduce", "mlp_residual"):
        factor = n_layers * (1.0 - _f(model.parallel_block)) if name == "mlp_norm" else n_layers
        out[name] = dense[name].scaled(factor)
    for name in ("mlp_up", "activation", "mlp_down"):
        out[name] = dense[name].scaled(n_dense)
    for name, c in moe_ops(model, tokens, prec, tp, ep, dp).items():
        out[name] = c.scaled(n_moe)
    out = {name: out[name] for name in LAYER_OPS}
    out.update(head_ops(model, tokens, lm_tokens, prec, tp, pp))
    return out


def total_cost(ops: dict[str, OpCost]) -> OpCost:
    """Sum of all operators (a single :class:`OpCost`)."""
    vals = list(ops.values())
    return jax.tree_util.tree_map(lambda *xs: sum(xs[1:], xs[0]), *vals)


def attention_flops_per_token(model, keys):
    """Score + context FLOP per query token attending ``keys`` keys: ``2 L heads (qk_dim + v_dim) keys``.

    Together with ``2 N`` for the weights this is the forward FLOP per token of Kaplan et al. 2020
    (Sec. 2.1, ``C_forward = 2 N + 2 n_layer n_ctx d_attn``), with separate q/k and v widths.
    """
    return 2.0 * _f(model.num_layers) * _f(model.num_heads) * (qk_head_dim(model) + v_head_dim(model)) * keys


def op_field(ops: dict[str, OpCost], field: str):
    """Stack one field of every operator along a new last axis (order of ``ops``)."""
    return jnp.stack([getattr(v, field) for v in ops.values()], axis=-1)


__all__ = [
    "AttnWork",
    "COMM_OPS",
    "HEAD_OPS",
    "LAYER_OPS",
    "OP_KINDS",
    "OP_EFF_CLASS",
    "OpCost",
    "Precision",
    "QUANT_FORMAT_BYTES",
    "attention_flops_per_token",
    "attention_ops",
    "attention_work",
    "dense_mlp_ops",
    "expected_distinct_experts",
    "forward_ops",
    "head_ops",
    "kv_cache_bytes_per_token",
    "kv_elems_per_token_layer",
    "layer_counts",
    "layer_ops",
    "moe_ops",
    "op_field",
    "total_cost",
]
