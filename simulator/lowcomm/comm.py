"""Cross-site communication of data-parallel and low-communication training (volume, time, exposure).

``M`` sites (replicas) joined by a WAN: each site has ``bandwidth_bytes_per_s`` per direction and
one-way ``latency_s``. Inside a site, the site's own layout runs as the training simulator
predicts (``step_s``). Across sites, a ring all-reduce of ``S`` bytes over ``M`` sites sends
``2 (M - 1)/M S`` bytes per site and takes ``2 (M-1)/M S / W + 2 (M - 1) latency`` plus NCCL's
per-call and per-hop protocol latencies (microseconds; ``simulator.collectives.collective_time_s``
on the WAN link, ring algorithm; sites reduce internally first, so one full-size buffer per site
crosses the WAN, hierarchical as in NCCL).

Algorithms (per inner step of ``step_s``; ``P`` = parameters):

* ``dp``: the gradients (``grad_bytes_per_param``, bf16 = 2) are all-reduced across sites every
  step and exposed (not overlapped: a stated conservative choice).
* ``diloco`` (Douillard et al. 2023, arXiv:2311.08105): ``H`` inner steps per site, then an
  all-reduce of the outer gradient (``outer_bytes_per_param``: fp32 = 4; the scaling-law paper's
  timing model uses 16-bit payloads) that blocks: exposed ``t_outer / H`` per step.
  Charles et al. 2025 (arXiv:2503.09799, App. A.2) model the outer step as
  ``(2 N b / W)(1 - 1/R) + eps`` (:func:`paper_outer_step_time_s`); with ``R = M`` and
  ``eps = 2 (M - 1) latency`` it is the ring time above.
* ``streaming`` (Streaming DiLoCo, Douillard et al. 2025, arXiv:2501.18512): the parameters are
  split into ``fragments`` synchronised in turn (one fragment every ``H / fragments`` steps, so
  peak bandwidth falls by ``fragments``), payloads quantised (paper: 4-bit, 0.5 B / param), and
  each fragment's all-reduce overlaps ``overlap_steps`` inner steps. Exposed per step::

      max(fragments * max(0, t_frag - overlap_steps * step_s),  t_outer - H * step_s,  0) / H

  (the second term: the link cannot carry more than it can in H steps).
* ``co2`` (Sun et al. 2024, ICLR, arXiv:2401.16265): local updating with the outer all-reduce
  overlapped with the next ``H`` inner steps (one-step staleness): exposed
  ``max(0, t_outer - H step_s) / H``.
* ``noloco`` (Kolehmainen et al. 2025, arXiv:2506.10911): no all-reduce; after ``H`` inner steps each
  replica averages with one random peer (gossip): ``P b`` bytes each way, ``P b / W + latency``,
  blocking, exposed ``t / H``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator import collectives
from simulator.errors import ConfigError

ALGORITHMS = ("dp", "diloco", "streaming", "co2", "noloco")


def _pos(name, v, *, zero=False):
    try:
        x = float(v)
    except (TypeError, ValueError):
        x = float("nan")
    if not (math.isfinite(x) and (x >= 0 if zero else x > 0)):
        raise ConfigError(f"{name} = {v!r}; allowed: a finite number {'>= 0' if zero else '> 0'}")
    return x


@dataclass(frozen=True)
class WanLink:
    """Per-site WAN link: bandwidth per direction (bytes/s) and one-way latency (s)."""

    bandwidth_bytes_per_s: float
    latency_s: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "bandwidth_bytes_per_s", _pos("WAN bandwidth (bytes/s)", self.bandwidth_bytes_per_s))
        object.__setattr__(self, "latency_s", _pos("WAN latency (s)", self.latency_s, zero=True))

    @classmethod
    def gbps(cls, gbit_per_s: float, latency_s: float = 0.0) -> WanLink:
        return cls(_pos("--wan-gbps", gbit_per_s) * 1e9 / 8.0, latency_s)


@dataclass(frozen=True)
class LowCommConfig:
    """Algorithm and its knobs (see module docstring). ``inner_steps`` = H >= 1; the default 30 is the H
    at which Charles et al. 2025 fitted the DiLoCo loss law the planner applies (arXiv:2503.09799,
    footnote 1: "While we fix H = 30 for these scaling laws"; loss rises with H, Sec. 5.1)."""

    algorithm: str = "diloco"
    inner_steps: int = 30
    fragments: int = 1
    overlap_steps: int = 0
    outer_bytes_per_param: float = 4.0
    grad_bytes_per_param: float = 2.0

    def __post_init__(self):
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(f"algorithm '{self.algorithm}' is not known; allowed: {', '.join(ALGORITHMS)}")
        for name in ("inner_steps", "fragments"):
            v = getattr(self, name)
            if isinstance(v, bool) or not float(v).is_integer() or v < 1:
                label = "H (inner steps)" if name == "inner_steps" else "fragments"
                raise ConfigError(f"{label} = {v!r}; allowed: an integer >= 1")
        if isinstance(self.overlap_steps, bool) or self.overlap_steps < 0:
            raise ConfigError(f"overlap steps = {self.overlap_steps!r}; allowed: an integer >= 0")
        _pos("outer bytes per parameter", self.outer_bytes_per_param)
        _pos("gradient bytes per parameter", self.grad_bytes_per_param)


def outer_sync_bytes(params: float, replicas: int, bytes_per_param: float) -> float:
    """Bytes each site sends per outer step (ring all-reduce): ``2 (M - 1)/M P b``."""
    M = int(replicas)
    if M < 1:
        raise ConfigError(f"replicas (sites) = {replicas}; allowed: an integer >= 1")
    return 2.0 * (M - 1) / M * np.asarray(params, dtype=float) * float(bytes_per_param)


def dp_wan_bytes_per_step(params: float, replicas: int, grad_bytes_per_param: float = 2.0) -> float:
    """Data parallel across sites: the same volume, every step."""
    return outer_sync_bytes(params, replicas, grad_bytes_per_param)


def paper_outer_step_time_s(n_params, bandwidth_bits_per_s, replicas, eps_s=0.0, bits_per_param=16.0):
    """Charles et al. 2025 App. A.2 outer-step time ``(2 N bits / W)(1 - 1/R) + eps`` (R = replicas)."""
    return 2.0 * n_params * bits_per_param / bandwidth_bits_per_s * (1.0 - 1.0 / replicas) + eps_s


def _ring(nbytes, M, wan: WanLink):
    if M <= 1:
        return np.zeros_like(np.asarray(nbytes, dtype=float))
    fabric = collectives.link_fabric(wan.bandwidth_bytes_per_s, wan.latency_s)
    return np.asarray(collectives.collective_time_s("all_reduce", np.asarray(nbytes, dtype=float), M, M, fabric,
                                                    algo="ring"), dtype=float)


def comm_per_step(params, step_s, replicas: int, wan: WanLink, cfg: LowCommConfig) -> dict:
    """WAN bytes and exposed seconds per inner step (averaged over an outer step) of ``cfg``.

    ``params`` and ``step_s`` may be numpy arrays (one entry per candidate model); results then
    are arrays of the same shape."""
    P = np.asarray(params, dtype=float)
    step = np.asarray(step_s, dtype=float)
    if not (np.all(np.isfinite(P)) and np.all(P > 0)):
        raise ConfigError(f"parameters = {params!r}; allowed: finite numbers > 0")
    if not (np.all(np.isfinite(step)) and np.all(step > 0)):
        raise ConfigError(f"step time (s) = {step_s!r}; allowed: finite numbers > 0")
    M = int(replicas)
    if M < 1:
        raise ConfigError(f"sites = {replicas}; allowed: an integer >= 1")
    H = int(cfg.inner_steps)
    a = cfg.algorithm
    zero = np.zeros(np.broadcast(P, step).shape)
    if a == "dp":
        t = _ring(P * cfg.grad_bytes_per_param, M, wan) + zero
        vol = dp_wan_bytes_per_step(P, M, cfg.grad_bytes_per_param) + zero
        return _out({"algorithm": a, "sync_every_steps": 1, "sync_s": t, "exposed_s_per_step": t,
                     "wan_bytes_per_step": vol, "peak_bytes_per_sync": vol})
    b = cfg.outer_bytes_per_param
    full = outer_sync_bytes(P, M, b) + zero
    t_outer = _ring(P * b, M, wan) + zero
    if a == "diloco":
        exposed = t_outer / H
        peak = full
    elif a == "co2":
        exposed = np.maximum(0.0, t_outer - H * step) / H
        peak = full
    elif a == "streaming":
        F = int(cfg.fragments)
        t_frag = _ring(P * b / F, M, wan)
        exposed = np.maximum(np.maximum(F * np.maximum(0.0, t_frag - cfg.overlap_steps * step), t_outer - H * step),
                             0.0) / H
        peak = full / F
    else:  # noloco: one random peer per outer step
        t_pair = zero + (0.0 if M <= 1 else P * b / wan.bandwidth_bytes_per_s + wan.latency_s)
        vol = zero + (0.0 if M <= 1 else P * b)
        return _out({"algorithm": a, "sync_every_steps": H, "sync_s": t_pair, "exposed_s_per_step": t_pair / H,
                     "wan_bytes_per_step": vol / H, "peak_bytes_per_sync": vol})
    return _out({"algorithm": a, "sync_every_steps": H, "sync_s": t_outer, "exposed_s_per_step": exposed,
                 "wan_bytes_per_step": full / H, "peak_bytes_per_sync": peak})


def _out(d: dict) -> dict:
    """Plain floats for scalar inputs, numpy arrays otherwise."""
    return {k: (float(v) if isinstance(v, np.ndarray) and v.ndim == 0 else v) for k, v in d.items()}
