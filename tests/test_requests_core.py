"""Request-level simulator (simulator/requests): queueing sanity, schedulers, bad input, capacity.

Done-when checks of issue 13: at low load TTFT equals the single-request prefill time of
``predict_serve``; an M/D/1 setting matches the Pollaczek-Khinchine mean wait within 5 %; above
saturation the run says it is overloaded; bad input raises a one-line ``ConfigError``; an
unreachable SLO is an answer. One deployment per (model, hardware, scheduler) is built once per
module (one core evaluation); every simulation here takes well under a second.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.errors import ConfigError
from simulator.requests import load_trace, simulate, synthetic
from simulator.requests.capacity import deployment_capacity, fleet_mix, unit_workload
from simulator.requests.cluster import simulate_colocated
from simulator.requests.sim import deployment_for
from simulator.serving import predict_serve

MODEL, HW = "llama-3-8b", "h100-sxm"


def test_low_load_ttft_and_tpot_equal_predict_serve():
    """Requests 1000 s apart never queue: TTFT = prefill of one prompt, TPOT = mean decode step."""
    w = synthetic(30, 0.001, "1024", "128", arrival="uniform", seed=0)
    r = simulate(MODEL, HW, w, scheduler="vllm")
    ref = predict_serve(MODEL, HW, batch=1, input_len=1024, output_len=128)
    assert not r.overloaded
    np.testing.assert_allclose(r.ttft_s, ref["ttft_s"], rtol=0.01)
    np.testing.assert_allclose(r.tpot_s, ref["tpot_avg_s"], rtol=0.02)
    np.testing.assert_allclose(r.queue_s, 0.0, atol=1e-9)
    # the same for static batching and Sarathi (a lone 1024-token prompt in two 512-token chunks)
    r = simulate(MODEL, HW, w, scheduler="static", max_batch=1)
    np.testing.assert_allclose(r.ttft_s, ref["ttft_s"], rtol=0.01)


def test_md1_matches_pollaczek_khinchine():
    """One replica, fixed lengths, batch 1, Poisson arrivals: W = rho S / (2 (1 - rho)) within 5 %."""
    w0 = synthetic(10, 1.0, "512", "64", seed=0)
    dep = deployment_for(MODEL, HW, w0, scheduler="static", max_batch=1)
    tab = dep.table
    service = tab.prefill_time(512, 1) + sum(tab.decode_time(1, 512 + j) for j in range(63))
    for rho in (0.5, 0.8):
        w = synthetic(20000, rho / service, "512", "64", seed=11)
        rec, _ = simulate_colocated(dep, w, "static")
        wait = np.asarray(rec.start_s) - w.arrival_s
        pk = rho * service / (2.0 * (1.0 - rho))
        assert abs(wait.mean() / pk - 1.0) < 0.05, (rho, wait.mean(), pk)
        # every request is served for exactly S
        np.testing.assert_allclose(np.asarray(rec.done_s) - np.asarray(rec.start_s), service, rtol=1e-3)


def test_overload_is_reported_not_a_number():
    """Far above saturation the queue grows with the number of requests; the summary says so."""
    lo = simulate(MODEL, HW, synthetic(3000, 2.0, "1024", "256", seed=1), scheduler="vllm")
    assert not lo.overloaded and math.isfinite(lo.summary["ttft_p99_s"])
    over = [simulate(MODEL, HW, synthetic(n, 200.0, "1024", "256", seed=1), scheduler="vllm") for n in (1500, 3000)]
    for r in over:
        assert r.overloaded
        assert math.isnan(r.summary["ttft_p99_s"]) and "overloaded" in r.summary["message"]
        assert r.summary["sustained_qps"] < 100.0
    # latency grows without bound: twice the requests, about twice the mean wait
    assert np.nanmean(over[1].queue_s) > 1.6 * np.nanmean(over[0].queue_s)


@pytest.mark.parametrize("sched", ["vllm", "sarathi", "static", "distserve"])
def test_schedulers_complete_every_request(sched):
    w = synthetic(600, 8.0, "lognormal:1024:0.5", "lognormal:200:0.5", seed=3)
    r = simulate(MODEL, HW, w, scheduler=sched, slo_ttft_s=0.5, slo_tpot_s=0.05, max_batch=64)
    assert np.all(np.isfinite(r.e2e_s)) and np.all(r.ttft_s > 0)
    assert np.all(r.e2e_s >= r.ttft_s)
    assert 0.0 <= r.summary["slo_attainment"] <= 1.0
    assert r.summary["energy_per_output_token_j"] > 0


def test_sarathi_trades_ttft_for_tpot_and_disaggregation_removes_interference():
    """Sarathi-Serve (OSDI 2024, Fig. 1/9): chunked prefill lowers TPOT tails; DistServe's decode pool
    has no prefill interference, so its TPOT is close to a pure decode step."""
    w = synthetic(2000, 15.0, "lognormal:1024:0.5", "256", seed=1)
    res = {s: simulate(MODEL, HW, w, scheduler=s).summary for s in ("vllm", "sarathi", "distserve")}
    assert res["sarathi"]["tpot_p99_s"] < res["vllm"]["tpot_p99_s"]
    assert res["distserve"]["tpot_p99_s"] < res["sarathi"]["tpot_p99_s"]


def test_preemption_under_kv_pressure_still_completes():
    w = synthetic(300, 2.0, "2048", "1024", seed=2)
    r = simulate(MODEL, "rtx-4090", w, scheduler="vllm")
    assert r.summary["preemptions"] > 0
    assert np.all(np.isfinite(r.e2e_s))
    assert r.summary["kv_occupancy_mean"] <= 1.0


def test_routers_and_replicas():
    w = synthetic(2000, 30.0, "lognormal:1024:1.0", "lognormal:256:1.0", seed=3)
    out = {rt: simulate(MODEL, HW, w, replicas=2, router=rt).summary for rt in ("round_robin", "least_outstanding", "jsq")}
    for s in out.values():
        assert not s["overloaded"] and s["devices"] == 2
    assert out["jsq"]["ttft_p99_s"] <= out["round_robin"]["ttft_p99_s"]


def test_power_cap_slows_prefill_more_than_decode():
    """POLCA-style cap: compute-bound prefill slows by f_max / f, memory-bound decode barely."""
    w = synthetic(100, 0.01, "2048", "64", arrival="uniform", seed=0)
    free = simulate(MODEL, HW, w)
    capped = simulate(MODEL, HW, w, power_cap_w=400.0)
    f = capped.summary["clock_fraction"]
    assert 0.5 < f < 1.0
    ttft_ratio = np.median(capped.ttft_s) / np.median(free.ttft_s)
    tpot_ratio = np.median(capped.tpot_s) / np.median(free.tpot_s)
    assert ttft_ratio > 1.0 / f * 0.8 and tpot_ratio < 1.1


def test_bad_input_raises_one_line_config_error(tmp_path):
    for bad in (0, -1, float("nan")):
        with pytest.raises(ConfigError, match="qps"):
            synthetic(10, bad)
    with pytest.raises(ConfigError, match="length"):
        synthetic(10, 1.0, "lognormal:abc")
    neg = tmp_path / "neg.csv"
    neg.write_text("arrival_s,prompt_tokens,output_tokens\n0.0,10,5\n-1.0,10,5\n")
    with pytest.raises(ConfigError, match="data row 2"):
        load_trace(neg)
    unsorted = tmp_path / "unsorted.csv"
    unsorted.write_text("arrival_s,prompt_tokens,output_tokens\n0.0,10,5\n2.0,10,5\n1.0,10,5\n")
    with pytest.raises(ConfigError, match="sorted"):
        load_trace(unsorted)
    with pytest.raises(ConfigError, match="does not fit"):
        simulate("llama-3-70b", HW, synthetic(10, 1.0, "512", "64"))
    with pytest.raises(ConfigError, match="scheduler"):
        simulate(MODEL, HW, synthetic(10, 1.0), scheduler="fifo")
    try:
        synthetic(10, 0)
    except ConfigError as err:
        assert "\n" not in str(err)


def test_trace_round_trip(tmp_path):
    p = tmp_path / "trace.csv"
    p.write_text("arrival_s,prompt_tokens,output_tokens\n0.0,100,10\n0.5,200,20\n0.5,300,5\n")
    w = load_trace(p)
    assert len(w) == 3 and list(w.prompt_tokens) == [100, 200, 300]
    r = simulate(MODEL, HW, w)
    assert np.all(np.isfinite(r.e2e_s))


def test_capacity_search_and_unreachable_slo():
    lw = unit_workload(400, "512", "128", seed=0)
    r = deployment_capacity(MODEL, HW, lw, slo_ttft_s=0.5, slo_tpot_s=0.05, rtol=0.05)
    assert r.reachable and r.max_qps > 1.0
    # the probe just above max_qps fails, the one at it passes
    passing = [p for p in r.probes if not p[2] and p[1] >= 0.9]
    assert max(p[0] for p in passing) == pytest.approx(r.max_qps)
    u = deployment_capacity(MODEL, HW, lw, slo_ttft_s=1e-4, slo_tpot_s=0.05)
    assert not u.reachable and u.max_qps is None and "no rate meets" in u.message


def test_fleet_mix_milp():
    # one bucket: 100 QPS; A serves 20 at 2.49/h, B 10 at 1.49/h, C 35 at 4.98/h -> 5 x A (12.45/h)
    plan = fleet_mix(100.0, [[20.0, 10.0, 35.0]], [2.49, 1.49, 4.98], labels=["A", "B", "C"])
    assert plan.feasible and plan.counts == {"A": 5} and plan.usd_per_hour == pytest.approx(12.45)
    # availability limits force a mix
    plan = fleet_mix(100.0, [[20.0, 10.0, 35.0]], [2.49, 1.49, 4.98], available=[2, None, None], labels=["A", "B", "C"])
    assert plan.feasible and sum(plan.counts.values()) >= 3
    cap = sum({"A": 20, "B": 10, "C": 35}[k] * n for k, n in plan.counts.items())
    assert cap >= 100.0


def test_prefix_cache_and_engine_overhead():
    """A prefix-cache hit skips prompt compute (lower TTFT); an engine's host time lengthens every step."""
    w = synthetic(300, 2.0, "2048", "64", seed=4)
    base = simulate(MODEL, HW, w).summary
    hit = simulate(MODEL, HW, w, prefix_hit=0.75).summary
    assert hit["ttft_p50_s"] < 0.5 * base["ttft_p50_s"]
    with pytest.raises(ConfigError, match="hit rate"):
        simulate(MODEL, HW, w, prefix_hit=1.5)
    old = simulate(MODEL, HW, w, engine="vllm-v0.5").summary
    assert old["tpot_p50_s"] > base["tpot_p50_s"] + 3e-3  # >= 4 ms host time per step (vLLM RFC #6854)


