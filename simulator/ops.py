"""The operator inventory of a decoder-only transformer: one record per operator, one place.

Every operator of one forward step (prefill, decode, a mixed chunked-prefill iteration or a
training micro-batch) is an :class:`~simulator.opcost.OpCost` of ``jax.numpy`` arrays: FLOP,
bytes per memory tier, collective payload, kernel launches, GEMM rows and the weights it holds.
Its static facts (kind, efficiency class, collective, backward factors) are one row of
:data:`OP_INFO`. Serving, training, the parameter totals, the FLOP counters and calibration all
read this inventory and price it with :mod:`simulator.pricing`; nothing else describes work.

**Adding an operator** takes two edits in this file: a row in :data:`OP_INFO` and its cost in the
block function that produces it (``attention_ops``, ``dense_mlp_ops``, ``moe_ops`` or
``head_ops``). ``forward_ops`` refuses an operator without a row (and a row without an operator),
so nothing is silently dropped; see ``docs/CONTRACTS.md`` for an example.

Conventions (``docs/CONTRACTS.md``): 2 FLOP per multiply-add; bytes are read + written in the tier
the tensor lives in (no reuse across kernels); costs are **per device** of a tensor-parallel group
of size ``tp`` (weights, heads and FFN columns split ``tp`` ways, norms replicated); sequences in a
step share each weight read; ``params`` counts the weight elements held on that device.

Operators of one layer:

============== ======= =================================================================
name           kind    work (T = new tokens in the step, h = hidden, per device)
============== ======= =================================================================
attn_norm      vector  RMSNorm (4 FLOP/elem) or LayerNorm (7 FLOP/elem) of T x h
qkv_proj       gemm    T x h @ h x (q + k + v) / tp (MLA: down/up projections)
rope           vector  rotary embedding of q and k (3 FLOP/elem)
attention      attn    FlashAttention: QK^T and PV over the query-key pairs; reads Q, the
                       whole KV cache of each sequence, writes O and the new K, V
softmax        vector  online softmax inside the attention kernel (5 FLOP per score; fused,
                       no launch of its own; Dao 2023, FlashAttention-2 Sec. 3.1)
o_proj         gemm    T x (heads x v_dim / tp) @ ... x h
attn_allreduce comm    TP all-reduce of T x h activations (Megatron-LM, Shoeybi et al. 2019)
attn_residual  vector  residual add (fused into the next norm, no launch)
mlp_norm       vector  as attn_norm (absent in a parallel block)
mlp_up         gemm    gate+up (gated) or up: T x h @ h x (1 + gated) ffn / tp
activation     vector  SiLU/GELU (x gate): 5 FLOP/elem of T x ffn / tp
mlp_down       gemm    T x ffn / tp @ ffn / tp x h
mlp_allreduce  comm    TP all-reduce of T x h
mlp_residual   vector  residual add (fused)
router         gemm    MoE gate T x h @ h x E (replicated)
router_topk    vector  softmax + top-k over the E router logits (5 FLOP per logit)
moe_up/act/down gemm   routed experts: T k token-expert pairs of FLOP; weights read for the
                       *expected number of distinct experts* touched by the step,
                       E (1 - (1 - k/E)^T) (tokens route independently, uniform load)
shared_up/act/down     shared experts, a dense MLP of width num_shared * expert_ffn
moe_all_to_all comm    expert-parallel dispatch + combine (ep > 1)
lowp_cast      vector  FP8/FP4 training only (``Precision.cast_bytes`` > 0): amax + cast +
                       transpose of the inputs and weights of the layer's low-precision GEMMs
lowp_cast_grad vector  backward only: the same for their output gradients
============== ======= =================================================================

Operators marked ``lowp`` in :data:`OP_INFO` (qkv_proj, o_proj, mlp_up/down, moe_up/down,
shared_up/down) run in the hardware spec's low-precision GEMM dtype when it has one (FP8/FP4
recipes); the router, the LM head, attention, softmax and norms stay in the compute dtype.

Head operators: ``embedding`` (gather of T rows), ``final_norm``, ``lm_head`` (only for
``lm_tokens``: the last token of each sequence in prefill, every token in decode and training),
``logits_softmax`` (softmax over the vocabulary) and ``logits_gather`` (vocab-parallel all-gather
of the logits), plus ``pp_send_recv`` (activations between pipeline stages).

MoE layout (``ep``): ``ep = 1`` shards every expert ``tp`` ways like a dense MLP; ``ep > 1``
splits the experts over ``ep`` devices of the ``tp * dp`` devices that step together, tokens of
all ``dp`` replicas are pooled (DeepSeek-V3-style expert parallelism with data-parallel
attention) and dispatched with an all-to-all.
"""

