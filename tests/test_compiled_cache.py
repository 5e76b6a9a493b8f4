"""simulator.compiled: compiled programs saved across processes give the same results as plain jit."""

from __future__ import annotations

import pytest

from simulator import compiled
from simulator.serving import predict_serve


def _plain_jit_then_private_cache(monkeypatch, tmp_path, **kw):
    """The reference with the cache off (plain jit), then the cache switched on in ``tmp_path``
    (the test session's own cache folder and a JAX_COMPILATION_CACHE_DIR set at import set aside)."""
    monkeypatch.setenv("SIMLAB_NO_COMPILE_CACHE", "1")
    compiled._MEMO.clear()
    ref = predict_serve("llama-3-8b", "h100-sxm", **kw)
    monkeypatch.delenv("SIMLAB_NO_COMPILE_CACHE", raising=False)
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.setenv("SIMLAB_COMPILE_CACHE_DIR", str(tmp_path / "jax"))
    compiled._MEMO.clear()
    return ref


def test_saved_program_matches_plain_jit(tmp_path, monkeypatch):
    kw = dict(batch=4, input_len=256, output_len=32)
    ref = _plain_jit_then_private_cache(monkeypatch, tmp_path, **kw)
    first = predict_serve("llama-3-8b", "h100-sxm", **kw)  # traces and saves
    saved = list((tmp_path / "jax-programs").glob("serve_core-*.exe"))
    assert len(saved) == 1
    compiled._MEMO.clear()  # as a new process: load the saved program
    second = predict_serve("mistral-7b", "h100-sxm", **kw)  # another model, same structure: same program
    assert len(list((tmp_path / "jax-programs").glob("serve_core-*.exe"))) == 1
    again = predict_serve("llama-3-8b", "h100-sxm", **kw)
    for k in ("ttft_s", "tpot_s", "memory_bytes", "output_tokens_per_s"):
        assert first[k] == pytest.approx(ref[k], rel=1e-6)
        assert again[k] == pytest.approx(ref[k], rel=1e-6)
    assert second["ttft_s"] != pytest.approx(first["ttft_s"], rel=1e-3)
    compiled._MEMO.clear()


def test_unusable_saved_program_is_replaced(tmp_path, monkeypatch):
    """A truncated file in the programs folder is ignored (the query traces again) and rewritten."""
    kw = dict(batch=2, input_len=128, output_len=16)
    ref = _plain_jit_then_private_cache(monkeypatch, tmp_path, **kw)
    predict_serve("llama-3-8b", "h100-sxm", **kw)
    (saved,) = (tmp_path / "jax-programs").glob("serve_core-*.exe")
    saved.write_bytes(saved.read_bytes()[:100])
    compiled._MEMO.clear()
    again = predict_serve("llama-3-8b", "h100-sxm", **kw)
    assert again["tpot_s"] == pytest.approx(ref["tpot_s"], rel=1e-6)
    assert saved.stat().st_size > 1000
    compiled._MEMO.clear()
