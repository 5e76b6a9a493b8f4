"""simlab hardware catalog: devices and systems as sourced TOML files (SI units inside).

    >>> from hardware_db import load_device
    >>> load_device("h100").peak("bf16")   # dense FLOP/s
    989400000000000.0

``hardware_db`` imports nothing else of simlab. Schema and how to add a device: docs/hardware.md.
"""

from hardware_db.catalog import list_devices, list_systems, load_device, load_system
from hardware_db.errors import HardwareError, SimlabError
from hardware_db.schema import Device, Efficiency, Link, MemoryTier, System

__all__ = [
    "Device",
    "Efficiency",
    "HardwareError",
    "Link",
    "MemoryTier",
    "SimlabError",
    "System",
    "list_devices",
    "list_systems",
    "load_device",
    "load_system",
]
