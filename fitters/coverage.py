"""Least-squares fit of test-time coverage F(N) = F_max (1 - (1 - p)^N) (TTSPM, arXiv:2505.20522).

p and F_max are kept in (0, 1) by a logistic parameterisation; sum of squared errors in F is
minimised by the vectorised damped-Newton loop (:mod:`fitters.optim`) from a 4 x 3 start grid.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from fitters.errors import FitError
from fitters.optim import autodiff_derivs, lm_minimize
from fitters.precision import float64
from fitters.result import FitResult


def _sse(theta, n, f):
    p = jax.nn.sigmoid(theta[0])
    fmax = jax.nn.sigmoid(theta[1])
    return jnp.sum((fmax * (1.0 - (1.0 - p) ** n) - f) ** 2)


@float64()
def fit_coverage(N, F) -> FitResult:
    """Fit (F_max, p) to coverage F (fractions in [0, 1]) observed at N samples / rounds."""
    N = np.asarray(N, dtype=np.float64).ravel()
    F = np.asarray(F, dtype=np.float64).ravel()
    if N.size != F.size:
        raise FitError(f"N has {N.size} values but F has {F.size}")
    if N.size <= 2:
        raise FitError(f"{N.size} points are not enough to fit 2 parameters")
    if not (np.isfinite(N).all() and np.isfinite(F).all()) or (N <= 0).any() or (F < 0).any() or (F > 1).any():
        raise FitError("N must be positive and F in [0, 1]")
    logit = lambda v: np.log(v / (1 - v))  # noqa: E731
    starts = np.array(list(itertools.product(logit(np.array([0.01, 0.05, 0.2, 0.5])), logit(np.array([0.5, 0.8, 0.99])))))
    derivs = autodiff_derivs(_sse)
    st = jax.vmap(lambda t: lm_minimize(derivs, t, jnp.asarray(N), jnp.asarray(F), max_iter=200, f_scale=1e-12))(
        jnp.asarray(starts)
    )
    f = np.where(np.isfinite(np.asarray(st.f)), np.asarray(st.f), np.inf)
    i = int(np.argmin(f))
    th = np.asarray(st.theta[i])
    sig = 1 / (1 + np.exp(-th))
    return FitResult(
        law="coverage",
        params={"F_max": float(sig[1]), "p": float(sig[0])},
        objective=float(f[i]),
        n_points=int(N.size),
        method="least squares in F, logistic parameters, damped Newton from 12 starts",
        n_starts=len(starts),
        n_converged=int(np.asarray(st.converged).sum()),
        n_at_best=int(np.sum(f <= f[i] * (1 + 1e-6) + 1e-30)),
        converged=bool(st.converged[i]),
    )
