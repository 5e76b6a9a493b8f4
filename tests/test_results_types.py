"""Typed results: NamedTuple pytrees with declared units; table columns derived from the fields."""

from __future__ import annotations

import jax
import pytest

from simulator.serving import RESULT_COLUMNS, ServeConfig, serve_core
from simulator.serving.results import SERVE_UNITS, ServeResult
from simulator.training.results import TRAIN_UNITS, TrainResult


def test_columns_are_the_declared_fields():
    assert RESULT_COLUMNS == ServeResult._fields
    assert set(SERVE_UNITS) == set(ServeResult._fields)
    assert set(TRAIN_UNITS) == set(TrainResult._fields)
    assert all(name.endswith(("_s", "_bytes", "_j", "per_s", "per_device")) or SERVE_UNITS[name] in
               ("1", "bool", "sequences", "tokens per target step") for name in ServeResult._fields)


def test_serve_result_goes_through_jit_and_reads_like_a_dict():
    from hardware_db import load_device
    from simulator.hw import build_hw
    from simulator.models import load_model
    from simulator.ops import Precision

    res = jax.jit(serve_core)(load_model("llama-3-8b"), build_hw(load_device("h100-sxm"), "bf16"), Precision(),
                              ServeConfig.make(batch=4, input_len=512, output_len=64))
    assert isinstance(res, ServeResult)
    assert float(res["ttft_s"]) == pytest.approx(float(res.ttft_s)) and float(res.ttft_s) > 0
    assert set(dict(res)) == set(RESULT_COLUMNS)
    assert res.get("nonexistent") is None
