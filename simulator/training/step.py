"""Training step time of a parallel layout, its breakdown, MFU/HFU, and time/energy/cost to train.

Pure ``jax.numpy``: every field of the model spec, hardware and layout broadcasts, so
:func:`train_step` evaluates one layout or millions of them in one jitted call.

Per device and micro-batch (``T = b s / cp`` tokens, tensor-parallel degree ``t``), one layer's
forward is a list of kernels timed with :func:`simulator.roofline.kernel_time_s` (size-dependent
GEMM efficiency ``e_c F / (F + F_half)``, memory-bound kernels at ``e_m`` of HBM bandwidth, a
launch overhead per kernel):

* GEMMs ``[T, h] x [h, (q + 2kv)/t]``, ``[T, q/t] x [q/t, h]``, ``[T, h] x [h, (1+g) f/t]``,
  ``[T, f/t] x [f/t, h]`` (MoE: router, grouped expert GEMMs over ``k T`` token copies, shared
  experts); backward = dgrad + wgrad = 2 GEMMs of the same size each (Narayanan et al. 2021 Sec. 3.5).
* Attention core: FlashAttention (one fused kernel, causal half of ``4 T s q / t`` FLOP, backward
  2.5x) or, without it, batched ``QK^T`` and ``PV`` GEMMs with the fused scale-mask-softmax and
  dropout streaming the ``b (a/t) T s`` score matrix through HBM (Megatron-LM 2021).
* Memory-bound kernels: 2 LayerNorms, 2 bias-dropout-residual adds, the MLP activation (backward
  streams twice the bytes).
* Recompute: full = one more forward of every layer; selective = one more attention core
  (Korthikanti et al. 2022).

Communication (ring collectives, ``alpha-beta``: ``(n-1)`` or ``2(n-1)`` latencies plus
``(n-1)/n S`` or ``2 (n-1)/n S`` bytes over the link at ``link_eff``; a group whose ranks span
nodes is reduced hierarchically: intra-node over NVLink-class links, then across nodes over the
per-device NIC share on ``S / n_in`` bytes). Ranks are placed TP fastest, then CP, DP, PP
(Megatron-LM order), so TP stays inside a node when ``t <= devices_per_node``.

* TP: 2 all-reduces (or all-gather + reduce-scatter with SP, same bytes) of ``T h`` activations per
  layer in forward, 2 in backward, 2 more for a full-recompute forward; ``tp_comm_overlap`` of it
  hidden.
* CP (ring attention, Liu et al. 2023): ``cp - 1`` K/V block exchanges per layer, overlapped with
  the attention core; only the excess is exposed.
* EP (MoE): all-to-all dispatch + combine of ``k T h`` activations per MoE layer, forward and backward.
* PP: point-to-point send of ``T h / t`` (scatter/gather optimisation) per micro-batch chunk and
  direction. Pipeline time ``= m t_max + (p - 1)/v t_avg``: bubble fraction ``(p-1)/(v m)``
  (Narayanan et al. 2021 Sec. 2.2).
* DP: gradient all-reduce (ZeRO 0) or reduce-scatter + parameter all-gather (ZeRO 1/2) once per
  step; it overlaps only the backward of the last micro-batch (gradient accumulation). ZeRO-3
  gathers weights twice and reduce-scatters gradients every micro-batch, overlapped with that
  micro-batch's compute (prefetch) (Rajbhandari et al. 2020).
* Optimizer: a memory-bound Adam pass over the local (sharded) parameters, or host/NVMe traffic
  over the host link when offloaded (ZeRO-Offload / ZeRO-Infinity).

MFU = model FLOPs per step / (step time x devices x peak); HFU uses hardware FLOPs (recompute).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from simulator import ops, pricing
from simulator.dtypes import dtype_bytes
from simulator.kernels import elementwise_bytes
from simulator.layout_rule import stage_layers
from simulator.training.common import Layout, TrainHardware, TrainOptions, expert_replica_ranks, replica_ranks
from simulator.training.data_parallel import dp_communication
from simulator.training.flops import model_flops_per_token
from simulator.training.memory import memory_breakdown, params_per_device
from simulator.training.results import TrainResult


def _f(x):
    return jnp.asarray(x, dtype=float)


# --------------------------------------------------------------------------------------- pricing
def _kernel_s(hw: TrainHardware, flops, nbytes, cls="elementwise", kernels=1.0):
    """One training-only kernel (dropout, materialised softmax, optimizer) priced by
    :func:`simulator.pricing.kernel_s` on the curve of class ``cls``."""
    return pricing.kernel_s(hw.spec, flops, nbytes, cls, kernels)


def _ops_s(hw: TrainHardware, inv: dict):
    """Seconds of every non-communication operator of ``inv`` (one :mod:`simulator.pricing` call)."""
    names, t, _ = pricing._compute_op_times(inv, hw.spec)
    return {n: t[..., i] for i, n in enumerate(names)}


def all_reduce_s(hw: TrainHardware, nbytes, n, stride):
    """All-reduce over ``n`` ranks spaced ``stride`` apart (:func:`simulator.pricing.collective_s`)."""
    return pricing.collective_s("all_reduce", nbytes, n, stride, hw.spec)


def all_gather_s(hw: TrainHardware, nbytes, n, stride):
    """All-gather (= reduce-scatter cost) of a full buffer of ``nbytes`` over ``n`` ranks."""
    return pricing.collective_s("all_gather", nbytes, n, stride, hw.spec)


def all_to_all_s(hw: TrainHardware, nbytes, n, stride):
    return pricing.collective_s("all_to_all", nbytes, n, stride, hw.spec)


def _p2p_s(hw: TrainHardware, nbytes, intra):
    stride = jnp.where(intra, 1.0, jnp.inf)
    return pricing.collective_s("send_recv", nbytes, 2.0, stride, hw.spec)


# ------------------------------------------------------------------------------ per-layer costs
_ROW_VECTORS = ("attn_norm", "mlp_norm", "attn_residual", "mlp_residual")  # T x h, split by SP
_FLASH_ONLY = ("attention", "softmax")


def _micro_batch_work(layout: Layout, seq_len, flash: bool):
    """Tokens per device ``T = b s / cp`` and the attention work of one micro-batch: causal pairs of
    the whole sequence split evenly over the CP ranks (load-balanced ring attention)."""
    cp, mb, seq = _f(layout.cp), _f(layout.micro_batch), _f(seq_len)
    T = mb * seq / cp
    full = ops.attention_work(mb, seq, 0.0, full_square=not flash)
    attn = ops.AttnWork(pairs=full.pairs / cp, kv_read_tokens=mb * seq, kv_write_tokens=T, q_tokens=T, seqs=mb)
    return T, attn


def layer_inventory(spec, layout: Layout, seq_len, opts: TrainOptions) -> dict:
    """Forward inventories of ONE dense and ONE MoE layer for one micro-batch on one device.

    :func:`simulator.ops.layer_ops` with ``tokens = b s / cp``; norms and residuals split over the
    TP ranks with sequence parallelism. Without FlashAttention the fused attention operator is
    replaced by :func:`_materialised_attention` (Megatron-LM 2021).
    """
    ab = opts.act_bytes
    # low-precision recipe: the GEMMs read the cast (FP8) weight copies; casts priced as operators
    wb = opts.cast_bytes if opts.lowp_dtype else ab
    prec = ops.Precision(weight_bytes=wb, act_bytes=ab, kv_bytes=ab, cast_bytes=opts.cast_bytes,
                         cast_reads=opts.cast_reads)
    tp, ep = _f(layout.tp), _f(layout.ep)
    T, attn = _micro_batch_work(layout, seq_len, opts.flash_attention)
    # Megatron expert parallelism: experts over the ep ranks of the data-parallel group, each split tp ways
    both = ops.layer_ops(spec, T, attn, prec, tp, ep, ep)
    sp_div = jnp.where(opts.sequence_parallel, tp, 1.0)
    out = {}
    for kind, inv in both.items():
        inv = dict(inv)
        for n in _ROW_VECTORS:
            inv[n] = dataclasses.replace(inv[n], flops=inv[n].flops / sp_div, act_bytes=inv[n].act_bytes / sp_div)
        if not opts.flash_attention:
            for n in _FLASH_ONLY:
                inv[n] = inv[n].scaled(0.0)
        out[kind] = inv
    return out


def _materialised_attention(spec, layout: Layout, hw: TrainHardware, seq_len, opts: TrainOptions):
    """Megatron-LM 2021 attention without FlashAttention: batched ``QK^T`` and ``PV`` GEMMs over the
    ``b (a/t) T s`` score matrix in HBM, a fused scale-mask-softmax and a dropout kernel streaming it.
    Returns ``(fwd_s, bwd_s, fwd_matmul_flop)``; priced by :mod:`simulator.pricing`."""
    ab = opts.act_bytes
    mask = 1.0 if opts.dropout else 0.0
    tp, seq = _f(layout.tp), _f(seq_len)
    T, _ = _micro_batch_work(layout, seq_len, False)
    hd = _f(spec.head_dim)
    scores = _f(spec.num_heads) / tp * T * seq
    qkv_bytes = T * (_f(spec.num_heads) + _f(spec.num_kv_heads)) * hd / tp * ab
    one = _kernel_s(hw, 2.0 * scores * hd, scores * ab + qkv_bytes, "attention")  # QK^T or PV
    softmax = _kernel_s(hw, 0.0, elementwise_bytes(scores, ab, 1, 1))
    dropout = _kernel_s(hw, 0.0, scores * (2.0 * ab + mask)) if opts.dropout else 0.0
    fwd = 2.0 * one + softmax + dropout
    bwd = 4.0 * one + _kernel_s(hw, 0.0, scores * 3.0 * ab) + dropout
    return fwd, bwd, 4.0 * scores * hd


def layer_times(spec, layout: Layout, hw: TrainHardware, seq_len, opts: TrainOptions) -> dict:
    """Seconds of one layer for one micro-batch on one device: forward, backward, recompute, comm,
    and the matrix FLOP the hardware executes (``hw_flops``, the HFU numerator per layer).

    Forward operators: :func:`layer_inventory`; backward = forward work x each operator's backward
    factors (``OP_INFO[...].bwd``: GEMMs 2x, FlashAttention 2.5x FLOP); both priced by
    :mod:`simulator.pricing`, the backward seconds divided by ``OP_INFO[...].bwd_rate``
    (FlashAttention's backward runs at ``ops.FLASH_BWD_RATE`` of its forward rate). Training-only
    kernels: dropout after attention and after the MLP. Dense and MoE layers are weighted by their
    share of the layers.
    """
    ab = opts.act_bytes
    inv = layer_inventory(spec, layout, seq_len, opts)
    n_dense, n_moe = ops.layer_counts(spec)
    frac_moe = n_moe / _f(spec.num_layers)
    tp, cp, ep = _f(layout.tp), _f(layout.cp), _f(layout.ep)
    T, _ = _micro_batch_work(layout, seq_len, opts.flash_attention)
    h = _f(spec.hidden_size)
    sp_div = jnp.where(opts.sequence_parallel, tp, 1.0)

    def sums(kind):
        o = {n: c for n, c in inv[kind].items() if ops.OP_INFO[n].kind != ops.COMM}
        tf = _ops_s(hw, o)
        tf = {n: (t if ops.OP_INFO[n].in_forward else 0.0 * t) for n, t in tf.items()}  # backward-only rows
        tb = _ops_s(hw, {n: c.backward(ops.OP_INFO[n]) for n, c in o.items()})
        tb = {n: t / ops.OP_INFO[n].bwd_rate for n, t in tb.items()}  # backward kernels slower than forward
        part = {"gemm": lambda n: ops.OP_INFO[n].kind == ops.GEMM,
                "attn": lambda n: n in _FLASH_ONLY,
                "elem": lambda n: ops.OP_INFO[n].kind == ops.VECTOR and n not in _FLASH_ONLY}
        out = {f"{k}_{d}": sum(t[n] for n in o if sel(n)) for k, sel in part.items() for d, t in (("fwd", tf), ("bwd", tb))}
        mm = [n for n in o if ops.OP_INFO[n].matmul]
        out["mm_fwd"] = sum(o[n].flops for n in mm)
        out["mm_bwd"] = sum(o[n].backward(ops.OP_INFO[n]).flops for n in mm)
        return out

    d, m = sums("dense"), sums("moe")
    mix = {k: (1.0 - frac_moe) * d[k] + frac_moe * m[k] for k in d}
    # dropout after attention and after the MLP (read, write, 1-byte mask), on T h / sp rows
    mask = 1.0 if opts.dropout else 0.0
    drop_fwd = 2.0 * _kernel_s(hw, 0.0, T * h / sp_div * (2.0 * ab + mask)) if opts.dropout else 0.0
    if opts.flash_attention:
        attn_fwd, attn_bwd, mat_mm = mix["attn_fwd"], mix["attn_bwd"], 0.0
    else:
        attn_fwd, attn_bwd, mat_mm = _materialised_attention(spec, layout, hw, seq_len, opts)
    gemm_fwd, elem_fwd = mix["gemm_fwd"], mix["elem_fwd"] + drop_fwd
    fwd = gemm_fwd + attn_fwd + elem_fwd
    bwd = mix["gemm_bwd"] + attn_bwd + mix["elem_bwd"] + 2.0 * drop_fwd
    rc = jnp.asarray(layout.recompute)
    sel = 0.0 if opts.flash_attention else attn_fwd  # Flash already recomputes inside its backward
    recompute = jnp.where(rc == 2, fwd, jnp.where(rc == 1, sel, 0.0))
    mm_fwd = mix["mm_fwd"] + mat_mm
    mm_rc = jnp.where(rc == 2, mm_fwd, jnp.where(rc == 1, mat_mm, 0.0))
    hw_flops = mm_fwd + mix["mm_bwd"] + 2.0 * mat_mm + mm_rc

    # tensor parallel: 2 all-reduces (SP: all-gather + reduce-scatter, same bytes) per pass
    tp_one = all_reduce_s(hw, T * h * ab, tp, 1.0)
    passes = 2.0 + jnp.where(rc == 2, 1.0, 0.0)  # forward, backward, recompute forward
    tp_comm = 2.0 * passes * tp_one * (1.0 - opts.tp_comm_overlap)

    # context parallel (ring attention): cp-1 K/V block exchanges per pass, hidden behind attention
    kv_block = T * ops.kv_elems_per_token_layer(spec, tp) * ab
    cp_step = _p2p_s(hw, kv_block, tp * cp <= _f(hw.spec.devices_per_node))
    cp_fwd = jnp.where(cp > 1, (cp - 1.0) * cp_step, 0.0)
    cp_comm = (jnp.maximum(cp_fwd - attn_fwd, 0.0) * (1.0 + jnp.where(rc == 2, 1.0, 0.0))
               + jnp.maximum(2.0 * cp_fwd - attn_bwd, 0.0))

    # expert parallel: dispatch + combine all-to-all per MoE layer and pass (the inventory's payload)
    a2a_bytes = inv["moe"]["moe_all_to_all"].comm_bytes / 2.0
    ep_comm = frac_moe * 2.0 * passes * all_to_all_s(hw, a2a_bytes, ep, tp * cp)

    return dict(fwd=fwd, bwd=bwd, recompute=recompute, tp_comm=tp_comm, cp_comm=cp_comm,
                ep_comm=ep_comm, gemm_fwd=gemm_fwd, attn_fwd=attn_fwd, elem_fwd=elem_fwd, hw_flops=hw_flops)


def head_times(spec, layout: Layout, hw: TrainHardware, seq_len, opts: TrainOptions) -> dict:
    """Per micro-batch: LM head over every token (fwd + 2x bwd) with fp32 cross-entropy (last
    stage), and the embedding gather / scatter-add (first stage), from :func:`simulator.ops.head_ops`."""
    ab = opts.act_bytes
    prec = ops.Precision(weight_bytes=ab, act_bytes=ab, kv_bytes=ab)
    T, _ = _micro_batch_work(layout, seq_len, opts.flash_attention)
    ho = ops.head_ops(spec, T, T, prec, _f(layout.tp), 1)
    names = ("lm_head", "logits_softmax", "final_norm")
    t = _ops_s(hw, {n: ho[n] for n in (*names, "embedding")})
    head = 3.0 * sum(t[n] for n in names)
    return dict(head=head, embedding=2.0 * t["embedding"], hw_flops=3.0 * ho["lm_head"].flops)


# ------------------------------------------------------------------------------------ full step
def train_step(spec, layout: Layout, hw: TrainHardware, global_batch, seq_len,
               opts: TrainOptions = TrainOptions()) -> TrainResult:
    """Step time (s) with breakdown, MFU, HFU, tokens/s and memory of ``layout`` (all broadcast).

    Returns a :class:`~simulator.training.results.TrainResult` (fields and units declared there):
    ``step_time_s``, ``compute_s`` (pipeline steady-state compute incl. recompute), ``bubble_s``,
    ``tp_comm_s``, ``pp_comm_s``, ``dp_comm_s`` (exposed), ``dp_reduce_s``, ``dp_buckets``,
    ``cp_comm_s``, ``ep_comm_s``, ``optimizer_s``, ``straggler_s``, ``mfu``, ``hfu``, ``tokens_per_s``,
    ``model_flops_per_step``, ``hardware_flops_per_step``, ``micro_batches`` and every key of
    :func:`memory_breakdown`.
    """
    L, hidden = _f(spec.num_layers), _f(spec.hidden_size)
    ab, gb = opts.act_bytes, opts.grad_bytes
    tp, pp, dp, cp, ep = (_f(getattr(layout, k)) for k in ("tp", "pp", "dp", "cp", "ep"))
    mb, v = _f(layout.micro_batch), _f(layout.virtual_stages)
    zero = jnp.asarray(layout.zero)
    B, seq = _f(global_batch), _f(seq_len)
    m = B / (dp * mb)  # micro-batches per step per pipeline
    N = tp * pp * dp * cp

    lt = layer_times(spec, layout, hw, seq_len, opts)
    ht = head_times(spec, layout, hw, seq_len, opts)
    first_l, mid_l, last_l, Ls = stage_layers(L, pp, _f(layout.first_stage_layers), _f(layout.last_stage_layers))
    per_layer_compute = lt["fwd"] + lt["bwd"] + lt["recompute"]
    per_layer_comm = lt["tp_comm"] + lt["cp_comm"] + lt["ep_comm"]
    per_layer = per_layer_compute + per_layer_comm
    last_extra = ht["head"] + jnp.where(pp > 1, 0.0, ht["embedding"])

    # pipeline point-to-point: activations forward, gradients backward, per chunk
    p2p_bytes = mb * seq / cp * hidden * ab / tp
    pp_intra = tp * cp * dp < _f(hw.spec.devices_per_node)
    p2p = jnp.where(pp > 1, 2.0 * v * _p2p_s(hw, p2p_bytes, pp_intra), 0.0)

    acc_b = dtype_bytes(opts.grad_accum_dtype)
    # weight-gradient accumulation into the fp32 buffer, per micro-batch (unless fused in the GEMM)
    pd = params_per_device(spec, layout)
    replicas = replica_ranks(layout)  # ZeRO shards over data x context parallel ranks
    grad_shard = jnp.where(zero >= 2, replicas, 1.0)
    accum = 0.0 if opts.grad_accum_fusion else _kernel_s(
        hw, 0.0, (pd["dense"] + pd["expert"]) * (gb + 2.0 * acc_b) / grad_shard)
    last_extra = last_extra + accum
    # busiest stage per micro-batch: the last (LM head), the first (embedding) or a middle one
    t_last = last_l * per_layer + last_extra
    t_first = first_l * per_layer + jnp.where(pp > 1, ht["embedding"] + accum, 0.0)
    t_max = jnp.maximum(jnp.maximum(t_last, t_first), jnp.where(pp > 2, mid_l * per_layer + accum, 0.0))
    t_avg = (L * per_layer + ht["head"] + ht["embedding"]) / pp + accum

    compute_s = m * (Ls * per_layer_compute + last_extra)
    comm_in_pipe = m * Ls * per_layer_comm
    bubble_s = (pp - 1.0) / v * (t_avg + p2p)
    pp_comm_s = m * p2p
    pipeline_s = m * (t_max + p2p) + bubble_s

    # data parallel gradient reduction / ZeRO traffic, in collective calls (training.data_parallel)
    dp_exp = expert_replica_ranks(layout)
    window = jnp.where(opts.grad_overlap, Ls * (lt["bwd"] + lt["recompute"]), 0.0)
    mb_compute = Ls * per_layer_compute + last_extra
    mb_fwd = Ls * lt["fwd"] + ht["head"] / 3.0  # the head is priced fwd + 2x bwd
    dpc = dp_communication(spec, layout, hw, pd, opts, window, mb_fwd, mb_compute - mb_fwd, m, Ls)
    dp_comm_s = dpc["dp_comm_s"]

    # optimizer: Adam over the local shard (HBM), or over the host link when offloaded
    shard = jnp.where(zero >= 1, 1.0, 0.0)
    p_opt = pd["dense"] / jnp.where(shard > 0, replicas, 1.0) + pd["expert"] / jnp.where(shard > 0, dp_exp, 1.0)
    acc_b = dtype_bytes(opts.grad_accum_dtype)
    adam_bytes = p_opt * (acc_b * (1.0 + opts.optimizer_extra_passes) + 2.0 * opts.optimizer_bytes_per_param + ab)
    offload = jnp.asarray(layout.offload)
    host = p_opt * (gb + ab) / hw.host_bytes_per_s
    nvme = p_opt * 2.0 * opts.optimizer_bytes_per_param / hw.nvme_bytes_per_s
    optimizer_s = jnp.where(offload == 0, _kernel_s(hw, 0.0, adam_bytes),
                            host + jnp.where(offload == 2, nvme, 0.0))

    # stragglers: the expected wait for a slow node (TrainOptions.slow_node_fraction / _penalty)
    nodes = jnp.ceil(N / _f(hw.spec.devices_per_node))
    p_slow = 1.0 - (1.0 - opts.slow_node_fraction) ** nodes
    straggler_s = opts.slow_node_penalty * p_slow * (pipeline_s + dp_comm_s + optimizer_s)
    step_s = pipeline_s + dp_comm_s + optimizer_s + straggler_s
    tokens = B * seq
    mflops = model_flops_per_token(spec, seq, opts.mfu_attention) * tokens
    # what the hardware executes (the priced matrix FLOP, recompute included), over all devices
    hflops = m * dp * cp * tp * (L * lt["hw_flops"] + ht["hw_flops"])
    denom = step_s * N * hw.spec.matrix_flops_per_s
    mem = memory_breakdown(spec, layout, hw, global_batch, seq_len, opts)
    out = dict(
        step_time_s=step_s, compute_s=compute_s, bubble_s=bubble_s,
        tp_comm_s=m * Ls * lt["tp_comm"], cp_comm_s=m * Ls * lt["cp_comm"], ep_comm_s=m * Ls * lt["ep_comm"],
        pp_comm_s=pp_comm_s, dp_comm_s=dp_comm_s, optimizer_s=optimizer_s, straggler_s=straggler_s,
        pipeline_s=pipeline_s, comm_in_pipeline_s=comm_in_pipe,
        mfu=mflops / denom, hfu=hflops / denom, tokens_per_s=tokens / step_s,
        model_flops_per_step=mflops * jnp.ones_like(step_s), hardware_flops_per_step=hflops * jnp.ones_like(step_s),
        micro_batches=m * jnp.ones_like(step_s), devices=N * jnp.ones_like(step_s),
        dp_reduce_s=dpc["dp_reduce_s"] * jnp.ones_like(step_s), dp_buckets=dpc["dp_buckets"] * jnp.ones_like(step_s),
    )
    out.update(mem)
    return TrainResult(**out)


def time_to_train(result: dict, hw: TrainHardware, tokens) -> dict:
    """Wall-clock, device-hours, energy and cost to train ``tokens`` tokens at ``result``'s rate.

    ``energy_j = power_w x devices x time`` (device board power at TDP while training, a stated
    upper-bound assumption), ``cost_usd = price_per_hour x device_hours`` (NaN without a price).
    """
    t = tokens / result["tokens_per_s"]  # plain arithmetic: NumPy in, NumPy out; traced inside jit
    dev_h = t * result["devices"] / 3600.0
    energy = hw.power_w * result["devices"] * t
    return dict(train_time_s=t, train_days=t / 86400.0, device_hours=dev_h, energy_j=energy,
                energy_kwh=energy / 3.6e6, cost_usd=dev_h * hw.price_per_hour_usd)

