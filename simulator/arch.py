"""Architecture quantities of a ``ModelSpec`` that the operator inventory needs (traceable).

Every function reads ``ModelSpec`` leaves with ``jax.numpy`` so it works on one spec, a stacked
batch of specs and under ``jit``/``vmap``. Parameter formulas themselves live once, in
:class:`simulator.models.ModelSpec` (``qkv_params_per_layer``, ``mlp_matrix_params`` ...); this
module adds the shapes of the work (head widths, KV-cache elements, expected distinct experts).
"""

from __future__ import annotations

import jax.numpy as jnp


def _f(x):
    return jnp.asarray(x, dtype=jnp.result_type(float))




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


def kv_cache_bytes_per_token(model, prec, tp=1, pp=1):
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
