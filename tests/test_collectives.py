"""The one collective function (simulator/collectives.py) against its closed forms."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from simulator import collectives as C

S, BW, A = 1e9, 100e9, 2e-6


def _link(bw=BW, lat=A, eff=1.0):
    return C.link_fabric(bw, lat, eff)


def _simple_hop():
    base, x_in, _, _, _ = C.NCCL_PROTOCOLS["Simple"]
    return base, x_in


def test_large_ring_all_reduce_on_one_link_is_the_ring_formula_plus_protocol_latency():
    """Large messages on one link: NCCL Simple ring, ``base + 2(n-1)(a + x) + 2(n-1)/n S/(B e)``."""
    base, x = _simple_hop()
    big = 1e11
    for n in (2, 4, 8):
        expected = base + 2 * (n - 1) * (A + x) + 2 * (n - 1) / n * big / (0.8 * BW)
        got = float(C.collective_time_s("all_reduce", big, n, n, _link(eff=0.8), algo="ring"))
        assert got == pytest.approx(expected, rel=1e-6)


def test_gather_scatter_send_recv_on_one_link():
    base, x = _simple_hop()
    big, n = 1e11, 8
    rs = base + (n - 1) * (A + x) + (n - 1) / n * big / BW
    assert float(C.collective_time_s("reduce_scatter", big, n, n, _link())) == pytest.approx(rs, rel=1e-6)
    assert float(C.collective_time_s("all_gather", big, n, n, _link())) == pytest.approx(rs, rel=1e-6)
    assert float(C.collective_time_s("send_recv", S, 2, 2, _link(eff=0.5))) == pytest.approx(A + S / (0.5 * BW))


def test_small_messages_take_a_low_latency_protocol():
    """A 1 kB all-reduce over 64 ranks costs far less than the Simple ring's latency (LL / tree)."""
    base, x = _simple_hop()
    simple_ring_latency = base + 2 * 63 * (A + x)
    assert float(C.collective_time_s("all_reduce", 1e3, 64, 64, _link())) < 0.7 * simple_ring_latency


def test_single_rank_and_empty_message_cost_nothing_on_a_link():
    for kind in C.COLLECTIVE_KINDS:
        assert float(C.collective_time_s(kind, S, 1, 1, _link())) == 0.0
        assert float(C.collective_time_s(kind, 0.0, 8, 8, _link())) == 0.0


def test_vectorised_and_monotone_in_bandwidth():
    bw = jnp.asarray([10e9, 100e9, 1000e9])
    t = np.asarray(C.collective_time_s("all_reduce", S, 8, 8, _link(bw=bw)))
    assert t.shape == (3,) and np.all(np.diff(t) < 0)


def test_overlap_hides_at_most_the_compute():
    assert float(C.exposed_s(3.0, 2.0, 0.0)) == 3.0
    assert float(C.exposed_s(3.0, 2.0, 1.0)) == 1.0
    assert float(C.exposed_s(1.0, 2.0, 1.0)) == 0.0
    assert float(C.exposed_s(1.0, 2.0, 0.5)) == 0.5


# ------------------------------------------------------------- collective_time_s (fabric-aware)
import jax  # noqa: E402

from hardware_db import load_system  # noqa: E402
from simulator.errors import ConfigError  # noqa: E402
from simulator.hw import build_hw  # noqa: E402

GIB = 2.0**30


def _hw(name, **changes):
    hw = build_hw(load_system(name))
    return hw.replace(**changes) if changes else hw


def test_entry_point_zero_for_one_rank_or_empty_message_and_rejects_unknown_kind():
    hw = _hw("dgx-h100")
    for kind in C.COLLECTIVE_KINDS:
        assert float(C.collective_time_s(kind, GIB, 1, 1, hw)) == 0.0
        assert float(C.collective_time_s(kind, 0.0, 8, 8, hw)) == 0.0
        assert float(C.collective_time_s(kind, GIB, 16, 8, hw)) > 0.0
    with pytest.raises(ConfigError, match="allowed"):
        C.collective_time_s("broadcast", GIB, 8, 8, hw)


