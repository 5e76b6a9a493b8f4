"""Loaders of the measured tables: units, FLOP/byte counts, dataset registry entries."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_dataset

from fitters.registry import get_spec
from simulator.calibration import datasets, measured
from simulator.calibration.errors import CalibrationError


def test_registry_entries_have_provenance():
    names = [datasets.llmcompass_name("matmul", "A100"), datasets.vidur_compute_name("a100", "meta-llama/Llama-2-7b-hf"),
             datasets.vidur_allreduce_name("a100_dgx")]
    for n in names:
        spec = get_spec(n)
        assert len(spec.sha256) == 64 and spec.url.startswith("https://raw.githubusercontent.com/")
        assert spec.license and spec.columns
    assert "ms" in get_spec(names[1]).columns["time_stats.attn_pre_proj.median"]


def test_llmcompass_matmul_rows_match_the_file():
    require_dataset(datasets.llmcompass_name("matmul", "A100"))
    for op in ("softmax", "layernorm", "gelu"):
        require_dataset(datasets.llmcompass_name(op, "A100"))
    rows = measured.llmcompass_rows("A100")
    first = rows[rows.op == "matmul"].iloc[0]  # "64, 12288, 12288, 0.1900ms, 101.7124Tflops"
    assert (first.m, first.k, first.n) == (64, 12288, 12288)
    assert first.time_s == pytest.approx(0.19e-3)
    assert first.flops / first.time_s / 1e12 == pytest.approx(101.7124, rel=2e-3)  # the file's own TFLOP/s
    gelu = rows[rows.op == "gelu"]
    # throughput column is G elements/s: 2^29 elements at 390.33 G/s
    assert gelu.time_s.iloc[-1] == pytest.approx(2**29 / 390.32758080867535e9)
    assert (rows.time_s > 0).all() and set(rows.kind) == {"gemm", "memory"}


def test_vidur_rows_count_the_operator_shapes():
    require_dataset(datasets.vidur_compute_name("a100", "meta-llama/Llama-2-7b-hf"))
    rows = measured.vidur_operator_rows("a100", models=["meta-llama/Llama-2-7b-hf"])
    qkv = rows[(rows.op == "qkv_proj") & (rows.m == 4096) & (rows.tp == 1)].iloc[0]
    assert (qkv.n, qkv.k) == (3 * 4096, 4096)
    assert qkv.flops == 2.0 * 4096 * 12288 * 4096
    assert 1.5e-3 < qkv.time_s < 2.5e-3  # file: ~1.9 ms
    up = rows[(rows.op == "mlp_up_proj") & (rows.m == 4096) & (rows.tp == 2)].iloc[0]
    assert up.n == 2 * 11008 / 2  # gated: gate + up, split by TP
    act = rows[(rows.op == "act") & (rows.tp == 1)].iloc[0]
    assert act.bytes_moved == act.elements * 2 * 3  # SiLU-and-mul: 2 reads + 1 write of fp16
    assert set(rows.op) == set(measured.VIDUR_OPS)
    assert np.isfinite(rows.time_s).all()


def test_vidur_allreduce_is_intra_node_in_bytes():
    require_dataset(datasets.vidur_allreduce_name("a100_dgx"))
    rows = measured.vidur_allreduce_rows("a100_dgx")
    assert set(rows.num_workers) == {2, 4, 8}  # groups spanning nodes dropped
    assert (rows.bytes_moved == rows.elements * 2).all()
    assert set(rows.group) == {"a100_dgx-n2", "a100_dgx-n4", "a100_dgx-n8"}


def test_split_groups_is_disjoint():
    require_dataset(datasets.vidur_allreduce_name("a100_dgx"))
    rows = measured.vidur_allreduce_rows("a100_dgx")
    train, test = measured.split_groups(rows)
    assert train == ["a100_dgx-n2", "a100_dgx-n8"] and test == ["a100_dgx-n4"]


def test_unknown_table_is_a_one_line_error():
    with pytest.raises(CalibrationError, match="unknown measured table 'tpu'; allowed: vidur-a100"):
        measured.load_table("tpu")
    with pytest.raises(CalibrationError, match="unknown Vidur model"):
        measured.vidur_operator_rows("a100", models=["gpt-5"])
