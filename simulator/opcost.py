"""Records of the operator inventory: the work of one operator, its static facts, precisions.

* :class:`OpCost` (pytree of arrays): what one operator does on one device in one forward pass:
  FLOP, bytes per memory tier, collective payload, kernel launches, GEMM rows, and the weights it
  holds (``params``, elements on that device). Backward work is the forward work times the
  operator's backward factors (:class:`OpInfo`), so one record serves serving, training and
  calibration alike.
* :class:`OpInfo` (static): the operator's kind (which peak it runs at), its efficiency class
  (which calibrated roofline curve prices it), the collective and parallel group of a
  communication operator, whether its FLOP are matmul FLOP counted in MFU, and its backward
  factors.
* :class:`Precision`: bytes per element of weights, activations and KV cache (W4A16KV8 ...) and,
  for low-precision training recipes, of the GEMM operands the recipe casts to (FP8/FP4).

Conventions (``docs/CONTRACTS.md``): 2 FLOP per multiply-add; bytes are read + written in the tier
the tensor lives in; costs are per device of a tensor-parallel group.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from simulator.formats import CAST_COPIES, CAST_FLOP_PER_ELEM, CAST_KERNELS_BWD, CAST_KERNELS_FWD
from simulator.kernels import elementwise_bytes, elementwise_flops, gemm_bytes, gemm_flops

# Operator kinds (static metadata): which peak rate a kernel runs at.
GEMM, ATTENTION, VECTOR, COMM = "gemm", "attention", "vector", "comm"
# Efficiency classes (``hardware_db.EFFICIENCY_CLASSES``): which roofline curve prices an operator.
EFF_GEMM, EFF_ATTENTION, EFF_ELEMENTWISE, EFF_COLLECTIVE = "gemm", "attention", "elementwise", "collective"
_CLASS_OF_KIND = {GEMM: EFF_GEMM, ATTENTION: EFF_ATTENTION, VECTOR: EFF_ELEMENTWISE, COMM: EFF_COLLECTIVE}


class OpInfo(NamedTuple):
    """Static facts of one operator (one row of ``simulator.ops.OP_INFO``).

    ``kind``: gemm | attention | vector | comm (matrix peak for gemm/attention, vector peak for
    vector work). ``eff_class``: gemm | attention | elementwise | collective (defaults from the
    kind). ``collective`` / ``group``: for comm operators, the collective (all_reduce, all_gather,
    all_to_all, send_recv) and the parallel group it spans (tp, ep, pp). ``bwd``: backward work as
    multiples of the forward ``(flops, bytes, kernels)``: ``(2, 2, 2)`` for a GEMM (input
    gradient + weight gradient, Narayanan et al. 2021 Sec. 3.5), ``(2.5, 2, 1)`` for FlashAttention-2
    (recomputes the scores in its one backward kernel; Dao 2023 Sec. 3.1.2), ``(1, 1, 1)`` for a
    collective (the mirror collective of the backward pass). ``bwd_rate``: the backward kernel's
    achieved rate relative to the forward kernel's on the same curve (its seconds are divided by
    it; FLOPs stay as counted): 1 for GEMMs, below 1 for FlashAttention (``simulator.ops.FLASH_BWD_RATE``).
    """

    kind: str
    eff_class: str = ""
    collective: str = ""
    group: str = ""
    bwd: tuple[float, float, float] = (2.0, 2.0, 2.0)
    lowp: bool = False
    in_forward: bool = True
    bwd_rate: float = 1.0

    @staticmethod
    def make(kind: str, eff_class: str = "", collective: str = "", group: str = "", bwd=None, lowp: bool = False,
             in_forward: bool = True, bwd_rate: float = 1.0) -> OpInfo:
        """A registry row. ``lowp``: a linear-layer GEMM that runs in the low-precision GEMM dtype
        (FP8/FP4) when the hardware spec has one (``HwSpec.lowp_peak_ratio``); the Transformer
        Engine FP8 recipe (NVIDIA TE docs, "Using FP8 with Transformer Engine"; Micikevicius et al.
        2022, "FP8 Formats for Deep Learning", Sec. 4) and the TensorRT-LLM FP8/NVFP4 checkpoints
        quantise the GEMMs of the linear layers (QKV, output projection, MLP, experts) and keep the
        LM head, the router, attention, softmax and norms in higher precision. ``in_forward=False``:
        work of the backward pass only (priced as ``backward()`` of the row; zero in a forward step).
        """
        default_bwd = (1.0, 1.0, 1.0) if kind == COMM else (2.0, 2.0, 2.0)
        bwd = default_bwd if bwd is None else bwd
        return OpInfo(kind, eff_class or _CLASS_OF_KIND[kind], collective, group, tuple(bwd), bool(lowp),
                      bool(in_forward), float(bwd_rate))

    @property
    def matmul(self) -> bool:
        """Whether the operator's FLOP are matrix FLOP (counted in MFU/HFU)."""
        return self.kind in (GEMM, ATTENTION)


