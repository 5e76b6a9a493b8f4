"""CLI: `predict train --tokens ... --checkpoint-every auto` reliability terms, `--no-failures`,
`predict optimal --sites N --wan-gbps X`, and one-line errors with exit 2."""

from __future__ import annotations

import json

import pytest
import typer

import cli.main as cli_main
from cli.predict_optimal import register as register_optimal
from cli.predict_train import register as register_train

TRAIN = ["predict", "train", "--model", "llama-2-7b", "--system", "dgx-a100", "--gpus", "64",
         "--global-batch", "512", "--seq", "4096", "--tokens", "2e12", "--zero", "1"]


@pytest.fixture()
def run(monkeypatch, capsys):
    app = typer.Typer(pretty_exceptions_enable=False)
    predict = typer.Typer()

    @predict.callback()
    def _group() -> None:
        """Predict."""

    register_train(predict)
    register_optimal(predict)
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


def test_train_json_has_each_reliability_term(run):
    code, out, _ = run(*TRAIN, "--checkpoint-every", "auto", "--json")
    assert code == 0
    r = json.loads(out)
    rel = r["reliability"]
    for k in ("ideal_s", "expected_failures", "checkpoint_overhead_s", "lost_work_s", "restart_overhead_s",
              "planned_restart_s", "ettr", "expected_wall_s", "expected_device_hours", "checkpoint_interval_s"):
        assert k in rel
    assert rel["ideal_s"] == pytest.approx(r["train_time_s"])
    total = (rel["ideal_s"] + rel["checkpoint_overhead_s"] + rel["lost_work_s"] + rel["restart_overhead_s"]
             + rel["planned_restart_s"])
    assert total == pytest.approx(rel["expected_wall_s"], rel=1e-6)
    assert 0.9 < rel["ettr"] < 1.0


def test_train_table_prints_the_terms(run):
    code, out, _ = run(*TRAIN, "--checkpoint-every", "3600")
    assert code == 0
    for label in ("ideal wall-clock", "expected interruptions", "checkpoint overhead", "lost work", "ETTR",
                  "expected wall-clock"):
        assert label in out


def test_no_failures_gives_the_ideal_number(run):
    code, out, _ = run(*TRAIN, "--no-failures", "--json")
    rel = json.loads(out)["reliability"]
    assert code == 0 and rel["ettr"] == 1.0 and rel["expected_wall_s"] == rel["ideal_s"]


@pytest.mark.parametrize("extra,needle", [
    (["--device-failures-per-hour", "-1"], "--device-failures-per-hour"),
    (["--storage-gbps", "0"], "--storage-gbps"),
    (["--checkpoint-every", "soon"], "--checkpoint-every"),
    (["--checkpoint-mode", "tape"], "checkpoint mode"),
])
def test_train_bad_reliability_input_exits_2(run, extra, needle):
    code, out, err = run(*TRAIN, *extra)
    assert code == 2
    assert err.startswith("error: ") and needle in err and err.count("\n") == 1


def test_cross_site_plan_shows_the_crossover(run):
    code, out, _ = run("predict", "optimal", "--system", "h100-two-site", "--days", "30", "--sites", "2",
                       "--wan-gbps", "400", "--json")
    assert code == 0
    r = json.loads(out)
    rows = {row["wan_gbps"]: row for row in r["rows"]}
    assert rows[1.0]["winner"] == "diloco"  # at 1 Gb/s the data-parallel all-reduce dominates
    assert rows[4096.0]["winner"] == "dp"  # with a fast WAN the DiLoCo loss penalty decides
    assert 1.0 <= r["crossover_gbps"] < r["dp_wins_above_gbps"] <= 4096.0
    assert 400.0 in rows


@pytest.mark.parametrize("extra,needle", [
    (["--inner-steps", "0"], "H (inner steps)"),
    (["--wan-gbps", "0"], "--wan-gbps"),
    (["--sites", "0"], "--sites"),
])
def test_cross_site_bad_input_exits_2(run, extra, needle):
    args = ["predict", "optimal", "--system", "h100-two-site", "--days", "30", "--sites", "2"]
    code, out, err = run(*args, *extra) if "--sites" not in extra else run(
        "predict", "optimal", "--system", "h100-two-site", "--days", "30", *extra)
    assert code == 2
    assert needle in err and err.count("\n") == 1


def test_multi_site_system_plans_across_its_sites_from_the_catalog(run):
    """h100-two-site.toml's [sites] table: 2 sites and a 400 Gb/s WAN, no --sites needed."""
    import json

    code, out, _ = run("predict", "optimal", "--system", "h100-two-site", "--days", "30", "--json")
    assert code == 0
    res = json.loads(out)
    assert res["sites"] == 2 and 400.0 in [r["wan_gbps"] for r in res["rows"]]
