"""Serving after issue 12: engine host time per step, chunked prefill billing only waiting prompt
tokens, KV transfer across NVLink domains, shape-keyed compilation, ``check_serve``."""

from __future__ import annotations

import pandas as pd
import pytest

from simulator.disaggregation import nvlink_domain, predict_disaggregated
from simulator.engines import ENGINES, engine_overhead_s
from simulator.errors import ConfigError
from simulator.serving import check_serve, predict_serve, validate_serve
from simulator.sweep import serve

KW = dict(batch=8, input_len=1024, output_len=128)


def test_engine_none_is_the_default_and_engines_add_their_host_time():
    base = predict_serve("llama-3.1-8b", "h100-sxm", **KW)
    none = predict_serve("llama-3.1-8b", "h100-sxm", engine="none", **KW)
    assert none["tpot_s"] == base["tpot_s"] and base["engine_decode_s"] == 0.0 and base["engine"] == "none"
    for name in ("vllm", "vllm-v0.5"):
        r = predict_serve("llama-3.1-8b", "h100-sxm", engine=name, **KW)
        extra = float(engine_overhead_s(name, KW["batch"]))
        assert r["engine_decode_s"] == pytest.approx(extra, rel=1e-5)
        assert r["tpot_s"] == pytest.approx(base["tpot_s"] + extra, rel=1e-5)  # every decode step
        assert r["ttft_s"] == pytest.approx(base["ttft_s"] + extra, rel=1e-5)  # the prefill step
    cpp = predict_serve("llama-3.1-8b", "h100-sxm", engine="llama.cpp", **KW)
    share = ENGINES["llama.cpp"].host_share
    assert cpp["tpot_s"] == pytest.approx(base["tpot_s"] / (1 - share), rel=1e-5)
    chunked = [predict_serve("llama-3.1-8b", "h100-sxm", batch=64, input_len=1024, output_len=128, chunk=2048,
                             engine=e)["tpot_s"] for e in ("none", "vllm")]
    assert chunked[1] == pytest.approx(chunked[0] + ENGINES["vllm"].step_s, rel=1e-4)  # each chunked iteration
    with pytest.raises(ConfigError, match="allowed: none, vllm"):
        predict_serve("llama-3.1-8b", "h100-sxm", engine="tgi")
    trt = predict_serve("llama-3.1-8b", "h100-sxm", engine="tensorrt-llm", **KW)
    assert trt["tpot_s"] == pytest.approx(base["tpot_s"] + ENGINES["tensorrt-llm"].step_s, rel=1e-5)


def test_chunked_prefill_bills_only_waiting_prompt_tokens():
    kw = dict(batch=64, input_len=1024, output_len=128)
    small, large = (predict_serve("llama-3.1-8b", "h100-sxm", chunk=c, **kw) for c in (512, 8192))
    # before issue 12, chunk 8192 billed 8128 prompt tokens every iteration: TPOT 13x chunk 512's
    assert large["tpot_s"] < 1.2 * small["tpot_s"]
    # steady state: 64 sequences bring 64 * 1024 / 128 = 512 prompt tokens per iteration
    rate = min(512 / 1024, 64 / 128)
    assert large["output_tokens_per_s"] == pytest.approx(rate * 128 / large["tpot_s"], rel=1e-4)
    with pytest.raises(ConfigError, match="no prefill budget"):
        predict_serve("llama-3.1-8b", "h100-sxm", batch=64, chunk=64)


def test_sweep_engine_column_and_chunk_check():
    rows = pd.DataFrame([dict(model="llama-3.1-8b", hardware="h100-sxm", engine=e, **KW)
                         for e in ("none", "vllm", "llama.cpp", None)])
    out = serve(rows)
    for i, e in enumerate(("none", "vllm", "llama.cpp", "none")):
        assert out.tpot_s[i] == pytest.approx(predict_serve("llama-3.1-8b", "h100-sxm", engine=e, **KW)["tpot_s"],
                                              rel=1e-4)
    bad = pd.DataFrame([dict(model="llama-3.1-8b", hardware="h100-sxm", engine="trt", **KW),
                        dict(model="llama-3.1-8b", hardware="h100-sxm", batch=8, chunk=8)])
    marked = serve(bad, errors="mark")
    assert not marked.valid.any() and "engine" in marked.error[0] and "chunk" in marked.error[1]
    with pytest.raises(ConfigError, match="sweep row 0: engine"):
        serve(bad)


def test_kv_transfer_leaves_nvlink_when_pools_span_domains():
    kw = dict(batch=16, input_len=2048, output_len=256)
    from hardware_db import load_device

    assert nvlink_domain(load_device("h100-sxm"))[0] == 8  # the catalog's DGX-H100
    inside = predict_disaggregated("llama-3.1-70b", "h100-sxm", prefill_tp=4, decode_tp=4, **kw)
    across = predict_disaggregated("llama-3.1-70b", "h100-sxm", prefill_tp=4, decode_tp=8, **kw)
    assert inside["kv_link"] == "intra-node" and across["kv_link"] == "inter-node"
    # 400 Gb/s NIC share vs 450 GB/s NVLink: the cross-domain transfer is far slower per byte
    assert across["kv_transfer_s"] / across["kv_transfer_bytes"] > 5 * inside["kv_transfer_s"] / inside["kv_transfer_bytes"]
    sys_in = predict_disaggregated("llama-3.1-70b", system="dgx-h100", prefill_tp=4, decode_tp=4, **kw)
    assert sys_in["kv_link"] == "intra-node"  # one node: NVLink, not the NIC
    with pytest.raises(ConfigError, match="pass --system"):
        predict_disaggregated("llama-3.1-70b", "gaudi2", prefill_tp=4, decode_tp=8, **kw)


def test_compilation_is_keyed_on_shapes_not_model_names():
    from simulator import compiled

    predict_serve("llama-3-8b", "h100-sxm", **KW, with_breakdown=True)
    before = len(compiled._MEMO)  # one entry per (function, argument structure and shapes)
    predict_serve("llama-3.1-8b", "h100-sxm", **KW, with_breakdown=True)  # same structure, other name
    assert len(compiled._MEMO) == before


def test_check_serve_is_the_new_name():
    assert validate_serve is check_serve


def test_cli_engine_option():
    import json

    import typer
    from typer.testing import CliRunner

    from cli.predict import predict_app
    from hardware_db.errors import SimlabError

    app = typer.Typer()
    app.add_typer(predict_app, name="predict")
    args = ["predict", "serve", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--batch", "8", "--json"]
    res = CliRunner().invoke(app, [*args, "--engine", "vllm-v0.5"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    assert r["engine"] == "vllm-v0.5" and r["engine_decode_s"] > 4e-3
    res = CliRunner().invoke(app, [*args, "--engine", "trt"])
    assert isinstance(res.exception, SimlabError) and "allowed: none, vllm" in str(res.exception)
    assert "--engine" in CliRunner().invoke(app, ["predict", "serve", "--help"]).output
