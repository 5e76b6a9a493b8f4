"""Serving simulator: TTFT, TPOT, end-to-end latency, throughput and memory per device (JAX core).

One configuration and millions go through the same pure ``jax.numpy`` function
:func:`serve_core` (``jit`` + ``vmap`` in :mod:`simulator.sweep`). Front ends:
:func:`predict_serve` (one configuration, names or objects, validated, optional per-operator
breakdown) and :func:`simulator.sweep.serve` (a DataFrame of configurations).

Model of a step (see :mod:`simulator.ops` for the operators)::

    t_step = sum_op kernel_time_s(op)                              # roofline per operator
           + sum_comm t_comm - overlap * min(sum_comm, sum_compute) # alpha-beta collectives

where ``kernel_time_s = max((F + F_half)/(P e_c), (B + B_half)/(W e_m)) + n_kernels t_kernel``
(:func:`simulator.roofline.kernel_time_s`); weight bytes streamed from a slower tier (SN40L DDR)
count ``W_main / W_weights`` times.

Layout: ``tp`` (tensor parallel), ``pp`` (pipeline stages), ``ep`` (expert parallel, see
:mod:`simulator.ops`), ``dp`` (independent replicas). ``batch`` is sequences **per replica**;
throughputs count all ``dp`` replicas; memory is per device.

Static batching (``chunk = 0``, the default), with ``m = max(B / pp, 1)`` sequences per pipeline
micro-batch and ``t(x)`` the time of a forward step of all layers on one TP group:

- ``TTFT = (2 pp - 1) / pp * t(prefill of m prompts)`` (pipeline fill + drain; = t for pp = 1)
- ``TPOT(c) = t(decode of m sequences at context c) / E_tok``; ``tpot_s`` at the last context
  ``L + O - 1``; ``tpot_avg_s`` averaged over the generation, evaluated at the mean context
  ``L + (O - 1)/2`` (exact where the step time is linear in c, as it is within a roofline regime)
- ``e2e = TTFT + (O - 1) tpot_avg``; output tokens/s ``= dp B O / e2e``; total tokens/s
  ``= dp B (L + O) / e2e`` (prompt tokens count in total, not in output)

Chunked prefill (``chunk = C > 0``, Sarathi-Serve, Agrawal et al. 2024, continuous batching at
steady state): every iteration decodes the ``B`` running sequences at the mean context
``L + (O - 1)/2`` and prefills ``p = max(C - B, 0)`` prompt tokens of one request at mean offset. Requests
complete at ``min(p / L, B / O)`` per iteration, so output tokens/s ``= dp O min(p/L, B/O) / t_iter``,
``TPOT = t_iter``, ``TTFT = ceil(L / p) t_iter``.

Speculative decoding (Leviathan et al. 2023, Eq. 1): with lookahead ``gamma`` and acceptance rate
``alpha`` a target step verifies ``gamma + 1`` tokens and yields ``E_tok = (1 - alpha^(gamma+1)) /
(1 - alpha)`` tokens; a step costs ``gamma`` draft decode steps plus one target step of
``gamma + 1`` tokens per sequence.

Memory per device: weights ``((N - N_routed)/tp + N_routed / S) / pp`` x weight bytes (S = tp, or
tp dp with expert parallelism); KV cache ``B ceil((L + O) / block) block`` x KV bytes per token
(paged blocks of ``block_size`` tokens, vLLM); activations of the largest step (prefill
micro-batch or chunk: residual, QKV, MLP intermediate, fp32 logits); a fixed ``workspace_bytes``
(CUDA context, library workspaces; 1 GB default, an assumption). ``fits`` compares with main
memory (and DDR for offloaded weights); ``shortfall_bytes`` says how much is missing;
``max_batch`` is the largest batch that fits for the given lengths (memory is affine in B).

SN40L-style tiers: ``weights_offloaded = 1`` keeps weights in the slow tier (DDR) and streams them
each step; ``model_switch_s = weight bytes per device / slow-tier bandwidth`` is the time to copy a
model DDR -> HBM (composition of experts; NaN when the device has no slower tier).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from hardware_db import Device, System, load_device, load_system
from simulator import ops as O
from simulator.collectives import (
    exposed_s,
    hierarchical_all_gather_time_s,
    hierarchical_all_reduce_time_s,
    hierarchical_all_to_all_time_s,
    send_recv_time_s,
)
from simulator.errors import ConfigError
from simulator.hw import HW_CLASSES, HwSpec, build_hw, slow_tier
from simulator.roofline import compute_time_s, gemm_row_utilisation, kernel_time_s, memory_time_s
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
    lookahead and acceptance rate (gamma = 0: off).
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

    @staticmethod
    def make(batch=1, input_len=1024, output_len=128, tp=1, pp=1, ep=1, dp=1, chunk=0,
             block_size=DEFAULT_BLOCK_SIZE, weights_offloaded=0, tp_overlap=0.0,
             workspace_bytes=DEFAULT_WORKSPACE_BYTES, spec_gamma=0, spec_accept=0.0) -> ServeConfig:
        """Build a config from numbers (arrays broadcast); no validation (see ``validate_serve``)."""
        vals = locals()
        return ServeConfig(**{f.name: jnp.asarray(vals[f.name], dtype=float)
                              for f in dataclasses.fields(ServeConfig)})


CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(ServeConfig))


# ---------------------------------------------------------------------------------------------
# Time of one step
# ---------------------------------------------------------------------------------------------


def comm_time_s(name: str, cost: O.OpCost, hw: HwSpec, tp, pp, ep):
    """Time of communication operator ``name``: ``calls x collective(bytes / calls)``."""
    coll, group = O.COMM_OPS[name]
    calls = jnp.maximum(cost.kernels, 1.0)
    per_call = cost.comm_bytes / calls
    args = (hw.devices_per_node, hw.intra_bytes_per_s, hw.intra_latency_s, hw.inter_bytes_per_s,
            hw.inter_latency_s, hw.link_eff)
    if coll == "all_reduce":
        t = hierarchical_all_reduce_time_s(per_call, tp, *args)
    elif coll == "all_gather":
        t = hierarchical_all_gather_time_s(per_call, tp, *args)
    elif coll == "all_to_all":
        t = hierarchical_all_to_all_time_s(per_call, ep, *args)
    else:  # send/recv between pipeline stages: crosses nodes when tp * pp exceeds a node
        inter = (tp * pp > hw.devices_per_node) & (hw.inter_bytes_per_s > 0)
        bw = jnp.where(inter, hw.inter_bytes_per_s, hw.intra_bytes_per_s)
        lat = jnp.where(inter, hw.inter_latency_s, hw.intra_latency_s)
        t = send_recv_time_s(per_call, bw, lat, hw.link_eff)
    return jnp.where(cost.comm_bytes > 0, calls * t, 0.0)


def _compute_op_times(ops: dict[str, O.OpCost], hw: HwSpec, weights_offloaded):
    """Roofline times of all non-communication operators, stacked along a new last axis.

    One :func:`simulator.roofline.kernel_time_s` call over ``[..., n_ops]`` arrays (so a sweep
    evaluates every operator of every configuration in one fused kernel).
    """
    names = [n for n in ops if O.OP_KINDS[n] != O.COMM]
    st = {f: jnp.stack(jnp.broadcast_arrays(*[getattr(ops[n], f) for n in names]), axis=-1)
          for f in ("flops", "weight_bytes", "act_bytes", "kv_bytes", "kernels", "rows")}
    is_vec = jnp.asarray([O.OP_KINDS[n] == O.VECTOR for n in names])
    peak = jnp.where(is_vec, hw.vector_flops_per_s[..., None], hw.matrix_flops_per_s[..., None])
    slow = jnp.where(hw.slow_bytes_per_s > 0, hw.slow_bytes_per_s, hw.mem_bytes_per_s)
    w_scale = jnp.where(weights_offloaded > 0, hw.mem_bytes_per_s / slow, 1.0)
    eq_bytes = st["weight_bytes"] * w_scale[..., None] + st["act_bytes"] + st["kv_bytes"]
    # n identical kernels cost n (F + F_half) / (P e): start-up work scales with the launch count;
    # GEMM-style (tile/wave) start-up applies to matrix kernels only, fused ops (0 launches) add none.
    # each operator's efficiency curve is its class's (ops.OP_EFF_CLASS -> HwSpec.class_*[..., i])
    cls = jnp.asarray([HW_CLASSES.index(O.OP_EFF_CLASS[n]) for n in names], dtype=int)
    e_c = jnp.take(hw.class_compute_eff, cls, axis=-1)
    flops_c = st["flops"]
    if hw.gemm_shape:  # GEMM-shape term of the gemm class: padded work F (M + gemm_rows_half) / M
        is_gemm = jnp.asarray([O.OP_EFF_CLASS[n] == "gemm" for n in names])
        flops_c = flops_c / gemm_row_utilisation(jnp.where(is_gemm, st["rows"], 0.0),
                                                 jnp.asarray(hw.gemm_rows_half)[..., None])
    e_m = jnp.take(hw.class_memory_eff, cls, axis=-1)
    half_f = jnp.where(is_vec, 0.0, jnp.take(hw.class_compute_half_flop, cls, axis=-1) * st["kernels"])
    half_b = jnp.take(hw.class_memory_half_bytes, cls, axis=-1) * st["kernels"]
    args = (flops_c, eq_bytes, peak, hw.mem_bytes_per_s[..., None], e_c, e_m, half_f, half_b)
    t = kernel_time_s(*args, jnp.take(hw.class_kernel_overhead_s, cls, axis=-1) * st["kernels"])
    bound = jnp.where(compute_time_s(flops_c, peak, e_c, half_f)
                      >= memory_time_s(eq_bytes, hw.mem_bytes_per_s[..., None], e_m, half_b),
                      1, 0)
    return names, t, bound


def op_times_s(ops: dict[str, O.OpCost], hw: HwSpec, tp=1, pp=1, ep=1, weights_offloaded=0.0):
    """Time of every operator (dict name -> seconds); comm operators get their collective time."""
    names, t, _ = _compute_op_times(ops, hw, weights_offloaded)
    out = {n: t[..., i] for i, n in enumerate(names)}
    for name, cost in ops.items():
        if O.OP_KINDS[name] == O.COMM:
            out[name] = comm_time_s(name, cost, hw, tp, pp, ep)
    return {n: out[n] for n in ops}


def op_bounds(ops: dict[str, O.OpCost], hw: HwSpec, weights_offloaded=0.0) -> dict[str, jax.Array]:
    """Per operator: 0 = memory-bound, 1 = compute-bound, 2 = communication."""
    names, _, bound = _compute_op_times(ops, hw, weights_offloaded)
    out = {n: bound[..., i] for i, n in enumerate(names)}
    for name, cost in ops.items():
        if O.OP_KINDS[name] == O.COMM:
            out[name] = jnp.full(jnp.shape(cost.comm_bytes), 2)
    return {n: out[n] for n in ops}


def step_time_s(ops: dict[str, O.OpCost], hw: HwSpec, tp=1, pp=1, ep=1, weights_offloaded=0.0, overlap=0.0):
    """Critical-path time of a step: compute/memory ops plus exposed communication."""
    comp, comm = step_parts_s(ops, hw, tp, pp, ep, weights_offloaded)
    return comp + exposed_s(comm, comp, overlap)


def step_parts_s(ops: dict[str, O.OpCost], hw: HwSpec, tp=1, pp=1, ep=1, weights_offloaded=0.0):
    """(sum of compute/memory operator times, sum of collective times) of a step."""
    _, t, _ = _compute_op_times(ops, hw, weights_offloaded)
    comp = jnp.sum(t, axis=-1)
    names = [n for n in ops if O.OP_KINDS[n] == O.COMM]
    shared = {"attn_allreduce", "mlp_allreduce"} <= set(names)
    if shared:  # both move T h activations per call: one collective time, two call counts
        a, m = ops["attn_allreduce"], ops["mlp_allreduce"]
        per_call = comm_time_s("attn_allreduce", a, hw, tp, pp, ep) / jnp.maximum(a.kernels, 1.0)
        comm = per_call * (a.kernels + m.kernels)
        names = [n for n in names if n not in ("attn_allreduce", "mlp_allreduce")]
    else:
        comm = 0.0
    comm = comm + sum(comm_time_s(n, ops[n], hw, tp, pp, ep) for n in names)
    return comp, comm


# ---------------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------------


def weight_params_per_device(model, tp=1, pp=1, ep=1, dp=1):
    """Parameters on one device: ``((N - N_routed)/tp + N_routed / S) / pp`` (S as in ops.moe_ops)."""
    total = jnp.asarray(model.total_params(), dtype=float)
    routed = jnp.asarray(model.moe_layers, dtype=float) * model.numeric("num_experts") * model.expert_params()
    shards = jnp.where(ep > 1, tp * dp, tp)
    return ((total - routed) / tp + routed / shards) / pp


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
    """
    b, L, out_len = cfg.batch, cfg.input_len, cfg.output_len
    m = jnp.maximum(b / cfg.pp, 1.0)
    ctx_dec = jnp.stack([L + (out_len - 1.0) / 2.0, L + out_len - 1.0], axis=-1)
    # chunk iteration: p prefill tokens of one request at mean offset (or several whole prompts)
    p = jnp.maximum(cfg.chunk - m, 0.0)
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
    t_all = t + t_draft

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
    w_params = weight_params_per_device(model, tp, pp, ep, dp)
    w_bytes = w_params * prec.weight_bytes
    kv_tok = O.kv_cache_bytes_per_token(model, prec, tp, pp)
    if draft is not None:
        dprec = prec if draft_prec is None else draft_prec
        w_bytes = w_bytes + weight_params_per_device(draft, tp, pp, 1.0, dp) * dprec.weight_bytes
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
    return {
        "ttft_s": ttft,
        "tpot_s": tpot,
        "tpot_avg_s": tpot_mean,
        "e2e_latency_s": e2e,
        "output_tokens_per_s": out_tps,
        "total_tokens_per_s": tot_tps,
        "prefill_tokens_per_s": prefill_tps,
        "output_tokens_per_s_per_device": out_tps / devices,
        "spec_tokens_per_step": e_tok,
        "weights_bytes": w_bytes,
        "kv_cache_bytes": kv_bytes,
        "activation_bytes": act,
        "workspace_bytes": cfg.workspace_bytes * jnp.ones_like(act),
        "memory_bytes": used,
        "capacity_bytes": cap * jnp.ones_like(act),
        "fits": fits,
        "shortfall_bytes": shortfall,
        "max_batch": max_batch,
        "model_switch_s": switch,
        "energy_per_output_token_j": hw.tdp_w * devices / out_tps,
        "devices": devices,
    }


