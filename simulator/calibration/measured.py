"""Measured kernel tables turned into ``(flops, bytes_moved, time_s)`` rows.

Every loader returns a :class:`pandas.DataFrame` with the columns of :data:`ROW_COLUMNS`:

========== ===================================================================================
source      table name (``vidur-a100``, ``llmcompass-a100``, ``cpu-suite`` ...)
op          operator (``qkv_proj``, ``out_proj``, ``mlp_up_proj``, ``mlp_down_proj``, ``norm``,
            ``act``, ``add``, ``all_reduce``, ``matmul``, ``softmax``, ``layernorm``, ``gelu``)
kind        ``gemm`` | ``memory`` | ``collective`` (which efficiency the row informs)
dtype       storage format of the operands (``fp16`` for both GPU tables)
m, n, k     GEMM shape (``C[m, n] = A[m, k] B[k, n]``); 0 for non-GEMMs
elements    output elements of elementwise kernels; message elements of collectives
flops       FLOP of the kernel (2 per multiply-add), :func:`simulator.kernels.gemm_flops` /
            :func:`~simulator.kernels.elementwise_flops`
bytes_moved bytes read + written once, :func:`~simulator.kernels.gemm_bytes` /
            :func:`~simulator.kernels.elementwise_bytes`; for collectives the message size
time_s      measured median time, seconds
group       model (Vidur compute), ``<setup>-n<workers>`` (Vidur all-reduce) or table name
tp          tensor-parallel degree (Vidur compute), else 1
num_workers devices in a collective, else 1
========== ===================================================================================

Work counted per operator (``T`` tokens, ``h`` hidden, ``f`` FFN size, ``t`` TP degree, ``d`` head
dimension ``h / heads``, 2-byte fp16 elements):

* ``qkv_proj``: GEMM ``m = T, k = h, n = (heads + 2 kv_heads) d / t``;
  ``out_proj``: ``m = T, k = heads d / t, n = h``;
  ``mlp_up_proj``: ``m = T, k = h, n = (2 if gated else 1) f / t``;
  ``mlp_down_proj``: ``m = T, k = f / t, n = h``.
* ``norm`` (input and post-attention RMS/LayerNorm, each a row): ``T h`` elements, 1 read + 1 write,
  :data:`NORM_FLOPS_PER_ELEMENT` FLOP each; ``act``: ``T f / t`` outputs, gated SiLU-and-mul reads 2
  and writes 1 (else 1 + 1), :data:`ACT_FLOPS_PER_ELEMENT`; ``add`` (residual): ``T h``, 2 reads + 1 write.
* LLMCompass ``softmax`` / ``layernorm``: ``M N`` elements, 1 read + 1 write; ``gelu``: ``elements``,
  1 read + 1 write; time = elements / (throughput * 1e9).
* ``all_reduce``: message ``size * 2`` bytes on ``num_workers`` GPUs of one node (rows whose group
  spans nodes are dropped); the median over ranks is kept; ``group`` is ``<setup>-n<workers>``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from fitters.precision import float64
from simulator import kernels
from simulator.calibration import datasets
from simulator.calibration.errors import CalibrationError

ROW_COLUMNS = ("source", "op", "kind", "dtype", "m", "n", "k", "elements", "flops", "bytes_moved",
               "time_s", "group", "tp", "num_workers")

NORM_FLOPS_PER_ELEMENT = 5.0      # square, reduce, scale, weight multiply (+ mean for LayerNorm)
SOFTMAX_FLOPS_PER_ELEMENT = 5.0   # max, subtract, exp, sum, divide
ACT_FLOPS_PER_ELEMENT = 8.0       # SiLU/GELU (exp or tanh and a few multiply-adds)
ADD_FLOPS_PER_ELEMENT = 1.0
FP16_BYTES = 2.0

#: measured table name -> (catalog device name, loader description)
TABLES: dict[str, str] = {
    "vidur-a100": "Vidur per-operator A100 timings (QKV/out/MLP GEMMs, norms, activation, residual add) "
                  "+ DGX-A100 NCCL all-reduce",
    "vidur-a40": "Vidur per-operator A40 timings",
    "llmcompass-a100": "LLMCompass A100 kernels (matmul, softmax, layernorm, gelu)",
    "llmcompass-mi210": "LLMCompass MI210 kernels (matmul, softmax, layernorm, gelu)",
}
#: measured table -> hardware catalog device the measurements were taken on
TABLE_DEVICE: dict[str, str] = {
    "vidur-a100": "a100-sxm4-80gb",
    "vidur-a40": "a40",
    "llmcompass-a100": "a100-sxm4-80gb",
    "llmcompass-mi210": "mi210",
}
VIDUR_OPS = ("qkv_proj", "out_proj", "mlp_up_proj", "mlp_down_proj", "norm", "act", "add")


@float64()
def _f64(fn, *args) -> np.ndarray:
    """Evaluate a :mod:`simulator.kernels` counter in float64 and return a NumPy array."""
    return np.asarray(fn(*args), dtype=np.float64)


def _frame(**cols) -> pd.DataFrame:
    n = max(len(np.atleast_1d(v)) for v in cols.values() if not isinstance(v, str))
    out = {}
    for c in ROW_COLUMNS:
        v = cols.get(c, 0 if c not in ("tp", "num_workers") else 1)
        out[c] = np.broadcast_to(np.asarray(v), (n,)).copy() if not isinstance(v, str) else [v] * n
    return pd.DataFrame(out)


def gemm_rows(source, op, m, n, k, time_s, dtype="fp16", elem_bytes=FP16_BYTES, group="", tp=1) -> pd.DataFrame:
    """Rows for GEMMs ``C[m,n] = A[m,k] B[k,n]`` with all operands ``elem_bytes`` wide."""
    m, n, k = (np.asarray(x, dtype=np.float64) for x in (m, n, k))
    return _frame(source=source, op=op, kind="gemm", dtype=dtype, m=m, n=n, k=k,
                  elements=m * n, flops=_f64(kernels.gemm_flops, m, n, k),
                  bytes_moved=_f64(kernels.gemm_bytes, m, n, k, elem_bytes, elem_bytes, elem_bytes),
                  time_s=np.asarray(time_s, dtype=np.float64), group=group, tp=tp)


def elementwise_rows(source, op, elements, time_s, reads, writes, flops_per_element,
                     dtype="fp16", elem_bytes=FP16_BYTES, group="", tp=1) -> pd.DataFrame:
    """Rows for streaming kernels over ``elements`` reading ``reads`` and writing ``writes`` tensors."""
    e = np.asarray(elements, dtype=np.float64)
    return _frame(source=source, op=op, kind="memory", dtype=dtype, elements=e,
                  flops=_f64(kernels.elementwise_flops, e, flops_per_element),
                  bytes_moved=_f64(kernels.elementwise_bytes, e, elem_bytes, reads, writes),
                  time_s=np.asarray(time_s, dtype=np.float64), group=group, tp=tp)


# ---------------------------------------------------------------------------------------- LLMCompass
def _path(name: str, download: bool):
    from fitters.registry import dataset_path

    return dataset_path(name, download=download)


def llmcompass_rows(gpu: str = "A100", ops: Iterable[str] = ("matmul", "softmax", "layernorm", "gelu"),
                    download: bool = True) -> pd.DataFrame:
    """LLMCompass real-hardware kernels on ``gpu`` (``A100`` | ``MI210``) as rows (see module doc).

    ``download``: fetch a missing table from its public URL (else :class:`fitters.DatasetError`)."""
    gpu = {"a100": "A100", "mi210": "MI210"}.get(str(gpu).lower())
    if gpu is None:
        raise CalibrationError("llmcompass gpu must be one of: A100, MI210")
    source = f"llmcompass-{gpu.lower()}"
    frames = []
    for op in ops:
        path = _path(datasets.llmcompass_name(op, gpu), download)
        if op == "matmul":
            d = pd.read_csv(path, header=None, names=["M", "K", "N", "time", "tflops"], skipinitialspace=True)
            t = d["time"].astype(str).str.strip().str.removesuffix("ms").astype(float) * 1e-3
            frames.append(gemm_rows(source, "matmul", d.M, d.N, d.K, t, group=source))
        elif op in ("softmax", "layernorm"):
            d = pd.read_csv(path, header=None, names=["M", "N", "throughput"], skipinitialspace=True)
            e = d.M.to_numpy(float) * d.N.to_numpy(float)
            fpe = SOFTMAX_FLOPS_PER_ELEMENT if op == "softmax" else NORM_FLOPS_PER_ELEMENT
            frames.append(elementwise_rows(source, op, e, e / (d.throughput.to_numpy(float) * 1e9), 1, 1, fpe,
                                           group=source))
        elif op == "gelu":
            d = pd.read_csv(path, header=None, names=["elements", "throughput"], skipinitialspace=True)
            e = d.elements.to_numpy(float)
            frames.append(elementwise_rows(source, op, e, e / (d.throughput.to_numpy(float) * 1e9), 1, 1,
                                           ACT_FLOPS_PER_ELEMENT, group=source))
        else:
            raise CalibrationError(f"unknown LLMCompass op {op!r}; allowed: matmul, softmax, layernorm, gelu")
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------- Vidur
def _vidur_one(gpu: str, model: str, ops: Iterable[str], download: bool = True) -> pd.DataFrame:
    raw = pd.read_csv(_path(datasets.vidur_compute_name(gpu, model), download))
    keys = ["num_tokens", "num_tensor_parallel_workers"]
    shape_cols = ["n_head", "n_kv_head", "n_embd", "n_expanded_embd", "use_gated_mlp"]
    med_cols = [c for c in raw.columns if c.endswith(".median")]
    d = raw.groupby(keys, as_index=False).agg({**{c: "median" for c in med_cols}, **{c: "first" for c in shape_cols}})
    T = d.num_tokens.to_numpy(float)
    tp = d.num_tensor_parallel_workers.to_numpy(float)
    h = d.n_embd.to_numpy(float)
    heads = d.n_head.to_numpy(float)
    kvh = d.n_kv_head.to_numpy(float)
    f = d.n_expanded_embd.to_numpy(float)
    gated = d.use_gated_mlp.astype(str).str.lower().eq("true").to_numpy()
    hd = h / heads
    src = f"vidur-{gpu}"
    grp = model.split("/")[-1]

    def ms(op):
        col = f"time_stats.{op}.median"
        return d[col].to_numpy(float) * 1e-3 if col in d.columns else None

    frames = []
    ops = set(ops)
    if "qkv_proj" in ops:
        frames.append(gemm_rows(src, "qkv_proj", T, (heads + 2 * kvh) * hd / tp, h, ms("attn_pre_proj"), group=grp, tp=tp))
    if "out_proj" in ops:
        frames.append(gemm_rows(src, "out_proj", T, h, heads * hd / tp, ms("attn_post_proj"), group=grp, tp=tp))
    if "mlp_up_proj" in ops:
        frames.append(gemm_rows(src, "mlp_up_proj", T, np.where(gated, 2.0, 1.0) * f / tp, h, ms("mlp_up_proj"),
                                group=grp, tp=tp))
    if "mlp_down_proj" in ops:
        frames.append(gemm_rows(src, "mlp_down_proj", T, h, f / tp, ms("mlp_down_proj"), group=grp, tp=tp))
    if "norm" in ops:
        for col in ("input_layernorm", "post_attention_layernorm"):
            if ms(col) is None:  # e.g. phi-2 (parallel attention/MLP) has a single norm
                continue
            frames.append(elementwise_rows(src, "norm", T * h, ms(col), 1, 1, NORM_FLOPS_PER_ELEMENT, group=grp, tp=tp))
    if "act" in ops:
        frames.append(elementwise_rows(src, "act", T * f / tp, ms("mlp_act"), np.where(gated, 2.0, 1.0), 1,
                                       ACT_FLOPS_PER_ELEMENT, group=grp, tp=tp))
    if "add" in ops:
        frames.append(elementwise_rows(src, "add", T * h, ms("add"), 2, 1, ADD_FLOPS_PER_ELEMENT, group=grp, tp=tp))
    out = pd.concat(frames, ignore_index=True)
    return out[np.isfinite(out.time_s) & (out.time_s > 0)]


def vidur_operator_rows(gpu: str = "a100", models: Iterable[str] | None = None,
                        ops: Iterable[str] = VIDUR_OPS, download: bool = True) -> pd.DataFrame:
    """Vidur per-operator timings on ``gpu`` (``a100`` | ``a40``) for ``models`` (default: all)."""
    gpu = str(gpu).lower()
    known = datasets.vidur_models(gpu)
    if not known:
        raise CalibrationError(f"vidur gpu must be one of: a100, a40 (got {gpu!r})")
    models = known if models is None else list(models)
    for m in models:
        if m not in known:
            raise CalibrationError(f"unknown Vidur model {m!r} on {gpu}; allowed: {', '.join(known)}")
    bad = set(ops) - set(VIDUR_OPS)
    if bad:
        raise CalibrationError(f"unknown Vidur op(s) {sorted(bad)}; allowed: {', '.join(VIDUR_OPS)}")
    return pd.concat([_vidur_one(gpu, m, ops, download) for m in models], ignore_index=True)


def vidur_allreduce_rows(setup: str = "a100_dgx", download: bool = True) -> pd.DataFrame:
    """Vidur NCCL all-reduce timings of ``setup`` within one node, median over ranks."""
    if setup not in datasets.vidur_allreduce_setups():
        raise CalibrationError(f"unknown Vidur network setup {setup!r}; allowed: {', '.join(datasets.vidur_allreduce_setups())}")
    raw = pd.read_csv(_path(datasets.vidur_allreduce_name(setup), download))
    raw = raw[raw.num_workers == raw.devices_per_node]
    d = raw.groupby(["num_workers", "size"], as_index=False)["time_stats.all_reduce.median"].median()
    size = d["size"].to_numpy(float)
    return _frame(source=f"vidur-{setup.split('_')[0]}", op="all_reduce", kind="collective", dtype="fp16",
                  elements=size, flops=0.0, bytes_moved=size * FP16_BYTES,
                  time_s=d["time_stats.all_reduce.median"].to_numpy(float) * 1e-3,
                  group=np.asarray([f"{setup}-n{int(w)}" for w in d.num_workers]),
                  num_workers=d.num_workers.to_numpy(float))


def split_groups(rows: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Disjoint calibration / held-out groups: within compute rows (models) and within collective
    rows (group sizes) separately, the sorted groups alternate (first, third, ... calibrate)."""
    train, test = [], []
    for coll in (False, True):
        groups = sorted(rows.loc[(rows.kind == "collective") == coll, "group"].astype(str).unique())
        train += groups[0::2]
        test += groups[1::2]
    return train, test


def load_table(name: str, download: bool = True) -> pd.DataFrame:
    """Rows of measured table ``name`` (one of :data:`TABLES`); ``download`` as in :func:`llmcompass_rows`."""
    key = str(name).lower()
    if key == "vidur-a100":
        return pd.concat([vidur_operator_rows("a100", download=download),
                          vidur_allreduce_rows("a100_dgx", download=download)], ignore_index=True)
    if key == "vidur-a40":
        return vidur_operator_rows("a40", download=download)
    if key == "llmcompass-a100":
        return llmcompass_rows("A100", download=download)
    if key == "llmcompass-mi210":
        return llmcompass_rows("MI210", download=download)
    raise CalibrationError(f"unknown measured table {name!r}; allowed: {', '.join(TABLES)}")
