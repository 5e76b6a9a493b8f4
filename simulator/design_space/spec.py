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

Every value is checked before anything runs: an unknown key, an empty axis, a value of the wrong
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

from hardware_db.errors import SimlabError
from simulator.design_space.errors import SweepError

#: Format version of the spec hash / manifest (bump when the hashing or partition layout changes).
FORMAT_VERSION = 1
DEFAULT_CHUNK_SIZE = 1 << 18
MAX_AXIS_VALUES = 1_000_000
#: Largest grid (product of the axis lengths) a spec may describe: 1e12 configurations is days of
#: a GPU cluster at 1e7 configurations/s, and keeps every configuration index far inside int64.
#: Checked when the spec is loaded, before any chunk is listed or any folder touched.
MAX_GRID_SIZE = 10**12

TOP_LEVEL_KEYS = ("kind", "name", "description", "chunk_size", "axes", "output")
OUTPUT_KEYS = ("columns",)

#: Axes of each kind: name -> "str" (categorical), "int" or "float". Hardware axes are exclusive.
SERVE_AXES: dict[str, str] = {
    "model": "str",
    "hardware": "str",
    "system": "str",
    "batch": "int",
    "input_len": "int",
    "output_len": "int",
    "tp": "int",
    "pp": "int",
    "ep": "int",
    "dp": "int",
    "weight_dtype": "str",
    "act_dtype": "str",
    "kv_dtype": "str",
    "chunk": "int",
    "block_size": "int",
    "weights_offloaded": "int",
    "tp_overlap": "float",
    "workspace_bytes": "float",
    "spec_gamma": "int",
    "spec_accept": "float",
    "draft_model": "str",
}
TRAIN_AXES: dict[str, str] = {
    "model": "str",
    "system": "str",
    "hardware": "str",
    "num_devices": "int",
    "global_batch": "int",
    "seq_len": "int",
    "tokens": "float",
    "tp": "int",
    "pp": "int",
    "cp": "int",
    "ep": "int",
    "micro_batch": "int",
    "virtual_stages": "int",
    "recompute": "str",
    "zero": "int",
    "offload": "str",
    "dtype": "str",
    "flash_attention": "int",
    "sequence_parallel": "int",
}
KIND_AXES = {"serve": SERVE_AXES, "train": TRAIN_AXES}
KIND_ALIASES = {"serve": "serve", "serving": "serve", "train": "train", "training": "train"}
#: Spec key -> column name written (``device`` is accepted for ``hardware``).
AXIS_ALIASES = {"device": "hardware", "devices": "hardware", "models": "model"}
REQUIRED = {"serve": ("model",), "train": ("model", "num_devices", "global_batch", "seq_len")}


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