RESULT_COLUMNS = (
    "ttft_s", "tpot_s", "tpot_avg_s", "e2e_latency_s", "output_tokens_per_s", "total_tokens_per_s",
    "prefill_tokens_per_s", "output_tokens_per_s_per_device", "spec_tokens_per_step", "weights_bytes",
    "kv_cache_bytes", "activation_bytes", "workspace_bytes", "memory_bytes", "capacity_bytes", "fits",
    "shortfall_bytes", "max_batch", "model_switch_s", "energy_per_output_token_j", "devices",
)


@jax.jit
def _breakdown_arrays(model, hw: HwSpec, prec: O.Precision, cfg: ServeConfig):
    """Token counts, operator costs, operator times and bounds of the four scenario steps (compiled once)."""
    tokens, attn, lm_tokens, _, _ = _scenario_work(cfg, 1.0 + 0.0 * cfg.spec_gamma)
    ops = O.forward_ops(model, tokens, attn, lm_tokens, prec, cfg.tp, cfg.pp, cfg.ep, cfg.dp)
    times = op_times_s(ops, hw, cfg.tp, cfg.pp, cfg.ep, cfg.weights_offloaded)
    bounds = op_bounds(ops, hw, cfg.weights_offloaded)
    return tokens, ops, times, bounds


