"""Replicas behind a router, and prefill/decode disaggregation (DistServe), over one request stream.

Routers (``router``), applied at each arrival to the replicas' state at that instant:

- ``round_robin``: replica ``i mod N`` (stateless; what a plain Kubernetes Service does);
- ``least_outstanding``: fewest requests submitted and not finished (queued + running; the
  "least request" policy of Envoy / llm-d);
- ``jsq``: join the shortest *queue* (fewest requests waiting for admission; ties by outstanding),
  the classical JSQ policy (Winston, J. Appl. Prob. 1977) applied to the admission queue.

DistServe (Zhong et al., OSDI 2024, §3-4): ``n_prefill`` prefill replicas run prefill-only
batches (vLLM's prefill iterations, routed by ``router``); a finished prompt's KV cache
(``prompt tokens x kv_bytes_per_token``, all layers) moves to a decode replica in
``t_kv = alpha + S / min(tp_p, tp_d) / (B_link e_link)`` over the inter-node link (intra-node
when the system has none; :func:`simulator.requests.costs.kv_transfer_time_s`), then joins the
decode replica with the fewest outstanding requests. The first token comes from the prefill
replica (TTFT ends there); TPOT includes the transfer and any wait for a decode slot. The prefill
pool is simulated first and its output feeds the decode pool (no back-pressure from a full
decode pool onto prefill: DistServe's prefill instances buffer KV in their own memory, §4.3).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from simulator.errors import ConfigError
from simulator.requests.costs import kv_transfer_time_s
from simulator.requests.engine import Engine

ROUTERS = ("round_robin", "least_outstanding", "jsq")


class Record:
    """Per-request results (lists for speed inside the event loop; NaN = not reached)."""

    def __init__(self, prompt, output, cached=None):
        n = len(prompt)
        self.prompt = [int(x) for x in prompt]
        self.cached = [0] * n if cached is None else [int(x) for x in cached]
        self.output = [int(x) for x in output]
        nan = math.nan
        self.first_s = [nan] * n
        self.done_s = [nan] * n
        self.start_s = [nan] * n
        self.preempt = [0] * n
        self.replica = [0] * n


def _router(name: str):
    key = str(name).strip().lower().replace("-", "_")
    if key not in ROUTERS:
        raise ConfigError(f"router '{name}'; allowed: {', '.join(ROUTERS)}")
    return key


def run_pool(engines, arrivals, rec, router="round_robin", ids=None):
    """Feed ``arrivals`` (sorted times; request ids ``ids``) to ``engines`` and drain them."""
    key = _router(router)
    n = len(engines)
    ids = range(len(arrivals)) if ids is None else ids
    if n == 1:
        eng = engines[0]
        adv, sub = eng.advance, eng.submit
        for rid, t in zip(ids, arrivals, strict=False):
            adv(t)
            sub(rid, t)
        eng.drain()
        return
    rr = 0
    for rid, t in zip(ids, arrivals, strict=False):
        for e in engines:
            e.advance(t)
        if key == "round_robin":
            i = rr % n
            rr += 1
        elif key == "least_outstanding":
            i = min(range(n), key=lambda j: engines[j].outstanding)
        else:
            i = min(range(n), key=lambda j: (engines[j].queued(), engines[j].outstanding))
        rec.replica[rid] = i
        engines[i].submit(rid, t)
    for e in engines:
        e.drain()


def cached_tokens(prompt_tokens, hit_rate, block_size):
    """Prompt tokens served from a prefix cache: ``floor(h L / block) block`` (whole blocks, as vLLM's
    automatic prefix caching), at most ``L - 1`` (the last token is always computed)."""
    if not hit_rate:
        return None
    if not 0.0 <= float(hit_rate) <= 1.0:
        raise ConfigError(f"prefix hit rate = {hit_rate}; allowed: a fraction in [0, 1]")
    p = np.asarray(prompt_tokens)
    c = np.floor(float(hit_rate) * p / block_size) * block_size
    return np.minimum(c, p - 1).astype(np.int64)


def simulate_colocated(dep, workload, scheduler, replicas=1, router="round_robin", prefix_hit=0.0):
    """Simulate ``replicas`` copies of ``dep`` with ``scheduler``; returns (Record, engines)."""
    rec = Record(workload.prompt_tokens, workload.output_tokens,
                 cached_tokens(workload.prompt_tokens, prefix_hit, dep.block_size))
    vdep, per = virtual_engines(dep)
    engines = [Engine(vdep, scheduler, rec) for _ in range(int(replicas) * per)]
    run_pool(engines, workload.arrival_s.tolist(), rec, router if per == 1 else "least_outstanding")
    return rec, engines


def virtual_engines(dep):
    """``(deployment of one virtual engine, virtual engines per replica)``.

    A replica with ``pp`` pipeline stages runs ``pp`` micro-batches at once, one per *virtual
    engine* (vLLM's pipeline-parallel scheduler keeps one scheduler per virtual engine): each has
    its own batch (``max_batch / pp`` sequences) and ``1 / pp`` of the KV pool, and each of its
    iterations takes the pipeline latency of its micro-batch (``iteration_time_s`` with ``pp``),
    so the replica's throughput is ``pp`` times that of one engine. A virtual engine keeps ``tp``
    devices busy on average (each stage works ``1 / pp`` of the latency), which is its power
    share. Requests go to the virtual engine with the fewest outstanding requests.
    """
    pp = int(dep.pp)
    if pp <= 1:
        return dep, 1
    power = None if dep.power is None else dataclasses.replace(dep.power, devices=int(dep.tp))
    return dataclasses.replace(dep, kv_tokens=dep.kv_tokens / pp, max_batch=max(dep.max_batch // pp, 1),
                               power=power), pp


def simulate_disaggregated(dep_prefill, dep_decode, workload, n_prefill=1, n_decode=1, router="round_robin",
                           prefix_hit=0.0):
    """DistServe-style simulation (see the module docstring); returns (Record, prefill + decode engines)."""
    rec = Record(workload.prompt_tokens, np.ones_like(workload.output_tokens),
                 cached_tokens(workload.prompt_tokens, prefix_hit, dep_prefill.block_size))
    pre = [Engine(dep_prefill, "vllm", rec) for _ in range(int(n_prefill))]
    run_pool(pre, workload.arrival_s.tolist(), rec, router)
    first = np.asarray(rec.first_s)
    start = list(rec.start_s)
    pairs = float(min(dep_prefill.tp, dep_decode.tp))
    per_tok = dep_prefill.kv_bytes_per_token
    hw = dep_decode.hw if float(dep_decode.hw.inter_bytes_per_s) > 0 else dep_prefill.hw
    t_kv = np.array([kv_transfer_time_s(p * per_tok, hw, pairs) for p in workload.prompt_tokens.tolist()])
    if not np.all(np.isfinite(t_kv)):
        raise ConfigError("disaggregation needs a link between the pools; the hardware has none "
                          "(allowed: a --system or a device with a peer link)")
    ready = first + t_kv
    order = np.argsort(ready, kind="stable")
    rec2 = Record(workload.prompt_tokens, workload.output_tokens)
    dec = [Engine(dep_decode, "decode", rec2) for _ in range(int(n_decode))]
    run_pool(dec, ready[order].tolist(), rec2, "least_outstanding", ids=order.tolist())
    rec2.first_s = first.tolist()
    rec2.start_s = start
    # one-token requests finish at their first token
    for i, o in enumerate(rec2.output):
        if o <= 1:
            rec2.done_s[i] = first[i]
    rec2.kv_transfer_s = t_kv
    return rec2, pre + dec


__all__ = ["ROUTERS", "Record", "cached_tokens", "run_pool", "simulate_colocated", "simulate_disaggregated",
           "virtual_engines"]
