"""Serving engines at a fixed concurrency (``data/validation/engine_rows.csv``): the host time per
step of :mod:`simulator.engines` against engines measured side by side (B200, Llama 3.1 8B FP8,
ISL = OSL = 1000, concurrency 4 and 64; TensorRT-LLM issues #13957 and #13560).

The ``vllm`` entry (0.5 ms per step, derived in 2024 from vLLM's multi-step RFC) is checked on rows
that set nothing in simlab; the ``tensorrt-llm`` row is the workload its 0.58 ms comes from, so it
only shows that the pieces add up. Tolerance 15 % per row: the serving decode target of issue 12 is
a 12 % median, and the B200 FP8 GEMM efficiency (a MAMF ratio) and the unstated KV dtype (FP8
assumed) carry several per cent each.
"""

from __future__ import annotations

import functools

import pandas as pd

from simulator.resources import data_file
from simulator.serving import predict_serve

ROWS = data_file("validation/engine_rows.csv")


@functools.lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    out = []
    for r in pd.read_csv(ROWS).itertuples():
        kw = dict(batch=int(r.concurrency), tp=int(r.tp), weight_dtype=r.weight_dtype, act_dtype=r.act_dtype,
                  kv_dtype=r.kv_dtype, input_len=int(r.input_len), output_len=int(r.output_len))
        none = predict_serve(r.model, r.hardware, engine="none", **kw)
        eng = predict_serve(r.model, r.hardware, engine=r.engine, **kw)
        assert none["fits"] and eng["fits"], r.id
        meas = float(r.measured_output_tokens_per_s)
        out.append(dict(id=r.id, engine=r.engine, concurrency=int(r.concurrency), independent=r.independent == "yes",
                        measured=meas, err_none=none["output_tokens_per_s"] / meas - 1.0,
                        err_engine=eng["output_tokens_per_s"] / meas - 1.0))
    return pd.DataFrame(out)


def test_engine_rows_within_tolerance():
    df = _table()
    with pd.option_context("display.width", 200):
        print("\n" + df.to_string(index=False, float_format=lambda x: f"{x:+.3f}" if abs(x) < 5 else f"{x:.0f}"))
    assert len(df) == 4
    assert (df.err_engine.abs() <= 0.15).all(), df[df.err_engine.abs() > 0.15]


def test_engine_time_moves_predictions_toward_measurements():
    """Without the host time (``none``) the bare kernel sequence is too fast on every row (by 6 to
    20 %); with each engine's time the median |error| over the rows, and over the independent ones,
    is smaller (a single row may overshoot: vLLM 0.20.1 at concurrency 64, +5.8 % -> -6.3 %)."""
    df = _table()
    assert (df.err_none > 0).all(), df
    assert df.err_engine.abs().median() < df.err_none.abs().median()
    ind = df[df.independent]
    assert len(ind) == 3 and ind.err_engine.abs().median() < ind.err_none.abs().median()
