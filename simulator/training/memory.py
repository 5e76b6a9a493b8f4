"""Memory per device of a training layout (pure ``jax.numpy``; every argument broadcasts).

Model states (Rajbhandari et al. 2020, "ZeRO", Sec. 3 and 5): with ``P`` weights on a device,
``w`` bytes per weight, ``g`` bytes per gradient and ``K`` bytes of optimizer state per weight
(mixed-precision Adam: fp32 master + 2 moments, ``K = 12``)::

    stage 0:  (w + g + K) P          stage 1:  (w + g) P + K P / N_d
    stage 2:  w P + (g + K) P / N_d  stage 3:  (w + g + K) P / N_d

``N_d`` is the data-parallel degree (the dp / ep replicas for expert weights). Optimizer offload
(ZeRO-Offload / ZeRO-Infinity) moves the ``K`` term to host DDR or NVMe. ZeRO-3 also holds the
gathered weights of the layer being computed and, with prefetching, of the next one.

Activations per layer and micro-batch follow Korthikanti et al. 2022 Eq. 1-5, generalised to
GQA (``kv`` width), gated MLPs and MoE, for ``T = b s / cp`` tokens on a device, tensor-parallel
degree ``t`` and ``a_s = b (a/t) T s_k`` attention scores (``s_k = s``)::

    replicated part (LN inputs 4, QKV input 2, MLP input 2, two dropout masks 1+1: 10 T h bytes
        at 2-byte activations) / (t if sequence parallel else 1)
    + T (2 q + 2 kv + (2 + g) f) * act_bytes / t          # Q, K, V, out-proj input, MLP
    + a_s (act_bytes + 1 + act_bytes)                      # softmax out, dropout mask, dropout out

(``34 s b h + 5 a s^2 b`` for GPT without parallelism). Selective recomputation drops the
attention-score term; FlashAttention never stores it (only a log-sum-exp per row). Full
recomputation stores each layer's input only (``2 s b h / t`` with SP); while one layer is
recomputed its full activations (which contain that checkpoint) are live, and selective
recomputation likewise rebuilds one layer's attention core, so the working set adds
``full - checkpoint`` or ``full - selective`` bytes once. Hence none >= selective >= full. The pipeline's first stage holds activations of
``min(m, p)`` micro-batches (1F1B) or ``min(m v, 2(p-1) + (v-1) p + 1)`` model chunks of
``L / (p v)`` layers (interleaved), i.e. ``L (1 + (p-1)/(p v))`` layers' worth when ``m`` is large
(Korthikanti et al. 2022 Sec. 4.2.3). The last stage also holds fp32 logits ``T V / t x 4``.
"""

from __future__ import annotations

import jax.numpy as jnp

from simulator import ops
from simulator.layout_rule import stage_layers
from simulator.training.common import Layout, TrainHardware, TrainOptions, expert_replica_ranks, replica_ranks


def _f(x):
    return jnp.asarray(x, dtype=float)


def layer_weight_inventory(spec, layout: Layout) -> dict:
    """Inventories of one dense and one MoE layer at one token on one device (``ops.layer_ops``):
    the weights each operator holds under the layout. Experts are split over the ``ep`` ranks and
    each expert ``tp`` ways (Megatron-LM expert parallelism: ``moe_ops`` with ``dp = ep``)."""
    ep = _f(layout.ep)
    return ops.layer_ops(spec, 1.0, ops.attention_work(1.0, 1.0, 0.0), ops.Precision(), _f(layout.tp), ep, ep)


def _layer_params(spec, layout: Layout):
    """(non-expert, expert) weights of one dense and one MoE layer on one device, from the inventory.

    Experts are split over the ``ep`` expert-parallel ranks and each expert ``tp`` ways
    (Megatron-LM expert parallelism: ``simulator.ops.moe_ops`` with ``dp = ep``).
    """
    inv = layer_weight_inventory(spec, layout)
    out = {}
    for kind, o in inv.items():
        expert = o["moe_up"].params + o["moe_down"].params
        out[kind] = (sum(c.params for c in o.values()) - expert, expert)
    return out


