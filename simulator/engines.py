"""Host / framework time per scheduler step of LLM serving engines (data; pure ``jax.numpy``).

A serving engine spends CPU time on every iteration (scheduling, building the next batch's
metadata, moving sampled tokens to the host, turning them into Python objects) that the GPU waits
for unless the engine overlaps it with the next step. simlab charges it per step as

    engine_overhead_s(engine, batch, gpu_step_s) = step_s + per_sequence_s * batch
                                                 + gpu_step_s * host_share / (1 - host_share)

(``batch`` = sequences in the step, ``gpu_step_s`` = the priced device time of the step; all
broadcast). ``host_share`` is for engines whose published measurement is a share of the token
time rather than seconds (llama.cpp). Every number below is a published measurement (or derived
from one by the stated arithmetic); engines for which none was found are left out:

- ``tensorrt-llm``: the PyTorch backend with its overlap scheduler (on by default: the CPU work of
  step n runs while the GPU runs step n+1, nvidia.github.io/TensorRT-LLM features/overlap-scheduler)
  still leaves the GPU idle for the part of the host work it cannot hide; NVIDIA measured it from
  Nsight traces on B200 (TensorRT-LLM issue #13957, 2026-05).

Unknown names raise :class:`simulator.errors.ConfigError` naming the allowed ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

from simulator.errors import ConfigError


@dataclass(frozen=True)
class EngineOverhead:
    """Per-step host time of one engine: ``step_s + per_sequence_s * batch`` seconds, plus
    ``host_share / (1 - host_share)`` times the step's device time (0 for most engines)."""

    step_s: float
    per_sequence_s: float
    source: str
    host_share: float = 0.0


#: engine name -> its per-step host time and where the numbers come from.
ENGINES: dict[str, EngineOverhead] = {
    "none": EngineOverhead(0.0, 0.0, "no framework time: the bare kernel sequence (simlab's default before issue 12)"),
    "vllm-v0.5": EngineOverhead(
        4.0e-3,
        1.03e-4,
        "vLLM <= v0.5 (one scheduler pass and a GPU->CPU sync per decode step). step_s: 'Each highlighted "
        "redbox is about 4ms of GPU bubble ... For baseline, this overhead is incurred on every decode' "
        "('GPU is often idle, waiting for CPU operations (5-13ms of GPU bubble)'), vLLM RFC #6854 "
        "Multi-Step Scheduling, 2024-07-26 (github.com/vllm-project/vllm/issues/6854). per_sequence_s: "
        "slope of the measured _process_model_outputs time, 0.2 ms at batch 1 and 3.4 ms at batch 32 "
        "(Llama3-70B FP8, 4x H100), vLLM RFC #6913 Asynchronous Output Processor, 2024-07-29 "
        "(github.com/vllm-project/vllm/issues/6913): (3.4 - 0.2) / 31 = 0.103 ms per sequence. The RFC "
        "#6854 profile does not state its batch, so at large batches the two terms may overlap (upper bound).",
    ),
    "vllm": EngineOverhead(
        5.0e-4,
        0.0,
        "vLLM >= v0.6 (multi-step scheduling + asynchronous output processing, vLLM blog 'vLLM v0.6.0: "
        "2.7x Throughput Improvement and 5x Latency Reduction', 2024-09-05). DERIVED: the ~4 ms per-step "
        "bubble of vLLM RFC #6854 (github.com/vllm-project/vllm/issues/6854) is paid 'once for every 8 decode' steps with multi-step-8 (same RFC) -> "
        "4 ms / 8 = 0.5 ms per step; output processing runs asynchronously (RFC #6913), so no "
        "per-sequence term.",
    ),
    "llama.cpp": EngineOverhead(
        0.0,
        0.0,
        "llama.cpp CUDA backend, batch 1: 'CUDA Graph Execution ... is responsible for around 85-90% of the "
        "time taken in evaluating each token. The remaining 10-15% of the time is taken by CPU activities' "
        "(GGML graph build/split, sampling), llama2 7B/13B Q4_K_M on A100 and H100, NVIDIA's A. Gray, "
        "github.com/ggml-org/llama.cpp/issues/7456, 2024-05-22 -> host_share 0.125 (the midpoint). Later "
        "graph caching/reuse removed part of it (4-7% of the token time on H100/A100 per "
        "github.com/ggml-org/llama.cpp/pull/8366), so this is the 2024 engine.",
        host_share=0.125,
    ),
    "tensorrt-llm": EngineOverhead(
        5.8e-4,
        0.0,
        "TensorRT-LLM PyTorch backend (PyExecutor._executor_loop_overlap, overlap scheduler on): 'On "
        "steady-state decode workloads where per-iter host work is comparable to GPU work, this exposes "
        "~580 us/iter of host overhead as GPU idle' (Llama-3.1-8B-Instruct-FP8, B200, ISL=OSL=1000, "
        "concurrency 64, from Nsight traces), NVIDIA/TensorRT-LLM issue #13957, 2026-05-10 "
        "(github.com/NVIDIA/TensorRT-LLM/issues/13957). Measured on one workload; where the GPU step is "
        "much longer than the host work the overlap hides more of it, so this is the exposed time of a "
        "short decode step (upper end for large models).",
    ),
    "sglang": EngineOverhead(
        0.0,
        0.0,
        "SGLang >= v0.4 zero-overhead (overlapped) batch scheduler: 'We verified the zero-overhead claim by "
        "using the Nsight profiling system ... 5 consecutive decoding batches, and you can see there is no "
        "single idle time on the GPU' (Triton attention backend; 'a minor gap with the FlashInfer backend'), "
        "LMSYS blog 'SGLang v0.4', 2024-12-04 (lmsys.org/blog/2024-12-04-sglang-v0-4).",
    ),
}


