"""Serving simulator: TTFT, TPOT, end-to-end latency, throughput and memory per device (JAX core).

One configuration and millions go through the same pure ``jax.numpy`` function
:func:`serve_core` (``jit`` + ``vmap`` in :mod:`simulator.sweep`). Front ends:
:func:`predict_serve` (one configuration, names or objects, validated, optional per-operator
breakdown) and :func:`simulator.sweep.serve` (a DataFrame of configurations).

Model of a step (see :mod:`simulator.ops` for the operators)::

    t_step = sum_op kernel_time_s(op)                              # roofline per operator
           + sum_comm t_comm - overlap * min(sum_comm, sum_compute) # alpha-beta collectives

where ``kernel_time_s = max((F + F_half)/(P e_c), (B + B_half)/(W e_m)) + n_kernels t_kernel``
(:func:`simulator.roofline.kernel_time_s`); weight bytes streamed from a slower tier (SN40L DDR)
count ``W_main / W_weights`` times.

Layout: ``tp`` (tensor parallel), ``pp`` (pipeline stages), ``ep`` (expert parallel, see
:mod:`simulator.ops`), ``dp`` (independent replicas). ``batch`` is sequences **per replica**;
throughputs count all ``dp`` replicas; memory is per device.

Static batching (``chunk = 0``, the default), with ``m = max(B / pp, 1)`` sequences per pipeline
micro-batch and ``t(x)`` the time of a forward step of all layers on one TP group:

- ``TTFT = (2 pp - 1) / pp * t(prefill of m prompts)`` (pipeline fill + drain; = t for pp = 1)
- ``TPOT(c) = t(decode of m sequences at context c) / E_tok``; ``tpot_s`` at the last context
  ``L + O - 1``; ``tpot_avg_s`` averaged over the generation, evaluated at the mean context
  ``L + (O - 1)/2`` (exact where the step time is linear in c, as it is within a roofline regime)
- ``e2e = TTFT + (O - 1) tpot_avg``; output tokens/s ``= dp B O / e2e``; total tokens/s
  ``= dp B (L + O) / e2e`` (prompt tokens count in total, not in output)

Chunked prefill (``chunk = C > 0``, Sarathi-Serve, Agrawal et al. 2024, continuous batching at
steady state): every iteration decodes the ``B`` running sequences at the mean context
``L + (O - 1)/2`` and prefills the prompt tokens that are waiting, ``p = min(C - B, B L / O)`` (the
chunk budget, or the steady-state arrival of ``L`` prompt tokens per request every ``O``
iterations when that is smaller), of one request at mean offset. Requests
complete at ``min(p / L, B / O)`` per iteration, so output tokens/s ``= dp O min(p/L, B/O) / t_iter``,
``TPOT = t_iter``, ``TTFT = ceil(L / p) t_iter``.

Speculative decoding (Leviathan et al. 2023, Eq. 1): with lookahead ``gamma`` and acceptance rate
``alpha`` a target step verifies ``gamma + 1`` tokens and yields ``E_tok = (1 - alpha^(gamma+1)) /
(1 - alpha)`` tokens; a step costs ``gamma`` draft decode steps plus one target step of
``gamma + 1`` tokens per sequence.

Memory per device: weights ``((N - N_routed)/tp + N_routed / S) / pp`` x weight bytes (S = tp, or
tp dp with expert parallelism); KV cache ``B ceil((L + O) / block) block`` x KV bytes per token
(paged blocks of ``block_size`` tokens, vLLM); activations of the largest step (prefill
micro-batch or chunk: residual, QKV, MLP intermediate, fp32 logits); a fixed ``workspace_bytes``
(CUDA context, library workspaces; 1 GB default, an assumption). ``fits`` compares with main
memory (and DDR for offloaded weights); ``shortfall_bytes`` says how much is missing;
``max_batch`` is the largest batch that fits for the given lengths (memory is affine in B).

Serving engine (``engine``, :mod:`simulator.engines`): every step (prefill, each decode step,
each chunked iteration) adds the engine's host/framework time ``step_s + per_sequence_s * seqs +
t_step * host_share / (1 - host_share)``; engine ``none`` (default) adds nothing.

SN40L-style tiers: ``weights_offloaded = 1`` keeps weights in the slow tier (DDR) and streams them
each step; ``model_switch_s = weight bytes per device / slow-tier bandwidth`` is the time to copy a
model DDR -> HBM (composition of experts; NaN when the device has no slower tier).
"""

from simulator.pricing import comm_time_s, op_bounds, op_times_s, step_parts_s, step_time_s
from simulator.serving.breakdown import breakdown
from simulator.serving.core import (
    CONFIG_FIELDS,
    DEFAULT_BLOCK_SIZE,
    DEFAULT_WORKSPACE_BYTES,
    RESULT_COLUMNS,
    SCENARIOS,
    ServeConfig,
    activation_bytes_coeffs,
    serve_core,
    weight_params_per_device,
)
from simulator.serving.frontend import (
    AUTO_ACT_DTYPES,
    apply_calibration,
    check_serve,
    dequant_flop_of,
    head_weight_bytes_of,
    predict_serve,
    resolve_dtypes,
    resolve_hardware,
    resolve_model,
    shape_only,
    validate_serve,
    weight_bytes_of,
)

__all__ = [
    "AUTO_ACT_DTYPES", "CONFIG_FIELDS", "DEFAULT_BLOCK_SIZE", "DEFAULT_WORKSPACE_BYTES", "RESULT_COLUMNS",
    "SCENARIOS", "ServeConfig", "activation_bytes_coeffs", "apply_calibration", "dequant_flop_of", "head_weight_bytes_of", "breakdown", "check_serve", "comm_time_s",
    "op_bounds", "op_times_s", "predict_serve", "resolve_dtypes", "resolve_hardware", "resolve_model",
    "serve_core", "shape_only", "step_parts_s", "step_time_s", "validate_serve", "weight_bytes_of", "weight_params_per_device",
]
