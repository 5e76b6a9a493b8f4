"""FLOP bookkeeping of training: model FLOPs (MFU) and hardware FLOPs with recomputation (HFU).

Conventions (2 FLOP per multiply-add):

* Model FLOPs per token (Kaplan et al. 2020; PaLM, Chowdhery et al. 2022, App. B)::

      F_model = 3 * (2 * N_matmul + 4 * L * s * d_attn)

  ``N_matmul`` = weights touched by one token's matmuls (attention projections, dense or top-k +
  shared expert MLPs, router, LM head; not the input embedding lookup), ``d_attn = heads x
  head_dim``. The attention term counts the full ``s x s`` score matrix (``QK^T`` and ``PV``),
  which is the convention of Narayanan et al. 2021 Eq. 3, PaLM and MosaicML llm-foundry; the
  factor 3 is forward + backward (backward = 2x forward).
* Hardware FLOPs add what recomputation executes again: one more forward for full recompute,
  the attention core (``QK^T``, ``PV``: ``4 L s d_attn`` per token) for selective recompute
  (Korthikanti et al. 2022 Sec. 5).
* :func:`megatron_flops_per_iteration` is Narayanan et al. 2021 Eq. 3 (full recompute included):
  ``F = 96 B s l h^2 (1 + s/(6h) + V/(16 l h))``; :func:`megatron_model_flops_per_iteration` is the
  same without recompute (Korthikanti et al. 2022 Sec. 6: ``72 B s l h^2 (1 + s/(6h) + V/(12 l h))``).
"""

from __future__ import annotations

import jax.numpy as jnp


def model_shape(spec) -> dict:
    """Float arrays of the architecture quantities the training model uses (broadcastable).

    ``q`` = heads x head_dim (query / attention width), ``kv`` = kv_heads x head_dim, ``g`` = 1
    for gated (SwiGLU) MLPs, ``L_moe`` = MoE layers (0 for dense models).
    """
    f = lambda x: jnp.asarray(x, dtype=float)  # noqa: E731
    L = f(spec.num_layers)
    E = f(spec.num_experts)
    is_moe = E > 0
    L_moe = jnp.where(is_moe, L - f(spec.first_dense_layers), 0.0)
    h = f(spec.hidden_size)
    hd = f(spec.head_dim)
    return dict(
        L=L, h=h, a=f(spec.num_heads), kvh=f(spec.num_kv_heads), hd=hd,
        q=f(spec.num_heads) * hd, kv=f(spec.num_kv_heads) * hd, f=f(spec.ffn_size), g=f(spec.gated_mlp),
        V=f(spec.vocab_size), tied=f(spec.tied_embeddings), E=E, k=f(spec.experts_per_token),
        shared=f(spec.num_shared_experts), fe=f(spec.expert_ffn_size), L_moe=L_moe, L_dense=L - L_moe,
    )


def layer_params(shape: dict) -> dict:
    """Weight counts per layer: attention, dense MLP, MoE MLP (all experts), MoE MLP active per token.

    attention = ``h (q + 2 kv) + q h``; dense MLP = ``(2 + g) h f``; an expert = ``(2 + g) h f_e``;
    router = ``h E``. Biases and norm scales are ignored (< 0.1 % of a layer).
    """
    s = shape
    attn = s["h"] * (s["q"] + 2.0 * s["kv"]) + s["q"] * s["h"]
    dense = (2.0 + s["g"]) * s["h"] * s["f"]
    expert = (2.0 + s["g"]) * s["h"] * s["fe"]
    moe_all = s["E"] * expert + s["shared"] * expert + s["h"] * s["E"]
    moe_active = s["k"] * expert + s["shared"] * expert + s["h"] * s["E"]
    return dict(attn=attn, dense=dense, expert=expert, moe_all=moe_all, moe_active=moe_active)


def matmul_params_per_token(spec) -> jnp.ndarray:
    """``N_matmul``: weights one token multiplies (layers' active weights + LM head)."""
    s = model_shape(spec)
    p = layer_params(s)
    return (s["L"] * p["attn"] + s["L_dense"] * p["dense"] + s["L_moe"] * p["moe_active"]
            + s["V"] * s["h"])


def model_flops_per_token(spec, seq_len) -> jnp.ndarray:
    """Model FLOPs per trained token (forward + backward, no recompute): the MFU numerator / token."""
    s = model_shape(spec)
    fwd = 2.0 * matmul_params_per_token(spec) + 4.0 * s["L"] * jnp.asarray(seq_len, float) * s["q"]
    return 3.0 * fwd


def hardware_flops_per_token(spec, seq_len, recompute) -> jnp.ndarray:
    """FLOPs executed per token including recomputation (``recompute`` code 0/1/2): the HFU numerator."""
    s = model_shape(spec)
    seq = jnp.asarray(seq_len, float)
    fwd = 2.0 * matmul_params_per_token(spec) + 4.0 * s["L"] * seq * s["q"]
    attn_core = 4.0 * s["L"] * seq * s["q"]
    rc = jnp.asarray(recompute)
    extra = jnp.where(rc == 2, fwd - 2.0 * s["V"] * s["h"], jnp.where(rc == 1, attn_core, 0.0))
    return 3.0 * fwd + extra


def megatron_flops_per_iteration(batch, seq_len, layers, hidden, vocab):
    """Narayanan et al. 2021 Eq. 3 (includes the recompute forward): ``96 B s l h^2 (1 + s/6h + V/16lh)``."""
    B, s, lyr, h, V = (jnp.asarray(x, float) for x in (batch, seq_len, layers, hidden, vocab))
    return 96.0 * B * s * lyr * h**2 * (1.0 + s / (6.0 * h) + V / (16.0 * lyr * h))


def megatron_model_flops_per_iteration(batch, seq_len, layers, hidden, vocab):
    """Model FLOPs of a GPT step without recompute: ``72 B s l h^2 (1 + s/6h + V/12lh)`` (Korthikanti 2022)."""
    B, s, lyr, h, V = (jnp.asarray(x, float) for x in (batch, seq_len, layers, hidden, vocab))
    return 72.0 * B * s * lyr * h**2 * (1.0 + s / (6.0 * h) + V / (12.0 * lyr * h))
