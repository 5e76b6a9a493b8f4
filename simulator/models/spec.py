"""``ModelSpec``: the architecture of a decoder-only transformer LLM as a JAX pytree.

A ``ModelSpec`` is a frozen dataclass registered with ``jax.tree_util.register_dataclass`` (when JAX
is imported: :mod:`simulator.lazy_jax`; this module itself does not import JAX). Every
numeric field is a pytree *leaf*, so specs can be stacked (``stack_specs``) and pushed through
``jax.vmap`` / ``jax.jit``; ``name`` is static metadata. Flags are encoded as integers (0/1) so
that every method is plain arithmetic: the same code runs on Python ints (exact integer results)
and on traced arrays (floating point, see below). Discrete choices use ``jnp.where``-style
selection, never ``if`` on a leaf.

Parameter counts (h = hidden_size, H = num_heads, K = num_kv_heads, d = head_dim,
d_v = v_head_dim or d, f = ffn_size, f_e = expert_ffn_size, E = num_experts,
k = experts_per_token, S = num_shared_experts, V = vocab_size, L = num_layers,
m = 2 + gated_mlp matrices per MLP, n = 1 + layernorm weights per norm)::

    attention (GQA/MHA/MQA)  = h H d + h K d + h K d_v + H d_v h  [+ biases] [+ 2 d if qk_norm]
      biases: attention_bias = 1 -> H d + K d + K d_v + h (q, k, v, o; GPT-2/3, OPT, BLOOM, Phi)
              attention_bias = 2 -> H d + K d + K d_v     (q, k, v only; Qwen2)
    attention (MLA, DeepSeek-V2/V3; kv_lora_rank r_kv > 0, q_lora_rank r_q, rope dim d_r):
        q  = h r_q + r_q + r_q H d        (W_DQ, q_a_layernorm, W_UQ/W_QR)   if r_q > 0
           = h H d                        (one projection)                  if r_q = 0
        kv = h (r_kv + d_r) + r_kv + r_kv H ((d - d_r) + d_v)   (W_DKV + W_KR, kv_a_layernorm, W_UK/W_UV)
        o  = H d_v h
    dense MLP   = m h f + mlp_bias ((m - 1) f + h)
    one expert  = m h f_e + mlp_bias ((m - 1) f_e + h)
    MoE MLP     = (E + S) expert + router,  router = h E + router_bias E
    active MoE  = (k + S) expert + router
    norms       = (2 - parallel_block) n h per layer + n h final
    embeddings  = V h (token) + (1 - tied_embeddings) V h (LM head) + learned_pos_emb max_context h
    total       = embeddings + L (attention + norms/layer) + dense_layers dense_MLP
                  + moe_layers MoE_MLP + final norm

The embedding convention (token table, untied LM head and learned positions are "embedding";
everything else is "non-embedding") is the one of Kaplan et al. 2020 (arXiv 2001.08361) and of the
Qwen3 model cards, whose "non-embedding" counts it reproduces (e.g. Qwen3-8B 8.19B total,
6.95B non-embedding).

Small terms that are deliberately not modelled (each < 2e-5 of the total for the built-in models):
LayerNorm without bias (PaLM: we count the bias), a LayerNorm on the word embeddings (BLOOM),
a bias on the LM head (Phi-2), position-table offset rows (OPT has 2050 rows, we count
max_context = 2048).

Attention FLOPs for MLA (used by ``simulator.ops``; stated here because the spec defines the
shapes): projections cost 2 FLOP per weight per token like any matmul (the counts above).
The score/context part is approximated as standard multi-head attention with H heads, query/key
width d = qk_nope_head_dim + qk_rope_head_dim (``head_dim``) and value width d_v
(``attn_v_dim``): 2 H (d + d_v) FLOP per token per attended position. That is the non-absorbed
form used in training and prefill; decode kernels that absorb W_UK/W_UV into the query/output
attend over the latent instead (width r_kv + d_r for scores and r_kv for values per head), which
costs more FLOPs but reads only the compressed cache.

KV cache (``kv_cache_elems_per_token``), elements per token summed over all layers::

    standard:  L K (d + d_v) = 2 L K d
    MLA:       L (r_kv + d_r)        (the compressed latent c_KV plus the shared decoupled RoPE key,
                                      DeepSeek-V2 paper arXiv 2405.04434 Sec. 2.1; 576 per layer
                                      for DeepSeek-V3)

Numerical types: on Python ints the methods return exact Python ints. On arrays/tracers the leaves
are converted to the default float dtype first (float32, or float64 with ``jax_enable_x64``),
because int32 would overflow for counts above 2**31 (relative rounding of float32 is ~6e-8).

Validation: construction does no checks (JAX rebuilds specs from tracers inside ``vmap``/``jit``).
Call ``check()`` (``ModelSpec.create``, the catalog and the config loaders do) on Python values;
it raises ``ModelError`` naming the field and what is allowed, and is skipped when leaves are arrays.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from simulator.errors import ModelError
from simulator.lazy_jax import register_dataclass_when_jax_loads
from simulator.models.batch import stack_specs  # noqa: F401  (re-exported)
from simulator.models.checks import _FLAGS, _POSITIVE, check_spec  # noqa: F401  (_FLAGS, _POSITIVE re-exported)

#: Fields that must be given (everything else defaults to 0).
REQUIRED_FIELDS = (
    "name",
    "num_layers",
    "hidden_size",
    "num_heads",
    "num_kv_heads",
    "head_dim",
    "ffn_size",
    "gated_mlp",
    "vocab_size",
    "tied_embeddings",
    "layernorm",
)



@register_dataclass_when_jax_loads  # a pytree from `import jax` on; importing this module does not import JAX
@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Architecture of a decoder-only transformer (all sizes are counts of elements, not bytes).

    Fields (0/1 flags are ints so that specs can be stacked and vmapped):

    - ``name``: catalog name (static pytree metadata, not a leaf).
    - ``num_layers``: transformer blocks L. ``hidden_size``: model width h.
    - ``num_heads`` / ``num_kv_heads``: query heads H and key/value heads K (K = H: MHA,
      1 < K < H: GQA, K = 1: MQA); H must be a multiple of K.
    - ``head_dim``: query/key width per head d (may differ from h / H, e.g. Qwen3-4B; for MLA it is
      qk_nope_head_dim + qk_rope_head_dim).
    - ``ffn_size``: intermediate width f of the dense MLP layers.
    - ``gated_mlp``: 1 = gated MLP with three matrices (SwiGLU/GeGLU), 0 = two matrices (GELU/ReLU).
    - ``vocab_size``: rows V of the (possibly padded) token embedding.
    - ``tied_embeddings``: 1 = the LM head reuses the token embedding.
    - ``layernorm``: 0 = RMSNorm (weight only), 1 = LayerNorm (weight and bias).
    - ``num_experts``: routed experts E per MoE layer (0 = dense model).
    - ``experts_per_token``: routed experts k used per token. ``num_shared_experts``: always-on
      experts S of width ``expert_ffn_size`` (DeepSeek). ``expert_ffn_size``: width f_e of one expert.
    - ``first_dense_layers``: leading layers with a dense MLP in an MoE model (DeepSeek-V3: 3).
    - ``max_context``: maximum sequence length in tokens (0 = not stated).
    - ``q_lora_rank``, ``kv_lora_rank``, ``qk_rope_head_dim``, ``v_head_dim``: multi-head latent
      attention (MLA, DeepSeek-V2/V3); all 0 for standard attention. ``kv_lora_rank > 0`` selects MLA.
    - ``attention_bias``: 0 = none, 1 = biases on q, k, v and output projections, 2 = on q, k, v only.
    - ``mlp_bias``: 1 = biases on the MLP (and expert) matrices.
    - ``learned_pos_emb``: 1 = a learned absolute position table of ``max_context`` rows (GPT, OPT).
    - ``parallel_block``: 1 = attention and MLP read the same normalised input (one norm per layer;
      GPT-J/PaLM/Phi-2 style), 0 = sequential pre-norm block (two norms per layer).
    - ``qk_norm``: 1 = RMSNorm on queries and keys over ``head_dim`` (Qwen3).
    - ``router_bias``: 1 = a per-expert bias in the router (DeepSeek-V3 ``e_score_correction_bias``).
    """

    name: str = dataclasses.field(metadata={"static": True})
    num_layers: Any
    hidden_size: Any
    num_heads: Any
    num_kv_heads: Any
    head_dim: Any
    ffn_size: Any
    gated_mlp: Any
    vocab_size: Any
    tied_embeddings: Any
    layernorm: Any
    num_experts: Any = 0
    experts_per_token: Any = 0
    num_shared_experts: Any = 0
    expert_ffn_size: Any = 0
    first_dense_layers: Any = 0
    max_context: Any = 0
    q_lora_rank: Any = 0
    kv_lora_rank: Any = 0
    qk_rope_head_dim: Any = 0
    v_head_dim: Any = 0
    attention_bias: Any = 0
    mlp_bias: Any = 0
    learned_pos_emb: Any = 0
    parallel_block: Any = 0
    qk_norm: Any = 0
    router_bias: Any = 0

    # ------------------------------------------------------------------ construction / checks
    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of all fields, ``name`` first, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def create(cls, **fields: Any) -> ModelSpec:
        """Build a spec from Python values and ``check()`` it.

        Booleans are stored as 0/1. Unknown or missing fields raise ``ModelError``.
        """
        allowed = cls.field_names()
        label = fields.get("name", "?")
        for key in fields:
            if key not in allowed:
                raise ModelError(f"model '{label}': unknown field '{key}'; allowed: {', '.join(allowed)}")
        for key in REQUIRED_FIELDS:
            if key not in fields or fields[key] is None:
                raise ModelError(f"model '{label}': missing required field '{key}'")
        values = {k: (int(v) if isinstance(v, (bool, np.bool_)) else v) for k, v in fields.items()}
        return cls(**values).check()

    def replace(self, **changes: Any) -> ModelSpec:
        """A copy with some fields changed (validated when the values are Python numbers)."""
        allowed = self.field_names()
        for key in changes:
            if key not in allowed:
                raise ModelError(f"model '{self.name}': unknown field '{key}'; allowed: {', '.join(allowed)}")
        changes = {k: (int(v) if isinstance(v, (bool, np.bool_)) else v) for k, v in changes.items()}
        return dataclasses.replace(self, **changes).check()

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict (``name`` first)."""
        return {name: getattr(self, name) for name in self.field_names()}

    def check(self) -> ModelSpec:
        """Check the architecture; return ``self`` or raise ``ModelError`` naming the field.

        (``check_*`` / ``check()`` are input checks; ``validate`` in simlab means comparing
        predictions with measurements. ``validate()`` is the old name of this method, kept for now.)

        Skipped (returns ``self``) when any leaf is an array or a tracer, i.e. inside ``vmap``/``jit``.
        """
        return check_spec(self)

    validate = check  # old name of check() (an input check), kept for now

    # ------------------------------------------------------------------ arithmetic helpers
    def numeric(self, name: str):
        """Field ``name`` as a number usable in ``jax.numpy`` arithmetic (float under tracing)."""
        return _num(getattr(self, name))

    # ------------------------------------------------------------------ derived shapes
    @property
    def is_moe(self):
        """True (or a boolean array) when the model has routed experts."""
        return self.numeric("num_experts") > 0

    @property
    def is_mla(self):
        """True (or a boolean array) when attention is MLA (``kv_lora_rank > 0``)."""
        return self.numeric("kv_lora_rank") > 0

    @property
    def moe_layers(self):
        """Number of MoE layers: ``num_layers - first_dense_layers`` if ``num_experts > 0`` else 0."""
        return _where(self.is_moe, self.numeric("num_layers") - self.numeric("first_dense_layers"), 0)

    @property
    def dense_layers(self):
        """Number of layers with a dense MLP: ``num_layers - moe_layers``."""
        return self.numeric("num_layers") - self.moe_layers

    @property
    def attn_v_dim(self):
        """Value width per head: ``v_head_dim`` when set (MLA), else ``head_dim``."""
        return _where(self.numeric("v_head_dim") > 0, self.numeric("v_head_dim"), self.numeric("head_dim"))

    # ------------------------------------------------------------------ parameter counts
    def attention_params_per_layer(self):
        """Weights of one attention block incl. biases, q/k norms and MLA's internal norms.

        Standard: ``h H d + h K d + h K d_v + H d_v h`` (+ biases per ``attention_bias``,
        + ``2 d`` for ``qk_norm``). MLA: see the module docstring. Excludes the block's input norm.
        """
        h, heads, kv, d = self.numeric("hidden_size"), self.numeric("num_heads"), self.numeric("num_kv_heads"), self.numeric("head_dim")
        dv = self.attn_v_dim
        standard = h * heads * d + h * kv * d + h * kv * dv + heads * dv * h
        ab = self.numeric("attention_bias")
        qkv_bias = heads * d + kv * d + kv * dv
        bias = _where(ab == 1, qkv_bias + h, _where(ab == 2, qkv_bias, 0))
        r_q, r_kv, d_r = self.numeric("q_lora_rank"), self.numeric("kv_lora_rank"), self.numeric("qk_rope_head_dim")
        q = _where(r_q > 0, h * r_q + r_q + r_q * heads * d, h * heads * d)
        kv_proj = h * (r_kv + d_r) + r_kv + r_kv * heads * ((d - d_r) + dv)
        mla = q + kv_proj + heads * dv * h
        return _where(self.is_mla, mla, standard + bias) + self.numeric("qk_norm") * 2 * d

    def o_proj_params_per_layer(self):
        """Weights of the attention output projection: ``H d_v h`` (+ ``h`` bias when ``attention_bias == 1``)."""
        h = self.numeric("hidden_size")
        bias = _where(self.numeric("attention_bias") == 1, h, 0)
        return self.numeric("num_heads") * self.attn_v_dim * h + bias

    def qkv_params_per_layer(self):
        """Weights of the Q/K/V projections (MLA: down/up projections and their norms; q/k norms):
        ``attention_params_per_layer() - o_proj_params_per_layer()``."""
        return self.attention_params_per_layer() - self.o_proj_params_per_layer()

    def mlp_matrix_params(self, width):
        """(up + gate, down) weights of an MLP of intermediate ``width``:
        ``((m - 1) h w + mlp_bias (m - 1) w, h w + mlp_bias h)`` with ``m = 2 + gated_mlp`` matrices."""
        h = self.numeric("hidden_size")
        g = 1 + self.numeric("gated_mlp")
        b = self.numeric("mlp_bias")
        return g * h * width + b * g * width, h * width + b * h

    def expert_params(self):
        """Weights of one routed or shared expert: ``m h f_e + mlp_bias ((m - 1) f_e + h)``."""
        up, down = self.mlp_matrix_params(self.numeric("expert_ffn_size"))
        return up + down

    def router_params(self):
        """Router weights of one MoE layer: ``h E + router_bias E``."""
        e = self.numeric("num_experts")
        return self.numeric("hidden_size") * e + self.numeric("router_bias") * e

    def mlp_params_per_layer(self, layer_is_moe=False, active=False):
        """Weights of one MLP block.

        Dense (``layer_is_moe`` false): ``m h f + mlp_bias ((m - 1) f + h)``.
        MoE: ``(E + S) expert + router``; with ``active=True`` only the ``k`` routed experts a
        token uses: ``(k + S) expert + router``. ``layer_is_moe`` may be a boolean array.
        """
        up, down = self.mlp_matrix_params(self.numeric("ffn_size"))
        dense = up + down
        routed = _where(active, self.numeric("experts_per_token"), self.numeric("num_experts"))
        moe = (routed + self.numeric("num_shared_experts")) * self.expert_params() + self.router_params()
        return _where(layer_is_moe, moe, dense)

    def norm_params_per_layer(self):
        """Weights of the per-layer norms: ``(2 - parallel_block) (1 + layernorm) h``."""
        return (2 - self.numeric("parallel_block")) * (1 + self.numeric("layernorm")) * self.numeric("hidden_size")

    def final_norm_params(self):
        """Weights of the final norm before the LM head: ``(1 + layernorm) h``."""
        return (1 + self.numeric("layernorm")) * self.numeric("hidden_size")

    def embedding_params(self):
        """Token embedding + untied LM head + learned position table.

        ``V h + (1 - tied_embeddings) V h + learned_pos_emb max_context h``.
        """
        v, h = self.numeric("vocab_size"), self.numeric("hidden_size")
        return (2 - self.numeric("tied_embeddings")) * v * h + self.numeric("learned_pos_emb") * self.numeric("max_context") * h

    def _layer_params(self, active: bool):
        n = self.numeric("num_layers")
        return (
            n * (self.attention_params_per_layer() + self.norm_params_per_layer())
            + self.dense_layers * self.mlp_params_per_layer(False)
            + self.moe_layers * self.mlp_params_per_layer(True, active=active)
            + self.final_norm_params()
        )

    def total_params(self):
        """All weights: embeddings + layers (all experts) + final norm."""
        return self.embedding_params() + self._layer_params(active=False)

    def active_params(self):
        """Weights used per token: as ``total_params`` with only ``k + S`` experts per MoE layer.

        Equal to ``total_params()`` for dense models. Embeddings and the router are included.
        """
        return self.embedding_params() + self._layer_params(active=True)

    def non_embedding_params(self):
        """``total_params() - embedding_params()`` (Kaplan et al. 2020 N)."""
        return self._layer_params(active=False)

    def active_non_embedding_params(self):
        """``active_params() - embedding_params()``."""
        return self._layer_params(active=True)

    # ------------------------------------------------------------------ KV cache
    def kv_cache_elems_per_token(self):
        """Cached elements per token summed over layers.

        Standard attention: ``L K (d + d_v) = 2 L K d``. MLA: ``L (kv_lora_rank + qk_rope_head_dim)``
        (compressed latent + shared RoPE key; DeepSeek-V2 paper arXiv 2405.04434 Sec. 2.1).
        """
        n = self.numeric("num_layers")
        standard = n * self.numeric("num_kv_heads") * (self.numeric("head_dim") + self.attn_v_dim)
        mla = n * (self.numeric("kv_lora_rank") + self.numeric("qk_rope_head_dim"))
        return _where(self.is_mla, mla, standard)

    def kv_cache_bytes_per_token(self, bytes_per_elem=2):
        """``kv_cache_elems_per_token() * bytes_per_elem`` (2 = bf16/fp16, 1 = fp8/int8)."""
        return self.kv_cache_elems_per_token() * bytes_per_elem


def _num(x):
    """A leaf as a number usable in arithmetic: Python int/float unchanged, arrays as float."""
    if isinstance(x, (bool, np.bool_)):
        return int(x)
    if isinstance(x, (int, float)):
        return x
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    import jax.numpy as jnp

    return jnp.asarray(x, dtype=jnp.result_type(float))


def _where(cond, a, b):
    """``a if cond else b`` for Python booleans, ``jnp.where`` (in floating point) otherwise."""
    if isinstance(cond, (bool, np.bool_)):
        return a if cond else b
    import jax.numpy as jnp

    return jnp.where(cond, jnp.asarray(_num(a), dtype=jnp.result_type(float)),
                     jnp.asarray(_num(b), dtype=jnp.result_type(float)))
