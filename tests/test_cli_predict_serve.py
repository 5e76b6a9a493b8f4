"""`simlab predict serve` (cli/predict.py): tables, JSON in SI units, one-line errors with exit 2."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from cli.predict import predict_app

runner = CliRunner()
app = typer.Typer()
app.add_typer(predict_app, name="predict")


def invoke(*args):
    """Run like cli.main does: a SimlabError becomes 'error: ...' and exit 2."""
    from hardware_db.errors import SimlabError

    result = runner.invoke(app, ["predict", "serve", *args])
    if isinstance(result.exception, SimlabError):
        return 2, f"error: {result.exception}"
    return result.exit_code, result.output


def test_serve_table():
    code, out = invoke("--model", "llama-3-70b", "--hardware", "h100-sxm", "--tp", "4", "--batch", "32",
                       "--input", "2048", "--output", "256")
    assert code == 0, out
    for text in ("TTFT", "TPOT", "output tokens/s", "memory per device", "fits"):
        assert text in out


def test_serve_json_si_keys_and_breakdown():
    code, out = invoke("--model", "llama-3-70b", "--hardware", "h100-sxm", "--tp", "4", "--batch", "32",
                       "--input", "2048", "--output", "256", "--kv-dtype", "fp8", "--weight-dtype", "int4",
                       "--breakdown", "--json")
    assert code == 0, out
    r = json.loads(out)
    for key in ("ttft_s", "tpot_s", "tpot_avg_s", "e2e_latency_s", "output_tokens_per_s", "total_tokens_per_s",
                "weights_bytes", "kv_cache_bytes", "activation_bytes", "workspace_bytes", "memory_bytes", "fits",
                "shortfall_bytes", "max_batch"):
        assert key in r
    assert r["weight_bytes_per_param"] == 0.5 and r["kv_bytes_per_elem"] == 1.0
    ops = {o["op"]: o for o in r["breakdown_decode"]}
    assert {"qkv_proj", "attention", "mlp_up", "attn_allreduce"} <= set(ops)
    assert ops["attn_allreduce"]["bound"] == "communication"
    assert all(o["time_s"] >= 0 for o in r["breakdown_prefill"])


def test_serve_system_multi_node_and_not_fitting():
    code, out = invoke("--model", "llama-3-70b", "--system", "dgx-h100", "--tp", "8", "--pp", "2", "--batch", "64",
                       "--json")
    assert code == 0 and json.loads(out)["devices"] == 16
    code, out = invoke("--model", "llama-3-70b", "--hardware", "h100-sxm", "--batch", "8", "--json", "--allow-no-fit")
    r = json.loads(out)
    assert code == 0 and r["fits"] is False and r["shortfall_bytes"] > 0
    code, out = invoke("--model", "llama-3-70b", "--hardware", "h100-sxm", "--batch", "8", "--allow-no-fit")
    assert code == 0 and "NO: short by" in out
    code, _ = invoke("--model", "llama-3-70b", "--hardware", "h100-sxm", "--batch", "8")
    assert code == 2


def test_serve_user_hardware_toml(tmp_path):
    from hardware_db.catalog import DEVICE_DIR

    text = (DEVICE_DIR / "h100-sxm5-80gb.toml").read_text()
    text = text.replace('name = "H100-SXM5-80GB"', 'name = "My-Chip"').replace("bandwidth_bytes_per_s = 3.35e12",
                                                                               "bandwidth_bytes_per_s = 6.7e12")
    text = text.replace('aliases = ["h100", "h100-sxm", "h100-sxm5", "h100-80gb", "nvidia h100 sxm5 80gb"]',
                        'aliases = ["my-chip"]')
    path = tmp_path / "my_chip.toml"
    path.write_text(text)
    code, mine = invoke("--model", "llama-3-8b", "--hardware", str(path), "--json")
    code2, ref = invoke("--model", "llama-3-8b", "--hardware", "h100-sxm", "--json")
    assert code == code2 == 0
    assert json.loads(mine)["hardware"] == "My-Chip"
    assert json.loads(mine)["tpot_s"] < json.loads(ref)["tpot_s"]


def test_serve_disaggregated_and_speculative():
    code, out = invoke("--model", "llama-3-70b", "--system", "dgx-h100", "--tp", "8", "--prefill-tp", "8",
                       "--batch", "16", "--json")
    assert code == 0 and json.loads(out)["kv_transfer_s"] > 0
    code, out = invoke("--model", "llama-3.1-70b", "--hardware", "h100-sxm", "--tp", "4", "--draft-model",
                       "llama-3.2-1b", "--gamma", "4", "--acceptance", "0.8", "--json")
    assert code == 0 and json.loads(out)["spec_tokens_per_step"] > 1


@pytest.mark.parametrize("args, text", [
    (["--model", "llama-3-7b", "--hardware", "h100"], "did you mean"),
    (["--model", "llama-3-8b", "--hardware", "h100-sx"], "did you mean"),
    (["--model", "llama-3-8b", "--hardware", "h100", "--batch", "0"], "batch"),
    (["--model", "llama-3-8b", "--hardware", "h100", "--input", "-5"], "input length"),
    (["--model", "llama-3-70b", "--hardware", "h100", "--tp", "3"], "does not divide"),
    (["--model", "llama-3-8b", "--hardware", "a100-sxm4-80gb", "--act-dtype", "fp8"], "fp8"),
])
def test_serve_bad_input_exit_2_one_line(args, text):
    code, out = invoke(*args)
    assert code == 2
    assert out.startswith("error: ") and text in out and "\n" not in out.strip()


def test_main_entry_point_exit_code():
    """Through the real entry point (a subprocess): exit 2 and one line on stderr."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "cli.main", "predict", "serve", "--model", "llama-3-8b",
                           "--hardware", "h100", "--batch", "0"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1


