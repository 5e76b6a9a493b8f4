"""Typed result of one training step model evaluation (a pytree with declared fields and units).

:class:`TrainResult` is a ``NamedTuple`` of arrays (one layout or a batch of them), returned by
:func:`simulator.training.step.train_step` through ``jit``/``vmap`` unchanged. Table columns and
JSON keys are its field names (:data:`TRAIN_UNITS` gives each field's unit); ``result["mfu"]``,
``result.keys()`` and ``dict(result)`` work as for the string-keyed dicts of v0.1.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from simulator.results import check_units, mapping_access

#: unit of every field of :class:`TrainResult` (SI; "1" = dimensionless, "bool" = flag)
TRAIN_UNITS: dict[str, str] = {
    "step_time_s": "s", "compute_s": "s", "bubble_s": "s", "tp_comm_s": "s", "cp_comm_s": "s",
    "ep_comm_s": "s", "pp_comm_s": "s", "dp_comm_s": "s", "dp_reduce_s": "s", "optimizer_s": "s",
    "straggler_s": "s", "pipeline_s": "s", "comm_in_pipeline_s": "s", "mfu": "1", "hfu": "1", "tokens_per_s": "tokens/s",
    "model_flops_per_step": "FLOP", "hardware_flops_per_step": "FLOP", "micro_batches": "1",
    "devices": "1", "dp_buckets": "1", "weights_bytes": "B", "gradients_bytes": "B", "optimizer_bytes": "B",
    "offloaded_bytes": "B", "buffer_bytes": "B", "activation_bytes": "B", "total_bytes": "B",
    "capacity_bytes": "B", "shortfall_bytes": "B", "fits": "bool",
}


@mapping_access
class TrainResult(NamedTuple):
    """Step time and its breakdown (s), MFU/HFU, throughput, FLOPs and memory per device (B).

    ``dp_comm_s`` is the exposed data-parallel/ZeRO time, ``dp_reduce_s`` all reduction calls back
    to back and ``dp_buckets`` their number (``simulator.training.data_parallel``); ``straggler_s`` the
    expected wait for a slow node (``TrainOptions.slow_node_fraction``).
    """

    step_time_s: Any
    compute_s: Any
    bubble_s: Any
    tp_comm_s: Any
    cp_comm_s: Any
    ep_comm_s: Any
    pp_comm_s: Any
    dp_comm_s: Any
    dp_reduce_s: Any
    optimizer_s: Any
    straggler_s: Any
    pipeline_s: Any
    comm_in_pipeline_s: Any
    mfu: Any
    hfu: Any
    tokens_per_s: Any
    model_flops_per_step: Any
    hardware_flops_per_step: Any
    micro_batches: Any
    devices: Any
    dp_buckets: Any
    weights_bytes: Any
    gradients_bytes: Any
    optimizer_bytes: Any
    offloaded_bytes: Any
    buffer_bytes: Any
    activation_bytes: Any
    total_bytes: Any
    capacity_bytes: Any
    shortfall_bytes: Any
    fits: Any


check_units(TrainResult, TRAIN_UNITS)

__all__ = ["TRAIN_UNITS", "TrainResult"]
