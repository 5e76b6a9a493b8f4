"""Front end: simulate a request stream on a deployment from names (what ``simlab simulate serve`` calls).

``simulate(model, hardware, workload, scheduler=..., replicas=..., ...)`` builds the deployment(s)
(:func:`simulator.requests.deployment.make_deployment`: one core evaluation of the iteration-cost
table, cached per deployment in this process), runs the engines
(:mod:`simulator.requests.engine`, :mod:`simulator.requests.cluster`) and summarises
(:mod:`simulator.requests.results`). ``scheduler="distserve"`` runs ``prefill_replicas`` prefill
replicas (``prefill_tp`` devices each, default ``tp``) and ``replicas`` decode replicas.
"""

from __future__ import annotations

from simulator.errors import ConfigError
from simulator.requests.cluster import simulate_colocated, simulate_disaggregated
from simulator.requests.deployment import SCHEDULERS, make_deployment
from simulator.requests.results import SimResult, summarise

_CACHE: dict = {}


def deployment_for(model, hardware, workload, *, system=None, scheduler="vllm", cache=True, **kw):
    """A deployment sized for ``workload`` (grid ranges from its longest prompt / context), cached."""
    max_prompt = int(workload.prompt_tokens.max())
    max_ctx = int((workload.prompt_tokens + workload.output_tokens).max())
    # round the ranges up so that similar workloads share a table
    def up(x):
        return 1 << max(int(x) - 1, 1).bit_length()

    mp, mc = up(max_prompt), up(max_ctx)
    key = (str(model), str(hardware), str(system), scheduler, tuple(sorted((k, str(v)) for k, v in kw.items())), mp, mc)
    if cache and key in _CACHE:
        return _CACHE[key]
    try:
        dep = make_deployment(model, hardware, system=system, scheduler=scheduler, max_prompt=mp, max_context=mc, **kw)
    except ConfigError as err:
        if "does not fit" in str(err) and (mp > max_prompt or mc > max_ctx):
            dep = make_deployment(model, hardware, system=system, scheduler=scheduler, max_prompt=max_prompt,
                                  max_context=max_ctx, **kw)
        else:
            raise
    if cache:
        _CACHE[key] = dep
    return dep


def simulate(model, hardware=None, workload=None, *, system=None, scheduler="vllm", replicas=1,
             router="round_robin", tp=1, pp=1, ep=1, prefill_tp=None, prefill_replicas=1, max_batch=256,
             block_size=16, max_prefill_tokens=None, token_budget=None, weight_dtype=None, act_dtype=None,
             kv_dtype=None, slo_ttft_s=None, slo_tpot_s=None, price_per_hour_usd=None, engine=None,
             power_cap_w=None, idle_w=None, calibration=None, prefix_hit=0.0) -> SimResult:
    """Simulate ``workload`` (a :class:`simulator.requests.workload.Workload`) and summarise it.

    ``price_per_hour_usd``: per device-hour; ``None`` looks it up (:mod:`simulator.requests.prices`),
    and leaves cost out when no price is known. ``prefix_hit``: share of each prompt found in a
    prefix cache (whole KV blocks; not recomputed, see :mod:`simulator.requests.engine`).
    """
    from simulator.requests.prices import price_per_hour

    sched = str(scheduler).strip().lower()
    if sched not in SCHEDULERS:
        raise ConfigError(f"scheduler '{scheduler}'; allowed: {', '.join(SCHEDULERS)}")
    if workload is None or len(workload) == 0:
        raise ConfigError("no requests to simulate")
    replicas = int(replicas)
    if replicas < 1:
        raise ConfigError(f"replicas = {replicas}; allowed: an integer >= 1")
    common = dict(weight_dtype=weight_dtype, act_dtype=act_dtype, kv_dtype=kv_dtype, block_size=block_size,
                  max_prefill_tokens=max_prefill_tokens, engine=engine, power_cap_w=power_cap_w, idle_w=idle_w,
                  calibration=calibration, max_batch=max_batch)
    if sched == "distserve":
        ptp = tp if prefill_tp is None else int(prefill_tp)
        npre = int(prefill_replicas)
        if npre < 1:
            raise ConfigError(f"prefill replicas = {npre}; allowed: an integer >= 1")
        dpre = deployment_for(model, hardware, workload, system=system, scheduler="vllm", tp=ptp, pp=1, ep=ep, **common)
        ddec = deployment_for(model, hardware, workload, system=system, scheduler="distserve", tp=tp, pp=pp, ep=ep,
                              **common)
        rec, engines = simulate_disaggregated(dpre, ddec, workload, npre, replicas, router, prefix_hit)
        n_dev = npre * dpre.devices + replicas * ddec.devices
        dev = getattr(ddec.hardware, "device", ddec.hardware)
        label = f"{ddec.model.name} on {dev.name}: distserve {npre} x tp{ptp} prefill + {replicas} x tp{tp} decode"
        extra = {"kv_transfer_mean_s": float(rec.kv_transfer_s.mean())}
    else:
        dep = deployment_for(model, hardware, workload, system=system, scheduler=sched, tp=tp, pp=pp, ep=ep,
                             token_budget=token_budget, **common)
        rec, engines = simulate_colocated(dep, workload, sched, replicas, router, prefix_hit)
        n_dev = replicas * dep.devices
        dev = getattr(dep.hardware, "device", dep.hardware)
        label = f"{dep.name}: {sched}, {replicas} replica{'s' if replicas > 1 else ''}"
        extra = {"kv_capacity_tokens": dep.kv_tokens, "clock_fraction": dep.clock_fraction, "prefix_hit": prefix_hit}
    price = price_per_hour(dev, price_per_hour_usd)
    return summarise(workload, rec, engines, devices_per_replica=tp * pp, n_devices=n_dev,
                     price_per_hour_usd=price, slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s, label=label,
                     extra={"scheduler": sched, "router": router, "replicas": replicas, **extra})


__all__ = ["deployment_for", "simulate"]
