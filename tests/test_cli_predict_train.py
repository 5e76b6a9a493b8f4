"""`simlab predict train`: tables, JSON, --search, and one-line errors with exit status 2.

The command is attached to a stand-in ``predict`` group here, and run through ``cli.main.main`` so
that the real error handling (``error: ...`` on stderr, exit 2) is what is tested.
"""

from __future__ import annotations

import json

import pytest
import typer

import cli.main as cli_main
from cli.predict_train import register

BASE = ["predict", "train", "--model", "gpt3-175b", "--system", "dgx-a100"]


@pytest.fixture()
def run(monkeypatch, capsys):
    app = typer.Typer(pretty_exceptions_enable=False)
    predict = typer.Typer()

    @predict.callback()
    def _group() -> None:
        """Predict training and serving."""

    register(predict)
    app.add_typer(predict, name="predict")
    monkeypatch.setattr(cli_main, "app", app)

    def _run(*args):
        code = 0
        try:
            cli_main.main(list(args))
        except SystemExit as e:
            code = e.code or 0
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


def test_train_table_and_json(run):
    args = [*BASE, "--gpus", "1024", "--tp", "8", "--pp", "8", "--global-batch", "1536", "--seq", "2048",
            "--tokens", "300e9", "--zero", "1", "--recompute", "selective"]
    code, out, _ = run(*args)
    assert code == 0
    assert "MFU" in out and "fits" in out and "days" in out
    code, out, _ = run(*args, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["layout"] == {"tp": 8, "pp": 8, "dp": 16, "cp": 1, "ep": 1, "micro_batch": 1, "virtual_stages": 1,
                              "recompute": "selective", "zero": 1, "offload": "none",
                              "first_stage_layers": 0, "last_stage_layers": 0}
    assert 0 < data["mfu"] <= 1 and data["fits"] is True
    assert data["train_time_s"] == pytest.approx(300e9 / data["tokens_per_s"], rel=1e-5)
    assert data["memory"]["total_bytes"] < data["memory"]["capacity_bytes"]


def test_train_search_json(run):
    code, out, _ = run(*BASE, "--gpus", "512", "--global-batch", "512", "--seq", "2048", "--search", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["layouts_evaluated"] > 100 and data["best"]["fits"]
    assert len(data["pareto"]) >= 1


def test_layout_that_does_not_fit_is_reported_with_shortfall(run):
    code, out, _ = run(*BASE, "--gpus", "8", "--tp", "8", "--global-batch", "8", "--recompute", "none", "--allow-no-fit")
    assert code == 0
    assert "NO: short by" in out  # without --allow-no-fit: exit 2, tests/test_cli_bad_input.py


@pytest.mark.parametrize("args,needle", [
    (["--gpus", "1000", "--tp", "8", "--pp", "8", "--global-batch", "1536"], "does not divide the device count"),
    (["--gpus", "1024", "--tp", "8", "--pp", "8", "--dp", "8", "--global-batch", "1536"], "does not equal the device count"),
    (["--gpus", "776", "--tp", "8", "--pp", "97", "--global-batch", "97"], "96 layers do not split into pp = 97"),
    (["--gpus", "1024", "--tp", "8", "--pp", "8", "--global-batch", "1536", "--micro-batch", "7"],
     "not divisible by micro_batch x dp"),
])
def test_bad_layouts_exit_2_with_one_line(run, args, needle):
    code, out, err = run(*BASE, *args)
    assert code == 2
    assert err.startswith("error: ") and needle in err and err.count("\n") == 1


def test_unknown_system_exits_2(run):
    code, _, err = run("predict", "train", "--model", "gpt3-175b", "--system", "no-such-cluster", "--gpus", "8",
                       "--tp", "8", "--global-batch", "8")
    assert code == 2 and err.startswith("error: ") and "no-such-cluster" in err


def test_calibration_profile_changes_the_prediction(run):
    from simulator.calibration.profile import default_profile_path

    prof = default_profile_path("A100-SXM4-80GB").with_name("a100-sxm4-80gb-vidur.json")
    assert prof.exists(), f"the committed calibration profile is missing: {prof}"
    args = [*BASE, "--gpus", "64", "--tp", "8", "--pp", "8", "--global-batch", "64", "--json"]
    _, out0, _ = run(*args)
    code, out1, _ = run(*args, "--calibration", str(prof))
    assert code == 0
    assert json.loads(out1)["step_time_s"] != pytest.approx(json.loads(out0)["step_time_s"], rel=1e-3)
    code, _, err = run("predict", "train", "--model", "gpt3-175b", "--system", "dgx-h100", "--gpus", "8", "--tp", "8",
                       "--global-batch", "8", "--calibration", str(prof))
    assert code == 2 and err.startswith("error: ")


def test_train_llama_405b_uneven_stages_pp8_v8(run):
    """Issue 12: Llama 3.1 405B (126 layers) at pp 8 x virtual 8, first/last stages of 15 layers."""
    code, out, _ = run("predict", "train", "--model", "llama-3.1-405b", "--system", "dgx-h100", "--gpus", "8192",
                       "--tp", "8", "--pp", "8", "--virtual-stages", "8", "--first-stage-layers", "15",
                       "--last-stage-layers", "15", "--global-batch", "1024", "--seq", "8192", "--zero", "1",
                       "--recompute", "full", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["layout"]["first_stage_layers"] == 15 and data["layout"]["virtual_stages"] == 8
    assert 0 < data["mfu"] < 1 and data["straggler_s"] > 0


def test_train_fp8_hfu_may_exceed_the_bf16_ceiling(run):
    """HFU is counted against the bf16 peak; FP8 GEMMs run above it. The physical-result guard once
    refused Megatron-Core's published 405B FP8 layout (1,024 H100, TP8 PP8 CP2 VP8: HFU 0.73 against the
    bf16 ceiling 0.688); its ceiling is now scaled by the device's FP8/bf16 peak and efficiency ratios."""
    code, out, err = run("predict", "train", "--model", "llama-3.1-405b", "--system", "dgx-h100", "--gpus", "1024",
                         "--tp", "8", "--pp", "8", "--cp", "2", "--virtual-stages", "8", "--first-stage-layers", "15",
                         "--last-stage-layers", "15", "--global-batch", "512", "--seq", "8192", "--zero", "1",
                         "--dtype", "fp8", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert 0.688 < data["hfu"] < 1.0 and data["fits"]


def test_train_lowp_scaling_current_is_slower_and_bad_value_is_one_line(run):
    """``--lowp-scaling current`` (FP8 current scaling: an amax pass before each cast) costs time;
    an unknown value is one ``error:`` line naming the allowed ones, exit 2."""
    base = ["predict", "train", "--model", "llama-3-8b", "--system", "dgx-h100", "--gpus", "8", "--global-batch", "128",
            "--seq", "8192", "--dtype", "fp8", "--zero", "1", "--recompute", "full", "--json"]
    steps = {}
    for mode in ("delayed", "current"):
        code, out, err = run(*base, "--lowp-scaling", mode)
        assert code == 0, err
        steps[mode] = json.loads(out)["step_time_s"]
    assert 1.0 < steps["current"] / steps["delayed"] < 1.1
    code, _, err = run(*base, "--lowp-scaling", "bogus")
    assert code == 2 and err.startswith("error: ") and "delayed, current" in err and len(err.strip().splitlines()) == 1
