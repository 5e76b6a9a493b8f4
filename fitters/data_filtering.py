"""Grid-search fit of the data-filtering law (Goyal et al. 2024, arXiv:2404.07177; released
``grid_search.py`` / ``ablations/finding_a.py``).

The authors found scipy optimisers unstable on this law and used a plain grid search of squared
error in error space: b in linspace(-0.005, -0.5, 100), tau in linspace(1, 10, 100), d fixed at
0.1, and the scale a shared across pools chosen by an outer sweep over linspace(1e-4, a_upper,
100). They shuffled the grid and stopped after 100,000 evaluations; here the whole grid is
evaluated at once (``jax.vmap`` over (a, b, tau), float64), which can only find an equal or better
point. Observations: error y = 1 - accuracy after n samples from a pool of ``pool_size`` samples.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from fitters.errors import FitError
from fitters.precision import float64
from fitters.result import FitResult
from scaling_laws import data_filtering as law

B_GRID = np.linspace(-0.005, -0.5, 100)
TAU_GRID = np.linspace(1.0, 10.0, 100)


@float64()
def fit_pools_grid(
    n,
    errors,
    pool_size: float = law.POOL_SIZE,
    *,
    a_grid=None,
    b_grid=B_GRID,
    tau_grid=TAU_GRID,
    d: float = 0.1,
    variant: str = "code",
) -> FitResult:
    """Fit per-pool (b, tau) and a shared a by exhaustive grid search.

    Args:
        n: samples seen at each observation, shape (m,).
        errors: observed errors (1 - accuracy), shape (pools, m) or (m,) for one pool.
        a_grid: values of the shared scale a (default linspace(1e-4, 0.05, 100)); a single value
            fixes a.
    Returns parameters ``a``, ``d`` and per-pool ``b_i``, ``tau_i``; ``objective`` = SSE summed
    over pools.
    """
    n = np.asarray(n, dtype=np.float64).ravel()
    Y = np.atleast_2d(np.asarray(errors, dtype=np.float64))
    if Y.shape[1] != n.size:
        raise FitError(f"errors have {Y.shape[1]} observations per pool but n has {n.size}")
    if not (np.isfinite(n).all() and np.isfinite(Y).all()) or (n <= 0).any():
        raise FitError("n must be positive and finite and errors finite")
    if n.size < 2:
        raise FitError(f"{n.size} observation(s) per pool cannot determine b and tau; need at least 2")
    a_grid = np.linspace(1e-4, 0.05, 100) if a_grid is None else np.atleast_1d(np.asarray(a_grid, dtype=np.float64))
    k_max = int(np.floor(n.max() / pool_size)) + 1
    A, B, T = np.meshgrid(a_grid, np.asarray(b_grid), np.asarray(tau_grid), indexing="ij")
    pred = jax.jit(
        jax.vmap(lambda a, b, t: law.error(a, b, t, d, jnp.asarray(n), pool_size, variant=variant, k_max=k_max))
    )(jnp.asarray(A.ravel()), jnp.asarray(B.ravel()), jnp.asarray(T.ravel()))  # (G, m)
    sse = jnp.sum((pred[:, None, :] - jnp.asarray(Y)[None, :, :]) ** 2, axis=-1)  # (G, pools)
    sse = np.asarray(sse).reshape(len(a_grid), -1, Y.shape[0])  # (a, b*tau, pools)
    best_bt = sse.argmin(axis=1)  # (a, pools)
    per_a = np.take_along_axis(sse, best_bt[:, None, :], axis=1)[:, 0, :].sum(axis=1)
    ia = int(np.argmin(per_a))
    nb, nt = len(b_grid), len(tau_grid)
    params = {"a": float(a_grid[ia]), "d": float(d)}
    for i in range(Y.shape[0]):
        ib, it = divmod(int(best_bt[ia, i]), nt)
        params[f"b_{i}"] = float(np.asarray(b_grid)[ib])
        params[f"tau_{i}"] = float(np.asarray(tau_grid)[it])
    del nb
    return FitResult(
        law="data-filtering",
        params=params,
        objective=float(per_a[ia]),
        n_points=int(Y.size),
        method=(
            f"exhaustive grid search of SSE in error space ({len(a_grid)} a x {len(b_grid)} b x {len(tau_grid)} tau), "
            f"a shared across {Y.shape[0]} pool(s), d fixed at {d:g}, {variant} variant (Goyal et al. 2024)"
        ),
        n_starts=int(A.size),
    )
