"""Build a ``ModelSpec`` from a Hugging Face ``config.json`` on local disk (never the network).

Supported ``model_type`` values and the keys read (names as in the ``transformers`` config classes):

- ``llama``, ``mistral``, ``mixtral``, ``qwen2``, ``qwen3``, ``qwen3_moe``: ``num_hidden_layers``,
  ``hidden_size``, ``num_attention_heads``, ``num_key_value_heads`` (default: heads), ``head_dim``
  (default: hidden / heads), ``intermediate_size``, ``vocab_size``, ``tie_word_embeddings``
  (default false), ``max_position_embeddings``. Biases: ``attention_bias`` / ``mlp_bias`` (llama,
  qwen3) apply to q, k, v, o; Qwen2 always has q/k/v biases and none on o. Qwen3 adds q/k RMSNorm.
  Mixtral: ``num_local_experts``, ``num_experts_per_tok``, expert width = ``intermediate_size``.
  Qwen3-MoE: ``num_experts``, ``num_experts_per_tok``, ``moe_intermediate_size``; dense layers only
  as a leading block (``mlp_only_layers`` = [0 .. n-1], ``decoder_sparse_step`` = 1).
- ``deepseek_v2``, ``deepseek_v3`` (MLA + MoE): ``q_lora_rank`` (null = no query compression),
  ``kv_lora_rank``, ``qk_rope_head_dim``, ``qk_nope_head_dim``, ``v_head_dim``, ``n_routed_experts``,
  ``n_shared_experts``, ``num_experts_per_tok``, ``moe_intermediate_size``,
  ``first_k_dense_replace``; ``head_dim`` = nope + rope. DeepSeek-V3 (and V2 with
  ``topk_method = "noaux_tc"``) has a per-expert router bias. Multi-token-prediction layers
  (``num_nextn_predict_layers``) are not part of the main model and are not counted.
- ``gpt2``: ``n_layer``, ``n_embd``, ``n_head``, ``n_inner`` (default 4 n_embd), ``n_positions``,
  ``vocab_size``; LayerNorm, biases, learned positions, tied head (defaults of ``GPT2Config``).
- ``opt``: ``num_hidden_layers``, ``hidden_size``, ``num_attention_heads``, ``ffn_dim``,
  ``max_position_embeddings``, ``vocab_size``, ``enable_bias``; ``word_embed_proj_dim`` must equal
  ``hidden_size`` (the 350M projection variant is not modelled).

A config whose text model sits under ``text_config`` is read from there. Errors name the file and
the key: malformed JSON, a missing or non-integer required key, or an unsupported ``model_type``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from simulator.errors import ModelError
from simulator.models.spec import ModelSpec

SUPPORTED_MODEL_TYPES = (
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen3",
    "qwen3_moe",
    "deepseek_v2",
    "deepseek_v3",
    "gpt2",
    "opt",
)

_MISSING = object()


class _Config:
    """Typed access to the keys of one config dict; errors name the file and the key."""

    def __init__(self, data: dict[str, Any], path: Path, model_type: str):
        self.data, self.path, self.model_type = data, path, model_type

    def _fail(self, key: str, what: str) -> ModelError:
        return ModelError(f"{self.path}: key '{key}' {what} (model_type '{self.model_type}')")

    def integer(self, key: str, default: Any = _MISSING, minimum: int | None = None) -> int:
        value = self.data.get(key)
        if value is None:
            if default is _MISSING:
                raise self._fail(key, "is required but missing")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise self._fail(key, f"must be an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise self._fail(key, f"= {value}; allowed: an integer >= {minimum}")
        return value

    def flag(self, key: str, default: bool) -> int:
        value = self.data.get(key)
        if value is None:
            return int(default)
        if not isinstance(value, bool):
            raise self._fail(key, f"must be true or false, got {value!r}")
        return int(value)


def _no_constant(name: str):
    raise ValueError(f"non-finite number {name} in JSON")


def _read_json(path: str | Path) -> tuple[Path, dict[str, Any]]:
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "config.json"
    if not p.is_file():
        what = "is not a regular file" if p.exists() else "not found"
        raise ModelError(f"Hugging Face config '{p}' {what}; allowed: a config.json file or a folder holding one")
    from hardware_db.parse import decode_text

    try:
        data = json.loads(decode_text(p.read_bytes(), str(p), ModelError), parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise ModelError(f"{p}: malformed JSON at line {err.lineno} column {err.colno}: {err.msg}") from None
    except RecursionError:
        raise ModelError(f"{p}: JSON nested too deeply; allowed: a Hugging Face config object") from None
    except ValueError as err:  # NaN / Infinity constants
        raise ModelError(f"{p}: {err}; allowed: finite numbers") from None
    except OSError as err:
        raise ModelError(f"{p}: cannot be read: {err.strerror}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{p}: expected a JSON object with the model's config keys")
    return p, data


def _default_name(path: Path, data: dict[str, Any]) -> str:
    name = data.get("_name_or_path")
    if isinstance(name, str) and name.strip():
        return name.strip().rstrip("/").rsplit("/", 1)[-1].lower()
    stem = path.parent.name if path.name == "config.json" else path.stem
    return (stem or "hf-model").lower()


def from_hf_config(path: str | Path, name: str | None = None) -> ModelSpec:
    """Read a Hugging Face ``config.json`` (file or directory containing it) into a ``ModelSpec``.

    ``name`` defaults to the last component of ``_name_or_path`` or to the directory name.
    Raises ``ModelError`` naming the file and key on malformed or unsupported configs.
    """
    p, data = _read_json(path)
    model_type = data.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES and isinstance(data.get("text_config"), dict):
        inner = data["text_config"]
        if inner.get("model_type") in SUPPORTED_MODEL_TYPES:
            data = {"_name_or_path": data.get("_name_or_path"), **inner}
            model_type = inner["model_type"]
    if model_type is None:
        raise ModelError(
            f"{p}: missing required key 'model_type' (supported: {', '.join(SUPPORTED_MODEL_TYPES)})"
        )
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ModelError(
            f"{p}: key 'model_type' = {model_type!r} is not supported; supported: {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    cfg = _Config(data, p, model_type)
    if model_type in ("deepseek_v2", "deepseek_v3"):
        fields = _deepseek(cfg)
    elif model_type == "gpt2":
        fields = _gpt2(cfg)
    elif model_type == "opt":
        fields = _opt(cfg)
    else:
        fields = _llama_like(cfg)
    label = name or _default_name(p, data)
    from simulator.models.catalog import checked_spec  # (catalog imports this module)

    return checked_spec(label, fields, str(p))


def _llama_like(cfg: _Config) -> dict[str, Any]:
    mt = cfg.model_type
    hidden = cfg.integer("hidden_size", minimum=1)
    heads = cfg.integer("num_attention_heads", minimum=1)
    if hidden % heads and cfg.data.get("head_dim") is None:
        raise cfg._fail("head_dim", f"is required because hidden_size {hidden} is not a multiple of {heads} heads")
    moe = mt in ("mixtral", "qwen3_moe")
    fields: dict[str, Any] = dict(
        num_layers=cfg.integer("num_hidden_layers"),
        hidden_size=hidden,
        num_heads=heads,
        num_kv_heads=cfg.integer("num_key_value_heads", heads),
        head_dim=cfg.integer("head_dim", hidden // heads),
        ffn_size=cfg.integer("intermediate_size", 0 if mt == "qwen3_moe" else _MISSING),
        gated_mlp=1,
        vocab_size=cfg.integer("vocab_size"),
        tied_embeddings=cfg.flag("tie_word_embeddings", False),
        layernorm=0,
        max_context=cfg.integer("max_position_embeddings", 0),
    )
    if mt == "qwen2":
        fields["attention_bias"] = 2
    elif mt in ("llama", "qwen3", "qwen3_moe"):
        fields["attention_bias"] = cfg.flag("attention_bias", False)
    if mt == "llama":
        fields["mlp_bias"] = cfg.flag("mlp_bias", False)
    if mt in ("qwen3", "qwen3_moe"):
        fields["qk_norm"] = 1
    if moe:
        if mt == "mixtral":
            fields.update(
                num_experts=cfg.integer("num_local_experts"),
                expert_ffn_size=fields["ffn_size"],
            )
        else:
            step = cfg.integer("decoder_sparse_step", 1)
            if step != 1:
                raise cfg._fail("decoder_sparse_step", f"= {step} is not supported (only 1: every layer MoE)")
            dense = cfg.data.get("mlp_only_layers") or []
            if not isinstance(dense, list) or dense != list(range(len(dense))):
                raise cfg._fail("mlp_only_layers", "must be empty or a leading block [0, 1, ..., n-1]")
            fields.update(
                num_experts=cfg.integer("num_experts"),
                expert_ffn_size=cfg.integer("moe_intermediate_size"),
                first_dense_layers=len(dense),
            )
        fields["experts_per_token"] = cfg.integer("num_experts_per_tok")
    return fields


def _deepseek(cfg: _Config) -> dict[str, Any]:
    heads = cfg.integer("num_attention_heads", minimum=1)
    rope = cfg.integer("qk_rope_head_dim")
    experts = cfg.integer("n_routed_experts", 0)
    freq = cfg.integer("moe_layer_freq", 1)
    if experts and freq != 1:
        raise cfg._fail("moe_layer_freq", f"= {freq} is not supported (only 1: every layer after the dense ones)")
    if cfg.flag("attention_bias", False):
        raise cfg._fail("attention_bias", "= true is not supported with MLA")
    router_bias = 1 if cfg.model_type == "deepseek_v3" else int(cfg.data.get("topk_method") == "noaux_tc")
    fields: dict[str, Any] = dict(
        num_layers=cfg.integer("num_hidden_layers"),
        hidden_size=cfg.integer("hidden_size"),
        num_heads=heads,
        num_kv_heads=heads,  # MLA: every head has its own (decompressed) key and value
        head_dim=cfg.integer("qk_nope_head_dim") + rope,
        ffn_size=cfg.integer("intermediate_size"),
        gated_mlp=1,
        vocab_size=cfg.integer("vocab_size"),
        tied_embeddings=cfg.flag("tie_word_embeddings", False),
        layernorm=0,
        max_context=cfg.integer("max_position_embeddings", 0),
        q_lora_rank=cfg.integer("q_lora_rank", 0),
        kv_lora_rank=cfg.integer("kv_lora_rank"),
        qk_rope_head_dim=rope,
        v_head_dim=cfg.integer("v_head_dim"),
    )
    if experts:
        fields.update(
            num_experts=experts,
            experts_per_token=cfg.integer("num_experts_per_tok"),
            num_shared_experts=cfg.integer("n_shared_experts", 0),
            expert_ffn_size=cfg.integer("moe_intermediate_size"),
            first_dense_layers=cfg.integer("first_k_dense_replace", 0),
            router_bias=router_bias,
        )
    return fields


def _gpt2(cfg: _Config) -> dict[str, Any]:
    hidden = cfg.integer("n_embd", minimum=1)
    heads = cfg.integer("n_head", minimum=1)
    if hidden % heads:
        raise cfg._fail("n_head", f"must divide n_embd = {hidden}")
    return dict(
        num_layers=cfg.integer("n_layer"),
        hidden_size=hidden,
        num_heads=heads,
        num_kv_heads=heads,
        head_dim=hidden // heads,
        ffn_size=cfg.integer("n_inner", 4 * hidden),
        gated_mlp=0,
        vocab_size=cfg.integer("vocab_size"),
        tied_embeddings=cfg.flag("tie_word_embeddings", True),
        layernorm=1,
        max_context=cfg.integer("n_positions"),
        attention_bias=1,
        mlp_bias=1,
        learned_pos_emb=1,
    )


def _opt(cfg: _Config) -> dict[str, Any]:
    hidden = cfg.integer("hidden_size", minimum=1)
    heads = cfg.integer("num_attention_heads", minimum=1)
    if hidden % heads:
        raise cfg._fail("num_attention_heads", f"must divide hidden_size = {hidden}")
    proj = cfg.integer("word_embed_proj_dim", hidden)
    if proj != hidden:
        raise cfg._fail("word_embed_proj_dim", f"= {proj} must equal hidden_size = {hidden} (projection not modelled)")
    bias = cfg.flag("enable_bias", True)
    return dict(
        num_layers=cfg.integer("num_hidden_layers"),
        hidden_size=hidden,
        num_heads=heads,
        num_kv_heads=heads,
        head_dim=hidden // heads,
        ffn_size=cfg.integer("ffn_dim"),
        gated_mlp=0,
        vocab_size=cfg.integer("vocab_size"),
        tied_embeddings=cfg.flag("tie_word_embeddings", True),
        layernorm=1,
        max_context=cfg.integer("max_position_embeddings"),
        attention_bias=bias,
        mlp_bias=bias,
        learned_pos_emb=1,
    )