def params_per_device(spec, layout: Layout) -> dict:
    """Weights held by the busiest device before ZeRO sharding, split dense vs expert (inventory).

    A stage holds ``ceil(L / pp)`` layers; attention, dense MLPs and experts are split ``t`` ways
    (norms replicated); experts also ``ep`` ways. The first stage holds the input embedding
    ``V h / t``, the last the LM head (a second copy when tied and ``pp > 1``, as Megatron-LM does).
    """
    tp, pp = _f(layout.tp), _f(layout.pp)
    L = _f(spec.num_layers)
    n_dense, n_moe = ops.layer_counts(spec)
    frac_moe = n_moe / L
    lp = _layer_params(spec, layout)
    dense_layer = (1.0 - frac_moe) * lp["dense"][0] + frac_moe * lp["moe"][0]
    expert_layer = frac_moe * lp["moe"][1]
    head = ops.head_ops(spec, 1.0, 1.0, ops.Precision(), tp, 1)
    emb = head["embedding"].params
    lm = head["lm_head"].params + _f(spec.tied_embeddings) * _f(spec.vocab_size) * _f(spec.hidden_size) / tp
    stage_emb = jnp.where(pp > 1, jnp.maximum(emb, lm), emb + head["lm_head"].params) + head["final_norm"].params
    Ls = stage_layers(L, pp, _f(layout.first_stage_layers), _f(layout.last_stage_layers))[3]
    return dict(dense=Ls * dense_layer + stage_emb, expert=Ls * expert_layer, layers_per_stage=Ls,
                layer_params=dense_layer + expert_layer)


def _shape(spec) -> dict:
    """Float widths the activation formulas use: ``q`` = heads x head_dim, ``kv`` = kv_heads x
    head_dim, ``g`` = 1 for gated MLPs, ``L_moe`` = MoE layers (0 for dense models)."""
    f = _f
    n_dense, n_moe = ops.layer_counts(spec)
    hd = f(spec.head_dim)
    return dict(L=f(spec.num_layers), h=f(spec.hidden_size), a=f(spec.num_heads), q=f(spec.num_heads) * hd,
                kv=f(spec.num_kv_heads) * hd, f=f(spec.ffn_size), g=f(spec.gated_mlp), V=f(spec.vocab_size),
                k=f(spec.experts_per_token), shared=f(spec.num_shared_experts), fe=f(spec.expert_ffn_size),
                L_moe=n_moe)


def activation_bytes_per_layer(spec, layout: Layout, seq_len, opts: TrainOptions, recompute=None):
    """Activation bytes one layer keeps for one micro-batch on one device (Korthikanti Eq. 1-5).

    Returns ``(stored, full)``: what stays in memory under the layout's recompute setting, and the
    full (no-recompute) amount, which full recomputation needs as working memory for one layer.
    """
    s = _shape(spec)
    ab = opts.act_bytes
    tp, cp, mb = _f(layout.tp), _f(layout.cp), _f(layout.micro_batch)
    rc = jnp.asarray(layout.recompute if recompute is None else recompute)
    seq = _f(seq_len)
    T = mb * seq / cp
    sp_div = jnp.where(opts.sequence_parallel, tp, 1.0)
    mask = 1.0 if opts.dropout else 0.0
    replicated = T * s["h"] * (4.0 * ab + 2.0 * mask) / sp_div
    frac_moe = s["L_moe"] / s["L"]
    mlp = (1 - frac_moe) * (2.0 + s["g"]) * s["f"] + frac_moe * (
        s["k"] * (2.0 + s["g"]) * s["fe"] + s["shared"] * (2.0 + s["g"]) * s["fe"])
    moe_dispatch = frac_moe * s["k"] * s["h"] * tp  # routed copies of the layer input (per token)
    sharded = T * (2.0 * s["q"] + 2.0 * s["kv"] + mlp + moe_dispatch) * ab / tp
    scores = (s["a"] / tp) * T * seq  # a_s = b (a/t) (s/cp) s
    if opts.flash_attention:
        attn_core = T * (s["a"] / tp) * 4.0  # fp32 log-sum-exp per row
    else:
        attn_core = scores * (2.0 * ab + mask) if opts.dropout else scores * ab
    full = replicated + sharded + attn_core
    selective = replicated + sharded + jnp.where(opts.flash_attention, attn_core, 0.0)
    checkpoint = T * s["h"] * ab / sp_div
    stored = jnp.where(rc == 2, checkpoint, jnp.where(rc == 1, selective, full))
    return stored, full


