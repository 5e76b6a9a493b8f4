"""Front end of the serving simulator: names -> checked objects -> one prediction (a dict)."""

from __future__ import annotations

import numpy as np

from hardware_db import Device, System, load_device, load_system
from simulator import ops as O
from simulator.compiled import cached_call
from simulator.errors import ConfigError
from simulator.hw import build_hw, slow_tier
from simulator.layout_rule import SERVE_MESSAGES, serving_violations
from simulator.serving.breakdown import breakdown
from simulator.serving.core import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_WORKSPACE_BYTES,
    RESULT_COLUMNS,
    ServeConfig,
    serve_core,
)

AUTO_ACT_DTYPES = ("bf16", "fp16", "fp32")


def resolve_model(model):
    """A ``ModelSpec`` from a catalog name / path, or the spec itself."""
    from simulator.models import ModelSpec, load_model

    return model if isinstance(model, ModelSpec) else load_model(model)


def resolve_hardware(hardware=None, system=None):
    """A ``Device`` or ``System`` from names/paths (``system`` wins); ConfigError if neither."""
    if system is not None:
        return system if isinstance(system, System) else load_system(system)
    if hardware is None:
        raise ConfigError("no hardware given; allowed: a device name or TOML path (--hardware) or a system (--system)")
    return hardware if isinstance(hardware, (Device, System)) else load_device(hardware)


def apply_calibration(hw, calibration, dtype: str | None = None):
    """``hw`` (a ``Device`` or ``System``) with a calibration profile applied to its device.

    ``calibration``: a profile path or shipped name, a :class:`simulator.calibration.profile.CalibrationProfile`,
    ``"default"`` (``data/calibration/<device>.json`` only when it qualifies as a default, see
    :func:`simulator.calibration.profile.default_profile`; else unchanged) or ``None`` (unchanged). ``dtype`` picks the
    profile's per-dtype compute efficiency. A profile for another device, a missing or a corrupt
    file raise a one-line ``CalibrationError`` (a ``SimlabError``).
    """
    import dataclasses

    if calibration is None:
        return hw
    from simulator.calibration.profile import apply_profile, resolve_default

    dev = hw.device if isinstance(hw, System) else hw
    calibration = resolve_default(calibration, dev.name)
    if calibration is None:
        return hw
    cal = apply_profile(dev, calibration, dtype=dtype)
    return dataclasses.replace(hw, device=cal) if isinstance(hw, System) else cal


def _calibration_label(calibration, hw) -> str:
    """What ``calibration`` applied: the profile path, or for ``"default"`` the qualifying shipped
    profile or ``default: none (...)`` with the reason (:func:`simulator.calibration.profile.default_note`)."""
    if isinstance(calibration, str) and calibration.strip().lower() == "default":
        from simulator.calibration.profile import default_note, default_profile

        name = getattr(hw, "device", hw).name
        p = default_profile(name)
        return str(p) if p is not None else f"default: none ({default_note(name)})"
    return str(getattr(calibration, "path", "") or calibration)


def weight_bytes_of(name) -> float:
    """Bytes per weight of a dtype (``simulator.dtypes``) or a scaled format, block scales included
    (``simulator.ops.QUANT_FORMAT_BYTES``: ``q4_0``, ``q8_0``, ``q4_k_m``, ``mxfp4`` 4.25 bit,
    ``nvfp4`` 4.5 bit, ``mxfp8``, ``fp8_e4m3``). A plain ``fp4`` is 4 bits without scales."""
    from simulator.dtypes import DTYPE_BYTES, DtypeError, dtype_bytes

    if isinstance(name, (int, float)) and not isinstance(name, bool):
        if not 0 < float(name) <= 8:
            raise DtypeError(f"weight bytes per element {name}; allowed: a number in (0, 8]")
        return float(name)
    key = str(name).strip().lower()
    if key in O.QUANT_FORMAT_BYTES:
        return O.QUANT_FORMAT_BYTES[key]
    if key in DTYPE_BYTES:
        return dtype_bytes(key)
    raise DtypeError(
        f"unknown weight dtype '{name}'; allowed: {', '.join([*DTYPE_BYTES, *O.QUANT_FORMAT_BYTES])}"
    )


