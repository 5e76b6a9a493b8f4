"""Sweep specifications: a TOML file describing a grid of configurations -> validated axes.

A spec names the kind of evaluation and one list of values per axis; the grid is the cartesian
product of the axes (the last axis varies fastest)::

    kind = "serve"            # "serve" (simulator.sweep.serve) or "train" (training simulator)
    name = "h100-vs-mi300x"   # optional, shown in summaries
    chunk_size = 262144       # optional: configurations per chunk / Parquet part

    [axes]
    model = ["llama-3-8b", "llama-3-70b"]
    hardware = ["h100", "mi300x"]           # catalog device names or TOML paths (or `system`)
    batch = { start = 1, stop = 256, mul = 2 }   # 1, 2, 4, ..., 256 (geometric)
    input_len = { start = 512, stop = 4096, step = 512 }  # arithmetic, stop included
    output_len = 128                          # a scalar is a one-value axis
    tp = [1, 2, 4, 8]
    weight_dtype = ["bf16", "int4"]

    [output]
    columns = ["ttft_s", "tpot_s", "output_tokens_per_s"]   # optional: keep only these results

Every value is checked before anything runs (axis schema and value checks:
:mod:`simulator.design_space.axes`): an unknown key, an empty axis, a value of the wrong
type, a model or device the catalogs lack, all raise :class:`SweepError` with one line naming the
key (``axes.hardware[2]``). Axis values are kept exactly as written (after range expansion);
:attr:`SweepSpec.spec_hash` is the SHA-256 of the canonical JSON of kind, axes and output columns,
so two specs describing the same grid have the same hash whatever their name, comments or chunk
size.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulator.design_space.axes import (  # noqa: F401  (re-exported: this module's names before the split)
    AXIS_ALIASES,
    KIND_ALIASES,
    KIND_AXES,
    MAX_AXIS_VALUES,
    MAX_GRID_SIZE,
    REQUIRED,
    SERVE_AXES,
    TRAIN_AXES,
    VALUE_RULES,
    _axis_values,
    _check_catalog,
    _check_grid_size,
    _check_values,
    _err,
    _is_int,
)
from simulator.design_space.errors import SweepError

#: Format version of the spec hash / manifest (bump when the hashing or partition layout changes).
FORMAT_VERSION = 1
DEFAULT_CHUNK_SIZE = 1 << 18

TOP_LEVEL_KEYS = ("kind", "name", "description", "chunk_size", "axes", "output")
OUTPUT_KEYS = ("columns",)


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: kind, ordered axes (name -> tuple of values), chunk size, output columns.

    ``axes`` keeps the spec's order; the grid's last axis varies fastest. ``columns`` (empty =
    all) restricts which result columns are written besides the axes and ``config_id``.
    """

    kind: str
    axes: dict[str, tuple]
    name: str = "sweep"
    chunk_size: int = DEFAULT_CHUNK_SIZE
    columns: tuple[str, ...] = ()
    source: str = "<spec>"
    description: str = ""

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of values of each axis (spec order)."""
        return tuple(len(v) for v in self.axes.values())

    @property
    def size(self) -> int:
        """Number of configurations of the grid (product of the axis lengths)."""
        return math.prod(self.shape)

    def canonical(self) -> dict[str, Any]:
        """What the hash covers: format version, kind, axes (in order) and output columns."""
        return {
            "format": FORMAT_VERSION,
            "kind": self.kind,
            "axes": [[k, list(v)] for k, v in self.axes.items()],
            "columns": list(self.columns),
        }

    @property
    def spec_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of :meth:`canonical`."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (written into the manifest; :func:`parse_spec` reads it back)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "description": self.description,
            "chunk_size": self.chunk_size,
            "axes": {k: list(v) for k, v in self.axes.items()},
            "output": {"columns": list(self.columns)},
        }


def parse_spec(data: dict[str, Any], source: str = "<spec>", check_catalog: bool = True) -> SweepSpec:
    """Validate a spec given as a dict (the parsed TOML); see the module doc for the format.

    ``check_catalog`` resolves model/device/system names against the catalogs (on by default).
    """
    if not isinstance(data, dict):
        raise SweepError(f"{source}: a spec is a TOML table with keys {', '.join(TOP_LEVEL_KEYS)}")
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise _err(source, key, f"unknown key; allowed: {', '.join(TOP_LEVEL_KEYS)}")
    kind_raw = data.get("kind", "serve")
    kind = KIND_ALIASES.get(str(kind_raw).strip().lower()) if isinstance(kind_raw, str) else None
    if kind is None:
        raise _err(source, "kind", f"{kind_raw!r}; allowed: serve, train")
    name = data.get("name", Path(source).stem if source != "<spec>" else "sweep")
    if not isinstance(name, str) or not name.strip():
        raise _err(source, "name", f"{name!r}; allowed: a non-empty string")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise _err(source, "description", "allowed: a string")
    chunk_size = data.get("chunk_size", DEFAULT_CHUNK_SIZE)
    if not _is_int(chunk_size) or chunk_size < 1:
        raise _err(source, "chunk_size", f"{chunk_size!r}; allowed: an integer >= 1")

    axes_raw = data.get("axes")
    if not isinstance(axes_raw, dict) or not axes_raw:
        raise _err(source, "axes", "missing or empty; give a table [axes] with one list of values per axis")
    allowed = KIND_AXES[kind]
    _check_grid_size(source, axes_raw)  # before expanding any range: a 1e35 grid fails in microseconds
    axes: dict[str, tuple] = {}
    for key, raw in axes_raw.items():
        col = AXIS_ALIASES.get(key, key)
        if col not in allowed:
            raise _err(source, f"axes.{key}", f"unknown axis for kind '{kind}'; allowed: {', '.join(allowed)}")
        if col in axes:
            raise _err(source, f"axes.{key}", f"given twice (as '{col}')")
        axes[col] = _axis_values(source, key, raw, allowed[col])
    for req in REQUIRED[kind]:
        if req not in axes:
            raise _err(source, f"axes.{req}", "missing; this axis is required")
    if "hardware" in axes and "system" in axes:
        raise _err(source, "axes.system", "give either hardware (devices) or system, not both")
    if "hardware" not in axes and "system" not in axes:
        raise _err(source, "axes.hardware", "missing; give hardware (device names) or system")
    _check_grid_size(source, {k: list(v) for k, v in axes.items()})
    _check_values(source, kind, axes)
    if check_catalog:
        for key, values in axes.items():
            _check_catalog(source, f"{key}", values)

    out_raw = data.get("output", {})
    if not isinstance(out_raw, dict):
        raise _err(source, "output", "allowed: a table with key columns")
    for key in out_raw:
        if key not in OUTPUT_KEYS:
            raise _err(source, f"output.{key}", f"unknown key; allowed: {', '.join(OUTPUT_KEYS)}")
    columns = out_raw.get("columns", [])
    if not isinstance(columns, list) or not all(isinstance(c, str) and c for c in columns):
        raise _err(source, "output.columns", "allowed: a list of result column names")
    return SweepSpec(kind=kind, axes=axes, name=name.strip(), chunk_size=int(chunk_size),
                     columns=tuple(columns), source=source, description=description)


def load_spec(path: str | Path, check_catalog: bool = True) -> SweepSpec:
    """Read and validate a TOML sweep spec (see the module doc); ``SweepError`` on bad input."""
    from hardware_db.parse import decode_text

    p = Path(path).expanduser()
    if not p.is_file():
        what = "is a folder" if p.is_dir() else "is not a regular file" if p.exists() else "not found"
        raise SweepError(f"sweep spec '{path}' {what}; give a TOML file")
    try:
        data = tomllib.loads(decode_text(p.read_bytes(), str(p), SweepError))
    except tomllib.TOMLDecodeError as err:
        raise SweepError(f"{p}: not valid TOML: {err}") from None
    except OSError as err:
        raise SweepError(f"sweep spec '{p}' cannot be read: {err.strerror}") from None
    return parse_spec(data, source=str(p), check_catalog=check_catalog)


def axis_arrays(spec: SweepSpec) -> dict[str, np.ndarray]:
    """Axis values as numpy arrays (``int64``, ``float64`` or ``object`` for names)."""
    allowed = KIND_AXES[spec.kind]
    types = {"int": np.int64, "float": np.float64, "str": object}
    return {k: np.asarray(v, dtype=types[allowed[k]]) for k, v in spec.axes.items()}


__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "FORMAT_VERSION",
    "MAX_GRID_SIZE",
    "KIND_AXES",
    "SERVE_AXES",
    "TRAIN_AXES",
    "SweepSpec",
    "axis_arrays",
    "load_spec",
    "parse_spec",
]
