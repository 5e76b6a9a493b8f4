"""Data types of the hardware catalog (frozen dataclasses, SI units).

Conventions (see docs/hardware.md):

- Peak rates are *dense* FLOP/s (2 FLOP per multiply-add; no 2:4 sparsity).
- Bandwidths are bytes/s **per direction**; capacities are bytes (1 GB = 1e9 bytes).
- Efficiency curve: ``achieved = peak * max_eff * x / (x + half)`` where ``x`` is the work of one
  kernel (FLOP or bytes); see ``simulator.roofline.kernel_time_s``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from hardware_db.errors import HardwareError

DTYPES = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4", "fp4")
TIER_NAMES = ("sram", "hbm", "ddr", "lpddr", "gddr", "unified")
KINDS = ("gpu", "tpu", "rdu", "npu", "soc", "cpu")
#: Kernel classes that may carry their own efficiency numbers (``Efficiency.classes``):
#: ``gemm`` weight GEMMs (MoE experts, router, LM head included), ``attention`` fused QK^T/softmax/PV,
#: ``elementwise`` norms, activations, residual adds, RoPE, softmax outside attention, embedding
#: gather, ``collective`` link efficiency of collectives.
EFFICIENCY_CLASSES = ("gemm", "attention", "elementwise", "collective")
#: Fields a class may override (``collective`` only the link efficiency; the others everything else).
CLASS_FIELDS: dict[str, tuple[str, ...]] = {
    # gemm_rows_half: optional GEMM-shape term, a GEMM of M output rows computes the padded work
    # F (M + gemm_rows_half) / M (simulator.roofline.gemm_kernel_time_s); absent or 0 = off
    "gemm": ("compute", "memory", "compute_half_flop", "memory_half_bytes", "kernel_overhead_s", "gemm_rows_half"),
    "attention": ("compute", "memory", "compute_half_flop", "memory_half_bytes", "kernel_overhead_s"),
    "elementwise": ("compute", "memory", "compute_half_flop", "memory_half_bytes", "kernel_overhead_s"),
    "collective": ("link",),
}
EFFICIENCY_FIELDS = ("compute", "memory", "link", "compute_half_flop", "memory_half_bytes", "kernel_overhead_s")
#: Low-precision GEMM dtypes that ``Efficiency.lowp_gemm`` may give a ratio for.
LOWP_GEMM_DTYPES = ("fp8", "fp4", "int8", "int4")

#: Finite range (low, high), SI units, of every number a device or system TOML may hold, keyed by
#: field name. Deliberately generous (a wafer-scale engine and a phone both fit); what lies outside is
#: not a physical accelerator and would overflow the simulator's float32 arithmetic (a capacity of
#: 1e300 bytes) or underflow it (a bandwidth of 1e-300 bytes/s). Stated once here, checked by
#: ``hardware_db.parse`` and listed in docs/input_validation.md.
VALUE_RANGES: dict[str, tuple[float, float]] = {
    "peak_flops_per_s": (1e6, 1e19),        # FLOP/s per device (WSE-3: 1.25e17)
    "capacity_bytes": (1e3, 1e16),          # bytes per memory tier (10 PB)
    "bandwidth_bytes_per_s": (1e6, 1e17),   # bytes/s, memory tiers and links (WSE-3 SRAM: 2.1e16)
    "latency_s": (0.0, 1.0),                # s, link latency
    "l2_bytes": (0.0, 1e12),                # bytes
    "tdp_w": (1e-3, 1e6),                   # W (WSE-3 system: 2.3e4)
    "idle_w": (0.0, 1e6),                   # W
    "price_per_hour_usd": (0.0, 1e5),       # USD per device-hour
    "compute_half_flop": (0.0, 1e18),       # FLOP per kernel
    "memory_half_bytes": (0.0, 1e15),       # bytes per kernel
    "kernel_overhead_s": (0.0, 1.0),        # s per kernel
    "gemm_rows_half": (0.0, 1e7),           # rows
    "devices_per_node": (1.0, 1e5),         # devices
    "nodes": (1.0, 1e6),                    # nodes
}


def value_range(where: str) -> tuple[float, float] | None:
    """The :data:`VALUE_RANGES` entry of a field path such as ``memory[0].capacity_bytes`` or
    ``peak_flops_per_s.bf16.value`` (None when the field has no range of its own)."""
    for part in reversed([p.split("[")[0] for p in where.split(".")]):
        if part in VALUE_RANGES:
            return VALUE_RANGES[part]
    return None


def _check_eff_value(where: str, name: str, value) -> float:
    """One efficiency number as a plain float; HardwareError naming ``where`` if out of range."""
    try:
        number = float(value) if not isinstance(value, (bool, str)) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if name in ("compute", "memory", "link"):
        if not 0.0 < number <= 1.0:
            raise HardwareError(f"{where} = {value!r}; allowed: a number in (0, 1]")
    elif not (math.isfinite(number) and number >= 0.0):
        raise HardwareError(f"{where} = {value!r}; allowed: a finite number >= 0")
    elif name in VALUE_RANGES and not VALUE_RANGES[name][0] <= number <= VALUE_RANGES[name][1]:
        lo, hi = VALUE_RANGES[name]
        raise HardwareError(f"{where} = {value!r}; allowed: a number in [{lo:g}, {hi:g}]")
    return number


@dataclass(frozen=True)
class MemoryTier:
    """One level of the memory hierarchy: capacity (bytes) and bandwidth (bytes/s)."""

    name: str
    capacity_bytes: float
    bandwidth_bytes_per_s: float
    source: str


#: How a device's peer links reach the other devices of a node (``Link.topology``):
#: ``switch``: every device reaches any peer at its full link bandwidth (NVSwitch, a PCIe switch);
#: ``full_mesh``: ``links_per_device`` direct links, one per peer (AMD MI300X xGMI: 7 links of
#: 64 GB/s per direction), so a group of ``r`` devices uses ``min(r - 1, links)`` links;
#: ``torus``: ``links_per_device`` neighbour links (2 per torus axis; TPU ICI).
LINK_TOPOLOGIES = ("switch", "full_mesh", "torus")


@dataclass(frozen=True)
class Link:
    """A point-to-point or per-device network link; bandwidth is per direction.

    ``bandwidth_bytes_per_s`` is the device's whole bandwidth for ``topology = "switch"`` (the
    default) and the rate of ONE link for ``full_mesh`` / ``torus``, which have
    ``links_per_device`` such links. ``nvls_efficiency`` > 0 marks NVLink SHARP (in-switch
    reduction, H100 and later NVSwitch systems) and is NCCL's efficiency factor for it; 0 = none.
    ``efficiency`` > 0: the fraction of this link's rate a large collective reaches (a NIC's, which
    differs from NVLink's), overriding the device's ``Efficiency.link`` for this link; 0 = inherit.
    ``nvls_latency_s`` > 0: the measured start-up time of an NVLS all-reduce on this fabric
    (nccl-tests, sourced in the TOML); 0 = NCCL's tuner value
    (``simulator.collectives.NVLS_LATENCY_S``). The fields default so that older TOML files mean
    what they meant.
    """

    name: str
    bandwidth_bytes_per_s: float
    latency_s: float
    source: str
    topology: str = "switch"
    links_per_device: int = 1
    nvls_efficiency: float = 0.0
    efficiency: float = 0.0
    nvls_latency_s: float = 0.0


@dataclass(frozen=True)
class Efficiency:
    """Saturating efficiency curve: ``achieved = peak * max_eff * x / (x + half)``.

    Fields map 1:1 onto ``simulator.roofline.kernel_time_s`` arguments. ``classes`` optionally
    overrides some of them for one kernel class (:data:`EFFICIENCY_CLASSES`), e.g.
    ``{"elementwise": {"memory": 0.45}, "collective": {"link": 0.9}}``: only the numbers given
    override the device-wide ones (:meth:`for_class`); without ``classes`` every kernel uses the
    device-wide curve, exactly as before classes existed.
    """

    compute: float
    memory: float
    link: float
    compute_half_flop: float
    memory_half_bytes: float
    kernel_overhead_s: float
    source: str
    classes: Mapping[str, Mapping[str, float]] = field(default_factory=dict, hash=False, compare=True)
    lowp_gemm: Mapping[str, float] = field(default_factory=dict, hash=False, compare=True)
    lowp_source: str = ""

    def __post_init__(self) -> None:
        for name in EFFICIENCY_FIELDS:
            number = _check_eff_value(f"efficiency.{name}", name, getattr(self, name))
            object.__setattr__(self, name, number)  # plain float (accepts numpy/JAX scalars)
        raw = self.classes if self.classes is not None else {}
        if not isinstance(raw, Mapping):
            raise HardwareError(f"efficiency.classes = {raw!r}; allowed: a table class -> {{field = number}}")
        clean: dict[str, dict[str, float]] = {}
        for cls, values in raw.items():
            if cls not in CLASS_FIELDS:
                raise HardwareError(f"efficiency.classes.{cls}: unknown kernel class; allowed: "
                                    f"{', '.join(EFFICIENCY_CLASSES)}")
            if not isinstance(values, Mapping):
                raise HardwareError(f"efficiency.classes.{cls} = {values!r}; allowed: a table field -> number")
            allowed = CLASS_FIELDS[cls]
            out = {}
            for name, value in values.items():
                if name not in allowed:
                    raise HardwareError(f"efficiency.classes.{cls}.{name}: unknown field; allowed: {', '.join(allowed)}")
                out[name] = _check_eff_value(f"efficiency.classes.{cls}.{name}", name, value)
            if out:
                clean[str(cls)] = out
        object.__setattr__(self, "classes", clean)
        lowp = self.lowp_gemm if self.lowp_gemm is not None else {}
        if not isinstance(lowp, Mapping):
            raise HardwareError(f"efficiency.lowp_gemm = {lowp!r}; allowed: a table dtype -> ratio")
        ratios = {}
        for dt, value in lowp.items():
            if dt not in LOWP_GEMM_DTYPES:
                raise HardwareError(f"efficiency.lowp_gemm.{dt}: unknown dtype; allowed: {', '.join(LOWP_GEMM_DTYPES)}")
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number) or not 0.0 < number <= 2.0:
                raise HardwareError(f"efficiency.lowp_gemm.{dt} = {value!r}; allowed: a number in (0, 2] (the "
                                    "dtype's GEMM efficiency over the compute dtype's)")
            ratios[str(dt)] = number
        if ratios and not str(self.lowp_source).strip():
            raise HardwareError("efficiency.lowp_gemm: missing source; say where the ratios come from")
        object.__setattr__(self, "lowp_gemm", ratios)

    def for_class(self, cls: str) -> dict[str, float]:
        """The six curve numbers (:data:`EFFICIENCY_FIELDS`) of kernel class ``cls``: the device-wide
        values with the class's overrides applied. HardwareError for an unknown class.

        The device-wide ``compute_half_flop`` describes GEMM start-up work (tile/wave
        quantisation); elementwise kernels have none, so the ``elementwise`` class inherits 0 unless
        it sets its own (``simulator.pricing``: memory-bound work starts up through
        ``memory_half_bytes`` and ``kernel_overhead_s``)."""
        if cls not in CLASS_FIELDS:
            raise HardwareError(f"efficiency class '{cls}' is unknown; allowed: {', '.join(EFFICIENCY_CLASSES)}")
        base = {f: getattr(self, f) for f in EFFICIENCY_FIELDS}
        if cls == "elementwise":
            base["compute_half_flop"] = 0.0
        return {**base, **self.classes.get(cls, {})}


@dataclass(frozen=True)
class Device:
    """One accelerator (or SoC/CPU) with sourced peak rates, memory tiers, power and efficiency.

    ``sources`` maps a field path (``peak_flops_per_s.bf16``, ``tdp_w``, ``memory.hbm`` ...) to
    its source; ``unset`` maps a field left empty on purpose to the reason.
    """

    name: str
    aliases: tuple[str, ...]
    vendor: str
    kind: str
    peak_flops_per_s: Mapping[str, float]
    memory_tiers: tuple[MemoryTier, ...]
    main_memory: str
    l2_bytes: float | None
    tdp_w: float
    idle_w: float | None
    intra_node_link: Link | None
    price_per_hour_usd: float | None
    efficiency: Efficiency
    sources: Mapping[str, str]
    notes: str
    path: str
    unset: Mapping[str, str] = field(default_factory=dict)

    def peak(self, dtype: str) -> float:
        """Dense peak FLOP/s (or OP/s for int types) for ``dtype``; HardwareError if absent."""
        key = str(dtype).lower()
        if key not in self.peak_flops_per_s:
            have = ", ".join(self.peak_flops_per_s) or "none"
            why = f" ({self.unset[key]})" if key in self.unset else ""
            raise HardwareError(
                f"device '{self.name}' has no peak rate for dtype '{dtype}'{why}; it has: {have}"
            )
        return self.peak_flops_per_s[key]

    def tier(self, name: str) -> MemoryTier:
        """The memory tier called ``name``; HardwareError naming the tiers that exist if absent."""
        for tier in self.memory_tiers:
            if tier.name == name:
                return tier
        have = ", ".join(t.name for t in self.memory_tiers)
        raise HardwareError(f"device '{self.name}' has no memory tier '{name}'; it has: {have}")

    @property
    def memory(self) -> MemoryTier:
        """The tier that holds weights and KV cache by default (``tier(main_memory)``)."""
        return self.tier(self.main_memory)

    def with_efficiency(self, eff: Efficiency) -> Device:
        """A copy of this device with its efficiency curve replaced (calibration profiles)."""
        if not isinstance(eff, Efficiency):
            raise HardwareError(f"with_efficiency needs an Efficiency, got {type(eff).__name__}")
        return dataclasses.replace(self, efficiency=eff)


@dataclass(frozen=True)
class System:
    """A node shape (devices per node, links, topology) times a node count.

    ``inter_node_link`` is the per-device share of the node's NICs, per direction. A system that
    cannot span nodes (a phone) has ``inter_node_link = None`` and cannot be scaled beyond 1 node;
    a system whose peer link is unpublished (SN40L) has ``intra_node_link = None`` (see ``notes``).
    """

    name: str
    aliases: tuple[str, ...]
    device: Device
    devices_per_node: int
    nodes: int
    intra_node_link: Link | None
    inter_node_link: Link | None
    topology: str
    sources: Mapping[str, str]
    notes: str
    path: str
    unset: Mapping[str, str] = field(default_factory=dict)
    #: Multi-site deployment (optional ``[sites]`` table): ``sites`` copies of this system (each one
    #: site of ``nodes`` nodes) joined by ``wan_link`` (per site, per direction); 1 / None otherwise.
    sites: int = 1
    wan_link: Link | None = None

    @property
    def num_devices(self) -> int:
        """Total device count = devices_per_node * nodes (one site)."""
        return self.devices_per_node * self.nodes

    def scaled(self, nodes: int) -> System:
        """The same node shape with ``nodes`` nodes (an int >= 1)."""
        if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
            raise HardwareError(f"system '{self.name}': nodes = {nodes!r}; allowed: an integer >= 1")
        if nodes > 1 and self.inter_node_link is None:
            raise HardwareError(
                f"system '{self.name}' has no inter-node link; allowed: nodes = 1 (asked for {nodes})"
            )
        return dataclasses.replace(self, nodes=nodes)

    def for_devices(self, n: int) -> System:
        """The smallest system holding exactly ``n`` devices.

        ``n <= devices_per_node``: one (partial) node of ``n`` devices. ``n > devices_per_node``:
        ``n / devices_per_node`` whole nodes; HardwareError if ``n`` is not a multiple.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise HardwareError(f"system '{self.name}': device count {n!r}; allowed: an integer >= 1")
        per = self.devices_per_node
        if n <= per:
            return dataclasses.replace(self, devices_per_node=n, nodes=1)
        if n % per:
            raise HardwareError(
                f"system '{self.name}': {n} devices cannot be formed from whole nodes of {per}; "
                f"allowed: n <= {per} or a multiple of {per}"
            )
        return self.scaled(n // per)
