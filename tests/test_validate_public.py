"""(c) End-to-end / microbenchmark rows of ``measured_public.csv`` before and after calibration.

Only rows on a device with a shipped profile (A100) are predicted: llama.cpp single-stream decode
and prompt rates (through the serving simulator), the best-shape GEMM rate (MAMF) and the NCCL
all-reduce bus bandwidth. The catalog's A100 compute efficiency was itself taken from the MAMF row,
so that row is not a validation of the catalog. The table is printed (``pytest -rA``).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_dataset

import simulator.calibration.datasets  # noqa: F401  (registers measured-public)
from simulator.calibration.profile import PROFILE_DIR
from simulator.calibration.validate import format_table, validate_public


def _csv():
    return require_dataset("measured-public")  # skips naming $SIMLAB_REFERENCE_DIR/measured_public.csv


@pytest.mark.parametrize("profile", ["a100-sxm4-80gb.json", "a100-sxm4-80gb-vidur.json"])
def test_public_rows_before_and_after(profile):
    _csv()
    table, notes = validate_public(PROFILE_DIR / profile)
    print(format_table(table, f"measured_public.csv, A100 rows; calibrated = {profile}"))
    print("\n".join(notes))
    rows = table[table.op != "all"]
    assert set(rows.calibration) == {"catalog", "calibrated"}
    assert len(rows) == 12 and np.isfinite(rows.median_abs_pct).all()
    if profile.endswith("vidur.json"):
        dec = rows[(rows.op == "llamacpp-a100-llama2-7b-f16-decode") & (rows.calibration == "calibrated")]
        # memory-bound fp16 decode with the per-class Vidur profile: its GEMM class streams weights at
        # ~0.70 of HBM peak (vLLM/PyTorch decode-shaped GEMMs), llama.cpp's F16 decode at ~0.5, so the
        # prediction is ~26 % optimistic. (The single-curve profile was within 1 % only because norms
        # dragged its one memory efficiency down to 0.50.) Assert within 30 % and optimistic.
        assert float(dec.median_abs_pct.iloc[0]) <= 30.0
        assert float(dec.bias_pct.iloc[0]) < 0
