"""Guards on simulator results: finite and physical, or an error naming the inputs.

Pure functions over the result dicts of :func:`simulator.serving.predict_serve` and
:func:`simulator.training.predict_training`. A violation is not a user mistake the user could
have spotted, but the answer would be nonsense, so it is refused with a
:class:`~simulator.errors.ConfigError` (one line, CLI exit 2) naming the inputs that produced it
and the quantity that is not physical, instead of being printed.

Rules (SI units):

- times (``*_s``) finite; the headline times (TTFT, TPOT, end-to-end latency, step time) > 0,
  breakdown terms >= 0;
- throughputs (``*tokens_per_s``) finite and > 0;
- memory (``*_bytes``) finite and >= 0; capacity > 0;
- energy finite and >= 0;
- training: ``0 <= MFU <= HFU <= compute efficiency ceiling`` (the largest compute efficiency of the
  device's curves; 1 when unknown), with a relative tolerance of 1e-4 for float32 rounding.

``model_switch_s`` may be NaN (a device without a slower tier) and is not checked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from simulator.errors import ConfigError

#: Relative tolerance of the ordering checks (float32 results).
RTOL = 1e-4

SERVE_POSITIVE_TIMES = ("ttft_s", "tpot_s", "tpot_avg_s", "e2e_latency_s")
SERVE_RATES = ("output_tokens_per_s", "total_tokens_per_s")
SERVE_BYTES = ("weights_bytes", "kv_cache_bytes", "activation_bytes", "workspace_bytes", "memory_bytes",
               "shortfall_bytes")
TRAIN_POSITIVE_TIMES = ("step_time_s",)
TRAIN_PART_TIMES = ("compute_s", "bubble_s", "tp_comm_s", "pp_comm_s", "dp_comm_s", "cp_comm_s", "ep_comm_s",
                    "optimizer_s", "straggler_s")
TRAIN_MEMORY_BYTES = ("total_bytes", "weights_bytes", "gradients_bytes", "optimizer_bytes", "activation_bytes",
                      "buffer_bytes")


def _describe_inputs(inputs: Mapping[str, Any] | None) -> str:
    if not inputs:
        return "these inputs"
    return ", ".join(f"{k}={v}" for k, v in inputs.items() if v is not None)


def _value(result: Mapping[str, Any], key: str) -> float | None:
    v = result.get(key)
    if v is None or isinstance(v, (bool, str)):
        return None if v is None else float(v) if isinstance(v, bool) else None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


class _Checker:
    def __init__(self, what: str, inputs: Mapping[str, Any] | None):
        self.what, self.inputs = what, inputs

    def fail(self, key: str, value: Any, allowed: str) -> ConfigError:
        return ConfigError(f"{self.what} result {key} = {value!r} is not physical (allowed: {allowed}) for "
                           f"{_describe_inputs(self.inputs)}; these inputs are outside what the simulator "
                           "models, please change them or report the case")

    def finite(self, result: Mapping[str, Any], key: str, minimum: float | None, strict: bool) -> None:
        if key not in result:
            return
        v = _value(result, key)
        if v is None:
            if result.get(key) is None:
                raise self.fail(key, None, "a finite number")
            return
        if not math.isfinite(v):
            raise self.fail(key, v, "a finite number")
        if minimum is not None and (v <= minimum if strict else v < minimum):
            raise self.fail(key, v, f"{'>' if strict else '>='} {minimum:g}")


def check_serve(result: Mapping[str, Any], inputs: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """``result`` of ``predict_serve`` unchanged if physical; ConfigError naming ``inputs`` otherwise."""
    c = _Checker("serving", inputs)
    for key in SERVE_POSITIVE_TIMES:
        c.finite(result, key, 0.0, strict=True)
    for key in SERVE_RATES:
        c.finite(result, key, 0.0, strict=True)
    for key in SERVE_BYTES:
        c.finite(result, key, 0.0, strict=False)
    c.finite(result, "capacity_bytes", 0.0, strict=True)
    c.finite(result, "energy_per_output_token_j", 0.0, strict=False)
    c.finite(result, "max_batch", 0.0, strict=False)
    ttft, e2e = _value(result, "ttft_s"), _value(result, "e2e_latency_s")
    if ttft is not None and e2e is not None and ttft > e2e * (1 + RTOL):
        raise c.fail("ttft_s", ttft, f"<= end-to-end latency {e2e:g}")
    return result


def check_train(result: Mapping[str, Any], inputs: Mapping[str, Any] | None = None,
                compute_efficiency: float = 1.0) -> Mapping[str, Any]:
    """``result`` of ``predict_training`` unchanged if physical; ConfigError naming ``inputs`` otherwise.

    ``compute_efficiency``: the ceiling of HFU, the largest fraction of dense peak the device's
    efficiency curves allow (``Device.efficiency.compute`` and its class overrides).
    """
    c = _Checker("training", inputs)
    for key in TRAIN_POSITIVE_TIMES:
        c.finite(result, key, 0.0, strict=True)
    for key in TRAIN_PART_TIMES:
        c.finite(result, key, 0.0, strict=False)
    c.finite(result, "tokens_per_s", 0.0, strict=True)
    mem = result.get("memory")
    if isinstance(mem, Mapping):
        for key in TRAIN_MEMORY_BYTES:
            c.finite(mem, key, 0.0, strict=False)
    mfu, hfu = _value(result, "mfu"), _value(result, "hfu")
    ceiling = float(compute_efficiency)
    if mfu is not None:
        if not math.isfinite(mfu) or mfu < 0:
            raise c.fail("mfu", mfu, "a number >= 0")
    if hfu is not None:
        if not math.isfinite(hfu):
            raise c.fail("hfu", hfu, "a finite number")
        if mfu is not None and mfu > hfu * (1 + RTOL):
            raise c.fail("mfu", mfu, f"<= HFU {hfu:.4g}")
        if hfu > ceiling * (1 + RTOL):
            raise c.fail("hfu", hfu, f"<= the device's compute efficiency {ceiling:.4g}")
    for key in ("train_time_s", "device_hours", "energy_j"):
        c.finite(result, key, 0.0, strict=True)
    return result


def compute_ceiling(device) -> float:
    """Largest compute efficiency of a ``hardware_db.Device`` (device-wide and class overrides), <= 1."""
    eff = getattr(device, "efficiency", None)
    if eff is None:
        return 1.0
    values = [float(eff.compute)]
    for cls in (getattr(eff, "classes", None) or {}).values():
        if "compute" in cls:
            values.append(float(cls["compute"]))
    return min(1.0, max(values))


def lowp_ceiling_factor(device, dtype) -> float:
    """Factor on the HFU ceiling under a low-precision training recipe: HFU is counted against the
    bf16 peak (``simulator.training.step``), and the recipe's GEMMs may run faster by the device's
    peak x efficiency ratios (``simulator.hw.build_hw``: ``lowp_peak_ratio x lowp_eff_ratio``); 1 for
    other dtypes, never below 1."""
    from simulator.hw import LOWP_DTYPES, build_hw

    if dtype not in LOWP_DTYPES:
        return 1.0
    spec = build_hw(device, str(dtype))
    return max(1.0, float(spec.lowp_peak_ratio) * float(spec.lowp_eff_ratio))


__all__ = ["check_serve", "check_train", "compute_ceiling", "lowp_ceiling_factor"]
