"""Tests of the ``simlab models`` commands."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.models import app
from simulator import ModelError

runner = CliRunner()


def _main(argv, capsys):
    """Run ``cli.main.main(argv)``; return (exit status, stdout, stderr)."""
    from cli.main import main

    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code
    out = capsys.readouterr()
    return status, out.out, out.err


def test_show_json_reports_counts():
    result = runner.invoke(app, ["show", "llama-3-70b", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["name"] == "llama-3-70b"
    assert info["total_params"] == pytest.approx(70.6e9, rel=2e-3)
    assert info["active_params"] == info["total_params"]
    assert info["num_layers"] == 80
    assert info["kv_cache_bytes_per_token_bf16"] == 2 * 2 * 80 * 8 * 128
    assert info["published_params_source"]


def test_show_moe_alias_and_table():
    result = runner.invoke(app, ["show", "Mixtral-8x7B", "--json"])
    info = json.loads(result.output)
    assert info["active_params"] == pytest.approx(12.9e9, rel=3e-3)
    table = runner.invoke(app, ["show", "deepseek-v3"])
    assert table.exit_code == 0 and "deepseek-v3" in table.output


def test_show_hf_config_path(tmp_path):
    cfg = {"model_type": "gpt2", "n_layer": 12, "n_embd": 768, "n_head": 12, "n_positions": 1024,
           "vocab_size": 50257}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    result = runner.invoke(app, ["show", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total_params"] == 124439808


def test_list_json_and_table():
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    names = [row["name"] for row in rows]
    assert "qwen3-8b" in names and "deepseek-v3" in names
    assert all(row["published_params"] for row in rows)
    assert runner.invoke(app, ["list"]).exit_code == 0


def test_unknown_model_raises_model_error():
    with pytest.raises(ModelError, match="did you mean"):
        app(args=["show", "lama-3-70b"], standalone_mode=False)


def test_main_unknown_model_exits_2_with_one_line(capsys):
    status, out, err = _main(["models", "show", "lama-3-70b"], capsys)
    assert status == 2
    assert err.strip().count("\n") == 0
    assert err.startswith("error: unknown model 'lama-3-70b'; did you mean: llama-3-70b")


def test_main_show_json(capsys):
    status, out, err = _main(["models", "show", "llama-3-70b", "--json"], capsys)
    assert status in (0, None)
    assert json.loads(out)["total_params"] == pytest.approx(70.6e9, rel=2e-3)
