"""The serving core: one configuration (or millions, vmapped) -> TTFT, TPOT, throughput, memory.

See the package docstring (:mod:`simulator.serving`) for the model. Steps are inventories of
:func:`simulator.ops.forward_ops` priced by :mod:`simulator.pricing`; nothing here prices work.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from simulator import ops as O
from simulator.collectives import exposed_s
from simulator.engines import overhead_s
from simulator.hw import HwSpec
from simulator.pricing import _compute_op_times, step_parts_s, step_time_s
from simulator.serving.results import ServeResult
from simulator.speculative import expected_tokens_per_step

DEFAULT_WORKSPACE_BYTES = 1.0e9
DEFAULT_BLOCK_SIZE = 16  # vLLM default paged-KV block (tokens)

# Scenario axis of one evaluation: prefill, decode at the mean context, decode at the last
# context, one chunked-prefill iteration.
SCENARIOS = ("prefill", "decode_mean", "decode_last", "chunk_iter")


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class ServeConfig:
    """One (or a batch of) serving configuration(s); every field is a float leaf.

    batch: sequences per replica; input_len / output_len: tokens per request; tp, pp, ep, dp:
    layout; chunk: prefill token budget per iteration (0 = static batching); block_size: paged KV
    block (tokens); weights_offloaded: 1 = weights stream from the slow tier; tp_overlap: fraction
    of collective time hidden behind compute (0 = none, the default of TensorRT-LLM/vLLM decode);
    workspace_bytes: fixed memory per device; spec_gamma / spec_accept: speculative decoding
    lookahead and acceptance rate (gamma = 0: off); engine_step_s / engine_seq_s /
    engine_host_share: the serving engine's host/framework time per scheduler step
    (:mod:`simulator.engines`: ``step_s + seq_s * sequences + t_step * share / (1 - share)``,
    all 0 = engine ``none``, the bare kernel sequence).
    """

    batch: jax.Array
    input_len: jax.Array
    output_len: jax.Array
    tp: jax.Array
    pp: jax.Array
    ep: jax.Array
    dp: jax.Array
    chunk: jax.Array
    block_size: jax.Array
    weights_offloaded: jax.Array
    tp_overlap: jax.Array
    workspace_bytes: jax.Array
    spec_gamma: jax.Array
    spec_accept: jax.Array
    engine_step_s: jax.Array
    engine_seq_s: jax.Array
    engine_host_share: jax.Array

    @staticmethod
    def make(batch=1, input_len=1024, output_len=128, tp=1, pp=1, ep=1, dp=1, chunk=0,
             block_size=DEFAULT_BLOCK_SIZE, weights_offloaded=0, tp_overlap=0.0,
             workspace_bytes=DEFAULT_WORKSPACE_BYTES, spec_gamma=0, spec_accept=0.0, engine_step_s=0.0,
             engine_seq_s=0.0, engine_host_share=0.0) -> ServeConfig:
        """Build a config from numbers (arrays broadcast); no validation (see ``check_serve``)."""
        vals = locals()
        return ServeConfig(**{f.name: jnp.asarray(vals[f.name], dtype=float)
                              for f in dataclasses.fields(ServeConfig)})


CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(ServeConfig))

# ---------------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------------


def weight_params_per_device(model, tp=1, pp=1, ep=1, dp=1):
    """Weights on one device: the inventory's weights of one TP rank (``ops.param_counts``) over ``pp``
    stages (norms replicated on every TP rank; experts split ``S`` ways as in ``ops.moe_ops``)."""
    return O.param_counts(model, tp, ep, dp)[0] / pp


def weight_bytes_per_device(model, prec: O.Precision, tp=1, pp=1, ep=1, dp=1):
    """Weight bytes on one device: :func:`weight_params_per_device` at ``prec.weight_bytes``, except
    the embedding and LM head (``ops.head_param_count``) at ``prec.head_bytes()`` (bf16 in W8A8 /
    W4A4 checkpoints, whose quantisation covers only the linear layers)."""
    head = O.head_param_count(model, tp) / pp
    return (weight_params_per_device(model, tp, pp, ep, dp) - head) * prec.weight_bytes + head * prec.head_bytes()


def activation_bytes_coeffs(model, prec: O.Precision, tp, pp, input_len, chunk):
    """Peak activation bytes per device as ``a0 + a1 * batch`` (largest step's transient tensors).

    Per token in flight: residual + normed input + attention output (3 h), the QKV output, and the
    MLP intermediate (dense ``(1 + gated) f / tp``, MoE ``(1 + gated)(k f_e + S f_e) / tp``) in the
    activation dtype, plus fp32 logits of ``V / tp`` per sequence. Static batching holds one
    micro-batch of ``B / pp`` prompts; chunked prefill at most ``chunk`` tokens.
    """
    h = model.numeric("hidden_size")
    gate = 1.0 + model.numeric("gated_mlp")
    qkv = O.qkv_weight_elems(model) / h / tp
    mlp = jnp.maximum(model.numeric("ffn_size"),
                      (model.numeric("experts_per_token") + model.numeric("num_shared_experts")) * model.numeric("expert_ffn_size"))
    per_token = (3.0 * h + qkv + gate * mlp / tp) * prec.act_bytes
    logits = model.numeric("vocab_size") / tp * O.LOGITS_BYTES
    static_a1 = (input_len * per_token + logits) / pp
    chunk_a0 = chunk * per_token + logits
    a0 = jnp.where(chunk > 0, chunk_a0, 0.0)
    a1 = jnp.where(chunk > 0, 0.0, static_a1)
    return a0, a1


# ---------------------------------------------------------------------------------------------
# The core
# ---------------------------------------------------------------------------------------------


def _scenario_work(cfg: ServeConfig, q_dec):
    """Tokens, attention work and LM-head rows of the scenarios (arrays of shape [..., 4]).

    Scenarios (:data:`SCENARIOS`): prefill of one micro-batch; decode at the mean context of the
    generation ``L + (O - 1)/2``; decode at the last context ``L + O - 1``; one chunked-prefill
    iteration (decodes at the mean context plus ``p`` prompt tokens).

    Chunked prefill bills only the prompt tokens that are waiting: at steady state the ``m``
    running sequences each bring ``L`` prompt tokens every ``O`` iterations, so
    ``p = min(C - m, m L / O)`` (the chunk budget, or the average arrival when it is smaller).
    """
    b, L, out_len = cfg.batch, cfg.input_len, cfg.output_len
    m = jnp.maximum(b / cfg.pp, 1.0)
    ctx_dec = jnp.stack([L + (out_len - 1.0) / 2.0, L + out_len - 1.0], axis=-1)
    # chunk iteration: p prefill tokens of one request at mean offset (or several whole prompts)
    waiting = m * L / jnp.maximum(out_len, 1.0)
    p = jnp.minimum(jnp.maximum(cfg.chunk - m, 0.0), waiting)
    one = p <= L
    pre_seqs = jnp.where(one, jnp.minimum(p, 1.0), p / L)
    pre_q = jnp.where(one, p, L)
    pre_ctx = jnp.where(one, jnp.maximum(L - p, 0.0) / 2.0, 0.0)
    chunk_pre = O.attention_work(pre_seqs, pre_q, pre_ctx)
    dec = O.attention_work(m[..., None], q_dec[..., None], ctx_dec)
    prefill = O.attention_work(m, L, 0.0)
    mixed = O.attention_work(m, 1.0, ctx_dec[..., 0]) + chunk_pre
    attn = jax.tree_util.tree_map(
        lambda a, d, c: jnp.concatenate([a[..., None], d, c[..., None]], axis=-1), prefill, dec, mixed
    )
    dec_tokens = m[..., None] * q_dec[..., None] * jnp.ones_like(ctx_dec)

    def cat(pre, d, extra):
        return jnp.concatenate([jnp.asarray(pre)[..., None], d, jnp.asarray(extra)[..., None]], axis=-1)

    tokens = cat(m * L, dec_tokens, m + p)
    lm_tokens = cat(m, dec_tokens, m + p / jnp.maximum(L, 1.0))
    return tokens, attn, lm_tokens, m, p


def _scenario_times_s(model, hw: HwSpec, prec: O.Precision, cfg: ServeConfig, tokens, attn, lm_tokens):
    """Step times of the 4 scenarios, evaluating the full operator set only 3 times.

    Decode at the mean and at the last context differ only in the context-dependent operators
    (``attention``, ``softmax``), so the last-context step is the mean-context step plus their time
    difference (exact: the other operators and the collectives are identical); equal to
    ``step_time_s(forward_ops(...))`` on all 4 scenarios, at 3/4 of the cost.
    """
    tp, pp, ep, dp = cfg.tp, cfg.pp, cfg.ep, cfg.dp

    def pick(idx):
        return lambda x: jnp.take(jnp.broadcast_to(x, jnp.shape(tokens)), jnp.asarray(idx), axis=-1)

    p3 = pick([0, 1, 3])
    ops = O.forward_ops(model, p3(tokens), jax.tree_util.tree_map(p3, attn), p3(lm_tokens), prec, tp, pp, ep, dp)
    comp, comm = step_parts_s(ops, hw, tp, pp, ep, cfg.weights_offloaded)
    p2 = pick([1, 2])
    att = O.attention_ops(model, p2(tokens), jax.tree_util.tree_map(p2, attn), prec, tp)
    layers = jnp.asarray(model.num_layers, dtype=float)
    _, t_att, _ = _compute_op_times({k: att[k].scaled(layers) for k in ("attention", "softmax")}, hw,
                                    cfg.weights_offloaded)
    t_att = jnp.sum(t_att, axis=-1)
    comp_last = comp[..., 1] + t_att[..., 1] - t_att[..., 0]
    comp4 = jnp.stack([comp[..., 0], comp[..., 1], comp_last, comp[..., 2]], axis=-1)
    comm4 = jnp.stack([comm[..., 0], comm[..., 1], comm[..., 1], comm[..., 2]], axis=-1)
    return comp4 + exposed_s(comm4, comp4, cfg.tp_overlap[..., None])


def serve_core(model, hw: HwSpec, prec: O.Precision, cfg: ServeConfig, draft=None, draft_prec=None):
    """All serving metrics of one configuration (scalars; vmap for batches). See the module doc.

    ``draft`` (a ``ModelSpec``) enables speculative decoding with ``cfg.spec_gamma`` /
    ``cfg.spec_accept``; it runs on the same devices and layout as the target.
    """
    tp, pp, ep, dp = cfg.tp, cfg.pp, cfg.ep, cfg.dp
    b, L, out_len = cfg.batch, cfg.input_len, cfg.output_len
    gamma = cfg.spec_gamma if draft is not None else jnp.zeros_like(cfg.spec_gamma)
    q_dec = 1.0 + gamma
    tokens, attn, lm_tokens, m, p = _scenario_work(cfg, q_dec)
    t = _scenario_times_s(model, hw, prec, cfg, tokens, attn, lm_tokens)  # [..., 4]

    # speculative decoding: draft decode steps + expected accepted tokens
    e_tok = expected_tokens_per_step(cfg.spec_accept, gamma)
    t_draft = 0.0
    if draft is not None:
        dprec = prec if draft_prec is None else draft_prec
        ctx = jnp.stack([L, L + (out_len - 1.0) / 2.0, L + out_len - 1.0, L + (out_len - 1.0) / 2.0], axis=-1)
        dops = O.forward_ops(draft, m[..., None] * jnp.ones_like(ctx), O.attention_work(m[..., None], 1.0, ctx),
                             m[..., None] * jnp.ones_like(ctx), dprec, tp, pp, 1.0, dp)
        t_draft = gamma[..., None] * step_time_s(dops, hw, tp, pp, 1.0, cfg.weights_offloaded, cfg.tp_overlap)
        t_draft = t_draft * jnp.asarray([0.0, 1.0, 1.0, 0.0])
    t_dev = t + t_draft
    # serving engine host/framework time per scheduler step (simulator.engines); sequences per step:
    # the micro-batch, plus the prompts being prefilled in a chunked iteration
    pre_seqs = jnp.where(p <= L, jnp.minimum(p, 1.0), p / jnp.maximum(L, 1.0))
    seqs = jnp.stack([m, m, m, m + pre_seqs], axis=-1)
    t_engine = overhead_s(cfg.engine_step_s[..., None], cfg.engine_seq_s[..., None],
                          cfg.engine_host_share[..., None], seqs, t_dev)
    t_all = t_dev + t_engine

    # static batching
    ttft_static = (2.0 * pp - 1.0) / pp * t_all[..., 0]
    tpot_last = t_all[..., 2] / e_tok
    tpot_avg = t_all[..., 1] / e_tok
    e2e_static = ttft_static + (out_len - 1.0) * tpot_avg
    # chunked prefill (continuous batching at steady state)
    t_it = t_all[..., 3]
    rate = jnp.minimum(p / L, m / out_len)  # requests completed per iteration
    chunked = cfg.chunk > 0
    ttft = jnp.where(chunked, jnp.ceil(L / jnp.maximum(p, 1e-9)) * t_it, ttft_static)
    tpot = jnp.where(chunked, t_it, tpot_last)
    tpot_mean = jnp.where(chunked, t_it, tpot_avg)
    e2e = jnp.where(chunked, ttft + out_len * t_it, e2e_static)
    out_tps = jnp.where(chunked, dp * rate * out_len / t_it * pp, dp * b * out_len / e2e)
    tot_tps = jnp.where(chunked, dp * rate * (L + out_len) / t_it * pp, dp * b * (L + out_len) / e2e)
    prefill_tps = dp * b * L / ttft_static

    # memory per device
    w_bytes = weight_bytes_per_device(model, prec, tp, pp, ep, dp)
    kv_tok = O.kv_cache_bytes_per_token(model, prec, tp, pp)
    if draft is not None:
        dprec = prec if draft_prec is None else draft_prec
        w_bytes = w_bytes + weight_bytes_per_device(draft, dprec, tp, pp, 1.0, dp)
        kv_tok = kv_tok + O.kv_cache_bytes_per_token(draft, dprec, tp, pp)
    seq_tokens = jnp.ceil((L + out_len + gamma) / cfg.block_size) * cfg.block_size
    kv_per_seq = seq_tokens * kv_tok
    kv_bytes = b * kv_per_seq
    a0, a1 = activation_bytes_coeffs(model, prec, tp, pp, L, cfg.chunk)
    act = a0 + a1 * b
    off = cfg.weights_offloaded > 0
    main_weights = jnp.where(off, 0.0, w_bytes)
    used = main_weights + kv_bytes + act + cfg.workspace_bytes
    cap = hw.mem_capacity_bytes
    slow_short = jnp.where(off, jnp.maximum(w_bytes - hw.slow_capacity_bytes, 0.0), 0.0)
    shortfall = jnp.maximum(used - cap, 0.0) + slow_short
    fits = shortfall <= 0.0
    room = cap - main_weights - cfg.workspace_bytes - a0
    max_batch = jnp.where(slow_short > 0, 0.0, jnp.maximum(jnp.floor(room / (kv_per_seq + a1)), 0.0))

    devices = tp * pp * dp
    switch = jnp.where(hw.slow_bytes_per_s > 0, w_bytes / jnp.where(hw.slow_bytes_per_s > 0, hw.slow_bytes_per_s, 1.0),
                       jnp.nan)
    return ServeResult(
        ttft_s=ttft,
        tpot_s=tpot,
        tpot_avg_s=tpot_mean,
        e2e_latency_s=e2e,
        output_tokens_per_s=out_tps,
        total_tokens_per_s=tot_tps,
        prefill_tokens_per_s=prefill_tps,
        output_tokens_per_s_per_device=out_tps / devices,
        spec_tokens_per_step=e_tok,
        weights_bytes=w_bytes,
        kv_cache_bytes=kv_bytes,
        activation_bytes=act,
        workspace_bytes=cfg.workspace_bytes * jnp.ones_like(act),
        memory_bytes=used,
        capacity_bytes=cap * jnp.ones_like(act),
        fits=fits,
        shortfall_bytes=shortfall,
        max_batch=max_batch,
        model_switch_s=switch,
        energy_per_output_token_j=hw.tdp_w * devices / out_tps,
        devices=devices,
        engine_decode_s=t_engine[..., 2],
    )


RESULT_COLUMNS = ServeResult._fields

