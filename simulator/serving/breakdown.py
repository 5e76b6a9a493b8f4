"""Per-operator breakdown of one serving configuration (time, FLOP, bytes, bound per operator)."""

from __future__ import annotations

import jax
import numpy as np

from simulator import ops as O
from simulator.errors import ConfigError
from simulator.hw import HwSpec
from simulator.pricing import op_bounds, op_times_s
from simulator.serving.core import ServeConfig, _scenario_work


@jax.jit
def _breakdown_arrays(model, hw: HwSpec, prec: O.Precision, cfg: ServeConfig):
    """Token counts, operator costs, operator times and bounds of the four scenario steps (compiled once)."""
    tokens, attn, lm_tokens, _, _ = _scenario_work(cfg, 1.0 + 0.0 * cfg.spec_gamma)
    ops = O.forward_ops(model, tokens, attn, lm_tokens, prec, cfg.tp, cfg.pp, cfg.ep, cfg.dp)
    times = op_times_s(ops, hw, cfg.tp, cfg.pp, cfg.ep, cfg.weights_offloaded)
    bounds = op_bounds(ops, hw, cfg.weights_offloaded)
    return tokens, ops, times, bounds


def breakdown(model, hw: HwSpec, prec: O.Precision, cfg: ServeConfig, phase: str = "decode"):
    """Per-operator rows for one configuration: time, FLOP, bytes, collective bytes, bound.

    ``phase``: ``prefill`` (the TTFT step of one micro-batch) or ``decode`` (the step at the last
    context). Returns a list of dicts (op, kind, time_s, flops, weight_bytes, act_bytes, kv_bytes,
    comm_bytes, bound) in execution order; times are per step, summed over layers.
    """
    idx = {"prefill": 0, "decode": 2}.get(phase)
    if idx is None:
        raise ConfigError(f"breakdown phase '{phase}'; allowed: prefill, decode")
    tokens, ops, times, bounds = _breakdown_arrays(model, hw, prec, cfg)
    names = {0: "memory", 1: "compute", 2: "communication"}
    rows = []
    for name in sorted(ops, key=list(O.OP_KINDS).index):  # execution order (jit sorts dict keys)
        cost = ops[name]

        def pick(x):
            return float(np.broadcast_to(np.asarray(x), np.shape(tokens))[..., idx])

        row = {
            "op": name,
            "kind": O.OP_KINDS[name],
            "time_s": pick(times[name]),
            "flops": pick(cost.flops),
            "weight_bytes": pick(cost.weight_bytes),
            "act_bytes": pick(cost.act_bytes),
            "kv_bytes": pick(cost.kv_bytes),
            "comm_bytes": pick(cost.comm_bytes),
            "bound": names[int(np.broadcast_to(np.asarray(bounds[name]), np.shape(tokens))[..., idx])],
        }
        if row["time_s"] > 0 or row["flops"] > 0 or row["comm_bytes"] > 0:
            rows.append(row)
    return rows
