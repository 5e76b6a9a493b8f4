"""Training simulator: step time, MFU/HFU, memory and time-to-train of parallel layouts; layout search.

Public API::

    from simulator.training import (predict_training, search, best_layouts, train_hardware,
                                    Layout, TrainOptions, MEGATRON_2021, MEGATRON_2022)

    r = predict_training("gpt3-175b", "dgx-a100", gpus=1024, tp=8, pp=8, global_batch=1536,
                         seq_len=2048, tokens=300e9, zero=1, recompute="selective")
    r["mfu"], r["step_time_s"], r["train_days"], r["memory"]["total_bytes"], r["fits"]

Modules: ``flops`` (model / hardware FLOPs, Narayanan Eq. 3), ``memory`` (ZeRO states and
Korthikanti activations), ``step`` (the step-time model), ``layouts`` (validity, enumeration,
vectorised search, Pareto set). All units SI; see ``docs/training.md``.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.layout_rule import data_parallel_degree
from simulator.training.common import (
    MEGATRON_2021,
    MEGATRON_2022,
    Layout,
    TrainHardware,
    TrainOptions,
    offload_code,
    recompute_code,
    train_hardware,
)
from simulator.training.flops import (
    megatron_flops_per_iteration,
    megatron_model_flops_per_iteration,
    model_flops_per_token,
)
from simulator.training.layouts import (
    SearchResult,
    best_layouts,
    check_layout,
    enumerate_layouts,
    evaluate_layouts,
    pareto_front,
    search_layouts,
)
from simulator.training.memory import memory_breakdown
from simulator.training.step import time_to_train, train_step

_MEMORY_KEYS = ("weights_bytes", "gradients_bytes", "optimizer_bytes", "offloaded_bytes", "buffer_bytes",
                "activation_bytes", "total_bytes", "capacity_bytes", "shortfall_bytes")
_TIME_KEYS = ("step_time_s", "compute_s", "bubble_s", "tp_comm_s", "pp_comm_s", "dp_comm_s", "dp_reduce_s", "cp_comm_s",
              "ep_comm_s", "optimizer_s", "straggler_s")


def _resolve(model, system, gpus, dtype, calibration=None):
    import dataclasses

    from hardware_db import load_system
    from simulator.models import load_model

    spec = load_model(model) if not hasattr(model, "num_layers") else model
    sysm = load_system(system) if isinstance(system, str) else system
    if calibration is not None:
        from simulator.calibration.profile import apply_profile

        sysm = dataclasses.replace(sysm, device=apply_profile(sysm.device, calibration, dtype))
    if gpus is not None and int(gpus) < 1:
        from simulator.errors import ConfigError

        raise ConfigError(f"gpus must be >= 1, got {gpus}")
    if hasattr(sysm, "for_devices") and gpus is not None:
        sysm = sysm.for_devices(int(gpus))
    return spec, sysm, train_hardware(sysm, dtype)


def _row(res: dict, i=None) -> dict:
    get = (lambda k: float(np.asarray(res[k]))) if i is None else (lambda k: float(np.asarray(res[k])[i]))
    out = {k: get(k) for k in _TIME_KEYS}
    out.update(mfu=get("mfu"), hfu=get("hfu"), tokens_per_s=get("tokens_per_s"),
               model_flops_per_step=get("model_flops_per_step"), micro_batches=get("micro_batches"))
    out["memory"] = {k: get(k) for k in _MEMORY_KEYS}
    out["fits"] = bool(np.asarray(res["fits"]) if i is None else np.asarray(res["fits"])[i])
    return out


def _check_tokens(tokens) -> None:
    """``tokens`` (the training budget D) is None or a finite number > 0; ConfigError otherwise."""
    if tokens is None:
        return
    try:
        ok = math.isfinite(float(tokens)) and float(tokens) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        from simulator.errors import ConfigError

        raise ConfigError(f"tokens = {tokens!r}; allowed: a finite number > 0 (the token budget D)")


def _add_budget(out: dict, hw: TrainHardware, gpus: int, tokens) -> dict:
    if tokens is None:
        return out
    tt = time_to_train({"tokens_per_s": out["tokens_per_s"], "devices": float(gpus)}, hw, float(tokens))
    out.update({k: float(np.asarray(v)) for k, v in tt.items()})
    out["tokens"] = float(tokens)
    return out


def predict_training(model, system, gpus: int, *, tp: int = 1, pp: int = 1, dp: int | None = None, cp: int = 1,
                     ep: int = 1, micro_batch: int = 1, virtual_stages: int = 1, recompute="selective",
                     zero: int = 0, offload="none", global_batch: int, seq_len: int, tokens=None,
                     opts: TrainOptions | None = None, calibration=None, first_stage_layers: int = 0,
                     last_stage_layers: int = 0) -> dict:
    """Predict one explicit layout: step-time breakdown (s), MFU, HFU, tokens/s, memory per device
    (bytes, ``fits``), and, with ``tokens``, wall-clock / device-hours / energy (J, kWh) / cost (USD).

    ``model``/``system`` are catalog names (or a ``ModelSpec`` / ``System``); ``dp`` defaults to
    ``gpus / (tp pp cp)``. Bad layouts raise ``ConfigError`` (one line, see :func:`check_layout`).
    ``calibration``: optional calibration-profile path replacing the device's default efficiency.
    ``first_stage_layers`` / ``last_stage_layers``: uneven pipeline stages (0 = even split).
    """
    opts = opts or TrainOptions()
    _check_tokens(tokens)
    spec, sysm, hw = _resolve(model, system, gpus, opts.dtype, calibration)
    if dp is None:
        dp = data_parallel_degree(gpus, tp, pp, cp)
    check_layout(spec, gpus, global_batch, seq_len, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, micro_batch=micro_batch,
                 virtual_stages=virtual_stages, zero=zero, offload=offload_code(offload),
                 first_stage_layers=first_stage_layers, last_stage_layers=last_stage_layers,
                 devices_per_node=getattr(sysm, "devices_per_node", None))
    layout = Layout.make(tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, micro_batch=micro_batch,
                         virtual_stages=virtual_stages, recompute=recompute_code(recompute), zero=zero,
                         offload=offload_code(offload), first_stage_layers=first_stage_layers,
                         last_stage_layers=last_stage_layers)
    res = evaluate_layouts(spec, layout, hw, global_batch, seq_len, opts)
    out = _row(res)
    out["layout"] = layout.to_dict()
    out.update(model=spec.name, system=getattr(sysm, "name", str(system)), gpus=int(gpus),
               global_batch=int(global_batch), seq_len=int(seq_len))
    return _add_budget(out, hw, gpus, tokens)


def search(model, system, gpus: int, *, global_batch: int, seq_len: int, tokens=None,
           opts: TrainOptions | None = None, pareto_rows: int = 20, calibration=None, **constraints) -> dict:
    """Search every valid layout (see :func:`search_layouts`); returns the best fitting layout's
    prediction (as :func:`predict_training`), up to ``pareto_rows`` layouts of the Pareto set (step
    time vs memory, evenly spaced along it, ascending memory) as a DataFrame,
    layouts evaluated and layouts/s. ``best`` is None when nothing fits (``closest`` then names the
    layout with the smallest memory shortfall)."""
    opts = opts or TrainOptions()
    _check_tokens(tokens)
    from simulator.errors import ConfigError

    if isinstance(pareto_rows, bool) or int(pareto_rows) < 1:
        raise ConfigError(f"pareto rows (--top) = {pareto_rows}; allowed: an integer >= 1")
    if int(global_batch) < 1 or int(seq_len) < 1:
        raise ConfigError(f"global batch and sequence length must be >= 1, got {global_batch} and {seq_len}")
    spec, sysm, hw = _resolve(model, system, gpus, opts.dtype, calibration)
    sr = search_layouts(spec, hw, int(gpus), int(global_batch), int(seq_len), opts, **constraints)
    out = {"model": spec.name, "system": getattr(sysm, "name", str(system)), "gpus": int(gpus),
           "global_batch": int(global_batch), "seq_len": int(seq_len), "layouts_evaluated": sr.evaluated,
           "layouts_per_s": sr.evaluated / sr.seconds if sr.seconds > 0 else math.inf}
    if sr.best >= 0:
        best = _row(sr.results, sr.best)
        best["layout"] = sr.layouts.to_dict(sr.best)
        best.update(model=spec.name, system=out["system"], gpus=int(gpus), global_batch=int(global_batch),
                    seq_len=int(seq_len))
        out["best"] = _add_budget(best, hw, gpus, tokens)
    else:
        j = int(np.argmin(sr.results["shortfall_bytes"]))
        out["best"] = None
        out["closest"] = {"layout": sr.layouts.to_dict(j), "shortfall_bytes": float(sr.results["shortfall_bytes"][j])}
    par = sr.pareto
    if len(par) > pareto_rows:  # evenly spaced along the front, both ends included
        keep = par[np.unique(np.round(np.linspace(0, len(par) - 1, pareto_rows)).astype(int))]
        if sr.best >= 0 and sr.best in par and sr.best not in keep:  # always show the fastest that fits
            keep = par[np.isin(par, np.append(keep, sr.best))]
        par = keep
    out["pareto"] = sr.table(par)
    out["pareto_size"] = int(len(sr.pareto))
    out["search"] = sr
    return out


__all__ = [
    "MEGATRON_2021",
    "MEGATRON_2022",
    "Layout",
    "SearchResult",
    "TrainHardware",
    "TrainOptions",
    "best_layouts",
    "check_layout",
    "enumerate_layouts",
    "evaluate_layouts",
    "megatron_flops_per_iteration",
    "megatron_model_flops_per_iteration",
    "memory_breakdown",
    "model_flops_per_token",
    "pareto_front",
    "predict_training",
    "search",
    "search_layouts",
    "time_to_train",
    "train_hardware",
    "train_step",
]
