"""Fitting efficiency parameters by gradient: recovery on synthetic data, bounds, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulator.calibration import fit as F
from simulator.calibration.errors import CalibrationError
from simulator.calibration.measured import elementwise_rows, gemm_rows
from simulator.calibration.validate import error_stats

PEAK = {"bf16": 300e12, "fp32": 20e12}
BW = 2e12
TRUE = {"compute": 0.8, "memory": 0.7, "link": 0.8, "compute_half_flop": 3e9, "memory_half_bytes": 2e6,
        "kernel_overhead_s": 5e-6}
TRUE_FP32 = {"compute": 0.6, "compute_half_flop": 2e8}


def _synthetic(seed=0, noise=0.03):
    """GEMMs (two dtypes) and streams timed by the model itself with multiplicative noise."""
    rng = np.random.default_rng(seed)
    sizes = np.array([64, 128, 256, 512, 1024, 2048, 4096, 8192], float)
    frames = []
    for dt in ("bf16", "fp32"):
        m, n = np.meshgrid(sizes, sizes)
        b = 2.0 if dt == "bf16" else 4.0
        frames.append(gemm_rows("syn", "gemm", m.ravel(), n.ravel(), 4096.0, 1.0, dtype=dt, elem_bytes=b))
    frames.append(elementwise_rows("syn", "copy", 2.0 ** np.arange(14, 30), 1.0, 1, 1, 1.0, dtype="bf16"))
    rows = pd.concat(frames, ignore_index=True)
    peak = rows.dtype.map(PEAK).to_numpy()
    t = F.predict_rows(rows, TRUE, peak, BW, per_dtype={"fp32": TRUE_FP32})
    rows["time_s"] = t * np.exp(rng.normal(0.0, noise, len(t)))
    return rows, peak


def test_fit_recovers_known_parameters_per_dtype():
    rows, peak = _synthetic()
    res = F.fit_efficiency(rows, peak, BW, per_dtype=True, steps=1000, starts=4)
    assert res.per_dtype["bf16"]["compute"] == pytest.approx(TRUE["compute"], rel=0.05)
    assert res.per_dtype["fp32"]["compute"] == pytest.approx(TRUE_FP32["compute"], rel=0.05)
    assert res.params["memory"] == pytest.approx(TRUE["memory"], rel=0.05)
    assert res.main_dtype == "bf16"
    pred = F.predict_rows(rows, res.params, peak, BW, per_dtype=res.per_dtype)
    st = error_stats(pred, rows.time_s)
    print(f"synthetic fit: {res.params} {res.per_dtype} errors {st}")
    assert st["median_abs_pct"] < 4.0  # 3 % log-normal noise: median |error| ~ 2 %


def test_fit_keeps_efficiencies_in_bounds_and_fixed_fields_fixed():
    rows, peak = _synthetic(noise=0.0)
    rows = rows.assign(time_s=rows.time_s * 0.2)  # 5x faster than the "peak" allows
    res = F.fit_efficiency(rows, peak, BW, fit_fields=("compute", "memory", "kernel_overhead_s"), steps=300, starts=2,
                           init={"compute_half_flop": 1e9, "memory_half_bytes": 1e6})  # noqa: E501
    for k in ("compute", "memory"):
        assert 0.0 < res.params[k] <= 1.0
    assert res.params["compute_half_flop"] == pytest.approx(1e9)
    assert res.params["memory_half_bytes"] == pytest.approx(1e6)


def test_fit_collectives_link_efficiency():
    n = np.array([2, 4, 8] * 12, float)
    size = np.repeat(2.0 ** np.arange(16, 28), 3)
    rows = pd.DataFrame({"op": "all_reduce", "kind": "collective", "dtype": "fp16", "flops": 0.0,
                         "bytes_moved": size, "num_workers": n, "time_s": 1.0})
    t = np.asarray(F.collective_time_s(size, n, 300e9, 0.75, 6e-6))
    rows["time_s"] = t
    res = F.fit_efficiency(rows, 1.0, 1.0, 300e9, fit_fields=("link",), link_latency_s=1e-6, steps=800, starts=2)
    assert res.params["link"] == pytest.approx(0.75, rel=0.03)
    assert res.link_latency_s == pytest.approx(6e-6, rel=0.1)


def test_bad_input_is_a_one_line_error():
    rows, peak = _synthetic()
    with pytest.raises(CalibrationError, match="at least 3"):
        F.fit_efficiency(rows.head(2), peak[:2], BW)
    with pytest.raises(CalibrationError, match="time_s"):
        F.fit_efficiency(rows.assign(time_s=-1.0), peak, BW)
    with pytest.raises(CalibrationError, match="lack column"):
        F.fit_efficiency(rows.drop(columns="flops"), peak, BW)
    with pytest.raises(CalibrationError, match="unknown efficiency field"):
        F.fit_efficiency(rows, peak, BW, fit_fields=("speed",))


def test_per_class_fit_recovers_class_curves():
    """GEMMs and two elementwise families timed with different curves per class: the per-class fit
    recovers both memory efficiencies; a single curve cannot (it splits the difference)."""
    rng = np.random.default_rng(1)
    sizes = np.array([128, 256, 512, 1024, 2048, 4096], float)
    m, n = np.meshgrid(sizes, sizes)
    rows = pd.concat([gemm_rows("syn", "gemm", m.ravel(), n.ravel(), 4096.0, 1.0, dtype="bf16"),
                      elementwise_rows("syn", "copy", 2.0 ** np.arange(14, 28), 1.0, 1, 1, 1.0, dtype="bf16"),
                      elementwise_rows("syn", "attention_decode", 2.0 ** np.arange(14, 28), 1.0, 1, 1, 1.0,
                                       dtype="bf16")], ignore_index=True)
    classes = {"elementwise": {"memory": 0.35, "memory_half_bytes": 1e5, "compute_half_flop": 1e3},
               "attention": {"memory": 0.9, "compute_half_flop": 1e3}}
    assert list(np.unique(F.row_classes(rows))) == ["attention", "elementwise", "gemm"]
    t = F.predict_rows(rows, TRUE, PEAK["bf16"], BW, classes=classes)
    rows["time_s"] = t * np.exp(rng.normal(0.0, 0.02, len(t)))
    res = F.fit_efficiency(rows, PEAK["bf16"], BW, classes=True, steps=800, starts=2)
    assert res.classes["elementwise"]["memory"] == pytest.approx(0.35, rel=0.05)
    assert res.classes["attention"]["memory"] == pytest.approx(0.9, rel=0.05)
    assert res.classes["gemm"]["compute"] == pytest.approx(TRUE["compute"], rel=0.05)
    pred = F.predict_rows(rows, res.params, PEAK["bf16"], BW, classes=res.classes)
    single = F.fit_efficiency(rows, PEAK["bf16"], BW, steps=800, starts=2)
    pred1 = F.predict_rows(rows, single.params, PEAK["bf16"], BW)
    assert error_stats(pred, rows.time_s)["median_abs_pct"] < 3.0
    worst = {}
    for op in ("copy", "attention_decode"):
        sel = (rows.op == op).to_numpy()
        assert error_stats(pred[sel], rows.time_s[sel])["median_abs_pct"] < 3.0, op
        worst[op] = error_stats(pred1[sel], rows.time_s[sel])["median_abs_pct"]
    assert max(worst.values()) > 10.0, worst  # one memory efficiency cannot serve 0.35 and 0.9


def test_gemm_shape_term_is_recovered_and_off_by_default():
    """GEMMs timed with compute efficiency x M / (M + 64): the per-class fit with ``gemm_shape``
    recovers the row half-size; without the term no ``gemm_rows_half`` is written, and a curve
    without it predicts exactly what it predicted before the term existed."""
    rng = np.random.default_rng(2)
    bw = 50e12  # compute-bound, so the row term is visible
    ms = np.array([8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096], float)
    ns = np.array([1024, 4096, 8192], float)
    m, n = np.meshgrid(ms, ns)
    rows = gemm_rows("syn", "gemm", m.ravel(), n.ravel(), 4096.0, 1.0, dtype="bf16")
    classes = {"gemm": {"compute": 0.8, "compute_half_flop": 1e6, F.GEMM_SHAPE_FIELD: 64.0}}
    t = F.predict_rows(rows, TRUE, PEAK["bf16"], bw, classes=classes)
    t0 = F.predict_rows(rows, TRUE, PEAK["bf16"], bw, classes={"gemm": {"compute": 0.8, "compute_half_flop": 1e6}})
    assert np.all(t >= t0) and np.any(t > 1.3 * t0)
    rows["time_s"] = t * np.exp(rng.normal(0.0, 0.02, len(t)))
    res = F.fit_efficiency(rows, PEAK["bf16"], bw, classes=True, gemm_shape=True, steps=800, starts=2)
    assert res.classes["gemm"][F.GEMM_SHAPE_FIELD] == pytest.approx(64.0, rel=0.35)  # partly traded against F_half
    off = F.fit_efficiency(rows, PEAK["bf16"], bw, classes=True, steps=800, starts=2)
    assert F.GEMM_SHAPE_FIELD not in off.classes["gemm"]
    pred = F.predict_rows(rows, res.params, PEAK["bf16"], bw, classes=res.classes)
    assert error_stats(pred, rows.time_s)["median_abs_pct"] < 6.0
