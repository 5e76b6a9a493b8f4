"""Calibration profiles: round trip, applying to a device, refusing another device, corrupt files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hardware_db import load_device
from simulator.calibration.errors import CalibrationError
from simulator.calibration.profile import (
    PROFILE_DIR,
    CalibrationProfile,
    apply_profile,
    default_profile,
    default_profile_path,
    evaluate_held_out,
    load_calibrated_device,
    qualifies_as_default,
    read_profile,
    write_profile,
)

EFF = {"compute": 0.75, "memory": 0.6, "link": 0.7, "compute_half_flop": 1e9, "memory_half_bytes": 1e6,
       "kernel_overhead_s": 3e-6}


def _profile(device="A100-SXM4-80GB", **kw):
    return CalibrationProfile(device=device, efficiency=dict(EFF), source="unit test", backend="table",
                              date_utc="2026-11-26T00:00:00+00:00", **kw)


def test_round_trip_and_apply(tmp_path):
    p = write_profile(_profile(per_dtype={"fp32": {"compute": 0.5, "compute_half_flop": 2e8}}, link_latency_s=4e-6),
                      tmp_path / "a100.json")
    prof = read_profile(p)
    assert prof.efficiency == EFF and prof.link_latency_s == 4e-6
    dev = load_device("a100")  # an alias: profiles match names and aliases
    cal = apply_profile(dev, prof)
    assert cal.efficiency.compute == 0.75 and cal.efficiency.memory_half_bytes == 1e6
    assert "calibration profile" in cal.efficiency.source
    assert cal.intra_node_link.latency_s == 4e-6
    assert cal.peak("bf16") == dev.peak("bf16")  # peaks untouched without peaks_raised
    assert apply_profile(dev, p, dtype="fp32").efficiency.compute == 0.5
    assert apply_profile(dev, p, dtype="bf16").efficiency.compute == 0.75


def test_peaks_raised_are_applied(tmp_path):
    dev = load_device("host-cpu")
    prof = _profile(device="host-cpu", peaks_raised={"fp32": 4e11, "bandwidth_bytes_per_s": 6e10})
    cal = apply_profile(dev, prof)
    assert cal.peak("fp32") == 4e11 and cal.memory.bandwidth_bytes_per_s == 6e10


def test_profile_for_another_device_is_refused(tmp_path):
    p = write_profile(_profile(device="MI210"), tmp_path / "mi210.json")
    with pytest.raises(CalibrationError, match="is for device 'MI210', not 'A100-SXM4-80GB'") as err:
        apply_profile(load_device("a100-sxm4-80gb"), p)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text, match", [
    ("{not json", "corrupt: invalid JSON at line 1"),
    ("[]", "not a JSON object"),
    ('{"format": "simlab-calibration-profile/1", "device": "x", "source": "s"}', "lacks field 'efficiency'"),
    ('{"format": "other"}', "field 'format'"),
])
def test_corrupt_profile_gives_clear_error(tmp_path, text, match):
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(CalibrationError, match=match):
        read_profile(p)


def test_out_of_range_efficiency_is_rejected(tmp_path):
    d = _profile().to_dict()
    d["efficiency"]["compute"] = 1.5
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    with pytest.raises(CalibrationError, match=r"efficiency.compute = 1.5; allowed: \(0.0, 1.0\]"):
        read_profile(p)
    with pytest.raises(CalibrationError, match="not found"):
        read_profile(tmp_path / "missing.json")


def test_shipped_profiles_are_valid_and_belong_to_catalog_devices():
    files = sorted(PROFILE_DIR.glob("*.json"))
    assert files, f"no shipped calibration profiles in {PROFILE_DIR}"
    for f in files:
        prof = read_profile(f)
        dev = load_device(prof.device)
        assert f.stem.startswith(f"{dev.name.lower()}"), f"{f.name} holds a profile for {dev.name}"
        assert prof.source and prof.fit.get("rows", 0) > 0
        apply_profile(dev, prof)
    assert default_profile_path("A100-SXM4-80GB").is_file()
    # the shipped A100 profile (fitted on LLMCompass kernels) degrades held-out Vidur A100 predictions,
    # so it is opt-in by name, and "default" keeps the catalog (profile.DEFAULT_RULE)
    assert default_profile("A100-SXM4-80GB") is None
    assert not load_calibrated_device("a100", "default").efficiency.source.startswith("calibration profile")
    assert load_calibrated_device("a100", "a100-sxm4-80gb").efficiency.source.startswith("calibration profile")


def test_default_rule_on_numbers():
    good = {"tables": {"t": {"median_abs_pct_catalog": 20.0, "median_abs_pct_calibrated": 10.0,
                             "p90_abs_pct_catalog": 50.0, "p90_abs_pct_calibrated": 40.0}}}
    assert qualifies_as_default(good)
    assert not qualifies_as_default({"tables": {}})  # nothing held out: cannot show it improves
    worse_tail = {"tables": {"t": {**good["tables"]["t"], "p90_abs_pct_calibrated": 269.0}}}
    assert not qualifies_as_default(worse_tail)
    assert not qualifies_as_default({"tables": {**good["tables"], "u": {**good["tables"]["t"],
                                                                        "median_abs_pct_calibrated": 22.0}}})


def test_shipped_held_out_records_are_recomputed():
    """The ``held_out`` block of every shipped profile is what :func:`evaluate_held_out` computes now
    (rerun ``simulator.calibration.profile.record_held_out(path)`` after changing the cost model)."""
    from fitters.registry import DatasetError

    for f in sorted(PROFILE_DIR.glob("*.json")):
        prof = read_profile(f)
        assert prof.held_out, f"{f.name}: no held_out record; run record_held_out('{f}')"
        try:
            fresh = evaluate_held_out(prof)
        except DatasetError as e:  # the measured tables are not present here
            pytest.skip(str(e))
        assert set(fresh["tables"]) == set(prof.held_out["tables"]), f.name
        for name, rec in fresh["tables"].items():
            for k, v in rec.items():
                assert prof.held_out["tables"][name][k] == pytest.approx(v, rel=1e-3, abs=0.01), (f.name, name, k)
        assert prof.held_out["default"] == fresh["default"] == qualifies_as_default(prof.held_out), f.name


def test_cli_corrupt_profile_exits_2(tmp_path):
    """Through the real process boundary: one line on stderr, exit status 2, no traceback."""
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    code = ("import sys, typer\nfrom cli.calibrate import register\nfrom hardware_db.errors import SimlabError\n"
            "app = typer.Typer()\nregister(app)\n"
            "try:\n    app(args=sys.argv[1:], standalone_mode=False)\n"
            "except SimlabError as e:\n    print(f'error: {e}', file=sys.stderr); sys.exit(2)\n")
    r = subprocess.run([sys.executable, "-c", code, "validate", "--source", "llmcompass-a100", "--calibration", str(bad)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "corrupt" in lines[0], lines


def test_classes_round_trip_apply_and_validation(tmp_path):
    import json

    classes = {"gemm": {"compute": 0.7, "memory": 0.6, "compute_half_flop": 2e9, "memory_half_bytes": 1e6,
                        "kernel_overhead_s": 2e-6},
               "elementwise": {"memory": 0.4}, "collective": {"link": 0.9}}
    p = write_profile(_profile(classes=classes, class_per_dtype={"bf16": {"compute": 0.65, "compute_half_flop": 3e9}}),
                      tmp_path / "a100.json")
    prof = read_profile(p)
    assert prof.classes == classes
    dev = apply_profile(load_device("a100-80gb"), prof, dtype="bf16")
    assert dev.efficiency.compute == 0.75  # device-wide curve unchanged
    assert dev.efficiency.for_class("gemm")["compute"] == 0.65  # class_per_dtype of bf16
    assert dev.efficiency.for_class("elementwise")["memory"] == 0.4
    assert dev.efficiency.for_class("elementwise")["compute"] == 0.75  # not overridden: device-wide
    assert dev.efficiency.for_class("collective")["link"] == 0.9
    old = json.loads(p.read_text())
    for k in ("classes", "class_per_dtype"):
        old.pop(k)
    (tmp_path / "old.json").write_text(json.dumps(old))  # a profile from before kernel classes
    assert apply_profile(load_device("a100-80gb"), tmp_path / "old.json").efficiency.classes == {}
    for bad, needle in (({"vector": {"memory": 0.5}}, "classes.vector is not a kernel class"),
                        ({"gemm": {"memory": 1.5}}, r"classes.gemm.memory = 1.5; allowed: \(0.0, 1.0\]"),
                        ({"collective": {"memory": 0.5}}, "classes.collective.memory is not allowed")):
        (tmp_path / "bad.json").write_text(json.dumps({**old, "classes": bad}))
        with pytest.raises(CalibrationError, match=needle):
            read_profile(tmp_path / "bad.json")