def resolve_dtypes(device, weight_dtype=None, act_dtype=None, kv_dtype=None):
    """(compute dtype name, Precision). ``act_dtype=None`` picks the first of bf16, fp16, fp32 the
    device has; weights and KV default to the activation dtype. The device must have a peak rate
    for the activation (compute) dtype: ``HardwareError`` otherwise.

    A low-precision activation dtype (``fp8``, ``fp4``, ``int8``; or a scaled format such as
    ``nvfp4`` / ``mxfp4``, which computes in ``fp4`` with its block scales in the bytes) means
    W8A8 / W4A4 inference: the linear-layer GEMMs run in that dtype and attention, the LM head and
    the router in bf16 (``simulator.hw.build_hw``, TensorRT-LLM FP8 / NVFP4 recipes)."""
    from simulator.dtypes import dtype_bytes

    dev = getattr(device, "device", device)
    if act_dtype is None:
        have = [d for d in AUTO_ACT_DTYPES if d in dev.peak_flops_per_s]
        act_dtype = have[0] if have else next(iter(dev.peak_flops_per_s), "bf16")
    act_dtype = str(act_dtype).strip().lower()
    if act_dtype in O.QUANT_FORMAT_GEMM_DTYPE:  # e.g. nvfp4 activations: fp4 GEMMs, scales in the bytes
        a = O.QUANT_FORMAT_BYTES[act_dtype]
        act_dtype = O.QUANT_FORMAT_GEMM_DTYPE[act_dtype]
    else:
        a = dtype_bytes(act_dtype)
    dev.peak(act_dtype)  # raises HardwareError naming the dtypes the device has
    w = weight_bytes_of(act_dtype if weight_dtype is None else weight_dtype)
    kv = a if kv_dtype is None else dtype_bytes(kv_dtype)
    dq = float(dequant_flop_of(w, a, act_dtype))
    hb = float(head_weight_bytes_of(w, act_dtype))
    act, gemm_in = activation_bytes_of(a, act_dtype)
    return act_dtype, O.Precision(weight_bytes=w, act_bytes=act, kv_bytes=kv, dequant_flop=dq,
                                  head_weight_bytes=hb, gemm_in_bytes=gemm_in)


def activation_bytes_of(quant_bytes, compute_dtype):
    """``(act_bytes, gemm_in_bytes)`` of a compute dtype whose elements are ``quant_bytes`` wide: for
    a low-precision compute dtype (W8A8 / W4A4) the activations stay bf16
    (:data:`LOWP_HIGH_PRECISION_BYTES`) and only the linear-layer GEMM inputs are ``quant_bytes``;
    otherwise ``(quant_bytes, 0)`` (``0`` = the GEMM inputs are the activations)."""
    if bool(_lowp_compute(str(compute_dtype))):
        return LOWP_HIGH_PRECISION_BYTES, float(quant_bytes)
    return float(quant_bytes), 0.0


def dequant_flop_of(weight_bytes, act_bytes, compute_dtype, index=None):
    """Dequantisation FLOP per weight of a weight-only format (W4A16, Q4_0, W8A16: weights narrower
    than the activations, GEMMs in a high-precision compute dtype), dequantised inside the GEMM
    kernels (MARLIN-style, ``simulator.ops.DEQUANT_FLOP_PER_WEIGHT``); 0 otherwise. Broadcasts
    (``compute_dtype`` a name or an array of names), so the sweep applies the same rule per row;
    with ``index`` (integer codes per row) ``compute_dtype`` is a table of names and row ``i`` uses
    ``compute_dtype[index[i]]`` (the sweep's distinct devices, without a string lookup per row)."""
    lowp = _lowp_compute(compute_dtype, index)
    return np.where((np.asarray(weight_bytes) < np.asarray(act_bytes)) & ~lowp, O.DEQUANT_FLOP_PER_WEIGHT, 0.0)


def _lowp_compute(compute_dtype, index=None):
    """Whether each compute dtype (a name, an array of names, or a table indexed by ``index``) is a
    low-precision GEMM dtype (W8A8 / W4A4 inference)."""
    from simulator.hw import LOWP_DTYPES

    lowp = np.isin(np.asarray(compute_dtype, dtype=object), list(LOWP_DTYPES))
    return lowp if index is None else lowp[index]


#: Bytes per element of what W8A8 / W4A4 inference keeps in bf16: the activations outside the
#: linear-layer GEMM inputs (residual stream, norms, attention, TP all-reduce) and the embedding
#: and LM-head weights. ModelOpt, which makes TensorRT-LLM's FP8 / NVFP4 checkpoints, quantises the
#: weights and inputs of the linear layers only (``*weight_quantizer`` / ``*input_quantizer``); its
#: ``_default_disabled_quantizer_cfg`` sets ``"*lm_head*": {"enable": False}`` and ``"default":
#: {"enable": False}`` in every FP8 / NVFP4 / MXFP4 / INT8 config (NVIDIA/TensorRT-Model-Optimizer
#: ``modelopt/torch/quantization/config.py`` @103b1bb1); the model cards of NVIDIA's checkpoints
#: say "Only the weights and activations of the linear operators within transformers blocks are
#: quantized" (huggingface.co/nvidia/Llama-3.3-70B-Instruct-FP4).
LOWP_HIGH_PRECISION_BYTES = 2.0


