"""Storage size of the numeric formats simlab knows (bytes per element).

int4 / fp4 count 0.5 byte per element without group scales; quantisation formats that carry
scales (e.g. llama.cpp Q4_0 at 4.5 bits/weight) are expressed by callers as an effective size.
"""

from __future__ import annotations

from hardware_db.errors import SimlabError

DTYPE_BYTES: dict[str, float] = {
    "fp64": 8.0,
    "fp32": 4.0,
    "tf32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
    "fp4": 0.5,
}


class DtypeError(SimlabError):
    """An unknown numeric format was named."""


def dtype_bytes(name: str) -> float:
    """Bytes per element of dtype ``name`` (case-insensitive); ``DtypeError`` lists the allowed names."""
    key = str(name).strip().lower()
    if key not in DTYPE_BYTES:
        raise DtypeError(f"unknown dtype '{name}'; allowed: {', '.join(DTYPE_BYTES)}")
    return DTYPE_BYTES[key]
