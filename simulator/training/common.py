"""Shared pytrees of the training simulator: parallel layout, hardware numbers and options.

Everything numeric is a pytree leaf, so a single layout and a million layouts go through the same
``jax.numpy`` code (leaves broadcast against each other). Units are SI (s, bytes, FLOP/s, W, USD).

Encodings used by the array leaves:

* ``recompute``: 0 = none, 1 = selective (attention core only, Korthikanti et al. 2022 Sec. 5),
  2 = full (every layer's forward is recomputed, Chen et al. 2016; Narayanan et al. 2021).
* ``zero``: ZeRO stage 0-3 (Rajbhandari et al. 2020): 1 shards optimizer state, 2 also gradients,
  3 also weights (= FSDP FULL_SHARD) over the data-parallel group.
* ``offload``: 0 = none, 1 = optimizer state in host DDR, 2 = optimizer state on NVMe
  (ZeRO-Offload / ZeRO-Infinity, Ren et al. 2021, Rajbhandari et al. 2021).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from simulator.dtypes import dtype_bytes
from simulator.errors import ConfigError
from simulator.hw import HwSpec, build_hw

RECOMPUTE = {"none": 0, "selective": 1, "full": 2}
OFFLOAD = {"none": 0, "cpu": 1, "nvme": 2}


def recompute_code(name: str | int) -> int:
    """Map ``none|selective|full`` (or 0/1/2) to its integer code; ``ConfigError`` otherwise."""
    if isinstance(name, (int,)) and name in (0, 1, 2):
        return int(name)
    key = str(name).strip().lower()
    if key not in RECOMPUTE:
        raise ConfigError(f"recompute '{name}' is not known; allowed: none, selective, full")
    return RECOMPUTE[key]


def offload_code(name: str | int) -> int:
    """Map ``none|cpu|nvme`` (or 0/1/2) to its integer code; ``ConfigError`` otherwise."""
    if isinstance(name, (int,)) and name in (0, 1, 2):
        return int(name)
    key = str(name).strip().lower()
    if key not in OFFLOAD:
        raise ConfigError(f"offload '{name}' is not known; allowed: none, cpu, nvme")
    return OFFLOAD[key]


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Layout:
    """A (batch of) parallel layout(s). Every field is an int array; shapes broadcast.

    ``tp * pp * dp * cp`` is the device count. ``ep`` (expert parallel) splits the experts of MoE
    layers over a sub-group of the data-parallel ranks, so it must divide ``dp``. ``virtual_stages``
    is the interleaved-1F1B factor ``v`` (Narayanan et al. 2021 Sec. 2.2.2): 1 = plain 1F1B.
    ``first_stage_layers`` / ``last_stage_layers``: layers of the first / last pipeline stage when
    the stages are uneven (Megatron-LM ``--decoder-first/last-pipeline-num-layers``; 0 = even
    split); the middle stages share the rest (``simulator.layout_rule``).
    """

    tp: jax.Array
    pp: jax.Array
    dp: jax.Array
    cp: jax.Array
    ep: jax.Array
    micro_batch: jax.Array
    virtual_stages: jax.Array
    recompute: jax.Array
    zero: jax.Array
    offload: jax.Array
    first_stage_layers: jax.Array | int = 0
    last_stage_layers: jax.Array | int = 0

    @staticmethod
    def make(tp=1, pp=1, dp=1, cp=1, ep=1, micro_batch=1, virtual_stages=1, recompute="none", zero=0,
             offload="none", first_stage_layers=0, last_stage_layers=0) -> Layout:
        """Build a layout from Python values (names for ``recompute`` / ``offload`` accepted)."""
        rc = recompute if not isinstance(recompute, str) else recompute_code(recompute)
        of = offload if not isinstance(offload, str) else offload_code(offload)
        return Layout(*(np.asarray(x, dtype=np.int32) for x in
                        (tp, pp, dp, cp, ep, micro_batch, virtual_stages, rc, zero, of, first_stage_layers,
                         last_stage_layers)))

    @property
    def devices(self):
        return self.tp * self.pp * self.dp * self.cp

    def index(self, i) -> Layout:
        """The layout(s) at index ``i`` of a batched layout."""
        return Layout(*(np.asarray(getattr(self, f.name))[i] for f in dataclasses.fields(self)))

    def to_dict(self, i=None) -> dict:
        """Plain-Python description of layout ``i`` (or of a scalar layout)."""
        out = {}
        for f in dataclasses.fields(self):
            v = np.asarray(getattr(self, f.name))
            out[f.name] = int(v if i is None else v[i])
        inv_r = {v: k for k, v in RECOMPUTE.items()}
        inv_o = {v: k for k, v in OFFLOAD.items()}
        out["recompute"] = inv_r[out["recompute"]]
        out["offload"] = inv_o[out["offload"]]
        return out


PCIE4_X16_BYTES_PER_S = 31.5e9
"""PCIe 4.0 x16 per direction: 16 GT/s x 16 lanes x 128/130 / 8 (PCI-SIG Base Spec 4.0)."""

NVME_BYTES_PER_S = 7.0e9
"""Sequential read of one PCIe 4.0 x4 NVMe SSD (about 7 GB/s, e.g. Samsung 990 Pro datasheet)."""


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class TrainHardware:
    """Numbers of one system for the training model: the shared :class:`simulator.hw.HwSpec`
    (peaks, memory, links, efficiencies; see ``simulator.roofline``) plus what only training needs.

    * ``host_bytes_per_s``: device <-> host link per direction, used by optimizer offload
      (default PCIe 4.0 x16, :data:`PCIE4_X16_BYTES_PER_S`; the catalog has no host-link entry).
    * ``nvme_bytes_per_s``: NVMe bandwidth per device for ZeRO-Infinity (:data:`NVME_BYTES_PER_S`).
    * ``power_w``: board power while training (device TDP). ``price_per_hour_usd``: per device
      (NaN when the catalog has no price).
    """

    spec: HwSpec
    host_bytes_per_s: jax.Array
    nvme_bytes_per_s: jax.Array
    power_w: jax.Array
    price_per_hour_usd: jax.Array

    @property
    def hbm_capacity_bytes(self):
        return self.spec.mem_capacity_bytes


def train_hardware(system, dtype: str = "bf16", host_bytes_per_s: float | None = None,
                   nvme_bytes_per_s: float | None = None, price_per_hour_usd: float | None = None,
                   ) -> TrainHardware:
    """Build :class:`TrainHardware` from a catalog ``System`` (or ``Device``) and the compute dtype."""
    spec = build_hw(system, dtype)
    dev = system.device if hasattr(system, "device") else system
    price = price_per_hour_usd if price_per_hour_usd is not None else dev.price_per_hour_usd
    vals = (host_bytes_per_s or PCIE4_X16_BYTES_PER_S, nvme_bytes_per_s or NVME_BYTES_PER_S,
            float(dev.tdp_w), float("nan") if price is None else float(price))
    dt = jax.dtypes.canonicalize_dtype(float)  # NumPy, as build_hw: no eager JAX work
    return TrainHardware(spec, *(np.asarray(float(v), dtype=dt) for v in vals))


def replica_ranks(layout: Layout):
    """Ranks holding the same weights, over which gradients are reduced and ZeRO states sharded:
    ``dp x cp``. Context-parallel ranks compute gradients on other tokens of the same sequences, so
    Megatron-Core reduces over its data-and-context-parallel group
    (``megatron/core/distributed/param_and_grad_buffer.py``: ``get_data_and_context_parallel_group(
    with_context_parallel=True)``; the distributed optimizer shards over the same group)."""
    return jnp.asarray(layout.dp, dtype=float) * jnp.asarray(layout.cp, dtype=float)


def expert_replica_ranks(layout: Layout):
    """Ranks holding the same expert weights: the replica ranks over the expert-parallel degree,
    ``max(dp x cp / ep, 1)`` (expert parallelism splits the experts across the replica ranks)."""
    return jnp.maximum(replica_ranks(layout) / jnp.asarray(layout.ep, dtype=float), 1.0)


@dataclass(frozen=True)
class TrainOptions:
    """Static choices of the training recipe (not searched). Bytes per element from ``dtypes``.

    * ``dtype``: compute / weight / activation format (peak FLOP/s of this dtype is used). A
      low-precision dtype (``fp8``, ``fp4``; ``simulator.hw.LOWP_DTYPES``) selects the Transformer
      Engine recipe (NVIDIA Transformer Engine docs; Micikevicius et al. 2022, "FP8 Formats for Deep
      Learning"): the GEMMs of the linear layers run in that dtype (forward and both backward
      GEMMs), with an amax + cast + transpose of their inputs, weights and output gradients
      (``ops.lowp_cast`` / ``lowp_cast_grad``); attention (FlashAttention), softmax, norms, the LM
      head, the optimizer, stored activations, weights and communicated tensors stay in bf16
      (:attr:`act_dtype`). MFU of :func:`simulator.training.step.train_step` is then relative to
      the bf16 peak (``matrix_flops_per_s``); multiply by ``1 / HwSpec.lowp_peak_ratio`` for the
      FP8-peak convention (MosaicML llm-foundry).
    * ``grad_dtype``: format of the gradients that are stored and reduced over data parallelism.
    * ``optimizer_bytes_per_param``: mixed-precision Adam = fp32 master + 2 fp32 moments = 12
      (the ``K = 12`` of Rajbhandari et al. 2020).
    * ``flash_attention``: fused attention (Dao et al. 2022): causal half of ``QK^T``/``PV`` work,
      no ``s x s`` tensors in HBM, backward = 2.5x forward matmul work. ``False`` materialises
      the score matrix as Megatron-LM did in 2021 (full ``s^2`` work, softmax/dropout traffic).
    * ``dropout``: dropout masks stored (1 byte per element) as in Korthikanti et al. 2022 Eq. 1.
    * ``sequence_parallel``: Megatron sequence parallelism with TP (Korthikanti 2022 Sec. 4.2.2).
    * ``tp_comm_overlap``: fraction of TP collective time hidden behind GEMMs (0 = Megatron 2021).
    * ``grad_overlap``: data-parallel gradient reduction overlaps the last micro-batch's backward
      (ZeRO-3: each micro-batch's reduce-scatters overlap its backward; ``False`` puts them on the
      critical path, as DeepSpeed's 2021 stage 3 did, ``simulator.training.data_parallel``).
    * ``zero3_prefetch``: ZeRO-3 weight all-gathers overlap compute (DeepSpeed/FSDP prefetch), each
      pass's gathers behind that pass's own compute only.
    * ``zero3_persistence_threshold``: ZeRO-3 leaves weights of operators holding at most this many
      elements per device unpartitioned (no gather, no reduce-scatter call): DeepSpeed's
      ``stage3_param_persistence_threshold``, default 1e5 (microsoft/DeepSpeed
      deepspeed/runtime/zero/config.py, ``DeepSpeedZeroConfig.param_persistence_threshold =
      Field(pp_int(1e5))``: "Do not partition parameters smaller than this threshold"), which keeps
      norms and biases resident (their few bytes stay whole on each device; not counted in memory);
      0 gathers every weight-holding operator.
    * ``grad_accum_dtype``: format of the gradient-accumulation buffer (fp32 "main grads" in
      Megatron-LM and DeepSpeed mixed precision).
    * ``optimizer_extra_passes``: extra full passes over the fp32 gradients before Adam (fp16
      loss-scale unscale + inf check = read/write, global-norm clipping = read + scale r/w);
      0 for bf16 recipes without clipping traffic worth counting.
    * ``dp_bucket_params``: weights per gradient-reduction bucket (one collective call each):
      4e7, Megatron-core ``DistributedDataParallel`` (``bucket_size = max(40000000, 1000000 * dp)``,
      megatron/core/distributed/distributed_data_parallel.py); ``inf`` = one contiguous buffer
      (Megatron-LM 2021 "local" DDP). ``dp_bucket_params_per_rank``: the bucket grows with the
      data-parallel size, ``max(dp_bucket_params, dp_bucket_params_per_rank x dp)`` (same source).
      See ``simulator.training.data_parallel``.
    * ``mfu_attention``: attention FLOPs in MFU's model FLOPs, ``causal`` (default) or ``full``
      (``s x s``, PaLM / Megatron-LM / MosaicML); see ``simulator.training.flops``.
    * ``dp_node_aware``: data-parallel and ZeRO collectives run as NCCL's node-aware rings/trees
      (``True``: of a rank's traffic only the share ``1/r`` of its ``r`` node mates crosses its NIC,
      ``simulator.collectives.collective_time_s``). ``False`` prices them as if every rank were alone
      in its node (its whole share crosses its own NIC share): how the 2021 DeepSpeed ZeRO-3 rows of
      Narayanan et al. 2021 Table 2 behave (throughput x GPUs stays roughly constant from 384 to 1,536
      GPUs: a per-GPU gather rate of 11-18 GB/s, below one 25 GB/s HDR NIC, where NCCL's node-aware
      ring would move ~8x that). An assumption inferred from those rows, not an independent
      prediction (docs/training.md, "Collectives").
    * ``slow_node_fraction``, ``slow_node_penalty``: stragglers. A synchronous step waits for its
      slowest node; a node is a slow host with probability ``q = slow_node_fraction`` and a job with
      at least one slows by ``slow_node_penalty`` of its step, so the expected straggler time is
      ``straggler_s = penalty x (1 - (1 - q)^nodes) x step`` (grows with the node count and
      saturates). Defaults from MegaScale (Jiang et al., NSDI '24, arXiv:2402.15627): "a minor
      fraction of machines (approximately 0.5%) exhibit substantially slower performance" (Sec. 5.1);
      removing such hosts, which "took approximately 10% more time to execute the same forward
      computations", gave an "approximate 0.7% improvement in MFU" (Sec. 6.3) on a >10,000-GPU
      job, read as 0.7 MFU points (the paper's unit in Table 3) of its 55.2 %: ``0.007 / 0.552 =
      0.0127``. Set ``slow_node_fraction = 0`` for a cluster that screens slow hosts out.
    * ``lowp_scaling``: FP8 per-tensor scaling of the low-precision recipe, ``delayed`` (the scale
      from the amax history, Transformer Engine's ``DelayedScaling``; Megatron-Core r0.12 and NeMo
      24.x) or ``current`` (``Float8CurrentScaling``, "FP8-CS" of the Megatron-Bridge tables): one
      more read of every cast's input (``simulator.formats.CAST_READS``).
    * ``grad_accum_fusion``: the weight-gradient GEMM accumulates into that buffer in its epilogue
      (Megatron ``--gradient-accumulation-fusion``, 2022+). Without it every micro-batch's weight
      gradients are added to the buffer by a separate kernel: ``P (g + 2 acc)`` bytes of HBM
      traffic per micro-batch (Megatron-LM 2021 ``main_grad.add_(grad)`` hooks).
    """

    dtype: str = "bf16"
    grad_dtype: str = "bf16"
    optimizer_bytes_per_param: float = 12.0
    flash_attention: bool = True
    dropout: bool = True
    sequence_parallel: bool = True
    tp_comm_overlap: float = 0.0
    grad_overlap: bool = True
    zero3_prefetch: bool = True
    zero3_persistence_threshold: float = 1e5
    grad_accum_dtype: str = "fp32"
    grad_accum_fusion: bool = True
    optimizer_extra_passes: float = 0.0
    mfu_attention: str = "causal"
    dp_bucket_params: float = 4.0e7
    dp_bucket_params_per_rank: float = 1.0e6
    dp_node_aware: bool = True
    slow_node_fraction: float = 0.005
    slow_node_penalty: float = 0.0127
    lowp_scaling: str = "delayed"

    def __post_init__(self):
        from simulator.training.flops import check_mfu_attention

        check_mfu_attention(self.mfu_attention)
        dtype_bytes(self.dtype)
        dtype_bytes(self.grad_dtype)
        dtype_bytes(self.grad_accum_dtype)
        for name in ("slow_node_fraction", "slow_node_penalty"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= float(self.tp_comm_overlap) <= 1.0:
            raise ConfigError(f"tp_comm_overlap must be in [0, 1], got {self.tp_comm_overlap}")
        from simulator.formats import CAST_READS

        if self.lowp_scaling not in CAST_READS:
            raise ConfigError(f"lowp_scaling '{self.lowp_scaling}' is not known; allowed: {', '.join(CAST_READS)}")

    @property
    def lowp_dtype(self) -> str:
        """The low-precision GEMM dtype of the recipe (``fp8``, ``fp4``), or ``""`` for none."""
        from simulator.hw import LOWP_DTYPES

        return self.dtype if self.dtype in LOWP_DTYPES else ""

    @property
    def act_dtype(self) -> str:
        """Format of activations, weights as the kernels read them outside the low-precision
        GEMMs, and communicated tensors: ``dtype``, or bf16 under a low-precision recipe."""
        return "bf16" if self.lowp_dtype else self.dtype

    @property
    def act_bytes(self) -> float:
        return dtype_bytes(self.act_dtype)

    @property
    def cast_bytes(self) -> float:
        """Bytes per element of the low-precision GEMM operands the recipe casts to (0 = none)."""
        return dtype_bytes(self.lowp_dtype) if self.lowp_dtype else 0.0

    @property
    def cast_reads(self) -> float:
        """Passes over a cast's input under :attr:`lowp_scaling` (``simulator.formats.CAST_READS``)."""
        from simulator.formats import CAST_READS

        return CAST_READS[self.lowp_scaling]

    @property
    def grad_bytes(self) -> float:
        return dtype_bytes(self.grad_dtype)


MEGATRON_2021 = TrainOptions(dtype="fp16", grad_dtype="fp16", flash_attention=False, dropout=True,
                             sequence_parallel=False, tp_comm_overlap=0.0, grad_accum_fusion=False,
                             grad_overlap=False, optimizer_extra_passes=5.0, mfu_attention="full",
                             dp_bucket_params=float("inf"))
"""Recipe of Narayanan et al. 2021 (Megatron-LM of 2021): fp16, materialised attention, dropout,
no sequence parallelism, no TP overlap, unfused fp32 gradient accumulation, gradient all-reduce
after the backward ("local" DDP, not overlapped), fp16 loss-scaling + clipping passes
(unscale r/w = 2, norm read = 1, clip r/w = 2 passes over the fp32 gradients)."""

MEGATRON_2022 = dataclasses.replace(MEGATRON_2021, sequence_parallel=True, grad_accum_fusion=True)
"""Recipe of Korthikanti et al. 2022: as 2021 plus sequence parallelism and gradient-accumulation
fusion (both arrive with ``LinearWithGradAccumulationAndAsyncCommunication`` in Megatron-LM)."""
