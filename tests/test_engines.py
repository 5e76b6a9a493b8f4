"""Serving-engine host overhead table (simulator/engines.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardware_db import SimlabError
from simulator.engines import ENGINES, engine_overhead_s
from simulator.errors import ConfigError


def test_every_engine_names_a_source_and_has_physical_numbers():
    assert "none" in ENGINES and "vllm" in ENGINES and "sglang" in ENGINES
    for name, spec in ENGINES.items():
        assert spec.source.strip(), name
        assert 0.0 <= spec.step_s < 0.1 and 0.0 <= spec.per_sequence_s < 1e-2 and 0.0 <= spec.host_share < 0.5, name
    for name in ("vllm", "vllm-v0.5", "tensorrt-llm", "sglang", "llama.cpp"):
        assert "github.com" in ENGINES[name].source or "lmsys.org" in ENGINES[name].source


def test_formula_and_broadcasting():
    assert float(engine_overhead_s("none", 64)) == 0.0
    spec = ENGINES["vllm-v0.5"]
    b = jnp.asarray([1.0, 32.0, 256.0])
    np.testing.assert_allclose(np.asarray(engine_overhead_s("vllm-v0.5", b)),
                               spec.step_s + spec.per_sequence_s * np.asarray(b), rtol=1e-6)
    assert engine_overhead_s("vLLM", jnp.ones((2, 3))).shape == (2, 3)   # case-insensitive
    # the pre-multi-step loop costs more than the amortised one, which costs more than SGLang's overlap
    assert float(engine_overhead_s("vllm-v0.5", 1)) > float(engine_overhead_s("vllm", 1)) > float(
        engine_overhead_s("sglang", 1))
    g = jax.grad(lambda x: engine_overhead_s("vllm-v0.5", x))(8.0)
    assert float(g) == pytest.approx(spec.per_sequence_s)


def test_unknown_engine_names_the_allowed_values():
    with pytest.raises(ConfigError, match="allowed: none, vllm-v0.5, vllm, llama.cpp, tensorrt-llm, sglang") as err:
        engine_overhead_s("tgi", 1)
    assert isinstance(err.value, SimlabError)
    with pytest.raises(ConfigError):   # no published per-step number found for TGI or LMDeploy
        engine_overhead_s("lmdeploy", 1)


def test_tensorrt_llm_engine_is_the_measured_exposed_host_time():
    """0.58 ms per iteration, whatever the batch (TensorRT-LLM issue #13957: overlap scheduler on)."""
    spec = ENGINES["tensorrt-llm"]
    assert spec.step_s == pytest.approx(5.8e-4) and spec.per_sequence_s == 0.0 and spec.host_share == 0.0
    assert "13957" in spec.source
    np.testing.assert_allclose(np.asarray(engine_overhead_s("TensorRT-LLM", jnp.asarray([1.0, 512.0]))), 5.8e-4)


def test_llama_cpp_is_a_share_of_the_token_time():
    """10-15 % of the token time is CPU work (github.com/ggml-org/llama.cpp/issues/7456): with the
    device busy 7 ms, the host adds 1 ms at the 12.5 % midpoint."""
    assert float(engine_overhead_s("llama.cpp", 1, gpu_step_s=7e-3)) == pytest.approx(1e-3)
    share = float(engine_overhead_s("llama.cpp", 1, gpu_step_s=7e-3)) / (7e-3 + 1e-3)
    assert 0.10 <= share <= 0.15
    with pytest.raises(ConfigError, match="gpu_step_s"):
        engine_overhead_s("llama.cpp", 1)
    assert float(engine_overhead_s("vllm", 4, gpu_step_s=1.0)) == pytest.approx(ENGINES["vllm"].step_s)
