"""alpha-beta cost of collectives (pure ``jax.numpy``, every argument broadcasts).

A message of ``S`` bytes over a link of bandwidth ``B`` (bytes/s per direction, achieved fraction
``e``) and latency ``alpha`` costs ``alpha + S / (B e)`` (Hockney 1994). For ``n`` ranks
(Thakur, Rabenseifner & Gropp 2005, "Optimization of collective communication operations in
MPICH"; NCCL's ring and double-binary-tree algorithms):

===================  ===========================================  ===============================
collective           ring                                          ``S`` is
===================  ===========================================  ===============================
all-reduce (ring)    ``2 (n-1) alpha + 2 (n-1)/n S / (B e)``       the buffer on each rank
all-reduce (tree)    ``2 log2(n) alpha + 2 S / (B e)``             (double binary tree, pipelined)
reduce-scatter       ``(n-1) alpha + (n-1)/n S / (B e)``           the full (unscattered) buffer
all-gather           ``(n-1) alpha + (n-1)/n S / (B e)``           the full (gathered) buffer
all-to-all           ``(n-1) alpha + (n-1)/n S / (B e)``           what each rank sends in total
send/recv            ``alpha + S / (B e)``                         the message
===================  ===========================================  ===============================

``all_reduce_time_s`` takes the faster of ring and tree, as NCCL's tuner does. Groups larger than a
node are hierarchical: reduce-scatter inside the node, all-reduce of ``S / n_in`` across nodes over
the inter-node link (per-device NIC share), all-gather inside the node. With ``n <= 1`` every cost
is 0. Communication overlapped with compute is hidden up to the fraction ``overlap``
(:func:`exposed_s`).
"""

from __future__ import annotations

import jax.numpy as jnp


def _f(x):
    return jnp.asarray(x, dtype=jnp.result_type(float))


def _bw_time(nbytes, bandwidth, eff):
    bw = _f(bandwidth) * eff
    return jnp.where(_f(nbytes) > 0, _f(nbytes) / jnp.where(bw > 0, bw, 1.0) + jnp.where(bw > 0, 0.0, jnp.inf), 0.0)


def send_recv_time_s(nbytes, bandwidth, latency_s, eff=1.0):
    """Point-to-point message: ``alpha + S / (B e)`` (0 for an empty message)."""
    return jnp.where(_f(nbytes) > 0, latency_s + _bw_time(nbytes, bandwidth, eff), 0.0)


def ring_all_reduce_time_s(nbytes, n, bandwidth, latency_s, eff=1.0):
    """Ring all-reduce: ``2 (n-1) alpha + 2 (n-1)/n S / (B e)``."""
    n = _f(n)
    t = 2.0 * (n - 1.0) * latency_s + 2.0 * (n - 1.0) / jnp.maximum(n, 1.0) * _bw_time(nbytes, bandwidth, eff)
    return jnp.where((n > 1) & (_f(nbytes) > 0), t, 0.0)


def tree_all_reduce_time_s(nbytes, n, bandwidth, latency_s, eff=1.0):
    """Double-binary-tree all-reduce: ``2 log2(n) alpha + 2 S / (B e)``."""
    n = _f(n)
    t = 2.0 * jnp.log2(jnp.maximum(n, 1.0)) * latency_s + 2.0 * _bw_time(nbytes, bandwidth, eff)
    return jnp.where((n > 1) & (_f(nbytes) > 0), t, 0.0)


def reduce_scatter_time_s(nbytes, n, bandwidth, latency_s, eff=1.0):
    """Ring reduce-scatter of a buffer of ``S`` bytes: ``(n-1) alpha + (n-1)/n S / (B e)``."""
    n = _f(n)
    t = (n - 1.0) * latency_s + (n - 1.0) / jnp.maximum(n, 1.0) * _bw_time(nbytes, bandwidth, eff)
    return jnp.where((n > 1) & (_f(nbytes) > 0), t, 0.0)


def all_gather_time_s(nbytes, n, bandwidth, latency_s, eff=1.0):
    """Ring all-gather into a buffer of ``S`` bytes: same cost as reduce-scatter."""
    return reduce_scatter_time_s(nbytes, n, bandwidth, latency_s, eff)


def all_to_all_time_s(nbytes, n, bandwidth, latency_s, eff=1.0):
    """All-to-all where each rank sends ``S`` bytes spread evenly: ``(n-1) alpha + (n-1)/n S / (B e)``."""
    return reduce_scatter_time_s(nbytes, n, bandwidth, latency_s, eff)


