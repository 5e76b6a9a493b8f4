"""Failure model: interruption rates per device, per node and per job (sourced), and the job's MTBF.

A synchronous training job stops whenever any of its devices or hosts fails, so its interruption
rate is the sum of the component rates (failures treated as independent, memoryless)::

    lambda_job = devices * lambda_device + nodes * lambda_node        [1/s]
    MTBF_job   = 1 / lambda_job

Planned interruptions (maintenance, firmware, configuration changes) are a per-job rate
``lambda_planned``; they cost a restart but no lost work (the job checkpoints before stopping).

Default rates (:data:`LLAMA3_405B`) come from the Llama 3 pre-training snapshot: 466 job
interruptions in 54 days on 16,384 H100 GPUs (2,048 nodes of 8), 47 planned and 419 unexpected,
with the root causes of the unexpected ones in Table 5 (Dubey et al. 2024, "The Llama 3 Herd of
Models", arXiv:2407.21783, Sec. 3.3.4, https://arxiv.org/abs/2407.21783; the per-cause counts are
also reported at https://direct.datacenterdynamics.com/en/news/meta-report-details-hundreds-of-gpu-and-hbm3-related-interruptions-to-llama-3-training-run).
Causes that live on a GPU (faulty GPU incl. NVLink, HBM3, SRAM, GPU system processor, silent data
corruption, thermal interface / sensor) are charged per device; every other cause (software bugs,
network switch / cable, host maintenance, NIC, NCCL watchdog, SSD, PSU, chassis, IO board,
dependencies, CPU, system memory) per node. Applying H100 rates to other devices is an assumption
(stated wherever a comparison uses it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simulator.errors import ConfigError

SECONDS_PER_DAY = 86400.0

#: Llama 3 Table 5 (unexpected interruptions in the 54-day snapshot): cause -> (count, scope).
LLAMA3_TABLE5: dict[str, tuple[int, str]] = {
    "faulty GPU (incl. NVLink)": (148, "device"),
    "GPU HBM3 memory": (72, "device"),
    "software bug": (54, "node"),
    "network switch / cable": (35, "node"),
    "host maintenance": (32, "node"),
    "GPU SRAM memory": (19, "device"),
    "GPU system processor": (17, "device"),
    "NIC": (7, "node"),
    "NCCL watchdog timeouts": (7, "node"),
    "silent data corruption": (6, "device"),
    "GPU thermal interface + sensor": (6, "device"),
    "SSD": (3, "node"),
    "power supply": (3, "node"),
    "server chassis": (2, "node"),
    "IO expansion board": (2, "node"),
    "dependency": (2, "node"),
    "CPU": (2, "node"),
    "system memory": (2, "node"),
}
LLAMA3_GPUS = 16384
LLAMA3_GPUS_PER_NODE = 8
LLAMA3_DAYS = 54.0
LLAMA3_PLANNED = 47
LLAMA3_SOURCE = ("Dubey et al. 2024, The Llama 3 Herd of Models, arXiv:2407.21783, Sec. 3.3.4 and Table 5: "
                 "466 interruptions (47 planned, 419 unexpected) in a 54-day snapshot on 16,384 H100 GPUs")


def _check_rate(name: str, v) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        x = float("nan")
    if not (math.isfinite(x) and x >= 0):
        raise ConfigError(f"{name} = {v!r}; allowed: a finite number >= 0 (failures per second)")
    return x


@dataclass(frozen=True)
class FailureModel:
    """Interruption rates (1/s): per device, per node, and planned per job; ``source`` names them."""

    device_rate_per_s: float
    node_rate_per_s: float
    planned_rate_per_s: float = 0.0
    source: str = ""
    causes: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        for name in ("device_rate_per_s", "node_rate_per_s", "planned_rate_per_s"):
            object.__setattr__(self, name, _check_rate(name.replace("_", " "), getattr(self, name)))

    def job_rate_per_s(self, devices: int, devices_per_node: int) -> float:
        """Unexpected interruptions per second of a job on ``devices`` (nodes = ceil(devices / per node))."""
        if int(devices) < 1 or int(devices_per_node) < 1:
            raise ConfigError(f"devices = {devices}, devices per node = {devices_per_node}; allowed: integers >= 1")
        nodes = math.ceil(int(devices) / int(devices_per_node))
        return int(devices) * self.device_rate_per_s + nodes * self.node_rate_per_s

    def mtbf_s(self, devices: int, devices_per_node: int) -> float:
        """Job mean time between unexpected interruptions (s); ``inf`` with zero rates."""
        lam = self.job_rate_per_s(devices, devices_per_node)
        return math.inf if lam == 0 else 1.0 / lam

    def scaled(self, factor: float) -> FailureModel:
        """All unexpected rates times ``factor`` (what-if; planned rate unchanged)."""
        f = _check_rate("failure rate scale", factor)
        return FailureModel(self.device_rate_per_s * f, self.node_rate_per_s * f, self.planned_rate_per_s,
                            f"{self.source} x {f:g}", self.causes)


def llama3_failure_model() -> FailureModel:
    """Rates from Llama 3 Table 5 (see module docstring)."""
    exposure_s = LLAMA3_DAYS * SECONDS_PER_DAY
    dev = sum(c for c, s in LLAMA3_TABLE5.values() if s == "device")
    node = sum(c for c, s in LLAMA3_TABLE5.values() if s == "node")
    nodes = LLAMA3_GPUS // LLAMA3_GPUS_PER_NODE
    return FailureModel(
        device_rate_per_s=dev / (LLAMA3_GPUS * exposure_s),
        node_rate_per_s=node / (nodes * exposure_s),
        planned_rate_per_s=LLAMA3_PLANNED / exposure_s,
        source=LLAMA3_SOURCE,
        causes=dict(LLAMA3_TABLE5),
    )


LLAMA3_405B = llama3_failure_model()
NO_FAILURES = FailureModel(0.0, 0.0, 0.0, "no failures (ideal)")