def breakdown(model, hw: HwSpec, prec: O.Precision, cfg: ServeConfig, phase: str = "decode"):
    """Per-operator rows for one configuration: time, FLOP, bytes, collective bytes, bound.

    ``phase``: ``prefill`` (the TTFT step of one micro-batch) or ``decode`` (the step at the last
    context). Returns a list of dicts (op, kind, time_s, flops, weight_bytes, act_bytes, kv_bytes,
    comm_bytes, bound) in execution order; times are per step, summed over layers.
    """
    idx = {"prefill": 0, "decode": 2}.get(phase)
    if idx is None:
        raise ConfigError(f"breakdown phase '{phase}'; allowed: prefill, decode")
    tokens, ops, times, bounds = _breakdown_arrays(model, hw, prec, cfg)
    names = {0: "memory", 1: "compute", 2: "communication"}
    rows = []
    for name in sorted(ops, key=list(O.OP_KINDS).index):  # execution order (jit sorts dict keys)
        cost = ops[name]

        def pick(x):
            return float(np.broadcast_to(np.asarray(x), np.shape(tokens))[..., idx])

        row = {
            "op": name,
            "kind": O.OP_KINDS[name],
            "time_s": pick(times[name]),
            "flops": pick(cost.flops),
            "weight_bytes": pick(cost.weight_bytes),
            "act_bytes": pick(cost.act_bytes),
            "kv_bytes": pick(cost.kv_bytes),
            "comm_bytes": pick(cost.comm_bytes),
            "bound": names[int(np.broadcast_to(np.asarray(bounds[name]), np.shape(tokens))[..., idx])],
        }
        if row["time_s"] > 0 or row["flops"] > 0 or row["comm_bytes"] > 0:
            rows.append(row)
    return rows