def engine_spec(engine: str) -> EngineOverhead:
    """The :data:`ENGINES` entry of ``engine`` (case-insensitive); ``ConfigError`` naming the allowed ones."""
    spec = ENGINES.get(str(engine).strip().lower())
    if spec is None:
        raise ConfigError(f"serving engine '{engine}' is unknown; allowed: {', '.join(ENGINES)}")
    return spec


def overhead_s(step_s, per_sequence_s, host_share, batch, gpu_step_s):
    """The per-step host time formula on numbers (arrays; what :class:`simulator.serving.ServeConfig`
    carries as ``engine_step_s`` / ``engine_seq_s`` / ``engine_host_share``):
    ``step_s + per_sequence_s * max(batch, 0) + gpu_step_s * host_share / (1 - host_share)``."""
    b = jnp.maximum(jnp.asarray(batch, dtype=jnp.result_type(float)), 0.0)
    share = jnp.asarray(host_share, dtype=b.dtype)
    return step_s + per_sequence_s * b + gpu_step_s * share / (1.0 - share)


def engine_overhead_s(engine: str, batch, gpu_step_s=None):
    """Host/framework seconds per scheduler step of :data:`ENGINES` [``engine``]:
    ``step_s + per_sequence_s * batch + gpu_step_s * host_share / (1 - host_share)`` (``batch``
    sequences in the step, ``gpu_step_s`` the step's device time; broadcasts; differentiable).

    Raises :class:`~simulator.errors.ConfigError` for an engine that is not listed, and for an
    engine given as a share of the token time (``host_share > 0``, llama.cpp) without ``gpu_step_s``.
    """
    spec = engine_spec(engine)
    if spec.host_share > 0 and gpu_step_s is None:
        raise ConfigError(f"serving engine '{engine}': its host time is a share of the token time; "
                          "allowed: pass gpu_step_s (the step's device seconds)")
    return overhead_s(spec.step_s, spec.per_sequence_s, spec.host_share, batch,
                      0.0 if gpu_step_s is None else gpu_step_s)


__all__ = ["ENGINES", "EngineOverhead", "engine_overhead_s", "engine_spec", "overhead_s"]
