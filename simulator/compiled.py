"""Compiled cost functions that survive the process: one trace per shape, ever.

A ``simlab predict ...`` query is a new process. JAX's persistent compilation cache
(:mod:`simulator.jax_setup`) saves the *compilation*, but every process still *traces* the Python
cost function again (about 2 s for the serving core) and lowers it. :func:`cached_call` saves the
compiled executable itself (``jax.experimental.serialize_executable``) under the user cache
folder, keyed by

* the function's name and the structure, shapes and dtypes of its arguments (compilation keyed on
  shapes only: two models of the same structure share a program; a model's name is not in it),
* static arguments (e.g. the training recipe), given as ``static`` (their ``repr``),
* the jax version and a fingerprint of simlab's ``simulator`` sources (any code change retraces),

so a repeated query loads the executable and runs it instead of tracing, lowering and compiling.
Inside one process a loaded program is kept in memory. When the cache is switched off
(``SIMLAB_NO_COMPILE_CACHE=1``, which the tests set) it is plain ``jax.jit``; a stale or
unreadable file is recompiled and rewritten. Results are identical either way.
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
    return None if base is None else base.parent / "programs"


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
    from jax.experimental.serialize_executable import deserialize_and_load, serialize

    path = folder / f"{name}-{key}.bin"
    try:
        blob = pickle.loads(path.read_bytes())
        call = deserialize_and_load(blob["payload"], blob["in_tree"], blob["exe_out_tree"])
        out_tree = blob["out_tree"]
    except Exception:  # noqa: BLE001  (missing, stale or unreadable: trace and compile again)
        call = jax.jit(flat).lower(*leaves).compile()
        out_tree = flat.out_tree
        try:  # write atomically; a failed write only costs the next process a trace
            payload, in_tree, exe_out_tree = serialize(call)
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(pickle.dumps({"payload": payload, "in_tree": in_tree, "exe_out_tree": exe_out_tree,
                                          "out_tree": out_tree}))
            os.replace(tmp, path)
        except Exception:  # noqa: BLE001  (a backend that cannot serialise executables: keep it in memory)
            pass
    _MEMO[key] = (call, out_tree)
    return jax.tree_util.tree_unflatten(out_tree, call(*leaves))


__all__ = ["cached_call"]
