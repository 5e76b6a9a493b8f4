"""Tests of simulator.models: parameter counts vs published, pytree behaviour, loaders, errors."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardware_db.errors import SimlabError
from simulator import ModelError
from simulator.models import (
    ModelSpec,
    catalog_entries,
    from_hf_config,
    list_models,
    load_model,
    model_info,
    stack_specs,
)

ENTRIES = {entry.name: entry for entry in catalog_entries()}

# Counts implied by each config, from the `params_from_config` column (and, for MoE, the active
# count in `notes`) of the reference table model_configs.csv. Ours must reproduce them exactly,
# except for the small terms the spec deliberately does not model (documented in the spec module
# docstring and in the catalog's `count_notes`).
CONFIG_COUNTS = {
    "llama-2-7b": 6738415616,
    "llama-2-70b": 68976648192,
    "llama-3-70b": 70553706496,
    "llama-3.1-405b": 405853388800,
    "llama-3.2-1b": 1235814400,
    "llama-1-65b": 65285660672,
    "mistral-7b": 7241732096,
    "mixtral-8x7b": 46702792704,
    "mixtral-8x22b": 140630071296,
    "qwen3-0.6b": 596049920,
    "qwen3-4b": 4022468096,
    "qwen3-32b": 32762123264,
    "qwen3-30b-a3b": 30532122624,
    "qwen3-235b-a22b": 235093634560,
    "deepseek-v3": 671026419200,
    "gpt3-175b": 174604259328,
    "megatron-gpt-1.7b": 1652230656,
    "megatron-gpt-1008b": 1008038758400,
    "megascale-175b": 174773133312,
    "opt-175b": 174604468224 - 2 * 12288,  # position table: 2048 rows counted, OPT has 2050
    "bloom-176b": 176247271424 - 2 * 14336,  # embedding LayerNorm not modelled
    "palm-540b": 540356474880 + 119 * 18432,  # we count a LayerNorm bias PaLM does not have
    "phi-2": 2779683840 - 51200,  # LM-head bias not modelled
}
CONFIG_ACTIVE = {
    "mixtral-8x7b": 12879925248,
    "mixtral-8x22b": 39161468928,
    "qwen3-30b-a3b": 3353032704,
    "qwen3-235b-a22b": 22190763520,
    "deepseek-v3": 37552297472,
}


def _consistent(ours: float, published: float, rounding: str | None, resolution: float | None) -> bool:
    """Within 0.5%, or consistent with the publisher's stated rounding (see builtin_models.toml)."""
    if abs(ours - published) <= 0.005 * published:
        return True
    if rounding == "nearest":
        return abs(ours - published) <= resolution / 2
    if rounding == "down":
        return 0 <= ours - published < resolution
    return False


def test_catalog_has_required_models():
    names = set(list_models())
    required = {
        "llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b", "llama-3.1-8b",
        "llama-3.1-70b", "llama-3.1-405b", "mixtral-8x7b", "mixtral-8x22b", "qwen3-0.6b", "qwen3-1.7b",
        "qwen3-4b", "qwen3-8b", "qwen3-14b", "qwen3-32b", "qwen3-30b-a3b", "qwen3-235b-a22b", "gpt3-175b",
        "deepseek-v3", "mistral-7b", "llama-3.2-1b", "llama-3.2-3b", "phi-2", "opt-175b", "bloom-176b",
        "palm-540b",
    } | {f"megatron-gpt-{s}" for s in ("1.7b", "3.6b", "7.5b", "18.4b", "39.1b", "76.1b", "145.6b",
                                         "310.1b", "529.6b", "1008b")}
    assert required <= names
    assert all(name == name.lower() for name in names)


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_total_params_match_published(name):
    entry = ENTRIES[name]
    assert entry.source and entry.published_params and entry.published_params_source
    ours = entry.spec.total_params()
    assert isinstance(ours, int)
    assert _consistent(ours, entry.published_params, entry.published_params_rounding,
                       entry.published_params_resolution), (name, ours, entry.published_params)


@pytest.mark.parametrize("name", sorted(n for n, e in ENTRIES.items() if e.spec.num_experts))
def test_active_params_match_published(name):
    entry = ENTRIES[name]
    assert entry.published_active_params and entry.published_active_params_source
    ours = entry.spec.active_params()
    assert ours < entry.spec.total_params()
    assert _consistent(ours, entry.published_active_params, entry.published_active_rounding,
                       entry.published_active_resolution), (name, ours, entry.published_active_params)


