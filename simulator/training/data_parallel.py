"""Data-parallel and ZeRO communication of one training step, in collective calls.

Every collective is priced by the one collective function (:func:`simulator.pricing.collective_s`)
per call: a step issues many calls, not one, and each call pays the latency of its algorithm over
the ``n`` ranks of the group. That is what makes data parallelism expensive at scale, so the calls
are counted from what frameworks do:

* **Gradient reduction (ZeRO 0-2)** runs in buckets of ``max(dp_bucket_params,
  dp_bucket_params_per_rank x dp)`` weights (``TrainOptions``; Megatron-core
  ``DistributedDataParallel``: ``bucket_size = max(40e6, 1e6 x dp)`` parameters,
  megatron/core/distributed/distributed_data_parallel.py; PyTorch DDP ``bucket_cap_mb = 25``;
  Megatron-LM 2021 "local" DDP all-reduced one contiguous buffer after the backward:
  ``dp_bucket_params = inf``). Overlapped with the backward of the last micro-batch (window
  ``w``), a bucket can only start once its gradients exist, so the last bucket is never hidden:

      exposed = max(C - w, C / n_buckets)         (C = time of all buckets, one after another)

  without overlap the whole ``C`` is exposed. ZeRO 1/2 reduce-scatter the gradients and
  all-gather the updated weights after the optimizer step (not overlapped).
* **ZeRO-3** gathers a stage's weights before the forward and again before the backward of every
  micro-batch and reduce-scatters the gradients, *module by module* (DeepSpeed's parameter
  coordinator fetches the parameters of each submodule; PyTorch FSDP wraps units): one call per
  weight-holding operator of the inventory per layer (norms, QKV, output projection, MLP matrices,
  router, experts; ``simulator.ops`` records with more weights per device than
  ``TrainOptions.zero3_persistence_threshold``, DeepSpeed's default 1e5, below which a parameter is
  not partitioned, so norms are not gathered). Each pass hides its calls only behind its *own*
  compute (a gather for the forward cannot hide behind the backward): with prefetching
  (``zero3_prefetch``), ``G`` the gathers of one pass, ``R`` the gradient reduce-scatters, ``F`` / ``B``
  the forward / backward (recompute included) compute of the micro-batch,

      exposed = max(G - F, 0) + max(G + R - B, 0)        (reduce-scatter overlapped, ``grad_overlap``)
      exposed = max(G - F, 0) + max(G - B, 0) + R        (reduce-scatter on the critical path)

  and without prefetching the gathers are all exposed (``2 G``, plus ``max(R - B, 0)`` or ``R``).
  The backward pass carries both its gathers and the reduce-scatters on the same links, so it is
  the phase that saturates first as the data-parallel group grows.
* **The replica group is ``dp x cp``**: context-parallel ranks hold the same weights and compute
  gradients on different tokens of the same sequences, so gradients are reduced (and ZeRO states
  sharded) over the data- *and* context-parallel ranks, as Megatron-Core does
  (``megatron/core/distributed/param_and_grad_buffer.py``: ``self.dp_cp_group =
  parallel_state.get_data_and_context_parallel_group(with_context_parallel=True)``; the
  distributed optimizer shards over the same group). With ranks ordered TP, CP, DP, its members are
  ``tp`` apart.
"""

from __future__ import annotations

import jax.numpy as jnp

from simulator import ops, pricing
from simulator.training.common import expert_replica_ranks, replica_ranks
from simulator.training.memory import layer_weight_inventory


def _f(x):
    return jnp.asarray(x, dtype=float)


def modules_per_layer(spec, layout, persistence_threshold=0.0):
    """(non-expert, expert) weight-holding operators of an average layer (dense/MoE mix): the
    ZeRO-3 / FSDP gather calls per layer and pass. Operators holding at most
    ``persistence_threshold`` weights per device are not partitioned, so not gathered (DeepSpeed
    ``stage3_param_persistence_threshold``, TrainOptions.zero3_persistence_threshold)."""
    inv = layer_weight_inventory(spec, layout)
    n_dense, n_moe = ops.layer_counts(spec)
    frac_moe = n_moe / _f(spec.num_layers)
    experts = ("moe_up", "moe_down")
    out = []
    for sel in (lambda n: n not in experts, lambda n: n in experts):
        cnt = {k: sum(jnp.where(c.params > persistence_threshold, 1.0, 0.0) for n, c in o.items() if sel(n))
               for k, o in inv.items()}
        out.append((1.0 - frac_moe) * cnt["dense"] + frac_moe * cnt["moe"])
    return tuple(out)


