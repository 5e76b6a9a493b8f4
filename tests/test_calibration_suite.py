"""Kernel suite: Parquet output with metadata, incremental parts, resume, dtype skipping, collectives."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from simulator.calibration import suite
from simulator.calibration.errors import CalibrationError

TINY = [suite.KernelCase("gemm", "fp32", m=64, n=64, k=64), suite.KernelCase("copy", "fp32", elements=4096),
        suite.KernelCase("softmax", "fp32", m=8, n=128), suite.KernelCase("attention_decode", "fp32", batch=1, heads=2,
                                                                          s_q=1, s_kv=64, head_dim=16)]


def test_suite_writes_parquet_with_metadata(tmp_path):
    df = suite.run_suite(TINY, out_dir=tmp_path, device_name="host-cpu", repeats=3, chunk=2, progress=False)
    on_disk = pd.read_parquet(tmp_path / "measurements.parquet")
    assert len(df) == len(on_disk) == len(TINY)
    for col in ("device_name", "backend", "jax_version", "jaxlib_version", "python_version", "date_utc",
                "time_s", "time_p10_s", "time_p90_s", "time_std_s", "flops", "bytes_moved"):
        assert col in on_disk, col
    assert (on_disk.device_name == "host-cpu").all() and (on_disk.backend == "cpu").all()
    assert (on_disk.time_s > 0).all() and (on_disk.time_p10_s <= on_disk.time_p90_s).all()
    g = on_disk[on_disk.kind == "gemm"].iloc[0]
    assert g.flops == 2 * 64**3 and g.bytes_moved == 3 * 64 * 64 * 4
    assert len(list((tmp_path / "parts").glob("part-*.parquet"))) == 2


def test_interrupted_run_keeps_finished_chunks_and_resumes(tmp_path, monkeypatch):
    real = suite.time_cases
    calls = {"n": 0}

    def flaky(cases, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(cases, **kw)

    monkeypatch.setattr(suite, "time_cases", flaky)
    with pytest.raises(KeyboardInterrupt):
        suite.run_suite(TINY, out_dir=tmp_path, repeats=3, chunk=2, progress=False)
    kept = pd.concat(pd.read_parquet(p) for p in (tmp_path / "parts").glob("part-*.parquet"))
    assert sorted(kept.case_id) == sorted(c.case_id for c in TINY[:2])
    seen = []
    monkeypatch.setattr(suite, "time_cases", lambda cases, **kw: seen.extend(cases) or real(cases, **kw))
    df = suite.run_suite(TINY, out_dir=tmp_path, repeats=3, chunk=2, progress=False)
    assert [c.case_id for c in seen] == [c.case_id for c in TINY[2:]]  # finished cases are not rerun
    assert len(df) == len(TINY)


def test_missing_dtype_is_skipped_with_a_note():
    ok, notes = suite.supported_dtypes(["fp32", "fp4"])
    assert ok == ["fp32"]
    assert len(notes) == 1 and notes[0].startswith("skipped dtype fp4")
    with pytest.raises(CalibrationError, match="no JAX kernel"):
        suite.time_case(suite.KernelCase("gemm", "fp4", m=8, n=8, k=8))


def test_split_half_is_disjoint_and_alternates_sizes():
    rows = suite.suite_rows(pd.DataFrame({
        "op": ["gemm"] * 6, "kind": "gemm", "dtype": "fp32", "m": range(6), "n": 1, "k": 1, "elements": 0,
        "flops": [1, 2, 3, 4, 5, 6], "bytes_moved": 1.0, "time_s": 1.0, "case_id": list("abcdef"), "num_workers": 1}))
    train, test = suite.split_half(rows)
    assert list(train.flops) == [1, 3, 5] and list(test.flops) == [2, 4, 6]


def test_collectives_run_when_several_devices_are_visible(tmp_path):
    code = textwrap.dedent(f"""
        import jax
        from simulator.calibration import suite
        assert jax.device_count() == 2, jax.devices()
        cases = [c for c in suite.default_cases(quick=True) if c.row_kind == "collective"][:4]
        assert {{c.kind for c in cases}} == {{"all_reduce"}} or len(cases) == 4
        cases += [suite.KernelCase("all_gather", "fp32", elements=4096)]
        df = suite.run_suite(cases, out_dir={str(tmp_path)!r}, repeats=3, progress=False)
        assert set(df.op) == {{"all_reduce", "all_gather"}}, set(df.op)
        assert (df.num_workers == 2).all() and (df.time_s > 0).all()
        ag = df[df.op == "all_gather"].iloc[0]
        assert ag.bytes_moved == 4096 * 4 * 2
        print("collectives ok", len(df))
    """)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "collectives ok" in r.stdout
