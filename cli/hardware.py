"""``simlab hardware``: list and show the hardware catalog (devices and systems).

Tables are for people (SI prefixes); ``--json`` prints SI units with unit-suffixed keys.
A NAME_OR_PATH is a catalog name or alias (case-insensitive) or a path to your own TOML file,
validated exactly like the catalog (see docs/hardware.md).
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli.render import format_si, print_json, print_table
from hardware_db import HardwareError, list_devices, list_systems, load_device, load_system
from hardware_db.catalog import normalize, suggestions
from hardware_db.export import device_to_dict, system_to_dict
from hardware_db.parse import read_toml

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="The hardware catalog: devices and systems."
)


def _canonical(short: str, kind: str) -> str:
    """The catalog name (as `simlab hardware list` prints it) of a name or alias."""
    from hardware_db.catalog import _index

    hit = _index(kind).get(normalize(short))
    return hit[1] if hit else short


def _load_any(name_or_path: str):
    """A Device or System: a path is judged by its content (a ``device`` key means a system)."""
    text = name_or_path.strip()
    if "/" in text or "\\" in text or text.lower().endswith(".toml"):
        path = Path(text).expanduser()
        if path.is_file() and "device" in read_toml(path):
            return load_system(text)
        return load_device(text)
    names = {normalize(n) for n in (*list_devices(), *list_systems())}
    try:
        return load_device(text)
    except HardwareError as dev_err:
        try:
            return load_system(text)
        except HardwareError as sys_err:
            if normalize(text) in names or "unknown" not in str(dev_err) or "unknown" not in str(sys_err):
                raise  # a real validation error in a catalog file
            close = sorted(
                [(score, f"{_canonical(name, 'devices')} (device)") for score, name in suggestions(text, "devices")]
                + [(score, f"{_canonical(name, 'systems')} (system)") for score, name in suggestions(text, "systems")],
                key=lambda item: -item[0],
            )[:4]
            hint = f"; did you mean: {', '.join(name for _, name in close)}?" if close else ""
            raise HardwareError(
                f"unknown device or system '{text}'{hint} (simlab hardware list shows all)"
            ) from None


@app.command("list")
def list_cmd(
    json: bool = typer.Option(False, "--json", help="Print JSON (SI units) instead of tables."),
) -> None:
    """List every catalog device and system."""
    devices = [load_device(n) for n in list_devices()]
    systems = [load_system(n) for n in list_systems()]
    if json:
        print_json(
            {
                "devices": [
                    {
                        "name": d.name,
                        "vendor": d.vendor,
                        "kind": d.kind,
                        "bf16_flops_per_s": d.peak_flops_per_s.get("bf16"),
                        "memory_capacity_bytes": d.memory.capacity_bytes,
                        "memory_bandwidth_bytes_per_s": d.memory.bandwidth_bytes_per_s,
                        "tdp_w": d.tdp_w,
                        "path": d.path,
                    }
                    for d in devices
                ],
                "systems": [
                    {
                        "name": s.name,
                        "device": s.device.name,
                        "devices_per_node": s.devices_per_node,
                        "nodes": s.nodes,
                        "intra_node_bytes_per_s": s.intra_node_link.bandwidth_bytes_per_s
                        if s.intra_node_link
                        else None,
                        "inter_node_bytes_per_s": s.inter_node_link.bandwidth_bytes_per_s
                        if s.inter_node_link
                        else None,
                        "path": s.path,
                    }
                    for s in systems
                ],
            }
        )
        return
    print_table(
        "Devices (dense peaks; main memory tier)",
        ["name", "vendor", "kind", "bf16 peak", "memory", "bandwidth", "TDP"],
        [
            [
                d.name,
                d.vendor,
                d.kind,
                format_si(d.peak_flops_per_s.get("bf16"), "FLOP/s"),
                f"{format_si(d.memory.capacity_bytes, 'B')} {d.memory.name}",
                format_si(d.memory.bandwidth_bytes_per_s, "B/s"),
                format_si(d.tdp_w, "W"),
            ]
            for d in devices
        ],
    )
    print_table(
        "Systems (link bandwidth per device, per direction)",
        ["name", "device", "devices/node", "intra-node", "inter-node"],
        [
            [
                s.name,
                s.device.name,
                s.devices_per_node,
                format_si(s.intra_node_link.bandwidth_bytes_per_s, "B/s") if s.intra_node_link else "-",
                format_si(s.inter_node_link.bandwidth_bytes_per_s, "B/s") if s.inter_node_link else "-",
            ]
            for s in systems
        ],
    )


@app.command("show")
def show_cmd(
    name_or_path: str = typer.Argument(..., help="Device or system name/alias, or a path to a TOML file."),
    json: bool = typer.Option(False, "--json", help="Print JSON (SI units) instead of tables."),
) -> None:
    """Show every field of a device or system with its source."""
    item = _load_any(name_or_path)
    data = device_to_dict(item) if not hasattr(item, "devices_per_node") else system_to_dict(item)
    if json:
        print_json(data)
        return
    if hasattr(item, "devices_per_node"):
        _show_system(item)
        _show_device(item.device)
    else:
        _show_device(item)


def _show_device(d) -> None:
    rows = [["vendor / kind", f"{d.vendor} / {d.kind}", ""], ["aliases", ", ".join(d.aliases), ""]]
    for dt, value in d.peak_flops_per_s.items():
        rows.append([f"peak {dt}", format_si(value, "FLOP/s"), d.sources.get(f"peak_flops_per_s.{dt}", "")])
    for t in d.memory_tiers:
        main = " (main)" if t.name == d.main_memory else ""
        rows.append(
            [
                f"memory {t.name}{main}",
                f"{format_si(t.capacity_bytes, 'B')}, {format_si(t.bandwidth_bytes_per_s, 'B/s')}",
                t.source,
            ]
        )
    for key, unit in (("l2_bytes", "B"), ("tdp_w", "W"), ("idle_w", "W"), ("price_per_hour_usd", "USD/h")):
        value = getattr(d, key)
        if value is not None:
            rows.append([key, format_si(value, unit), d.sources.get(key, "")])
    if d.intra_node_link is not None:
        link = d.intra_node_link
        rows.append(
            [
                f"intra-node link {link.name}",
                f"{format_si(link.bandwidth_bytes_per_s, 'B/s')}/dir, {format_si(link.latency_s, 's')}",
                link.source,
            ]
        )
    e = d.efficiency
    rows.append(
        [
            "efficiency",
            f"compute {e.compute:g}, memory {e.memory:g}, link {e.link:g}, half {format_si(e.compute_half_flop, 'FLOP')} / "
            f"{format_si(e.memory_half_bytes, 'B')}, overhead {format_si(e.kernel_overhead_s, 's')}",
            e.source,
        ]
    )
    for key, reason in d.unset.items():
        rows.append([f"{key} (unset)", "-", reason])
    if d.notes:
        rows.append(["notes", "", d.notes])
    rows.append(["file", "", d.path])
    print_table(f"Device {d.name}", ["field", "value", "source"], rows)


def _show_system(s) -> None:
    rows = [
        ["device", s.device.name, ""],
        [
            "devices per node x nodes",
            f"{s.devices_per_node} x {s.nodes} = {s.num_devices}",
            s.sources.get("devices_per_node", ""),
        ],
        ["topology", s.topology, ""],
    ]
    for key in ("intra_node_link", "inter_node_link"):
        link = getattr(s, key)
        if link is None:
            rows.append([key, "-", s.unset.get(key, "")])
        else:
            rows.append(
                [
                    f"{key} {link.name}",
                    f"{format_si(link.bandwidth_bytes_per_s, 'B/s')}/dir, {format_si(link.latency_s, 's')}",
                    link.source,
                ]
            )
    if s.notes:
        rows.append(["notes", "", s.notes])
    rows.append(["file", "", s.path])
    print_table(f"System {s.name}", ["field", "value", "source"], rows)
