"""Request-level serving simulation on top of the simulator core (issue 13).

Modules (one purpose each): :mod:`~simulator.requests.workload` (arrivals, lengths, traces),
:mod:`~simulator.requests.costs` (iteration-cost tables from :func:`simulator.iteration.iteration_time_s`),
:mod:`~simulator.requests.deployment` (validated deployment + KV room),
:mod:`~simulator.requests.engine` (static / vLLM / Sarathi-Serve / decode-only schedulers),
:mod:`~simulator.requests.cluster` (replicas, routers, DistServe disaggregation),
:mod:`~simulator.requests.results` (metrics, SLO attainment, overload), :mod:`~simulator.requests.power`,
:mod:`~simulator.requests.prices`, :mod:`~simulator.requests.capacity` (max QPS under SLO, fleet mix),
:mod:`~simulator.requests.sim` (front end), :mod:`~simulator.requests.plots`.
"""

from simulator.requests.sim import deployment_for, simulate
from simulator.requests.workload import Workload, load_trace, synthetic

__all__ = ["Workload", "deployment_for", "load_trace", "simulate", "synthetic"]
