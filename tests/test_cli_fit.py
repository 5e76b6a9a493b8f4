"""CLI: simlab fit / laws / predict loss (Typer apps called directly; exit 2 through cli.main)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import typer
from conftest import require_dataset
from typer.testing import CliRunner

from cli import fit, laws, predict_loss
from fitters.errors import DatasetError, FitError
from scaling_laws.errors import LawError

runner = CliRunner()


@pytest.fixture(scope="module")
def predict_app():
    a = typer.Typer()
    predict_loss.register(a)

    @a.command("noop")
    def _noop() -> None:  # a second command keeps Typer from collapsing the group
        pass

    return a


@pytest.fixture
def runs_csv(tmp_path):
    """Synthetic runs from Hoffmann's printed law plus 0.5 % noise."""
    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(np.log(5e7), np.log(1e10), 60))
    D = np.exp(rng.uniform(np.log(1e9), np.log(3e11), 60))
    L = (1.69 + 406.4 / N**0.34 + 410.7 / D**0.28) * (1 + 0.005 * rng.standard_normal(60))
    p = tmp_path / "runs.csv"
    pd.DataFrame({"params": N, "tokens": D, "loss": L}).to_csv(p, index=False)
    return p


def test_generic_fit_json(runs_csv):
    r = runner.invoke(fit.app, ["--law", "chinchilla", "--csv", str(runs_csv), "--columns", "N=params,D=tokens,L=loss", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["n_points"] == 60 and out["converged"]
    assert out["params"]["alpha"] == pytest.approx(0.34, abs=0.05)


def test_generic_fit_law_subcommand_and_plot(runs_csv, tmp_path):
    png = tmp_path / "fit.png"
    r = runner.invoke(fit.app, ["law", "--law", "chinchilla", "--csv", str(runs_csv),
                                "--columns", "N=params,D=tokens,L=loss", "--plot", str(png)])
    assert r.exit_code == 0, r.output
    assert "alpha" in r.stdout and png.stat().st_size > 10_000


@pytest.mark.parametrize(
    "args, exc, match",
    [
        (["--law", "chinchilla", "--columns", "N=params,D=tok,L=loss"], FitError, "no column 'tok' for input D"),
        (["--law", "gpt4", "--columns", "N=params,D=tokens,L=loss"], FitError, "unknown law 'gpt4'"),
        (["--law", "chinchilla", "--columns", "N:params,D=tokens"], FitError, "INPUT=COLUMN"),
    ],
)
def test_generic_fit_bad_input(runs_csv, args, exc, match):
    r = runner.invoke(fit.app, [*args[:2], "--csv", str(runs_csv), *args[2:]])
    assert isinstance(r.exception, exc)
    assert "\n" not in str(r.exception)
    assert match in str(r.exception)


def test_generic_fit_bad_values(tmp_path):
    p = tmp_path / "bad.csv"
    pd.DataFrame({"N": [1e8, 2e8, -1, 4e8, 5e8, 6e8], "D": [1e9] * 6, "L": [3.0] * 6}).to_csv(p, index=False)
    r = runner.invoke(fit.app, ["--law", "chinchilla", "--csv", str(p)])
    assert isinstance(r.exception, FitError) and "'N' must be positive" in str(r.exception)
    pd.DataFrame({"N": [1e8, 2e8, np.nan, 4e8, 5e8, 6e8], "D": [1e9] * 6, "L": [3.0] * 6}).to_csv(p, index=False)
    r = runner.invoke(fit.app, ["--law", "chinchilla", "--csv", str(p)])
    assert isinstance(r.exception, FitError) and "NaN" in str(r.exception)
    pd.DataFrame({"N": [1e8, 2e8, 3e8], "D": [1e9] * 3, "L": [3.0] * 3}).to_csv(p, index=False)
    r = runner.invoke(fit.app, ["--law", "chinchilla", "--csv", str(p)])
    assert isinstance(r.exception, FitError) and "not enough" in str(r.exception)


def test_fit_chinchilla_dataset_json():
    require_dataset("epoch-chinchilla")
    r = runner.invoke(fit.app, ["chinchilla", "--dataset", "epoch-chinchilla", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["n_points"] == 240 and out["params"]["alpha"] == pytest.approx(0.347, abs=0.003)
    r = runner.invoke(fit.app, ["chinchilla", "--dataset", "nope"])
    assert isinstance(r.exception, DatasetError)


def test_fit_steplaw_dataset(tmp_path):
    require_dataset("steplaw-dense")
    r = runner.invoke(fit.app, ["steplaw", "--bootstrap", "200", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["params"]["lr_coefN"] == pytest.approx(-0.768, abs=0.03)


def test_laws_list():
    r = runner.invoke(laws.app, ["list", "--json"])
    assert r.exit_code == 0, r.output
    names = [ps["name"] for lw in json.loads(r.stdout) for ps in lw["parameter_sets"]]
    assert {"chinchilla-epoch", "chinchilla-hoffmann", "chinchilla-hoffmann-unrounded", "farseer-eq15", "steplaw-published"} <= set(names)
    r = runner.invoke(laws.app, ["list"])
    assert r.exit_code == 0 and "chinchilla-epoch" in r.stdout
    r = runner.invoke(laws.app, ["datasets", "--json"])
    assert r.exit_code == 0 and "epoch-chinchilla" in r.stdout


def test_predict_loss(predict_app):
    r = runner.invoke(predict_app, ["loss", "--law", "chinchilla-epoch", "--params", "70e9", "--tokens", "1.4e12", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["loss"] == pytest.approx(1.8172 + 482.01 / 70e9**0.3478 + 2085.43 / 1.4e12**0.3658, rel=1e-9)
    r = runner.invoke(predict_app, ["loss", "--law", "chinchilla-hoffmann", "--compute", "5.88e23", "--json"])
    assert json.loads(r.stdout)["tokens_per_param"] == pytest.approx(92.8, abs=0.5)
    r = runner.invoke(predict_app, ["loss", "--law", "steplaw", "--params", "7e9", "--tokens", "1.4e12", "--json"])
    assert json.loads(r.stdout)["lr"] == pytest.approx(9.17e-4, rel=0.01)
    r = runner.invoke(predict_app, ["loss", "--law", "chinchilla-epoch", "--params", "70e9", "--tokens", "1.4e12"])
    assert r.exit_code == 0 and "loss" in r.stdout


@pytest.mark.parametrize(
    "args, match",
    [
        (["--law", "chinchilla-foo", "--params", "1e9", "--tokens", "1e10"], "unknown law / parameter set"),
        (["--law", "chinchilla-epoch", "--params", "-1", "--tokens", "1e10"], "--params must be a positive"),
        (["--law", "chinchilla-epoch", "--params", "1e9"], "needs --params and --tokens"),
    ],
)
def test_predict_loss_bad_input(predict_app, args, match):
    r = runner.invoke(predict_app, ["loss", *args])
    assert isinstance(r.exception, LawError) and match in str(r.exception)


def test_exit_code_two_through_main(capsys):
    """Through the real entry point, bad input exits 2 with one line on stderr."""
    from cli import main as cli_main

    with pytest.raises(SystemExit) as exc:
        cli_main.main(["fit", "--law", "nope", "--csv", __file__])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
