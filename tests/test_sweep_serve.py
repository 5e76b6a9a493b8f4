"""Vectorised sweep (simulator/sweep.py): same numbers as the single-config path, one compile."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from simulator.errors import ConfigError
from simulator.serving import RESULT_COLUMNS, predict_serve
from simulator.sweep import serve

ROWS = [
    dict(model="llama-3-8b", hardware="h100-sxm", batch=1, input_len=512, output_len=64),
    dict(model="llama-3-70b", hardware="h100-sxm", tp=4, batch=32, input_len=2048, output_len=256,
         kv_dtype="fp8", weight_dtype="int4"),
    dict(model="mixtral-8x7b", hardware="a100-sxm4-80gb", tp=2, batch=16, input_len=1024, output_len=128),
    dict(model="llama-3.1-8b", hardware="sn40l", batch=1, input_len=256, output_len=32, weights_offloaded=1),
    dict(model="llama-3.1-8b", hardware="h100-sxm", batch=64, input_len=1024, output_len=256, chunk=2048),
    dict(model="llama-2-7b", hardware="apple-m2-ultra", batch=1, input_len=1, output_len=128,
         weight_dtype="q4_0", act_dtype="fp32", kv_dtype="fp16"),
]


def _single(row):
    kw = {k: v for k, v in row.items() if k not in ("model", "hardware", "weights_offloaded")}
    if row.get("weights_offloaded"):
        kw["weights_in"] = "ddr"
    return predict_serve(row["model"], row["hardware"], **kw)


def test_sweep_matches_single_predictions():
    df = pd.DataFrame(ROWS)
    out = serve(df)
    assert len(out) == len(ROWS)
    assert set(RESULT_COLUMNS) <= set(out.columns)
    for i, row in enumerate(ROWS):
        ref = _single(row)
        for k in ("ttft_s", "tpot_s", "tpot_avg_s", "output_tokens_per_s", "memory_bytes", "max_batch"):
            assert out[k].iloc[i] == pytest.approx(ref[k], rel=2e-4), (i, k)
        assert bool(out["fits"].iloc[i]) == ref["fits"]


def test_sweep_accepts_arrow_and_systems():
    tbl = pa.table({"model": ["llama-3-70b"] * 3, "system": ["dgx-h100"] * 3, "tp": [8, 8, 8],
                    "pp": [1, 2, 4], "batch": [64, 64, 64], "input_len": [2048] * 3, "output_len": [128] * 3})
    out = serve(tbl)
    assert list(out["devices"]) == [8, 16, 32]
    assert np.all(np.isfinite(out["tpot_s"]))


def test_sweep_is_vectorised_over_many_rows():
    n = 5000
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"model": "llama-3-8b", "hardware": rng.choice(["h100-sxm", "h200-sxm-141gb"], n),
                       "batch": rng.integers(1, 128, n), "input_len": rng.integers(1, 4096, n),
                       "output_len": rng.integers(1, 1024, n)})
    out = serve(df)
    assert out["ttft_s"].notna().all() and (out["output_tokens_per_s"] > 0).all()
    # H200 has more bandwidth than H100: decode never slower for the same row
    same = df.assign(hardware="h100-sxm")
    faster = df.assign(hardware="h200-sxm-141gb")
    assert (serve(faster)["tpot_s"].to_numpy() <= serve(same)["tpot_s"].to_numpy() * (1 + 1e-5)).all()


def test_sweep_bad_rows_raise_or_are_marked():
    df = pd.DataFrame([dict(model="llama-3-70b", hardware="h100-sxm", tp=3),
                       dict(model="llama-3-8b", hardware="h100-sxm", batch=0),
                       dict(model="llama-3-8b", hardware="h100-sxm")])
    with pytest.raises(ConfigError, match="row 0"):
        serve(df)
    out = serve(df, errors="mark")
    assert list(out["valid"]) == [False, False, True]
    assert "tp" in str(out["error"].iloc[0]) and "batch" in str(out["error"].iloc[1])
    assert np.isnan(out["ttft_s"].iloc[0]) and np.isfinite(out["ttft_s"].iloc[2])
    with pytest.raises(ConfigError, match="model"):
        serve(pd.DataFrame({"hardware": ["h100"]}))