__all__ = [
    "CONFIG_FIELDS",
    "RESULT_COLUMNS",
    "SCENARIOS",
    "ServeConfig",
    "activation_bytes_coeffs",
    "breakdown",
    "comm_time_s",
    "op_bounds",
    "op_times_s",
    "serve_core",
    "step_time_s",
    "weight_params_per_device",
]


# ---------------------------------------------------------------------------------------------
# Front end: names -> validated objects -> one prediction
# ---------------------------------------------------------------------------------------------

AUTO_ACT_DTYPES = ("bf16", "fp16", "fp32")


def resolve_model(model):
    """A ``ModelSpec`` from a catalog name / path, or the spec itself."""
    from simulator.models import ModelSpec, load_model

    return model if isinstance(model, ModelSpec) else load_model(model)


def resolve_hardware(hardware=None, system=None):
    """A ``Device`` or ``System`` from names/paths (``system`` wins); ConfigError if neither."""
    if system is not None:
        return system if isinstance(system, System) else load_system(system)
    if hardware is None:
        raise ConfigError("no hardware given; allowed: a device name or TOML path (--hardware) or a system (--system)")
    return hardware if isinstance(hardware, (Device, System)) else load_device(hardware)


def apply_calibration(hw, calibration, dtype: str | None = None):
    """``hw`` (a ``Device`` or ``System``) with a calibration profile applied to its device.

    ``calibration``: a profile path, a :class:`simulator.calibration.profile.CalibrationProfile`,
    ``"default"`` (``data/calibration/<device>.json``) or ``None`` (unchanged). ``dtype`` picks the
    profile's per-dtype compute efficiency. A profile for another device, a missing or a corrupt
    file raise a one-line ``CalibrationError`` (a ``SimlabError``).
    """
    import dataclasses

    if calibration is None:
        return hw
    from simulator.calibration.profile import apply_profile, default_profile_path

    dev = hw.device if isinstance(hw, System) else hw
    if isinstance(calibration, str) and calibration == "default":
        calibration = default_profile_path(dev.name)
    cal = apply_profile(dev, calibration, dtype=dtype)
    return dataclasses.replace(hw, device=cal) if isinstance(hw, System) else cal


