"""Validate catalog TOML tables and build ``Device`` / ``System`` objects.

Every error is one line naming the file and the field and what is allowed. A number is written
either inline with its source, ``tdp_w = { value = 700, source = "..." }``, or as a table with a
``source`` key (memory tiers, links, efficiency). A field left empty on purpose goes into
``[unset]`` with the reason. The schema is documented in docs/hardware.md.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

from hardware_db.errors import HardwareError
from hardware_db.schema import (
    CLASS_FIELDS,
    DTYPES,
    EFFICIENCY_CLASSES,
    KINDS,
    LINK_TOPOLOGIES,
    LOWP_GEMM_DTYPES,
    TIER_NAMES,
    Device,
    Efficiency,
    Link,
    MemoryTier,
    value_range,
)

DEVICE_KEYS = {
    "name",
    "aliases",
    "vendor",
    "kind",
    "notes",
    "main_memory",
    "peak_flops_per_s",
    "memory",
    "l2_bytes",
    "tdp_w",
    "idle_w",
    "price_per_hour_usd",
    "intra_node_link",
    "efficiency",
    "unset",
}
DEVICE_UNSETTABLE = set(DTYPES) | {"l2_bytes", "idle_w", "price_per_hour_usd", "intra_node_link"}
SYSTEM_KEYS = {
    "name",
    "aliases",
    "device",
    "devices_per_node",
    "nodes",
    "topology",
    "notes",
    "intra_node_link",
    "inter_node_link",
    "unset",
    "sites",
}
SITES_KEYS = {"count", "source", "wan_link"}
SYSTEM_UNSETTABLE = {"intra_node_link", "inter_node_link"}
TIER_KEYS = {"name", "capacity_bytes", "bandwidth_bytes_per_s", "source"}
LINK_KEYS = {"name", "bandwidth_bytes_per_s", "latency_s", "source", "topology", "links_per_device", "nvls_efficiency",
             "efficiency", "nvls_latency_s"}
EFF_KEYS = {
    "compute",
    "memory",
    "link",
    "compute_half_flop",
    "memory_half_bytes",
    "kernel_overhead_s",
    "source",
    "classes",
    "lowp_gemm",
}


def decode_text(raw: bytes, where: str, error: type[Exception] = HardwareError) -> str:
    """UTF-8 text of a file's bytes: a UTF-8 byte-order mark is dropped; UTF-16/32 or any byte that is
    not UTF-8 raises ``error`` (one line naming the file, the offset and the line). Shared by every
    reader of user text files (device/system/model TOML, sweep specs)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise error(f"{where}: file is UTF-16 (or UTF-32) encoded; allowed: UTF-8 text (save it as UTF-8)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise error(f"{where}: not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start}, line {line}); "
                    "allowed: UTF-8 text (save the file as UTF-8)") from None


