"""One serving deployment (model x hardware x layout x precision x engine limits), validated once.

Built only with the front-end helpers of :mod:`simulator.serving` (``resolve_model``,
``resolve_hardware``, ``apply_calibration``, ``resolve_dtypes``, ``check_serve``,
``predict_serve``) and :func:`simulator.hw.build_hw`. A replica is one tensor x pipeline parallel
group of ``tp * pp`` devices.

KV room per replica, in tokens (paged-KV admission, vLLM, Kwon et al. SOSP 2023)::

    kv_tokens = (capacity - weights - workspace - activations) / kv_bytes_per_token      (per device)

with the numbers of ``predict_serve`` for one request of the longest prompt (activations of the
largest prefill step: ``max_prefill_tokens`` or the Sarathi token budget). A model whose weights,
workspace and activations leave no room for one longest request raises ``ConfigError``.

Per-iteration engine overhead (scheduler, sampling, detokenisation on the host) is added to every
iteration when ``engine`` is given: ``simulator.engines.engine_overhead_s(engine, batch, gpu_step_s)``
is affine in ``batch`` and ``gpu_step_s``, so it is read once as three numbers,
``step_s + per_sequence_s * batch + share * gpu_step_s`` (its values at (0, 0), (1, 0), (0, 1)),
and applied in plain Python in the event loop. Without ``engine`` it is 0 (kernel overheads only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.errors import ConfigError
from simulator.requests.costs import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_MAX_BATCH,
    DEFAULT_TOKEN_BUDGET,
    CostTable,
    build_table,
)

SCHEDULERS = ("vllm", "sarathi", "static", "distserve")


@dataclass
class Deployment:
    """A validated deployment and its cost table. Units SI; ``kv_tokens`` per replica."""

    model: object
    hardware: object          # hardware_db Device or System (narrowed to the devices used)
    hw: object                # simulator.hw.HwSpec
    prec: object              # simulator.ops.Precision
    compute_dtype: str
    tp: int
    pp: int
    ep: int
    max_batch: int
    block_size: int
    max_prefill_tokens: int
    token_budget: int
    kv_tokens: float
    kv_bytes_per_token: float  # whole model (all layers, unsharded): what a KV transfer moves
    weights_bytes: float
    table: CostTable
    engine: str | None = None
    overhead: tuple | None = None  # (step_s, per_sequence_s, share of the device time) or None
    power: object = None       # simulator.requests.power.PowerModel of the replica
    clock_fraction: float = 1.0

    @property
    def devices(self) -> int:
        return self.tp * self.pp

    @property
    def name(self) -> str:
        hw = getattr(self.hardware, "name", "?")
        return f"{self.model.name} on {hw} tp={self.tp}" + (f" pp={self.pp}" if self.pp > 1 else "")

    def overhead_s(self, batch: int, gpu_step_s: float = 0.0) -> float:
        """Host/framework time of one iteration of ``batch`` sequences (0 without an engine)."""
        if self.overhead is None:
            return 0.0
        step, per, share = self.overhead
        return step + per * batch + share * gpu_step_s


def _overhead_coeffs(engine):
    """``(step_s, per_sequence_s, share)`` of ``simulator.engines.engine_overhead_s`` (affine), or None."""
    if engine is None:
        return None
    try:
        from simulator.engines import engine_overhead_s
    except ImportError:
        raise ConfigError(f"engine '{engine}': per-engine overheads are not available in this build "
                          "(simulator.engines missing); allowed: no --engine") from None
    f00 = float(engine_overhead_s(engine, 0.0, 0.0))
    f10 = float(engine_overhead_s(engine, 1.0, 0.0))
    f01 = float(engine_overhead_s(engine, 0.0, 1.0))
    return (f00, f10 - f00, f01 - f00)


def make_deployment(model, hardware=None, *, system=None, tp=1, pp=1, ep=1, weight_dtype=None, act_dtype=None,
                    kv_dtype=None, max_batch=DEFAULT_MAX_BATCH, block_size=DEFAULT_BLOCK_SIZE,
                    max_prefill_tokens=None, token_budget=None, scheduler="vllm", max_prompt=2048,
                    max_context=4096, calibration=None, engine=None, tp_overlap=0.0,
                    workspace_bytes=None, hw_override=None, idle_w=None, power_cap_w=None) -> Deployment:
    """Validate a deployment and evaluate its cost table (one core call).

    ``max_prompt`` / ``max_context``: the longest prompt and prompt + output of the workload (grid
    ranges). ``max_prefill_tokens``: prompt tokens per prefill iteration (vLLM
    ``max_num_batched_tokens``; default ``max(2048, max_prompt)``). ``token_budget``: Sarathi
    tokens per iteration (default 512). ``hw_override``: a function ``HwSpec -> HwSpec`` applied
    after building (what-if studies). ``power_cap_w``: per-device cap lowering the compute clock
    (:mod:`simulator.requests.power`); ``idle_w``: idle power per device (default: see there).
    """
    from simulator.hw import build_hw
    from simulator.ops import kv_cache_bytes_per_token
    from simulator.serving import (
        DEFAULT_WORKSPACE_BYTES,
        apply_calibration,
        check_serve,
        predict_serve,
        resolve_dtypes,
        resolve_hardware,
        resolve_model,
    )

    sched = str(scheduler).strip().lower()
    if sched not in SCHEDULERS:
        raise ConfigError(f"scheduler '{scheduler}'; allowed: {', '.join(SCHEDULERS)}")
    spec = resolve_model(model)
    hwobj = resolve_hardware(hardware, system)
    if calibration is not None:
        hwobj = apply_calibration(hwobj, calibration, resolve_dtypes(hwobj, weight_dtype, act_dtype, kv_dtype)[0])
    max_batch = int(max_batch)
    if max_batch < 1:
        raise ConfigError(f"max batch = {max_batch}; allowed: an integer >= 1")
    max_prompt, max_context = int(max_prompt), int(max(max_context, max_prompt + 1))
    if max_prefill_tokens is None:
        max_prefill_tokens = max(2048, max_prompt)
    max_prefill_tokens = int(max_prefill_tokens)
    if sched in ("vllm", "distserve") and max_prefill_tokens < max_prompt:
        raise ConfigError(f"max prefill tokens = {max_prefill_tokens} < longest prompt {max_prompt}; allowed: "
                          ">= the longest prompt (or --scheduler sarathi for chunked prefill)")
    budget = int(token_budget if token_budget is not None else DEFAULT_TOKEN_BUDGET) if sched == "sarathi" else 0
    if sched == "sarathi" and budget < 1:
        raise ConfigError(f"token budget = {budget}; allowed: an integer >= 1")
    ws = DEFAULT_WORKSPACE_BYTES if workspace_bytes is None else float(workspace_bytes)
    hwobj, cfg = check_serve(spec, hwobj, batch=1, input_len=max_prompt, output_len=1, tp=tp, pp=pp, ep=ep,
                             block_size=block_size, tp_overlap=tp_overlap, workspace_bytes=ws)
    compute_dtype, prec = resolve_dtypes(hwobj, weight_dtype, act_dtype, kv_dtype)
    largest_step = budget if sched == "sarathi" else max_prefill_tokens
    r = predict_serve(spec, hwobj, batch=1, input_len=largest_step, output_len=1, tp=tp, pp=pp, ep=ep,
                      weight_dtype=weight_dtype, act_dtype=act_dtype, kv_dtype=kv_dtype, block_size=block_size,
                      tp_overlap=tp_overlap, workspace_bytes=ws)
    kv_tok_dev = float(kv_cache_bytes_per_token(spec, prec, tp, pp))
    room = r["capacity_bytes"] - r["weights_bytes"] - r["workspace_bytes"] - r["activation_bytes"]
    kv_tokens = math.floor(room / kv_tok_dev / block_size) * block_size if kv_tok_dev > 0 else math.inf
    need = math.ceil(max_context / block_size) * block_size
    if kv_tokens < need:
        raise ConfigError(
            f"'{spec.name}' does not fit on {getattr(hwobj, 'name', '?')} with tp={tp} pp={pp}: weights "
            f"{r['weights_bytes'] / 1e9:.3g} GB + workspace + activations leave {max(room, 0) / 1e9:.3g} GB, "
            f"less than the KV cache of one {max_context}-token request; allowed: more devices (--tp) or "
            "smaller dtypes")
    from simulator.requests.power import capped_hw, clock_fraction, power_model

    dev = getattr(hwobj, "device", hwobj)
    hws = build_hw(hwobj, compute_dtype)
    cap_fn = capped_hw(dev, power_cap_w, idle_w)
    if cap_fn is not None:
        hws = cap_fn(hws)
    if hw_override is not None:
        hws = hw_override(hws)
    table = build_table(spec, hws, prec, tp=tp, pp=pp, ep=ep, tp_overlap=tp_overlap, max_batch=max_batch,
                        max_context=max_context, max_prefill_tokens=max_prefill_tokens, token_budget=budget,
                        max_prompt=max_prompt)
    return Deployment(
        model=spec, hardware=hwobj, hw=hws, prec=prec, compute_dtype=compute_dtype, tp=int(tp), pp=int(pp),
        ep=int(ep), max_batch=max_batch, block_size=int(block_size), max_prefill_tokens=max_prefill_tokens,
        token_budget=budget, kv_tokens=float(kv_tokens),
        kv_bytes_per_token=float(kv_cache_bytes_per_token(spec, prec, 1, 1)), weights_bytes=r["weights_bytes"],
        table=table, engine=engine, overhead=_overhead_coeffs(engine),
        power=power_model(dev, int(tp) * int(pp), idle_w, power_cap_w),
        clock_fraction=clock_fraction(dev, power_cap_w, idle_w))


__all__ = ["Deployment", "SCHEDULERS", "make_deployment"]