def weight_bytes_of(name) -> float:
    """Bytes per weight of a dtype (``simulator.dtypes``) or a scaled format (``q4_0``, ``q8_0``, ``q4_k_m``)."""
    from simulator.dtypes import DTYPE_BYTES, DtypeError, dtype_bytes

    if isinstance(name, (int, float)) and not isinstance(name, bool):
        if not 0 < float(name) <= 8:
            raise DtypeError(f"weight bytes per element {name}; allowed: a number in (0, 8]")
        return float(name)
    key = str(name).strip().lower()
    if key in O.QUANT_FORMAT_BYTES:
        return O.QUANT_FORMAT_BYTES[key]
    if key in DTYPE_BYTES:
        return dtype_bytes(key)
    raise DtypeError(
        f"unknown weight dtype '{name}'; allowed: {', '.join([*DTYPE_BYTES, *O.QUANT_FORMAT_BYTES])}"
    )


def resolve_dtypes(device, weight_dtype=None, act_dtype=None, kv_dtype=None):
    """(compute dtype name, Precision). ``act_dtype=None`` picks the first of bf16, fp16, fp32 the
    device has; weights and KV default to the activation dtype. The device must have a peak rate
    for the activation (compute) dtype: ``HardwareError`` otherwise."""
    from simulator.dtypes import dtype_bytes

    dev = getattr(device, "device", device)
    if act_dtype is None:
        have = [d for d in AUTO_ACT_DTYPES if d in dev.peak_flops_per_s]
        act_dtype = have[0] if have else next(iter(dev.peak_flops_per_s), "bf16")
    act_dtype = str(act_dtype).strip().lower()
    a = dtype_bytes(act_dtype)
    dev.peak(act_dtype)  # raises HardwareError naming the dtypes the device has
    w = weight_bytes_of(act_dtype if weight_dtype is None else weight_dtype)
    kv = a if kv_dtype is None else dtype_bytes(kv_dtype)
    return act_dtype, O.Precision(weight_bytes=w, act_bytes=a, kv_bytes=kv)


