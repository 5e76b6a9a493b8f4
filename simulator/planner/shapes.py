"""Family shape rules: model size N -> layers, hidden size, heads, MLP width (vectorised).

A *family* fixes everything but depth: the aspect ratio ``h / L`` (hidden size over layers), the
head width, the MLP form and width, the vocabulary and the norm. For ``L`` layers::

    heads(L) = max(1, round(aspect x L / d_head)); once it is >= 8, the multiples of 8 around it
               (two below, two above) with h / L within a factor 2 of the aspect ratio are all
               candidates, which keeps the set dense in N (< 15 % steps above 1B parameters)
    h(L)   = heads x d_head
    heads  = h / d_head,  kv_heads = heads (MHA) or the family's fixed GQA count
    f(L)   = round(ffn_mult x h / ffn_round) x ffn_round

(the multiple of 8 lets tensor parallelism up to 8, one NVLink node, split the heads, as
Megatron-LM requires ``heads % tp == 0``), and the parameter count comes from :class:`simulator.models.ModelSpec` (``total_params`` with
embeddings; ``non_embedding_params``), about ``12 L h^2 = 12 aspect^2 L^3`` for both built-in
families, so ``N`` grows ~ ``L^3`` and consecutive depths differ by ~``3 / L`` in ``N``.

Built-in families (the aspect ratio of 128 is what both papers used at the 6.7B-13B scale):

* ``llama`` (default): SwiGLU MLP of width ``(2/3) 4 h`` rounded to 256, RMSNorm, untied
  embeddings, vocabulary 32,000, head dim 128, MHA. Touvron et al. 2023, *LLaMA*, arXiv:2302.13971,
  Table 2 (6.7B: h 4096 / L 32; 13B: 5120 / 40, i.e. h/L = 128) and Sec. 2.2 (SwiGLU, 2/3 4d).
* ``gpt3``: GELU MLP of width ``4 h``, LayerNorm, tied embeddings, learned positions (2048),
  biases, vocabulary 50,257, head dim 128. Brown et al. 2020, arXiv:2005.14165, Table 2.1
  (6.7B: 4096 / 32; 13B: 5140 / 40; 175B: 12288 / 96, all h/L ~ 128).

Kaplan et al. 2020 (arXiv:2001.08361, Sec. 3.1, Fig. 5) found the loss within a few percent for
aspect ratios between ~20 and ~200 at fixed N, so the rule matters little for the predicted loss;
it matters for the hardware (GEMM sizes, layers per pipeline stage, memory).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from fitters.precision import float64
from simulator.models import ModelSpec
from simulator.planner.errors import PlanError


@dataclass(frozen=True)
class Family:
    """A depth-parameterised model family (see the module docstring for the rule)."""

    name: str
    aspect_ratio: float
    head_dim: int
    ffn_mult: float
    ffn_round: int
    gated_mlp: int
    vocab_size: int
    tied_embeddings: int
    layernorm: int
    kv_heads: int | None  # None = MHA (kv heads = heads)
    max_context: int
    bias: int  # 1 = GPT-style biases on attention and MLP, learned positions
    source: str

    def __post_init__(self):
        if not self.aspect_ratio > 0 or self.head_dim < 1 or not self.ffn_mult > 0:
            raise PlanError(f"family '{self.name}': aspect ratio, head dim and ffn multiplier must be > 0")


FAMILIES = {
    "llama": Family("llama", 128.0, 128, 8.0 / 3.0, 256, 1, 32000, 0, 0, None, 2048, 0,
                    "Touvron et al. 2023, LLaMA, arXiv:2302.13971, Table 2 and Sec. 2.2"),
    "gpt3": Family("gpt3", 128.0, 128, 4.0, 128, 0, 50257, 1, 1, None, 2048, 1,
                   "Brown et al. 2020, arXiv:2005.14165, Table 2.1"),
}

DEFAULT_FAMILY = "llama"
MIN_LAYERS = 2
MAX_LAYERS = 320


def get_family(family: str | Family) -> Family:
    """A built-in family by name (or the family itself); PlanError listing the names otherwise."""
    if isinstance(family, Family):
        return family
    key = str(family).strip().lower()
    if key not in FAMILIES:
        raise PlanError(f"unknown model family '{family}'; allowed: {', '.join(FAMILIES)}")
    return FAMILIES[key]


def family_heads(family: str | Family, layers) -> tuple[np.ndarray, np.ndarray]:
    """(layers, heads) pairs of the rule: ``raw = round(aspect L / d_head)`` heads; from 8 heads on,
    the multiples of 8 around it (``8 floor(raw/8) - 8`` ... ``8 ceil(raw/8) + 8``) whose aspect
    ratio stays within a factor 2 of the family's (duplicates removed)."""
    fam = get_family(family)
    L = np.asarray(layers, dtype=np.int64)
    if L.size == 0 or (L < 1).any():
        raise PlanError("layers must be integers >= 1")
    raw = np.maximum(1, np.round(fam.aspect_ratio * L / fam.head_dim)).astype(np.int64)
    lo = (raw // 8) * 8
    hi = -(-raw // 8) * 8
    opts = np.stack([lo - 8, lo, hi, hi + 8], axis=1)                       # (L, 4)
    opts = np.where(raw[:, None] >= 8, opts, raw[:, None])
    aspect = opts * fam.head_dim / L[:, None]
    ok = (opts >= 1) & ((raw[:, None] < 8) | ((opts >= 8) & (aspect >= fam.aspect_ratio / 2)
                                               & (aspect <= 2 * fam.aspect_ratio)))
    LL = np.broadcast_to(L[:, None], opts.shape)[ok]
    pairs = np.unique(np.stack([LL, opts[ok]], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def family_spec(family: str | Family, layers, heads=None) -> ModelSpec:
    """A batched :class:`ModelSpec` (numpy leaves): one entry per depth in ``layers`` with
    ``heads`` query heads (default: the rule's nearest multiple of 8)."""
    fam = get_family(family)
    L = np.asarray(layers, dtype=np.int64)
    if L.size == 0 or (L < 1).any():
        raise PlanError("layers must be integers >= 1")
    d = fam.head_dim
    if heads is None:
        raw = np.maximum(1, np.round(fam.aspect_ratio * L / d)).astype(np.int64)
        heads = np.where(raw >= 8, np.maximum(8, np.round(raw / 8.0).astype(np.int64) * 8), raw)
    heads = np.asarray(heads, dtype=np.int64)
    h = heads * d
    kv = heads if fam.kv_heads is None else np.minimum(heads, fam.kv_heads)
    f = np.maximum(fam.ffn_round, np.round(fam.ffn_mult * h / fam.ffn_round).astype(np.int64) * fam.ffn_round)
    ones = np.ones_like(L)
    return ModelSpec(
        name=f"{fam.name}-family", num_layers=L, hidden_size=h, num_heads=heads, num_kv_heads=kv,
        head_dim=d * ones, ffn_size=f, gated_mlp=fam.gated_mlp * ones, vocab_size=fam.vocab_size * ones,
        tied_embeddings=fam.tied_embeddings * ones, layernorm=fam.layernorm * ones,
        max_context=fam.max_context * ones, attention_bias=fam.bias * ones, mlp_bias=fam.bias * ones,
        learned_pos_emb=fam.bias * ones,
    )


@float64()
def _count(fn, spec) -> np.ndarray:
    return np.asarray(fn(spec), dtype=np.float64)


@dataclass(frozen=True)
class Candidates:
    """The shapes of a family for a range of depths, as numpy arrays of equal length.

    ``total_params`` counts embeddings (the Chinchilla convention), ``non_embedding_params`` does
    not (Kaplan / Farseer / Step Law convention). ``spec`` is the batched ModelSpec.
    """

    family: Family
    spec: ModelSpec
    layers: np.ndarray
    hidden: np.ndarray
    heads: np.ndarray
    kv_heads: np.ndarray
    ffn: np.ndarray
    total_params: np.ndarray
    non_embedding_params: np.ndarray

    def __len__(self) -> int:
        return int(self.layers.size)

    def row(self, i: int) -> dict:
        """Plain-Python description of candidate ``i``."""
        return {
            "family": self.family.name,
            "layers": int(self.layers[i]),
            "hidden_size": int(self.hidden[i]),
            "num_heads": int(self.heads[i]),
            "num_kv_heads": int(self.kv_heads[i]),
            "head_dim": int(self.family.head_dim),
            "ffn_size": int(self.ffn[i]),
            "vocab_size": int(self.family.vocab_size),
            "total_params": float(self.total_params[i]),
            "non_embedding_params": float(self.non_embedding_params[i]),
        }

    def subset(self, idx) -> Candidates:
        idx = np.asarray(idx)
        spec = jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), self.layers.shape)[idx], self.spec)
        return Candidates(self.family, spec, *(getattr(self, k)[idx] for k in (
            "layers", "hidden", "heads", "kv_heads", "ffn", "total_params", "non_embedding_params")))


def candidates(family: str | Family = DEFAULT_FAMILY, min_layers: int = MIN_LAYERS,
               max_layers: int = MAX_LAYERS) -> Candidates:
    """Every depth from ``min_layers`` to ``max_layers`` of ``family`` (one vectorised build)."""
    fam = get_family(family)
    if not (1 <= int(min_layers) <= int(max_layers)):
        raise PlanError(f"layer range [{min_layers}, {max_layers}]; allowed: 1 <= min <= max")
    L, H = family_heads(fam, np.arange(int(min_layers), int(max_layers) + 1))
    spec = family_spec(fam, L, H)
    total = _count(lambda x: x.total_params(), spec)
    order = np.argsort(total, kind="stable")
    spec = jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), total.shape)[order], spec)
    s = spec
    return Candidates(
        fam, spec, np.asarray(s.num_layers), np.asarray(s.hidden_size), np.asarray(s.num_heads),
        np.asarray(s.num_kv_heads), np.asarray(s.ffn_size),
        _count(lambda x: x.total_params(), spec), _count(lambda x: x.non_embedding_params(), spec),
    )


def shape_for_params(n_params, family: str | Family = DEFAULT_FAMILY, *, non_embedding: bool = False) -> dict:
    """The family member whose parameter count is nearest ``n_params`` in log space.

    ``non_embedding`` selects which count ``n_params`` refers to. PlanError outside the family's
    range by more than one depth step.
    """
    n = np.atleast_1d(np.asarray(n_params, dtype=float))
    if not np.all(np.isfinite(n)) or np.any(n <= 0):
        raise PlanError(f"parameter count {n_params!r}; allowed: finite numbers > 0")
    cands = candidates(family)
    ref = cands.non_embedding_params if non_embedding else cands.total_params
    i = np.argmin(np.abs(np.log(ref)[None, :] - np.log(n)[:, None]), axis=1)
    rows = [cands.row(int(k)) for k in i]
    return rows[0] if np.ndim(n_params) == 0 else rows
