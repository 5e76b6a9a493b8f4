"""Low-communication training: DiLoCo volume vs the paper's formula, exposed time, quality law, bad input."""

from __future__ import annotations

import pytest

from scaling_laws.diloco import LOSS_BETA, diloco_loss, diloco_loss_factor
from scaling_laws.errors import LawError
from simulator.collectives import NCCL_PROTOCOLS
from simulator.errors import ConfigError
from simulator.lowcomm import (
    LowCommConfig,
    WanLink,
    comm_per_step,
    dp_wan_bytes_per_step,
    outer_sync_bytes,
    paper_outer_step_time_s,
)


@pytest.mark.parametrize("N,M,gbps,lat", [(1e9, 2, 100.0, 0.0), (10e9, 4, 400.0, 0.03), (70e9, 8, 10.0, 0.05)])
def test_outer_step_matches_charles_et_al_formula(N, M, gbps, lat):
    wan = WanLink.gbps(gbps, lat)
    cfg = LowCommConfig("diloco", inner_steps=100, outer_bytes_per_param=2.0)  # 16-bit payload as in the paper
    c = comm_per_step(N, 1.0, M, wan, cfg)
    # volume per outer step per site: 2 (M-1)/M N b (ring all-reduce); per inner step 1/H of it
    assert outer_sync_bytes(N, M, 2.0) == pytest.approx(2 * (M - 1) / M * N * 2.0)
    assert c["wan_bytes_per_step"] * 100 == pytest.approx(2 * (M - 1) / M * N * 2.0, rel=1e-6)
    # time: Charles et al. 2025 App. A.2 (2 N bits / W)(1 - 1/R) + eps, with R = M and eps = 2 (M-1)
    # latency plus NCCL's Simple-protocol latencies (base + extra per hop; simulator.collectives)
    base, x_hop = NCCL_PROTOCOLS["Simple"][:2]
    eps = 2 * (M - 1) * (lat + x_hop) + base
    paper = paper_outer_step_time_s(N, gbps * 1e9, M, eps_s=eps, bits_per_param=16)
    assert c["sync_s"] == pytest.approx(paper, rel=1e-5)
    assert c["exposed_s_per_step"] == pytest.approx(paper / 100, rel=1e-5)


def test_diloco_sends_h_times_less_than_dp():
    N, M = 7e9, 4
    dp = comm_per_step(N, 2.0, M, WanLink.gbps(100), LowCommConfig("dp"))
    dl = comm_per_step(N, 2.0, M, WanLink.gbps(100), LowCommConfig("diloco", inner_steps=500, outer_bytes_per_param=2))
    assert dp["wan_bytes_per_step"] == pytest.approx(dp_wan_bytes_per_step(N, M, 2.0))
    assert dp["wan_bytes_per_step"] / dl["wan_bytes_per_step"] == pytest.approx(500)


def test_streaming_and_co2_hide_communication_behind_compute():
    N, M, step = 7e9, 2, 2.0
    wan = WanLink.gbps(100, 0.01)
    t_outer = comm_per_step(N, step, M, wan, LowCommConfig("diloco", inner_steps=100))["sync_s"]
    assert t_outer < 100 * step  # comm fits in an outer step
    co2 = comm_per_step(N, step, M, wan, LowCommConfig("co2", inner_steps=100))
    assert co2["exposed_s_per_step"] == 0.0
    st = comm_per_step(N, step, M, wan, LowCommConfig("streaming", inner_steps=100, fragments=4, overlap_steps=5,
                                                      outer_bytes_per_param=0.5))
    assert st["peak_bytes_per_sync"] == pytest.approx(outer_sync_bytes(N, M, 0.5) / 4)
    assert st["exposed_s_per_step"] <= comm_per_step(N, step, M, wan, LowCommConfig("diloco"))["exposed_s_per_step"]
    # a slow link cannot be hidden: exposure >= what the link cannot carry in H steps
    slow = WanLink.gbps(0.1)
    st2 = comm_per_step(N, step, M, slow, LowCommConfig("streaming", inner_steps=100, fragments=4, overlap_steps=5))
    t2 = comm_per_step(N, step, M, slow, LowCommConfig("diloco"))["sync_s"]
    assert st2["exposed_s_per_step"] >= (t2 - 100 * step) / 100 - 1e-9


def test_single_site_has_no_wan_traffic():
    for a in ("dp", "diloco", "streaming", "co2", "noloco"):
        c = comm_per_step(1e9, 1.0, 1, WanLink.gbps(1), LowCommConfig(a))
        assert c["exposed_s_per_step"] == 0.0


def test_diloco_loss_law():
    assert diloco_loss_factor(1) == 1.0
    assert diloco_loss_factor(8) == pytest.approx(8 ** LOSS_BETA)
    assert float(diloco_loss(1e9, 2) / diloco_loss(1e9, 1)) == pytest.approx(2 ** LOSS_BETA)
    assert 1.0 < diloco_loss_factor(2) < 1.02  # under 2 % loss penalty for two replicas
    with pytest.raises(LawError, match="replicas"):
        diloco_loss_factor(0.5)


@pytest.mark.parametrize("kwargs,match", [
    (dict(algorithm="diloco", inner_steps=0), r"H \(inner steps\)"),
    (dict(algorithm="diloco", inner_steps=2.5), r"H \(inner steps\)"),
    (dict(algorithm="gossip"), "algorithm 'gossip'"),
    (dict(algorithm="streaming", fragments=0), "fragments"),
])
def test_bad_config_is_one_line_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        LowCommConfig(**kwargs)


def test_bad_wan_is_rejected():
    with pytest.raises(ConfigError, match="--wan-gbps"):
        WanLink.gbps(0)
    with pytest.raises(ConfigError, match="latency"):
        WanLink(1e9, -1)
