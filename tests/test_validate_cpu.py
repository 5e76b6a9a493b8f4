"""Held-out validation on this machine's CPU (runs in CI).

The quick kernel suite (GEMMs, copy/triad streams, GELU, RMSNorm, softmax, prefill/decode
attention; fp32) is timed, a profile is fitted on every other size of each kernel family and the
other half is predicted.

Thresholds. Two limits, both measured on the 2-vCPU development VM:

* the model: one compute and one memory efficiency per device. On XLA:CPU the kernel families
  reach very different rates (GEMM ~220 GFLOP/s vs prefill attention ~130; copy ~55 GB/s, triad
  ~40, decode attention ~29, RMSNorm ~24, GELU/softmax ~15 (exp/tanh bound)), so even the best
  fit has an in-sample median error of ~35 %;
* the measurements: CI runs tests two at a time next to other jobs; the same suite timed twice
  differs by 14 % per kernel (median, p90 26 %).

Observed held-out medians were 25-40 % over all kernels. We assert <= 50 % (median, all kernels)
and that calibration at least halves the error of the catalog's placeholder ``host-cpu`` entry
(~300 %); the table and the measurement spread are printed. The 10 % aim of the issue is not
reachable with this model on a CPU; see docs/calibration.md.
"""

from __future__ import annotations

import numpy as np

from simulator.calibration.validate import format_table, validate_cpu


def test_cpu_held_out_error():
    table, test_rows, profile, notes = validate_cpu(progress=False)
    spread = float(np.median(test_rows.spread))
    print(format_table(table, "host CPU: calibrated on half the kernel sizes, errors on the other half"))
    print("\n".join(notes))
    print("profile:", profile.efficiency, profile.per_dtype, profile.peaks_raised)
    print(f"median measurement spread (p90 - p10) / median of the held-out kernels: {100 * spread:.0f} %")
    cal = table[(table.op == "all") & (table.calibration == "calibrated")].iloc[0]
    cat = table[(table.op == "all") & (table.calibration == "catalog")].iloc[0]
    assert cal["n"] >= 15
    assert np.isfinite(cal["median_abs_pct"])
    assert cal["median_abs_pct"] <= 50.0, "held-out median error on CPU kernels"
    assert cal["median_abs_pct"] <= 0.5 * cat["median_abs_pct"], "calibration must at least halve the catalog error"
