"""Validation against published A100 measurements (Vidur per-operator, LLMCompass kernels).

Which data calibrates what:

* ``data/calibration/a100-sxm4-80gb.json`` is fitted on all LLMCompass A100 kernels (84 rows:
  matmul, softmax, layernorm, gelu) and validated on Vidur (a different lab, PyTorch/vLLM kernels):
  a transfer test.
* ``data/calibration/a100-sxm4-80gb-vidur.json`` is fitted on half the Vidur models (and 2- and
  8-GPU all-reduce); it is validated on the other models (and 4-GPU all-reduce) only.

The tables are printed (see them with ``pytest -rA``).
"""

from __future__ import annotations

import pytest
from conftest import require_dataset

from simulator.calibration import datasets, measured
from simulator.calibration.fit import fit_profile
from simulator.calibration.profile import PROFILE_DIR, read_profile
from simulator.calibration.validate import before_after, compare, format_table, validate_table

GEMMS = ("qkv_proj", "out_proj", "mlp_up_proj", "mlp_down_proj")


def _need_vidur_a100():
    for m in datasets.vidur_models("a100"):
        require_dataset(datasets.vidur_compute_name("a100", m))
    require_dataset(datasets.vidur_allreduce_name("a100_dgx"))


def _need_llmc(gpu):
    for op in ("matmul", "softmax", "layernorm", "gelu"):
        require_dataset(datasets.llmcompass_name(op, gpu))


def _stat(table, op, cal, col="median_abs_pct"):
    return float(table[(table.op == op) & (table.calibration == cal)][col].iloc[0])


def test_vidur_a100_with_vidur_holdout_profile():
    _need_vidur_a100()
    table, rows, notes = validate_table("vidur-a100", PROFILE_DIR / "a100-sxm4-80gb-vidur.json")
    print(format_table(table, "Vidur A100, calibrated on the other Vidur models (held out)"))
    print("\n".join(notes))
    prof = read_profile(PROFILE_DIR / "a100-sxm4-80gb-vidur.json")
    assert not set(rows.group) & set(prof.fit["train_groups"])  # held-out rows only
    for op in GEMMS:
        # aim of the issue: <= 15 % median per GEMM operator after calibration. The catalog's A100
        # compute efficiency is itself the median of Vidur GEMMs (hardware_db, d89d689), so its GEMM
        # medians are already 4-10 %; the per-class profile improves the tails (p90 17-23 -> 13-18 %).
        assert _stat(table, op, "calibrated") <= 15.0, op
        assert _stat(table, op, "calibrated", "p90_abs_pct") < _stat(table, op, "catalog", "p90_abs_pct"), op
        assert _stat(table, op, "calibrated", "p90_abs_pct") <= 30.0, op
    assert _stat(table, "all_reduce", "calibrated") <= 20.0
    # elementwise class (one curve for norms, activation and residual add; held-out medians with the
    # shipped per-class profile: act 11.2, add 6.0, norm 25.7 %; single curve: 3.3, 80.2, 29.4 %)
    assert _stat(table, "act", "calibrated") <= 15.0
    assert _stat(table, "add", "calibrated") <= 10.0
    assert _stat(table, "norm", "calibrated") <= 30.0
    assert prof.classes and "elementwise" in prof.classes


def test_vidur_a100_with_llmcompass_profile():
    """Transfer from LLMCompass's cuBLAS GEMMs (0.91 of peak at large sizes) to Vidur's PyTorch
    linears (~0.70): calibration does not close that gap; the catalog's MAMF-based 0.869 is as good.
    We assert only that the LLMCompass-calibrated GEMM errors stay within 25 % (median) and print the table."""
    _need_vidur_a100()
    _need_llmc("A100")
    table, _, notes = validate_table("vidur-a100", PROFILE_DIR / "a100-sxm4-80gb.json")
    print(format_table(table, "Vidur A100, calibrated on LLMCompass A100 kernels"))
    print("\n".join(notes))
    for op in GEMMS:
        assert _stat(table, op, "calibrated") <= 25.0, op
        assert _stat(table, op, "calibrated", "bias_pct") < 0  # optimistic: LLMCompass GEMMs are faster


def test_llmcompass_a100_profile_is_reproducible_and_fits():
    _need_llmc("A100")
    from hardware_db import load_device

    shipped = read_profile(PROFILE_DIR / "a100-sxm4-80gb.json")
    rows = measured.load_table("llmcompass-a100")
    dev = load_device("a100-sxm4-80gb")
    prof, _ = fit_profile(rows, dev, source="test", table="llmcompass-a100", per_dtype=True)
    for k, v in shipped.efficiency.items():
        assert prof.efficiency[k] == pytest.approx(v, rel=0.05), k  # committed profile = this fit
    table = before_after(compare(rows, dev, prof))
    print(format_table(table, "LLMCompass A100 (in-sample)"))
    assert _stat(table, "matmul", "calibrated") <= 10.0
    assert _stat(table, "all", "calibrated") < _stat(table, "all", "catalog")


def test_llmcompass_mi210_profile():
    _need_llmc("MI210")
    # opt-in by name: no other MI210 table to show it improves held-out data (profile.DEFAULT_RULE)
    table, _, notes = validate_table("llmcompass-mi210", "mi210")
    print(format_table(table, "LLMCompass MI210 (in-sample)"))
    print("\n".join(notes))
    assert _stat(table, "matmul", "calibrated") <= 15.0
    assert _stat(table, "all", "calibrated") < _stat(table, "all", "catalog")


def test_vidur_a40_with_holdout_profile():
    for m in datasets.vidur_models("a40"):
        require_dataset(datasets.vidur_compute_name("a40", m))
    table, rows, notes = validate_table("vidur-a40", "a40-48gb")  # opt-in by name (profile.DEFAULT_RULE)
    print(format_table(table, "Vidur A40, calibrated on the other Vidur models (held out)"))
    print("\n".join(notes))
    prof = read_profile(PROFILE_DIR / "a40-48gb.json")
    assert prof.fit["train_groups"] and not set(rows.group) & set(prof.fit["train_groups"])
    for op in GEMMS:
        assert _stat(table, op, "calibrated") <= 15.0, op
    # per-class profile, held-out medians: act 3.1, add 10.2, norm 21.0 % (single curve 5.2, 12.7, 19.2)
    assert _stat(table, "act", "calibrated") <= 6.0
    assert _stat(table, "add", "calibrated") <= 15.0
    assert _stat(table, "norm", "calibrated") <= 25.0