def _int_at_least(name, value, low):
    if isinstance(value, bool) or not float(value).is_integer() or int(value) < low:
        raise ConfigError(f"{name} = {value!r}; allowed: an integer >= {low}")
    return int(value)


def _divisors(n: int) -> str:
    return ", ".join(str(d) for d in range(1, n + 1) if n % d == 0)


def validate_serve(model, hw, *, batch, input_len, output_len, tp=1, pp=1, ep=1, dp=1, chunk=0,
                   block_size=DEFAULT_BLOCK_SIZE, weights_offloaded=0, tp_overlap=0.0,
                   workspace_bytes=DEFAULT_WORKSPACE_BYTES, spec_gamma=0, spec_accept=0.0):
    """Check one configuration against the model and hardware; ``ConfigError`` (one line) if bad.

    Returns ``(hw, cfg_dict)`` where ``hw`` is narrowed to the devices used for a ``System``.
    """
    batch = _int_at_least("batch", batch, 1)
    input_len = _int_at_least("input length", input_len, 1)
    output_len = _int_at_least("output length", output_len, 1)
    tp, pp, ep, dp = (_int_at_least(n, v, 1) for n, v in (("tp", tp), ("pp", pp), ("ep", ep), ("dp", dp)))
    chunk = _int_at_least("chunk", chunk, 0)
    block_size = _int_at_least("block size", block_size, 1)
    spec_gamma = _int_at_least("speculative gamma", spec_gamma, 0)
    if not 0.0 <= float(tp_overlap) <= 1.0:
        raise ConfigError(f"tp overlap = {tp_overlap}; allowed: a fraction in [0, 1]")
    if not 0.0 <= float(spec_accept) <= 1.0:
        raise ConfigError(f"speculative acceptance rate = {spec_accept}; allowed: a fraction in [0, 1]")
    if float(workspace_bytes) < 0:
        raise ConfigError(f"workspace bytes = {workspace_bytes}; allowed: >= 0")
    heads = int(model.num_heads)
    if heads % tp:
        raise ConfigError(f"tp = {tp} does not divide the {heads} attention heads of '{model.name}'; "
                          f"allowed: {_divisors(heads)}")
    if pp > int(model.num_layers):
        raise ConfigError(f"pp = {pp} exceeds the {int(model.num_layers)} layers of '{model.name}'")
    if ep > 1:
        e = int(model.num_experts)
        if e == 0:
            raise ConfigError(f"ep = {ep} but '{model.name}' is a dense model; allowed: ep = 1")
        if e % ep or (tp * dp) % ep:
            raise ConfigError(f"ep = {ep} must divide num_experts = {e} and tp * dp = {tp * dp}")
    if isinstance(hw, System):
        hw = hw.for_devices(tp * pp * dp)
        link_ok = hw.intra_node_link is not None or hw.devices_per_node == 1
    else:
        link_ok = hw.intra_node_link is not None
    if (tp * pp > 1 or ep > 1) and not link_ok:
        name = getattr(hw, "name", "?")
        raise ConfigError(f"'{name}' has no peer link for tp * pp = {tp * pp}; allowed: tp = pp = 1 "
                          "(or a --system with links)")
    if weights_offloaded:
        dev = getattr(hw, "device", hw)
        if slow_tier(dev) is None:
            raise ConfigError(f"weights in a slower tier, but device '{dev.name}' has only "
                              f"{', '.join(t.name for t in dev.memory_tiers)}; allowed: weights in main memory")
    cfg = dict(batch=batch, input_len=input_len, output_len=output_len, tp=tp, pp=pp, ep=ep, dp=dp,
               chunk=chunk, block_size=block_size, weights_offloaded=int(bool(weights_offloaded)),
               tp_overlap=float(tp_overlap), workspace_bytes=float(workspace_bytes),
               spec_gamma=spec_gamma, spec_accept=float(spec_accept))
    return hw, cfg