from __future__ import annotations

import jax.numpy as jnp

from simulator.arch import (
    expected_distinct_experts,
    is_mla,
    kv_cache_bytes_per_token,
    kv_elems_per_token_layer,
    layer_counts,
    local_kv_heads,
    qk_head_dim,
    qkv_weight_elems,
    v_head_dim,
)
from simulator.kernels import gemm_flops
from simulator.opcost import (
    ATTENTION,
    CAST_OPS,
    COMM,
    GEMM,
    VECTOR,
    AttnWork,
    OpCost,
    OpInfo,
    Precision,
    attention_work,
    dequant_passes,
    gemm,
    gemm_casts,
    op,
    vector,
)

# FLOP per element of the vector operators (documented approximations).
RMSNORM_FLOP_PER_ELEM = 4.0  # square, accumulate, scale by rsqrt, multiply by weight
LAYERNORM_FLOP_PER_ELEM = 7.0  # mean, centre, square, accumulate, rsqrt-scale, weight, bias
ROPE_FLOP_PER_ELEM = 3.0  # x cos + rotate(x) sin
SOFTMAX_FLOP_PER_SCORE = 5.0  # running max, subtract, exp, sum, rescale (FlashAttention-2 Sec. 3.1)
ACTIVATION_FLOP_PER_ELEM = 5.0  # SiLU = x / (1 + exp(-x)) and the gate multiply
RESIDUAL_FLOP_PER_ELEM = 1.0
FLASH_BLOCK_ROWS = 128.0  # query rows per FlashAttention tile: K/V re-read once per tile (Dao et al. 2022)
LOGITS_BYTES = 4.0  # logits are materialised in fp32 for sampling (vLLM, TensorRT-LLM)
FLASH_BWD = (2.5, 2.0, 1.0)  # FlashAttention-2 backward: 2.5x forward FLOP (recomputes QK^T), one kernel
#: Achieved TFLOP/s of fused attention's backward over its forward (FLOPs counted as 2.5x forward),
#: head dim 128, bf16, sequences 4k-8k; the median of published pairs, 0.80-0.88 on every GPU and kernel:
#: A100 FlashAttention-2 "up to 73% ... forward, ... up to 63% ... backward" = 0.86 (Dao 2023,
#: arXiv:2307.08691, abstract); H100 non-causal 4k / 8k FA3 542/638 = 0.85, 559/646 = 0.87, cuDNN
#: 499/609 = 0.82, 518/600 = 0.86 (Shah et al. 2024, arXiv:2407.08608, Figs. 5c and 6b); H200 cuDNN
#: 9.1 causal 443.6/542.3 = 0.82, 463.5/572.9 = 0.81 (NVIDIA/cudnn-frontend @505fcfeb
#: benchmark/benchmark_results.csv); B200 cuDNN causal 701.3/855.7 = 0.82, 942.5/1171.3 = 0.80
#: (NVIDIA/cudnn-frontend @bb37575d sdpa_benchmark_training/artifacts/sdpa_bf16_benchmark_results_NVIDIA_B200.csv);
#: B200 FlashAttention-4 causal 8k 1208.6/1418.1 = 0.85 (Dao-AILab/flash-attention pull request 2280).
FLASH_BWD_RATE = 0.83

