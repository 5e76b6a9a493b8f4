"""TensorRT-LLM perf-overview tables as a whole (``data/validation/trtllm_perf_overview_rows.csv``):
80 cells, 8 model / GPU / TP columns x 10 ISL/OSL pairs, predicted with the catalog's default
efficiencies through the same mapping as ``tests/test_validation_serving.py`` (largest batch that
fits, static batching, engine ``none``).

What it shows (numbers when added, stop 20): the FP8 columns (H100, H200; 60 cells) have a median
|error| of about 9 %, bias positive at short prompts and negative at 20k-token prompts; the B200
NVFP4 columns (20 cells) were too fast in every cell, +16 ... +88 % with the best-shape FP4 GEMM
ratio 0.946, and are +9 ... +60 % (median +34.5 %) with the model-shaped 0.70 of the catalog now
(docs/serving.md, "Low precision"): still systematic, growing with the decode share and TP. The FP8
gates are regression bounds around what the model does now; the FP4 ones only guard against it
getting worse while the rest of the cause is unknown.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from test_validation_serving import predict_row

from simulator.resources import data_file

ROWS = data_file("validation/trtllm_perf_overview_rows.csv")


@functools.lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    """Every cell through ``test_validation_serving.predict_row`` (its ``max_fit`` rule and batch cap)."""
    rows = pd.read_csv(ROWS).assign(batch=0, batch_rule="max_fit", metric="output_tokens_per_s", engine="none")
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
    # FP8: median within the 12 % serving target, every cell within 40 %
    assert fp8.abs().median() <= 0.12
    assert (fp8.abs() <= 0.40).all(), df[~df.fp4 & (df.error.abs() > 0.40)][["id", "error"]]
    # NVFP4: the known systematic miss; fail if it grows (every cell within 2x, median below +65 %)
    assert (np.abs(np.log1p(fp4)) < np.log(2.0)).all()
    assert fp4.median() <= 0.45