def _ring_phases(hw, s, n, r):
    """NCCL's flat ring across nodes: each rank moves 2 (n-1)/n S, (r-1)/r of it on NVLink and 1/r
    through its own NIC (seconds on each link)."""
    moved = 2 * (n - 1) / n * s
    e_out = float(hw.inter_link_eff) or float(hw.link_eff)
    t_in = moved * (r - 1) / r / (float(hw.intra_bytes_per_s) * float(hw.link_eff))
    t_out = moved / r / (float(hw.inter_bytes_per_s) * e_out)
    return t_in, t_out


def test_multi_node_phases_are_pipelined_not_added():
    """Large messages: time -> the slower link (NCCL's ring has one bus bandwidth, that of its
    slowest hop, NVIDIA/nccl src/graph/tuning.cc); never the sum of the phases."""
    hw = _hw("dgx-h100", nvls_eff=0.0)
    s, n, r = 16 * GIB, 32.0, 8.0
    t_in, t_out = _ring_phases(hw, s, n, r)
    t = float(C.collective_time_s("all_reduce", s, n, r, hw, algo="ring"))
    assert max(t_in, t_out) <= t < 1.02 * max(t_in, t_out) < 0.7 * (t_in + t_out)
    # ring bus bandwidth = min(B_in r/(r-1), r B_out): here the 8 NICs (8 x 50 GB/s x 0.94)
    busbw = float(C.bus_bandwidth_bytes_per_s("all_reduce", s, n, t))
    assert busbw == pytest.approx(8 * 50e9 * 0.94, rel=0.02)
    # the fill term: a message of one pipeline chunk pays (almost) both phases
    small = C.PIPELINE_CHUNK_BYTES
    ti, to = _ring_phases(hw, small, n, r)
    assert float(C.collective_time_s("all_reduce", small, n, r, hw, algo="ring")) >= ti + to


def test_nic_efficiency_of_the_inter_node_link_is_its_own():
    hw = _hw("dgx-b200")
    assert float(hw.inter_link_eff) == pytest.approx(0.94) and float(hw.link_eff) == pytest.approx(0.8)
    slower = hw.replace(inter_link_eff=0.0)   # 0 = inherit the device's (NVLink-derived) 0.8
    t = float(C.collective_time_s("all_reduce", 16 * GIB, 32, 8, hw))
    assert float(C.collective_time_s("all_reduce", 16 * GIB, 32, 8, slower)) == pytest.approx(t * 0.94 / 0.8, rel=0.02)


def test_tree_wins_for_small_messages_across_many_nodes():
    """log2(m) inter-node latency instead of 2m hops (NCCL's double binary tree)."""
    hw = _hw("dgx-h100")
    t = float(C.collective_time_s("all_reduce", 64e3, 8 * 128, 8, hw))
    t_ring = float(C.collective_time_s("all_reduce", 64e3, 8 * 128, 8, hw, algo="ring"))
    assert t < 0.5 * t_ring


def test_nvls_moves_s_plus_s_over_r_instead_of_2_n_minus_1_over_n_s():
    ring_hw = _hw("hgx-h200", nvls_eff=0.0)
    nvls_hw = _hw("hgx-h200")
    s = 16 * GIB
    t_ring = float(C.collective_time_s("all_reduce", s, 8, 8, ring_hw))
    t_nvls = float(C.collective_time_s("all_reduce", s, 8, 8, nvls_hw))
    expected = (2 * 7 / 8) / (1 + 1 / 8) * float(nvls_hw.nvls_eff)  # traffic ratio x NCCL efficiency
    assert t_ring / t_nvls == pytest.approx(expected, rel=0.01)
    # pinned algorithms, and NVLS does not change gathers (no per-direction traffic saved)
    assert float(C.collective_time_s("all_reduce", s, 8, 8, nvls_hw, algo="ring")) == pytest.approx(t_ring)
    for kind in ("all_gather", "reduce_scatter"):
        assert float(C.collective_time_s(kind, s, 8, 8, nvls_hw)) == pytest.approx(
            float(C.collective_time_s(kind, s, 8, 8, ring_hw)))
    # A100 (NVSwitch gen2) has no NVLS
    assert float(_hw("dgx-a100").nvls_eff) == 0.0