def head_weight_bytes_of(weight_bytes, compute_dtype, index=None):
    """Bytes per element of the embedding and LM-head weights (``Precision.head_weight_bytes``):
    :data:`LOWP_HIGH_PRECISION_BYTES` (bf16) where the GEMMs compute in a low-precision dtype (W8A8 /
    W4A4: ``fp8``, ``fp4``, ``int8``), else ``weight_bytes`` (plain and weight-only formats keep
    today's rule, e.g. llama.cpp Q4_0 files quantise the embedding too). Broadcasts like
    :func:`dequant_flop_of` (``index``: per-row codes into a table of compute dtypes)."""
    return np.where(_lowp_compute(compute_dtype, index), LOWP_HIGH_PRECISION_BYTES,
                    np.asarray(weight_bytes, dtype=float))


def _int_at_least(name, value, low):
    if isinstance(value, bool) or not float(value).is_integer() or int(value) < low:
        raise ConfigError(f"{name} = {value!r}; allowed: an integer >= {low}")
    return int(value)


def _divisors(n: int) -> str:
    return ", ".join(str(d) for d in range(1, n + 1) if n % d == 0)


def check_serve(model, hw, *, batch, input_len, output_len, tp=1, pp=1, ep=1, dp=1, chunk=0,
                block_size=DEFAULT_BLOCK_SIZE, weights_offloaded=0, tp_overlap=0.0,
                workspace_bytes=DEFAULT_WORKSPACE_BYTES, spec_gamma=0, spec_accept=0.0, engine="none"):
    """Check one configuration against the model and hardware; ``ConfigError`` (one line) if bad.

    Returns ``(hw, cfg_dict)`` where ``hw`` is narrowed to the devices used for a ``System``;
    ``engine`` (a :data:`simulator.engines.ENGINES` name) becomes the config's ``engine_step_s``,
    ``engine_seq_s`` and ``engine_host_share``.
    """
    from simulator.engines import engine_spec

    eng = engine_spec(engine)
    batch = _int_at_least("batch", batch, 1)
    input_len = _int_at_least("input length", input_len, 1)
    output_len = _int_at_least("output length", output_len, 1)
    tp, pp, ep, dp = (_int_at_least(n, v, 1) for n, v in (("tp", tp), ("pp", pp), ("ep", ep), ("dp", dp)))
    chunk = _int_at_least("chunk", chunk, 0)
    block_size = _int_at_least("block size", block_size, 1)
    spec_gamma = _int_at_least("speculative gamma", spec_gamma, 0)
    if not 0.0 <= float(tp_overlap) <= 1.0:
        raise ConfigError(f"tp overlap = {tp_overlap}; allowed: a fraction in [0, 1]")
    if not 0.0 <= float(spec_accept) <= 1.0:
        raise ConfigError(f"speculative acceptance rate = {spec_accept}; allowed: a fraction in [0, 1]")
    if float(workspace_bytes) < 0:
        raise ConfigError(f"workspace bytes = {workspace_bytes}; allowed: >= 0")
    vals = dict(heads=int(model.num_heads), layers=int(model.num_layers), experts=int(model.num_experts), tp=tp,
                pp=pp, ep=ep, dp=dp, chunk=chunk, batch=batch)
    code = int(serving_violations(**vals))  # the one serving layout rule (simulator.layout_rule)
    if code == 1:
        raise ConfigError(f"{SERVE_MESSAGES[1].format(**vals)} '{model.name}'; allowed: {_divisors(vals['heads'])}")
    if code:
        raise ConfigError(SERVE_MESSAGES[code].format(**vals))
    if isinstance(hw, System):
        hw = hw.for_devices(tp * pp * dp)
        link_ok = hw.intra_node_link is not None or hw.devices_per_node == 1
    else:
        link_ok = hw.intra_node_link is not None
    if (tp * pp > 1 or ep > 1) and not link_ok:
        name = getattr(hw, "name", "?")
        raise ConfigError(f"'{name}' has no peer link for tp * pp = {tp * pp}; allowed: tp = pp = 1 "
                          "(or a --system with links)")
    if weights_offloaded:
        dev = getattr(hw, "device", hw)
        if slow_tier(dev) is None:
            raise ConfigError(f"weights in a slower tier, but device '{dev.name}' has only "
                              f"{', '.join(t.name for t in dev.memory_tiers)}; allowed: weights in main memory")
    cfg = dict(batch=batch, input_len=input_len, output_len=output_len, tp=tp, pp=pp, ep=ep, dp=dp,
               chunk=chunk, block_size=block_size, weights_offloaded=int(bool(weights_offloaded)),
               tp_overlap=float(tp_overlap), workspace_bytes=float(workspace_bytes),
               spec_gamma=spec_gamma, spec_accept=float(spec_accept), engine_step_s=float(eng.step_s),
               engine_seq_s=float(eng.per_sequence_s), engine_host_share=float(eng.host_share))
    return hw, cfg