# ------------------------------------------------------------------------------------ registry
_I = OpInfo.make
#: Every operator, in execution order: its static facts. The one table to extend.
OP_INFO: dict[str, OpInfo] = {
    "attn_norm": _I(VECTOR),
    "qkv_proj": _I(GEMM, lowp=True),
    "rope": _I(VECTOR),
    "attention": _I(ATTENTION, bwd=FLASH_BWD, bwd_rate=FLASH_BWD_RATE),
    "softmax": _I(VECTOR, eff_class="attention", bwd_rate=FLASH_BWD_RATE),  # fused into the FlashAttention kernel
    "o_proj": _I(GEMM, lowp=True),
    "attn_allreduce": _I(COMM, collective="all_reduce", group="tp"),
    "attn_residual": _I(VECTOR),
    "mlp_norm": _I(VECTOR),
    "mlp_up": _I(GEMM, lowp=True),
    "activation": _I(VECTOR),
    "mlp_down": _I(GEMM, lowp=True),
    "mlp_allreduce": _I(COMM, collective="all_reduce", group="tp"),
    "mlp_residual": _I(VECTOR),
    "router": _I(GEMM),
    "router_topk": _I(VECTOR),
    "moe_up": _I(GEMM, lowp=True),
    "moe_act": _I(VECTOR),
    "moe_down": _I(GEMM, lowp=True),
    "shared_up": _I(GEMM, lowp=True),
    "shared_act": _I(VECTOR),
    "shared_down": _I(GEMM, lowp=True),
    "moe_all_to_all": _I(COMM, collective="all_to_all", group="ep"),
    # FP8/FP4 training (Transformer Engine): amax + cast (+ transposed copy) of the operands of every
    # low-precision GEMM of the layer; the forward casts have no backward of their own, the
    # output-gradient casts exist only in the backward pass (zero unless Precision.cast_bytes > 0)
    "lowp_cast": _I(VECTOR, bwd=(0.0, 0.0, 0.0)),
    "lowp_cast_grad": _I(VECTOR, bwd=(1.0, 1.0, 1.0), in_forward=False),
    "embedding": _I(VECTOR),
    "final_norm": _I(VECTOR),
    "lm_head": _I(GEMM),
    "logits_softmax": _I(VECTOR),
    "logits_gather": _I(COMM, collective="all_gather", group="tp"),
    "pp_send_recv": _I(COMM, collective="send_recv", group="pp"),
}
HEAD_OP_NAMES = ("embedding", "final_norm", "lm_head", "logits_softmax", "logits_gather", "pp_send_recv")
# Derived views (kept for callers; never edit them by hand).
OP_KINDS: dict[str, str] = {n: i.kind for n, i in OP_INFO.items()}
LAYER_OPS: dict[str, str] = {n: i.kind for n, i in OP_INFO.items() if n not in HEAD_OP_NAMES}
HEAD_OPS: dict[str, str] = {n: OP_INFO[n].kind for n in HEAD_OP_NAMES}
OP_EFF_CLASS: dict[str, str] = {n: i.eff_class for n, i in OP_INFO.items()}
COMM_OPS: dict[str, tuple[str, str]] = {n: (i.collective, i.group) for n, i in OP_INFO.items() if i.kind == COMM}

from simulator.formats import (  # noqa: E402  (number formats live in simulator.formats)
    DEQUANT_FLOP_PER_WEIGHT,
    QUANT_FORMAT_BYTES,
    QUANT_FORMAT_GEMM_DTYPE,
)


def _f(x):
    return jnp.asarray(x, dtype=jnp.result_type(float))


