"""Prefill/decode disaggregation: separate device pools joined by a KV-cache transfer (JAX core).

Splitwise (Patel et al. 2024) and DistServe (Zhong et al. 2024) run prefill and decode on separate
pools. With a prefill pool of ``dp_p`` replicas of ``tp_p`` devices and a decode pool of ``dp_d``
replicas of ``tp_d`` devices, both serving batches of ``B`` requests of ``L`` prompt and ``O``
output tokens:

- KV transfer of a batch: ``S = B L kv_bytes_per_token`` (all layers, unsharded), sent by the
  ``min(tp_p, tp_d)`` device pairs in parallel over the inter-node link (the intra-node link when
  the system has no inter-node link): ``t_kv = alpha + S / min(tp_p, tp_d) / (B_link e_link)``
- ``TTFT = TTFT_prefill_pool + t_kv``; TPOT is the decode pool's (its memory holds the whole KV)
- request rates: prefill ``r_p = dp_p B / TTFT_p``, decode ``r_d = dp_d B / (O tpot_avg_d)``;
  output tokens/s ``= O min(r_p, r_d)``, total tokens/s ``= (L + O) min(r_p, r_d)``
- ``fits`` when both pools fit; ``devices = tp_p dp_p + tp_d dp_d``.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from simulator import ops as O
from simulator.collectives import send_recv_time_s
from simulator.hw import HwSpec
from simulator.serving import ServeConfig, serve_core


def disaggregated_core(model, hw: HwSpec, prec: O.Precision, cfg_prefill: ServeConfig, cfg_decode: ServeConfig):
    """Metrics of a disaggregated deployment (pure ``jax.numpy``; vmap for batches). See module doc."""
    pre = serve_core(model, hw, prec, dataclasses.replace(cfg_prefill, output_len=jnp.ones_like(cfg_prefill.output_len)))
    dec = serve_core(model, hw, prec, cfg_decode)
    b, L, out_len = cfg_decode.batch, cfg_decode.input_len, cfg_decode.output_len
    kv_total = b * L * O.kv_cache_bytes_per_token(model, prec, 1.0, 1.0)
    pairs = jnp.minimum(cfg_prefill.tp, cfg_decode.tp)
    use_inter = hw.inter_bytes_per_s > 0
    bw = jnp.where(use_inter, hw.inter_bytes_per_s, hw.intra_bytes_per_s)
    lat = jnp.where(use_inter, hw.inter_latency_s, hw.intra_latency_s)
    t_kv = send_recv_time_s(kv_total / pairs, bw, lat, hw.link_eff)
    ttft = pre["ttft_s"] + t_kv
    r_p = cfg_prefill.dp * cfg_prefill.batch / pre["ttft_s"]
    r_d = cfg_decode.dp * b / (out_len * dec["tpot_avg_s"])
    rate = jnp.minimum(r_p, r_d)
    devices = cfg_prefill.tp * cfg_prefill.pp * cfg_prefill.dp + cfg_decode.tp * cfg_decode.pp * cfg_decode.dp
    out_tps = out_len * rate
    return {
        "ttft_s": ttft,
        "kv_transfer_s": t_kv,
        "kv_transfer_bytes": kv_total,
        "tpot_s": dec["tpot_s"],
        "tpot_avg_s": dec["tpot_avg_s"],
        "e2e_latency_s": ttft + (out_len - 1.0) * dec["tpot_avg_s"],
        "prefill_requests_per_s": r_p,
        "decode_requests_per_s": r_d,
        "output_tokens_per_s": out_tps,
        "total_tokens_per_s": (L + out_len) * rate,
        "output_tokens_per_s_per_device": out_tps / devices,
        "prefill_memory_bytes": pre["memory_bytes"],
        "decode_memory_bytes": dec["memory_bytes"],
        "fits": pre["fits"] & dec["fits"],
        "shortfall_bytes": jnp.maximum(pre["shortfall_bytes"], dec["shortfall_bytes"]),
        "devices": devices,
    }


def predict_disaggregated(model, hardware=None, *, system=None, batch=1, input_len=1024, output_len=128,
                          prefill_tp=1, prefill_dp=1, decode_tp=1, decode_dp=1, weight_dtype=None,
                          act_dtype=None, kv_dtype=None, block_size=16) -> dict:
    """Validated front end of :func:`disaggregated_core` for one configuration (names or objects)."""
    import numpy as np

    from simulator.hw import build_hw
    from simulator.serving import resolve_dtypes, resolve_hardware, resolve_model, validate_serve

    spec = resolve_model(model)
    hwobj = resolve_hardware(hardware, system)
    common = dict(batch=batch, input_len=input_len, output_len=output_len, block_size=block_size)
    _, cfg_p = validate_serve(spec, hwobj, tp=prefill_tp, dp=prefill_dp, **common)
    hw_used, cfg_d = validate_serve(spec, hwobj, tp=decode_tp, dp=decode_dp, **common)
    compute_dtype, prec = resolve_dtypes(hwobj, weight_dtype, act_dtype, kv_dtype)
    hws = build_hw(hwobj, compute_dtype)
    res = disaggregated_core(spec, hws, prec, ServeConfig.make(**cfg_p), ServeConfig.make(**cfg_d))
    out = {"model": spec.name, "hardware": getattr(hwobj, "name", "?"), "compute_dtype": compute_dtype,
           "prefill_tp": cfg_p["tp"], "prefill_dp": cfg_p["dp"], "decode_tp": cfg_d["tp"],
           "decode_dp": cfg_d["dp"], **common}
    for k, v in res.items():
        v = np.asarray(v)
        out[k] = bool(v) if v.dtype == bool else float(v)
    return out


__all__ = ["disaggregated_core", "predict_disaggregated"]
