"""Whole-run GPU-hours of named runs: predictions before (ideal) and after reliability vs published.

Tolerance +-20 % where the layout is published (the issue's target): published totals also hold
batch ramp-up, evaluation, phases on other GPU counts (Llama 3's 8K-GPU start and 128K-context
stage) and restarts after loss divergences that no step-time or hardware-failure model covers.
"""

from __future__ import annotations

import math

import pytest

from simulator.reliability.validation import load_rows, whole_run_table


@pytest.fixture(scope="module")
def table():
    return {r["run"]: r for r in whole_run_table()}


def test_every_row_names_its_source():
    for row in load_rows():
        assert len(row["source"]) > 40 and ("arXiv" in row["source"] or "card" in row["source"])


def test_reliability_moves_every_prediction_up(table):
    for r in table.values():
        assert r["sim_after_gpu_hours"] > r["sim_ideal_gpu_hours"]
        assert 0.9 < r["ettr"] < 1.0


def test_published_layout_rows_within_20_percent_after_reliability(table):
    for run in ("bloom-176b", "llama-3.1-405b"):
        r = table[run]
        assert r["layout_published"]
        # the run's own published throughput + our reliability terms: within +-20 % of the GPU-hours,
        # and closer than the ideal number
        assert abs(r["pub_after_error"]) < 0.20
        assert abs(r["pub_after_error"]) < abs(r["pub_ideal_error"])


def test_bloom_simulator_path_within_20_percent_on_its_own_stack(table):
    # BLOOM on its cluster (jean-zay-a100) with its software stack (recipe megatron_deepspeed2022:
    # materialised attention, bf16 with fp32 gradients reduced after the backward pass, no dropout):
    # MFU ~41 % (45 % with today's default recipe) vs 36 % implied by the run's 150 TFLOP/s (8 N D
    # convention), so the step is still fast; with reliability the GPU-hours are within +-20 %.
    r = table["bloom-176b"]
    assert r["mfu"] > 150 * 0.75 / 312
    assert r["sim_ideal_error"] < r["sim_after_error"] < 0
    assert abs(r["sim_after_error"]) < 0.20


def test_llama3_simulator_path_within_20_percent_at_its_derived_interleaving(table):
    # 126 layers on PP 16 as 7 + 14 x 8 + 7 with v = 8 (one layer per chunk, the embedding and the
    # output layer each alone in a chunk: Llama 3 Sec. 3.3.2, derived in the row's source). At v = 1
    # the row was +36 % (a 15/16 bubble, MFU ~29 %). The step is still ~14 % fast against the
    # published 41 % MFU, as in the MegaScale series at that scale (docs/training.md).
    r = table["llama-3.1-405b"]
    assert 0.41 < r["mfu"] < 0.41 * 1.2
    assert abs(r["sim_after_error"]) < 0.20
    assert r["sim_ideal_error"] < r["sim_after_error"] < 0


def test_llama3_ettr_matches_published_lower_bound(table):
    r = table["llama-3.1-405b"]
    assert r["ettr"] >= r["published_ettr"]
    assert r["ettr"] < 0.95
    assert r["mtbf_h"] == pytest.approx(3.09, abs=0.01)


def test_unpublished_layout_rows_are_reported(table):
    for run in ("llama-2-70b", "llama-2-7b"):
        assert math.isfinite(table[run]["sim_after_error"])
        assert abs(table[run]["sim_after_error"]) < 0.35
