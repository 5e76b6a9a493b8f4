"""CLI: ``simlab predict optimal`` and ``simlab predict tts`` (JSON, tables, one-line errors, exit 2).

The ``predict`` group itself lives in ``cli/predict.py`` (written by the serving work); these tests
attach the two commands to a local group with the same ``register(predict_app)`` hook and run them
through the same error contract as ``cli.main.main`` (SimlabError -> ``error: ...``, exit 2). When
``cli.main`` already exposes ``predict optimal`` the real entry point is exercised too.
"""

from __future__ import annotations

import json
import sys

import pytest
import typer

from hardware_db.errors import SimlabError


def _app() -> typer.Typer:
    from cli import predict_optimal, predict_tts

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    predict = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True)
    predict_optimal.register(predict)
    predict_tts.register(predict)
    app.add_typer(predict, name="predict")
    return app


def run(argv, capsys):
    """Mirror of ``cli.main.main``: returns (status, stdout, stderr)."""
    try:
        _app()(args=argv, prog_name="simlab")
        status = 0
    except SimlabError as err:
        print(f"error: {err}", file=sys.stderr)
        status = 2
    except SystemExit as exc:
        status = exc.code
    out = capsys.readouterr()
    return status, out.out, out.err


def test_optimal_compute_json(capsys):
    status, out, err = run(["predict", "optimal", "--compute", "1e24", "--json"], capsys)
    assert status in (0, None), err
    res = json.loads(out)
    assert res["law"]["name"] == "chinchilla-epoch"
    assert 15 <= res["law_optimum"]["tokens_per_param"] <= 22
    assert res["plan"]["compute_flop"] <= 1e24
    assert res["plan"]["shape"]["layers"] > 0


def test_optimal_hoffmann_law_and_table(capsys):
    status, out, _ = run(["predict", "optimal", "--compute", "5.88e23", "--law", "chinchilla-hoffmann", "--json"],
                         capsys)
    assert status in (0, None)
    assert json.loads(out)["law_optimum"]["tokens_per_param"] == pytest.approx(92.8, abs=0.5)
    status, out, _ = run(["predict", "optimal", "--compute", "1e24"], capsys)
    assert status in (0, None) and "law optimum" in out


def test_optimal_cluster_table(capsys):
    status, out, err = run(["predict", "optimal", "--system", "dgx-h100", "--gpus", "2048", "--days", "30",
                            "--price", "2.5"], capsys)
    assert status in (0, None), err
    assert "hardware-aware" in out and "nominal" in out and "needs" in out


@pytest.mark.parametrize("argv,needle", [
    (["--compute", "0"], "compute budget"),
    (["--compute", "-1e24"], "compute budget"),
    (["--system", "dgx-h100", "--gpus", "2047", "--days", "30"], "2047"),
    (["--system", "dgx-h100", "--gpus", "16", "--days", "0"], "days"),
    (["--compute", "1e24", "--law", "nope"], "nope"),
    (["--compute", "1e10"], "too small"),
    ([], "exactly one"),
])
def test_optimal_bad_input_exits_2_one_line(capsys, argv, needle):
    status, out, err = run(["predict", "optimal", *argv], capsys)
    assert status == 2
    assert err.startswith("error: ") and err.strip().count("\n") == 0
    assert needle in err


def test_tts_cli(tmp_path, capsys):
    from test_planner_tts import synthetic_table

    path = tmp_path / "my.csv"
    synthetic_table().to_csv(path, index=False)
    status, out, err = run(["predict", "tts", "--family", "qwen3", "--hardware", "b200", "--budget-s", "60",
                            "--accuracy-table", str(path)], capsys)
    assert status in (0, None), err
    assert "FLOPs-only" in out and "critical model size" in out
    status, out, err = run(["predict", "tts", "--budget-eflops", "1e16", "--json"], capsys)
    assert status in (0, None), err
    assert json.loads(out)["choice"]["eflops"] <= 1e16
    bad = synthetic_table()
    bad.loc[0, "accuracy"] = 80.0  # percent instead of a probability
    bad.to_csv(path, index=False)
    status, out, err = run(["predict", "tts", "--hardware", "b200", "--budget-s", "60", "--accuracy-table",
                            str(path)], capsys)
    assert status == 2 and err.strip().count("\n") == 0 and "outside [0, 1]" in err


def test_real_entry_point(capsys):
    from cli.main import main

    try:
        status = main(["predict", "optimal", "--compute", "0"])
    except SystemExit as exc:
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ") and err.strip().count("\n") == 0
