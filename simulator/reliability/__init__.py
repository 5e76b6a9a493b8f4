"""Reliability of long training runs: failures, checkpoints, restarts, Young/Daly, ETTR, Monte Carlo.

Public API::

    from simulator.reliability import (FailureModel, LLAMA3_405B, NO_FAILURES, ReliabilityOptions,
                                       checkpoint_cost, young_interval_s, daly_interval_s,
                                       expected_wall_time_s, ettr, simulate_wall_time_s,
                                       reliability_terms, with_reliability)

    r = predict_training(..., tokens=15e12)
    r = with_reliability(r, spec.total_params(), system.devices_per_node, ReliabilityOptions())
    r["reliability"]["ettr"], r["reliability"]["expected_wall_s"]

See ``docs/reliability.md``. SI units (s, bytes, bytes/s, 1/s).
"""

from simulator.reliability.checkpoint import (
    CHECKPOINT_BYTES_PER_PARAM,
    STORAGE_BYTES_PER_S_PER_DEVICE,
    CheckpointCost,
    checkpoint_cost,
)
from simulator.reliability.failures import (
    LLAMA3_405B,
    LLAMA3_TABLE5,
    NO_FAILURES,
    FailureModel,
    llama3_failure_model,
)
from simulator.reliability.model import (
    RESTART_OVERHEAD_S,
    ReliabilityOptions,
    ettr_array,
    parse_checkpoint_every,
    reliability_terms,
    with_reliability,
)
from simulator.reliability.montecarlo import simulate_wall_time_s
from simulator.reliability.young_daly import (
    daly_interval_s,
    ettr,
    expected_wall_time_s,
    optimal_interval_s,
    young_interval_s,
)

__all__ = [
    "CHECKPOINT_BYTES_PER_PARAM",
    "LLAMA3_405B",
    "LLAMA3_TABLE5",
    "NO_FAILURES",
    "RESTART_OVERHEAD_S",
    "STORAGE_BYTES_PER_S_PER_DEVICE",
    "CheckpointCost",
    "FailureModel",
    "ReliabilityOptions",
    "checkpoint_cost",
    "daly_interval_s",
    "ettr",
    "ettr_array",
    "expected_wall_time_s",
    "llama3_failure_model",
    "optimal_interval_s",
    "parse_checkpoint_every",
    "reliability_terms",
    "simulate_wall_time_s",
    "with_reliability",
    "young_interval_s",
]
