"""simlab's precision policy in one place: float32 core, float64 fitters (DESIGN.md, "JAX core").

The simulator core (serving, training, sweeps) runs in JAX's default float32, so that ten million
configurations fit in memory and vectorise well. Fits and the few evaluations whose result is
compared at float64 resolution (scaling-law losses, calibration objectives, FLOP counts above 2**24)
run in float64. The switch is JAX's ``jax.enable_x64`` context (scoped to the call, thread-local,
so the rest of the process keeps float32); it is set *at the public entry point* of each such
function with :func:`float64`, never toggled inside helpers::

    from fitters.precision import float64

    @float64()
    def fit_something(x, y) -> FitResult:   # everything it computes (and calls) is float64
        ...

    with float64():                          # or as a context, for a block
        ...

Helpers called from a ``@float64()`` entry point inherit the precision; a float32 core function
called from inside one (e.g. the serving simulator from a planner) is wrapped in :func:`float32`.
Results leave as NumPy arrays / Python floats, never as float64 JAX arrays.

JAX documents ``jax.enable_x64`` at https://docs.jax.dev/en/latest/default_dtypes.html (64-bit
precision). Importing this module does not import JAX.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["float32", "float64"]


@contextlib.contextmanager
def float64() -> Iterator[None]:
    """Float64 for the extent of a ``with`` block, or of a call when used as ``@float64()``."""
    import jax

    with jax.enable_x64(True):
        yield


@contextlib.contextmanager
def float32() -> Iterator[None]:
    """JAX's float32 default for a block / call (the core, called from inside a float64 scope)."""
    import jax

    with jax.enable_x64(False):
        yield
