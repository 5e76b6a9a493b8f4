"""Checkpoint size, save (blocking) time, persist time and load time.

**Size.** Mixed-precision Adam keeps, per parameter, the bf16 weights (2 B), an fp32 master copy
(4 B) and two fp32 moments (8 B): ``14 B / parameter`` (Rajbhandari et al. 2020, ZeRO, Sec. 3.1,
arXiv:1910.02054, K = 12 plus the 2-byte weights). Cross-check: BLOOM-176B's full checkpoint with
optimizer states is 2.3 TB, 13 B / parameter, its bf16 weights alone 329 GB
(https://bigscience.notion.site/BigScience-176B-Model-ad073ca07cdf479398d5f95d88e218c4), and the run's
README counts exactly 14 B / parameter (github.com/bigscience-workshop/bigscience @e726b15
train/tr11-176B-ml/README.md, "Checkpoints").

**Storage bandwidth.** Default: the Llama 3 cluster's Tectonic file system, 2 TB/s sustained
(7 TB/s peak) for the 16,384-GPU job (Dubey et al. 2024, arXiv:2407.21783, Sec. 3.3.1), taken as
a per-device share of ``2e12 / 16384 = 1.22e8 B/s`` (storage provisioned in proportion to the job:
an assumption; override it with ``storage_bytes_per_s``).

**Modes** (blocking time ``C`` is what the Young/Daly interval trades against failures):

* ``sync``: training stops while every shard is written: ``C = size / storage_bw``; the checkpoint
  is durable when training resumes.
* ``async`` (DataStates-LLM, Maurya et al. HPDC 2024, arXiv:2406.10707; Universal Checkpointing /
  PyTorch DCP async save): training stops only for the device-to-host copy of each device's shard,
  ``C = shard / host_bw`` (``shard = size / devices`` of the data-parallel group's unique state;
  host link default PCIe 4.0 x16 from ``simulator.training.common``), and the write to storage runs
  in the background for ``P = size / storage_bw``. The checkpoint is durable ``P`` later, so a
  failure loses ``P`` more work (charged as extra restart time) and the interval is at least ``P``.
* ``memory`` (Gemini, Wang et al. SOSP 2023, https://dl.acm.org/doi/10.1145/3600006.3613145):
  shards are copied to the CPU memory of peer nodes, ``C = shard / inter_node_bw``; recovery
  reads them back from CPU memory (``shard / host_bw``) instead of remote storage. Loss of both a
  node and its peer is not modelled (Gemini's probability analysis).

Load time (``sync`` / ``async``) = ``size / storage_bw`` (read bandwidth taken equal to write).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.errors import ConfigError

CHECKPOINT_BYTES_PER_PARAM = 14.0
LLAMA3_STORAGE_BYTES_PER_S = 2.0e12
LLAMA3_STORAGE_GPUS = 16384
STORAGE_BYTES_PER_S_PER_DEVICE = LLAMA3_STORAGE_BYTES_PER_S / LLAMA3_STORAGE_GPUS
MODES = ("sync", "async", "memory")


def positive(name: str, v, *, allow_zero: bool = False) -> float:
    """``v`` as a finite float > 0 (>= 0 with ``allow_zero``); ConfigError naming ``name`` otherwise."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        x = float("nan")
    ok = math.isfinite(x) and (x >= 0 if allow_zero else x > 0)
    if not ok:
        raise ConfigError(f"{name} = {v!r}; allowed: a finite number {'>= 0' if allow_zero else '> 0'}")
    return x


@dataclass(frozen=True)
class CheckpointCost:
    """Seconds and bytes of one checkpoint (see module docstring)."""

    mode: str
    size_bytes: float
    blocking_s: float  # C: training stalled per checkpoint
    persist_s: float  # background write until durable (0 for sync)
    load_s: float  # read back on restart
    storage_bytes_per_s: float


def checkpoint_cost(params: float, devices: int, *, mode: str = "sync", storage_bytes_per_s: float | None = None,
                    bytes_per_param: float = CHECKPOINT_BYTES_PER_PARAM, host_bytes_per_s: float | None = None,
                    inter_node_bytes_per_s: float | None = None) -> CheckpointCost:
    """Checkpoint cost of a ``params``-parameter model trained on ``devices`` devices."""
    if mode not in MODES:
        raise ConfigError(f"checkpoint mode '{mode}' is not known; allowed: {', '.join(MODES)}")
    p = positive("parameters", params)
    n = int(devices)
    if n < 1:
        raise ConfigError(f"devices = {devices}; allowed: an integer >= 1")
    bpp = positive("checkpoint bytes per parameter", bytes_per_param)
    bw = (STORAGE_BYTES_PER_S_PER_DEVICE * n if storage_bytes_per_s is None
          else positive("storage bandwidth (bytes/s)", storage_bytes_per_s))
    if host_bytes_per_s is None:
        from simulator.training.common import PCIE4_X16_BYTES_PER_S

        host_bytes_per_s = PCIE4_X16_BYTES_PER_S
    host = positive("host link bandwidth (bytes/s)", host_bytes_per_s)
    size = p * bpp
    shard = size / n
    write = size / bw
    if mode == "sync":
        return CheckpointCost(mode, size, write, 0.0, write, bw)
    if mode == "async":
        return CheckpointCost(mode, size, shard / host, write, write, bw)
    link = positive("inter-node bandwidth (bytes/s)", inter_node_bytes_per_s if inter_node_bytes_per_s else host)
    return CheckpointCost(mode, size, shard / link, 0.0, shard / host, bw)