# One compiled program per configuration structure: eager evaluation would compile each of the
# ~140 primitive operations separately (about 10 s per fresh process instead of about 1 s).
_serve_core_jit = jax.jit(serve_core)


def predict_serve(model, hardware=None, *, system=None, batch=1, input_len=1024, output_len=128, tp=1,
                  pp=1, ep=1, dp=1, weight_dtype=None, act_dtype=None, kv_dtype=None, chunk=0,
                  block_size=DEFAULT_BLOCK_SIZE, weights_in="main", tp_overlap=0.0,
                  workspace_bytes=DEFAULT_WORKSPACE_BYTES, draft_model=None, spec_gamma=0,
                  spec_accept=0.0, with_breakdown=False, calibration=None) -> dict:
    """Predict one serving configuration; names or objects for model/hardware. Returns a dict.

    Keys: the resolved configuration (``model``, ``hardware``, dtypes, layout, lengths), every
    metric of :data:`RESULT_COLUMNS` (SI units, unit-suffixed), and with ``with_breakdown`` the
    per-operator rows ``breakdown_prefill`` / ``breakdown_decode`` (see :func:`breakdown`).
    ``weights_in``: ``main`` or ``ddr``/``slow`` (stream weights from the slower tier, SN40L).
    A configuration that does not fit is returned with ``fits = False`` and ``shortfall_bytes``.
    ``calibration``: optional profile (path, profile object or ``"default"``) applied to the device
    (:func:`apply_calibration`, per-dtype values of the compute dtype); ``None`` keeps the catalog's.
    """
    spec = resolve_model(model)
    hwobj = resolve_hardware(hardware, system)
    if calibration is not None:
        hwobj = apply_calibration(hwobj, calibration, resolve_dtypes(hwobj, weight_dtype, act_dtype, kv_dtype)[0])
    where = str(weights_in).strip().lower()
    if where not in ("main", "hbm", "ddr", "slow"):
        raise ConfigError(f"weights_in = '{weights_in}'; allowed: main, ddr")
    hwobj, cfg = validate_serve(
        spec, hwobj, batch=batch, input_len=input_len, output_len=output_len, tp=tp, pp=pp, ep=ep, dp=dp,
        chunk=chunk, block_size=block_size, weights_offloaded=where in ("ddr", "slow"), tp_overlap=tp_overlap,
        workspace_bytes=workspace_bytes, spec_gamma=spec_gamma, spec_accept=spec_accept)
    compute_dtype, prec = resolve_dtypes(hwobj, weight_dtype, act_dtype, kv_dtype)
    hws = build_hw(hwobj, compute_dtype)
    c = ServeConfig.make(**cfg)
    draft = None
    if draft_model is not None:
        draft = resolve_model(draft_model)
        if cfg["spec_gamma"] < 1:
            raise ConfigError("a draft model needs spec_gamma >= 1")
    elif cfg["spec_gamma"] > 0:
        raise ConfigError(f"spec_gamma = {cfg['spec_gamma']} needs a draft model")
    res = _serve_core_jit(spec, hws, prec, c, draft)
    out = {
        "model": spec.name,
        "hardware": getattr(hwobj, "name", "?"),
        "compute_dtype": compute_dtype,
        "weight_bytes_per_param": float(prec.weight_bytes),
        "act_bytes_per_elem": float(prec.act_bytes),
        "kv_bytes_per_elem": float(prec.kv_bytes),
        **cfg,
        "draft_model": None if draft is None else draft.name,
        **({"calibration": str(getattr(calibration, "path", "") or calibration)} if calibration is not None else {}),
    }
    for k in RESULT_COLUMNS:
        v = np.asarray(res[k])
        out[k] = bool(v) if v.dtype == bool else float(v)
    if with_breakdown:
        out["breakdown_prefill"] = breakdown(spec, hws, prec, c, "prefill")
        out["breakdown_decode"] = breakdown(spec, hws, prec, c, "decode")
    return out
