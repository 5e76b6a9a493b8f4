"""`simlab calibrate` / `simlab validate` through Typer (the commands are attached by ``register``)."""

from __future__ import annotations

import json

import pytest
import typer
from conftest import require_dataset
from typer.testing import CliRunner

from cli.calibrate import register
from simulator.calibration import datasets
from simulator.calibration.profile import PROFILE_DIR, read_profile


def _app():
    app = typer.Typer()
    register(app)
    return app


def _need_llmc_a100():
    for op in ("matmul", "softmax", "layernorm", "gelu"):
        require_dataset(datasets.llmcompass_name(op, "A100"))


def test_register_adds_two_top_level_commands():
    app = _app()
    names = {c.name for c in app.registered_commands}
    assert names == {"calibrate", "validate"}
    r = CliRunner().invoke(app, ["calibrate", "--help"])
    assert r.exit_code == 0 and "--from-table" in r.output and "--quick" in r.output


def test_calibrate_from_table_and_validate_json(tmp_path):
    _need_llmc_a100()
    app = _app()
    r = CliRunner().invoke(app, ["calibrate", "--from-table", "llmcompass-a100", "--out", str(tmp_path), "--steps", "300",
                                 "--json"])
    assert r.exit_code == 0, r.output
    printed = json.loads(r.stdout)
    assert printed["profile_path"] == str(tmp_path / "a100-sxm4-80gb.json")
    prof = read_profile(tmp_path / "a100-sxm4-80gb.json")
    assert prof.device == "A100-SXM4-80GB" and prof.source.startswith("llmcompass-a100")
    assert printed["profile"]["efficiency"] == pytest.approx(prof.efficiency)
    r = CliRunner().invoke(app, ["validate", "--source", "llmcompass-a100", "--calibration",
                                 str(tmp_path / "a100-sxm4-80gb.json"), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    print(json.dumps(out, indent=1))
    cal = [x for x in out["rows"] if x["calibration"] == "calibrated" and x["op"] == "all"][0]
    cat = [x for x in out["rows"] if x["calibration"] == "catalog" and x["op"] == "all"][0]
    assert cal["median_abs_pct"] < cat["median_abs_pct"]


def test_unknown_source_and_wrong_device_profile_are_errors(tmp_path):
    _need_llmc_a100()
    app = _app()
    r = CliRunner().invoke(app, ["validate", "--source", "tpu-v9"])
    assert r.exit_code != 0 and "unknown" in str(r.exception)
    r = CliRunner().invoke(app, ["validate", "--source", "llmcompass-a100", "--calibration", str(PROFILE_DIR / "mi210.json")])
    assert r.exit_code != 0 and "is for device 'MI210', not 'A100-SXM4-80GB'" in str(r.exception)
