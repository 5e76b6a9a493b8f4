"""Time-to-train as it really runs: ideal training time -> expected wall time with failures,
checkpoints and restarts (ETTR), and what that does to device-hours, energy and cost.

Inputs: the training simulator's output dict (``simulator.training.predict_training`` with
``tokens``: ``train_time_s``, ``step_time_s``, ``devices`` / ``gpus``, ``device_hours``, ``energy_j``,
``cost_usd``), the parameter count (``ModelSpec.total_params()``) and the node size. Nothing here
recomputes step times.

Terms (all seconds of wall-clock time, summing to ``expected_wall_s``)::

    ideal_s          failure-free training time T_s (simulator)
    checkpoint_s     (T_s / tau) * C                              checkpoint stalls
    restart_s        expected_failures * R                        detection + restart + load
    lost_work_s      the rest of Daly's T_w                       recomputed work since the last checkpoint
    planned_s        planned interruptions x restart overhead (no lost work)
    expected_wall_s  T_w / (1 - lambda_planned R0)               ETTR = ideal_s / expected_wall_s

with ``T_w`` from Daly Eq. 13 (:mod:`simulator.reliability.young_daly`), ``expected_failures =
T_w / M``, ``R = restart_overhead_s + load_s`` (+ the persist lag in async mode).

**Restart overhead** (detection, rescheduling, process start, communicator init; checkpoint load
is added separately): default 600 s. Assumption bracketed by published figures: FlashRecovery
restores a 4,800-device job in 150 s with active detection, while PyTorch's default passive
(NCCL-timeout) detection alone can take up to 30 min (Zhang et al. 2025, arXiv:2509.03047,
Sec. 1 and abstract). Override with ``restart_overhead_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.errors import ConfigError
from simulator.reliability.checkpoint import CheckpointCost, checkpoint_cost, positive
from simulator.reliability.failures import LLAMA3_405B, NO_FAILURES, FailureModel
from simulator.reliability.young_daly import daly_interval_s, expected_wall_time_s, young_interval_s

RESTART_OVERHEAD_S = 600.0


@dataclass(frozen=True)
class ReliabilityOptions:
    """How the job checkpoints and recovers. ``checkpoint_every_s``: ``None`` / ``"auto"`` = Daly's
    optimum (rounded to whole steps, at least one step and, async, the persist time)."""

    failures: FailureModel = LLAMA3_405B
    checkpoint_every_s: float | str | None = "auto"
    mode: str = "sync"
    storage_bytes_per_s: float | None = None
    restart_overhead_s: float = RESTART_OVERHEAD_S
    bytes_per_param: float = 14.0
    host_bytes_per_s: float | None = None
    inter_node_bytes_per_s: float | None = None


def parse_checkpoint_every(value) -> float | str:
    """CLI helper: ``auto`` or seconds > 0."""
    if value is None or str(value).strip().lower() == "auto":
        return "auto"
    try:
        return positive("--checkpoint-every", float(value))
    except ValueError as e:  # pragma: no cover - float() of a bad string
        raise ConfigError(f"--checkpoint-every = {value!r}; allowed: auto or seconds > 0") from e


def reliability_terms(ideal_s: float, step_s: float, params: float, devices: int, devices_per_node: int,
                      opts: ReliabilityOptions | None = None) -> dict:
    """Expected wall time and its decomposition (see module docstring); SI units."""
    opts = opts or ReliabilityOptions()
    Ts = positive("ideal training time (s)", ideal_s)
    step = positive("step time (s)", step_s)
    R0 = positive("restart overhead (s)", opts.restart_overhead_s, allow_zero=True)
    ck: CheckpointCost = checkpoint_cost(params, devices, mode=opts.mode,
                                         storage_bytes_per_s=opts.storage_bytes_per_s,
                                         bytes_per_param=opts.bytes_per_param,
                                         host_bytes_per_s=opts.host_bytes_per_s,
                                         inter_node_bytes_per_s=opts.inter_node_bytes_per_s)
    fm = opts.failures
    lam = fm.job_rate_per_s(devices, devices_per_node)
    M = math.inf if lam == 0 else 1.0 / lam
    C = ck.blocking_s
    R = R0 + ck.load_s + ck.persist_s  # async: the durable checkpoint lags by the persist time
    lo = max(step, ck.persist_s)
    if opts.checkpoint_every_s in (None, "auto"):
        if math.isinf(M):
            tau = Ts  # one checkpoint at the end suffices
        else:
            tau = float(daly_interval_s(C, M))
            tau = max(lo, round(tau / step) * step)
        how = "auto (Daly 2006)"
    else:
        tau = positive("checkpoint interval (s)", opts.checkpoint_every_s)
        if tau < lo:
            raise ConfigError(f"checkpoint interval {tau:g} s is shorter than "
                              f"{'the persist time' if lo > step else 'one step'} ({lo:.3g} s); "
                              f"allowed: >= {lo:.3g} s or auto")
        how = "given"
    tau = min(tau, Ts)
    Tw = float(expected_wall_time_s(Ts, tau, C, R, M))
    fails = 0.0 if math.isinf(M) else Tw / M
    ckpt_s = Ts / tau * C
    restart_s = fails * R
    lost_s = max(Tw - Ts - ckpt_s - restart_s, 0.0)
    lam_p = fm.planned_rate_per_s
    if lam_p * R0 >= 1:
        raise ConfigError(f"planned interruption rate {lam_p:g}/s x restart {R0:g} s >= 1: the job never runs")
    wall = Tw / (1.0 - lam_p * R0)
    planned_n = wall * lam_p
    planned_s = wall - Tw
    return {
        "ideal_s": Ts,
        "expected_wall_s": wall,
        "ettr": Ts / wall,
        "mtbf_s": M,
        "failure_rate_per_s": lam,
        "expected_failures": fails,
        "expected_planned_interruptions": planned_n,
        "checkpoint_mode": ck.mode,
        "checkpoint_bytes": ck.size_bytes,
        "checkpoint_blocking_s": C,
        "checkpoint_persist_s": ck.persist_s,
        "checkpoint_load_s": ck.load_s,
        "storage_bytes_per_s": ck.storage_bytes_per_s,
        "checkpoint_interval_s": tau,
        "checkpoint_interval_rule": how,
        "young_interval_s": float(young_interval_s(C, M)) if math.isfinite(M) else math.inf,
        "daly_interval_s": float(daly_interval_s(C, M)) if math.isfinite(M) else math.inf,
        "checkpoints": Ts / tau,
        "checkpoint_overhead_s": ckpt_s,
        "restart_time_per_failure_s": R,
        "restart_overhead_s": restart_s,
        "lost_work_s": lost_s,
        "planned_restart_s": planned_s,
        "failure_source": fm.source,
    }


def with_reliability(result: dict, params: float, devices_per_node: int,
                     opts: ReliabilityOptions | None = None, *, enabled: bool = True) -> dict:
    """Add a ``reliability`` dict to a ``predict_training`` result that has ``train_time_s``, and
    the expected (with-failure) wall time, device-hours, energy and cost beside the ideal ones.

    ``enabled=False`` (``--no-failures``) keeps the ideal numbers: ETTR = 1, no checkpoint terms.
    """
    if "train_time_s" not in result:
        raise ConfigError("reliability terms need a token budget (--tokens)")
    out = dict(result)
    devices = int(result.get("gpus", result.get("devices", 0)))
    if not enabled:
        opts = ReliabilityOptions(failures=NO_FAILURES, checkpoint_every_s="auto",
                                  restart_overhead_s=0.0)
    rel = reliability_terms(result["train_time_s"], result["step_time_s"], params, devices, devices_per_node, opts)
    if not enabled:
        rel.update(checkpoint_overhead_s=0.0, expected_wall_s=rel["ideal_s"], ettr=1.0, checkpoints=0.0)
    f = rel["expected_wall_s"] / rel["ideal_s"]
    rel["enabled"] = bool(enabled)
    rel["expected_train_days"] = rel["expected_wall_s"] / 86400.0
    rel["expected_device_hours"] = result["device_hours"] * f
    rel["expected_energy_j"] = result["energy_j"] * f  # boards held at TDP while waiting (upper bound)
    rel["expected_energy_kwh"] = rel["expected_energy_j"] / 3.6e6
    cost = result.get("cost_usd", float("nan"))
    rel["expected_cost_usd"] = cost * f if cost == cost else float("nan")
    out["reliability"] = rel
    return out


def ettr_array(ideal_s, step_s, params, devices: int, devices_per_node: int,
               opts: ReliabilityOptions | None = None) -> np.ndarray:
    """Vectorised ETTR with Daly's interval for many candidates (planner): arrays of ideal time,
    step time and parameter counts on one device count."""
    opts = opts or ReliabilityOptions()
    ideal = np.asarray(ideal_s, dtype=float)
    step = np.asarray(step_s, dtype=float)
    P = np.asarray(params, dtype=float)
    ck = checkpoint_cost(1.0, devices, mode=opts.mode, storage_bytes_per_s=opts.storage_bytes_per_s,
                         bytes_per_param=opts.bytes_per_param, host_bytes_per_s=opts.host_bytes_per_s,
                         inter_node_bytes_per_s=opts.inter_node_bytes_per_s)  # per parameter, linear in P
    C = ck.blocking_s * P
    persist = ck.persist_s * P
    R = opts.restart_overhead_s + ck.load_s * P + persist
    lam = opts.failures.job_rate_per_s(devices, devices_per_node)
    if lam == 0:
        return np.ones_like(ideal)
    M = 1.0 / lam
    tau = np.maximum(np.maximum(np.round(daly_interval_s(C, M) / step) * step, step), persist)
    tau = np.minimum(tau, np.where(ideal > 0, ideal, tau))
    tw = expected_wall_time_s(ideal, tau, C, R, M) / (1.0 - opts.failures.planned_rate_per_s * opts.restart_overhead_s)
    return np.where(ideal > 0, ideal / tw, np.nan)