# --- --calibration ------------------------------------------------------------------------------


def _write_profile(tmp_path, device="A100-SXM4-80GB", classes=None):
    from simulator.calibration.profile import CalibrationProfile, write_profile

    eff = {"compute": 0.5, "memory": 0.5, "link": 0.5, "compute_half_flop": 1e9, "memory_half_bytes": 1e6,
           "kernel_overhead_s": 5e-6}
    prof = CalibrationProfile(device=device, efficiency=eff, source="unit test", classes=classes or {})
    return str(write_profile(prof, tmp_path / f"{device}.json"))


def test_serve_calibration_applies_profile(tmp_path):
    args = ("--model", "llama-2-7b", "--hardware", "a100-80gb", "--batch", "8", "--json")
    code, out = invoke(*args)
    assert code == 0, out
    base = json.loads(out)
    path = _write_profile(tmp_path, classes={"elementwise": {"memory": 0.25}})
    code, out = invoke(*args, "--calibration", path)
    assert code == 0, out
    cal = json.loads(out)
    assert cal["calibration"] == path
    assert cal["tpot_avg_s"] > 1.3 * base["tpot_avg_s"]  # efficiency 0.5 instead of the catalog's ~0.8
    code, out = invoke(*args, "--calibration", "default")  # the shipped A100 profile
    assert code == 0, out


def test_serve_calibration_refuses_other_device_and_corrupt_file(tmp_path):
    path = _write_profile(tmp_path, device="MI210")
    code, out = invoke("--model", "llama-2-7b", "--hardware", "a100-80gb", "--calibration", path)
    assert code == 2 and "is for device 'MI210'" in out and len(out.strip().splitlines()) == 1, out
    bad = tmp_path / "corrupt.json"
    bad.write_text("{not json")
    code, out = invoke("--model", "llama-2-7b", "--hardware", "a100-80gb", "--calibration", str(bad))
    assert code == 2 and "corrupt" in out and len(out.strip().splitlines()) == 1, out
    code, out = invoke("--model", "llama-2-7b", "--hardware", "a100-80gb", "--calibration", str(tmp_path / "no.json"))
    assert code == 2 and "not found" in out, out


def test_calibration_on_optimal_and_tts(tmp_path, capsys):
    from cli.main import main

    path = _write_profile(tmp_path, device="MI210")
    for argv in (["predict", "optimal", "--compute", "1e21", "--system", "dgx-a100", "--calibration", path],
                 ["predict", "tts", "--hardware", "a100-80gb", "--budget-s", "10", "--calibration", path]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "is for device 'MI210'" in err and len(err.splitlines()) == 1, err
    bad = tmp_path / "corrupt.json"
    bad.write_text("[]")
    with pytest.raises(SystemExit) as exc:
        main(["predict", "optimal", "--compute", "1e21", "--system", "dgx-a100", "--calibration", str(bad)])
    assert exc.value.code == 2 and "not a JSON object" in capsys.readouterr().err


def test_calibration_on_optimal_changes_the_plan_inputs(tmp_path, capsys):
    from cli.main import main

    outs = []
    for extra in ([], ["--calibration", _write_profile(tmp_path)]):
        try:
            main(["predict", "optimal", "--compute", "1e21", "--system", "dgx-a100", "--gpus", "8", "--json", *extra])
        except SystemExit as exc:
            assert exc.code in (0, None)
        outs.append(capsys.readouterr().out)
    assert json.loads(outs[0]) != json.loads(outs[1])  # efficiency 0.5 slows the plan's step time