def read_toml(path: Path) -> dict[str, Any]:
    """Parse ``path`` (UTF-8, a byte-order mark allowed); a syntax or encoding error becomes one
    line with the file and line number."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as err:
        raise HardwareError(f"{path}: cannot read file: {err.strerror}") from None
    try:
        return tomllib.loads(decode_text(raw, str(path)))
    except tomllib.TOMLDecodeError as err:
        raise HardwareError(f"{path}: malformed TOML: {err}") from None


class _Ctx:
    """Where we are (file) so that every message names it."""

    def __init__(self, path: Path):
        self.path = str(path)

    def fail(self, field: str, message: str) -> HardwareError:
        return HardwareError(f"{self.path}: field '{field}': {message}")

    def keys(self, table: Any, allowed: set[str], where: str) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise self.fail(where, f"expected a table, got {type(table).__name__}")
        extra = sorted(set(table) - allowed)
        if extra:
            prefix = f"{where}." if where else ""
            raise self.fail(f"{prefix}{extra[0]}", f"unknown field; allowed: {', '.join(sorted(allowed))}")
        return table

    def text(self, table: dict, key: str, where: str, required: bool = True) -> str:
        value = table.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "missing or empty; allowed: a non-empty string")
        return value.strip()

    def number(self, value: Any, where: str, positive: bool = True) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(where, f"{value!r} is not a finite number")
        if positive and value <= 0:
            raise self.fail(where, f"{value!r} must be > 0")
        if not positive and value < 0:
            raise self.fail(where, f"{value!r} must be >= 0")
        bounds = value_range(where)
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            raise self.fail(where, f"{value!r} is outside the physical range; allowed: a number in "
                                   f"[{bounds[0]:g}, {bounds[1]:g}] (hardware_db.schema.VALUE_RANGES)")
        return float(value)

    def sourced(self, value: Any, where: str, positive: bool = True) -> tuple[float, str]:
        """``{ value = x, source = "..." }`` -> (x, source)."""
        if not isinstance(value, dict):
            raise self.fail(where, 'expected { value = <number>, source = "<where it comes from>" }')
        self.keys(value, {"value", "source"}, where)
        if "source" not in value:
            raise self.fail(f"{where}.source", "missing source; every number must name its source")
        source = self.text(value, "source", f"{where}.source")
        return self.number(value.get("value"), f"{where}.value", positive), source

    def unset(self, table: dict, allowed: set[str]) -> dict[str, str]:
        raw = table.get("unset", {})
        self.keys(raw, allowed, "unset")
        return {k: self.text(raw, k, f"unset.{k}") for k in raw}

    def link(self, table: Any, where: str) -> Link:
        self.keys(table, LINK_KEYS, where)
        if "source" not in table:
            raise self.fail(f"{where}.source", "missing source; every number must name its source")
        return Link(
            name=self.text(table, "name", f"{where}.name"),
            bandwidth_bytes_per_s=self.number(
                table.get("bandwidth_bytes_per_s"), f"{where}.bandwidth_bytes_per_s"
            ),
            latency_s=self.number(table.get("latency_s"), f"{where}.latency_s", positive=False),
            source=self.text(table, "source", f"{where}.source"),
            **self.link_fabric(table, where),
        )

    def link_fabric(self, table: dict, where: str) -> dict[str, Any]:
        """Optional ``topology`` / ``links_per_device`` / ``nvls_efficiency`` / ``efficiency`` /
        ``nvls_latency_s`` of a link (defaults: switch, 1, 0 = no NVLink SHARP, 0 = the device's link
        efficiency, 0 = NCCL's NVLS latency); their source
        goes into the link's ``source`` text."""
        out: dict[str, Any] = {}
        if "topology" in table:
            topo = table["topology"]
            if topo not in LINK_TOPOLOGIES:
                raise self.fail(f"{where}.topology", f"{topo!r}; allowed: {', '.join(LINK_TOPOLOGIES)}")
            out["topology"] = topo
        if "links_per_device" in table:
            count = table["links_per_device"]
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise self.fail(f"{where}.links_per_device", f"{count!r}; allowed: an integer >= 1")
            out["links_per_device"] = count
        if "nvls_efficiency" in table:
            eff = self.number(table["nvls_efficiency"], f"{where}.nvls_efficiency", positive=False)
            if eff > 1.0:
                raise self.fail(f"{where}.nvls_efficiency", f"{eff!r}; allowed: 0 (no NVLink SHARP) or a number in (0, 1]")
            out["nvls_efficiency"] = eff
        if "efficiency" in table:
            eff = self.number(table["efficiency"], f"{where}.efficiency", positive=True)
            if eff > 1.0:
                raise self.fail(f"{where}.efficiency", f"{eff!r}; allowed: a number in (0, 1]")
            out["efficiency"] = eff
        if "nvls_latency_s" in table:
            lat = self.number(table["nvls_latency_s"], f"{where}.nvls_latency_s", positive=True)
            if lat > 1e-3:
                raise self.fail(f"{where}.nvls_latency_s", f"{lat!r}; allowed: seconds in (0, 1e-3]")
            out["nvls_latency_s"] = lat
        return out

    def names(self, table: dict) -> tuple[str, tuple[str, ...]]:
        name = self.text(table, "name", "name")
        aliases = table.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            raise self.fail("aliases", "allowed: a list of non-empty strings")
        return name, tuple(a.strip() for a in aliases)


def _memory(ctx: _Ctx, raw: Any) -> tuple[tuple[MemoryTier, ...], dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise ctx.fail("memory", "missing; allowed: one or more [[memory]] tables, fastest first")
    tiers, sources = [], {}
    for i, table in enumerate(raw):
        where = f"memory[{i}]"
        ctx.keys(table, TIER_KEYS, where)
        name = ctx.text(table, "name", f"{where}.name")
        if name not in TIER_NAMES:
            raise ctx.fail(f"{where}.name", f"'{name}' is not a tier name; allowed: {', '.join(TIER_NAMES)}")
        if "source" not in table:
            raise ctx.fail(f"{where}.source", "missing source; every number must name its source")
        tier = MemoryTier(
            name=name,
            capacity_bytes=ctx.number(table.get("capacity_bytes"), f"{where}.capacity_bytes"),
            bandwidth_bytes_per_s=ctx.number(
                table.get("bandwidth_bytes_per_s"), f"{where}.bandwidth_bytes_per_s"
            ),
            source=ctx.text(table, "source", f"{where}.source"),
        )
        if any(t.name == name for t in tiers):
            raise ctx.fail(f"{where}.name", f"tier '{name}' appears twice; allowed: each tier once")
        tiers.append(tier)
        sources[f"memory.{name}"] = tier.source
    return tuple(tiers), sources


def _efficiency(ctx: _Ctx, raw: Any) -> Efficiency:
    ctx.keys(raw, EFF_KEYS, "efficiency")
    values = {}
    for key in ("compute", "memory", "link"):
        value = ctx.number(raw.get(key), f"efficiency.{key}")
        if value > 1.0:
            raise ctx.fail(f"efficiency.{key}", f"{value!r} is outside (0, 1]")
        values[key] = value
    for key in ("compute_half_flop", "memory_half_bytes", "kernel_overhead_s"):
        values[key] = ctx.number(raw.get(key), f"efficiency.{key}", positive=False)
    if "source" not in raw:
        raise ctx.fail("efficiency.source", "missing source; say where the defaults come from")
    classes: dict[str, dict[str, float]] = {}
    raw_classes = raw.get("classes", {})
    ctx.keys(raw_classes, set(EFFICIENCY_CLASSES), "efficiency.classes")
    for cls, table in raw_classes.items():  # [efficiency.classes.elementwise] memory = 0.45
        where = f"efficiency.classes.{cls}"
        ctx.keys(table, set(CLASS_FIELDS[cls]), where)
        classes[cls] = {}
        for key, value in table.items():
            number = ctx.number(value, f"{where}.{key}", positive=key in ("compute", "memory", "link"))
            if key in ("compute", "memory", "link") and number > 1.0:
                raise ctx.fail(f"{where}.{key}", f"{number!r} is outside (0, 1]")
            classes[cls][key] = number
    lowp = raw.get("lowp_gemm", {})  # [efficiency.lowp_gemm] fp8 = 0.88, source = "..."
    if not isinstance(lowp, dict):
        raise ctx.fail("efficiency.lowp_gemm", f"{lowp!r} is not a table; allowed: [efficiency.lowp_gemm] with "
                       "fp8/fp4/int8/int4 = ratio and source")
    lowp = dict(lowp)
    lowp_source = lowp.pop("source", "")
    ctx.keys(lowp, set(LOWP_GEMM_DTYPES), "efficiency.lowp_gemm")
    for dt, value in lowp.items():
        lowp[dt] = ctx.number(value, f"efficiency.lowp_gemm.{dt}")
        if lowp[dt] > 2.0:
            raise ctx.fail(f"efficiency.lowp_gemm.{dt}", f"{lowp[dt]!r} is outside (0, 2] (the dtype's GEMM "
                           "efficiency over the compute dtype's)")
    if lowp and not str(lowp_source).strip():
        raise ctx.fail("efficiency.lowp_gemm.source", "missing source; say where the ratios come from")
    return Efficiency(source=ctx.text(raw, "source", "efficiency.source"), classes=classes, lowp_gemm=lowp,
                      lowp_source=str(lowp_source), **values)


def _optional(ctx: _Ctx, table: dict, key: str, unset: dict, sources: dict) -> float | None:
    if key in table:
        if key in unset:
            raise ctx.fail(key, "both set and listed in [unset]; allowed: one of the two")
        value, sources[key] = ctx.sourced(table[key], key)
        return value
    return None


def device_from_table(table: dict[str, Any], path: Path) -> Device:
    """Validate one device table (already parsed TOML) and build the Device."""
    ctx = _Ctx(path)
    ctx.keys(table, DEVICE_KEYS, "")
    name, aliases = ctx.names(table)
    kind = ctx.text(table, "kind", "kind")
    if kind not in KINDS:
        raise ctx.fail("kind", f"'{kind}' is not allowed; allowed: {', '.join(KINDS)}")
    unset = ctx.unset(table, DEVICE_UNSETTABLE)
    sources: dict[str, str] = {}

    peaks_raw = table.get("peak_flops_per_s", {})
    ctx.keys(peaks_raw, set(DTYPES), "peak_flops_per_s")
    peaks: dict[str, float] = {}
    for dtype in DTYPES:  # canonical order
        if dtype in peaks_raw:
            if dtype in unset:
                raise ctx.fail(f"peak_flops_per_s.{dtype}", "both set and listed in [unset]")
            where = f"peak_flops_per_s.{dtype}"
            peaks[dtype], sources[where] = ctx.sourced(peaks_raw[dtype], where)

    tiers, tier_sources = _memory(ctx, table.get("memory"))
    sources.update(tier_sources)
    default_main = next((t.name for t in tiers if t.name != "sram"), tiers[0].name)
    main = table.get("main_memory", default_main)
    if main not in {t.name for t in tiers}:
        raise ctx.fail("main_memory", f"'{main}' is not one of the tiers: {', '.join(t.name for t in tiers)}")

    if "tdp_w" not in table:
        raise ctx.fail("tdp_w", 'missing; allowed: { value = <watts>, source = "..." }')
    tdp, sources["tdp_w"] = ctx.sourced(table["tdp_w"], "tdp_w")
    link = None
    if "intra_node_link" in table:
        link = ctx.link(table["intra_node_link"], "intra_node_link")
        sources["intra_node_link"] = link.source
    if "efficiency" not in table:
        raise ctx.fail("efficiency", "missing; allowed: an [efficiency] table with a source")
    eff = _efficiency(ctx, table["efficiency"])
    sources["efficiency"] = eff.source
    return Device(
        name=name,
        aliases=aliases,
        vendor=ctx.text(table, "vendor", "vendor"),
        kind=kind,
        peak_flops_per_s=peaks,
        memory_tiers=tiers,
        main_memory=main,
        l2_bytes=_optional(ctx, table, "l2_bytes", unset, sources),
        tdp_w=tdp,
        idle_w=_optional(ctx, table, "idle_w", unset, sources),
        intra_node_link=link,
        price_per_hour_usd=_optional(ctx, table, "price_per_hour_usd", unset, sources),
        efficiency=eff,
        sources=sources,
        notes=ctx.text(table, "notes", "notes", required=False),
        path=str(path),
        unset=unset,
    )


def system_fields(table: dict[str, Any], path: Path) -> dict[str, Any]:
    """Validate one system table; returns System keyword arguments except ``device``.

    The ``device`` entry is returned as the name string for the loader to resolve.
    """
    ctx = _Ctx(path)
    ctx.keys(table, SYSTEM_KEYS, "")
    name, aliases = ctx.names(table)
    unset = ctx.unset(table, SYSTEM_UNSETTABLE)
    sources: dict[str, str] = {}
    if "devices_per_node" not in table:
        raise ctx.fail("devices_per_node", 'missing; allowed: { value = <int>, source = "..." }')
    per, sources["devices_per_node"] = ctx.sourced(table["devices_per_node"], "devices_per_node")
    if per != int(per):
        raise ctx.fail("devices_per_node.value", f"{per!r} is not an integer")
    nodes = table.get("nodes", 1)
    if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
        raise ctx.fail("nodes", f"{nodes!r}; allowed: an integer >= 1")
    ctx.number(nodes, "nodes")
    ctx.number(per, "devices_per_node.value")
    links: dict[str, Link | None] = {}
    for key in ("intra_node_link", "inter_node_link"):
        if key in table:
            if key in unset:
                raise ctx.fail(key, "both set and listed in [unset]")
            links[key] = ctx.link(table[key], key)
            sources[key] = links[key].source
        elif key in unset:
            links[key] = None
        else:
            links[key] = "device" if key == "intra_node_link" else None
            if key == "inter_node_link":
                raise ctx.fail(key, "missing; allowed: an [inter_node_link] table or a reason in [unset]")
    sites, wan = 1, None
    if "sites" in table:  # [sites] count = 2, source = "...", [sites.wan_link] (a link table)
        raw = table["sites"]
        if not isinstance(raw, dict):
            raise ctx.fail("sites", f"{raw!r} is not a table; allowed: [sites] with count, source and [sites.wan_link]")
        ctx.keys(raw, SITES_KEYS, "sites")
        sites = raw.get("count")
        if isinstance(sites, bool) or not isinstance(sites, int) or sites < 2:
            raise ctx.fail("sites.count", f"{sites!r}; allowed: an integer >= 2 (sites joined by the WAN)")
        ctx.text(raw, "source", "sites.source")
        if "wan_link" not in raw:
            raise ctx.fail("sites.wan_link", "missing; allowed: a [sites.wan_link] table (bandwidth per site per "
                           "direction, latency, source)")
        wan = ctx.link(raw["wan_link"], "sites.wan_link")
        sources["sites"] = str(raw["source"])
    return dict(
        name=name,
        aliases=aliases,
        device=ctx.text(table, "device", "device"),
        devices_per_node=int(per),
        nodes=nodes,
        intra_node_link=links["intra_node_link"],
        inter_node_link=links["inter_node_link"],
        topology=ctx.text(table, "topology", "topology"),
        sources=sources,
        notes=ctx.text(table, "notes", "notes", required=False),
        path=str(path),
        unset=unset,
        sites=sites,
        wan_link=wan,
    )