@pytest.mark.parametrize("name", sorted(CONFIG_COUNTS))
def test_counts_equal_reference_config_counts(name):
    spec = load_model(name)
    assert spec.total_params() == CONFIG_COUNTS[name]
    if name in CONFIG_ACTIVE:
        assert spec.active_params() == CONFIG_ACTIVE[name]
    else:
        assert spec.active_params() == spec.total_params()


def test_headline_numbers():
    assert load_model("llama-2-7b").total_params() == pytest.approx(6.74e9, rel=1e-3)
    assert load_model("Llama-3-70B").total_params() == pytest.approx(70.6e9, rel=2e-3)
    mixtral = load_model("mixtral-8x7b")
    assert mixtral.total_params() == pytest.approx(46.7e9, rel=2e-3)
    assert mixtral.active_params() == pytest.approx(12.9e9, rel=3e-3)


def test_qwen3_non_embedding_matches_model_card():
    # HF model cards Qwen/Qwen3-0.6B (0.44B non-embedding) and Qwen/Qwen3-8B (6.95B).
    assert load_model("qwen3-0.6b").non_embedding_params() == pytest.approx(0.44e9, rel=0.01)
    assert load_model("qwen3-8b").non_embedding_params() == pytest.approx(6.95e9, rel=0.005)


def test_megatron_counts_follow_paper_equation():
    # Narayanan et al. 2021 Eq. 2 plus the final LayerNorm (2h).
    for size in ("1.7b", "39.1b", "1008b"):
        m = load_model(f"megatron-gpt-{size}")
        n, h, v, s = m.num_layers, m.hidden_size, m.vocab_size, 2048
        paper = 12 * n * h**2 * (1 + 13 / (12 * h) + (v + s) / (12 * n * h))
        assert m.total_params() == pytest.approx(paper + 2 * h, rel=1e-12)


def test_kv_cache_per_token():
    assert load_model("llama-3-70b").kv_cache_elems_per_token() == 2 * 80 * 8 * 128
    assert load_model("llama-2-7b").kv_cache_bytes_per_token(2) == 2 * 2 * 32 * 32 * 128
    # MLA: compressed latent 512 + decoupled RoPE key 64 per layer (DeepSeek-V3).
    assert load_model("deepseek-v3").kv_cache_elems_per_token() == 61 * (512 + 64)


def test_layer_counts_and_parts_add_up():
    ds = load_model("deepseek-v3")
    assert (ds.dense_layers, ds.moe_layers) == (3, 58)
    llama = load_model("llama-2-7b")
    assert (llama.dense_layers, llama.moe_layers) == (32, 0)
    total = (
        ds.embedding_params()
        + ds.num_layers * (ds.attention_params_per_layer() + ds.norm_params_per_layer())
        + ds.dense_layers * ds.mlp_params_per_layer(False)
        + ds.moe_layers * ds.mlp_params_per_layer(True)
        + ds.final_norm_params()
    )
    assert total == ds.total_params() == ds.embedding_params() + ds.non_embedding_params()
    # Llama-2-7B attention: 4 h^2; MLP: 3 h f.
    assert llama.attention_params_per_layer() == 4 * 4096**2
    assert llama.mlp_params_per_layer(False) == 3 * 4096 * 11008


def test_stack_and_vmap():
    a, b = load_model("llama-2-7b"), load_model("mixtral-8x7b")
    batch = stack_specs([a, b])
    assert batch.num_layers.shape == (2,)
    totals = jax.vmap(lambda m: m.total_params())(batch)
    actives = jax.jit(jax.vmap(lambda m: m.active_params()))(batch)
    np.testing.assert_allclose(np.asarray(totals), [a.total_params(), b.total_params()], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(actives), [a.active_params(), b.active_params()], rtol=1e-6)
    mla = stack_specs([load_model("deepseek-v3"), a])
    kv = jax.vmap(lambda m: m.kv_cache_elems_per_token())(mla)
    np.testing.assert_allclose(np.asarray(kv), [61 * 576, 2 * 32 * 32 * 128])


def test_same_name_specs_stack_with_tree_map():
    a = load_model("llama-2-7b")
    b = a.replace(num_layers=40)
    batch = jax.tree.map(lambda *xs: jnp.stack(xs), a, b)
    assert batch.name == "llama-2-7b"
    out = jax.vmap(lambda m: m.total_params())(batch)
    np.testing.assert_allclose(np.asarray(out), [a.total_params(), b.total_params()], rtol=1e-6)


