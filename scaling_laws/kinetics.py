"""Kinetics test-time cost model (Sadhukhan et al. 2025) and accuracy-vs-cost frontiers.

Cost in *effective FLOPs* (eFLOPs): compute plus memory traffic weighted by the hardware's
arithmetic intensity I = peak FLOP/s / memory bandwidth (FLOP per byte),

    eFLOPs = C_comp + I * C_mem

(Sadhukhan, Chen, Zheng, Zhou, Strubell, Chen, *Kinetics: Rethinking Test-Time Scaling Laws*,
arXiv:2506.05333, Sec. 3.2, Eq. 2-4; released cost code Infini-AI-Lab/Kinetics @af7fa57
``cost_model/utils.py``). Dense attention, n trials of L_out generated tokens after an L_in prompt,
active parameters P, KV elements per token D = 2 n_kv d_head n_layers (bytes at 8-bit), GQA
ratio r = n_heads / n_kv:

    linear    = 2 n P L_out
    attention = r n D L_out (2 L_in + L_out)
    kv_access = I D L_out (2 L_in + n L_out)   (the prompt's KV is read once, shared by the n trials)

Weight loads are not counted (large-batch assumption, as in the paper). Sparse attention with KV
budget B (same code): top-k reads kv = B L_out + max(0, B - L_in)^2 / 2 entries, block-top-k
kv = B L_out - max(0, B - L_in)^2 / 2 with B = local + block_size * block_topk; compute =
n (2 P L_out + 4 kv n_heads d_head n_layers), memory = I n 4 kv n_kv d_head n_layers (no prefix
sharing); block-top-k adds block scoring floor((2 L_in + L_out)/block_size) L_out d_head n_layers n
times n_heads (compute) and I times n_kv (memory).

The paper's intensity is NVIDIA B200 FP8: 4.5 PFLOP/s / 8 TB/s = 562.5 FLOP/byte
(:data:`B200_INTENSITY`); :func:`intensity_from_device` computes it from the hardware catalog.

The Kinetics "law" is a frontier: the best accuracy reachable at each cost (:func:`frontier`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scaling_laws._lazy import LazyModule
from scaling_laws.base import Law, ParamSet, frozen, register_law
from scaling_laws.errors import LawError

jnp = LazyModule("jax.numpy")

CITATION = "Sadhukhan et al. 2025, Kinetics: Rethinking Test-Time Scaling Laws, arXiv:2506.05333"
B200_INTENSITY = 562.5  # Kinetics code E_flops = 562.5 (B200: 4.5e15 FP8 FLOP/s / 8e12 B/s)


@dataclass(frozen=True)
class AttentionShape:
    """The shape numbers the cost model needs (no dependency on :mod:`simulator`)."""

    name: str
    params: float  # active parameters P used by the paper's cost model
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int

    @property
    def kv_elems_per_token(self) -> float:
        """D = 2 n_kv d_head n_layers (K and V elements per token)."""
        return 2.0 * self.num_kv_heads * self.head_dim * self.num_layers


_QWEN3_SRC = (
    "layers / heads / kv heads / head_dim: Qwen3 HF configs (QwenLM/Qwen3 tech report Table 1; "
    "litgpt config.py); P: parameter counts used by the Kinetics cost model (repo @af7fa57)"
)
#: Qwen3 dense shapes (source: :data:`_QWEN3_SRC`).
QWEN3 = frozen(
    {
        "qwen3-0.6b": AttentionShape("qwen3-0.6b", 0.752e9, 28, 16, 8, 128),
        "qwen3-1.7b": AttentionShape("qwen3-1.7b", 2.03e9, 28, 16, 8, 128),
        "qwen3-4b": AttentionShape("qwen3-4b", 4.02e9, 36, 32, 8, 128),
        "qwen3-8b": AttentionShape("qwen3-8b", 8.19e9, 36, 32, 8, 128),
        "qwen3-14b": AttentionShape("qwen3-14b", 14.77e9, 40, 40, 8, 128),
        "qwen3-32b": AttentionShape("qwen3-32b", 32.76e9, 64, 64, 8, 128),
    }
)


def qwen3_shape(name: str) -> AttentionShape:
    """Shape of a Qwen3 dense model by name (``qwen3-8b`` ...)."""
    try:
        return QWEN3[name.lower()]
    except KeyError:
        raise LawError(f"unknown Qwen3 shape {name!r}; known: {', '.join(QWEN3)}") from None


def intensity_from_device(device: str, dtype: str = "fp8") -> float:
    """I = peak(dtype) / main-memory bandwidth (FLOP/byte) from the hardware catalog.

    The paper uses FP8 peak on B200 (562.5); pass ``dtype="bf16"`` for a BF16 deployment.
    """
    from hardware_db import load_device

    d = load_device(device)
    return float(d.peak(dtype) / d.memory.bandwidth_bytes_per_s)


def _check_positive(**kw):
    for k, v in kw.items():
        a = np.asarray(v, dtype=np.float64)
        if not np.all(np.isfinite(a)) or np.any(a < 0):
            raise LawError(f"{k} must be finite and >= 0, got {v}")


def dense_cost(shape: AttentionShape, prompt_len, gen_len, trials=1, intensity=B200_INTENSITY):
    """Dense-attention eFLOPs per query: {"linear", "attention", "kv_access", "total"} in eFLOP."""
    _check_positive(prompt_len=prompt_len, gen_len=gen_len, trials=trials, intensity=intensity)
    L_in = jnp.asarray(prompt_len, dtype=jnp.result_type(float))
    L_out = jnp.asarray(gen_len, dtype=jnp.result_type(float))
    n = jnp.asarray(trials, dtype=jnp.result_type(float))
    D = shape.kv_elems_per_token
    r = shape.num_heads / shape.num_kv_heads
    linear = 2.0 * n * shape.params * L_out
    attention = r * n * D * L_out * (2.0 * L_in + L_out)
    kv = intensity * D * L_out * (2.0 * L_in + n * L_out)
    return {"linear": linear, "attention": attention, "kv_access": kv, "total": linear + attention + kv}


def sparse_cost(
    shape: AttentionShape,
    prompt_len,
    gen_len,
    budget,
    trials=1,
    intensity=B200_INTENSITY,
    *,
    kind: str = "topk",
    block_size: int = 16,
):
    """Sparse-attention eFLOPs (KV budget ``budget`` tokens): {"compute", "memory", "total"}.

    ``kind`` = ``"topk"`` (oracle top-k) or ``"block_topk"`` (adds block-scoring cost).
    """
    if kind not in ("topk", "block_topk"):
        raise LawError(f"kind must be 'topk' or 'block_topk', got {kind!r}")
    _check_positive(prompt_len=prompt_len, gen_len=gen_len, budget=budget, trials=trials, intensity=intensity)
    L_in = jnp.asarray(prompt_len, dtype=jnp.result_type(float))
    L_out = jnp.asarray(gen_len, dtype=jnp.result_type(float))
    B = jnp.asarray(budget, dtype=jnp.result_type(float))
    n = jnp.asarray(trials, dtype=jnp.result_type(float))
    extra = 0.5 * jnp.maximum(0.0, B - L_in) ** 2
    kv = B * L_out + extra if kind == "topk" else B * L_out - extra
    hd_l = shape.head_dim * shape.num_layers
    compute = n * (2.0 * shape.params * L_out + 4.0 * kv * shape.num_heads * hd_l)
    memory = intensity * n * 4.0 * kv * shape.num_kv_heads * hd_l
    if kind == "block_topk":
        blocks = jnp.floor((2.0 * L_in + L_out) / block_size) * L_out * hd_l * n
        compute = compute + blocks * shape.num_heads
        memory = memory + intensity * blocks * shape.num_kv_heads
    return {"compute": compute, "memory": memory, "total": compute + memory}


def frontier(cost, accuracy) -> np.ndarray:
    """Indices of the accuracy-vs-cost Pareto frontier (best accuracy at each cost), cheapest first.

    A point is on the frontier if no point with lower or equal cost has higher or equal accuracy
    (ties: the cheaper one). Vectorised: sort by (cost, -accuracy), keep strict running maxima.
    """
    c = np.asarray(cost, dtype=np.float64).ravel()
    a = np.asarray(accuracy, dtype=np.float64).ravel()
    if c.shape != a.shape:
        raise LawError(f"cost and accuracy must have the same length ({c.size} vs {a.size})")
    if c.size == 0:
        return np.zeros(0, dtype=int)
    order = np.lexsort((-a, c))
    a_sorted = a[order]
    prev_max = np.concatenate([[-np.inf], np.maximum.accumulate(a_sorted)[:-1]])
    return order[a_sorted > prev_max]


def kv_growth_per_doubling(shapes=None) -> float:
    """exp(ln 2 * slope) of ln(KV elements/token) vs ln(params) over ``shapes`` (default Qwen3)."""
    shapes = list(QWEN3.values()) if shapes is None else list(shapes)
    x = np.log([s.params for s in shapes])
    y = np.log([s.kv_elems_per_token for s in shapes])
    slope = np.polyfit(x, y, 1)[0]
    return float(2.0**slope)


def _fn(params, shape, prompt_len, gen_len, trials=1):
    return dense_cost(shape, prompt_len, gen_len, trials, params["intensity"])["total"]


LAW = register_law(
    Law(
        name="kinetics",
        description="Kinetics eFLOPs cost model: compute + intensity x memory traffic (test-time scaling)",
        fn=_fn,
        param_names=("intensity",),
        bounds=frozen({"intensity": (0.0, 1e5)}),
        inputs=frozen({"shape": "AttentionShape", "prompt_len": "tokens", "gen_len": "tokens", "trials": "samples"}),
        output="eFLOP per query",
        citation=CITATION,
        published=frozen(
            {"b200": ParamSet("b200", {"intensity": B200_INTENSITY}, f"{CITATION}, Sec. 3.2; code cost_model/utils.py E_flops = 562.5")}
        ),
        formula="eFLOPs = 2nPL_out + r n D L_out (2L_in + L_out) + I D L_out (2L_in + n L_out)",
    )
)
