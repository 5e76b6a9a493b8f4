"""Generic multi-start Huber-on-log fit for laws without a hand-written objective.

    objective(theta) = sum_i Huber_delta( log_model(theta, X_i) - ln y_i )

minimised by the vectorised damped-Newton loop of :mod:`fitters.optim` from every row of a start
grid at once (``jax.vmap``), derivatives by JAX autodiff, float64 (:func:`fitters.precision.float64` on the entry point).
Used for ParScale (Chen et al. 2025's own procedure: Huber 1e-3 on ln L from an init grid) and
Kaplan's joint law; Chinchilla has an analytic-derivative version in :mod:`fitters.chinchilla`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from fitters.errors import FitError
from fitters.huber import DELTA, huber
from fitters.optim import autodiff_derivs, lm_minimize
from fitters.precision import float64


@functools.lru_cache(maxsize=32)
def _runner(log_model: Callable, delta: float):
    """Jitted, start-vmapped damped-Newton fit for one model (cached: compiled once per shape)."""

    def obj(theta, ly, w, ins):
        return jnp.sum(w * huber(log_model(theta, *ins) - ly, delta))

    derivs = autodiff_derivs(obj)

    @jax.jit
    def run(starts, ly, w, ins, max_iter):
        return jax.vmap(lambda t: lm_minimize(derivs, t, ly, w, ins, max_iter=max_iter))(starts)

    return run


@float64()
def multistart_huber_log(
    log_model: Callable,
    starts,
    inputs: tuple,
    y,
    *,
    delta: float = DELTA,
    max_iter: int = 300,
    weights=None,
) -> dict:
    """Fit ``log_model(theta, *inputs) ~ ln y`` from every row of ``starts`` (S, P).

    Returns {"theta": best theta, "objective", "n_starts", "n_converged", "n_at_best",
    "converged", "all_f"} (numpy / Python types).
    """
    starts = np.asarray(starts, dtype=np.float64)
    if starts.ndim != 2:
        raise FitError(f"starts must have shape (S, P), got {starts.shape}")
    ins = tuple(jnp.asarray(np.asarray(v, dtype=np.float64)) for v in inputs)
    ly = jnp.log(jnp.asarray(np.asarray(y, dtype=np.float64)))
    w = jnp.ones_like(ly) if weights is None else jnp.asarray(np.asarray(weights, dtype=np.float64))

    st = _runner(log_model, float(delta))(jnp.asarray(starts), ly, w, ins, max_iter)
    f = np.asarray(st.f)
    f = np.where(np.isfinite(f), f, np.inf)
    best = int(np.argmin(f))
    if not np.isfinite(f[best]):
        raise FitError("the objective is not finite at any start; check the data and the law")
    return {
        "theta": np.asarray(st.theta[best]),
        "objective": float(f[best]),
        "n_starts": int(len(starts)),
        "n_converged": int(np.asarray(st.converged).sum()),
        "n_at_best": int(np.sum(f <= f[best] * (1 + 1e-6))),
        "converged": bool(st.converged[best]),
        "all_f": f,
    }
