"""Tests of ``simlab sweep`` (documented form ``simlab sweep spec.toml --out results/``) and
``simlab sweep summarize``: runs, resume, JSON output, one-line errors with exit status 2."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest
import typer

from cli import sweep
from hardware_db.errors import SimlabError

SPEC = """
kind = "serve"
name = "cli-tiny"

[axes]
model = ["llama-3.2-1b", "llama-3-8b"]
hardware = ["h100", "mi300x"]
batch = [1, 16]
"""


def _root() -> typer.Typer:
    """`simlab` with the sweep group attached: cli.main when it registers `sweep`, else the same wiring."""
    try:
        from cli.main import app as main_app

        if any(g.name == "sweep" for g in main_app.registered_groups):
            return main_app
    except ImportError:
        pass
    root = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    root.add_typer(sweep.app, name="sweep")

    @root.command("version")
    def _version() -> None:  # a second command, so `sweep` stays a sub-group as in cli.main
        print("simlab")

    return root


def simlab(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run like ``cli.main.main``: SimlabError -> `error: ...` on stderr and exit 2."""
    status = 0
    try:
        _root()(args=argv, prog_name="simlab")
    except SimlabError as err:
        print(f"error: {err}", file=sys.stderr)
        status = 2
    except SystemExit as exc:
        status = exc.code or 0
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.fixture()
def spec_file(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC)
    return path


def test_sweep_documented_form_run_resume_and_summarize(tmp_path, spec_file, capsys):
    out = tmp_path / "results"
    status, stdout, err = simlab(["sweep", str(spec_file), "--out", str(out), "--chunk-size", "4", "--json"], capsys)
    assert status == 0, err
    rep = json.loads(stdout)
    assert rep["complete"] and rep["n_configs"] == 8 and rep["chunks_run"] == 2
    df = pd.read_parquet(out)
    assert len(df) == 8 and {"ttft_s", "tpot_s", "output_tokens_per_s", "memory_bytes", "fits"} <= set(df.columns)

    status, stdout, _ = simlab(["sweep", "run", str(spec_file), "--out", str(out)], capsys)
    assert status == 0 and "already complete" in stdout

    status, stdout, err = simlab(["sweep", "summarize", str(out), "--json", "--no-plots"], capsys)
    assert status == 0, err
    summary = json.loads(stdout)
    assert summary["rows"] == 8 and len(summary["best"]) == 4
    assert {"latency_throughput", "cost_time"} <= set(summary["fronts"])
    status, stdout, _ = simlab(["sweep", "summarize", str(out)], capsys)
    assert status == 0 and "Pareto front" in stdout and (out / "_summary" / "best.csv").exists()


def test_sweep_bad_input_exits_2_with_one_line(tmp_path, spec_file, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(SPEC + 'colour = "red"\n')
    status, _, err = simlab(["sweep", str(bad), "--out", str(tmp_path / "x")], capsys)
    assert status == 2 and err.strip().count("\n") == 0 and "axes.colour" in err
    assert not (tmp_path / "x").exists()

    unknown = tmp_path / "unknown.toml"
    unknown.write_text(SPEC.replace('"mi300x"', '"mi9000"'))
    status, _, err = simlab(["sweep", str(unknown), "--out", str(tmp_path / "y")], capsys)
    assert status == 2 and "axes.hardware[1]" in err and err.startswith("error: ")

    empty = tmp_path / "empty.toml"
    empty.write_text(SPEC.replace("batch = [1, 16]", "batch = []"))
    status, _, err = simlab(["sweep", str(empty), "--out", str(tmp_path / "z")], capsys)
    assert status == 2 and "axes.batch: empty axis" in err

    # an output folder holding a different sweep: refused, nothing removed or changed
    other = tmp_path / "other"
    other.mkdir()
    (other / "_manifest.json").write_text(json.dumps({"spec_hash": "0" * 64, "chunk_size": 4}))
    (other / "part-000000.parquet").write_bytes(b"keep me")
    status, _, err = simlab(["sweep", str(spec_file), "--out", str(other)], capsys)
    assert status == 2 and "holds a different sweep" in err
    assert (other / "part-000000.parquet").read_bytes() == b"keep me"
    assert sorted(p.name for p in other.iterdir()) == ["_manifest.json", "part-000000.parquet"]

    status, _, err = simlab(["sweep", "summarize", str(tmp_path / "nothing")], capsys)
    assert status == 2 and "holds no sweep" in err


def test_sweep_help_lists_commands(capsys):
    status, stdout, _ = simlab(["sweep", "--help"], capsys)
    assert status == 0 and "summarize" in stdout and "run" in stdout


def test_sweep_with_scheduler_address(tmp_path, spec_file, capsys):
    """`--scheduler tcp://127.0.0.1:PORT`: a LocalCluster on loopback (worker threads, time-bounded)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0", timeout=60) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        out = tmp_path / "dask"
        status, stdout, err = simlab(["sweep", str(spec_file), "--out", str(out), "--chunk-size", "4",
                                      "--scheduler", address, "--json"], capsys)
    assert status == 0, err
    rep = json.loads(stdout)
    assert rep["backend"] == "dask" and rep["complete"] and rep["chunks_run"] == 2
    assert len(pd.read_parquet(out)) == 8
    status, _, err = simlab(["sweep", str(spec_file), "--out", str(tmp_path / "no"), "--scheduler", "localhost"],
                            capsys)
    assert status == 2 and "--scheduler" in err
    assert not (tmp_path / "no").exists()  # refused before the output folder was created
