"""Reliability model: Young/Daly vs closed forms, ETTR vs a seeded Monte Carlo, sourced rates, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.errors import ConfigError
from simulator.reliability import (
    LLAMA3_405B,
    NO_FAILURES,
    FailureModel,
    ReliabilityOptions,
    checkpoint_cost,
    daly_interval_s,
    expected_wall_time_s,
    optimal_interval_s,
    reliability_terms,
    simulate_wall_time_s,
    young_interval_s,
)


def test_llama3_rates_reproduce_the_published_counts():
    # 419 unexpected interruptions in 54 days on 16,384 GPUs (2,048 nodes), 47 planned
    lam = LLAMA3_405B.job_rate_per_s(16384, 8)
    assert lam * 54 * 86400 == pytest.approx(419, rel=1e-9)
    assert LLAMA3_405B.planned_rate_per_s * 54 * 86400 == pytest.approx(47, rel=1e-9)
    assert sum(c for c, _ in LLAMA3_405B.causes.values()) == 419
    assert LLAMA3_405B.mtbf_s(16384, 8) / 3600 == pytest.approx(3.09, abs=0.01)  # "one every ~3 hours"


@pytest.mark.parametrize("C,M", [(60.0, 3 * 3600.0), (5.0, 11135.0), (600.0, 86400.0), (1.0, 1e6)])
def test_young_and_daly_closed_forms(C, M):
    assert young_interval_s(C, M) == pytest.approx(math.sqrt(2 * C * M), rel=1e-12)
    x = C / (2 * M)
    daly = math.sqrt(2 * C * M) * (1 + math.sqrt(x) / 3 + x / 9) - C
    assert daly_interval_s(C, M) == pytest.approx(daly, rel=1e-12)
    # Daly's estimate sits at the numerical optimum of the exact wall time (Daly Eq. 13) within 1 %
    # of wall time, and Young is within a few % of it when C << M
    tau_num = optimal_interval_s(C, 0.0, M)
    tw = lambda t: float(expected_wall_time_s(1.0, t, C, 0.0, M))  # noqa: E731
    assert tw(daly) <= tw(tau_num) * (1 + 1e-4)
    assert abs(daly / math.sqrt(2 * C * M) - 1) < 0.1


def test_daly_beyond_two_mtbf_is_mtbf():
    assert daly_interval_s(300.0, 100.0) == 100.0


@pytest.mark.parametrize("tau,C,R,M", [(1800.0, 60.0, 600.0, 3 * 3600.0), (250.0, 2.8, 603.0, 11135.0),
                                       (3600.0, 300.0, 1200.0, 2 * 3600.0)])
def test_ettr_closed_form_matches_monte_carlo(tau, C, R, M):
    solve = 200 * tau  # a whole number of segments, as in the closed form
    mc = simulate_wall_time_s(solve, tau, C, R, M, runs=1500, seed=7)
    exact = float(expected_wall_time_s(solve, tau, C, R, M))
    # the mean of 1500 runs lies within 4 standard errors of Daly's expectation
    assert abs(mc["mean_s"] - exact) < 4 * mc["stderr_s"]
    assert abs(mc["mean_s"] / exact - 1) < 0.01
    # expected failures: T_w / M
    assert mc["failures_mean"] == pytest.approx(exact / M, rel=0.03)


def test_monte_carlo_is_seeded():
    a = simulate_wall_time_s(3600.0 * 50, 1800.0, 60.0, 600.0, 7200.0, runs=200, seed=3)
    b = simulate_wall_time_s(3600.0 * 50, 1800.0, 60.0, 600.0, 7200.0, runs=200, seed=3)
    assert np.array_equal(a["wall_s"], b["wall_s"])


def test_terms_sum_and_llama3_ettr_above_90_percent():
    # Llama 3 405B: 15.6T tokens at ~1.6M tokens/s on 16,384 GPUs; the paper reports ETTR > 90 %
    t = reliability_terms(15.6e12 / 1.6e6, 10.0, 405e9, 16384, 8)
    s = t["ideal_s"] + t["checkpoint_overhead_s"] + t["restart_overhead_s"] + t["lost_work_s"] + t["planned_restart_s"]
    assert s == pytest.approx(t["expected_wall_s"], rel=1e-9)
    assert 0.90 < t["ettr"] < 0.97
    assert t["checkpoint_interval_s"] % 10.0 == pytest.approx(0.0, abs=1e-6)  # whole steps


def test_no_failures_is_ideal():
    t = reliability_terms(1e6, 10.0, 7e9, 1024, 8, ReliabilityOptions(failures=NO_FAILURES, restart_overhead_s=0.0))
    assert t["expected_failures"] == 0
    assert t["ettr"] == pytest.approx(1.0, abs=1e-6)


def test_async_and_memory_checkpoints_block_less_than_sync():
    s = checkpoint_cost(70e9, 1024, mode="sync")
    a = checkpoint_cost(70e9, 1024, mode="async")
    m = checkpoint_cost(70e9, 1024, mode="memory", inter_node_bytes_per_s=25e9)
    assert s.size_bytes == 70e9 * 14
    assert a.blocking_s < s.blocking_s and m.blocking_s < s.blocking_s
    assert a.persist_s == pytest.approx(s.blocking_s)
    ts = reliability_terms(1e7, 5.0, 70e9, 1024, 8, ReliabilityOptions(mode="sync"))
    ta = reliability_terms(1e7, 5.0, 70e9, 1024, 8, ReliabilityOptions(mode="async"))
    assert ta["checkpoint_overhead_s"] < ts["checkpoint_overhead_s"]


@pytest.mark.parametrize("kwargs,match", [
    (dict(device_rate_per_s=-1e-9, node_rate_per_s=0.0), "device rate per s"),
    (dict(device_rate_per_s=0.0, node_rate_per_s=float("nan")), "node rate per s"),
])
def test_negative_failure_rate_is_rejected(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        FailureModel(**kwargs)


def test_zero_storage_bandwidth_and_bad_interval_are_rejected():
    with pytest.raises(ConfigError, match="storage bandwidth"):
        checkpoint_cost(7e9, 8, storage_bytes_per_s=0)
    with pytest.raises(ConfigError, match="checkpoint mode"):
        checkpoint_cost(7e9, 8, mode="tape")
    with pytest.raises(ConfigError, match="shorter than one step"):
        reliability_terms(1e6, 10.0, 7e9, 8, 8, ReliabilityOptions(checkpoint_every_s=1.0))
    with pytest.raises(ConfigError, match="checkpoint interval"):
        reliability_terms(1e6, 10.0, 7e9, 8, 8, ReliabilityOptions(checkpoint_every_s=-5))
