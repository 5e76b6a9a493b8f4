"""Time of one serving-engine iteration (a mixed prefill + decode step) from the single cost path.

A continuous-batching engine (vLLM, Sarathi-Serve, TensorRT-LLM in-flight batching) runs one
forward pass per iteration over the tokens scheduled in it: ``prefill_tokens`` prompt tokens from
``prefill_seqs`` requests (whole prompts or chunks of them) and one new token for each of
``decode_seqs`` running requests. The iteration is priced like every other step of simlab: the
operator inventory (:func:`simulator.ops.forward_ops`) of its tokens and attention work, priced by
:func:`simulator.pricing.step_time_s` on the hardware. Nothing here is a second cost model; it only
describes *which* work the iteration does.

Attention work (causal pairs, K/V read) is linear in the context of each sequence, so a group of
sequences is described by its count and its *mean* context (exact within one roofline regime):

- prefill part: ``prefill_seqs`` chunks of ``prefill_tokens / prefill_seqs`` new tokens each,
  appended after ``prefill_context`` already-cached tokens on average (0 for whole prompts);
- decode part: ``decode_seqs`` sequences, each with ``decode_context`` cached tokens on average.

The LM head runs for the last token of each prefill chunk that completes a prompt
(``prefill_seqs`` rows: an upper bound when a chunk does not finish its prompt) and for every
decode sequence (``docs/CONTRACTS.md``: prefill computes the LM head for the last token only).

All arguments broadcast (``jax.numpy``), so one call prices a whole grid of iteration shapes:
the request-level simulator evaluates a table of (prefill tokens, decode batch, KV tokens) points
once per deployment and interpolates.
"""

from __future__ import annotations

import jax.numpy as jnp

from simulator import ops as O
from simulator.pricing import step_time_s


def _f(x):
    return jnp.asarray(x, dtype=jnp.result_type(float))


def iteration_work(prefill_tokens, prefill_seqs, prefill_context, decode_seqs, decode_context):
    """``(tokens, AttnWork, lm_tokens)`` of one mixed iteration (see the module docstring)."""
    pt, ps, pc = _f(prefill_tokens), _f(prefill_seqs), _f(prefill_context)
    ds, dc = _f(decode_seqs), _f(decode_context)
    ps = jnp.where(pt > 0, jnp.maximum(ps, 1.0), 0.0)
    per_chunk = pt / jnp.maximum(ps, 1.0)
    attn = O.attention_work(ps, per_chunk, pc) + O.attention_work(ds, 1.0, dc)
    tokens = pt + ds
    lm_tokens = ps + ds
    return tokens, attn, lm_tokens


def iteration_time_s(model, hw, prec: O.Precision, prefill_tokens=0.0, prefill_seqs=1.0, prefill_context=0.0,
                     decode_seqs=0.0, decode_context=0.0, tp=1, pp=1, ep=1, dp=1, overlap=0.0,
                     weights_offloaded=0.0):
    """Seconds of one iteration on one tensor-parallel group (one pipeline stage's worth x ``pp``).

    ``hw`` is a :class:`simulator.hw.HwSpec`; ``prec`` the :class:`simulator.ops.Precision`.
    With ``pp > 1`` this is the time of one micro-batch through all stages (the latency of the
    iteration); a pipelined engine overlaps ``pp`` micro-batches, so its throughput is ``pp`` times
    higher. An empty iteration (no tokens) costs 0.
    """
    tokens, attn, lm_tokens = iteration_work(prefill_tokens, prefill_seqs, prefill_context, decode_seqs,
                                             decode_context)
    ops = O.forward_ops(model, tokens, attn, lm_tokens, prec, tp, pp, ep, dp)
    t = step_time_s(ops, hw, tp, pp, ep, weights_offloaded, overlap)
    return jnp.where(tokens > 0, t, 0.0)


__all__ = ["iteration_time_s", "iteration_work"]
