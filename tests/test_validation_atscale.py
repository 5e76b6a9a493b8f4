"""At-scale training series vs published measurements (issue 12): MegaScale Table 2 and Figure 9,
Megatron-LM rows.

One layout (GPT-3-shaped 175B, TP 8, PP 8, interleaved v = 6, seq 2048) from 256 to 12,288 A100-class
GPUs at two fixed batches (768 up to 1,024 GPUs, 6,144 from 3,072), the Megatron-LM (commit 285068c8)
baseline of Jiang et al., NSDI '24 (arXiv:2402.15627). Rows, layout and assumptions:
``data/validation/atscale_training_rows.csv`` (``training_rows.md``); predictions use the catalog's
default efficiencies and the ``megatron2022`` recipe in bf16 (fp32 gradient reduction, as
Megatron-LM forces under bf16), nothing fitted to these rows. Run with ``pytest -s`` for the table.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd
import pytest

from simulator.training.common import TrainOptions
from simulator.training.validation import ATSCALE_ROWS_CSV, load_rows, predict_rows


def _table2_rows() -> pd.DataFrame:
    rows = load_rows(ATSCALE_ROWS_CSV)
    return rows[rows.id.str.startswith("megascale-t2-")].reset_index(drop=True)


@functools.lru_cache(maxsize=1)
def _figure9() -> pd.DataFrame:
    return predict_rows(load_rows(ATSCALE_ROWS_CSV).query("id.str.startswith('megascale-f9-')", engine="python"))


@functools.lru_cache(maxsize=1)
def _predicted() -> pd.DataFrame:
    rows = _table2_rows()
    df = predict_rows(rows)
    df["gpus"] = rows.gpus.to_numpy()
    df["measured_step_s"] = rows.global_batch.to_numpy() * rows.seq_len.to_numpy() / (
        rows.measured.to_numpy() * rows.gpus.to_numpy())
    df["missing_s"] = df.measured_step_s - df.step_time_s
    return df


@pytest.fixture(scope="module")
def megascale() -> pd.DataFrame:
    df = _predicted().copy()
    print("\n" + df[["id", "measured", "predicted", "error", "step_time_s", "measured_step_s", "missing_s"]]
          .round(3).to_string())
    return df


def test_rows_are_the_published_table():
    """Throughput per GPU = Table 2's tokens/s over the GPU count, and equals batch x 2048 / iteration
    time within the table's rounding (0.1k tokens/s, 0.01-0.1 s)."""
    rows = _table2_rows()
    assert len(rows) == 8 and load_rows(ATSCALE_ROWS_CSV).id.is_unique
    iteration_s = {256: 40.0, 512: 21.2, 768: 15.2, 1024: 11.9, 3072: 29.02, 6144: 14.78, 8192: 12.24, 12288: 8.57}
    for r in rows.itertuples():
        from_time = r.global_batch * r.seq_len / iteration_s[r.gpus] / r.gpus
        assert r.measured == pytest.approx(from_time, rel=0.01), r.id
        assert r.tp * r.pp * r.dp == r.gpus


def test_megascale_series_within_15_percent(megascale):
    """Every row within 15 % and the median within 10 %. Before this table was mapped the default
    recipe (FlashAttention, overlapped gradients) gave +13 % at 256 GPUs and +30 % at 12,288 against
    the same rows; the run's own recipe gives +0.8 % ... +12.4 % (median 7.5 %)."""
    assert megascale["fits"].all()
    med = float(megascale["abs_error"].median())
    print(f"\nMegaScale T2 Megatron-LM: median |error| {100 * med:.1f}%, max {100 * megascale['abs_error'].max():.1f}%")
    assert med <= 0.10
    assert (megascale["abs_error"] <= 0.15).all()


def test_what_is_missing_is_a_fixed_time_per_step_not_a_node_count_term(megascale):
    """The measured step minus the predicted one is about a second at every size (0.3-1.8 s) while the
    step shrinks 40 s -> 8.6 s and the node count grows 32 -> 1,536: it does not grow with the
    node count (a node-count term would make the 12,288-GPU gap the largest; it is below the
    3,072-GPU one). This is why the relative error still rises with GPUs within each batch group:
    a fixed time is a growing share of a shrinking step (docs/training.md, "At-scale series")."""
    gap = megascale.set_index("gpus")["missing_s"]
    assert (gap > 0).all() and (gap < 2.5).all()
    assert gap[12288] < gap[3072]
    err = megascale.set_index("gpus")["error"]
    assert err[1024] > err[256] and err[12288] > err[6144]


def test_straggler_term_closed_form():
    """straggler_s = penalty x (1 - (1 - q)^nodes) x (the rest of the step): checked against the closed
    form at 1,536 nodes (one row: each recipe change compiles the step again), zero without slow
    nodes, never above the penalty."""
    rows = _table2_rows()
    from simulator.training import validation as V

    for r in rows.iloc[[7]].itertuples(index=False):
        spec, hw, lay, opts = V.row_case(r)
        res = V.evaluate_layouts(spec, lay, hw, r.global_batch, r.seq_len, opts)
        none = V.evaluate_layouts(spec, lay, hw, r.global_batch, r.seq_len,
                                  dataclasses.replace(opts, slow_node_fraction=0.0))
        nodes = r.gpus / 8
        expect = opts.slow_node_penalty * (1 - (1 - opts.slow_node_fraction) ** nodes) * float(none["step_time_s"])
        assert float(none["straggler_s"]) == 0.0
        assert float(res["straggler_s"]) == pytest.approx(expect, rel=1e-4)
        assert float(res["step_time_s"]) == pytest.approx(float(none["step_time_s"]) + expect, rel=1e-4)
        assert float(res["straggler_s"]) <= opts.slow_node_penalty * float(none["step_time_s"]) * (1 + 1e-6)
    assert np.isclose(TrainOptions().slow_node_penalty, 0.007 / 0.552, rtol=1e-2)


def test_megascale_530b_weak_scaling_level_and_trend():
    """Figure 9, Megatron-LM bars (530B, TP 8 PP 35 v 3, batch = GPUs, 2,240 -> 11,200 GPUs): every row
    within 15 % (the level is +12 ... +14 %: the same 530B layout on Selene, Korthikanti's 54.2 %, is
    within 4 %), and the predicted weak-scaling trend is flat (-0.5 %) where the measured one falls
    2 % (49.2 -> 48.2 %): the slope is not reproduced, only bounded."""
    df = _figure9()
    print("\n" + df[["id", "measured", "predicted", "error"]].round(4).to_string())
    assert len(df) == 3 and df["fits"].all()
    assert (df["abs_error"] <= 0.15).all()
    pred = df["predicted"].to_numpy()
    assert pred[-1] <= pred[0] and pred[-1] / pred[0] > 0.98


@pytest.mark.parametrize("field, value", [("slow_node_fraction", -0.1), ("slow_node_penalty", 1.5)])
def test_straggler_options_are_checked(field, value):
    from simulator.errors import ConfigError

    with pytest.raises(ConfigError, match=field):
        TrainOptions(**{field: value})