def _norm_flop(model):
    return jnp.where(_f(model.layernorm) > 0, LAYERNORM_FLOP_PER_ELEM, RMSNORM_FLOP_PER_ELEM)


def _norm_params(model):
    """Weights of one norm over ``h``: ``(1 + layernorm) h`` (ModelSpec.final_norm_params)."""
    return _f(model.final_norm_params())




# ------------------------------------------------------------------------------------ blocks
def attention_ops(model, tokens, attn: AttnWork, prec: Precision, tp=1) -> dict[str, OpCost]:
    """Operators of the attention block of one layer (norm, QKV, RoPE, attention, O, all-reduce)."""
    t = _f(tokens)
    h = _f(model.hidden_size)
    nh_local = _f(model.num_heads) / tp
    qk, vd = qk_head_dim(model), v_head_dim(model)
    mla = is_mla(model)
    rope_dim = jnp.where(mla > 0, _f(model.qk_rope_head_dim), qk)
    rope_heads = jnp.where(mla > 0, nh_local + 1.0, nh_local + local_kv_heads(model, tp))
    kv_elems = kv_elems_per_token_layer(model, tp)
    # FlashAttention streams K/V once per block of query rows: reads >= the cache, more in prefill.
    kv_reads = jnp.maximum(attn.kv_read_tokens, attn.pairs / FLASH_BLOCK_ROWS)
    qkv_elems = qkv_weight_elems(model) / tp
    tp_f = _f(tp)
    return {
        "attn_norm": vector(t * h, _norm_flop(model), prec.act_bytes, params=_norm_params(model)),
        "qkv_proj": gemm(t, qkv_elems / h, h, prec, params=_f(model.qkv_params_per_layer()) / tp_f),
        "rope": vector(attn.q_tokens * rope_heads * rope_dim, ROPE_FLOP_PER_ELEM, prec.act_bytes).scaled(
            1.0 - _f(model.learned_pos_emb)),
        "attention": op(
            flops=2.0 * attn.pairs * nh_local * (qk + vd),
            act_bytes=attn.q_tokens * nh_local * (qk + vd) * prec.act_bytes,
            kv_bytes=(kv_reads + attn.kv_write_tokens) * kv_elems * prec.kv_bytes,
        ),
        "softmax": op(flops=SOFTMAX_FLOP_PER_SCORE * attn.pairs * nh_local, kernels=0.0),
        "o_proj": gemm(t, h, nh_local * vd, prec, params=_f(model.o_proj_params_per_layer()) / tp_f),
        "attn_allreduce": op(comm_bytes=jnp.where(tp_f > 1, t * h * prec.act_bytes, 0.0), kernels=tp_f > 1),
        "attn_residual": vector(t * h, RESIDUAL_FLOP_PER_ELEM, prec.act_bytes, reads=2.0, kernels=0.0),
        **gemm_casts([(t, qkv_elems / h, h, qkv_elems, 1.0), (t, h, nh_local * vd, nh_local * vd * h, 1.0)], prec),
    }


