"""Number formats of the operator inventory: bytes per weight of scaled formats, the GEMM dtype
of low-precision formats, dequantisation and FP8-cast work (constants with their sources).

Read by :mod:`simulator.ops` (which re-exports them) and the serving front end.
"""

from __future__ import annotations

# Effective storage of quantisation formats that carry scales (bytes per weight, scales included).
QUANT_FORMAT_BYTES: dict[str, float] = {
    "q4_0": 18.0 / 32.0,  # llama.cpp block_q4_0: 32 x 4-bit + one fp16 scale = 4.5 bits/weight
    "q8_0": 34.0 / 32.0,  # llama.cpp block_q8_0: 32 x 8-bit + one fp16 scale = 8.5 bits/weight
    "q4_k_m": 4.85 / 8.0,  # llama.cpp Q4_K_M mix, about 4.85 bits/weight for Llama-7B/8B
    # OCP Microscaling Formats (MX) Specification v1.0 (2023), Sec. 5: blocks of 32 elements share
    # one 8-bit E8M0 scale: (32 x 4 + 8) / 32 = 4.25 bits/weight
    "mxfp4": (32.0 * 4.0 + 8.0) / 32.0 / 8.0,
    # NVIDIA NVFP4 (Blackwell; NVIDIA technical blog "Introducing NVFP4 for Efficient and Accurate
    # Low-Precision Inference", 2025): blocks of 16 E2M1 values share one FP8 E4M3 scale, plus one
    # FP32 scale per tensor (negligible): (16 x 4 + 8) / 16 = 4.5 bits/weight
    "nvfp4": (16.0 * 4.0 + 8.0) / 16.0 / 8.0,
    # OCP MX v1.0: MXFP8 (E4M3/E5M2), blocks of 32 with one E8M0 scale: 8.25 bits/weight
    "mxfp8": (32.0 * 8.0 + 8.0) / 32.0 / 8.0,
    # FP8 with one FP32 scale per tensor (Transformer Engine / TensorRT-LLM per-tensor scaling):
    # the scale is 4 bytes per tensor of millions of weights, i.e. 1 byte/weight to 1e-6
    "fp8_e4m3": 1.0,
}
#: Which low-precision GEMM dtype a scaled weight format runs in when the activations are in it too
#: (W4A4 NVFP4 / MXFP4 use the FP4 tensor cores, MXFP8 the FP8 ones).
QUANT_FORMAT_GEMM_DTYPE: dict[str, str] = {"mxfp4": "fp4", "nvfp4": "fp4", "mxfp8": "fp8", "fp8_e4m3": "fp8"}

#: Vector FLOP to dequantise one 4-bit weight inside a MARLIN-style kernel (Frantar et al. 2024
#: Sec. 4: a lop3 bit-trick turns packed INT4 into FP16 pairs, then one FP16x2 FMA applies zero point
#: and scale): about 3 half-precision operations per 2 weights, counted as 1.5 FLOP at the device's
#: vector (FP32) rate. ASSUMPTION (instruction count, not a measured time); Q4_0 / Q8_0 use the same.
DEQUANT_FLOP_PER_WEIGHT = 1.5

# Low-precision training casts (Transformer Engine, delayed/current per-tensor scaling; TE docs
# "Using FP8 with Transformer Engine" and ``transformer_engine.pytorch.cpp_extensions.cast_transpose``):
# the forward casts the input and the weight of every FP8 GEMM with one fused amax + scale + cast +
# transpose kernel each, writing the row-major operand and its transpose (Hopper FP8 tensor cores
# take only the TN layout, so the backward's wgrad/dgrad GEMMs need the transposed copies); the
# backward casts the output gradient the same way.
CAST_FLOP_PER_ELEM = 3.0  # |x| + running max (amax), scale multiply, convert (assumption, vector FLOP)
CAST_COPIES = 2.0  # operand + its transpose written per cast (cast_transpose)
CAST_KERNELS_FWD = 2.0  # per GEMM: input cast_transpose + weight cast_transpose
CAST_KERNELS_BWD = 1.0  # per GEMM: output-gradient cast_transpose
#: Passes over a cast's high-precision input per FP8 scaling recipe. Delayed scaling quantises
#: with the scale from the amax history and records the new amax inside the same kernel (1 pass);
#: current scaling needs the amax of the tensor being cast first: TransformerEngine
#: ``transformer_engine/pytorch/csrc/quantizer.cpp``, ``Float8CurrentScalingQuantizer::quantize_impl``
#: runs ``nvte_compute_amax`` (a read of the input), an optional amax all-reduce, then
#: ``nvte_compute_scale_from_amax`` and ``nvte_quantize_v2`` (the cast's read and writes): 2 passes
#: and one more kernel per cast (NVIDIA/TransformerEngine, read 2026-12).
CAST_READS = {"delayed": 1.0, "current": 2.0}