def test_jit_and_grad_on_a_single_spec():
    spec = load_model("qwen3-8b")
    assert float(jax.jit(lambda m: m.total_params())(spec)) == pytest.approx(spec.total_params(), rel=1e-6)
    # Differentiable in a float leaf: d total / d num_layers = per-layer params.
    floaty = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), spec)
    grad = jax.grad(lambda m: m.total_params())(floaty)
    per_layer = spec.attention_params_per_layer() + spec.mlp_params_per_layer(False) + spec.norm_params_per_layer()
    assert float(grad.num_layers) == pytest.approx(per_layer, rel=1e-6)


def test_lookup_aliases_and_suggestions():
    assert load_model("Llama-3-70B") is load_model("llama-3-70b")
    assert load_model("meta-llama/Meta-Llama-3-70B").name == "llama-3-70b"
    assert load_model("Qwen/Qwen3-8B").name == "qwen3-8b"
    assert load_model("mistralai/Mixtral-8x7B-v0.1").name == "mixtral-8x7b"
    assert load_model("GPT-3").name == "gpt3-175b"
    assert load_model("megatron_gpt_1.7b").name == "megatron-gpt-1.7b"
    assert model_info("deepseek-ai/DeepSeek-V3").published_active_params == 37e9
    with pytest.raises(ModelError, match=r"unknown model 'lama-3-70b'; did you mean: llama-3-70b"):
        load_model("lama-3-70b")
    with pytest.raises(SimlabError) as info:
        load_model("no-such-model-xyz")
    assert "\n" not in str(info.value)
    with pytest.raises(ModelError, match="not found"):
        load_model("missing/config.json")


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"num_kv_heads": 5}, "num_kv_heads"),
        ({"num_layers": 0}, "num_layers"),
        ({"gated_mlp": 2}, "gated_mlp"),
        ({"hidden_size": 4096.5}, "hidden_size"),
        ({"experts_per_token": 2}, "experts_per_token"),
        ({"v_head_dim": 128}, "v_head_dim"),
        ({"attention_bias": 3}, "attention_bias"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_validation_names_the_field(changes, field):
    with pytest.raises(ModelError, match=f"'{field}'"):
        load_model("llama-2-7b").replace(**changes)


def test_validation_moe_and_mla_rules():
    ds = load_model("deepseek-v3")
    with pytest.raises(ModelError, match="'experts_per_token'"):
        ds.replace(experts_per_token=300)
    with pytest.raises(ModelError, match="'qk_rope_head_dim'"):
        ds.replace(qk_rope_head_dim=192)
    with pytest.raises(ModelError, match="'first_dense_layers'"):
        ds.replace(first_dense_layers=61)
    with pytest.raises(ModelError, match="missing required field 'vocab_size'"):
        ModelSpec.create(name="x", num_layers=2, hidden_size=8, num_heads=2, num_kv_heads=2, head_dim=4,
                         ffn_size=16, gated_mlp=1, tied_embeddings=0, layernorm=0)
    # Validation is skipped on arrays (inside vmap/jit).
    arr = jax.tree.map(jnp.asarray, ds)
    assert arr.validate() is arr


# ---------------------------------------------------------------- Hugging Face configs
LLAMA_CFG = {
    "_name_or_path": "meta-llama/Llama-2-7b-hf",
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 32,
    "vocab_size": 32000,
    "max_position_embeddings": 4096,
    "tie_word_embeddings": False,
    "rms_norm_eps": 1e-5,
}


def _write(tmp_path, cfg, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(cfg) if not isinstance(cfg, str) else cfg)
    return path


def test_hf_llama_matches_catalog(tmp_path):
    path = _write(tmp_path, LLAMA_CFG)
    spec = from_hf_config(path)
    assert spec.name == "llama-2-7b-hf"
    assert spec.total_params() == 6738415616
    assert from_hf_config(tmp_path).total_params() == 6738415616  # directory works
    assert load_model(str(path)).total_params() == 6738415616  # load_model accepts a path


def test_hf_qwen3_moe_and_mixtral(tmp_path):
    qwen = {
        "model_type": "qwen3_moe", "hidden_size": 2048, "intermediate_size": 6144, "moe_intermediate_size": 768,
        "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128, "num_hidden_layers": 48,
        "num_experts": 128, "num_experts_per_tok": 8, "decoder_sparse_step": 1, "mlp_only_layers": [],
        "vocab_size": 151936, "tie_word_embeddings": False, "max_position_embeddings": 40960,
        "attention_bias": False,
    }
    spec = from_hf_config(_write(tmp_path, qwen), name="q")
    assert spec.total_params() == 30532122624
    assert spec.active_params() == 3353032704
    mixtral = {
        "model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
        "num_key_value_heads": 8, "num_hidden_layers": 32, "num_local_experts": 8, "num_experts_per_tok": 2,
        "vocab_size": 32000, "max_position_embeddings": 32768,
    }
    assert from_hf_config(_write(tmp_path, mixtral, "m.json")).total_params() == 46702792704


def test_hf_deepseek_v3(tmp_path):
    cfg = {
        "model_type": "deepseek_v3", "hidden_size": 7168, "intermediate_size": 18432,
        "moe_intermediate_size": 2048, "num_hidden_layers": 61, "num_attention_heads": 128,
        "num_key_value_heads": 128, "n_shared_experts": 1, "n_routed_experts": 256, "num_experts_per_tok": 8,
        "first_k_dense_replace": 3, "moe_layer_freq": 1, "q_lora_rank": 1536, "kv_lora_rank": 512,
        "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128, "vocab_size": 129280,
        "max_position_embeddings": 163840, "tie_word_embeddings": False, "num_nextn_predict_layers": 1,
    }
    spec = from_hf_config(_write(tmp_path, cfg))
    ref = load_model("deepseek-v3")
    assert spec.total_params() == ref.total_params()
    assert spec.active_params() == ref.active_params()
    assert spec.kv_cache_elems_per_token() == 61 * 576


def test_hf_gpt2_and_qwen2(tmp_path):
    gpt2 = {"model_type": "gpt2", "n_layer": 12, "n_embd": 768, "n_head": 12, "n_positions": 1024,
            "vocab_size": 50257}
    # GPT-2 small: 124,439,808 parameters (the usual count of the HF checkpoint, tied head).
    assert from_hf_config(_write(tmp_path, gpt2)).total_params() == 124439808
    qwen2 = {"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_attention_heads": 14,
             "num_key_value_heads": 2, "num_hidden_layers": 24, "vocab_size": 151936,
             "tie_word_embeddings": True, "max_position_embeddings": 32768}
    # Qwen2.5-0.5B: 494,032,768 parameters (HF model card "0.49B"; q/k/v biases, tied head).
    assert from_hf_config(_write(tmp_path, qwen2, "q2.json")).total_params() == 494032768


def test_hf_errors_name_file_and_key(tmp_path):
    bad = _write(tmp_path, "{not json", "bad.json")
    with pytest.raises(ModelError, match=r"bad\.json: malformed JSON"):
        from_hf_config(bad)
    missing = dict(LLAMA_CFG)
    del missing["hidden_size"]
    with pytest.raises(ModelError, match=r"missing\.json: key 'hidden_size' is required"):
        from_hf_config(_write(tmp_path, missing, "missing.json"))
    with pytest.raises(ModelError, match="'model_type'"):
        from_hf_config(_write(tmp_path, {"hidden_size": 8}, "nomt.json"))
    with pytest.raises(ModelError, match="not supported"):
        from_hf_config(_write(tmp_path, {"model_type": "mamba"}, "mamba.json"))
    wrong = dict(LLAMA_CFG, num_key_value_heads=5)
    with pytest.raises(ModelError, match=r"wrong\.json: .*'num_kv_heads'"):
        from_hf_config(_write(tmp_path, wrong, "wrong.json"))
    with pytest.raises(ModelError, match="must be an integer"):
        from_hf_config(_write(tmp_path, dict(LLAMA_CFG, vocab_size="32000"), "str.json"))
    with pytest.raises(ModelError, match="not found"):
        from_hf_config(tmp_path / "nothing")


def test_user_toml_model(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(
        'source = "made up"\nnum_layers = 2\nhidden_size = 64\nnum_heads = 4\nnum_kv_heads = 2\nhead_dim = 16\n'
        "ffn_size = 256\ngated_mlp = true\nvocab_size = 1000\ntied_embeddings = true\nlayernorm = 0\n"
    )
    spec = load_model(str(path))
    assert spec.name == "tiny" and spec.gated_mlp == 1
    attn = 64 * 64 + 2 * 64 * 32 + 64 * 64
    assert spec.total_params() == 1000 * 64 + 2 * (attn + 3 * 64 * 256 + 2 * 64) + 64
    path.write_text("num_layers = 2\nhidden_sise = 3\n")
    with pytest.raises(ModelError, match="'hidden_sise'"):
        load_model(str(path))