def dense_mlp_ops(model, tokens, prec: Precision, tp=1) -> dict[str, OpCost]:
    """Operators of a dense MLP block (norm, up/gate, activation, down, all-reduce, residual)."""
    t = _f(tokens)
    h = _f(model.hidden_size)
    f_local = _f(model.ffn_size) / tp
    gate = 1.0 + _f(model.gated_mlp)
    up_p, down_p = (_f(x) / tp for x in model.mlp_matrix_params(model.numeric("ffn_size")))
    return {
        "mlp_norm": vector(t * h, _norm_flop(model), prec.act_bytes, params=_norm_params(model)),
        "mlp_up": gemm(t, gate * f_local, h, prec, params=up_p),
        "activation": vector(t * f_local, ACTIVATION_FLOP_PER_ELEM, prec.act_bytes, reads=gate),
        "mlp_down": gemm(t, h, f_local, prec, params=down_p),
        "mlp_allreduce": op(comm_bytes=jnp.where(_f(tp) > 1, t * h * prec.act_bytes, 0.0), kernels=_f(tp) > 1),
        "mlp_residual": vector(t * h, RESIDUAL_FLOP_PER_ELEM, prec.act_bytes, reads=2.0, kernels=0.0),
        **gemm_casts([(t, gate * f_local, h, up_p, 1.0), (t, h, f_local, down_p, 1.0)], prec),
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
    up_e, down_e = (_f(x) for x in model.mlp_matrix_params(model.numeric("expert_ffn_size")))
    fs = _f(model.num_shared_experts) * fe / tp_f
    n_shared = _f(model.num_shared_experts)
    moe = (e > 0).astype(t.dtype)
    # expert-parallel all-to-all: dispatch carries the experts' GEMM input (FP8 in W8A8: "we quantize
    # the activation before MoE up-projections into FP8 and then apply dispatch components"), combine
    # the bf16 output ("For the combine components, we retain them in BF16"; DeepSeek-V3 technical
    # report, arXiv 2412.19437 Sec. 3.3.2); both at act_bytes in training and bf16 serving
    a2a = jnp.where(split, (t / tp_f) * k * h * (prec.gemm_input_bytes() + prec.act_bytes), 0.0)
    # GEMM rows of one expert call: tokens per expert that is hit (uniform routing), >= 1
    hit = expected_distinct_experts(e, k, t_g)
    per_expert_rows = jnp.where(e > 0, t_g * k / jnp.maximum(hit, 1e-30), 0.0)
    return {
        "router": gemm(t, e, h, prec, weight_bytes_per_elem=prec.act_bytes,
                       params=_f(model.router_params())).scaled(moe),
        "router_topk": vector(t * e, SOFTMAX_FLOP_PER_SCORE, prec.act_bytes).scaled(moe),
        "moe_up": op(flops=gemm_flops(pairs, gate * fe, h), weight_bytes=distinct * h * gate * fe * per_expert_shard
                     * prec.weight_bytes, act_bytes=pairs * (h * prec.gemm_input_bytes() + gate * fe * prec.act_bytes), kernels=moe,
                     rows=per_expert_rows, params=e * up_e / shards,
                     vec_flops=_f(prec.dequant_flop) * distinct * h * gate * fe * per_expert_shard
                     * dequant_passes(per_expert_rows)),
        "moe_act": vector(pairs * fe, ACTIVATION_FLOP_PER_ELEM, prec.act_bytes, reads=gate).scaled(moe),
        "moe_down": op(flops=gemm_flops(pairs, h, fe), weight_bytes=distinct * fe * h * per_expert_shard
                       * prec.weight_bytes, act_bytes=pairs * (fe * prec.gemm_input_bytes() + h * prec.act_bytes), kernels=moe,
                       rows=per_expert_rows, params=e * down_e / shards,
                       vec_flops=_f(prec.dequant_flop) * distinct * fe * h * per_expert_shard
                       * dequant_passes(per_expert_rows)),
        "shared_up": gemm(t, gate * fs, h, prec, kernels=(fs > 0), params=n_shared * up_e / tp_f),
        "shared_act": vector(t * fs, ACTIVATION_FLOP_PER_ELEM, prec.act_bytes, reads=gate, kernels=(fs > 0)),
        "shared_down": gemm(t, h, fs, prec, kernels=(fs > 0), params=n_shared * down_e / tp_f),
        "moe_all_to_all": op(comm_bytes=a2a, kernels=2.0 * split),
        # casts of the local experts' operands (all local experts' weights) and of the shared experts
        **gemm_casts([(pairs, gate * fe, h, e * up_e / shards, moe), (pairs, h, fe, e * down_e / shards, moe),
                      (t, gate * fs, h, n_shared * up_e / tp_f, fs > 0), (t, h, fs, n_shared * down_e / tp_f, fs > 0)],
                     prec),
    }


_MLP_DENSE = ("mlp_up", "activation", "mlp_down")
_MLP_WRAP = ("mlp_norm", "mlp_allreduce", "mlp_residual")


def layer_ops(model, tokens, attn: AttnWork, prec: Precision, tp=1, ep=1, dp=1) -> dict[str, dict[str, OpCost]]:
    """Per-device costs of ONE dense layer and ONE MoE layer: ``{"dense": {op: OpCost}, "moe": {...}}``.

    Both share the attention block and the norm/all-reduce/residual around the MLP; a dense layer
    has zero MoE operators and an MoE layer zero dense-MLP operators. A parallel block
    (GPT-J/PaLM/Phi-2) feeds attention and MLP from the same norm (no ``mlp_norm``).
    """
    att = attention_ops(model, tokens, attn, prec, tp)
    dense = dense_mlp_ops(model, tokens, prec, tp)
    dense["mlp_norm"] = dense["mlp_norm"].scaled(1.0 - _f(model.parallel_block))
    moe = moe_ops(model, tokens, prec, tp, ep, dp)
    a_c, d_c, m_c = ({k: blk.pop(k) for k in CAST_OPS} for blk in (att, dense, moe))
    zero_moe = {k: v.scaled(0.0) for k, v in moe.items()}
    zero_dense = {k: dense[k].scaled(0.0) for k in _MLP_DENSE}
    wrap = {k: dense[k] for k in _MLP_WRAP}
    return {"dense": {**att, **dense, **zero_moe, **{k: a_c[k] + d_c[k] for k in CAST_OPS}},
            "moe": {**att, **wrap, **zero_dense, **moe, **{k: a_c[k] + m_c[k] for k in CAST_OPS}}}


def head_params(model, tp=1):
    """``(embedding, LM head)`` weights per TP rank: the embedding (and a learned position table)
    split ``tp`` ways over the vocabulary, ``(V + P_pos) h / tp``; the LM head ``V h / tp`` unless
    tied to the embedding."""
    h, v = _f(model.hidden_size), _f(model.vocab_size)
    emb = (v * h + _f(model.learned_pos_emb) * _f(model.max_context) * h) / tp
    return emb, (1.0 - _f(model.tied_embeddings)) * h * v / tp


def head_ops(model, tokens, lm_tokens, prec: Precision, tp=1, pp=1) -> dict[str, OpCost]:
    """Embedding gather, final norm, LM head (``lm_tokens`` rows only), softmax, gathers.

    ``pp_send_recv`` carries ``(pp - 1)`` hand-offs of ``T h`` activations per forward step.
    Weights: the embedding (and a learned position table) split ``tp`` ways over the vocabulary;
    the LM head holds its own ``V h / tp`` unless tied to the embedding, read at
    ``Precision.head_bytes()`` per element (bf16 in W8A8 / W4A4 checkpoints).
    """
    t = _f(tokens)
    lm = _f(lm_tokens)
    h, v = _f(model.hidden_size), _f(model.vocab_size)
    v_local = v / tp
    emb_params, lm_params = head_params(model, tp)
    return {
        "embedding": op(act_bytes=2.0 * t * h * prec.act_bytes, params=emb_params),
        "final_norm": vector(lm * h, _norm_flop(model), prec.act_bytes, params=_norm_params(model)),
        "lm_head": op(flops=gemm_flops(lm, v_local, h), weight_bytes=h * v_local * prec.head_bytes(),
                      act_bytes=lm * h * prec.act_bytes + lm * v_local * LOGITS_BYTES, rows=lm,
                      params=lm_params,
                      vec_flops=_f(prec.dequant_flop) * h * v_local * dequant_passes(lm)),
        "logits_softmax": vector(lm * v_local, SOFTMAX_FLOP_PER_SCORE, LOGITS_BYTES),
        "logits_gather": op(comm_bytes=jnp.where(_f(tp) > 1, lm * v_local * LOGITS_BYTES, 0.0), kernels=_f(tp) > 1),
        "pp_send_recv": op(comm_bytes=(_f(pp) - 1.0) * t * h * prec.act_bytes, kernels=_f(pp) - 1.0),
    }


def _checked(out: dict[str, OpCost]) -> dict[str, OpCost]:
    """``out`` in :data:`OP_INFO` order; an operator without a registry row (or the reverse) is a bug."""
    if set(out) != set(OP_INFO):
        missing, extra = sorted(set(OP_INFO) - set(out)), sorted(set(out) - set(OP_INFO))
        raise KeyError(f"operator inventory out of sync with OP_INFO: missing {missing}, unregistered {extra}")
    return {name: out[name] for name in OP_INFO}


def forward_ops(model, tokens, attn: AttnWork, lm_tokens, prec: Precision, tp=1, pp=1, ep=1, dp=1
                ) -> dict[str, OpCost]:
    """The inventory of one forward step through ALL layers plus the head, per TP rank.

    Layer operators are summed over layers (dense layers x dense costs + MoE layers x MoE costs);
    ``tokens`` is the number of new tokens in the step (prefill ``B L``, decode ``B``, training
    ``b s``), ``lm_tokens`` the rows of the LM head. Keys and order are those of :data:`OP_INFO`.
    """
    # the same sums as layer_ops (dense layers x dense block + MoE layers x MoE block), with the
    # blocks every layer shares scaled once: fewer operations in a sweep of millions of rows
    n_dense, n_moe = layer_counts(model)
    n_layers = _f(model.num_layers)
    att = attention_ops(model, tokens, attn, prec, tp)
    dense = dense_mlp_ops(model, tokens, prec, tp)
    dense["mlp_norm"] = dense["mlp_norm"].scaled(1.0 - _f(model.parallel_block))
    moe = moe_ops(model, tokens, prec, tp, ep, dp)
    a_c, d_c, m_c = ({k: blk.pop(k) for k in CAST_OPS} for blk in (att, dense, moe))
    out = {k: v.scaled(n_layers) for k, v in att.items()}
    out.update({k: dense[k].scaled(n_layers) for k in _MLP_WRAP})
    out.update({k: dense[k].scaled(n_dense) for k in _MLP_DENSE})
    out.update({k: v.scaled(n_moe) for k, v in moe.items()})
    out.update({k: a_c[k].scaled(n_layers) + d_c[k].scaled(n_dense) + m_c[k].scaled(n_moe) for k in CAST_OPS})
    out.update(head_ops(model, tokens, lm_tokens, prec, tp, pp))
    return _checked(out)


# Readers of the inventory (parameter totals, matrix FLOPs) live in simulator.inventory.
from simulator.inventory import (  # noqa: E402
    attention_flops_per_token,
    head_param_count,
    matmul_flops,
    op_field,
    param_counts,
    total_cost,
)

__all__ = [
    "ATTENTION", "AttnWork", "COMM", "COMM_OPS", "GEMM", "HEAD_OPS", "LAYER_OPS", "OP_EFF_CLASS", "OP_INFO",
    "OP_KINDS", "OpCost", "OpInfo", "Precision", "QUANT_FORMAT_BYTES", "QUANT_FORMAT_GEMM_DTYPE", "CAST_OPS", "DEQUANT_FLOP_PER_WEIGHT", "gemm_casts", "VECTOR", "attention_flops_per_token",
    "attention_ops", "attention_work", "dense_mlp_ops", "expected_distinct_experts", "forward_ops", "head_ops",
    "head_param_count", "head_params",
    "kv_cache_bytes_per_token", "kv_elems_per_token_layer", "layer_counts", "layer_ops", "matmul_flops",
    "moe_ops", "op_field", "param_counts", "qkv_weight_elems", "total_cost",
]