def test_colocated_vs_disaggregated_same_devices():
    from simulator.requests.capacity import colocated_vs_disaggregated

    lw = unit_workload(300, "512", "64", seed=0)
    out = colocated_vs_disaggregated(MODEL, HW, lw, gpus=2, slo_ttft_s=0.5, slo_tpot_s=0.05, rtol=0.1)
    assert out["colocated"].devices == 2 and out["disaggregated"][(1, 1)].devices == 2
    assert out["colocated"].reachable and out["disaggregated"][(1, 1)].reachable
    assert out["best"] in ("colocated", "1 prefill + 1 decode")
    with pytest.raises(ConfigError, match="multiple"):
        colocated_vs_disaggregated(MODEL, HW, lw, gpus=3, tp=2, slo_ttft_s=0.5)


def test_pipeline_parallel_runs_pp_virtual_engines():
    """pp = 2: two micro-batches in flight (vLLM virtual engines): more throughput under a burst,
    a longer pipeline latency per token when lightly loaded."""
    burst = synthetic(1500, 1e4, "1024", "128", arrival="uniform", seed=0)
    one = simulate(MODEL, None, burst, system="dgx-h100", tp=1, pp=1).summary
    two = simulate(MODEL, None, burst, system="dgx-h100", tp=1, pp=2).summary
    assert two["output_tokens_per_s"] > 1.2 * one["output_tokens_per_s"] and two["devices"] == 2
    light = synthetic(20, 0.01, "1024", "64", arrival="uniform", seed=0)
    assert (simulate(MODEL, None, light, system="dgx-h100", pp=2).summary["tpot_p50_s"]
            > simulate(MODEL, None, light, system="dgx-h100", pp=1).summary["tpot_p50_s"])
