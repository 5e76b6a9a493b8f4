"""Kinetics cost model (Sadhukhan et al. 2025, arXiv:2506.05333) and frontier selection.

Reference: /work/shared/reference/scaling_laws.md Sec. 5. The accuracy traces (HF dataset
InfiniAILab/Kinetics-generations) are not available here, so the frontier is tested on constructed
points, not on the paper's curves.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from scaling_laws import kinetics as k
from scaling_laws.errors import LawError


def test_qwen3_8b_cost_model():
    with jax.enable_x64(True):
        c = k.dense_cost(k.qwen3_shape("qwen3-8b"), 200, 32768, 1, k.B200_INTENSITY)
    assert float(c["linear"]) / 1e12 == pytest.approx(536.7, rel=1e-3)
    assert float(c["attention"]) / 1e12 == pytest.approx(320.5, rel=1e-3)
    assert float(c["kv_access"]) / 1e12 == pytest.approx(45073.8, rel=1e-3)


def test_kv_over_linear_falls_with_size_and_flops_only_is_previous_law():
    with jax.enable_x64(True):
        ratios = []
        for s in k.QWEN3.values():
            c = k.dense_cost(s, 200, 32768)
            ratios.append(float(c["kv_access"] / c["linear"]))
            c0 = k.dense_cost(s, 200, 32768, intensity=0.0)
            assert float(c0["kv_access"]) == 0.0
            assert float(c0["total"]) == pytest.approx(float(c["linear"] + c["attention"]), rel=1e-12)
    assert np.all(np.diff(ratios) < 0)
    assert 37 <= min(ratios) and max(ratios) <= 720


def test_kv_growth_per_doubling():
    """Paper reports x1.18 per doubling; with the public configs and the cost model's P: x1.15."""
    assert 1.10 <= k.kv_growth_per_doubling() <= 1.22


def test_trials_share_the_prompt_kv():
    with jax.enable_x64(True):
        s = k.qwen3_shape("qwen3-8b")
        one, four = k.dense_cost(s, 4000, 1000, 1), k.dense_cost(s, 4000, 1000, 4)
    assert float(four["linear"]) == pytest.approx(4 * float(one["linear"]))
    assert float(four["kv_access"]) < 4 * float(one["kv_access"])


def test_sparse_variants():
    with jax.enable_x64(True):
        s = k.qwen3_shape("qwen3-8b")
        dense = k.dense_cost(s, 200, 32768)
        topk = k.sparse_cost(s, 200, 32768, 256, kind="topk")
        block = k.sparse_cost(s, 200, 32768, 256, kind="block_topk")
        # KV budget below the prompt: top-k reads B L_out entries
        kv = 256 * 32768 + 0.5 * (256 - 200) ** 2
        hd_l = 128 * 36
        assert float(topk["memory"]) == pytest.approx(k.B200_INTENSITY * 4 * kv * 8 * hd_l, rel=1e-12)
        assert float(topk["total"]) < 0.1 * float(dense["total"])
        assert float(block["total"]) > float(topk["total"]) * 0.9
    with pytest.raises(LawError, match="kind"):
        k.sparse_cost(s, 200, 100, 64, kind="local")


def test_frontier():
    cost = np.array([1.0, 2.0, 2.0, 3.0, 4.0, 5.0])
    acc = np.array([0.1, 0.3, 0.2, 0.25, 0.5, 0.5])
    assert list(k.frontier(cost, acc)) == [0, 1, 4]
    assert len(k.frontier([], [])) == 0
    with pytest.raises(LawError):
        k.frontier([1.0], [0.1, 0.2])


def test_eflops_frontier_prefers_larger_models_than_flops():
    """Toy check of the paper's point: with identical accuracy curves per model, weighting memory
    traffic by I moves frontier points towards larger models (fewer, shorter generations)."""
    lens = np.arange(2048, 32769, 2048)
    models = ["qwen3-1.7b", "qwen3-14b"]
    acc = {"qwen3-1.7b": 0.5 * (1 - np.exp(-lens / 8000)), "qwen3-14b": 0.7 * (1 - np.exp(-lens / 6000))}
    with jax.enable_x64(True):
        pts = [(m, L_, float(k.dense_cost(k.qwen3_shape(m), 200, L_, 1, inten)["total"]), a)
               for inten in (0.0, k.B200_INTENSITY) for m in models for L_, a in zip(lens, acc[m], strict=True)]
    half = len(pts) // 2
    share = []
    for block in (pts[:half], pts[half:]):
        idx = k.frontier([p[2] for p in block], [p[3] for p in block])
        share.append(np.mean([block[i][0] == "qwen3-14b" for i in idx]))
    assert share[1] >= share[0]


def test_catalog_intensity():
    """The B200 intensity from the hardware catalog is close to the paper's 562.5 FLOP/byte
    (4.5 PFLOP/s FP8 / 8 TB/s); 10 % allows for datasheet variants (HGX vs DGX clocks)."""
    intensity = k.intensity_from_device("b200", "fp8")
    assert intensity == pytest.approx(k.B200_INTENSITY, rel=0.10)
    with jax.enable_x64(True):
        c = k.dense_cost(k.qwen3_shape("qwen3-8b"), 200, 32768, 1, intensity)
    assert float(c["kv_access"]) == pytest.approx(45073.8e12 * intensity / 562.5, rel=1e-3)


def test_unknown_shape():
    with pytest.raises(LawError, match="unknown Qwen3 shape"):
        k.qwen3_shape("qwen3-70b")
