"""Request-level metrics: latencies, percentiles, SLO attainment, throughput, occupancy, energy, cost, overload.

Per request ``i`` (arrival ``a``, first scheduled ``s``, first token ``f``, last token ``d``,
``O`` output tokens), as DistServe (Zhong et al., OSDI 2024, §2.1) and Vidur (Agrawal et al.,
MLSys 2024, §5) define them:

- queueing delay ``s - a``; TTFT ``f - a``; end-to-end latency ``d - a``;
- TPOT (mean inter-token time) ``(d - f) / (O - 1)`` (undefined for ``O = 1``: counts as met);
- SLO attainment: share of requests with ``TTFT <= slo_ttft`` and ``TPOT <= slo_tpot``;
- throughput: requests, output tokens and total tokens per second over the makespan
  ``max d - min a``.

Goodput (DistServe §2.2): the highest request rate at which at least ``attainment`` (e.g. 90 %)
of requests meet both SLOs; it needs several simulations (:mod:`simulator.requests.capacity`).
A single run reports ``slo_attainment`` and ``slo_requests_per_s`` (requests meeting the SLO per
second).

Overload: above saturation the queue grows without bound and every latency statistic depends on
how many requests were simulated, so no number is returned. The run is *overloaded* when, over the
second half of the arrivals (after warm-up), the queueing delay grows with arrival time with a
least-squares slope above ``0.05`` s/s (a stable queue has slope ~0; a queue offered ``rho > 1``
times its capacity makes the request arriving at ``t`` wait ``(rho - 1) t``: slope ``rho - 1``)
**and** the mean queueing delay of the last tenth of requests exceeds twice that of the first half
plus the median service time. The sustained rate reported with it is the completion rate while
requests were still arriving (second half).

Energy: engines' iteration energies plus idle power for the rest of the makespan; per output
token and per million output tokens. Cost: ``price per device-hour x devices x makespan``, per
million output tokens (and per million total tokens).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

OVERLOAD_SLOPE = 0.05


@dataclass
class SimResult:
    """A finished simulation: per-request arrays (s) and the summary (SI units)."""

    arrival_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    queue_s: np.ndarray
    ttft_s: np.ndarray
    tpot_s: np.ndarray
    e2e_s: np.ndarray
    preemptions: np.ndarray
    summary: dict
    occupancy: dict = field(default_factory=dict)  # replica -> event log arrays (Engine.event_arrays)

    @property
    def overloaded(self) -> bool:
        return bool(self.summary.get("overloaded"))

    def frame(self):
        """Per-request pandas DataFrame (unit-suffixed columns)."""
        import pandas as pd

        return pd.DataFrame({"arrival_s": self.arrival_s, "prompt_tokens": self.prompt_tokens,
                             "output_tokens": self.output_tokens, "queue_s": self.queue_s,
                             "ttft_s": self.ttft_s, "tpot_s": self.tpot_s, "e2e_s": self.e2e_s,
                             "preemptions": self.preemptions})


def _pct(x, q):
    x = x[np.isfinite(x)]
    return float(np.percentile(x, q)) if x.size else math.nan


def detect_overload(arrival_s, queue_s, service_s) -> tuple[bool, float]:
    """``(overloaded, slope)`` by the rule of the module docstring."""
    n = arrival_s.size
    if n < 20:
        return False, 0.0
    h = n // 2
    a, q = arrival_s[h:], queue_s[h:]
    span = a[-1] - a[0]
    if span <= 0:
        return False, 0.0
    slope = float(np.polyfit(a - a[0], q, 1)[0])
    tail = float(np.mean(queue_s[-max(n // 10, 1):]))
    head = float(np.mean(queue_s[:h]))
    svc = float(np.median(service_s[np.isfinite(service_s)])) if np.any(np.isfinite(service_s)) else 0.0
    return bool(slope > OVERLOAD_SLOPE and tail > 2.0 * head + svc), slope


def summarise(workload, rec, engines, *, devices_per_replica, n_devices, price_per_hour_usd=None,
              slo_ttft_s=None, slo_tpot_s=None, label="", extra=None) -> SimResult:
    """Build a :class:`SimResult` from an engine record (see the module docstring for definitions)."""
    a = np.asarray(workload.arrival_s, dtype=float)
    p = np.asarray(workload.prompt_tokens)
    o = np.asarray(workload.output_tokens)
    first = np.asarray(rec.first_s, dtype=float)
    done = np.asarray(rec.done_s, dtype=float)
    start = np.asarray(rec.start_s, dtype=float)
    ttft, e2e, queue = first - a, done - a, start - a
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(o > 1, (done - first) / np.maximum(o - 1, 1), np.nan)
    makespan = float(np.nanmax(done) - a.min())
    n = a.size
    over, slope = detect_overload(a, queue, e2e - queue)
    s = {"label": label, "requests": int(n), "offered_qps": float(workload.offered_qps),
         "makespan_s": makespan, "overloaded": over, "queue_delay_slope": slope}
    if over:
        h = n // 2
        t0, t1 = a[h], a[-1]
        served = np.sum((done >= t0) & (done <= t1))
        s["sustained_qps"] = float(served / (t1 - t0)) if t1 > t0 else math.nan
        s["message"] = (f"overloaded: requests arrive at {s['offered_qps']:.3g}/s but the deployment completes "
                        f"about {s['sustained_qps']:.3g}/s; the queue grows without bound, so latency "
                        "percentiles depend only on how many requests are simulated")
    stats = {"ttft_s": ttft, "tpot_s": tpot, "e2e_s": e2e, "queue_s": queue}
    for name, x in stats.items():
        base = name[:-2]
        for q in (50, 90, 99):
            s[f"{base}_p{q}_s"] = math.nan if over else _pct(x, q)
        s[f"{base}_mean_s"] = math.nan if over else float(np.nanmean(x)) if np.any(np.isfinite(x)) else math.nan
    out_tok, tot_tok = float(o.sum()), float(o.sum() + p.sum())
    s["requests_per_s"] = n / makespan if makespan > 0 else math.nan
    s["output_tokens_per_s"] = out_tok / makespan if makespan > 0 else math.nan
    s["total_tokens_per_s"] = tot_tok / makespan if makespan > 0 else math.nan
    s["preemptions"] = int(np.sum(rec.preempt))
    if slo_ttft_s is not None or slo_tpot_s is not None:
        ok = np.ones(n, bool)
        if slo_ttft_s is not None:
            ok &= ttft <= slo_ttft_s
        if slo_tpot_s is not None:
            ok &= ~(tpot > slo_tpot_s)  # NaN (one-token request) counts as met
        s["slo_ttft_s"], s["slo_tpot_s"] = slo_ttft_s, slo_tpot_s
        s["slo_attainment"] = float(ok.mean())
        s["slo_requests_per_s"] = float(ok.sum() / makespan) if makespan > 0 else math.nan
    # occupancy (time-weighted over each replica's event log), energy
    occ = {}
    busy, energy, kv_mean, b_mean = 0.0, 0.0, [], []
    for i, e in enumerate(engines):
        ev = dict(e.event_arrays(), kv_capacity_tokens=e.cap)
        occ[i] = ev
        busy += e.busy_s
        energy += e.energy_j()
        if e.dep.power is not None:
            energy += e.dep.power.idle_energy_j(makespan - e.busy_s)
        t_ev = ev["time_s"]
        if t_ev.size > 1:
            w = np.diff(t_ev)
            if w.sum() > 0:
                kv_mean.append(float(np.sum(ev["kv_tokens"][:-1] * w) / w.sum() / e.cap))
                b_mean.append(float(np.sum(ev["running"][:-1] * w) / w.sum()))
    s["busy_fraction"] = busy / (len(engines) * makespan) if makespan > 0 else math.nan
    s["kv_occupancy_mean"] = float(np.mean(kv_mean)) if kv_mean else math.nan
    s["batch_mean"] = float(np.mean(b_mean)) if b_mean else math.nan
    s["energy_j"] = energy
    s["energy_per_output_token_j"] = energy / out_tok if out_tok else math.nan
    s["energy_per_request_j"] = energy / n
    s["mean_power_w"] = energy / makespan if makespan > 0 else math.nan
    s["devices"] = int(n_devices)
    if price_per_hour_usd is not None:
        usd = price_per_hour_usd * n_devices * makespan / 3600.0
        s["price_per_device_hour_usd"] = float(price_per_hour_usd)
        s["cost_usd"] = usd
        s["cost_per_million_output_tokens_usd"] = usd / out_tok * 1e6 if out_tok else math.nan
        s["cost_per_million_total_tokens_usd"] = usd / tot_tok * 1e6 if tot_tok else math.nan
    if extra:
        s.update(extra)
    return SimResult(a, p, o, queue, ttft, tpot, e2e, np.asarray(rec.preempt), s, occ)


__all__ = ["OVERLOAD_SLOPE", "SimResult", "detect_overload", "summarise"]
