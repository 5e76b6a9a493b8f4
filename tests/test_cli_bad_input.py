"""Bad input to every `simlab` command: one line `error: ...` on stderr naming the field, exit 2, no traceback.

Runs ``cli.main.main`` in-process (a few cases also through the installed ``simlab`` script) with
light inputs only: no searches, no multi-start fits of real size, no kernel timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main

REPO = Path(__file__).resolve().parents[1]
SERVE = ["predict", "serve", "--model", "llama-3-8b", "--hardware", "h100"]
TRAIN = ["predict", "train", "--model", "llama-3-8b", "--system", "dgx-h100", "--gpus", "8", "--global-batch", "8"]
TTS = ["predict", "tts", "--hardware", "b200", "--budget-s", "60"]
SPEC = 'kind = "serve"\n[axes]\nmodel = ["llama-3-8b"]\nhardware = ["h100"]\nbatch = [1, 2]\n'


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> dict[str, str]:
    """Small bad files, written once."""
    d = tmp_path_factory.mktemp("bad")
    files = {
        "malformed.toml": "name = 'x'\n[[[broken",
        "neg_tdp.toml": (REPO / "hardware_db/devices/h100-sxm5-80gb.toml").read_text().replace(
            "tdp_w = { value = 700", "tdp_w = { value = -5"),
        "corrupt.json": '{"not": "closed"',
        "null.json": "null",
        "nocol.csv": "a,b\n1,2\n",
        "few.csv": "N,D,L\n1e8,2e9,3.0\n2e8,4e9,2.9\n",
        "nan.csv": "N,D,L\n1e8,2e9,3.0\n2e8,4e9,nan\n4e8,8e9,2.8\n8e8,1.6e10,2.7\n1.6e9,3.2e10,2.6\n3.2e9,6.4e10,2.5\n",
        "neg.csv": "N,D,L\n1e8,2e9,3.0\n-2e8,4e9,2.9\n4e8,8e9,2.8\n8e8,1.6e10,2.7\n1.6e9,3.2e10,2.6\n3.2e9,6.4e10,2.5\n",
        "const.csv": "N,D,L\n" + "".join(f"{n:g},{20 * n:g},3.0\n" for n in (1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9)),
        "empty.csv": "",
        "afile": "x",
        "acc_nocol.csv": "model,samples,gen_len\nqwen3-8b,1,4096\n",
        "acc_gt1.csv": "model,samples,gen_len,accuracy\nqwen3-8b,1,4096,1.7\n",
        "spec_ok.toml": SPEC,
        "spec_unknown_key.toml": SPEC + "frobnicate = [1]\n",
        "spec_empty_axis.toml": SPEC + "tp = []\n",
        "spec_unknown_dev.toml": SPEC.replace('"h100"', '"h1000"'),
        "spec_batch0.toml": SPEC.replace("[1, 2]", "[0, 2]"),
        "spec_dtype.toml": SPEC + 'weight_dtype = ["bf17"]\n',
        "spec_columns.toml": SPEC + '[output]\ncolumns = ["nope_s"]\n',
        "spec_malformed.toml": "kind = [[[\n",
    }
    for name, text in files.items():
        (d / name).write_text(text)
    (d / "measurements.parquet").write_text("not parquet")
    (d / "empty_dir").mkdir()
    return {k.replace(".", "_"): str(d / k) for k in [*files, "measurements.parquet", "empty_dir"]}


# (id, argv with {placeholders} from fx, word the message must contain)
CASES = [
    ("hw-unknown", ["hardware", "show", "h1000"], "h1000"),
    ("hw-missing-path", ["hardware", "show", "/nope/dev.toml"], "dev.toml"),
    ("hw-malformed-toml", ["hardware", "show", "{malformed_toml}"], "TOML"),
    ("hw-negative-field", ["hardware", "show", "{neg_tdp_toml}"], "tdp_w"),
    ("models-unknown", ["models", "show", "llama-99"], "llama-99"),
    ("models-corrupt-json", ["models", "show", "{corrupt_json}"], "JSON"),
    ("models-null-json", ["models", "show", "{null_json}"], "JSON object"),
    ("serve-batch0", [*SERVE, "--batch", "0"], "batch"),
    ("serve-input-negative", [*SERVE, "--input", "-5"], "input"),
    ("serve-tp-not-dividing-heads", [*SERVE, "--tp", "3"], "tp"),
    ("serve-pp-above-layers", [*SERVE, "--pp", "64"], "pp"),
    ("serve-unknown-dtype", [*SERVE, "--weight-dtype", "bf17"], "dtype"),
    ("serve-dtype-device-lacks", ["predict", "serve", "--model", "llama-3-8b", "--hardware", "v100",
                                  "--act-dtype", "fp8"], "fp8"),
    ("serve-unknown-system", ["predict", "serve", "--model", "llama-3-8b", "--system", "dgx-z"], "dgx-z"),
    ("serve-tp-overlap-nan", [*SERVE, "--tp-overlap", "nan"], "overlap"),
    ("serve-profile-other-device", [*SERVE, "--calibration", "data/calibration/a40-48gb.json"], "A40"),
    ("serve-not-an-integer", [*SERVE, "--batch", "abc"], "--batch"),
    ("serve-unknown-option", [*SERVE, "--bogus"], "--bogus"),
    ("train-degrees-not-multiplying", [*TRAIN, "--tp", "3"], "device count"),
    ("train-tp0", [*TRAIN, "--tp", "0"], "tp"),
    ("train-pp-above-layers", [*TRAIN[:-4], "--gpus", "64", "--global-batch", "64", "--pp", "64"], "pp"),
    ("train-batch-not-divisible", [*TRAIN[:-2], "--global-batch", "7"], "global batch"),
    ("train-unknown-system", ["predict", "train", "--model", "llama-3-8b", "--system", "dgx-z", "--gpus", "8",
                              "--global-batch", "8"], "dgx-z"),
    ("train-tokens-negative", [*TRAIN, "--tokens", "-1e9"], "tokens"),
    ("train-tokens-nan", [*TRAIN, "--tokens", "nan"], "tokens"),
    ("train-search-top0", [*TRAIN, "--search", "--top", "0"], "--top"),
    ("train-search-batch0", [*TRAIN[:-2], "--global-batch", "0", "--search"], "global-batch"),
    ("train-recompute", [*TRAIN, "--recompute", "some"], "recompute"),
    ("loss-unknown-law", ["predict", "loss", "--law", "nolaw", "--params", "1e9", "--tokens", "1e10"], "nolaw"),
    ("loss-negative-params", ["predict", "loss", "--law", "chinchilla-epoch", "--params", "-1e9", "--tokens",
                              "1e10"], "--params"),
    ("loss-infinite-result", ["predict", "loss", "--law", "kaplan", "--params", "1e-300", "--tokens", "1e10"],
     "loss"),
    ("loss-compute-too-small", ["predict", "loss", "--law", "farseer", "--compute", "1e-10"], "--compute"),
    ("optimal-zero-compute", ["predict", "optimal", "--compute", "0"], "compute"),
    ("optimal-negative-days", ["predict", "optimal", "--system", "dgx-h100", "--gpus", "64", "--days", "-3"],
     "days"),
    ("optimal-unknown-law", ["predict", "optimal", "--compute", "1e22", "--law", "nolaw"], "nolaw"),
    ("optimal-law-not-a-loss", ["predict", "optimal", "--compute", "1e22", "--law", "steplaw"], "not a loss"),
    ("optimal-gpus-system-cannot-form", ["predict", "optimal", "--system", "dgx-h100", "--gpus", "13", "--days",
                                         "3"], "13 devices"),
    ("optimal-gpus0", ["predict", "optimal", "--system", "dgx-h100", "--gpus", "0", "--days", "3"], "--gpus"),
    ("tts-missing-table", [*TTS, "--accuracy-table", "/nope/acc.csv"], "accuracy-table"),
    ("tts-missing-column", [*TTS, "--accuracy-table", "{acc_nocol_csv}"], "accuracy"),
    ("tts-probability-above-1", [*TTS, "--accuracy-table", "{acc_gt1_csv}"], "[0, 1]"),
    ("tts-negative-price", ["predict", "tts", "--hardware", "b200", "--budget-usd", "1", "--price", "-2"],
     "price"),
    ("fit-missing-column", ["fit", "--law", "chinchilla", "--csv", "{nocol_csv}"], "column"),
    ("fit-nan", ["fit", "--law", "chinchilla", "--csv", "{nan_csv}"], "NaN"),
    ("fit-non-positive", ["fit", "--law", "chinchilla", "--csv", "{neg_csv}"], "positive"),
    ("fit-too-few-points", ["fit", "--law", "chinchilla", "--csv", "{few_csv}"], "points"),
    ("fit-constant-loss", ["fit", "--law", "chinchilla", "--csv", "{const_csv}"], "constant"),
    ("fit-empty-csv", ["fit", "--law", "chinchilla", "--csv", "{empty_csv}"], "--csv"),
    ("fit-missing-csv", ["fit", "--law", "chinchilla", "--csv", "/nope/runs.csv"], "--csv"),
    ("fit-malformed-columns", ["fit", "--law", "chinchilla", "--csv", "{nan_csv}", "--columns", "N"], "--columns"),
    ("fit-unknown-law", ["fit", "--law", "nolaw", "--csv", "{nan_csv}"], "nolaw"),
    ("fit-unknown-dataset", ["fit", "chinchilla", "--dataset", "nods"], "nods"),
    ("fit-plot-folder-missing", ["fit", "chinchilla", "--plot", "/nope/x/fit.png"], "--plot"),
    ("fit-plot-is-a-folder", ["fit", "chinchilla", "--plot", "{empty_dir}"], "--plot"),
    ("laws-unknown-command", ["laws", "show", "x"], "show"),
    ("sweep-unknown-key", ["sweep", "{spec_unknown_key_toml}", "--out", "{tmp}/o"], "frobnicate"),
    ("sweep-empty-axis", ["sweep", "{spec_empty_axis_toml}", "--out", "{tmp}/o"], "axes.tp"),
    ("sweep-unknown-device", ["sweep", "{spec_unknown_dev_toml}", "--out", "{tmp}/o"], "h1000"),
    ("sweep-batch0", ["sweep", "{spec_batch0_toml}", "--out", "{tmp}/o"], "axes.batch"),
    ("sweep-unknown-dtype", ["sweep", "{spec_dtype_toml}", "--out", "{tmp}/o"], "axes.weight_dtype"),
    ("sweep-malformed-toml", ["sweep", "{spec_malformed_toml}", "--out", "{tmp}/o"], "TOML"),
    ("sweep-out-is-a-file", ["sweep", "{spec_ok_toml}", "--out", "{afile}"], "is a file"),
    ("sweep-chunk-size0", ["sweep", "{spec_ok_toml}", "--out", "{tmp}/o", "--chunk-size", "0"], "--chunk-size"),
    ("sweep-missing-spec", ["sweep", "/nope/spec.toml", "--out", "{tmp}/o"], "spec"),
    ("sweep-summarize-not-a-sweep", ["sweep", "summarize", "{empty_dir}"], "_manifest.json"),
    ("calibrate-unknown-table", ["calibrate", "--from-table", "nope"], "--from-table"),
    ("calibrate-out-is-a-file", ["calibrate", "--quick", "--out", "{afile}"], "--out"),
    ("calibrate-profile-under-a-file", ["calibrate", "--from-table", "vidur-a100", "--profile", "{afile}/p.json"],
     "--profile"),
    ("validate-unknown-source", ["validate", "--source", "nope"], "--source"),
    ("validate-corrupt-profile", ["validate", "--source", "vidur-a100", "--calibration", "{corrupt_json}"],
     "corrupt"),
    ("validate-profile-other-device", ["validate", "--source", "vidur-a100", "--calibration",
                                       "data/calibration/a40-48gb.json"], "A40"),
    ("validate-measurements-not-parquet", ["validate", "--source", "cpu", "--measurements",
                                           "{measurements_parquet}"], "--measurements"),
]


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case_id,argv,word", CASES, ids=[c[0] for c in CASES])
def test_bad_input_one_line_exit_2(case_id, argv, word, fx, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    argv = [a.format(tmp=tmp_path, **fx) for a in argv]
    code, out, err = run_main(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2, (code, out[-500:], err)
    assert "Traceback" not in err + out
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert word.lower() in lines[0].lower(), lines[0]


def test_sweep_bad_columns_leave_no_folder(fx, tmp_path, capsys):
    """output.columns is checked before the output folder is created (a later, fixed spec can use it)."""
    out_dir = tmp_path / "o"
    code, _, err = run_main(["sweep", fx["spec_columns_toml"], "--out", str(out_dir), "-q"], capsys)
    assert code == 2 and err.count("\n") == 1 and "output.columns" in err
    assert not out_dir.exists()


def test_sweep_other_sweep_in_folder_is_kept(fx, tmp_path, capsys):
    """--out holding a different sweep: refused, and what is there is left as it was."""
    good = tmp_path / "good.toml"
    good.write_text(SPEC)
    other = tmp_path / "other.toml"
    other.write_text(SPEC.replace("[1, 2]", "[1, 4]"))
    out_dir = tmp_path / "o"
    assert run_main(["sweep", str(good), "--out", str(out_dir), "-q", "--json"], capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out_dir.iterdir() if p.is_file()}
    code, _, err = run_main(["sweep", str(other), "--out", str(out_dir), "-q"], capsys)
    assert code == 2 and "different sweep" in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in out_dir.iterdir() if p.is_file()} == before


def test_huge_model_is_an_error_unless_allowed(capsys):
    """A model that does not fit in memory: one line naming the shortfall and what would fit, exit 2
    (developers' guide); ``--allow-no-fit`` reports it instead (fits = false, shortfall)."""
    code, out, err = run_main(["predict", "serve", "--model", "gpt3-175b", "--hardware", "rtx-4090", "--json"],
                              capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: --model gpt3-175b does not fit") and "short by" in err and "--tp" in err
    code, out, err = run_main(["predict", "serve", "--model", "llama-3-8b", "--hardware", "h100-sxm", "--batch",
                               "100000", "--input", "4096"], capsys)
    assert code == 2 and err.startswith("error: --batch 100000") and "allowed: --batch <= " in err
    code, out, err = run_main(["predict", "serve", "--model", "gpt3-175b", "--hardware", "rtx-4090", "--json",
                               "--allow-no-fit"], capsys)
    r = json.loads(out)
    assert code == 0 and r["fits"] is False and r["shortfall_bytes"] > 0 and r["max_batch"] == 0


def test_training_layout_that_does_not_fit_is_an_error_unless_allowed(capsys):
    argv = ["predict", "train", "--model", "llama-3.1-405b", "--system", "dgx-h100", "--gpus", "8", "--global-batch",
            "8", "--seq", "4096"]
    code, out, err = run_main([*argv, "--tp", "8"], capsys)
    assert code == 2 and err.count("\n") == 1 and "does not fit" in err and "--search" in err
    # --search with no layout that fits: tests/data/bad_inputs.txt ("no layout"); --allow-no-fit:
    # test_cli_predict_train.test_layout_that_does_not_fit_is_reported_with_shortfall


@pytest.mark.parametrize("argv,word", [
    (["predict", "serve", "--model", "llama-3-8b", "--hardware", "h1000"], "h1000"),
    (["predict", "serve", "--model", "llama-3-8b", "--hardware", "h100", "--batch", "x"], "--batch"),
    (["fit", "chinchilla", "--plot", "/nope/x/fit.png"], "--plot"),
    (["fit", "--law", "chinchilla", "--csv", "/dev/null"], "--csv"),
    (["predict", "optimal", "--compute", "1e22", "--nominal-mfu", "nan"], "--nominal-mfu"),
])
def test_installed_script(argv, word):
    """The `simlab` script itself: exit 2, one line on stderr, no traceback."""
    exe = Path(sys.executable).with_name("simlab")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "cli.main"]
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    p = subprocess.run([*cmd, *argv], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and word in lines[0], p.stderr
