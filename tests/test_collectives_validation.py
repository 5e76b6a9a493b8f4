"""``collective_time_s`` against published nccl-tests / rccl-tests bus bandwidths.

Rows: ``data/validation/collective_rows.csv`` (sources in ``collective_rows.md``). The model's time
becomes a bus bandwidth with nccl-tests' definition (``busbw = algbw * 2 (n-1)/n`` for all-reduce,
``(n-1)/n`` for all-gather / reduce-scatter; NVIDIA/nccl-tests doc/PERFORMANCE.md) and is compared
with the measured one. Nothing in the collectives model was fitted to these rows (the link
efficiency 0.8 comes from two of them, the A100 and H200 ring rows, which are marked so in the
table); the rest are out-of-sample.

Tolerances (justified in collective_rows.md): the large-message rows (>= 1 GiB) of the nccl-tests
/ rccl-tests / NCCL-maintainer sources test the bandwidth physics (link rates, NVLS, mesh, pipelined
hierarchy) and must be within 15 % each, median within 8 %. Vidur's intra-node timings (2-128 MiB,
one rank's CUDA timer around an unsynchronised collective) test the size dependence, where NCCL's
protocol choice (LL / LL128 / Simple) and per-step latencies matter; single timings scatter by
tens of percent (2 MiB vs 8 MiB on 2 GPUs), so only their median is bounded, by 20 %. Rows whose
measured bus bandwidth exceeds the NVLink wire rate (physically impossible for a ring) are
reported, not asserted.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from hardware_db import load_device, load_system
from simulator.collectives import bus_bandwidth_bytes_per_s, collective_time_s
from simulator.hw import build_hw

ROWS = Path(__file__).resolve().parents[1] / "data" / "validation" / "collective_rows.csv"


def _rows():
    with open(ROWS, newline="") as handle:
        return list(csv.DictReader(handle))


def _hardware(name: str):
    """A catalog system, or a bare device written ``device:<name>`` (one node holding the group)."""
    return load_device(name[len("device:"):]) if name.startswith("device:") else load_system(name)


def predicted_busbw_gb_per_s(row) -> float:
    hw = build_hw(_hardware(row["system"]))
    n = float(row["n"])
    t = collective_time_s(row["collective"], float(row["nbytes"]), n, float(row["ranks_per_node"]), hw,
                          algo=row["algo"])
    return float(bus_bandwidth_bytes_per_s(row["collective"], float(row["nbytes"]), n, t)) / 1e9


def errors_by_source():
    """{source: [(row id, relative error of busbw, checked?)]}."""
    out: dict[str, list] = {}
    for row in _rows():
        meas = float(row["measured_busbw_gb_per_s"])
        err = predicted_busbw_gb_per_s(row) / meas - 1.0
        out.setdefault(row["source"], []).append((row["id"], err, row["in_tolerance_check"] == "yes", row))
    return out


def test_every_row_names_its_source_and_maps_to_a_system():
    rows = _rows()
    assert len(rows) >= 20
    for row in rows:
        assert row["source"] and row["source_locator"] and row["date"], row["id"]
        _hardware(row["system"])
        assert float(row["measured_busbw_gb_per_s"]) > 0


def test_large_message_bus_bandwidth_within_tolerance():
    errs = [(rid, e) for src in errors_by_source().values() for rid, e, chk, row in src
            if chk and float(row["nbytes"]) >= 2**30]
    assert len(errs) >= 12
    worst = max(errs, key=lambda x: abs(x[1]))
    med = float(np.median([abs(e) for _, e in errs]))
    print(f"large messages: {len(errs)} rows, median |err| {med:.1%}, worst {worst[0]} {worst[1]:+.1%}")
    assert med <= 0.08
    assert abs(worst[1]) <= 0.15, worst


def test_vidur_intra_node_size_sweep_within_tolerance():
    rows = errors_by_source()["Vidur (Agrawal et al., MLSys 2024) profiling data"]
    errs = [e for _, e, chk, _ in rows if chk]
    assert len(errs) >= 9
    assert float(np.median(np.abs(errs))) <= 0.20


def test_nccl_tests_size_sweeps_within_tolerance():
    """Published single-node nccl-tests tables, 1 MiB - 1 GiB (Azure ND H200 v5, 8 GPUs, NVLS; an
    H100 SXM host at 4 GPUs): where NCCL's start-up and protocol choice matter. The H200 table is the
    held-out check of the NVLS start-up time taken from Azure's H100 table (reported, not asserted).
    Before that time was measured (NCCL's tuner value, 23 us), the H200 rows were 29-50 % too fast
    from 1 to 32 MiB (median |error| 31 %)."""
    errs = [(rid, e) for src in errors_by_source().values() for rid, e, chk, row in src
            if chk and row["id"].startswith(("azure-", "wh8-"))]
    assert len(errs) == 20
    med = float(np.median([abs(e) for _, e in errs]))
    worst = max(errs, key=lambda x: abs(x[1]))
    print(f"size sweeps: {len(errs)} rows, median |err| {med:.1%}, worst {worst[0]} {worst[1]:+.1%}")
    assert med <= 0.10
    assert abs(worst[1]) <= 0.30, worst


def test_error_report_per_source():
    """Median and worst |error| per source (printed with -s; reproduced in collective_rows.md)."""
    for src, rows in errors_by_source().items():
        errs = np.array([e for _, e, _, _ in rows])
        worst = rows[int(np.argmax(np.abs(errs)))]
        print(f"{src}: n={len(errs)} median |err| {np.median(np.abs(errs)):.1%} worst {worst[0]} {worst[1]:+.1%}")
        assert np.all(np.isfinite(errs))


@pytest.mark.parametrize("kind,factor", [("all_reduce", 2.0), ("all_gather", 1.0)])
def test_the_multi_node_rows_sit_at_the_pipelined_value_not_the_sum(kind, factor):
    """The pre-issue model added the intra- and inter-node phases; NCCL pipelines them (issue 12)."""
    hw = build_hw(load_system("dgx-b200"))
    s, n, r = 16 * 2**30, 32.0, 8.0
    moved = factor * (n - 1) / n * s
    t_in = moved * (r - 1) / r / (float(hw.intra_bytes_per_s) * float(hw.link_eff))
    t_out = moved / r / (float(hw.inter_bytes_per_s) * float(hw.inter_link_eff))
    t = float(collective_time_s(kind, s, n, r, hw, algo="ring"))
    assert max(t_in, t_out) <= t < 0.8 * (t_in + t_out)
