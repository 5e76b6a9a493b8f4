"""Readers of the operator inventory: totals, matrix FLOPs (what MFU counts) and parameter counts.

Everything here reads :func:`simulator.ops.forward_ops` records; nothing describes work of its own.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from simulator import ops as _ops
from simulator.arch import qk_head_dim, v_head_dim
from simulator.opcost import OpCost, Precision, attention_work


def _f(x):
    return jnp.asarray(x, dtype=jnp.result_type(float))


def total_cost(ops: dict[str, OpCost]) -> OpCost:
    """Sum of all operators (a single :class:`OpCost`)."""
    vals = list(ops.values())
    return jax.tree_util.tree_map(lambda *xs: sum(xs[1:], xs[0]), *vals)


def matmul_flops(ops: dict[str, OpCost]):
    """Forward matrix FLOP of an inventory (gemm and attention kinds; what MFU counts)."""
    return sum(c.flops for n, c in ops.items() if _ops.OP_INFO[n].matmul)


def param_counts(model, tp=1, ep=1, dp=1):
    """``(total, active)`` weights held by one TP rank, read from the inventory.

    ``active`` counts ``k + S`` experts per MoE layer instead of ``E + S`` (what one token uses);
    with ``tp = ep = 1`` these equal ``ModelSpec.total_params()`` / ``active_params()``.
    """
    ops = _ops.forward_ops(model, 1.0, attention_work(1.0, 1.0, 0.0), 1.0, Precision(), tp, 1, ep, dp)
    total = sum(c.params for c in ops.values())
    e = _f(model.num_experts)
    routed = ops["moe_up"].params + ops["moe_down"].params
    active = total - routed + routed * jnp.where(e > 0, _f(model.experts_per_token) / jnp.maximum(e, 1.0), 0.0)
    return total, active


def head_param_count(model, tp=1):
    """Weights of the embedding (and learned position table) and the untied LM head held by one TP
    rank (the inventory's ``embedding`` + ``lm_head`` params): the part of :func:`param_counts`
    stored at ``Precision.head_bytes()``."""
    emb, lm = _ops.head_params(model, tp)
    return emb + lm


def attention_flops_per_token(model, keys):
    """Score + context FLOP per query token attending ``keys`` keys: ``2 L heads (qk_dim + v_dim) keys``.

    Together with ``2 N`` for the weights this is the forward FLOP per token of Kaplan et al. 2020
    (Sec. 2.1, ``C_forward = 2 N + 2 n_layer n_ctx d_attn``), with separate q/k and v widths.
    """
    return 2.0 * _f(model.num_layers) * _f(model.num_heads) * (qk_head_dim(model) + v_head_dim(model)) * keys


def op_field(ops: dict[str, OpCost], field: str):
    """Stack one field of every operator along a new last axis (order of ``ops``)."""
    return jnp.stack([getattr(v, field) for v in ops.values()], axis=-1)


