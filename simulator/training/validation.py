"""Training predictions against published measurements (``data/validation/training_rows.csv``).

Each row of the table names a measured result of ``../shared/reference/measured_public.csv`` by
its ``id`` and the layout it ran with (micro-batch sizes and interleaving of Narayanan et al. 2021
Table 1 come from NVIDIA/Megatron-LM ``examples/sc21/run_table_1.sh``; other assumptions are stated
per row). :func:`predict_rows` evaluates every row with the catalog's default efficiencies and
returns predicted vs measured values in the source's own FLOP convention:

* ``achieved_tflops_per_gpu`` (Narayanan 2021): Eq. 3 FLOPs (full recompute counted) per second
  per GPU, :func:`simulator.training.flops.megatron_flops_per_iteration`;
* ``mfu`` (Korthikanti 2022, MosaicML llm-foundry): model FLOPs ``6 N + 12 L s d`` per token
  (attention over the full ``s x s`` matrix) over the dense peak of the row's dtype (FP8 rows: the
  FP8 peak, as llm-foundry reports them; the model runs the Transformer Engine recipe of
  ``TrainOptions.dtype = "fp8"``).

* ``tokens_per_s_per_gpu`` (NeMo performance tables): ``global_batch x seq_len / (step x GPUs)``.

Recipes: ``megatron2021`` (:data:`MEGATRON_2021`), ``megatron2022`` (:data:`MEGATRON_2022`),
``nemo2024`` (:data:`NEMO_2024`; with ``dtype = fp8`` the Transformer Engine FP8 recipe),
``deepspeed2021`` (:data:`DEEPSPEED_ZERO3_2021`), ``fsdp_flash`` (PyTorch FSDP + FlashAttention, no dropout, no sequence parallelism),
``megatron_deepspeed2022`` (:data:`MEGATRON_DEEPSPEED_2022`, BLOOM's stack; whole-run rows). Megatron
recipes in bf16 reduce fp32 gradients.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.errors import ConfigError
from simulator.resources import data_dir
from simulator.training.common import (
    MEGATRON_2021,
    MEGATRON_2022,
    Layout,
    TrainOptions,
    recompute_code,
    train_hardware,
)
from simulator.training.flops import megatron_flops_per_iteration
from simulator.training.layouts import evaluate_layouts

ROWS_CSV = data_dir("validation") / "training_rows.csv"  # package data (simulator.resources)
#: Published low-precision (FP8) training runs that are not in ``measured_public.csv``, with their
#: layouts and sources (``data/validation/training_rows.md``, "Low-precision rows").
LOWP_ROWS_CSV = data_dir("validation") / "lowp_training_rows.csv"

# MosaicML MPT shapes (mosaicml/llm-foundry scripts/train/yamls/pretrain/mpt-*.yaml: d_model,
# n_heads, n_layers, expansion_ratio 4, vocab 50368, no biases, LayerNorm, tied LM head).
MPT_SHAPES = {"mpt-3b": (2560, 32, 32), "mpt-7b": (4096, 32, 32), "mpt-13b": (5120, 40, 40),
              "mpt-70b": (8192, 64, 80)}

#: Published models described as a change of a catalog model (name -> (catalog model, fields)).
#: MegaScale's 175B (Jiang et al. 2024, arXiv:2402.15627, Table 1 and Sec. 6.1): GPT-3's 96 layers
#: and hidden 12288 with 128 heads (head dim 96) and a 64,000-token vocabulary.
#: MegaScale's 530B: Megatron's 529.6B shape (105 layers, hidden 20480) with 160 heads (head dim 128).
DERIVED_SPECS = {
    "megascale-175b": ("gpt3-175b", dict(num_heads=128, num_kv_heads=128, head_dim=96, vocab_size=64000)),
    "megascale-530b": ("megatron-gpt-529.6b", dict(num_heads=160, num_kv_heads=160, head_dim=128, vocab_size=64000)),
}

#: Published at-scale runs not in ``measured_public.csv`` (MegaScale Table 2 and Figure 9, the
#: Megatron-LM rows: 175B at 256 -> 12,288 GPUs, 530B at 2,240 -> 11,200), with their layouts and
#: sources (``training_rows.md``).
ATSCALE_ROWS_CSV = data_dir("validation") / "atscale_training_rows.csv"

FSDP_FLASH = TrainOptions(dtype="bf16", grad_dtype="bf16", flash_attention=True, dropout=False,
                          sequence_parallel=False, grad_accum_fusion=False, mfu_attention="full")


DEEPSPEED_ZERO3_2021 = dataclasses.replace(MEGATRON_2021, zero3_prefetch=True, grad_overlap=False, dp_node_aware=False)
"""DeepSpeed ZeRO-3 as run in Narayanan et al. 2021 Table 2: the 2021 Megatron kernels, the
per-micro-batch parameter all-gathers prefetched (each hidden behind its own pass's compute), the
gradient reduce-scatters on the critical path (``grad_overlap=False``: DeepSpeed's 2021
``stage3.py`` ``reduce_ipg_grads`` blocks the gradient hook on ``reduction_stream.synchronize()``
before each bucket; assumed, docs/training.md), and with each rank's share of every gather
crossing its own NIC (``dp_node_aware=False``: the per-GPU rate those rows imply, 11-18 GB/s, is
below one NIC's and far below NCCL's node-aware ring; an assumption inferred from the rows)."""


NEMO_2024 = TrainOptions(dtype="bf16", grad_dtype="bf16", flash_attention=True, dropout=False,
                         sequence_parallel=True, tp_comm_overlap=1.0, grad_overlap=True, grad_accum_fusion=True)
"""NeMo 24.07 / Megatron-Core performance recipes (NVIDIA/NeMo ``docs/source/performance``):
Transformer Engine (cuDNN fused attention), sequence parallelism, TP communication overlap
(userbuffers; ASSUMED fully hidden), overlapped gradient reduce-scatter with the distributed
optimizer (ZeRO-1), gradient-accumulation fusion, no dropout."""


MEGATRON_DEEPSPEED_2022 = dataclasses.replace(MEGATRON_2021, dtype="bf16", grad_dtype="fp32", dropout=False,
                                              optimizer_extra_passes=3.0)
"""BigScience Megatron-DeepSpeed as run for BLOOM-176B (March-July 2022): the 2021 Megatron kernels
(materialised attention with a fused softmax, no sequence parallelism, no TP overlap; the fork
predates both), bf16 with DeepSpeed's BF16 optimizer keeping and reducing fp32 gradients, no dropout
(BLOOM's config: hidden and attention dropout 0.0), the gradient reduction after the last
micro-batch (DeepSpeed's pipeline ``TrainSchedule``, ``deepspeed/runtime/pipe/schedule.py``, issues
``ReduceGrads`` once per step, after the last backward), and gradient clipping without loss scaling (norm read + clip read/write =
3 passes over the fp32 gradients)."""

MEGATRON_BRIDGE_2025 = dataclasses.replace(NEMO_2024, lowp_scaling="current")
"""Megatron-Bridge performance recipes of the 25.x NeMo containers ("FP8-CS" rows of its
performance summary): :data:`NEMO_2024` with FP8 current scaling (an amax pass before each cast,
``TrainOptions.lowp_scaling``)."""

RECIPES = {"megatron2021": MEGATRON_2021, "megatron2022": MEGATRON_2022, "fsdp_flash": FSDP_FLASH,
           "deepspeed2021": DEEPSPEED_ZERO3_2021, "nemo2024": NEMO_2024, "megatron_bridge2025": MEGATRON_BRIDGE_2025,
           "megatron_deepspeed2022": MEGATRON_DEEPSPEED_2022}
"""Recipe names of the validation tables (``recipe`` column) -> :class:`TrainOptions`."""


def recipe_options(name: str) -> TrainOptions:
    """The :class:`TrainOptions` of a validation recipe name; ``ConfigError`` naming the allowed ones."""
    if name not in RECIPES:
        raise ConfigError(f"recipe '{name}' is not known; allowed: {', '.join(RECIPES)}")
    return RECIPES[name]


def mpt_spec(name: str):
    """ModelSpec of an MPT model (see :data:`MPT_SHAPES`)."""
    from simulator.models import ModelSpec

    d, heads, layers = MPT_SHAPES[name]
    return ModelSpec.create(name=name, num_layers=layers, hidden_size=d, num_heads=heads, num_kv_heads=heads,
                            head_dim=d // heads, ffn_size=4 * d, gated_mlp=0, vocab_size=50368,
                            tied_embeddings=1, layernorm=1, max_context=2048)


def load_rows(path: str | Path | None = None) -> pd.DataFrame:
    """The validation table as a DataFrame (one row per measured result)."""
    p = Path(path) if path else ROWS_CSV
    if not p.exists():
        raise ConfigError(f"validation table not found: {p}")
    return pd.read_csv(p)


def _spec(row):
    from simulator.models import load_model

    if row.model in MPT_SHAPES:
        spec = mpt_spec(row.model)
    elif row.model in DERIVED_SPECS:
        base, fields = DERIVED_SPECS[row.model]
        spec = load_model(base).replace(name=row.model, **fields)
    else:
        spec = load_model(row.model)
    if pd.notna(row.vocab_override) and str(row.vocab_override).strip():
        spec = spec.replace(vocab_size=int(row.vocab_override))
    return spec


def _system(row):
    from hardware_db import load_device, load_system

    sysm = load_system(row.system).for_devices(int(row.gpus))
    if pd.notna(row.device_override) and str(row.device_override).strip():
        sysm = dataclasses.replace(sysm, device=load_device(row.device_override))
    return sysm


def _opts(row) -> TrainOptions:
    base = recipe_options(row.recipe)
    grad = row.dtype if row.dtype in ("bf16", "fp16") else "bf16"
    if row.recipe.startswith("megatron") and row.dtype == "bf16":
        # Megatron-LM forces fp32 gradient accumulation and reduction under bf16 (megatron/arguments.py:
        # "bfloat16 requires gradient accumulation and all-reduce to be done in fp32")
        grad = "fp32"
    return dataclasses.replace(base, dtype=row.dtype, grad_dtype=grad, grad_overlap=bool(row.grad_overlap))


def row_case(row, profile=None):
    """``(spec, hw, layout, opts)`` of one validation row (a ``load_rows`` tuple): the model, the
    system's :class:`TrainHardware` (with ``profile``, a read calibration profile, applied when it
    matches the row's device), the row's explicit layout and its recipe."""
    spec, sysm, opts = _spec(row), _system(row), _opts(row)
    if profile is not None:
        from simulator.calibration.profile import apply_profile, matches_device

        if matches_device(profile, sysm.device):
            sysm = dataclasses.replace(sysm, device=apply_profile(sysm.device, profile, opts.dtype))
    ends = {k: int(getattr(row, k)) for k in ("first_stage_layers", "last_stage_layers")  # optional columns
            if pd.notna(getattr(row, k, float("nan")))}
    lay = Layout.make(tp=row.tp, pp=row.pp, dp=row.dp, cp=row.cp, micro_batch=row.micro_batch,
                      virtual_stages=row.virtual_stages, recompute=recompute_code(row.recompute), zero=row.zero,
                      **ends)
    return spec, train_hardware(sysm, opts.dtype), lay, opts


def predict_rows(rows: pd.DataFrame | None = None, calibration=None) -> pd.DataFrame:
    """Predict every row; columns ``id``, ``metric``, ``measured``, ``predicted``, ``error``
    (``predicted / measured - 1``), ``fits``, ``memory_bytes``, ``step_time_s``, ``mfu``, ``hfu``.

    ``calibration`` (optional path of a calibration profile, ``simulator.calibration.profile``)
    replaces the device's default efficiency on rows whose device it matches; the validation
    tests use the catalog default.
    """
    rows = load_rows() if rows is None else rows
    profile = None
    if calibration is not None:  # read once, applied to the rows whose device it matches
        from simulator.calibration.profile import read_profile

        profile = read_profile(calibration)
    out = []
    for row in rows.itertuples(index=False):  # one explicit layout per published row
        spec, hw, lay, opts = row_case(row, profile)
        r = evaluate_layouts(spec, lay, hw, row.global_batch, row.seq_len, opts)
        step = float(r["step_time_s"])
        if row.metric == "achieved_tflops_per_gpu":
            flops = float(megatron_flops_per_iteration(row.global_batch, row.seq_len, spec.num_layers,
                                                       spec.hidden_size, spec.vocab_size))
            pred = flops / (step * row.gpus) / 1e12
        elif row.metric == "mfu":
            # MFU relative to the peak of the row's dtype (llm-foundry: "FP8 MFU is relative to the
            # FP8 peak"); train_step's MFU is relative to the bf16 peak under a low-precision recipe
            pred = float(r["mfu"]) / float(hw.spec.lowp_peak_ratio)
        elif row.metric == "tokens_per_s_per_gpu":
            pred = float(row.global_batch) * float(row.seq_len) / (step * float(row.gpus))
        else:
            raise ConfigError(f"row {row.id}: unknown metric '{row.metric}'; allowed: achieved_tflops_per_gpu, mfu, "
                              "tokens_per_s_per_gpu")
        out.append(dict(id=row.id, metric=row.metric, measured=float(row.measured), predicted=pred,
                        error=pred / float(row.measured) - 1.0, fits=bool(r["fits"]),
                        memory_bytes=float(r["total_bytes"]), step_time_s=step, mfu=float(r["mfu"]),
                        hfu=float(r["hfu"])))
    df = pd.DataFrame(out)
    df["abs_error"] = np.abs(df["error"])
    return df
