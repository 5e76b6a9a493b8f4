"""`simlab simulate serve` and `simlab capacity`: output, JSON, plots, bad input (one line, exit 2)."""

from __future__ import annotations

import json

import pytest

from cli.main import main

SIM = ["simulate", "serve", "--model", "llama-3-8b", "--hardware", "h100-sxm"]


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_simulate_serve_json_and_plot(capsys, tmp_path):
    png = tmp_path / "cdf.png"
    code, out, err = _run(SIM + ["--qps", "4", "--requests", "500", "--input-len", "lognormal:1024:0.5",
                                 "--output-len", "128", "--slo-ttft", "0.5", "--slo-tpot", "0.05", "--json",
                                 "--plot", str(png)], capsys)
    assert code == 0, err
    s = json.loads(out)
    assert s["requests"] == 500 and not s["overloaded"]
    assert 0 < s["ttft_p50_s"] <= s["ttft_p99_s"] and s["slo_attainment"] > 0.9
    assert s["cost_per_million_output_tokens_usd"] > 0  # sourced price of h100-sxm5-80gb
    assert png.stat().st_size > 10_000


def test_simulate_serve_table_says_overloaded(capsys):
    code, out, _ = _run(SIM + ["--qps", "500", "--requests", "1500", "--output-len", "256"], capsys)
    assert code == 0 and "overloaded" in out


@pytest.mark.parametrize("extra, needle", [
    (["--qps", "0"], "qps"),
    (["--qps", "-3"], "qps"),
    (["--scheduler", "fifo"], "scheduler"),
    (["--router", "random", "--replicas", "2"], "router"),
    (["--input-len", "gauss:3"], "length"),
    (["--price", "-1"], "price"),
])
def test_simulate_bad_input_exit_2(capsys, extra, needle):
    code, _, err = _run(SIM + ["--requests", "50"] + extra, capsys)
    assert code == 2
    assert err.startswith("error: ") and needle in err and err.count("\n") == 1


def test_simulate_trace(capsys, tmp_path):
    trace = tmp_path / "ok.csv"
    trace.write_text("arrival_s,prompt_tokens,output_tokens\n" + "".join(f"{0.2 * i},{100 + i},{20}\n" for i in range(50)))
    code, out, err = _run(SIM + ["--trace", str(trace), "--scheduler", "sarathi", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["requests"] == 50


def test_simulate_bad_trace_and_model_that_does_not_fit(capsys, tmp_path):
    bad = tmp_path / "t.csv"
    bad.write_text("arrival_s,prompt_tokens,output_tokens\n1.0,10,5\n0.5,10,5\n")
    code, _, err = _run(SIM + ["--trace", str(bad)], capsys)
    assert code == 2 and "sorted" in err and err.count("\n") == 1
    code, _, err = _run(["simulate", "serve", "--model", "llama-3-70b", "--hardware", "h100-sxm", "--requests", "20"],
                        capsys)
    assert code == 2 and "does not fit" in err and err.count("\n") == 1


def test_capacity_unreachable_is_an_answer_and_fleet(capsys, tmp_path):
    base = ["capacity", "--model", "llama-3-8b", "--hardware", "h100-sxm", "--input-len", "512", "--output-len",
            "64", "--requests", "300"]
    code, out, err = _run(base + ["--slo-ttft", "0.0001", "--slo-tpot", "0.05"], capsys)
    assert code == 0, err
    assert "no deployment meets it; closest:" in out
    png = tmp_path / "cap.png"
    code, out, err = _run(base + ["--hardware", "a100-sxm4-80gb", "--slo-ttft", "0.5", "--slo-tpot", "0.05",
                                  "--demand", "40", "--json", "--plot", str(png)], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert all(c["reachable"] for c in res["candidates"]) and res["fleet"]["feasible"]
    assert res["fleet"]["usd_per_hour"] > 0
    assert png.stat().st_size > 10_000


def test_capacity_needs_an_slo(capsys):
    code, _, err = _run(["capacity", "--model", "llama-3-8b", "--hardware", "h100-sxm"], capsys)
    assert code == 2 and "SLO" in err
