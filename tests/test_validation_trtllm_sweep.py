"""TensorRT-LLM perf-overview tables as a whole (``data/validation/trtllm_perf_overview_rows.csv``):
80 cells, 8 model / GPU / TP columns x 10 ISL/OSL pairs, predicted with the catalog's default
efficiencies through the same mapping as ``tests/test_validation_serving.py`` (``predict_row``: the
largest batch whose KV fits in 0.95 of the memory the engine leaves, activations of one token
budget, static-batching step times, engine ``tensorrt-llm``).

History (docs/serving.md, "The whole perf-overview tables"): at stop 20 the FP8 columns (H100, H200;
60 cells) had a median |error| of about 9 % and the B200 NVFP4 columns (20 cells) were too fast in
every cell, +9 ... +60 %. Stop 21 priced W8A8 / W4A4 activations, all-reduces, embedding and LM head
in bf16 (ModelOpt quantises only the linear layers), added TensorRT-LLM's host time per step and
sized the batch as the engine does (in-flight batching holds one token budget of activations, not
every prompt at once): FP8 median |error| 4.8 % (-11 ... +16 %), NVFP4 median +13.9 % (+1 ... +32 %),
still too fast in the decode-heavy FP4 cells. Gates: the issue's 12 % serving median for FP8 and
its 20 % FP4 target for the FP4 median; per cell, bounds around today's worst (25 %, 40 %).
"""

from __future__ import annotations

import functools

import pandas as pd
from test_validation_serving import predict_row

from simulator.resources import data_file

ROWS = data_file("validation/trtllm_perf_overview_rows.csv")


@functools.lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    """Every cell through ``test_validation_serving.predict_row`` (its ``max_fit`` rule and batch cap)."""
    rows = pd.read_csv(ROWS).assign(batch=0, batch_rule="max_fit", metric="output_tokens_per_s", engine="tensorrt-llm")
    out = []
    for r in rows.itertuples():
        batch, pred = predict_row(r)
        out.append(dict(id=r.id, table=r.table, fp4=r.act_dtype == "fp4", input_len=r.input_len,
                        output_len=r.output_len, batch=batch, fits=True,
                        error=pred / float(r.measured_output_tokens_per_s) - 1.0))
    return pd.DataFrame(out)


def test_perf_overview_tables():
    df = _table()
    assert len(df) == 80 and df.fits.all()
    pivot = df.pivot_table(index=["input_len", "output_len"], columns="table", values="error")
    with pd.option_context("display.width", 220, "display.max_columns", 12):
        print("\n" + (100 * pivot).round(0).to_string())
    fp8, fp4 = df[~df.fp4].error, df[df.fp4].error
    print(f"FP8 (H100/H200, {len(fp8)} cells): median |error| {100 * fp8.abs().median():.1f}%, "
          f"range {100 * fp8.min():+.0f} ... {100 * fp8.max():+.0f}%")
    print(f"NVFP4 (B200, {len(fp4)} cells): median {100 * fp4.median():+.1f}%, "
          f"range {100 * fp4.min():+.0f} ... {100 * fp4.max():+.0f}%")
    # FP8: median within the 12 % serving target, every cell within 25 %
    assert fp8.abs().median() <= 0.12
    assert (fp8.abs() <= 0.25).all(), df[~df.fp4 & (df.error.abs() > 0.25)][["id", "error"]]
    # NVFP4: median within the 20 % FP4 target; every cell within 40 % (the decode-heavy
    # cells are still +25 ... +32 % too fast)
    assert fp4.abs().median() <= 0.20
    assert (fp4.abs() <= 0.40).all(), df[df.fp4 & (df.error.abs() > 0.40)][["id", "error"]]