def _calls(kind, nbytes, n, stride, calls, hw):
    """``calls`` collectives of ``nbytes / calls`` each (0 when nothing moves or ``n <= 1``)."""
    calls = jnp.maximum(calls, 1.0)
    t = calls * pricing.collective_s(kind, nbytes / calls, n, stride, hw.spec)
    return jnp.where((nbytes > 0) & (n > 1), t, 0.0)


def dp_communication(spec, layout, hw, params: dict, opts, window_s, fwd_compute_s, bwd_compute_s, micro_batches,
                     layers_per_stage) -> dict:
    """Exposed data-parallel / ZeRO communication of one step (seconds; see the module docstring).

    ``params``: weights per device before ZeRO sharding (``memory.params_per_device``: ``dense``,
    ``expert``); ``window_s``: backward time of the last micro-batch (gradient overlap window);
    ``fwd_compute_s`` / ``bwd_compute_s``: one micro-batch's forward / backward (recompute included)
    compute on the busiest stage (the ZeRO-3 prefetch windows of the two passes). Returns
    ``dp_comm_s`` (exposed, the step's term), ``dp_reduce_s`` (all reduction calls back to back),
    ``dp_buckets`` and ``zero3_calls`` (per micro-batch).
    """
    tp, ep = _f(layout.tp), _f(layout.ep)
    dp = replica_ranks(layout)  # data x context parallel: one gradient-reduction group
    zero = jnp.asarray(layout.zero)
    ab, gb = opts.act_bytes, opts.grad_bytes
    stride = tp
    if not opts.dp_node_aware:  # every rank alone in its node (TrainOptions.dp_node_aware)
        stride = jnp.where(dp * stride > hw.spec.devices_per_node, jnp.inf, stride)
    dp_exp = expert_replica_ranks(layout)
    groups = ((params["dense"], dp, stride), (params["expert"], dp_exp, stride * ep))
    # Megatron-core: bucket_size = max(40e6, 1e6 x dp) parameters (larger groups, fewer calls)
    bucket = jnp.maximum(jnp.maximum(_f(opts.dp_bucket_params), _f(opts.dp_bucket_params_per_rank) * dp), 1.0)
    nb = [jnp.ceil(p / bucket) for p, _, _ in groups]

    def each(kind, nbytes_per_param, calls):
        return sum(_calls(kind, p * nbytes_per_param, n, s, c, hw) for (p, n, s), c in zip(groups, calls, strict=True))

    grad_ar = each("all_reduce", gb, nb)
    grad_rs = each("reduce_scatter", gb, nb)
    param_ag = each("all_gather", ab, nb)
    buckets = jnp.maximum(nb[0] + jnp.where(params["expert"] > 0, nb[1], 0.0), 1.0)

    def exposed(c):
        return jnp.where(opts.grad_overlap, jnp.maximum(c - window_s, c / buckets), c)

    z012 = jnp.where(zero == 0, exposed(grad_ar), exposed(grad_rs) + param_ag)
    # ZeRO-3: per micro-batch, gather twice (forward, backward) and reduce-scatter, module by module
    mods = modules_per_layer(spec, layout, opts.zero3_persistence_threshold)
    calls = [layers_per_stage * m for m in mods]
    gather, reduce = each("all_gather", ab, calls), each("reduce_scatter", gb, calls)
    pre, ovl = jnp.asarray(opts.zero3_prefetch), jnp.asarray(opts.grad_overlap)
    fwd_exposed = jnp.where(pre, jnp.maximum(gather - fwd_compute_s, 0.0), gather)
    bwd_overlapped = jnp.where(pre, jnp.maximum(gather + reduce - bwd_compute_s, 0.0),
                               gather + jnp.maximum(reduce - bwd_compute_s, 0.0))
    bwd_serial = jnp.where(pre, jnp.maximum(gather - bwd_compute_s, 0.0), gather) + reduce
    bwd_exposed = jnp.where(ovl, bwd_overlapped, bwd_serial)  # reduce-scatters beside or after the backward
    z3 = micro_batches * (fwd_exposed + bwd_exposed)
    on = dp > 1
    return dict(
        dp_comm_s=jnp.where(on, jnp.where(zero >= 3, z3, z012), 0.0),
        dp_reduce_s=jnp.where(on, jnp.where(zero == 0, grad_ar, grad_rs), 0.0),
        dp_buckets=buckets,
        zero3_calls=calls[0] + calls[1],
    )
