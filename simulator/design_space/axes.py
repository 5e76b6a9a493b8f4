"""The axes of a sweep spec: which axes each kind has, their types, and the checks of their values.

:func:`parse_spec <simulator.design_space.spec.parse_spec>` calls these: range tables expand to
value lists (:func:`_expand_range`), every value is type-checked (:func:`_axis_values`), names of
models and devices are looked up in the catalogs (:func:`_check_catalog`), and values that are wrong
whatever the other axes are refused (:data:`VALUE_RULES`). Each error is one :class:`SweepError`
line naming the key (``axes.hardware[2]``).
"""

from __future__ import annotations

import math

from hardware_db.errors import SimlabError
from simulator.design_space.errors import SweepError

MAX_AXIS_VALUES = 1_000_000
#: Largest grid (product of the axis lengths) a spec may describe: 1e12 configurations is days of
#: a GPU cluster at 1e7 configurations/s, and keeps every configuration index far inside int64.
#: Checked when the spec is loaded, before any chunk is listed or any folder touched.
MAX_GRID_SIZE = 10**12

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
