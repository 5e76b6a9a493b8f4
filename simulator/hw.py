"""``HwSpec``: the device numbers the serving cost model needs, as a stackable JAX pytree.

Built from a catalog :class:`hardware_db.Device` or :class:`hardware_db.System` and the compute
dtype (the activation dtype: weight-only formats such as W4A16 are dequantised and multiplied in
the activation dtype). Every field is a float leaf in SI units, so specs of several devices can be
stacked (:func:`stack_hw`) and vmapped together with model specs and configurations.

Memory tiers: ``mem_*`` is the device's main memory (the tier holding KV cache and activations;
HBM, GDDR, LPDDR or unified memory). ``slow_*`` is the next slower tier if the device has one
(SN40L DDR: weights may live there and be streamed, or be copied to HBM when a model is switched);
zero when absent. Links: ``intra_*`` is the device's peer link inside a node, ``inter_*`` the
per-device share of the node's NICs (systems only; zero for a bare device, which is treated as one
node holding as many devices as the layout needs, ``devices_per_node = inf``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from hardware_db import Device, System
from simulator.dtypes import dtype_bytes
from simulator.errors import ConfigError


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class HwSpec:
    """Numbers of one device (or a batch of devices, leaves of equal shape). SI units.

    - ``matrix_flops_per_s``: dense peak of the compute dtype (GEMMs and attention).
    - ``vector_flops_per_s``: peak for elementwise work (norms, softmax, activations): the fp32
      rate when the catalog lists one (CUDA cores / vector units), else the matrix rate.
    - ``mem_bytes_per_s`` / ``mem_capacity_bytes``: main memory. ``slow_*``: next tier (0 if none).
    - ``intra_bytes_per_s`` / ``intra_latency_s``: peer link per direction; ``inter_*``: per-device
      NIC share per direction; ``devices_per_node``: devices sharing the intra-node link (inf for a
      bare device).
    - ``compute_eff``, ``memory_eff``, ``link_eff``, ``compute_half_flop``, ``memory_half_bytes``,
      ``kernel_overhead_s``: the device's :class:`hardware_db.Efficiency` (see ``simulator.roofline``).
    - ``tdp_w``: board power (W), used for energy per token.
    - ``class_compute_eff``, ``class_memory_eff``, ``class_compute_half_flop``,
      ``class_memory_half_bytes``, ``class_kernel_overhead_s``: the same curve per kernel class, a
      last axis of length 3 in the order of :data:`HW_CLASSES` (``gemm``, ``attention``,
      ``elementwise``; ``Efficiency.for_class``). Without ``Efficiency.classes`` every entry equals the
      device-wide field, so results are identical. ``link_eff`` is the ``collective`` class's link
      efficiency (the device-wide one unless overridden). ``simulator.serving`` picks each
      operator's class with ``ops.OP_EFF_CLASS``.
    - ``gemm_rows_half``: the ``gemm`` class's GEMM-shape term (``Efficiency.classes["gemm"]
      ["gemm_rows_half"]``): a GEMM of ``M`` output rows computes the padded work
      ``F (M + gemm_rows_half) / M`` (``simulator.roofline.gemm_kernel_time_s``); 0 = off (the default).
      ``gemm_shape`` (static): whether the term is in the computation at all; False keeps the
      compiled cost model exactly as it was without the term (bit-for-bit).
    - ``intra_links_per_device``, ``intra_topology``, ``nvls_eff``: the peer fabric
      (``hardware_db.Link``), read by ``simulator.collectives.collective_time_s``. Topology code
      :data:`TOPOLOGY_CODE` (0 ``switch``: ``intra_bytes_per_s`` is the device's whole bandwidth to
      any peer; 1 ``full_mesh`` / 2 ``torus``: ``intra_bytes_per_s`` is ONE link and the device has
      ``intra_links_per_device`` of them). ``nvls_eff``: NVLink SHARP efficiency (0 = no in-switch
      reduction); ``nvls_latency_s``: its measured start-up time (``Link.nvls_latency_s``; 0 =
      NCCL's tuner value). Defaults (1, switch, 0, 0) reproduce the single-link model. ``inter_link_eff``: the
      inter-node link's own efficiency (``Link.efficiency``; a NIC reaches a different fraction of
      its rate than NVLink), 0 = use ``link_eff``.
    - ``lowp_peak_ratio``, ``lowp_eff_ratio``, ``attn_lowp``: the low-precision GEMM dtype (FP8,
      FP4, INT8) of the operators marked ``OpInfo.lowp`` (linear layers): its dense peak over
      ``matrix_flops_per_s`` and its best-shape GEMM efficiency over the compute dtype's
      (the device TOML's ``[efficiency.lowp_gemm]`` ratio, ``hardware_db.Efficiency.lowp_gemm``); such a GEMM runs at ``P r_p`` with efficiency ``e_c r_e`` and start-up
      work ``F_half r_p r_e`` (the same start-up *time*). ``attn_lowp`` = 1 runs the attention
      matmuls in that dtype too (FP8 attention, off by default). Ratios are kept rather than the
      absolute numbers so that what-if changes of the peak or the efficiency (``replace``,
      calibration profiles) carry over to the low-precision GEMMs. Defaults (1, 1, 0): no
      low-precision GEMMs, results identical to a spec without them.
    """

    matrix_flops_per_s: jax.Array
    vector_flops_per_s: jax.Array
    mem_bytes_per_s: jax.Array
    mem_capacity_bytes: jax.Array
    slow_bytes_per_s: jax.Array
    slow_capacity_bytes: jax.Array
    intra_bytes_per_s: jax.Array
    intra_latency_s: jax.Array
    inter_bytes_per_s: jax.Array
    inter_latency_s: jax.Array
    devices_per_node: jax.Array
    compute_eff: jax.Array
    memory_eff: jax.Array
    link_eff: jax.Array
    compute_half_flop: jax.Array
    memory_half_bytes: jax.Array
    kernel_overhead_s: jax.Array
    tdp_w: jax.Array
    class_compute_eff: jax.Array
    class_memory_eff: jax.Array
    class_compute_half_flop: jax.Array
    class_memory_half_bytes: jax.Array
    class_kernel_overhead_s: jax.Array
    gemm_rows_half: jax.Array | float = 0.0
    intra_links_per_device: jax.Array | float = 1.0
    intra_topology: jax.Array | float = 0.0
    nvls_eff: jax.Array | float = 0.0
    nvls_latency_s: jax.Array | float = 0.0
    inter_link_eff: jax.Array | float = 0.0
    lowp_peak_ratio: jax.Array | float = 1.0
    lowp_eff_ratio: jax.Array | float = 1.0
    attn_lowp: jax.Array | float = 0.0
    gemm_shape: bool = field(default=False, metadata={"static": True})

    def replace(self, **changes) -> HwSpec:
        """A copy with some numbers changed (e.g. ``mem_bytes_per_s=...`` for what-if studies).

        Changing a device-wide efficiency field (``compute_eff`` ...) also changes the per-class
        entries that inherited it (equal to the old device-wide value) unless the matching
        ``class_*`` field is given too, so what-if studies behave as before classes existed.
        """
        out = {k: (bool(v) if k == "gemm_shape" else jnp.asarray(v, dtype=float)) for k, v in changes.items()}
        if "gemm_rows_half" in out and "gemm_shape" not in out:
            out["gemm_shape"] = True
        for wide, per in CLASS_FIELD_OF.items():
            if wide in out and per not in out:
                old = getattr(self, wide)[..., None]
                cur = getattr(self, per)
                out[per] = jnp.where(cur == old, jnp.asarray(out[wide])[..., None], cur)
        return dataclasses.replace(self, **out)


#: ``HwSpec.intra_topology`` code of each ``hardware_db.Link.topology`` (the position in
#: ``hardware_db.schema.LINK_TOPOLOGIES``).
TOPOLOGY_CODE = {"switch": 0, "full_mesh": 1, "torus": 2}
#: Kernel classes with their own roofline curve in ``HwSpec.class_*`` (index = position).
HW_CLASSES = ("gemm", "attention", "elementwise")
#: device-wide HwSpec field -> per-class HwSpec field (and the Efficiency field both come from)
CLASS_FIELD_OF = {
    "compute_eff": "class_compute_eff",
    "memory_eff": "class_memory_eff",
    "compute_half_flop": "class_compute_half_flop",
    "memory_half_bytes": "class_memory_half_bytes",
    "kernel_overhead_s": "class_kernel_overhead_s",
}
_EFF_NAME = {"compute_eff": "compute", "memory_eff": "memory", "compute_half_flop": "compute_half_flop",
             "memory_half_bytes": "memory_half_bytes", "kernel_overhead_s": "kernel_overhead_s"}


#: Low-precision GEMM dtypes: a compute dtype among these means "the linear-layer GEMMs in this
#: dtype, everything else in the device's higher-precision dtype" (:func:`split_compute_dtype`).
LOWP_DTYPES = ("fp8", "fp4", "int8", "int4")
#: Higher-precision dtypes for the rest of the work, in order of preference.
HIGH_DTYPES = ("bf16", "fp16", "fp32")

def split_compute_dtype(dev: Device, compute_dtype: str) -> tuple[str, str]:
    """``(matrix dtype, low-precision GEMM dtype)`` of a compute dtype on ``dev``.

    A low-precision compute dtype (:data:`LOWP_DTYPES`, e.g. ``fp8``) names the GEMMs of the linear
    layers (Transformer Engine FP8 training, TensorRT-LLM FP8/NVFP4 inference); attention, softmax,
    norms, the LM head and the router run in the device's first higher-precision dtype
    (:data:`HIGH_DTYPES`). Any other dtype is both (no low-precision GEMMs).
    """
    key = str(compute_dtype).strip().lower()
    if key in LOWP_DTYPES:
        high = next((d for d in HIGH_DTYPES if d in dev.peak_flops_per_s), None)
        if high is not None:
            return high, key
    return key, key


def _device_of(hw: Device | System) -> Device:
    return hw.device if isinstance(hw, System) else hw


def slow_tier(device: Device):
    """The tier after main memory in the fastest-first list (SN40L: DDR), or None."""
    names = [t.name for t in device.memory_tiers]
    i = names.index(device.main_memory)
    return device.memory_tiers[i + 1] if i + 1 < len(names) else None


def build_hw(hw: Device | System, compute_dtype: str = "bf16", lowp_attention: bool = False) -> HwSpec:
    """Numbers of ``hw`` for the cost model, with matmuls in ``compute_dtype``.

    A low-precision ``compute_dtype`` (``fp8``, ``fp4``, ``int8``, ``int4``) puts the linear-layer
    GEMMs (``OpInfo.lowp``) in that dtype and the rest in the device's bf16/fp16
    (:func:`split_compute_dtype`): ``matrix_flops_per_s`` is then the bf16 peak and
    ``lowp_peak_ratio`` = peak(fp8) / peak(bf16), ``lowp_eff_ratio`` from the device's ``[efficiency.lowp_gemm]`` (1 where none is given).
    ``lowp_attention``: attention matmuls in the low-precision dtype too (FP8 attention).
    Raises ``HardwareError`` (a ``SimlabError``) when the device has no peak rate for the dtype and
    ``DtypeError`` for an unknown dtype name.
    """
    if not isinstance(hw, (Device, System)):
        raise ConfigError(f"hardware must be a hardware_db Device or System, got {type(hw).__name__}")
    dtype_bytes(compute_dtype)
    dev = _device_of(hw)
    high, low = split_compute_dtype(dev, compute_dtype)
    matrix = dev.peak(high)
    low_peak = dev.peak(low)
    # the device TOML's [efficiency.lowp_gemm] ratio (sourced there); 1 where none is published
    eff_ratio = dev.efficiency.lowp_gemm.get(low, 1.0) if low != high else 1.0
    vector = dev.peak_flops_per_s.get("fp32", matrix)
    slow = slow_tier(dev)
    if isinstance(hw, System):
        intra = hw.intra_node_link
        inter = hw.inter_node_link
        per_node = float(hw.devices_per_node)
    else:
        intra = dev.intra_node_link
        inter = None
        per_node = math.inf
    fabric = {"intra_links_per_device": float(intra.links_per_device) if intra else 1.0,
              "intra_topology": float(TOPOLOGY_CODE[intra.topology]) if intra else 0.0,
              "nvls_eff": float(intra.nvls_efficiency) if intra else 0.0,
              "nvls_latency_s": float(intra.nvls_latency_s) if intra else 0.0,
              "inter_link_eff": float(inter.efficiency) if inter else 0.0}
    eff = dev.efficiency
    vals = dict(
        matrix_flops_per_s=matrix,
        vector_flops_per_s=vector,
        mem_bytes_per_s=dev.memory.bandwidth_bytes_per_s,
        mem_capacity_bytes=dev.memory.capacity_bytes,
        slow_bytes_per_s=slow.bandwidth_bytes_per_s if slow else 0.0,
        slow_capacity_bytes=slow.capacity_bytes if slow else 0.0,
        intra_bytes_per_s=intra.bandwidth_bytes_per_s if intra else 0.0,
        intra_latency_s=intra.latency_s if intra else 0.0,
        inter_bytes_per_s=inter.bandwidth_bytes_per_s if inter else 0.0,
        inter_latency_s=inter.latency_s if inter else 0.0,
        devices_per_node=per_node,
        compute_eff=eff.compute,
        memory_eff=eff.memory,
        link_eff=eff.link,
        compute_half_flop=eff.compute_half_flop,
        memory_half_bytes=eff.memory_half_bytes,
        kernel_overhead_s=eff.kernel_overhead_s,
        tdp_w=dev.tdp_w,
        lowp_peak_ratio=low_peak / matrix,
        lowp_eff_ratio=eff_ratio,
        attn_lowp=1.0 if (lowp_attention and low != high) else 0.0,
        **fabric,
    )
    vals["link_eff"] = eff.for_class("collective")["link"]
    # NumPy arrays of JAX's default float dtype: no eager JAX work (each eager op compiles a small
    # program, ~10-80 ms per CLI query); jit and jax.numpy take them as they are
    dt = jax.dtypes.canonicalize_dtype(float)
    arrays = {k: np.asarray(float(v), dtype=dt) for k, v in vals.items()}
    per_class = [eff.for_class(c) for c in HW_CLASSES]
    for wide, per in CLASS_FIELD_OF.items():
        arrays[per] = np.asarray([float(c[_EFF_NAME[wide]]) for c in per_class], dtype=dt)
    rows_half = float(eff.for_class("gemm").get("gemm_rows_half", 0.0))
    arrays["gemm_rows_half"] = np.asarray(rows_half, dtype=dt)
    return HwSpec(**arrays, gemm_shape=rows_half > 0)


def stack_hw(specs) -> HwSpec:
    """Stack ``HwSpec`` objects along a new leading axis (for ``jax.vmap`` over devices)."""
    specs = list(specs)
    if not specs:
        raise ConfigError("stack_hw: needs at least one HwSpec")
    if any(s.gemm_shape for s in specs):  # one static flag for the stack (rows_half 0 = off per device)
        specs = [dataclasses.replace(s, gemm_shape=True) for s in specs]
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *specs)


def hw_numpy_row(hw: Device | System, compute_dtype: str) -> dict[str, float]:
    """The :func:`build_hw` numbers as plain floats (used by the sweep to build tables); per-class
    fields give one entry per class, ``class_compute_eff.gemm`` ..."""
    spec = build_hw(hw, compute_dtype)
    out = {}
    for f in dataclasses.fields(HwSpec):
        if f.name == "gemm_shape":
            continue
        v = getattr(spec, f.name)
        if f.name in CLASS_FIELD_OF.values():
            out.update({f"{f.name}.{c}": float(v[i]) for i, c in enumerate(HW_CLASSES)})
        else:
            out[f.name] = float(v)
    return out


HW_FIELDS = tuple(f.name for f in dataclasses.fields(HwSpec) if f.name != "gemm_shape")

__all__ = ["CLASS_FIELD_OF", "HIGH_DTYPES", "HW_CLASSES", "HW_FIELDS", "LOWP_DTYPES", "TOPOLOGY_CODE", "HwSpec",
           "build_hw", "hw_numpy_row", "slow_tier", "split_compute_dtype", "stack_hw"]
