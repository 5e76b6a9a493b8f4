"""JAX imported on first use, so that listing the laws (``simlab laws list``) does not import it.

``jnp = LazyModule("jax.numpy")`` behaves like ``import jax.numpy as jnp`` once an attribute is
read: the first read imports the module and each attribute read is then cached on the proxy (a
plain instance attribute, so later reads cost what a module attribute costs). ``lazy_jit`` is
``functools.partial(jax.jit, **kwargs)`` as a decorator that calls ``jax.jit`` on the first call.
"""

from __future__ import annotations

import functools
import importlib

__all__ = ["LazyModule", "lazy_jit"]


class LazyModule:
    """A module imported when one of its attributes is first read."""

    def __init__(self, name: str):
        self.__dict__["_lazy_name"] = name

    def __getattr__(self, attr: str):
        if attr.startswith("__"):  # copy/pickle/inspect probes: do not import for them
            raise AttributeError(attr)
        value = getattr(importlib.import_module(self.__dict__["_lazy_name"]), attr)
        self.__dict__[attr] = value
        return value

    def __repr__(self) -> str:
        return f"<lazy module {self.__dict__['_lazy_name']!r}>"


def lazy_jit(**jit_kwargs):
    """``@partial(jax.jit, **jit_kwargs)`` that imports JAX and jits ``fn`` on its first call."""

    def decorate(fn):
        jitted = None

        @functools.wraps(fn)
        def call(*args, **kwargs):
            nonlocal jitted
            if jitted is None:
                import jax

                jitted = jax.jit(fn, **jit_kwargs)
            return jitted(*args, **kwargs)

        return call

    return decorate
