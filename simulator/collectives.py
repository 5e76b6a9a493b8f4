"""The one collective-time function of simlab (pure ``jax.numpy``, every argument broadcasts).

:func:`collective_time_s` (``kind, nbytes, n, ranks_per_node, fabric``) prices a collective the way
NCCL runs it on a system's fabric: link topology (switch, full mesh, torus), NVLink SHARP, NCCL's
protocols (LL / LL128 / Simple) and algorithms (ring, tree, NVLS), with the intra-node and
inter-node phases *pipelined*. Its formulas are in its docstring; its basis is the Hockney
alpha-beta cost ``alpha + S / (B e)`` of a message of ``S`` bytes over a link of bandwidth ``B``
(bytes/s per direction, achieved fraction ``e``) and hop latency ``alpha`` (Hockney 1994; ring and
tree collectives: Thakur, Rabenseifner & Gropp 2005).

Every caller goes through it: operators of a step (:func:`simulator.pricing.collective_s`),
data-parallel / ZeRO calls (``simulator.training.data_parallel``), the KV-cache hand-off of
disaggregated serving, DiLoCo's outer all-reduce over a WAN (``simulator.lowcomm``) and the
calibration fit of a link (``simulator.calibration.model``). A collective on one explicit link
that is not a catalog fabric (a WAN between sites, a link whose latency is being fitted) is
priced on :func:`link_fabric`. Communication overlapped with compute is hidden up to the fraction
``overlap`` (:func:`exposed_s`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from simulator.errors import ConfigError


def _f(x):
    return jnp.asarray(x, dtype=jnp.result_type(float))


class LinkFabric(NamedTuple):
    """The fabric fields :func:`collective_time_s` reads (a :class:`simulator.hw.HwSpec` has them
    all); built by :func:`link_fabric` for one explicit link."""

    intra_bytes_per_s: object
    intra_latency_s: object
    link_eff: object
    inter_bytes_per_s: object = 0.0
    inter_latency_s: object = 0.0
    inter_link_eff: object = 0.0
    intra_links_per_device: object = 1.0
    intra_topology: object = 0.0
    nvls_eff: object = 0.0
    nvls_latency_s: object = 0.0


def link_fabric(bandwidth_bytes_per_s, latency_s, eff=1.0) -> LinkFabric:
    """One switched link of ``bandwidth_bytes_per_s`` per direction, hop latency ``latency_s`` and
    achieved fraction ``eff``, every rank on it (call :func:`collective_time_s` with
    ``ranks_per_node = n``): e.g. the WAN between sites, each site one rank."""
    return LinkFabric(_f(bandwidth_bytes_per_s), _f(latency_s), _f(eff))


# ------------------------------------------------------------------ the one fabric-aware entry point
#: Collective kinds accepted by :func:`collective_time_s`.
COLLECTIVE_KINDS = ("all_reduce", "reduce_scatter", "all_gather", "all_to_all", "send_recv")

#: NCCL's protocols as its own cost model prices them (NVIDIA/nccl src/graph/tuning.cc, commit
#: b6475625, ``baseLat``, ``hwLat``, ``ncclTopoTuneModel``): name -> (base latency s, extra latency
#: per intra-node step s, extra latency per inter-node step s, bandwidth factor for all-reduce,
#: bandwidth factor for reduce-scatter / all-gather). The per-step latency of a protocol is the link's
#: hop latency (``HwSpec.intra_latency_s`` / ``inter_latency_s``, which stand for NCCL's LL hop)
#: plus NCCL's extra over LL: LL128 +1.3 us on NVLink (1.9 - 0.6) and +1.3 us on the network
#: (4.0 - 2.7), Simple +2.8 us (3.4 - 0.6) and +11.3 us (14 - 2.7). Bandwidth: LL carries 8 bytes of
#: data per 16 (``busBw * 1/4`` for all-reduce and multi-node, ``1/3`` otherwise, at most
#: :data:`NCCL_LL_MAX_BUS_BYTES_PER_S`), LL128 ``0.92`` of Simple, Simple the full rate.
NCCL_PROTOCOLS = {
    "LL": (6.6e-6, 0.0, 0.0, 0.25, 1.0 / 3.0),
    "LL128": (14.0e-6, 1.3e-6, 1.3e-6, 0.92, 0.92),
    "Simple": (8.4e-6, 2.8e-6, 11.3e-6, 1.0, 1.0),
}
#: Cap on LL's bus bandwidth: NCCL's ``llMaxBws`` for one Ampere/Hopper node, 87.7 GB/s (same file).
NCCL_LL_MAX_BUS_BYTES_PER_S = 87.7e9
#: Fixed start-up latency of the fastest NCCL protocol (ring LL ``baseLat`` 6.6 us); send/recv and
#: all-to-all use it.
NCCL_BASE_LATENCY_S = NCCL_PROTOCOLS["LL"][0]
#: Latency of an NVLink SHARP (NVLS) all-reduce inside a node: NCCL's ``hwLat[NVLINK][NVLS][Simple]``
#: = 23 us in the same file (NVLS has no base latency there and runs the Simple protocol only). A
#: system whose nccl-tests curve is published carries its measured start-up time instead
#: (``HwSpec.nvls_latency_s``, ``[intra_node_link] nvls_latency_s`` in its TOML).
NVLS_LATENCY_S = 23e-6
#: Granularity at which NCCL hands data from one phase of a collective to the next: one channel
#: buffer, ``NCCL_BUFFSIZE`` default 4 MiB (NCCL user guide, "Environment Variables",
#: docs.nvidia.com/deeplearning/nccl/user-guide/docs/env.html#nccl-buffsize). A message of
#: ``S`` bytes flows through the pipeline in ``k = max(1, S / chunk)`` pieces.
PIPELINE_CHUNK_BYTES = 4.0 * 2**20

_SWITCH, _FULL_MESH, _TORUS = 0.0, 1.0, 2.0


def _div(num, den):
    """``num / den`` with 0 for ``num == 0`` and inf for ``den <= 0 < num``; gradient-safe."""
    num = _f(num)
    den = _f(den)
    ok = den > 0
    q = num / jnp.where(ok, den, 1.0)
    return jnp.where(num > 0, jnp.where(ok, q, jnp.inf), 0.0)


def _pipelined(t_a, t_b, inv_k):
    """Two pipelined phases of ``k`` pieces: ``max(t_a, t_b) + min(t_a, t_b) / k`` (the slower phase
    plus the fill/drain of the faster one; the classic ``(k - 1) max + sum`` over ``k`` stages);
    takes ``1 / k``."""
    return jnp.maximum(t_a, t_b) + jnp.minimum(t_a, t_b) * inv_k


def _recip(den):
    """``(1 / den, den > 0)`` with a safe reciprocal (1) where ``den <= 0`` (gradient-safe)."""
    ok = den > 0
    return 1.0 / jnp.where(ok, den, 1.0), ok


def _times(num, inv, ok):
    """``num / den`` from ``inv = 1 / den``: 0 for ``num == 0``, inf for ``den <= 0 < num`` (as
    :func:`_div`)."""
    num = _f(num)
    return jnp.where(num > 0, jnp.where(ok, num * inv, jnp.inf), 0.0)


def _proto_inv(inv_bw, factor, multi):
    """Reciprocal of a link's bandwidth ``bw`` under an NCCL protocol, from ``inv_bw = 1 / bw``.

    The protocol's bandwidth is ``bw * factor``; LL (factor < 1/2) moves 1/4 of the rate for
    multi-node rings (``factor`` otherwise: 1/4 all-reduce, 1/3 gathers) and at most
    :data:`NCCL_LL_MAX_BUS_BYTES_PER_S` (NVIDIA/nccl src/graph/tuning.cc ``ncclTopoTuneModel``).
    """
    if factor >= 0.5:
        return inv_bw * (1.0 / factor)
    return jnp.maximum(inv_bw * jnp.where(multi, 4.0, 1.0 / factor), 1.0 / NCCL_LL_MAX_BUS_BYTES_PER_S)


def intra_bandwidth_bytes_per_s(ranks, hw):
    """Per-direction bandwidth a device puts into a collective among ``ranks`` devices of its node.

    - ``switch`` (NVSwitch, PCIe switch): ``intra_bytes_per_s`` whatever ``ranks`` is (every GPU
      reaches any peer at its full NVLink rate; NVIDIA DGX H100/B200 user guides).
    - ``full_mesh`` (AMD MI300X xGMI: 7 links of 64 GB/s per direction per GPU, AMD Instinct
      MI300X platform data sheet): one link per peer, so ``b_link * min(max(ranks - 1, 1), links)``;
      RCCL runs its rings over all direct links at once (8 GPUs: 7 x 64 = 448 GB/s, which is why the
      8-GPU rccl-tests all-reduce bus bandwidth is ~6.5x the 2-GPU one).
    - ``torus`` (TPU ICI): each chip has ``links`` neighbour links, 2 per axis; a group of ``ranks``
      chips is taken to span ``d = clip(ceil(log4 ranks), 1, links / 2)`` axes (cube-like slices
      with axes of length >= 4, e.g. v5p 4x4x4; counted up to 5 axes), each a bidirectional ring, so
      ``b_link * min(links, 2 d)`` ("How to Scale Your Model", Austin et al. 2025, part 3: a
      collective over a torus axis with wraparound uses both directions; over several axes the
      bandwidth adds up).
    """
    b = _f(hw.intra_bytes_per_s)
    links = jnp.maximum(_f(hw.intra_links_per_device), 1.0)
    r = jnp.maximum(_f(ranks), 1.0)
    mesh = b * jnp.minimum(jnp.maximum(r - 1.0, 1.0), links)
    # d = ceil(log4 r) without a logarithm (a sweep evaluates this per row): 1 + #{k >= 1: r > 4^k}
    axes = jnp.clip(1.0 + sum(jnp.where(r > 4.0**k, 1.0, 0.0) for k in range(1, 5)), 1.0,
                    jnp.maximum(links / 2.0, 1.0))
    torus = b * jnp.minimum(links, 2.0 * axes)
    topo = _f(hw.intra_topology)
    return jnp.where(topo == _FULL_MESH, mesh, jnp.where(topo == _TORUS, torus, b))


def collective_time_s(kind: str, nbytes, n, ranks_per_node, hw, *, algo: str = "auto"):
    """Seconds of one collective over ``n`` ranks, ``ranks_per_node`` of them per node, on ``hw``.

    ``kind`` (static str): ``all_reduce`` (``nbytes`` = the buffer on each rank), ``reduce_scatter``
    / ``all_gather`` (``nbytes`` = the full, unscattered / gathered buffer), ``all_to_all`` (what
    each rank sends in total), ``send_recv`` (one message; intra-node when ``ranks_per_node >= 2``).
    ``hw`` is a :class:`simulator.hw.HwSpec` (or a :class:`LinkFabric`); every other argument broadcasts (pure ``jax.numpy``,
    differentiable, jit/vmap friendly). ``n <= 1`` or an empty message costs 0. ``ranks_per_node``
    is clipped to ``[1, n]`` (``inf`` = all ranks in one node); on a ``torus`` the whole group is on
    the ICI torus (hosts are no network boundary inside a TPU slice), so it is ignored.

    Notation: ``S`` bytes, ``r`` ranks per node, ``m = n / r`` nodes; ``B_in = e * intra_bandwidth_bytes_per_s(r)``
    (topology aware, ``e = hw.link_eff``), ``B_out = e_out * inter_bytes_per_s`` (per-device NIC
    share; ``e_out = hw.inter_link_eff``, else ``e``), hop latencies ``a_in``, ``a_out``. Phases that
    run on different links at the same time are *pipelined*: ``max(t_in, t_out) + min(t_in, t_out) / k``
    with ``k = max(1, S / 4 MiB)`` pieces (:data:`PIPELINE_CHUNK_BYTES`), never the sum. This is how
    NCCL runs multi-node rings and trees: its tuner gives a ring ONE bus bandwidth, that of its
    slowest hop (``nChannels * (nNodes <= 2 ? bwIntra : bwInter)``), and adds per-hop latencies
    (NVIDIA/nccl src/graph/tuning.cc ``ncclTopoTuneModel``); Intel states the same for HCCL ('Most of
    the collectives are implemented in a hierarchical manner, thus pipelining scale-up and scale-out
    communication in parallel', docs.habana.ai Network_Configuration).

    Algorithms (the fastest is taken, as NCCL's tuner does), each priced under NCCL's protocols
    LL / LL128 / Simple (:data:`NCCL_PROTOCOLS`: base latency, extra latency per step, bandwidth
    factor; NCCL restricts LL128 to NVLink Volta-Hopper, not modelled):

    - all-reduce, ring (NCCL Ring, one ring through all ``n`` ranks, a rail per NIC): every rank sends
      ``2 (n-1)/n S``; inside one node all of it on NVLink, across nodes the share ``(r-1)/r`` on
      NVLink and ``1/r`` on its NIC (``m`` of the ring's ``n`` hops leave a node), so the ring's bus
      bandwidth is ``min(B_in r/(r-1), r B_out)``; latency ``(2 (n-1) - 2m) a_in + 2m a_out``
      (NCCL's ``nInterSteps = 2 nNodes``).
    - all-reduce, tree (NCCL Tree, multi-node only): a chain inside the node (``2 S`` per direction)
      and a double binary tree between nodes (``2 S / r`` per NIC, ``S / r`` for 2 nodes, where each
      node is a leaf of one tree and the root of the other); latency ``2 ((r-1) a_in + log2(m) a_out)``.
    - all-reduce with NVLink SHARP (``hw.nvls_eff > 0``, switch topology; NCCL NVLS / NVLS_TREE,
      Simple protocol): the switch reduces (``multimem.ld_reduce``) and multicasts (``multimem.st``),
      so a GPU moves ``S (1 + 1/r)`` per direction instead of ``2 (r-1)/r S``, at
      ``B_in * nvls_eff`` (NCCL's ``nvlsEfficiency``: 0.85 Hopper, 0.74 Blackwell), latency
      ``hw.nvls_latency_s`` where measured, else :data:`NVLS_LATENCY_S`; across nodes the tree
      carries ``S / r`` shards between nodes as above.
    - reduce-scatter / all-gather, ring: ``(n-1)/n S`` per rank, split on NVLink / NIC as for the
      all-reduce ring; latency ``(n - m) a_in + (m - 1) a_out``. NVLS does not cut their
      per-direction traffic, so it is not used.
    - all-to-all: ``(r-1)/n S`` over ``B_in`` and ``(n-r)/n S`` over ``B_out`` at the same time
      (the slower dominates); latency ``(r-1) a_in + (n-r) a_out`` (the pre-issue formula) plus
      :data:`NCCL_BASE_LATENCY_S`. For large messages the bus bandwidth is ``B_out (n-1)/(n-r)``,
      the NCCL maintainers' ``N/(N-1)`` x NIC rule (NVIDIA/nccl-tests issue #130).
    - send/recv: ``a_in + S / (e b_link)`` inside a node (one link: ``intra_bytes_per_s``; on a
      mesh a single peer link, not the device's aggregate) or ``a_out + S / B_out`` across nodes.

    ``algo`` (static, keyword only) pins the all-reduce algorithm the way ``NCCL_ALGO`` /
    ``NCCL_NVLS_ENABLE`` do in a benchmark: ``auto`` (the fastest), ``ring`` (the ring only) or
    ``nvls`` (NVLS / NVLS_TREE where the system has it, else the ring). Other kinds ignore it.
    """
    if kind not in COLLECTIVE_KINDS:
        raise ConfigError(f"collective kind '{kind}'; allowed: {', '.join(COLLECTIVE_KINDS)}")
    if algo not in ("auto", "ring", "nvls"):
        raise ConfigError(f"collective algo '{algo}'; allowed: auto, ring, nvls")
    s = _f(nbytes)
    n = _f(n)
    nn = jnp.maximum(n, 1.0)
    torus = _f(hw.intra_topology) == _TORUS
    r = jnp.clip(_f(ranks_per_node), 1.0, nn)
    r = jnp.where(torus, nn, r)
    inv_r = 1.0 / r
    m = nn * inv_r
    multi = m > 1.0 + 1e-9
    e = _f(hw.link_eff)
    e_out = jnp.where(_f(hw.inter_link_eff) > 0, _f(hw.inter_link_eff), e)
    a_in = _f(hw.intra_latency_s)
    a_out = jnp.where(multi, _f(hw.inter_latency_s), 0.0)
    b_in = intra_bandwidth_bytes_per_s(r, hw) * e
    b_out = _f(hw.inter_bytes_per_s) * e_out
    # reciprocals once (divisions are the expensive operations of this function in a sweep)
    inv_in, ok_in = _recip(b_in)
    inv_out, ok_out = _recip(b_out)
    inv_k = 1.0 / jnp.maximum(s * (1.0 / PIPELINE_CHUNK_BYTES), 1.0)
    active = (n > 1.0) & (s > 0.0)
    on_nvlink = jnp.where(multi, (r - 1.0) * inv_r, 1.0)  # a ring's share of a rank's traffic inside the node
    m_hops = jnp.where(multi, m, 0.0)                   # ring hops that leave a node
    inv_nn = 1.0 / nn

    if kind == "send_recv":
        intra = r >= 2.0
        t = jnp.where(intra, _f(hw.intra_latency_s) + _div(s, _f(hw.intra_bytes_per_s) * e),
                      _f(hw.inter_latency_s) + _div(s, _f(hw.inter_bytes_per_s) * e_out))
        return jnp.where(active, t, 0.0)
    if kind == "all_to_all":
        t_in = _times(s * (r - 1.0) * inv_nn, inv_in, ok_in)
        t_out = jnp.where(multi, _times(s * (nn - r) * inv_nn, inv_out, ok_out), 0.0)
        lat = (r - 1.0) * a_in + (nn - r) * a_out
        return jnp.where(active, NCCL_BASE_LATENCY_S + lat + jnp.maximum(t_in, t_out), 0.0)

    # Protocols whose bandwidth factor f applies to both links (LL128, Simple) scale the pipelined
    # transfer time of the full-rate links by 1/f, so it is computed once; LL (capped rate) apart.
    t = jnp.inf
    if kind in ("reduce_scatter", "all_gather"):
        moved = s * (nn - 1.0) * inv_nn
        moved_in, moved_out = moved * on_nvlink, moved * inv_r
        inter_steps = jnp.maximum(m_hops - 1.0, 0.0)
        steps_in = nn - 1.0 - inter_steps
        full = _pipelined(_times(moved_in, inv_in, ok_in),
                          jnp.where(multi, _times(moved_out, inv_out, ok_out), 0.0), inv_k)
        for base, x_in, x_out, _, f_bw in NCCL_PROTOCOLS.values():
            if f_bw >= 0.5:
                xfer = full * (1.0 / f_bw)
            else:
                xfer = _pipelined(_times(moved_in, _proto_inv(inv_in, f_bw, multi), ok_in),
                                  jnp.where(multi, _times(moved_out, _proto_inv(inv_out, f_bw, multi), ok_out), 0.0),
                                  inv_k)
            lat = base + steps_in * (a_in + x_in) + inter_steps * (a_out + x_out)
            t = jnp.minimum(t, lat + xfer)
        return jnp.where(active, t, 0.0)

    # all-reduce
    nvls_eff = _f(hw.nvls_eff)
    nvls_ok = (nvls_eff > 0) & (_f(hw.intra_topology) == _SWITCH) & (r > 1.0)
    tree_shard = jnp.where(m <= 2.0 + 1e-9, 1.0, 2.0) * s * inv_r    # per NIC, double binary tree
    moved = 2.0 * s * (nn - 1.0) * inv_nn
    moved_in, moved_out = moved * on_nvlink, moved * inv_r
    log2_m = jnp.log2(jnp.maximum(m, 1.0))
    ring_hops_in, ring_hops_out = 2.0 * (nn - 1.0) - 2.0 * m_hops, 2.0 * m_hops

    def ring_xfer(pi_in, pi_out):
        return _pipelined(_times(moved_in, pi_in, ok_in), jnp.where(multi, _times(moved_out, pi_out, ok_out), 0.0),
                          inv_k)

    def tree_out_t(pi_out):
        return jnp.where(multi, _times(tree_shard, pi_out, ok_out), jnp.inf)

    ring_full = ring_xfer(inv_in, inv_out)
    tree_full = _pipelined(_times(2.0 * s, inv_in, ok_in), tree_out_t(inv_out), inv_k)
    for name, (base, x_in, x_out, f_bw, _) in NCCL_PROTOCOLS.items():
        lowrate = f_bw < 0.5
        pi_in, pi_out = (_proto_inv(inv_in, f_bw, multi), _proto_inv(inv_out, f_bw, multi)) if lowrate else (None, None)
        cands = []
        if algo in ("auto", "ring") or name != "Simple":
            xfer = ring_xfer(pi_in, pi_out) if lowrate else ring_full * (1.0 / f_bw)
            ring = base + ring_hops_in * (a_in + x_in) + ring_hops_out * (a_out + x_out) + xfer
            if algo == "nvls":   # pinned NVLS: the ring only where the system has no NVLS
                ring = jnp.where(nvls_ok, jnp.inf, ring)
            cands.append(ring)
        tree_out_lat = 2.0 * log2_m * (a_out + x_out)
        if algo == "auto":
            xfer = (_pipelined(_times(2.0 * s, pi_in, ok_in), tree_out_t(pi_out), inv_k) if lowrate
                    else tree_full * (1.0 / f_bw))
            cands.append(base + 2.0 * (r - 1.0) * (a_in + x_in) + tree_out_lat + xfer)
        if name == "Simple" and algo in ("auto", "nvls"):   # NVLS / NVLS_TREE run Simple only
            inv_nvls = inv_in * (1.0 / jnp.where(nvls_ok, nvls_eff, 1.0))
            nvls_in = jnp.where(nvls_ok, _times(s * (1.0 + inv_r), inv_nvls, ok_in), jnp.inf)
            nvls_out = jnp.where(multi, tree_out_t(inv_out * (1.0 / f_bw)), 0.0)
            lat_nvls = _f(hw.nvls_latency_s)
            nvls_lat = jnp.where(lat_nvls > 0, lat_nvls, NVLS_LATENCY_S) + jnp.where(multi, tree_out_lat, 0.0)
            cands.append(jnp.where(nvls_ok, nvls_lat + _pipelined(nvls_in, nvls_out, inv_k), jnp.inf))
        for c in cands:
            t = jnp.minimum(t, c)
    return jnp.where(active, t, 0.0)


def bus_bandwidth_bytes_per_s(kind: str, nbytes, n, time_s):
    """nccl-tests' bus bandwidth of a collective that took ``time_s``: ``algbw = S / t`` times
    ``2 (n-1)/n`` (all-reduce), ``(n-1)/n`` (reduce-scatter, all-gather, all-to-all; ``S`` the
    full buffer) or 1 (send/recv) (NVIDIA/nccl-tests doc/PERFORMANCE.md)."""
    if kind not in COLLECTIVE_KINDS:
        raise ConfigError(f"collective kind '{kind}'; allowed: {', '.join(COLLECTIVE_KINDS)}")
    n = _f(n)
    factor = {"all_reduce": 2.0 * (n - 1.0) / n, "send_recv": jnp.ones_like(n)}.get(kind, (n - 1.0) / n)
    return _div(_f(nbytes), time_s) * factor


def exposed_s(comm_s, compute_s, overlap):
    """Communication time left on the critical path: ``comm - overlap * min(comm, compute)``."""
    return comm_s - overlap * jnp.minimum(comm_s, compute_s)


__all__ = [
    "COLLECTIVE_KINDS",
    "NCCL_BASE_LATENCY_S",
    "NCCL_LL_MAX_BUS_BYTES_PER_S",
    "NCCL_PROTOCOLS",
    "NVLS_LATENCY_S",
    "PIPELINE_CHUNK_BYTES",
    "LinkFabric",
    "bus_bandwidth_bytes_per_s",
    "collective_time_s",
    "exposed_s",
    "intra_bandwidth_bytes_per_s",
    "link_fabric",
]
