"""ParScale fit (Chen et al. 2025, arXiv:2505.10475), the authors' own procedure.

Law: L = E + (A 1e9 / (N (k ln P + 1)))^alpha (:mod:`scaling_laws.parscale`), fitted as

    ln L = LSE( e, alpha (a + ln 1e9 - ln N - ln(k ln P + 1)) ),   E = e^e, A = e^a,

by sum-Huber(delta = 1e-3) on ln L from the authors' init grid (``parametric_fit.py`` @cd6acb4):
E0 in e^{-1, -0.5, 0}, A0 in e^{-4, -2, 0, 2, 4}, alpha0 in {0, 0.5, 1, 1.5, 2}, k0 in {0.2, 0.4,
0.6, 0.8} (300 starts, vectorised). They used L-BFGS-B with bounds > 1e-8; here damped Newton,
reporting a warning when the optimum has a parameter <= 0.
"""

from __future__ import annotations

import itertools

import jax.numpy as jnp
import numpy as np

from fitters.chinchilla import check_points
from fitters.errors import FitError
from fitters.generic import multistart_huber_log
from fitters.result import FitResult
from scaling_laws import parscale as law

DATASETS = ("stack_v2_python", "pile")


def _log_model(theta, N, P):
    e, a, alpha, k = theta[0], theta[1], theta[2], theta[3]
    t = alpha * (a + jnp.log(1e9) - jnp.log(N) - jnp.log(k * jnp.log(P) + 1.0))
    m = jnp.maximum(e, t)
    return m + jnp.log(jnp.exp(e - m) + jnp.exp(t - m))


def init_grid() -> np.ndarray:
    """The authors' 300-point start grid over (ln E, ln A, alpha, k)."""
    return np.array(
        list(itertools.product([-1.0, -0.5, 0.0], [-4.0, -2.0, 0.0, 2.0, 4.0], [0.0, 0.5, 1.0, 1.5, 2.0], [0.2, 0.4, 0.6, 0.8])),
        dtype=np.float64,
    )


def fit_parscale(N, P, L, *, delta: float = 1e-3) -> FitResult:
    """Fit E, A, alpha, k to losses L at non-embedding sizes N and stream counts P."""
    pts = check_points(4, N=N, P=P, L=L)
    if np.any(pts["P"] < 1):
        raise FitError("column 'P' (parallel streams) must be >= 1")
    out = multistart_huber_log(_log_model, init_grid(), (pts["N"], pts["P"]), pts["L"], delta=delta)
    e, a, alpha, k = (float(v) for v in out["theta"])
    params = {"E": float(np.exp(e)), "A": float(np.exp(a)), "alpha": alpha, "k": k}
    with_p = law.loss(params, pts["N"], pts["P"])
    ss_res = float(np.sum((np.asarray(with_p) - pts["L"]) ** 2))
    ss_tot = float(np.sum((pts["L"] - pts["L"].mean()) ** 2))
    res = FitResult(
        law="parscale",
        params=params,
        objective=out["objective"],
        n_points=int(pts["L"].size),
        method=f"sum Huber(delta={delta:g}) on ln L, damped Newton from the authors' {out['n_starts']}-point grid, float64",
        n_starts=out["n_starts"],
        n_converged=out["n_converged"],
        n_at_best=out["n_at_best"],
        converged=out["converged"],
        extra={"r2": 1.0 - ss_res / ss_tot},
    )
    if not res.converged:
        res.warnings.append("best start did not converge")
    if min(alpha, k) <= 0:
        res.warnings.append("a fitted parameter is <= 0 (outside the authors' bounds)")
    return res


def released_points(dataset: str):
    """(N, P, L) of the released ParScale losses for ``stack_v2_python`` or ``pile``."""
    from fitters.registry import load_csv

    if dataset not in DATASETS:
        raise FitError(f"unknown ParScale dataset {dataset!r}; use one of {', '.join(DATASETS)}")
    df = load_csv("parscale-losses")
    df = df[df["dataset"] == dataset]
    return (
        df["non_embedding_params_incl_parscale"].to_numpy(np.float64),
        df["P"].to_numpy(np.float64),
        df["loss"].to_numpy(np.float64),
    )