def _err(source: str, key: str, message: str) -> SweepError:
    return SweepError(f"{source}: {key}: {message}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(float(v))


def _expand_range(source: str, key: str, table: dict, typ: str) -> list:
    """``{start, stop, step}`` (arithmetic) or ``{start, stop, mul}`` (geometric); stop included."""
    allowed = {"start", "stop", "step", "mul"}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _err(source, f"{key}.{unknown[0]}", "unknown range key; allowed: start, stop, step, mul")
    for k in ("start", "stop"):
        if k not in table or not _is_num(table[k]):
            raise _err(source, f"{key}.{k}", "a range needs numeric start and stop (and step or mul)")
    start, stop = table["start"], table["stop"]
    if ("step" in table) == ("mul" in table):
        raise _err(source, key, "a range needs exactly one of step (arithmetic) or mul (geometric)")
    if "step" in table:
        step = table["step"]
        if not _is_num(step) or step <= 0:
            raise _err(source, f"{key}.step", f"{step!r}; allowed: a number > 0")
        n = math.floor((stop - start) / step + 1e-9) + 1
        if n < 1:
            raise _err(source, key, f"empty range from {start} to {stop}")
        if n > MAX_AXIS_VALUES:
            raise _err(source, key, f"range has {n} values; allowed: at most {MAX_AXIS_VALUES}")
        values = [start + i * step for i in range(n)]
    else:
        mul = table["mul"]
        if not _is_num(mul) or mul <= 1 or start <= 0:
            raise _err(source, f"{key}.mul", f"{mul!r} from start {start}; allowed: mul > 1 and start > 0")
        if stop < start:
            raise _err(source, key, f"empty range from {start} to {stop}")
        n = math.floor(math.log(stop / start) / math.log(mul) + 1e-9) + 1
        if n > MAX_AXIS_VALUES:
            raise _err(source, key, f"range has {n} values; allowed: at most {MAX_AXIS_VALUES}")
        values = [start * mul**i for i in range(n)]
    if typ == "int":
        if not all(float(v).is_integer() for v in values):
            raise _err(source, key, "range gives non-integer values; allowed: integers")
        values = [int(round(v)) for v in values]
    return values


def _axis_length(raw) -> int | None:
    """Number of values an axis will have, without expanding a range (None when it cannot tell yet)."""
    if isinstance(raw, list):
        return len(raw)
    if not isinstance(raw, dict):
        return 1
    start, stop, step, mul = (raw.get(k) for k in ("start", "stop", "step", "mul"))
    if not (_is_num(start) and _is_num(stop)):
        return None
    if _is_num(step) and step > 0 and mul is None:
        return max(math.floor((stop - start) / step + 1e-9) + 1, 0)
    if _is_num(mul) and mul > 1 and step is None and start > 0 and stop >= start:
        return math.floor(math.log(stop / start) / math.log(mul) + 1e-9) + 1
    return None


def _check_grid_size(source: str, axes_raw: dict) -> None:
    sizes = {k: _axis_length(v) for k, v in axes_raw.items()}
    known = [n for n in sizes.values() if n]
    size = math.prod(known) if known else 0
    if size > MAX_GRID_SIZE:
        shape = " x ".join(f"{k} {n:.3g}" for k, n in sizes.items() if n and n > 1)
        raise _err(source, "axes", f"the grid has {size:.3g} configurations ({shape}); allowed: at most "
                                   f"{MAX_GRID_SIZE:.0e} (split the sweep or use fewer values per axis)")


def _axis_values(source: str, key: str, raw, typ: str) -> tuple:
    """Normalise one axis: list / scalar / range table -> tuple of typed, de-duplicated values."""
    if isinstance(raw, dict):
        values = _expand_range(source, f"axes.{key}", raw, typ)
    elif isinstance(raw, list):
        values = raw
    else:
        values = [raw]
    if len(values) == 0:
        raise _err(source, f"axes.{key}", "empty axis; give at least one value")
    if len(values) > MAX_AXIS_VALUES:
        raise _err(source, f"axes.{key}", f"{len(values)} values; allowed: at most {MAX_AXIS_VALUES}")
    out = []
    for i, v in enumerate(values):
        where = f"axes.{key}[{i}]"
        if typ == "str":
            if not isinstance(v, str) or not v.strip():
                raise _err(source, where, f"{v!r}; allowed: a non-empty string")
            out.append(v.strip())
        elif typ == "int":
            if _is_num(v) and float(v).is_integer():
                out.append(int(v))
            else:
                raise _err(source, where, f"{v!r}; allowed: an integer")
        else:
            if not _is_num(v):
                raise _err(source, where, f"{v!r}; allowed: a finite number")
            out.append(float(v))
    seen = set()
    for i, v in enumerate(out):
        if v in seen:
            raise _err(source, f"axes.{key}[{i}]", f"duplicate value {v!r}")
        seen.add(v)
    return tuple(out)


def _check_catalog(source: str, key: str, values: tuple) -> None:
    """Resolve every model / device / system name once; a miss names the key and index."""
    if key in ("model", "draft_model"):
        from simulator.models import load_model as loader
    elif key == "hardware":
        from hardware_db import load_device as loader
    elif key == "system":
        from hardware_db import load_system as loader
    else:
        return
    for i, v in enumerate(values):
        try:
            loader(v)
        except SimlabError as err:
            raise _err(source, f"axes.{key}[{i}]", str(err)) from None


#: Value rules of numeric / enumerated axes: (kind, axis) -> (check, what is allowed). A value that is
#: wrong whatever the other axes (batch 0, tp_overlap 1.5, an unknown dtype) is refused here; a
#: value invalid only in combination (tp not dividing a model's heads) is marked per row instead.
def _rule_min(lo):
    return (lambda v: v >= lo), f"an integer >= {lo}"


_FRACTION = (lambda v: 0.0 <= v <= 1.0), "a number in [0, 1]"
_FLAG = (lambda v: v in (0, 1)), "0 or 1"
VALUE_RULES: dict[str, dict[str, tuple]] = {
    "serve": {
        **{k: _rule_min(1) for k in ("batch", "input_len", "output_len", "tp", "pp", "ep", "dp", "block_size")},
        **{k: _rule_min(0) for k in ("chunk", "spec_gamma")},
        "workspace_bytes": ((lambda v: v >= 0), "a number >= 0"),
        "weights_offloaded": _FLAG,
        "tp_overlap": _FRACTION,
        "spec_accept": _FRACTION,
    },
    "train": {
        **{k: _rule_min(1) for k in ("num_devices", "global_batch", "seq_len", "tp", "pp", "cp", "ep",
                                     "micro_batch", "virtual_stages")},
        "zero": ((lambda v: v in (0, 1, 2, 3)), "0, 1, 2 or 3"),
        "tokens": ((lambda v: v > 0), "a number > 0"),
        "flash_attention": _FLAG,
        "sequence_parallel": _FLAG,
    },
}


def _check_values(source: str, kind: str, axes: dict[str, tuple]) -> None:
    """Refuse values that are wrong whatever the other axes (see :data:`VALUE_RULES`) and unknown
    dtypes / recompute / offload names, before anything runs."""
    rules = VALUE_RULES[kind]
    for key, values in axes.items():
        if key in rules:
            ok, allowed = rules[key]
            for i, v in enumerate(values):
                if not ok(v):
                    raise _err(source, f"axes.{key}[{i}]", f"{v!r}; allowed: {allowed}")
        elif key in ("weight_dtype", "act_dtype", "kv_dtype", "dtype"):
            from simulator.dtypes import dtype_bytes
            from simulator.serving import weight_bytes_of

            check = weight_bytes_of if key == "weight_dtype" else dtype_bytes
            for i, v in enumerate(values):
                try:
                    check(v)
                except SimlabError as err:
                    raise _err(source, f"axes.{key}[{i}]", str(err)) from None
        elif key in ("recompute", "offload") and kind == "train":
            from simulator.training.common import OFFLOAD, RECOMPUTE

            names = RECOMPUTE if key == "recompute" else OFFLOAD
            for i, v in enumerate(values):
                if v not in names:
                    raise _err(source, f"axes.{key}[{i}]", f"{v!r}; allowed: {', '.join(names)}")


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