def all_reduce_time_s(nbytes, n, bandwidth, latency_s, eff=1.0):
    """Flat all-reduce: the faster of ring and double binary tree."""
    return jnp.minimum(
        ring_all_reduce_time_s(nbytes, n, bandwidth, latency_s, eff),
        tree_all_reduce_time_s(nbytes, n, bandwidth, latency_s, eff),
    )


def _split(n, devices_per_node):
    n = _f(n)
    n_in = jnp.maximum(jnp.minimum(n, _f(devices_per_node)), 1.0)
    return n, n_in, n / n_in


def hierarchical_all_reduce_time_s(nbytes, n, devices_per_node, intra_bytes_per_s, intra_latency_s,
                                   inter_bytes_per_s, inter_latency_s, eff=1.0):
    """All-reduce over ``n`` ranks packed ``devices_per_node`` per node.

    ``RS_intra(S, n_in) + AR_inter(S / n_in, n / n_in) + AG_intra(S, n_in)`` (intra RS + AG = an
    intra ring all-reduce); for ``n <= per node`` this is the flat all-reduce over the intra-node
    link, ring or tree, whichever is faster.
    """
    n, n_in, n_out = _split(n, devices_per_node)
    ring_in = ring_all_reduce_time_s(nbytes, n_in, intra_bytes_per_s, intra_latency_s, eff)
    tree_in = tree_all_reduce_time_s(nbytes, n_in, intra_bytes_per_s, intra_latency_s, eff)
    inter = all_reduce_time_s(_f(nbytes) / n_in, n_out, inter_bytes_per_s, inter_latency_s, eff)
    return jnp.where(n_out > 1, ring_in + inter, jnp.minimum(ring_in, tree_in))


def hierarchical_all_gather_time_s(nbytes, n, devices_per_node, intra_bytes_per_s, intra_latency_s,
                                   inter_bytes_per_s, inter_latency_s, eff=1.0):
    """All-gather over ``n`` ranks: intra-node part plus the share ``(n - n_in)/n`` crossing nodes."""
    n, n_in, n_out = _split(n, devices_per_node)
    intra = all_gather_time_s(_f(nbytes) * n_in / jnp.maximum(n, 1.0), n_in, intra_bytes_per_s,
                              intra_latency_s, eff)
    inter = all_gather_time_s(nbytes, n_out, inter_bytes_per_s, inter_latency_s, eff)
    return jnp.where(n_out > 1, intra + inter, all_gather_time_s(nbytes, n, intra_bytes_per_s,
                                                                 intra_latency_s, eff))


def hierarchical_all_to_all_time_s(nbytes, n, devices_per_node, intra_bytes_per_s, intra_latency_s,
                                   inter_bytes_per_s, inter_latency_s, eff=1.0):
    """All-to-all over ``n`` ranks: ``(n_in - 1)/n S`` over the intra link and ``(n - n_in)/n S``
    over the inter link, concurrently (the slower dominates), plus ``(n - 1) alpha``."""
    n, n_in, n_out = _split(n, devices_per_node)
    s = _f(nbytes)
    nn = jnp.maximum(n, 1.0)
    t_in = _bw_time(s * (n_in - 1.0) / nn, intra_bytes_per_s, eff)
    t_out = jnp.where(n_out > 1, _bw_time(s * (n - n_in) / nn, inter_bytes_per_s, eff), 0.0)
    alpha = (n_in - 1.0) * intra_latency_s + jnp.where(n_out > 1, (n - n_in) * inter_latency_s, 0.0)
    return jnp.where((n > 1) & (s > 0), alpha + jnp.maximum(t_in, t_out), 0.0)


def exposed_s(comm_s, compute_s, overlap):
    """Communication time left on the critical path: ``comm - overlap * min(comm, compute)``."""
    return comm_s - overlap * jnp.minimum(comm_s, compute_s)


__all__ = [
    "all_gather_time_s",
    "all_reduce_time_s",
    "all_to_all_time_s",
    "exposed_s",
    "hierarchical_all_gather_time_s",
    "hierarchical_all_reduce_time_s",
    "hierarchical_all_to_all_time_s",
    "reduce_scatter_time_s",
    "ring_all_reduce_time_s",
    "send_recv_time_s",
    "tree_all_reduce_time_s",
]
