"""Per-process cache of the stacked model / hardware tables of batched calls (sweeps, design space).

A batched evaluator (``simulator.sweep.serve``, ``simulator.design_space.training.train_table``)
resolves the distinct models and hardware of its rows and stacks them into tables before one
jitted call. For a small call that fixed work dominates (a 64-configuration call would cost more
per configuration than a million-configuration one), and repeated calls name the same catalog
entries. :func:`cached_table` memoises a table by the names it was built from, but only when every
name is a catalog name: a file path may change between calls, so tables built from files are
rebuilt every time. :func:`stack_numpy` builds the stacked tables.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

_TABLES: dict = {}
MAX_ENTRIES = 256


def is_catalog_name(name) -> bool:
    """A catalog name, not a file path (its table may be cached for the process)."""
    return isinstance(name, str) and not os.path.exists(name) and not name.endswith((".toml", ".json", ".csv"))


def cached_table(kind: str, key: tuple, build, *args):
    """``build(key, *args)``, memoised by ``(kind, key, args)`` when every name in ``key`` (its items,
    or their first element when items are tuples) is a catalog name; at most :data:`MAX_ENTRIES`
    tables are kept (the cache is emptied when full). The table must not be modified by callers."""
    names = [k[0] if isinstance(k, tuple) else k for k in key]
    if not all(is_catalog_name(n) for n in names):
        return build(key, *args)
    full = (kind, key, args)
    hit = _TABLES.get(full)
    if hit is None:
        if len(_TABLES) >= MAX_ENTRIES:
            _TABLES.clear()
        hit = _TABLES[full] = build(key, *args)
    return hit


def stack_numpy(objs, *, all_float: bool = False, name: str | None = None):
    """Stack pytrees (ModelSpecs, HwSpecs, TrainHardware) along a new leading axis, in NumPy.

    Leaves become the dtypes JAX would give them: float32 for floats, int32 for integers, or
    float32 for every leaf with ``all_float``. ``name`` replaces the static ``name`` of every object
    first (stacked objects must share their static fields). NumPy, because one small eager JAX
    operation per field would dominate a batched call with few configurations.
    """
    import jax

    objs = list(objs)
    if name is not None:
        objs = [dataclasses.replace(o, name=name) for o in objs]

    def leaf(*xs):
        a = np.stack([np.asarray(x) for x in xs])
        if all_float or a.dtype.kind == "f":
            return a.astype(np.float32)
        return a.astype(np.int32) if a.dtype.kind in "iu" else a

    return jax.tree_util.tree_map(leaf, *objs)


__all__ = ["MAX_ENTRIES", "cached_table", "is_catalog_name", "stack_numpy"]