def inflight_layers(spec, layout: Layout, global_batch):
    """Layers' worth of micro-batch activations the first pipeline stage holds at its peak."""
    pp, v = _f(layout.pp), _f(layout.virtual_stages)
    m = _f(global_batch) / (_f(layout.dp) * _f(layout.micro_batch))
    chunks = jnp.where(v <= 1, jnp.minimum(m, pp), jnp.minimum(m * v, 2.0 * (pp - 1.0) + (v - 1.0) * pp + 1.0))
    first = stage_layers(_f(spec.num_layers), pp, _f(layout.first_stage_layers), _f(layout.last_stage_layers))[0]
    return chunks * first / v


def memory_breakdown(spec, layout: Layout, hw: TrainHardware, global_batch, seq_len,
                     opts: TrainOptions) -> dict:
    """Bytes per device: weights, gradients, optimizer, activations, buffers, total, capacity, fits.

    ``total_bytes`` is the larger of the first pipeline stage (most in-flight activations) and the
    last stage (LM head logits). ``shortfall_bytes = max(0, total - capacity)``.
    """
    s = _shape(spec)
    wb, gb, K = opts.act_bytes, opts.grad_bytes, opts.optimizer_bytes_per_param
    zero, dp = jnp.asarray(layout.zero), replica_ranks(layout)  # ZeRO over dp x cp
    pd = params_per_device(spec, layout)
    dp_expert = expert_replica_ranks(layout)
    shard_w = jnp.where(zero >= 3, 1.0, 0.0)
    shard_g = jnp.where(zero >= 2, 1.0, 0.0)
    shard_o = jnp.where(zero >= 1, 1.0, 0.0)

    def sharded(n, d, on):
        return n / jnp.where(on > 0, d, 1.0)

    def state(nbytes, on):
        return nbytes * (sharded(pd["dense"], dp, on) + sharded(pd["expert"], dp_expert, on))

    weights = state(wb, shard_w)
    grads = state(gb, shard_g)
    offload = jnp.asarray(layout.offload)
    optimizer = jnp.where(offload > 0, 0.0, state(K, shard_o))
    offloaded = jnp.where(offload > 0, state(K, shard_o), 0.0)
    n_gathered = 2.0 if opts.zero3_prefetch else 1.0  # layer in use (+ the prefetched next one)
    gather_buffer = jnp.where(zero >= 3, n_gathered * pd["layer_params"] * wb, 0.0)

    stored, full = activation_bytes_per_layer(spec, layout, seq_len, opts)
    selective, _ = activation_bytes_per_layer(spec, layout, seq_len, opts, recompute=1)
    rc = jnp.asarray(layout.recompute)
    # working set during the backward of one layer: full recompute rebuilds the layer's activations
    # on top of its own checkpoint (which they include); selective rebuilds the attention core
    working = jnp.where(rc == 2, full - stored, jnp.where(rc == 1, full - selective, 0.0))
    first_act = inflight_layers(spec, layout, global_batch) * stored + working
    T = _f(layout.micro_batch) * _f(seq_len) / _f(layout.cp)
    logits = T * s["V"] / _f(layout.tp) * 4.0
    last_act = pd["layers_per_stage"] / _f(layout.virtual_stages) * stored + working + logits
    pp1 = _f(layout.pp) <= 1
    activations = jnp.where(pp1, first_act + logits, jnp.maximum(first_act, last_act))
    total = weights + grads + optimizer + gather_buffer + activations
    cap = hw.hbm_capacity_bytes
    return dict(
        weights_bytes=weights, gradients_bytes=grads, optimizer_bytes=optimizer,
        offloaded_bytes=offloaded, buffer_bytes=gather_buffer, activation_bytes=activations,
        total_bytes=total, capacity_bytes=cap * jnp.ones_like(total),
        shortfall_bytes=jnp.maximum(total - cap, 0.0), fits=total <= cap,
    )