def _f(x):
    return jnp.asarray(x, dtype=jnp.result_type(float))


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Precision:
    """Bytes per element of the weights, the activations and the KV cache (e.g. W4A16KV8).

    All are pytree leaves so that precisions can be stacked and vmapped. Quantisation scales
    are included in ``weight_bytes`` (llama.cpp Q4_0 = 18/32 byte, NVFP4 4.5/8 byte:
    ``simulator.ops.QUANT_FORMAT_BYTES``). Matmuls run in the activation dtype (weight-only formats
    are dequantised on the fly), or, for operators marked ``OpInfo.lowp``, in the low-precision GEMM
    dtype of the hardware spec (``simulator.hw.build_hw``).

    ``cast_bytes``: bytes per element of the low-precision GEMM operands that a training recipe
    produces by casting around every eligible GEMM (Transformer Engine FP8: 1), which prices the
    ``lowp_cast`` / ``lowp_cast_grad`` operators; 0 (the default, and inference, whose
    quantisation is fused into the producing kernels) = no cast traffic.

    ``dequant_flop``: vector FLOP per weight element and per pass of a weight-only format
    (W4A16, Q4_0: weights narrower than the activations they are multiplied with), dequantised
    inside the GEMM kernel (:func:`gemm`, ``OpCost.vec_flops``); 0 = none.

    ``cast_reads``: passes over a cast's high-precision input, one kernel each
    (``simulator.formats.CAST_READS``: 1 for FP8 delayed scaling, 2 for current scaling).

    ``gemm_in_bytes``: bytes per element of the input operand of the linear-layer GEMMs when it is
    narrower than the activations (W8A8 / W4A4 inference: the producing kernel, e.g. the RMSNorm,
    writes the FP8 / NVFP4 operand, while the residual stream, attention, norms and the TP
    all-reduce stay in ``act_bytes``, bf16); 0 (the default) = ``act_bytes``.

    ``head_weight_bytes``: bytes per element of the embedding table and the LM head when they are
    kept in another dtype than the layers' linear weights; 0 (the default) = ``weight_bytes``.
    W8A8 / W4A4 checkpoints quantise only the linear layers of the transformer blocks (ModelOpt's
    ``_default_disabled_quantizer_cfg`` disables ``*lm_head*``; the embedding has no quantizer),
    so serving sets it to the bf16 bytes there (``simulator.serving.frontend.head_weight_bytes_of``).
    """

    weight_bytes: jax.Array | float = 2.0
    act_bytes: jax.Array | float = 2.0
    kv_bytes: jax.Array | float = 2.0
    cast_bytes: jax.Array | float = 0.0
    dequant_flop: jax.Array | float = 0.0
    cast_reads: jax.Array | float = 1.0
    head_weight_bytes: jax.Array | float = 0.0
    gemm_in_bytes: jax.Array | float = 0.0

    def gemm_input_bytes(self):
        """Bytes per element of a linear-layer GEMM's input operand: ``gemm_in_bytes`` where set
        (> 0), else ``act_bytes``."""
        gb = _f(self.gemm_in_bytes)
        return jnp.where(gb > 0, gb, _f(self.act_bytes))

    def head_bytes(self):
        """Bytes per element of the embedding and LM-head weights: ``head_weight_bytes`` where set
        (> 0), else ``weight_bytes``."""
        hb = _f(self.head_weight_bytes)
        return jnp.where(hb > 0, hb, _f(self.weight_bytes))


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class AttnWork:
    """Attention work of a step, summed over its sequences (see :func:`attention_work`).

    ``pairs``: causal query-key pairs; ``kv_read_tokens``: cached + new tokens whose K/V are read;
    ``kv_write_tokens``: new tokens whose K/V are written; ``q_tokens``: query tokens;
    ``seqs``: sequences.
    """

    pairs: jax.Array
    kv_read_tokens: jax.Array
    kv_write_tokens: jax.Array
    q_tokens: jax.Array
    seqs: jax.Array

    def __add__(self, other: AttnWork) -> AttnWork:
        return jax.tree_util.tree_map(jnp.add, self, other)


