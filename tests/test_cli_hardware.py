"""Tests of ``simlab hardware list|show`` (JSON in SI units, exit status 2 on bad input)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.hardware import app
from hardware_db import HardwareError

runner = CliRunner()

BAD_DEVICE = """
name = "bad"
vendor = "me"
kind = "gpu"
tdp_w = { value = 100, source = "me" }
[[memory]]
name = "hbm"
capacity_bytes = 1e9
bandwidth_bytes_per_s = -5e9
source = "me"
[efficiency]
compute = 0.5
memory = 0.5
link = 0.5
compute_half_flop = 0
memory_half_bytes = 0
kernel_overhead_s = 0
source = "me"
"""


def _cli_main():
    """``cli.main.main``, the real entry point."""
    from cli.main import main

    return main


def test_list_json_has_devices_and_systems():
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    names = {d["name"] for d in data["devices"]}
    assert {"H100-SXM5-80GB", "SN40L", "MI250X-GCD", "host-cpu"} <= names
    h100 = next(d for d in data["devices"] if d["name"] == "H100-SXM5-80GB")
    assert h100["bf16_flops_per_s"] == 989.4e12 and h100["memory_bandwidth_bytes_per_s"] == 3.35e12
    assert {s["name"] for s in data["systems"]} >= {"DGX-H100", "Frontier-node", "phone-snapdragon-8-gen-3"}


def test_list_table_runs():
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    assert "Devices" in result.stdout and "Systems" in result.stdout


def test_show_sn40l_json_three_tiers():
    result = runner.invoke(app, ["show", "sn40l", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["name"] == "SN40L"
    tiers = data["memory_tiers"]
    assert [t["name"] for t in tiers] == ["sram", "hbm", "ddr"]
    for tier in tiers:
        assert tier["capacity_bytes"] > 0 and tier["bandwidth_bytes_per_s"] > 0 and tier["source"]
    assert data["peak_flops_per_s"]["bf16"]["value"] == 638e12
    assert data["intra_node_link"] is None and data["unset"]["intra_node_link"]


def test_show_system_json_and_table():
    result = runner.invoke(app, ["show", "dgx-h100", "--json"])
    data = json.loads(result.stdout)
    assert data["num_devices"] == 8 and data["inter_node_link"]["bandwidth_bytes_per_s"] == 50e9
    assert data["device"]["name"] == "H100-SXM5-80GB"
    result = runner.invoke(app, ["show", "frontier"])
    assert result.exit_code == 0 and "MI250X-GCD" in result.stdout


def test_show_bad_file_raises_hardware_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD_DEVICE)
    result = runner.invoke(app, ["show", str(path)])
    assert isinstance(result.exception, HardwareError)
    assert "memory[0].bandwidth_bytes_per_s" in str(result.exception)


def test_main_exits_2_with_one_line_for_bad_file(tmp_path, capsys):
    main = _cli_main()
    path = tmp_path / "bad.toml"
    path.write_text(BAD_DEVICE)
    with pytest.raises(SystemExit) as exit_info:
        main(["hardware", "show", str(path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "memory[0].bandwidth_bytes_per_s" in err


def test_main_unknown_name_exits_2(capsys):
    main = _cli_main()
    with pytest.raises(SystemExit) as exit_info:
        main(["hardware", "show", "h1000"])
    assert exit_info.value.code == 2
    assert "did you mean" in capsys.readouterr().err


def test_subprocess_show_relative_bad_path(tmp_path):
    _cli_main()
    (tmp_path / "bad.toml").write_text(BAD_DEVICE)
    proc = subprocess.run(
        [sys.executable, "-c", "from cli.main import main; main()", "hardware", "show", "./bad.toml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        },
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "bandwidth_bytes_per_s" in lines[0]
