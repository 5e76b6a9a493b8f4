"""The :class:`Law` description shared by every scaling law, and the law registry.

A law is a pure JAX function ``fn(params, **inputs)`` where ``params`` maps parameter names to
scalars (or broadcastable arrays) and ``inputs`` are arrays that broadcast together. It comes with
parameter names, bounds, published parameter sets (each naming its paper and table/equation) and,
where it has one, a compute-optimal allocation.

Names used by ``simlab predict loss --law`` and ``simlab laws list`` are ``<law>-<set>`` (e.g.
``chinchilla-epoch``), resolved by :func:`get_param_set`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from scaling_laws.errors import LawError


@dataclass(frozen=True)
class ParamSet:
    """A published parameter set of a law.

    ``source`` names the paper and the table / equation the numbers come from.
    """

    name: str
    values: Mapping[str, float]
    source: str
    notes: str = ""


@dataclass(frozen=True)
class Law:
    """A scaling law: a pure function plus the facts needed to fit, cite and use it."""

    name: str
    description: str
    fn: Callable
    param_names: tuple[str, ...]
    bounds: Mapping[str, tuple[float, float]]
    inputs: Mapping[str, str]
    output: str
    citation: str
    published: Mapping[str, ParamSet] = field(default_factory=dict)
    formula: str = ""

    def params(self, set_name: str) -> dict[str, float]:
        """Values of published set ``set_name`` (LawError naming the known sets otherwise)."""
        try:
            return dict(self.published[set_name].values)
        except KeyError:
            known = ", ".join(self.published) or "none"
            raise LawError(f"law {self.name!r} has no parameter set {set_name!r}; known: {known}") from None

    def check_params(self, params: Mapping[str, float]) -> dict[str, float]:
        """Return ``params`` as floats; LawError naming a missing or unknown parameter."""
        missing = [p for p in self.param_names if p not in params]
        if missing:
            raise LawError(f"law {self.name!r}: missing parameter(s) {', '.join(missing)}; needs {', '.join(self.param_names)}")
        extra = [p for p in params if p not in self.param_names]
        if extra:
            raise LawError(f"law {self.name!r}: unknown parameter(s) {', '.join(extra)}; needs {', '.join(self.param_names)}")
        return {k: params[k] for k in self.param_names}


_LAWS: dict[str, Law] = {}


def register_law(law: Law) -> Law:
    """Add ``law`` to the registry (idempotent for the same object)."""
    _LAWS[law.name] = law
    return law


def _load_all() -> None:
    # Importing the modules registers their laws.
    from scaling_laws import (  # noqa: F401
        chinchilla,
        coverage,
        data_filtering,
        farseer,
        kaplan,
        kinetics,
        parscale,
        steplaw,
    )


def list_laws() -> list[Law]:
    """All registered laws, sorted by name."""
    _load_all()
    return [_LAWS[k] for k in sorted(_LAWS)]


def get_law(name: str) -> Law:
    """The law called ``name``; LawError listing the known laws otherwise."""
    _load_all()
    try:
        return _LAWS[name]
    except KeyError:
        raise LawError(f"unknown law {name!r}; known laws: {', '.join(sorted(_LAWS))}") from None


def get_param_set(spec: str) -> tuple[Law, ParamSet]:
    """Resolve ``"<law>-<set>"`` (e.g. ``chinchilla-epoch``) or a bare law name with one set."""
    _load_all()
    if spec in _LAWS:
        law = _LAWS[spec]
        if len(law.published) == 1:
            return law, next(iter(law.published.values()))
        raise LawError(f"law {spec!r} has several parameter sets; use one of {', '.join(all_param_set_names(law))}")
    for law in _LAWS.values():
        for set_name, ps in law.published.items():
            if spec == f"{law.name}-{set_name}":
                return law, ps
    known = ", ".join(n for lw in list_laws() for n in all_param_set_names(lw))
    raise LawError(f"unknown law / parameter set {spec!r}; known: {known}")


def all_param_set_names(law: Law) -> list[str]:
    """``<law>-<set>`` names of the published sets of ``law``."""
    return [f"{law.name}-{s}" for s in law.published]


def frozen(d: Mapping) -> Mapping:
    """Read-only view of a dict (for module-level published tables)."""
    return MappingProxyType(dict(d))
