"""Low-precision predictions vs published measurements, with the catalog's DEFAULT efficiencies.

Training: NVIDIA NeMo 24.07 FP8 pre-training table on DGX-H100, the Megatron-Bridge 25.11 FP8
current-scaling rows on DGX-B200 / DGX-H100 (recipe ``megatron_bridge2025``: FP8 current scaling)
and Megatron-LM's ``examples/llama/README.md`` rows (Megatron-Core r0.12)
(``data/validation/lowp_training_rows.csv``, layouts from the tables) and the MosaicML MPT-3B FP8 row of
``measured_public.csv``. Serving: the TensorRT-LLM FP8 (H100/H200) and NVFP4 (B200) max-throughput
rows of ``measured_public.csv`` (``data/validation/serving_rows.csv``). Before/after per source:
``docs/training.md`` ("Low precision") and ``docs/serving.md`` ("Low precision").
"""

from __future__ import annotations

import functools

import pandas as pd
import pytest

from simulator.training.validation import LOWP_ROWS_CSV, load_rows, predict_rows


@functools.lru_cache(maxsize=1)
def _predicted() -> pd.DataFrame:
    """Once per process (a module fixture is torn down whenever its worker runs another module's test)."""
    return predict_rows(load_rows(LOWP_ROWS_CSV))


@pytest.fixture(scope="module")
def nemo() -> pd.DataFrame:
    df = _predicted().copy()
    print("\n" + df[["id", "measured", "predicted", "error", "fits"]].round(3).to_string())
    return df.set_index("id")


def test_nemo_fp8_rows_within_target(nemo):
    """Issue 12 target: FP8 training rows within 15 %. Before per-operator precision (every matmul at
    the FP8 peak with the bf16 efficiency, no casts) these rows were +37 % to +82 % (median +50 %)."""
    assert nemo["fits"].all()
    med = float(nemo["abs_error"].median())
    print(f"\nNeMo FP8 (H100, B200): median |error| {100 * med:.1f}%, max {100 * nemo['abs_error'].max():.1f}%")
    assert med <= 0.15
    # NeMo 24.07's Llama 3 8B CP 2 is the worst (+20.7 %; the same layout on Megatron-Core r0.12 is
    # +5.3 %); the other 14 of the 15 rows within 15 % (B200 Llama 3 8B +10.3 %); none beyond 30 %
    assert (nemo["abs_error"] <= 0.30).all()
    assert (nemo["abs_error"] <= 0.15).sum() >= len(nemo) - 1


def test_megatron_core_012_rows_within_target(nemo):
    """Megatron-LM ``examples/llama/README.md`` (Megatron-Core r0.12, NeMo performance-script layouts,
    H100 FP8): Llama 3 8B TP1 PP1 CP2, Llama 3 70B TP4 PP8 VP5, Llama 3.1 405B on 1,024 GPUs TP8 PP8 CP2
    VP8 (uneven end stages): each within the issue's 15 %, at +5.3 / +0.2 / +8.2 % when added. The 8B
    row shares its layout with NeMo 24.07's (+20.8 %): later software, same model."""
    rows = nemo[nemo.index.str.startswith("mcore012")]
    assert len(rows) == 3 and rows["fits"].all()
    assert (rows["abs_error"] <= 0.15).all(), rows["error"].to_dict()


def test_fp8_recipe_is_faster_than_bf16_by_less_than_the_peak_ratio(nemo):
    """The published FP8 speed-ups over BF16 of NeMo's recipes are 1.2-1.5x, not the 2x of the peaks:
    the same rows in bf16 must be slower, by less than 2x."""
    rows = load_rows(LOWP_ROWS_CSV)
    bf16 = predict_rows(rows.assign(dtype="bf16")).set_index("id")
    ratio = nemo["predicted"] / bf16["predicted"]
    assert ((ratio > 1.1) & (ratio < 1.7)).all(), ratio.to_dict()


def test_mpt3b_fp8_row_no_longer_doubles():
    """MosaicML MPT-3B FP8 (MFU relative to the FP8 peak): +99.5 % before, now within the H100 bias
    of the bf16 MPT rows of the same table (MPT-7B H100 bf16: +30 %)."""
    rows = load_rows()
    df = predict_rows(rows[rows.id.isin(["mpt3b-h100-fp8-8gpu", "mpt7b-h100-bf16-8gpu"])]).set_index("id")
    fp8, bf16 = df.loc["mpt3b-h100-fp8-8gpu"], df.loc["mpt7b-h100-bf16-8gpu"]
    print(f"\nMPT-3B FP8: {100 * fp8.error:+.1f}% (MPT-7B bf16 H100: {100 * bf16.error:+.1f}%)")
    assert abs(fp8.error) <= 0.40
    assert abs(fp8.error - bf16.error) <= 0.10


def test_trtllm_low_precision_serving_rows():
    """TensorRT-LLM max-throughput rows: FP8 (H100/H200) median within 12 %, single-GPU rows within
    12 % each (before: median +15 %, up to +26 %: attention at the FP8 peak, bf16 GEMM efficiency;
    the TP 2 / TP 8 rows also depend on the collective model); the B200 NVFP4 row is reported
    (before +52 %, +44 % with the best-shape FP4 GEMM ratio, +23 % with the model-shaped one of stop
    20: see docs/serving.md "Low precision" for what is left)."""
    from test_validation_serving import ROWS, predict_row, public_csv

    measured = pd.read_csv(public_csv()).set_index("id")
    rows = pd.read_csv(ROWS)
    rows = rows[rows.id.str.startswith("trtllm")]
    errs = {}
    for r in rows.itertuples():
        _, pred = predict_row(r)
        errs[r.id] = pred / float(measured.loc[r.id, "value"]) - 1.0
    print("\n" + "\n".join(f"{k:40s} {100 * v:+.1f}%" for k, v in errs.items()))
    fp8 = {k: v for k, v in errs.items() if "b200" not in k}
    single = {r.id for r in rows.itertuples() if int(r.tp) == 1 and "b200" not in r.id}
    assert all(abs(fp8[k]) <= 0.12 for k in single), fp8
    assert float(pd.Series(fp8).abs().median()) <= 0.12 and all(abs(v) <= 0.25 for v in fp8.values()), fp8
    assert abs(errs["trtllm-b200-llama33-70b-1000-1000"]) <= 0.30