#: the former name of :func:`check_serve`
validate_serve = check_serve


def shape_only(spec):
    """``spec`` with its static ``name`` blanked, so jitted cores are keyed on shapes only (a second
    model of the same structure reuses the compiled program instead of recompiling)."""
    import dataclasses

    return None if spec is None else dataclasses.replace(spec, name="")  # ModelSpec.replace refuses ""


def predict_serve(model, hardware=None, *, system=None, batch=1, input_len=1024, output_len=128, tp=1,
                  pp=1, ep=1, dp=1, weight_dtype=None, act_dtype=None, kv_dtype=None, chunk=0,
                  block_size=DEFAULT_BLOCK_SIZE, weights_in="main", tp_overlap=0.0,
                  workspace_bytes=DEFAULT_WORKSPACE_BYTES, draft_model=None, spec_gamma=0,
                  spec_accept=0.0, with_breakdown=False, calibration=None, engine="none") -> dict:
    """Predict one serving configuration; names or objects for model/hardware. Returns a dict.

    Keys: the resolved configuration (``model``, ``hardware``, dtypes, layout, lengths), every
    metric of :data:`RESULT_COLUMNS` (SI units, unit-suffixed), and with ``with_breakdown`` the
    per-operator rows ``breakdown_prefill`` / ``breakdown_decode`` (see :func:`breakdown`).
    ``weights_in``: ``main`` or ``ddr``/``slow`` (stream weights from the slower tier, SN40L).
    A configuration that does not fit is returned with ``fits = False`` and ``shortfall_bytes``.
    ``calibration``: optional profile (path, profile object or ``"default"``) applied to the device
    (:func:`apply_calibration`, per-dtype values of the compute dtype); ``None`` keeps the catalog's.
    ``engine``: serving engine whose host/framework time is added to every step
    (:data:`simulator.engines.ENGINES`: ``none`` (default, the bare kernel sequence), ``vllm``,
    ``vllm-v0.5``, ``tensorrt-llm``, ``sglang``, ``llama.cpp``); ``engine_decode_s`` is its share of
    a decode step.
    """
    spec = resolve_model(model)
    hwobj = resolve_hardware(hardware, system)
    if calibration is not None:
        hwobj = apply_calibration(hwobj, calibration, resolve_dtypes(hwobj, weight_dtype, act_dtype, kv_dtype)[0])
    where = str(weights_in).strip().lower()
    if where not in ("main", "hbm", "ddr", "slow"):
        raise ConfigError(f"weights_in = '{weights_in}'; allowed: main, ddr")
    hwobj, cfg = check_serve(
        spec, hwobj, batch=batch, input_len=input_len, output_len=output_len, tp=tp, pp=pp, ep=ep, dp=dp,
        chunk=chunk, block_size=block_size, weights_offloaded=where in ("ddr", "slow"), tp_overlap=tp_overlap,
        workspace_bytes=workspace_bytes, spec_gamma=spec_gamma, spec_accept=spec_accept, engine=engine)
    compute_dtype, prec = resolve_dtypes(hwobj, weight_dtype, act_dtype, kv_dtype)
    hws = build_hw(hwobj, compute_dtype)
    c = ServeConfig.make(**cfg)
    draft = None
    if draft_model is not None:
        draft = resolve_model(draft_model)
        if cfg["spec_gamma"] < 1:
            raise ConfigError("a draft model needs spec_gamma >= 1")
    elif cfg["spec_gamma"] > 0:
        raise ConfigError(f"spec_gamma = {cfg['spec_gamma']} needs a draft model")
    # one trace per shape, kept across processes (simulator.compiled; plain jit when the cache is off)
    res = cached_call("serve_core", serve_core, (shape_only(spec), hws, prec, c, shape_only(draft)))
    out = {
        "model": spec.name,
        "hardware": getattr(hwobj, "name", "?"),
        "compute_dtype": compute_dtype,
        "weight_bytes_per_param": float(prec.weight_bytes),
        "act_bytes_per_elem": float(prec.act_bytes),
        "kv_bytes_per_elem": float(prec.kv_bytes),
        **cfg,
        "engine": str(engine).strip().lower(),
        "draft_model": None if draft is None else draft.name,
        **({"calibration": _calibration_label(calibration, hwobj)} if calibration is not None else {}),
    }
    for k in RESULT_COLUMNS:
        v = np.asarray(res[k])
        out[k] = bool(v) if v.dtype == bool else float(v)
    if with_breakdown:
        out["breakdown_prefill"] = breakdown(shape_only(spec), hws, prec, c, "prefill")
        out["breakdown_decode"] = breakdown(shape_only(spec), hws, prec, c, "decode")
    return out

