"""FLOP bookkeeping of training, read from the operator inventory (``simulator.ops``).

Conventions (2 FLOP per multiply-add):

* **Model FLOPs** per trained token (the MFU numerator; Kaplan et al. 2020, PaLM App. B)::

      F_model = 3 x (forward matrix FLOP of the inventory of one sequence) / s

  i.e. ``3 (2 N_matmul + attention)``: every GEMM of the inventory (attention projections, MLA
  down/up projections, dense or top-k + shared expert MLPs, router, LM head; not the embedding
  lookup) plus ``QK^T`` and ``PV``; backward = 2x forward. The attention term depends on the
  convention ``mfu_attention`` (a field of :class:`simulator.training.common.TrainOptions`):

  - ``"causal"`` (the default): the ``s (s + 1) / 2`` query-key pairs a causal model needs per
    sequence, what FlashAttention executes (Dao 2023, FlashAttention-2 Sec. 4.1 counts causal
    FLOPs as half; Llama 3 / torchtitan-style accounting of a causal mask). MFU then never
    exceeds HFU.
  - ``"full"``: the whole ``s x s`` score matrix, the convention of PaLM (Chowdhery et al. 2022,
    App. B: ``6N + 12 L H Q T``), Megatron-LM (Narayanan et al. 2021 Eq. 3, Korthikanti et al. 2022
    Sec. 6) and MosaicML llm-foundry; the validation rows of those sources use it. At long context it
    can exceed the FLOPs a causal kernel executes, so MFU may exceed HFU under it.

* **Hardware FLOPs** (the HFU numerator) are not a formula here: they are the matrix FLOP the
  training step prices (``simulator.training.step``: forward, backward by each operator's
  factors, recomputation), so HFU can never exceed the compute efficiency of the device.
* :func:`megatron_flops_per_iteration` is Narayanan et al. 2021 Eq. 3 (full recompute included):
  ``F = 96 B s l h^2 (1 + s/(6h) + V/(16 l h))``; :func:`megatron_model_flops_per_iteration` is the
  same without recompute (Korthikanti et al. 2022 Sec. 6: ``72 B s l h^2 (1 + s/(6h) + V/(12 l h))``).
"""

from __future__ import annotations

import jax.numpy as jnp

from simulator import ops
from simulator.errors import ConfigError

MFU_ATTENTION = ("causal", "full")


def check_mfu_attention(convention: str) -> str:
    """The convention name if known (``causal`` or ``full``); ``ConfigError`` otherwise."""
    if convention not in MFU_ATTENTION:
        raise ConfigError(f"mfu_attention = {convention!r}; allowed: {', '.join(MFU_ATTENTION)}")
    return convention


def forward_matmul_flops_per_token(spec, seq_len, convention: str = "causal"):
    """Forward matrix FLOP per token of a training sequence of ``seq_len`` tokens (one device, no TP)."""
    seq = jnp.asarray(seq_len, dtype=float)
    attn = ops.attention_work(1.0, seq, 0.0, full_square=check_mfu_attention(convention) == "full")
    inv = ops.forward_ops(spec, seq, attn, seq, ops.Precision())
    return ops.matmul_flops(inv) / seq


def model_flops_per_token(spec, seq_len, convention: str = "causal"):
    """Model FLOPs per trained token (forward + backward, no recompute): the MFU numerator / token."""
    return 3.0 * forward_matmul_flops_per_token(spec, seq_len, convention)


def megatron_flops_per_iteration(batch, seq_len, layers, hidden, vocab):
    """Narayanan et al. 2021 Eq. 3 (includes the recompute forward): ``96 B s l h^2 (1 + s/6h + V/16lh)``."""
    B, s, lyr, h, V = (jnp.asarray(x, float) for x in (batch, seq_len, layers, hidden, vocab))
    return 96.0 * B * s * lyr * h**2 * (1.0 + s / (6.0 * h) + V / (16.0 * lyr * h))


def megatron_model_flops_per_iteration(batch, seq_len, layers, hidden, vocab):
    """Model FLOPs of a GPT step without recompute: ``72 B s l h^2 (1 + s/6h + V/12lh)`` (Korthikanti 2022)."""
    B, s, lyr, h, V = (jnp.asarray(x, float) for x in (batch, seq_len, layers, hidden, vocab))
    return 72.0 * B * s * lyr * h**2 * (1.0 + s / (6.0 * h) + V / (12.0 * lyr * h))
