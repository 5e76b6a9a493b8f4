"""Held-out validation on this machine's CPU (runs in CI).

The quick kernel suite (GEMMs, copy/triad streams, GELU, RMSNorm, softmax, prefill/decode
attention; fp32) is timed (median of 15 interleaved rounds per kernel), a profile is fitted on every
other size of each kernel family and the other half is predicted. The profile has one curve per
kernel class (gemm, attention, elementwise; docs/calibration.md) besides the best single curve.

Thresholds, from six runs of this very measurement on the 2-vCPU development VM (shared with other
jobs, load average 4-6), 2026-11-26:

* held-out median |error| over all kernels: per-class 10.6, 10.7, 11.1, 18.0, 21.4, 21.6 %
  (p90 33-54 %); the single curve of the same runs 23-46 %; the catalog's placeholder ``host-cpu``
  entry 240-590 %. The 10 % aim is met only in the quieter runs: the median (p90 - p10) / median
  spread of the repeated timings was 22-46 % across the runs, and what remains systematic is
  XLA:CPU skinny GEMMs (M = 64) running at ~half the rate of squares of the same FLOP count, which
  the roofline cannot express (held-out GEMM error 15-32 %).

Since then the per-class fit has a GEMM-shape term (``gemm_rows_half``: padded GEMM work
F (M + R) / M) and the quick suite seven skinny GEMMs (M = 1 ... 256). Eight runs of the new suite,
validated with and without the term on the same measurements, 2026-11-26: held-out median over all
kernels 8.7-17.8 % with the term (9.4-20.2 % without), GEMMs 7.9-29.0 % (median of the runs 13 %;
22 % without). We assert <= 30 % (1.7x the worst of those runs; it was 35 % before the term and
50 % for the single curve), that calibration at least halves the catalog error, and print the
single-curve errors beside it.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator.calibration.validate import compare, format_table, summarize, validate_cpu

HELD_OUT_MEDIAN_PCT = 30.0


@pytest.mark.exclusive_cpu  # timed alone: the other xdist worker would share the cores (conftest.py)
def test_cpu_held_out_error():
    # min of the repeats: the other xdist worker shares the 2 cores (validate_cpu's docstring); with
    # the median a busy neighbour made the held-out error swing 14-28 % and the catalog's 28-83 %
    table, test_rows, profile, notes = validate_cpu(progress=False, statistic="min")
    spread = float(np.median(test_rows.spread))
    print(format_table(table, "host CPU: calibrated on half the kernel sizes, errors on the other half"))
    print("\n".join(notes))
    print("profile:", profile.efficiency, profile.classes, profile.peaks_raised)
    single = type(profile)(**{**profile.__dict__, "classes": {}, "class_per_dtype": {}})
    one = compare(test_rows.drop(columns=["predicted_catalog_s", "predicted_calibrated_s"]), _device(), single)
    print(format_table(summarize(one, "predicted_calibrated_s", by=("op",)), "same profile, single curve only"))
    print(f"median measurement spread (p90 - p10) / median of the held-out kernels: {100 * spread:.0f} %")
    cal = table[(table.op == "all") & (table.calibration == "calibrated")].iloc[0]
    cat = table[(table.op == "all") & (table.calibration == "catalog")].iloc[0]
    assert profile.classes and {"gemm", "attention", "elementwise"} <= set(profile.classes)
    assert cal["n"] >= 15
    assert np.isfinite(cal["median_abs_pct"])
    assert cal["median_abs_pct"] <= HELD_OUT_MEDIAN_PCT, "held-out median error on CPU kernels"
    assert cal["median_abs_pct"] <= 0.5 * cat["median_abs_pct"], "calibration must at least halve the catalog error"


def _device():
    from hardware_db import load_device

    return load_device("host-cpu")
