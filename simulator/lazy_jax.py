"""Pytree registration that does not import JAX: done when JAX is imported, whoever imports it.

A class whose module must stay importable without JAX (``simulator.models.spec.ModelSpec``: the
catalog, ``simlab models list`` and the input checks use it, and none of them computes) is declared
with :func:`register_dataclass_when_jax_loads` instead of ``@jax.tree_util.register_dataclass``:

* if ``jax`` is already imported, the class is registered at once (the same call as the decorator);
* otherwise it is registered right after ``import jax`` finishes, by a one-shot import hook on
  ``sys.meta_path`` that wraps the loader of the top-level ``jax`` package (the hook removes itself
  afterwards). So a spec is a pytree for every ``jax.jit`` / ``jax.vmap`` / ``jax.tree.map``,
  whichever module (ours or the user's) imports JAX first.

The registration itself is ``jax.tree_util.register_dataclass(cls)``: data fields are the dataclass
fields, meta (static) fields those with ``metadata={"static": True}``.
"""

from __future__ import annotations

import importlib.abc
import sys
import threading

__all__ = ["register_dataclass_when_jax_loads"]

_PENDING: list[type] = []
_LOCK = threading.Lock()


_DONE: set[type] = set()


def _register(cls: type) -> None:
    import jax

    if cls not in _DONE:
        jax.tree_util.register_dataclass(cls)
        _DONE.add(cls)


def _flush() -> None:
    with _LOCK:
        pending, _PENDING[:] = list(_PENDING), []
        _remove_hook()
    for cls in pending:
        _register(cls)


class _Loader(importlib.abc.Loader):
    """Delegates to JAX's own loader, then registers the pending classes."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _flush()

    def __getattr__(self, name):  # get_resource_reader, is_package, get_code ...
        return getattr(self._loader, name)


class _JaxImportHook(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != "jax":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader)
                return spec
        return None


_HOOK = _JaxImportHook()


def _remove_hook() -> None:
    if _HOOK in sys.meta_path:
        sys.meta_path.remove(_HOOK)


def register_dataclass_when_jax_loads(cls: type) -> type:
    """Register the frozen dataclass ``cls`` as a JAX pytree now (JAX imported) or at ``import jax``.

    Returns ``cls`` (usable as a class decorator). Idempotent per class.
    """
    if "jax" in sys.modules:
        _register(cls)
        return cls
    with _LOCK:
        if cls not in _PENDING:
            _PENDING.append(cls)
        if _HOOK not in sys.meta_path:
            sys.meta_path.insert(0, _HOOK)
    return cls
