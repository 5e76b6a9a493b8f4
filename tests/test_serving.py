"""Serving simulator (simulator/serving.py): closed-form checks, memory, features, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hardware_db import HardwareError, SimlabError, load_device
from simulator import ops as O
from simulator.disaggregation import predict_disaggregated
from simulator.dtypes import DtypeError
from simulator.errors import ConfigError, ModelError
from simulator.hw import build_hw
from simulator.serving import ServeConfig, breakdown, predict_serve, serve_core
from simulator.speculative import expected_tokens_per_step


def test_batch1_decode_is_memory_bound_at_weight_bytes_over_bandwidth():
    dev = load_device("h100-sxm")
    r = predict_serve("llama-3-8b", "h100-sxm", batch=1, input_len=128, output_len=64, with_breakdown=True)
    floor = r["weights_bytes"] / (dev.memory.bandwidth_bytes_per_s * dev.efficiency.memory)
    # weights dominate; KV, norms and per-kernel launch overheads add a little
    assert floor <= r["tpot_s"] <= 1.25 * floor
    bounds = {o["op"]: o["bound"] for o in r["breakdown_decode"]}
    for op in ("qkv_proj", "o_proj", "mlp_up", "mlp_down", "lm_head"):
        assert bounds[op] == "memory"


def test_prefill_of_long_batch_is_compute_bound():
    r = predict_serve("llama-3-8b", "h100-sxm", batch=16, input_len=4096, output_len=1, with_breakdown=True)
    bounds = {o["op"]: o["bound"] for o in r["breakdown_prefill"]}
    assert bounds["mlp_up"] == "compute" and bounds["qkv_proj"] == "compute"
    dev = load_device("h100-sxm")
    flops = 2 * 16 * 4096 * 8.03e9
    assert r["ttft_s"] >= flops / dev.peak("bf16")


def test_does_not_fit_reports_shortfall():
    r = predict_serve("llama-3-70b", "h100-sxm", batch=8, input_len=2048, output_len=256)
    assert r["fits"] is False
    assert r["shortfall_bytes"] == pytest.approx(r["memory_bytes"] - r["capacity_bytes"])
    assert r["weights_bytes"] == pytest.approx(2 * load_model_params("llama-3-70b"), rel=1e-6)
    assert r["max_batch"] == 0


def load_model_params(name):
    from simulator.models import load_model

    return load_model(name).total_params()


def test_max_batch_is_the_largest_that_fits():
    kw = dict(tp=2, input_len=4096, output_len=512, kv_dtype="fp8")
    mb = int(predict_serve("llama-3-70b", "h100-sxm", batch=1, **kw)["max_batch"])
    assert mb > 1
    assert predict_serve("llama-3-70b", "h100-sxm", batch=mb, **kw)["fits"]
    assert not predict_serve("llama-3-70b", "h100-sxm", batch=mb + 1, **kw)["fits"]


def test_paged_kv_rounds_up_to_blocks():
    a = predict_serve("llama-3-8b", "h100-sxm", batch=4, input_len=1000, output_len=1, block_size=1)
    b = predict_serve("llama-3-8b", "h100-sxm", batch=4, input_len=1000, output_len=1, block_size=256)
    assert b["kv_cache_bytes"] == pytest.approx(a["kv_cache_bytes"] * 1024 / 1001, rel=1e-5)


def test_tensor_parallel_lowers_memory_and_latency():
    one = predict_serve("llama-3-8b", "h100-sxm", tp=1, batch=8, input_len=1024, output_len=64)
    four = predict_serve("llama-3-8b", "h100-sxm", tp=4, batch=8, input_len=1024, output_len=64)
    assert four["weights_bytes"] == pytest.approx(one["weights_bytes"] / 4, rel=0.02)
    assert four["tpot_s"] < one["tpot_s"] and four["devices"] == 4


def test_pipeline_and_multi_node_system():
    r = predict_serve("llama-3-70b", system="dgx-h100", tp=8, pp=2, batch=64, input_len=2048, output_len=128)
    assert r["devices"] == 16 and r["fits"]
    assert all(math.isfinite(r[k]) and r[k] > 0 for k in ("ttft_s", "tpot_s", "output_tokens_per_s"))


def test_weight_only_int4_and_fp8_kv_speed_up_decode():
    base = predict_serve("llama-3-70b", "h100-sxm", tp=4, batch=8, input_len=2048, output_len=128)
    q = predict_serve("llama-3-70b", "h100-sxm", tp=4, batch=8, input_len=2048, output_len=128,
                      weight_dtype="int4", kv_dtype="fp8")
    assert q["weights_bytes"] == pytest.approx(base["weights_bytes"] / 4)
    assert q["kv_cache_bytes"] == pytest.approx(base["kv_cache_bytes"] / 2)
    assert q["tpot_s"] < 0.6 * base["tpot_s"]
    assert q["compute_dtype"] == "bf16"


def test_moe_expert_parallel_layout():
    r = predict_serve("mixtral-8x7b", "h100-sxm", tp=4, ep=4, batch=32, input_len=1024, output_len=128)
    assert r["fits"] and r["tpot_s"] > 0
    with pytest.raises(ConfigError, match="dense model"):
        predict_serve("llama-3-8b", "h100-sxm", tp=2, ep=2)


def test_speculative_decoding_expected_tokens():
    assert float(expected_tokens_per_step(0.0, 4)) == pytest.approx(1.0)
    assert float(expected_tokens_per_step(1.0, 4)) == pytest.approx(5.0)
    assert float(expected_tokens_per_step(0.8, 4)) == pytest.approx((1 - 0.8**5) / 0.2)
    kw = dict(tp=4, batch=1, input_len=512, output_len=128)
    plain = predict_serve("llama-3.1-70b", "h100-sxm", **kw)
    good = predict_serve("llama-3.1-70b", "h100-sxm", draft_model="llama-3.2-1b", spec_gamma=4, spec_accept=0.9, **kw)
    bad = predict_serve("llama-3.1-70b", "h100-sxm", draft_model="llama-3.2-1b", spec_gamma=4, spec_accept=0.0, **kw)
    assert good["tpot_s"] < plain["tpot_s"] < bad["tpot_s"]
    assert good["weights_bytes"] > plain["weights_bytes"]  # draft weights are resident too


def test_chunked_prefill_mixed_iteration():
    static = predict_serve("llama-3.1-8b", "h100-sxm", batch=64, input_len=1024, output_len=256)
    chunked = predict_serve("llama-3.1-8b", "h100-sxm", batch=64, input_len=1024, output_len=256, chunk=2048)
    for k in ("ttft_s", "tpot_s", "output_tokens_per_s"):
        assert math.isfinite(chunked[k]) and chunked[k] > 0
    assert chunked["tpot_s"] > static["tpot_s"]  # decodes share iterations with prefill chunks
    assert chunked["activation_bytes"] < static["activation_bytes"]


def test_disaggregated_prefill_decode():
    r = predict_disaggregated("llama-3-70b", system="dgx-h100", batch=32, input_len=2048, output_len=256,
                              prefill_tp=8, decode_tp=8)
    assert r["kv_transfer_s"] > 0 and r["ttft_s"] > r["kv_transfer_s"]
    rate = min(r["prefill_requests_per_s"], r["decode_requests_per_s"])
    assert r["output_tokens_per_s"] == pytest.approx(256 * rate, rel=1e-5)
    assert r["devices"] == 16


def test_sn40l_weights_streamed_from_ddr_and_model_switch():
    dev = load_device("sn40l")
    ddr = dev.tier("ddr").bandwidth_bytes_per_s
    hbm = predict_serve("llama-3.1-8b", "sn40l", batch=1, input_len=256, output_len=32)
    stream = predict_serve("llama-3.1-8b", "sn40l", batch=1, input_len=256, output_len=32, weights_in="ddr")
    assert stream["model_switch_s"] == pytest.approx(stream["weights_bytes"] / ddr, rel=1e-5)
    assert stream["tpot_s"] >= stream["weights_bytes"] / ddr
    assert stream["tpot_s"] > 5 * hbm["tpot_s"]
    assert stream["memory_bytes"] < hbm["memory_bytes"]  # weights no longer occupy HBM
    with pytest.raises(ConfigError, match="slower tier"):
        predict_serve("llama-3.1-8b", "h100-sxm", weights_in="ddr")
    assert math.isnan(predict_serve("llama-3.1-8b", "h100-sxm")["model_switch_s"])


def test_mobile_decode_is_lpddr_bound():
    dev = load_device("snapdragon-8-gen-3")
    r = predict_serve("llama-3.2-1b", "snapdragon-8-gen-3", batch=1, input_len=128, output_len=64,
                      weight_dtype="int4", with_breakdown=True)
    floor = r["weights_bytes"] / dev.memory.bandwidth_bytes_per_s
    assert r["tpot_s"] >= floor
    assert {o["bound"] for o in r["breakdown_decode"] if o["op"] in ("mlp_up", "mlp_down")} == {"memory"}


@pytest.mark.parametrize(
    "kwargs, err, text",
    [
        (dict(model="llama-3-7b"), ModelError, "did you mean"),
        (dict(hardware="h100-sx"), HardwareError, "did you mean"),
        (dict(batch=0), ConfigError, "batch"),
        (dict(input_len=-5), ConfigError, "input length"),
        (dict(output_len=0), ConfigError, "output length"),
        (dict(model="llama-3-70b", tp=3), ConfigError, "does not divide"),
        (dict(hardware="a100-sxm4-80gb", act_dtype="fp8"), HardwareError, "fp8"),
        (dict(kv_dtype="fp7"), DtypeError, "fp7"),
        (dict(weight_dtype="q3_x"), DtypeError, "q3_x"),
        (dict(tp=2, hardware="apple-m2-ultra"), ConfigError, "peer link"),
        (dict(spec_gamma=2), ConfigError, "draft"),
    ],
)
def test_bad_input_one_line_errors(kwargs, err, text):
    args = dict(model="llama-3-8b", hardware="h100-sxm", batch=1, input_len=128, output_len=16)
    args.update(kwargs)
    with pytest.raises(err, match=text) as info:
        predict_serve(**args)
    assert isinstance(info.value, SimlabError)
    assert "\n" not in str(info.value)


def test_breakdown_times_add_up_to_the_step():
    m_name, dev = "llama-3-8b", load_device("h100-sxm")
    from simulator.models import load_model

    m = load_model(m_name)
    hw = build_hw(dev, "bf16")
    cfg = ServeConfig.make(batch=8, input_len=512, output_len=64)
    res = serve_core(m, hw, O.Precision(), cfg)
    rows = breakdown(m, hw, O.Precision(), cfg, "decode")
    assert sum(r["time_s"] for r in rows) == pytest.approx(float(res["tpot_s"]), rel=1e-5)
    rows_p = breakdown(m, hw, O.Precision(), cfg, "prefill")
    assert sum(r["time_s"] for r in rows_p) == pytest.approx(float(res["ttft_s"]), rel=1e-5)
    with pytest.raises(ConfigError):
        breakdown(m, hw, O.Precision(), cfg, "train")


def test_results_are_finite_for_catalog_devices():
    for dev in ("a100-sxm4-80gb", "mi300x", "tpu-v5e", "apple-m2-ultra", "b200", "gaudi2"):
        r = predict_serve("llama-3.1-8b", dev, batch=4, input_len=512, output_len=64)
        vals = np.asarray([r[k] for k in ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s")])
        assert np.all(np.isfinite(vals)) and np.all(vals > 0), dev
