"""alpha-beta collectives (simulator/collectives.py) against their closed forms."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from simulator import collectives as C

S, BW, A = 1e9, 100e9, 2e-6


def test_ring_all_reduce_formula():
    for n in (2, 4, 8):
        expected = 2 * (n - 1) * A + 2 * (n - 1) / n * S / BW
        assert float(C.ring_all_reduce_time_s(S, n, BW, A)) == pytest.approx(expected)


def test_tree_all_reduce_formula_and_auto_choice():
    n = 64
    tree = 2 * np.log2(n) * A + 2 * S / BW
    assert float(C.tree_all_reduce_time_s(S, n, BW, A)) == pytest.approx(tree)
    # small messages: the tree's log(n) latency wins; large: the ring's bandwidth term wins
    small, large = 1e3, 1e10
    assert float(C.all_reduce_time_s(small, n, BW, A)) == pytest.approx(float(C.tree_all_reduce_time_s(small, n, BW, A)))
    assert float(C.all_reduce_time_s(large, n, BW, A)) == pytest.approx(float(C.ring_all_reduce_time_s(large, n, BW, A)))


def test_gather_scatter_all_to_all_send_recv():
    n = 8
    rs = (n - 1) * A + (n - 1) / n * S / BW
    assert float(C.reduce_scatter_time_s(S, n, BW, A)) == pytest.approx(rs)
    assert float(C.all_gather_time_s(S, n, BW, A)) == pytest.approx(rs)
    assert float(C.all_to_all_time_s(S, n, BW, A)) == pytest.approx(rs)
    assert float(C.send_recv_time_s(S, BW, A, 0.5)) == pytest.approx(A + S / (0.5 * BW))


def test_single_rank_and_empty_message_cost_nothing():
    for f in (C.ring_all_reduce_time_s, C.tree_all_reduce_time_s, C.all_reduce_time_s, C.all_gather_time_s,
              C.reduce_scatter_time_s, C.all_to_all_time_s):
        assert float(f(S, 1, BW, A)) == 0.0
        assert float(f(0.0, 8, BW, A)) == 0.0
    assert float(C.send_recv_time_s(0.0, BW, A)) == 0.0


def test_hierarchical_equals_flat_inside_a_node_and_is_slower_across_nodes():
    intra, inter = 450e9, 50e9
    flat = float(C.all_reduce_time_s(S, 8, intra, 1e-6, 0.8))
    inside = float(C.hierarchical_all_reduce_time_s(S, 8, 8, intra, 1e-6, inter, 5e-6, 0.8))
    assert inside == pytest.approx(flat)
    across = float(C.hierarchical_all_reduce_time_s(S, 16, 8, intra, 1e-6, inter, 5e-6, 0.8))
    assert across > inside
    a2a_in = float(C.hierarchical_all_to_all_time_s(S, 8, 8, intra, 1e-6, inter, 5e-6))
    a2a_out = float(C.hierarchical_all_to_all_time_s(S, 16, 8, intra, 1e-6, inter, 5e-6))
    assert a2a_out > a2a_in > 0


def test_vectorised_and_monotone_in_bandwidth():
    bw = jnp.asarray([10e9, 100e9, 1000e9])
    t = np.asarray(C.all_reduce_time_s(S, 8, bw, A))
    assert t.shape == (3,) and np.all(np.diff(t) < 0)


def test_overlap_hides_at_most_the_compute():
    assert float(C.exposed_s(3.0, 2.0, 0.0)) == 3.0
    assert float(C.exposed_s(3.0, 2.0, 1.0)) == 1.0
    assert float(C.exposed_s(1.0, 2.0, 1.0)) == 0.0
    assert float(C.exposed_s(1.0, 2.0, 0.5)) == 0.5
