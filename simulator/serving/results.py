"""Typed result of the serving core: :class:`ServeResult` (fields and units declared here).

Returned by :func:`simulator.serving.core.serve_core` through ``jit``/``vmap``;
``simulator.serving.RESULT_COLUMNS`` (sweep table columns, JSON keys) is its field tuple.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from simulator.results import check_units, mapping_access

#: unit of every field of :class:`ServeResult` (SI; "1" = dimensionless, "bool" = flag)
SERVE_UNITS: dict[str, str] = {
    "ttft_s": "s", "tpot_s": "s", "tpot_avg_s": "s", "e2e_latency_s": "s",
    "output_tokens_per_s": "output tokens/s", "total_tokens_per_s": "tokens/s (prompt + output)",
    "prefill_tokens_per_s": "prompt tokens/s", "output_tokens_per_s_per_device": "output tokens/s per device",
    "spec_tokens_per_step": "tokens per target step", "weights_bytes": "B", "kv_cache_bytes": "B",
    "activation_bytes": "B", "workspace_bytes": "B", "memory_bytes": "B", "capacity_bytes": "B", "fits": "bool",
    "shortfall_bytes": "B", "max_batch": "sequences", "model_switch_s": "s", "energy_per_output_token_j": "J",
    "devices": "1", "engine_decode_s": "s",
}


@mapping_access
class ServeResult(NamedTuple):
    """Latencies (s), throughputs, memory per device (B), energy per token (J) of one configuration."""

    ttft_s: Any
    tpot_s: Any
    tpot_avg_s: Any
    e2e_latency_s: Any
    output_tokens_per_s: Any
    total_tokens_per_s: Any
    prefill_tokens_per_s: Any
    output_tokens_per_s_per_device: Any
    spec_tokens_per_step: Any
    weights_bytes: Any
    kv_cache_bytes: Any
    activation_bytes: Any
    workspace_bytes: Any
    memory_bytes: Any
    capacity_bytes: Any
    fits: Any
    shortfall_bytes: Any
    max_batch: Any
    model_switch_s: Any
    energy_per_output_token_j: Any
    devices: Any
    engine_decode_s: Any


check_units(ServeResult, SERVE_UNITS)

__all__ = ["SERVE_UNITS", "ServeResult"]
