"""Compiled cost functions that survive the process: one trace per shape, ever.

A ``simlab predict ...`` query is a new process. JAX's persistent compilation cache
(:mod:`simulator.jax_setup`) saves the *compilation*, but every process still *traces* the Python
cost function again (about 2 s for the serving core). :func:`cached_call` saves the traced program
itself with ``jax.export`` (StableHLO, https://docs.jax.dev/en/latest/export/export.html) in a
folder next to the JAX cache (``<cache>-programs``, e.g. ``~/.cache/simlab/jax-programs``), keyed by

* the function's name and the structure, shapes and dtypes of its arguments (compilation keyed on
  shapes only: two models of the same structure share a program; a model's name is not in it),
* static arguments (e.g. the training recipe), given as ``static`` (their ``repr``),
* the jax version and a fingerprint of simlab's ``simulator`` sources (any code change retraces),

so a repeated query deserialises the program and runs it (about 0.6 s here) instead of tracing.
Inside one process a loaded program is kept in memory. When the cache is switched off
(``SIMLAB_NO_COMPILE_CACHE=1``, which the tests set) or ``jax.export`` serialisation is not
available, it is plain ``jax.jit``: results are identical either way.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import lru_cache
from pathlib import Path

import jax

from simulator.jax_setup import compile_cache_dir

_MEMO: dict[str, object] = {}


@lru_cache(maxsize=1)
def _source_fingerprint() -> str:
    """sha256 of every ``.py`` file of the ``simulator`` package (names and contents)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256(jax.__version__.encode())
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _key(name: str, treedef, leaves, static: str) -> str:
    sig = [(tuple(getattr(x, "shape", ())), str(getattr(x, "dtype", type(x).__name__))) for x in leaves]
    text = repr((name, str(treedef), sig, static, _source_fingerprint()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _folder() -> Path | None:
    base = compile_cache_dir()
    if base is None:
        return None
    try:
        import flatbuffers  # noqa: F401  (jax.export serialisation needs it)
    except ImportError:
        return None
    return base.with_name(base.name + "-programs")  # next to the JAX cache folder


def cached_call(name: str, fn, args: tuple, static: str = ""):
    """``jax.jit(fn)(*args)``, with the traced program saved across processes (module docstring).

    ``fn`` must be a pure function of ``args`` (pytrees of arrays; static configuration closed over
    and described by ``static``). Returns what ``fn`` returns.
    """
    leaves, treedef = jax.tree_util.tree_flatten(args)
    leaves = [jax.numpy.asarray(x) for x in leaves]
    key = _key(name, treedef, leaves, static)
    hit = _MEMO.get(key)
    if hit is not None:
        call, out_tree = hit
        return jax.tree_util.tree_unflatten(out_tree, call(*leaves))
    folder = _folder()

    def flat(*lv):
        out, flat.out_tree = jax.tree_util.tree_flatten(fn(*jax.tree_util.tree_unflatten(treedef, lv)))
        return out

    if folder is None:
        jitted = jax.jit(flat)
        out = jitted(*leaves)
        _MEMO[key] = (jitted, flat.out_tree)
        return jax.tree_util.tree_unflatten(flat.out_tree, out)
    from jax import export

    path = folder / f"{name}-{key}.bin"
    try:
        blob = pickle.loads(path.read_bytes())
        exported, out_tree = export.deserialize(bytearray(blob["program"])), blob["out_tree"]
    except (OSError, EOFError, KeyError, ValueError, TypeError, pickle.UnpicklingError, AttributeError):
        exported = export.export(jax.jit(flat))(*leaves)
        out_tree = flat.out_tree
        try:  # write atomically; a failed write only costs the next process a trace
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(pickle.dumps({"program": bytes(exported.serialize()), "out_tree": out_tree}))
            os.replace(tmp, path)
        except OSError:
            pass
    call = jax.jit(exported.call)
    _MEMO[key] = (call, out_tree)
    return jax.tree_util.tree_unflatten(out_tree, call(*leaves))


__all__ = ["cached_call"]