def test_mi300x_full_mesh_uses_all_seven_links():
    mesh = _hw("mi300x-platform")
    one_link = mesh.replace(intra_links_per_device=1.0)
    s = 4 * GIB
    t7 = float(C.collective_time_s("all_reduce", s, 8, 8, mesh))
    t1 = float(C.collective_time_s("all_reduce", s, 8, 8, one_link))
    assert t1 / t7 == pytest.approx(7.0, rel=0.02)
    # a group of r GPUs has r - 1 peers, hence r - 1 links
    assert float(C.intra_bandwidth_bytes_per_s(4, mesh)) == pytest.approx(3 * 64e9)
    assert float(C.intra_bandwidth_bytes_per_s(2, mesh)) == pytest.approx(64e9)
    # point to point is one link, not the device's aggregate
    t_p2p = float(C.collective_time_s("send_recv", s, 2, 2, mesh))
    assert t_p2p == pytest.approx(1e-6 + s / (64e9 * float(mesh.link_eff)), rel=1e-3)


def test_torus_bandwidth_grows_with_the_axes_a_group_spans():
    hw = _hw("tpu-v5p-slice")
    link = float(hw.intra_bytes_per_s)
    assert float(C.intra_bandwidth_bytes_per_s(4, hw)) == pytest.approx(2 * link)   # one axis, both ways
    assert float(C.intra_bandwidth_bytes_per_s(16, hw)) == pytest.approx(4 * link)
    assert float(C.intra_bandwidth_bytes_per_s(64, hw)) == pytest.approx(6 * link)   # 4x4x4 cube
    # hosts are no boundary on the torus: ranks_per_node is ignored
    assert float(C.collective_time_s("all_reduce", GIB, 64, 4, hw)) == pytest.approx(
        float(C.collective_time_s("all_reduce", GIB, 64, 64, hw)))


def test_all_to_all_bus_bandwidth_follows_the_nic_rule():
    """'general formula is N/(N-1)x the bandwidth per GPU, N being the number of nodes' (NCCL
    maintainer, NVIDIA/nccl-tests issue #130) for large messages."""
    hw = _hw("dgx-h100")
    nic = float(hw.inter_bytes_per_s) * float(hw.inter_link_eff)
    for nodes in (2, 4, 16):
        n = 8 * nodes
        s = 64 * GIB
        t = C.collective_time_s("all_to_all", s, n, 8, hw)
        busbw = float(C.bus_bandwidth_bytes_per_s("all_to_all", s, n, t))
        assert busbw == pytest.approx(nic * (n - 1) / (n - 8), rel=0.02)


def test_small_messages_are_latency_bound_with_nccl_protocol_latencies():
    hw = _hw("dgx-a100")
    t = float(C.collective_time_s("all_reduce", 8.0, 8, 8, hw))
    # LL: base 6.6 us + 14 steps x hop latency (1 us catalog estimate)
    assert t == pytest.approx(6.6e-6 + 14 * float(hw.intra_latency_s), rel=1e-3)


def test_entry_point_broadcasts_vmaps_and_differentiates():
    hw = _hw("dgx-b200")
    sizes = jnp.asarray([1e3, 1e6, 1e9])
    t = C.collective_time_s("all_reduce", sizes[:, None], jnp.asarray([8.0, 16.0, 64.0]), 8.0, hw)
    assert t.shape == (3, 3) and np.all(np.diff(np.asarray(t), axis=0) > 0)
    g = jax.grad(lambda s, bw: C.collective_time_s("all_reduce", s, 32.0, 8.0, hw.replace(inter_bytes_per_s=bw)))(
        1e9, 50e9)
    assert np.isfinite(float(g)) and float(g) > 0
    g_bw = jax.grad(lambda bw: C.collective_time_s("reduce_scatter", 1e9, 32.0, 8.0,
                                                   hw.replace(inter_bytes_per_s=bw)))(50e9)
    assert np.isfinite(float(g_bw)) and float(g_bw) < 0
    from simulator.hw import stack_hw
    both = stack_hw([_hw("dgx-h100"), _hw("mi300x-platform")])
    tt = jax.vmap(lambda h: C.collective_time_s("all_reduce", GIB, 8.0, 8.0, h))(both)
    assert tt.shape == (2,) and np.all(np.isfinite(np.asarray(tt)))
