"""Prefill/decode disaggregation: separate device pools joined by a KV-cache transfer (JAX core).

Splitwise (Patel et al. 2024) and DistServe (Zhong et al. 2024) run prefill and decode on separate
pools. With a prefill pool of ``dp_p`` replicas of ``tp_p`` devices and a decode pool of ``dp_d``
replicas of ``tp_d`` devices, both serving batches of ``B`` requests of ``L`` prompt and ``O``
output tokens:

- KV transfer of a batch: ``S = B L kv_bytes_per_token`` (all layers, unsharded), sent by the
  ``min(tp_p, tp_d)`` device pairs in parallel: ``t_kv = alpha + S / min(tp_p, tp_d) / (B_link e_link)``
  over the intra-node (NVLink) link when both pools fit in one NVLink domain
  (``tp_p dp_p + tp_d dp_d <= devices_per_node``), else over the inter-node link (the per-device
  share of the node's NICs, with its own efficiency ``inter_link_eff`` when set).
- NVLink domain of a bare device (no ``--system``): ``devices_per_node`` of the catalog system built
  on that device (DGX-H100 for H100-SXM5: 8), whose inter-node link then carries the KV cache
  across domains; without such a system, a full-mesh peer link (MI300X xGMI, Gaudi RoCE) joins
  ``links_per_device + 1`` devices and there is no inter-node link to use (``ConfigError``: pass
  ``--system``); a switched link with no catalog system (PCIe cards, GH200) has no known domain size,
  so the pools are taken as one node (the result says ``kv_link = intra-node (domain unknown)``).
- ``TTFT = TTFT_prefill_pool + t_kv``; TPOT is the decode pool's (its memory holds the whole KV)
- request rates: prefill ``r_p = dp_p B / TTFT_p``, decode ``r_d = dp_d B / (O tpot_avg_d)``;
  output tokens/s ``= O min(r_p, r_d)``, total tokens/s ``= (L + O) min(r_p, r_d)``
- ``fits`` when both pools fit; ``devices = tp_p dp_p + tp_d dp_d``.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from simulator import ops as O
from simulator.collectives import collective_time_s
from simulator.hw import HwSpec
from simulator.serving import ServeConfig, serve_core


def disaggregated_core(model, hw: HwSpec, prec: O.Precision, cfg_prefill: ServeConfig, cfg_decode: ServeConfig):
    """Metrics of a disaggregated deployment (pure ``jax.numpy``; vmap for batches). See module doc."""
    pre = serve_core(model, hw, prec, dataclasses.replace(cfg_prefill, output_len=jnp.ones_like(cfg_prefill.output_len)))
    dec = serve_core(model, hw, prec, cfg_decode)
    b, L, out_len = cfg_decode.batch, cfg_decode.input_len, cfg_decode.output_len
    kv_total = b * L * O.kv_cache_bytes_per_token(model, prec, 1.0, 1.0)
    pairs = jnp.minimum(cfg_prefill.tp, cfg_decode.tp)
    devices = cfg_prefill.tp * cfg_prefill.pp * cfg_prefill.dp + cfg_decode.tp * cfg_decode.pp * cfg_decode.dp
    # one NVLink domain holds both pools -> intra-node link; else the inter-node link (if there is one)
    use_inter = (devices > hw.devices_per_node) & (hw.inter_bytes_per_s > 0)
    # one send/recv per device pair: intra-node (2 ranks in a node) or across nodes (1 per node)
    t_kv = collective_time_s("send_recv", kv_total / pairs, 2.0, jnp.where(use_inter, 1.0, 2.0), hw)
    ttft = pre["ttft_s"] + t_kv
    r_p = cfg_prefill.dp * cfg_prefill.batch / pre["ttft_s"]
    r_d = cfg_decode.dp * b / (out_len * dec["tpot_avg_s"])
    rate = jnp.minimum(r_p, r_d)
    out_tps = out_len * rate
    return {
        "ttft_s": ttft,
        "kv_transfer_s": t_kv,
        "kv_transfer_bytes": kv_total,
        "kv_over_inter_node": use_inter,
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


def nvlink_domain(device):
    """``(devices, system)`` of a bare device's NVLink domain (see the module doc): the catalog system
    built on ``device`` (its ``devices_per_node`` and inter-node link), else ``links_per_device + 1``
    for a full-mesh peer link (no inter-node link known), else ``(inf, None)`` (domain unknown)."""
    import math

    from hardware_db import list_systems, load_system

    name = str(device.name).lower()
    held = [s for s in (load_system(n) for n in list_systems()) if str(s.device.name).lower() == name
            and s.inter_node_link is not None]
    if held:
        best = min(held, key=lambda s: (s.nodes, s.name))
        return float(best.devices_per_node), best
    link = device.intra_node_link
    if link is not None and link.topology == "full_mesh":
        return float(link.links_per_device + 1), None
    return math.inf, None


def predict_disaggregated(model, hardware=None, *, system=None, batch=1, input_len=1024, output_len=128,
                          prefill_tp=1, prefill_dp=1, decode_tp=1, decode_dp=1, weight_dtype=None,
                          act_dtype=None, kv_dtype=None, block_size=16, engine="none") -> dict:
    """Validated front end of :func:`disaggregated_core` for one configuration (names or objects)."""
    import math

    import numpy as np

    from hardware_db import System
    from simulator.errors import ConfigError
    from simulator.hw import build_hw
    from simulator.serving import check_serve, resolve_dtypes, resolve_hardware, resolve_model, shape_only

    spec = resolve_model(model)
    hwobj = resolve_hardware(hardware, system)
    common = dict(batch=batch, input_len=input_len, output_len=output_len, block_size=block_size)
    _, cfg_p = check_serve(spec, hwobj, tp=prefill_tp, dp=prefill_dp, engine=engine, **common)
    hw_used, cfg_d = check_serve(spec, hwobj, tp=decode_tp, dp=decode_dp, engine=engine, **common)
    compute_dtype, prec = resolve_dtypes(hwobj, weight_dtype, act_dtype, kv_dtype)
    hws = build_hw(hwobj, compute_dtype)
    total = cfg_p["tp"] * cfg_p["dp"] + cfg_d["tp"] * cfg_d["dp"]
    if isinstance(hwobj, System):
        domain, domain_note = float(hwobj.devices_per_node), f"system {hwobj.name}"
        if total > domain and hwobj.inter_node_link is None:
            raise ConfigError(f"{total} devices span more than one {int(domain)}-device node of '{hwobj.name}', "
                              "which has no inter-node link; allowed: pools of at most that many devices")
    else:
        domain, held = nvlink_domain(hwobj)
        if held is not None:
            inter = held.inter_node_link
            hws = hws.replace(devices_per_node=domain, inter_bytes_per_s=inter.bandwidth_bytes_per_s,
                              inter_latency_s=inter.latency_s, inter_link_eff=float(inter.efficiency))
            domain_note = f"catalog system {held.name}"
        elif math.isfinite(domain):
            if total > domain:
                raise ConfigError(f"{total} devices exceed the {int(domain)}-device peer mesh of '{hwobj.name}' and "
                                  "the catalog has no system with its inter-node link; allowed: pass --system or "
                                  f"at most {int(domain)} devices")
            domain_note = f"full-mesh peer link ({int(domain) - 1} links per device)"
        else:
            domain_note = "unknown (no catalog system for this device; pass --system)"
    res = disaggregated_core(shape_only(spec), hws, prec, ServeConfig.make(**cfg_p), ServeConfig.make(**cfg_d))
    cross = bool(np.asarray(res["kv_over_inter_node"]))
    out = {"model": spec.name, "hardware": getattr(hwobj, "name", "?"), "compute_dtype": compute_dtype,
           "prefill_tp": cfg_p["tp"], "prefill_dp": cfg_p["dp"], "decode_tp": cfg_d["tp"],
           "decode_dp": cfg_d["dp"], **common, "engine": str(engine).strip().lower(),
           "nvlink_domain_devices": domain, "nvlink_domain_from": domain_note,
           "kv_link": "inter-node" if cross else "intra-node"}
    for k, v in res.items():
        v = np.asarray(v)
        out[k] = bool(v) if v.dtype == bool else float(v)
    return out


__all__ = ["disaggregated_core", "predict_disaggregated"]
