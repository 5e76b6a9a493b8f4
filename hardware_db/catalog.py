"""Find and load catalog entries by name, alias or path.

Names are matched after normalisation: lower case, and spaces, underscores, dashes, dots and
slashes removed, so ``"H100 SXM5"``, ``"h100_sxm5"`` and ``"h100-sxm5"`` are the same key. A
string containing ``/`` or ending in ``.toml`` is a path to a user file, validated exactly like
the catalog. Loading is cached (``functools.lru_cache`` on the resolved file path and its
modification time, so an edited user file is re-read and repeated lookups return the same object).
"""

from __future__ import annotations

import difflib
import functools
import re
from pathlib import Path

from hardware_db.errors import HardwareError
from hardware_db.parse import device_from_table, read_toml, system_fields
from hardware_db.schema import Device, System

CATALOG_DIR = Path(__file__).resolve().parent
DEVICE_DIR = CATALOG_DIR / "devices"
SYSTEM_DIR = CATALOG_DIR / "systems"


def normalize(name: str) -> str:
    """Lookup key: lower case without spaces, underscores, dashes, dots or slashes."""
    return re.sub(r"[\s_\-./]+", "", str(name).lower())


def _is_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.lower().endswith(".toml")


@functools.cache
def _index(kind: str) -> dict[str, tuple[Path, str]]:
    """normalised name/alias -> (file, canonical name), for ``kind`` in {devices, systems}."""
    folder = DEVICE_DIR if kind == "devices" else SYSTEM_DIR
    index: dict[str, tuple[Path, str]] = {}
    for path in sorted(folder.glob("*.toml")):
        table = read_toml(path)
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise HardwareError(f"{path}: field 'name': missing or empty; allowed: a non-empty string")
        aliases = table.get("aliases", [])
        if not isinstance(aliases, list):
            raise HardwareError(f"{path}: field 'aliases': allowed: a list of non-empty strings")
        for key in [name, path.stem, *aliases]:
            norm = normalize(key)
            other = index.get(norm)
            if other is not None and other[0] != path:
                raise HardwareError(f"{path}: name or alias '{key}' is already used by {other[0].name}")
            index[norm] = (path, name)
    return index


def _resolve(name_or_path: str | Path, kind: str) -> Path:
    text = str(name_or_path).strip()
    if isinstance(name_or_path, Path) or _is_path(text):
        path = Path(text).expanduser()
        if not path.is_file():
            raise HardwareError(f"{kind[:-1]} file '{text}' does not exist")
        return path.resolve()
    index = _index(kind)
    hit = index.get(normalize(text))
    if hit is not None:
        return hit[0]
    hint = _suggest(text, kind)
    raise HardwareError(f"unknown {kind[:-1]} '{text}'{hint} (simlab hardware list shows all)")


def suggestions(name: str, kind: str, n: int = 3) -> list[tuple[float, str]]:
    """Up to ``n`` (similarity, short name) pairs of ``kind`` entries close to ``name``, best first."""
    key = normalize(name)
    best: dict[Path, tuple[float, int]] = {}
    for norm, (path, _) in _index(kind).items():
        # higher similarity first, then closer length (h1000 -> h100, h200 before h100-nvl)
        score = (difflib.SequenceMatcher(None, key, norm).ratio(), -abs(len(norm) - len(key)))
        best[path] = max(score, best.get(path, (0.0, 0)))
    ranked = sorted((p for p in best if best[p][0] >= 0.6), key=lambda p: (-best[p][0], -best[p][1], p.name))
    return [(best[p][0], _short_name(p)) for p in ranked[:n]]


def _suggest(key: str, kind: str) -> str:
    """'; did you mean: a, b?' or '' when nothing is close."""
    close = suggestions(key, kind)
    return f"; did you mean: {', '.join(name for _, name in close)}?" if close else ""


def _short_name(path: Path) -> str:
    table = read_toml(path)
    aliases = table.get("aliases") or []
    return aliases[0] if aliases else table["name"]


@functools.lru_cache(maxsize=256)
def _load_device_file(path: Path, mtime_ns: int) -> Device:
    return device_from_table(read_toml(path), path)


@functools.lru_cache(maxsize=256)
def _load_system_file(path: Path, mtime_ns: int) -> System:
    fields = system_fields(read_toml(path), path)
    device_name = fields["device"]
    try:
        device = load_device(device_name)
    except HardwareError as err:
        raise HardwareError(f"{path}: field 'device': {err}") from None
    fields["device"] = device
    if fields["intra_node_link"] == "device":
        if device.intra_node_link is None:
            raise HardwareError(
                f"{path}: field 'intra_node_link': missing and device '{device.name}' has none; "
                "allowed: an [intra_node_link] table or a reason in [unset]"
            )
        fields["intra_node_link"] = device.intra_node_link
        fields["sources"]["intra_node_link"] = f"device {device.name}: {device.intra_node_link.source}"
    return System(**fields)


def load_device(name_or_path: str | Path) -> Device:
    """The device called ``name_or_path`` (case-insensitive name or alias) or loaded from a TOML path."""
    path = _resolve(name_or_path, "devices")
    return _load_device_file(path, path.stat().st_mtime_ns)


def load_system(name_or_path: str | Path) -> System:
    """The system called ``name_or_path`` (name or alias) or loaded from a TOML path; nodes = its default."""
    path = _resolve(name_or_path, "systems")
    return _load_system_file(path, path.stat().st_mtime_ns)


def list_devices() -> list[str]:
    """Canonical names of every catalog device, sorted."""
    return sorted({name for _, name in _index("devices").values()}, key=str.lower)


def list_systems() -> list[str]:
    """Canonical names of every catalog system, sorted."""
    return sorted({name for _, name in _index("systems").values()}, key=str.lower)
