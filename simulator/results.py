"""Typed results: ``NamedTuple`` pytrees with declared fields and units, readable like dicts.

Result types (:class:`simulator.serving.results.ServeResult`,
:class:`simulator.training.results.TrainResult`) are ``NamedTuple`` classes: JAX treats them as
pytrees (they go through ``jit``/``vmap`` as they are), their ``_fields`` are the table columns and
JSON keys, and each module declares the unit of every field. :func:`mapping_access` adds
``result["name"]``, ``keys()``, ``items()`` and ``get()`` so that ``dict(result)`` and code written
for v0.1's string-keyed dicts keep working.
"""

from __future__ import annotations


def mapping_access(cls):
    """Class decorator: dict-style read access by field name on a ``NamedTuple`` class."""

    def __getitem__(self, key):
        return getattr(self, key) if isinstance(key, str) else tuple.__getitem__(self, key)

    def keys(self):
        return self._fields

    def items(self):
        return zip(self._fields, self, strict=True)

    def get(self, key, default=None):
        return getattr(self, key, default)

    cls.__getitem__, cls.keys, cls.items, cls.get = __getitem__, keys, items, get
    return cls


def check_units(cls, units: dict[str, str]) -> None:
    """Every field of ``cls`` declares a unit, and no unit names a field that does not exist."""
    if set(units) != set(cls._fields):
        raise TypeError(f"{cls.__name__}: units for {sorted(set(units) ^ set(cls._fields))} do not match the fields")


__all__ = ["check_units", "mapping_access"]
