"""The input check of a :class:`~simulator.models.spec.ModelSpec` (``ModelSpec.check()`` calls it).

One :class:`~simulator.errors.ModelError` line naming the field and what is allowed. Skipped for
specs whose leaves are arrays or tracers (inside ``vmap`` / ``jit``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulator.errors import ModelError

if TYPE_CHECKING:
    from simulator.models.spec import ModelSpec

_POSITIVE = ("num_layers", "hidden_size", "num_heads", "num_kv_heads", "head_dim", "vocab_size")
_FLAGS = (
    "gated_mlp",
    "tied_embeddings",
    "layernorm",
    "mlp_bias",
    "learned_pos_emb",
    "parallel_block",
    "qk_norm",
    "router_bias",
)


def _is_concrete(spec: ModelSpec) -> bool:
    return all(
        isinstance(getattr(spec, n), (int, float, np.integer, np.floating)) for n in spec.field_names()[1:]
    )


def check_spec(spec: ModelSpec) -> ModelSpec:
    """Check the architecture of ``spec``; return it or raise ``ModelError`` naming the field."""
    if not _is_concrete(spec):
        return spec
    label = f"model '{spec.name}'"
    if not isinstance(spec.name, str) or not spec.name.strip():
        raise ModelError(f"model name must be a non-empty string, got {spec.name!r}")
    v = {}
    for n in spec.field_names()[1:]:
        x = getattr(spec, n)
        if isinstance(x, (bool, np.bool_)):
            x = int(x)
        if isinstance(x, (float, np.floating)):
            if not float(x).is_integer():
                raise ModelError(f"{label}: field '{n}' = {x} must be a whole number")
            x = int(x)
        v[n] = int(x)
    for n in _POSITIVE:
        if v[n] <= 0:
            raise ModelError(f"{label}: field '{n}' = {v[n]} must be a positive integer")
    for n, x in v.items():
        if x < 0:
            raise ModelError(f"{label}: field '{n}' = {x} must be >= 0")
    for n in _FLAGS:
        if v[n] not in (0, 1):
            raise ModelError(f"{label}: field '{n}' = {v[n]} must be 0 or 1")
    if v["attention_bias"] not in (0, 1, 2):
        raise ModelError(
            f"{label}: field 'attention_bias' = {v['attention_bias']} must be 0 (none), "
            "1 (q, k, v, o) or 2 (q, k, v only)"
        )
    if v["num_kv_heads"] > v["num_heads"] or v["num_heads"] % v["num_kv_heads"]:
        raise ModelError(
            f"{label}: field 'num_kv_heads' = {v['num_kv_heads']} must divide num_heads = {v['num_heads']}"
        )
    if v["num_experts"] > 0:
        if not 1 <= v["experts_per_token"] <= v["num_experts"]:
            raise ModelError(
                f"{label}: field 'experts_per_token' = {v['experts_per_token']} must be between 1 and "
                f"num_experts = {v['num_experts']}"
            )
        if v["expert_ffn_size"] <= 0:
            raise ModelError(f"{label}: field 'expert_ffn_size' must be positive for an MoE model")
        if v["first_dense_layers"] >= v["num_layers"]:
            raise ModelError(
                f"{label}: field 'first_dense_layers' = {v['first_dense_layers']} must be smaller than "
                f"num_layers = {v['num_layers']}"
            )
    else:
        for n in ("experts_per_token", "num_shared_experts", "expert_ffn_size", "first_dense_layers",
                  "router_bias"):
            if v[n] != 0:
                raise ModelError(f"{label}: field '{n}' = {v[n]} must be 0 for a dense model (num_experts = 0)")
    dense = v["num_layers"] if v["num_experts"] == 0 else v["first_dense_layers"]
    if dense > 0 and v["ffn_size"] <= 0:
        raise ModelError(f"{label}: field 'ffn_size' must be positive (the model has dense MLP layers)")
    if v["kv_lora_rank"] > 0:
        if not 0 < v["qk_rope_head_dim"] < v["head_dim"]:
            raise ModelError(
                f"{label}: field 'qk_rope_head_dim' = {v['qk_rope_head_dim']} must be between 1 and "
                f"head_dim - 1 = {v['head_dim'] - 1} for MLA (kv_lora_rank > 0)"
            )
        if v["v_head_dim"] <= 0:
            raise ModelError(f"{label}: field 'v_head_dim' must be positive for MLA (kv_lora_rank > 0)")
        if v["attention_bias"]:
            raise ModelError(f"{label}: field 'attention_bias' must be 0 for MLA (kv_lora_rank > 0)")
    else:
        for n in ("q_lora_rank", "qk_rope_head_dim", "v_head_dim"):
            if v[n] != 0:
                raise ModelError(
                    f"{label}: field '{n}' = {v[n]} is only used with MLA; set kv_lora_rank > 0 or {n} = 0"
                )
    if v["learned_pos_emb"] and v["max_context"] <= 0:
        raise ModelError(f"{label}: field 'max_context' must be positive when learned_pos_emb = 1")
    return spec


__all__ = ["check_spec"]
