"""Capacity planning: the highest request rate under an SLO, and the cheapest fleet (MILP).

**Max QPS under an SLO** (DistServe's goodput, Zhong et al., OSDI 2024, §2.2: the highest rate at
which at least ``attainment`` of requests meet both the TTFT and the TPOT SLO). The request
lengths and the unit-rate arrival pattern are drawn once (seeded); a rate ``q`` scales the
arrival times by ``1/q`` (common random numbers, so attainment is close to monotone in ``q``).
The rate is bracketed by doubling from a rate where the deployment is lightly loaded, then bisected
to a relative tolerance ``rtol``. A rate *meets* the SLO when the run is not overloaded
(:func:`simulator.requests.results.detect_overload`) and attainment >= target. If even a lone
request misses the SLO the answer is "unreachable" with the closest attainment, not an error.

**Fleet mix** (Mélange, Griggs et al., arXiv:2404.14527, 2024, §4): candidate deployments ``d``
(device type x tensor parallelism) with per-replica capacity ``r_bd`` (max QPS under the SLO for
request-size bucket ``b``) and price ``c_d`` (USD/hour per replica). With bucket demands
``lambda_b``, solve with :func:`scipy.optimize.milp`::

    minimise   sum_d c_d x_d
    subject to sum_d f_bd = 1                          (every bucket fully served)
               sum_b lambda_b f_bd / r_bd <= x_d        (replica load <= replicas)
               x_d integer >= 0, 0 <= f_bd <= 1, x_d <= available_d

With one bucket this is "cheapest integer mix whose capacities add up to the demand". Capacities
assume load splits evenly across the replicas of a type (a perfect router).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simulator.errors import ConfigError
from simulator.requests.workload import Workload


@dataclass
class CapacityResult:
    """Outcome of :func:`max_qps`. ``max_qps`` is None when no rate meets the SLO (``reachable`` False)."""

    label: str
    reachable: bool
    max_qps: float | None
    devices: int
    qps_per_device: float | None
    price_per_hour_usd: float | None
    summary: dict                       # summary of the run at max_qps (or the lightest run if unreachable)
    probes: list = field(default_factory=list)   # (qps, attainment, overloaded, ttft p99, tpot p99) per run
    message: str = ""

    @property
    def usd_per_hour(self) -> float | None:
        return None if self.price_per_hour_usd is None else self.price_per_hour_usd * self.devices


def max_qps(run, lengths: Workload, *, slo_ttft_s=None, slo_tpot_s=None, attainment=0.9, rtol=0.03,
            q_start=None, max_doublings=24, label="") -> CapacityResult:
    """Highest rate meeting the SLO for ``run(workload) -> SimResult`` (see the module docstring).

    ``lengths``: a workload whose arrival pattern (rescaled to a mean of 1 request/s, so a trace keeps
    its burstiness) and lengths are the request mix; ``run`` simulates one workload (one
    deployment, fixed settings).
    """
    if slo_ttft_s is None and slo_tpot_s is None:
        raise ConfigError("capacity needs an SLO; allowed: --slo-ttft and/or --slo-tpot (seconds > 0)")
    for name, v in (("slo ttft", slo_ttft_s), ("slo tpot", slo_tpot_s)):
        if v is not None and not (math.isfinite(float(v)) and float(v) > 0):
            raise ConfigError(f"{name} = {v!r}; allowed: seconds > 0")
    if not 0 < attainment <= 1:
        raise ConfigError(f"attainment = {attainment}; allowed: a fraction in (0, 1]")
    unit = np.asarray(lengths.arrival_s, dtype=float)
    unit = unit - unit[0] + (unit[1] - unit[0] if unit.size > 1 else 0.0)
    rate = lengths.offered_qps
    if unit.size > 1 and math.isfinite(rate) and rate > 0:
        unit = unit * rate  # normalise the pattern (e.g. a trace's burstiness) to 1 request/s
    probes, cache = [], {}

    def probe(q):
        r = run(lengths.with_arrivals(unit / q))
        s = r.summary
        att = float(s.get("slo_attainment", 0.0))
        ok = (not s["overloaded"]) and att >= attainment
        probes.append((float(q), att, bool(s["overloaded"]), s["ttft_p99_s"], s["tpot_p99_s"]))
        cache[q] = r
        return ok, r

    # a lone request (no queueing): if it misses, nothing will meet the SLO
    lone = run(lengths.with_arrivals(np.arange(1, len(lengths) + 1) * 1e6))
    att0 = float(lone.summary.get("slo_attainment", 0.0))
    devices = int(lone.summary["devices"])
    price = lone.summary.get("price_per_device_hour_usd")
    if att0 < attainment:
        s = lone.summary
        msg = (f"no rate meets the SLO on {label or s.get('label', 'this deployment')}: even unloaded only "
               f"{100 * att0:.1f}% of requests meet it (TTFT p90 {s['ttft_p90_s']:.3g} s, TPOT p90 "
               f"{s['tpot_p90_s']:.3g} s; target {100 * attainment:.0f}%)")
        return CapacityResult(label or s.get("label", ""), False, None, devices, None, price, s,
                              [(0.0, att0, False, s["ttft_p99_s"], s["tpot_p99_s"])], msg)
    q = q_start or max(1.0 / max(float(lone.summary["e2e_mean_s"]), 1e-6), 1e-3)
    lo, lo_r = 0.0, lone
    ok, r = probe(q)
    n = 0
    while ok and n < max_doublings:
        lo, lo_r = q, r
        q *= 2.0
        ok, r = probe(q)
        n += 1
    hi = q
    if lo == 0.0:  # the first probe failed: halve until one passes
        while not ok and n < max_doublings:
            hi = q
            q /= 2.0
            ok, r = probe(q)
            n += 1
        if ok:
            lo, lo_r = q, r
    while lo > 0 and (hi - lo) > rtol * lo:
        mid = math.sqrt(lo * hi)
        ok, r = probe(mid)
        if ok:
            lo, lo_r = mid, r
        else:
            hi = mid
    if lo == 0.0:
        s = lone.summary
        return CapacityResult(label or s.get("label", ""), False, None, devices, None, price, s, probes,
                              f"no rate above {q:.3g} req/s meets the SLO on {label or s.get('label', '')}")
    s = lo_r.summary
    return CapacityResult(label or s.get("label", ""), True, lo, devices, lo / devices, price, s, probes,
                          f"{label or s.get('label', '')}: up to {lo:.3g} req/s ({lo / devices:.3g} per device) "
                          f"with >= {100 * attainment:.0f}% of requests meeting the SLO")


def unit_workload(n=1000, input_len="1024", output_len="256", arrival="poisson", cv=1.0, seed=0) -> Workload:
    """A unit-rate (1 req/s) workload: the request mix and arrival pattern that :func:`max_qps` rescales."""
    from simulator.requests.workload import synthetic

    return synthetic(n, 1.0, input_len, output_len, arrival, cv, seed)


def deployment_capacity(model, hardware=None, lengths: Workload | None = None, *, system=None, scheduler="vllm",
                        slo_ttft_s=None, slo_tpot_s=None, attainment=0.9, rtol=0.03, **sim_kw) -> CapacityResult:
    """:func:`max_qps` of one deployment simulated by :func:`simulator.requests.sim.simulate`
    (``sim_kw``: ``tp``, ``replicas``, ``max_batch``, ``price_per_hour_usd``, ...)."""
    from simulator.requests.sim import simulate

    lengths = unit_workload() if lengths is None else lengths

    def run(w):
        return simulate(model, hardware, w, system=system, scheduler=scheduler, slo_ttft_s=slo_ttft_s,
                        slo_tpot_s=slo_tpot_s, **sim_kw)

    return max_qps(run, lengths, slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s, attainment=attainment, rtol=rtol)


def colocated_vs_disaggregated(model, hardware=None, lengths: Workload | None = None, *, gpus=2, tp=1,
                               slo_ttft_s=None, slo_tpot_s=None, attainment=0.9, rtol=0.05, **sim_kw) -> dict:
    """Max QPS of ``gpus`` devices as ``gpus / tp`` colocated vLLM replicas versus every DistServe split
    into ``p`` prefill and ``d`` decode replicas (``p + d = gpus / tp``). Returns
    ``{"colocated": CapacityResult, "disaggregated": {(p, d): CapacityResult}, "best": label}``."""
    n = int(gpus) // int(tp)
    if n < 1 or n * int(tp) != int(gpus):
        raise ConfigError(f"gpus = {gpus} is not a multiple of tp = {tp}")
    slo = dict(slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s, attainment=attainment, rtol=rtol)
    out = {"colocated": deployment_capacity(model, hardware, lengths, scheduler="vllm", tp=tp, replicas=n,
                                            router="least_outstanding", **slo, **sim_kw), "disaggregated": {}}
    for p in range(1, n):
        out["disaggregated"][(p, n - p)] = deployment_capacity(
            model, hardware, lengths, scheduler="distserve", tp=tp, prefill_replicas=p, replicas=n - p,
            router="least_outstanding", **slo, **sim_kw)
    cands = [("colocated", out["colocated"])] + [(f"{p} prefill + {d} decode", r)
                                                 for (p, d), r in out["disaggregated"].items()]
    best = max(cands, key=lambda c: c[1].max_qps or 0.0)
    out["best"] = best[0] if best[1].reachable else None
    return out


@dataclass
class FleetPlan:
    """Cheapest fleet: replicas per candidate (``counts``), cost (USD/hour), and the split of each bucket."""

    feasible: bool
    counts: dict
    usd_per_hour: float | None
    split: dict
    message: str


def fleet_mix(demand_qps, capacities, prices_per_hour, *, available=None, labels=None) -> FleetPlan:
    """Solve the Mélange MILP (module docstring).

    ``demand_qps``: float or a list per bucket; ``capacities``: ``[bucket][candidate]`` max QPS per
    replica (0 or None = cannot serve); ``prices_per_hour``: USD/hour per replica of each candidate;
    ``available``: optional max replicas per candidate.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    lam = np.atleast_1d(np.asarray(demand_qps, dtype=float))
    cap = np.asarray([[0.0 if c is None else float(c) for c in row] for row in np.atleast_2d(np.asarray(capacities, dtype=object))])
    nb, nd = cap.shape
    if lam.size != nb:
        raise ConfigError(f"{lam.size} demands for {nb} request buckets; allowed: one demand per bucket")
    if np.any(lam <= 0):
        raise ConfigError("demand (QPS) must be > 0")
    price = np.asarray([math.nan if p is None else float(p) for p in prices_per_hour])
    labels = labels or [f"candidate {i}" for i in range(nd)]
    usable = np.isfinite(price) & (price > 0)
    if not usable.any():
        raise ConfigError("no candidate has a price per hour; allowed: pass --price DEVICE=USD")
    # variables: x_d (nd), f_bd (nb*nd)
    nv = nd + nb * nd
    c = np.concatenate([np.where(usable, price, 0.0), np.zeros(nb * nd)])
    rows, lo, hi = [], [], []
    for b in range(nb):  # sum_d f_bd = 1
        r = np.zeros(nv)
        r[nd + b * nd: nd + (b + 1) * nd] = 1.0
        rows.append(r), lo.append(1.0), hi.append(1.0)
    for d in range(nd):  # sum_b lam_b / r_bd f_bd - x_d <= 0
        r = np.zeros(nv)
        r[d] = -1.0
        for b in range(nb):
            r[nd + b * nd + d] = lam[b] / cap[b, d] if cap[b, d] > 0 else 0.0
        rows.append(r), lo.append(-np.inf), hi.append(0.0)
    ub = np.full(nv, 1.0)
    ub[:nd] = np.inf if available is None else np.asarray([np.inf if a is None else float(a) for a in available])
    ub[:nd] = np.where(usable, ub[:nd], 0.0)
    for b in range(nb):
        for d in range(nd):
            if cap[b, d] <= 0 or not usable[d]:
                ub[nd + b * nd + d] = 0.0
    integrality = np.concatenate([np.ones(nd), np.zeros(nb * nd)])
    res = milp(c, constraints=LinearConstraint(np.asarray(rows), lo, hi), integrality=integrality,
               bounds=Bounds(np.zeros(nv), ub))
    if not res.success or res.x is None:
        return FleetPlan(False, {}, None, {}, "no fleet of the candidates serves the demand under the SLO "
                         f"({res.message})")
    x = np.rint(res.x[:nd]).astype(int)
    counts = {labels[d]: int(x[d]) for d in range(nd) if x[d] > 0}
    split = {f"bucket {b}": {labels[d]: float(res.x[nd + b * nd + d]) for d in range(nd)
                             if res.x[nd + b * nd + d] > 1e-6} for b in range(nb)}
    usd = float(np.sum(x * np.where(usable, price, 0.0)))
    msg = "cheapest fleet: " + ", ".join(f"{n} x {k}" for k, n in counts.items()) + f" at {usd:.4g} USD/hour"
    return FleetPlan(True, counts, usd, split, msg)


__all__ = ["CapacityResult", "FleetPlan", "colocated_vs_disaggregated", "deployment_capacity", "fleet_mix", "max_qps", "unit_workload"]
