"""Plain-dict views of devices and systems (SI units, unit-suffixed keys), for JSON output."""

from __future__ import annotations

from typing import Any

from hardware_db.schema import Device, Link, System


def _sourced(value: float | None, source: str | None, unset: str | None = None) -> dict[str, Any] | None:
    if value is None:
        return {"value": None, "unset_reason": unset} if unset else None
    return {"value": value, "source": source}


def link_to_dict(link: Link | None) -> dict[str, Any] | None:
    """``Link`` -> dict with ``bandwidth_bytes_per_s`` (per direction; per link for full_mesh/torus),
    ``latency_s``, ``topology``, ``links_per_device``, ``nvls_efficiency``, ``efficiency``,
    ``nvls_latency_s``, ``source``."""
    if link is None:
        return None
    return {
        "name": link.name,
        "bandwidth_bytes_per_s": link.bandwidth_bytes_per_s,
        "latency_s": link.latency_s,
        "topology": link.topology,
        "links_per_device": link.links_per_device,
        "nvls_efficiency": link.nvls_efficiency,
        "efficiency": link.efficiency,
        "nvls_latency_s": link.nvls_latency_s,
        "source": link.source,
    }


def device_to_dict(dev: Device) -> dict[str, Any]:
    """Every field of ``dev`` with its source (or the reason it is unset)."""
    src = dev.sources
    return {
        "name": dev.name,
        "aliases": list(dev.aliases),
        "vendor": dev.vendor,
        "kind": dev.kind,
        "peak_flops_per_s": {
            dt: {"value": v, "source": src.get(f"peak_flops_per_s.{dt}")}
            for dt, v in dev.peak_flops_per_s.items()
        },
        "memory_tiers": [
            {
                "name": t.name,
                "capacity_bytes": t.capacity_bytes,
                "bandwidth_bytes_per_s": t.bandwidth_bytes_per_s,
                "source": t.source,
            }
            for t in dev.memory_tiers
        ],
        "main_memory": dev.main_memory,
        "l2_bytes": _sourced(dev.l2_bytes, src.get("l2_bytes"), dev.unset.get("l2_bytes")),
        "tdp_w": _sourced(dev.tdp_w, src.get("tdp_w")),
        "idle_w": _sourced(dev.idle_w, src.get("idle_w"), dev.unset.get("idle_w")),
        "price_per_hour_usd": _sourced(
            dev.price_per_hour_usd, src.get("price_per_hour_usd"), dev.unset.get("price_per_hour_usd")
        ),
        "intra_node_link": link_to_dict(dev.intra_node_link),
        "efficiency": {
            "compute": dev.efficiency.compute,
            "memory": dev.efficiency.memory,
            "link": dev.efficiency.link,
            "compute_half_flop": dev.efficiency.compute_half_flop,
            "memory_half_bytes": dev.efficiency.memory_half_bytes,
            "kernel_overhead_s": dev.efficiency.kernel_overhead_s,
            "source": dev.efficiency.source,
            **({"classes": {k: dict(v) for k, v in dev.efficiency.classes.items()}}
               if dev.efficiency.classes else {}),
            **({"lowp_gemm": {**dev.efficiency.lowp_gemm, "source": dev.efficiency.lowp_source}}
               if dev.efficiency.lowp_gemm else {}),
        },
        "unset": dict(dev.unset),
        "notes": dev.notes,
        "path": dev.path,
    }


def system_to_dict(sys: System) -> dict[str, Any]:
    """Every field of ``sys`` (its device nested in full) with sources."""
    return {
        "name": sys.name,
        "aliases": list(sys.aliases),
        "devices_per_node": sys.devices_per_node,
        "nodes": sys.nodes,
        "num_devices": sys.num_devices,
        "topology": sys.topology,
        "intra_node_link": link_to_dict(sys.intra_node_link),
        "inter_node_link": link_to_dict(sys.inter_node_link),
        **({"sites": sys.sites, "wan_link": link_to_dict(sys.wan_link)} if sys.wan_link is not None else {}),
        "sources": dict(sys.sources),
        "unset": dict(sys.unset),
        "notes": sys.notes,
        "path": sys.path,
        "device": device_to_dict(sys.device),
    }
