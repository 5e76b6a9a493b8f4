"""Batches of model specs: :func:`stack_specs` (one spec whose leaves are 1-D arrays, for ``jax.vmap``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from simulator.errors import ModelError

if TYPE_CHECKING:
    from simulator.models.spec import ModelSpec


def stack_specs(specs: Sequence[ModelSpec], name: str | None = None) -> ModelSpec:
    """Stack specs into one batched spec (every leaf becomes a 1-D array) for ``jax.vmap``.

    The static ``name`` must be equal across a batch, so the batch gets ``name`` (default: the common
    name, else the names joined with '+' for up to 4 specs, else '<n> models').
    """
    specs = list(specs)
    if not specs:
        raise ModelError("stack_specs: 'specs' must contain at least one ModelSpec")
    names = [s.name for s in specs]
    if name is None:
        if len(set(names)) == 1:
            name = names[0]
        elif len(names) <= 4:
            name = "+".join(names)
        else:
            name = f"{len(names)} models"
    renamed = [dataclasses.replace(s, name=name) for s in specs]
    import jax
    import jax.numpy as jnp

    return jax.tree.map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *renamed)


__all__ = ["stack_specs"]