def attention_work(seqs, new_tokens, context, full_square=False) -> AttnWork:
    """Attention work of ``seqs`` sequences each appending ``new_tokens`` to ``context`` cached tokens.

    Causal pairs per sequence: ``sum_{i=1..q} (c + i) = q c + q (q + 1) / 2`` (masked blocks are
    skipped, as FlashAttention does). ``full_square=True`` counts every query-key pair,
    ``q (c + q)`` (the ``s^2`` convention of PaLM App. B and Megatron-LM's MFU, or attention that
    materialises the whole score matrix). Prefill of a prompt of L tokens is ``(seqs, L, 0)``, a
    decode step ``(seqs, 1, c)``, a chunk of a chunked prefill ``(1, chunk, done)``; add two
    results (``+``) for a mixed iteration.
    """
    seqs, q, c = jnp.broadcast_arrays(_f(seqs), _f(new_tokens), _f(context))
    per_seq = q * (c + q) if full_square else q * c + q * (q + 1.0) / 2.0
    return AttnWork(pairs=seqs * per_seq, kv_read_tokens=seqs * (c + q), kv_write_tokens=seqs * q,
                    q_tokens=seqs * q, seqs=seqs)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class OpCost:
    """Forward work of one operator on one device (arrays that broadcast together).

    flops: FLOP (matrix units for gemm/attention kinds, vector units for vector kinds);
    weight_bytes: bytes read from the tier holding the weights; act_bytes: activation bytes
    read + written in main memory; kv_bytes: KV-cache bytes read + written; comm_bytes: payload of
    the collective per device (bytes, before the algorithm's factor); kernels: kernel launches;
    rows: output rows ``M`` of one GEMM call (0 = not a GEMM / unknown), read by the GEMM-shape
    term; params: weight elements this operator holds on the device (summed over the layers it
    stands for); vec_flops: vector-unit FLOP done inside this (matrix) kernel, e.g. dequantising
    weight-only formats, priced at the vector peak in the kernel's compute term (not counted in
    ``flops``, so FLOP counters and MFU are unchanged). ``scaled`` keeps ``rows``; ``+`` keeps the
    larger ``rows``.
    """

    flops: jax.Array
    weight_bytes: jax.Array
    act_bytes: jax.Array
    kv_bytes: jax.Array
    comm_bytes: jax.Array
    kernels: jax.Array
    rows: jax.Array | float = 0.0
    params: jax.Array | float = 0.0
    vec_flops: jax.Array | float = 0.0

    def scaled(self, factor) -> OpCost:
        out = jax.tree_util.tree_map(lambda x: x * factor, self)
        return dataclasses.replace(out, rows=self.rows)

    def __add__(self, other: OpCost) -> OpCost:
        out = jax.tree_util.tree_map(jnp.add, self, other)
        return dataclasses.replace(out, rows=jnp.maximum(self.rows, other.rows))

    def backward(self, info: OpInfo) -> OpCost:
        """The backward pass of this operator: forward work times ``info.bwd`` (no weights held)."""
        fl, by, ke = info.bwd
        return dataclasses.replace(
            self, flops=self.flops * fl, weight_bytes=self.weight_bytes * by, act_bytes=self.act_bytes * by,
            kv_bytes=self.kv_bytes * by, comm_bytes=self.comm_bytes * by, kernels=self.kernels * ke,
            params=jnp.zeros_like(_f(self.params)), vec_flops=_f(self.vec_flops) * fl)

    @property
    def bytes(self):
        """All bytes moved in memory (weights + activations + KV)."""
        return self.weight_bytes + self.act_bytes + self.kv_bytes


def op(flops=0.0, weight_bytes=0.0, act_bytes=0.0, kv_bytes=0.0, comm_bytes=0.0, kernels=1.0, rows=0.0,
       params=0.0, vec_flops=0.0) -> OpCost:
    """An :class:`OpCost` from numbers (all converted to float arrays)."""
    return OpCost(*(_f(v) for v in (flops, weight_bytes, act_bytes, kv_bytes, comm_bytes, kernels, rows, params,
                                    vec_flops)))


#: Rows of the activation matrix one pass of a MARLIN-style weight-only kernel multiplies with one
#: dequantised copy of the weights: at most 4 x 16 = 64 rows per thread block; larger batches run
#: as parallel 64-row problems that each dequantise the weights again (Frantar et al. 2024, "MARLIN:
#: Mixed-Precision Auto-Regressive Parallel Inference on Large Language Models", Sec. 3-4, and
#: IST-DASLab/marlin ``marlin_cuda_kernel.cu``). Hence near-ideal speed-ups up to batch 16-32 and a
#: gradually shrinking one up to 64-128 (the paper's abstract): the dequantisation is hidden under
#: the weight stream while the kernel is memory-bound and shows once it is compute-bound.
DEQUANT_ROWS_PER_PASS = 64.0


