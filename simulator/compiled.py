"""Compiled cost functions that survive the process: one trace and one compilation per shape, ever.

A ``simlab predict ...`` query is a new process. JAX's persistent compilation cache
(:mod:`simulator.jax_setup`) saves the *compilation*, but every process would still *trace* and
*lower* the Python cost function again. :func:`cached_call` saves the compiled executable itself
(``jax.experimental.serialize_executable``) in a folder next to the JAX cache (``<cache>-programs``,
e.g. ``~/.cache/simlab/jax-programs``), keyed by

* the function's name and the structure, shapes and dtypes of its arguments (compilation keyed on
  shapes only: two models of the same structure share a program; a model's name is not in it),
* static arguments (e.g. the training recipe), given as ``static`` (their ``repr``),
* the jax/jaxlib versions, the backend and the host CPU (an executable is machine code for it),
  and a fingerprint of simlab's ``simulator`` sources (any code change retraces),

so a repeated query loads the executable and runs it (about 0.1 s for the serving core here)
instead of tracing, lowering and compiling.

Two details make this safe:

* an executable that JAX took from its own persistent compilation cache cannot be serialised
  again (the reloaded copy fails with ``NOT_FOUND: Function ... not found``, jax 0.10), so the
  program to save is compiled without consulting that cache (:class:`_no_cache`), and
* the saved copy is loaded back and run once before it is written; a copy that fails or disagrees
  with the fresh result is not written. A file that cannot be loaded later is ignored (and
  replaced): the query traces again.

Inside one process a loaded program is kept in memory. When the cache is switched off
(``SIMLAB_NO_COMPILE_CACHE=1``) it is plain ``jax.jit``: results are identical
either way.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import platform
from functools import lru_cache
from pathlib import Path

import jax
import numpy as np

from simulator.jax_setup import compile_cache_dir

_MEMO: dict[str, object] = {}


@lru_cache(maxsize=1)
def _host_fingerprint() -> str:
    """jax/jaxlib versions, backend, machine and CPU feature flags (Linux ``/proc/cpuinfo``)."""
    import jaxlib

    parts = [jax.__version__, getattr(jaxlib, "__version__", "?"), jax.default_backend(), platform.machine()]
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            parts += sorted({ln for ln in fh if ln.startswith(("flags", "model name"))})
    except OSError:
        parts.append(platform.processor())
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


@lru_cache(maxsize=1)
def _source_fingerprint() -> str:
    """sha256 of every ``.py`` file of the ``simulator`` package (names and contents) and the host."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256(_host_fingerprint().encode())
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
    try:  # executable serialisation (jax.experimental); without it: plain jit
        from jax.experimental import serialize_executable  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the installed jax
        return None
    return base.with_name(base.name + "-programs")  # next to the JAX cache


def _load(path: Path, leaves):
    """``(executable, out_tree, outputs)`` from a saved file, or None when it cannot be used."""
    from jax.experimental import serialize_executable as se

    try:
        blob = pickle.loads(path.read_bytes())
        call = se.deserialize_and_load(blob["payload"], blob["in_tree"], blob["out_tree_exe"])
        out = jax.block_until_ready(call(*leaves))
        return call, blob["out_tree"], out
    except Exception:  # noqa: BLE001 - any unusable file (truncated, other jaxlib, ...): trace again
        return None


def _compile_and_save(flat, leaves, path: Path):
    """Compile ``flat`` outside JAX's persistent cache, save the executable if a reloaded copy runs
    and agrees, and return ``(executable, outputs)``."""
    from jax.experimental import serialize_executable as se

    with _no_cache():
        call = jax.jit(flat).lower(*leaves).compile()
    out = call(*leaves)
    try:
        payload, in_tree, out_tree_exe = se.serialize(call)
        again = se.deserialize_and_load(payload, in_tree, out_tree_exe)(*leaves)
        same = all(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True) for a, b in zip(out, again, strict=True))
        if same:  # write atomically; a failed write only costs the next process a trace
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(pickle.dumps({"payload": payload, "in_tree": in_tree, "out_tree_exe": out_tree_exe,
                                          "out_tree": flat.out_tree}))
            os.replace(tmp, path)
    except Exception:  # noqa: BLE001 - serialisation unsupported here: the result stands, nothing saved
        pass
    return call, out


class _no_cache:
    """Context manager: JAX's persistent compilation cache not consulted for compilations inside.

    JAX decides once per process whether the cache is used (``jax._src.compilation_cache``,
    ``_cache_checked`` / ``_cache_used``; toggling ``jax_enable_compilation_cache`` later has no
    effect), so this sets that decision for the duration and restores it. Private names of jax
    0.10: where they are missing this does nothing, and :func:`_compile_and_save` refuses to save an
    executable whose reloaded copy does not run.
    """

    def __enter__(self):
        try:
            from jax._src import compilation_cache as cc

            self.cc = cc
            with cc._cache_initialized_mutex:
                self.old = (cc._cache_checked, cc._cache_used)
                cc._cache_checked, cc._cache_used = True, False
        except (ImportError, AttributeError):
            self.cc = None
        return self

    def __exit__(self, *exc):
        if self.cc is not None:
            with self.cc._cache_initialized_mutex:
                self.cc._cache_checked, self.cc._cache_used = self.old


def cached_call(name: str, fn, args: tuple, static: str = ""):
    """``jax.jit(fn)(*args)``, with the compiled program saved across processes (module docstring).

    ``fn`` must be a pure function of ``args`` (pytrees of arrays; static configuration closed over
    and described by ``static``). Returns what ``fn`` returns.
    """
    leaves, treedef = jax.tree_util.tree_flatten(args)
    leaves = [np.asarray(x) if not isinstance(x, jax.Array) else x for x in leaves]
    key = _key(name, treedef, leaves, static)
    hit = _MEMO.get(key)
    if hit is not None:
        call, out_tree = hit
        return jax.tree_util.tree_unflatten(out_tree, call(*leaves))

    def flat(*lv):
        out, flat.out_tree = jax.tree_util.tree_flatten(fn(*jax.tree_util.tree_unflatten(treedef, lv)))
        return out

    folder = _folder()
    if folder is None:
        jitted = jax.jit(flat)
        out = jitted(*leaves)
        _MEMO[key] = (jitted, flat.out_tree)
        return jax.tree_util.tree_unflatten(flat.out_tree, out)
    path = folder / f"{name}-{key}.exe"
    loaded = _load(path, leaves) if path.exists() else None
    if loaded is not None:
        call, out_tree, out = loaded
    else:
        call, out = _compile_and_save(flat, leaves, path)
        out_tree = flat.out_tree
    _MEMO[key] = (call, out_tree)
    return jax.tree_util.tree_unflatten(out_tree, out)


__all__ = ["cached_call"]