def dequant_passes(m):
    """Passes over the weights of a weight-only GEMM of ``m`` rows: ``max(1, m / 64)`` (smooth)."""
    return jnp.maximum(_f(m) / DEQUANT_ROWS_PER_PASS, 1.0)


def gemm(m, n, k, prec: Precision, weight_bytes_per_elem=None, kernels=1.0, weight_elems=None, params=0.0) -> OpCost:
    """A GEMM ``[m, k] @ [k, n]`` with weights (``k n`` elements unless ``weight_elems``) in the weight tier;
    input read at ``prec.gemm_input_bytes()`` (the layer's weight format) or ``act_bytes`` (an
    override such as the router), output written at ``act_bytes``.

    A weight-only format (``prec.dequant_flop`` > 0) dequantises every weight once per
    :func:`dequant_passes` inside the kernel: ``vec_flops = dequant_flop x weights x passes``
    (not when ``weight_bytes_per_elem`` overrides the weight format, e.g. the router).
    """
    wb = prec.weight_bytes if weight_bytes_per_elem is None else weight_bytes_per_elem
    welems = _f(k) * n if weight_elems is None else weight_elems
    dq = _f(prec.dequant_flop) if weight_bytes_per_elem is None else 0.0
    a_in = prec.gemm_input_bytes() if weight_bytes_per_elem is None else prec.act_bytes
    return op(flops=gemm_flops(m, n, k), weight_bytes=welems * wb,
              act_bytes=gemm_bytes(m, n, k, a_in, 0.0, prec.act_bytes), kernels=kernels, rows=m,
              params=params, vec_flops=dq * welems * dequant_passes(m))


def vector(elems, flop_per_elem, act_bytes, reads=1.0, writes=1.0, kernels=1.0, params=0.0) -> OpCost:
    """An elementwise kernel over ``elems`` elements (``reads`` inputs, ``writes`` outputs)."""
    return op(flops=elementwise_flops(elems, flop_per_elem), act_bytes=elementwise_bytes(elems, act_bytes, reads, writes),
              kernels=kernels, params=params)


# ------------------------------------------------------------------- FP8/FP4 training casts
def gemm_casts(gemms, prec: Precision) -> dict[str, OpCost]:
    """``lowp_cast`` / ``lowp_cast_grad`` of low-precision GEMMs ``[(m, n, k, weight_elems, calls)]``.

    Forward, per GEMM: amax + cast + transpose of the input (``m k`` elements) and of the weight
    (``weight_elems``): read at ``act_bytes`` ``prec.cast_reads`` times (a separate amax pass under
    current scaling), write :data:`CAST_COPIES` copies at ``cast_bytes``; backward: the same for
    the output gradient (``m n``). :data:`CAST_FLOP_PER_ELEM` vector FLOP per element read once.
    Zero when ``prec.cast_bytes`` is 0 (no low-precision training recipe).
    """
    on = (_f(prec.cast_bytes) > 0).astype(_f(0.0).dtype)
    reads = _f(prec.cast_reads)
    per_elem = reads * _f(prec.act_bytes) + CAST_COPIES * _f(prec.cast_bytes)
    fwd_e = sum(_f(m) * _f(k) + _f(w) for m, n, k, w, c in gemms)
    bwd_e = sum(_f(m) * _f(n) for m, n, k, w, c in gemms)
    calls = sum(_f(c) for *_, c in gemms)
    return {
        "lowp_cast": op(flops=CAST_FLOP_PER_ELEM * fwd_e, act_bytes=fwd_e * per_elem,
                        kernels=CAST_KERNELS_FWD * reads * calls).scaled(on),
        "lowp_cast_grad": op(flops=CAST_FLOP_PER_ELEM * bwd_e, act_bytes=bwd_e * per_elem,
                             kernels=CAST_KERNELS_BWD * reads * calls).scaled(on),
    }


#: the cast operators, produced per block and summed over the blocks of a layer by ``layer_ops``
CAST_OPS = ("lowp_cast", "lowp_cast_grad")


__all__ = ["ATTENTION", "AttnWork", "COMM", "DEQUANT_ROWS_PER_PASS", "GEMM", "OpCost", "OpInfo", "Precision", "VECTOR",
           "CAST_OPS", "attention_work", "dequant_passes", "gemm", "gemm_casts", "op", "vector"]
