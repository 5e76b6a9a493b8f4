"""Fit Chinchilla Approach 3 (Hoffmann et al. 2022, App. D.2) the way Hoffmann / Epoch did, vectorised.

Objective: sum_i Huber_1e-3( LSE(a - alpha ln N_i, b - beta ln D_i, e) - ln L_i ) (see
:mod:`fitters.huber`), minimised from every point of Hoffmann's 4,500-start grid
(:data:`scaling_laws.chinchilla.GRID_A` ...) by a damped-Newton (Levenberg-Marquardt) step with
analytic derivatives (:mod:`fitters.optim`), vmapped over starts; the best objective wins.
Successive halving: every start takes ``screen_iter`` (10) steps, then the ``keep`` (128) lowest
continue to convergence; ``keep=None`` runs every start to convergence. ``n_converged`` counts
starts that met the convergence test, so screened-out starts count only if they converged within
the screen (``extra["n_screened_out"]`` says how many were stopped). Hoffmann used L-BFGS; on the
240 Epoch points both reach the same optimum (objective 1.018274e-3, Besiroglu et al. 2024's own
L-BFGS-B grid result).

Bootstrap: B resamples with replacement expressed as multiplicity weights (shape (B, n)), each
refitted from the full-data optimum (warm start, as Epoch's notebook does), all in one vmap.
Standard errors are the sample standard deviations of the B estimates; intervals are percentiles.

Precision: the public functions run in float64 (``@float64()``, :mod:`fitters.precision`: a scoped
``jax.enable_x64``, so the rest of the process keeps JAX's float32 default); results leave as Python floats / numpy arrays.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from fitters.errors import FitError
from fitters.huber import DELTA, lse_huber_derivs
from fitters.optim import lm_minimize
from fitters.precision import float64
from fitters.result import FitResult
from scaling_laws import chinchilla as law

PARAMS = law.PARAM_NAMES


def hoffmann_grid() -> np.ndarray:
    """The 4,500 starts (a, b, e, alpha, beta) of Hoffmann et al. 2022, App. D.2."""
    return np.array(
        list(itertools.product(law.GRID_A, law.GRID_B, law.GRID_E, law.GRID_ALPHA, law.GRID_BETA)), dtype=np.float64
    )


def check_points(n_params: int, **cols) -> dict[str, np.ndarray]:
    """Arrays as float64; FitError for NaN / non-positive values, unequal lengths or too few points."""
    out = {}
    length = None
    for name, v in cols.items():
        a = np.asarray(v, dtype=np.float64).ravel()
        if length is None:
            length = a.size
        elif a.size != length:
            raise FitError(f"column {name!r} has {a.size} values, expected {length} like the other columns")
        bad = ~np.isfinite(a)
        if bad.any():
            raise FitError(f"column {name!r} has {int(bad.sum())} NaN/inf value(s) (first at row {int(np.argmax(bad))})")
        if (a <= 0).any():
            i = int(np.argmax(a <= 0))
            raise FitError(f"column {name!r} must be positive; row {i} is {a[i]:g}")
        out[name] = a
    if length is not None and length <= n_params:
        raise FitError(f"{length} data points are not enough to fit {n_params} parameters (need more than {n_params})")
    return out


def epoch_points(drop_largest: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, D, L) of the Epoch-digitised Chinchilla runs (dataset ``epoch-chinchilla``).

    D = C / (6 N) is imputed from the plotted FLOP, as Epoch's notebook does. ``drop_largest=5``
    removes the 5 highest-loss points (Besiroglu et al. 2024, Sec. 2: 240 points kept); 0 keeps all 245.
    """
    from fitters.registry import load_csv

    df = load_csv("epoch-chinchilla")
    if drop_largest:
        cut = np.sort(df["loss"].to_numpy())[-drop_largest]
        df = df[df["loss"] < cut]
    N = df["Model Size"].to_numpy(np.float64)
    C = df["Training FLOP"].to_numpy(np.float64)
    return N, C / (6.0 * N), df["loss"].to_numpy(np.float64)


@jax.jit
def _lm_batch(theta0, W, x, z, y, delta, max_iter):
    """Damped-Newton fits from starts ``theta0`` (S, 5) with point weights ``W`` (S, n), vmapped."""
    run = jax.vmap(lambda t, w: lm_minimize(lse_huber_derivs, t, x, z, y, w, delta, max_iter=max_iter))
    return run(theta0, W)


def bootstrap_weights(key, n_resamples: int, n_points: int) -> jax.Array:
    """Multiplicity weights (B, n) of B resamples of n points drawn with replacement."""
    idx = jax.random.randint(key, (n_resamples, n_points), 0, n_points)
    rows = jnp.arange(n_resamples)[:, None]
    return jnp.zeros((n_resamples, n_points), jnp.float64).at[rows, idx].add(1.0)


@float64()
def fit_chinchilla(
    N,
    D,
    L,
    *,
    starts: np.ndarray | None = None,
    delta: float = DELTA,
    bootstrap: int = 0,
    seed: int = 0,
    max_iter: int = 300,
    screen_iter: int = 10,
    keep: int | None = 128,
    bootstrap_max_iter: int = 100,
) -> FitResult:
    """Fit L = E + A/N^alpha + B/D^beta by sum-Huber on ln L from a multi-start grid.

    Args:
        N, D, L: parameters, tokens and loss (nats/token), positive and finite.
        starts: (S, 5) starting points (a, b, e, alpha, beta); default Hoffmann's 4,500-point grid.
        delta: Huber threshold on ln L (Hoffmann et al.: 1e-3).
        bootstrap: number of bootstrap resamples (0 = none).
        seed: PRNG seed of the resampling.
        max_iter: iteration cap of a start (and of every start when ``keep`` is None).
        screen_iter, keep: successive-halving screen: every start takes ``screen_iter`` steps,
            then the ``keep`` best (lowest objective) continue to ``max_iter``. ``keep=None`` runs
            every start to convergence (~20x slower; on the Epoch data both give the same optimum,
            which the tests check).
        bootstrap_max_iter: iteration cap of a bootstrap refit (warm-started at the optimum).
    """
    pts = check_points(5, N=N, D=D, L=L)
    if np.ptp(pts["L"]) == 0:
        raise FitError(f"column 'L' is constant ({pts['L'][0]:g} in every row): the exponents alpha, beta cannot be "
                       "identified; allowed: losses that vary with N and D")
    grid = hoffmann_grid() if starts is None else np.asarray(starts, dtype=np.float64)
    if grid.ndim != 2 or grid.shape[1] != 5:
        raise FitError(f"starts must have shape (S, 5) for (a, b, e, alpha, beta), got {grid.shape}")
    n = int(pts["N"].size)
    # Pad the points (to >= 256, a multiple of 64) with zero weight: fits of up to 256 points then
    # share one compiled program (compilation dominates the run time on CPU).
    n_pad = max(256, -(-n // 64) * 64)
    padded = {k: np.concatenate([v, np.full(n_pad - n, v[0])]) for k, v in pts.items()}
    w_row = np.concatenate([np.ones(n), np.zeros(n_pad - n)])
    x = jnp.log(jnp.asarray(padded["N"]))
    z = jnp.log(jnp.asarray(padded["D"]))
    y = jnp.log(jnp.asarray(padded["L"]))
    S = len(grid)
    keep_n = S if keep is None else max(1, min(int(keep), S))
    # Stage 1 (screening): every start takes `screen_iter` damped-Newton steps.
    s1 = _lm_batch(jnp.asarray(grid), jnp.broadcast_to(jnp.asarray(w_row), (S, n_pad)), x, z, y, delta, screen_iter if keep_n < S else max_iter)
    f1 = np.where(np.isfinite(np.asarray(s1.f)), np.asarray(s1.f), np.inf)
    conv1 = np.asarray(s1.converged)
    if keep_n < S:
        # Stage 2: the `keep` best starts continue to convergence.
        idx = np.argsort(f1, kind="stable")[:keep_n]
        s2 = _lm_batch(s1.theta[idx], jnp.broadcast_to(jnp.asarray(w_row), (keep_n, n_pad)), x, z, y, delta, max_iter)
        f = f1.copy()
        f[idx] = np.where(np.isfinite(np.asarray(s2.f)), np.asarray(s2.f), np.inf)
        conv = conv1.copy()
        conv[idx] = np.asarray(s2.converged)
        thetas = np.asarray(s1.theta).copy()
        thetas[idx] = np.asarray(s2.theta)
    else:
        f, conv, thetas = f1, conv1, np.asarray(s1.theta)
    best = int(np.argmin(f))
    theta = thetas[best]
    fbest = float(f[best])
    screen = f"; all take {screen_iter} steps, the best {keep_n} continue" if keep_n < S else ""
    res = FitResult(
        law="chinchilla",
        params=law.theta_to_params(theta),
        objective=fbest,
        n_points=n,
        method=(
            f"sum Huber(delta={delta:g}) on ln L, LSE form; damped Newton from {S} starts{screen}; float64"
        ),
        n_starts=S,
        n_converged=int(conv.sum()),
        n_at_best=int(np.sum(f <= fbest * (1 + 1e-6))),
        converged=bool(conv[best]),
    )
    if not res.converged:
        res.warnings.append(f"best start did not converge in {max_iter} iterations (gradient not ~0)")
    p = res.params
    aN, bD = law.allocation_exponents(p)
    res.extra.update({"a_N": aN, "b_D": bD, "theta": theta.tolist(), "n_screened_out": S - keep_n})
    if bootstrap:
        W = bootstrap_weights(jax.random.PRNGKey(seed), int(bootstrap), n)
        W = jnp.concatenate([W, jnp.zeros((int(bootstrap), n_pad - n))], axis=1)
        t0 = jnp.broadcast_to(jnp.asarray(theta), (int(bootstrap), 5))
        bs = _lm_batch(t0, W, x, z, y, delta, bootstrap_max_iter)
        th = np.asarray(bs.theta)
        ok = np.asarray(bs.converged) & np.isfinite(th).all(axis=1)
        samples = {
            "E": np.exp(th[:, 2]),
            "A": np.exp(th[:, 0]),
            "B": np.exp(th[:, 1]),
            "alpha": th[:, 3],
            "beta": th[:, 4],
        }
        samples["a_N"] = samples["beta"] / (samples["alpha"] + samples["beta"])
        res.samples = {k: v[ok] for k, v in samples.items()}
        res.stderr = {k: float(np.std(v, ddof=1)) for k, v in res.samples.items()}
        res.ci = {k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for k, v in res.samples.items()}
        res.extra["bootstrap_resamples"] = int(bootstrap)
        res.extra["bootstrap_converged"] = int(ok.sum())
        if ok.sum() < bootstrap:
            res.warnings.append(f"{int(bootstrap - ok.sum())} of {bootstrap} bootstrap refits did not converge (left out)")
    return res


@float64()
def objective(params, N, D, L, delta: float = DELTA) -> float:
    """sum-Huber objective of a given parameter set ({E, A, B, alpha, beta}) on (N, D, L)."""
    pts = check_points(0, N=N, D=D, L=L)
    th = law.params_to_theta({k: jnp.float64(v) for k, v in params.items()})
    x, z, y = (jnp.log(jnp.asarray(pts[k])) for k in ("N", "D", "L"))
    f, _, _ = lse_huber_derivs(th, x, z, y, jnp.ones_like(x), delta)
    return float(f)


@float64()
def heldout_error(params, N, D, L) -> dict[str, float]:
    """Extrapolation error of ``params`` on held-out points: mean / max |Lhat/L - 1| and RMSE (nats)."""
    pts = check_points(0, N=N, D=D, L=L)
    pred = np.asarray(law.loss(params, pts["N"], pts["D"]))
    rel = pred / pts["L"] - 1.0
    return {
        "mean_abs_rel_error": float(np.mean(np.abs(rel))),
        "max_abs_rel_error": float(np.max(np.abs(rel))),
        "rmse": float(np.sqrt(np.mean((pred - pts["L"]) ** 2))),
    }


def fit_and_extrapolate(N, D, L, train_mask, **kwargs) -> FitResult:
    """Fit on ``train_mask`` points and report :func:`heldout_error` on the rest in ``extra``."""
    m = np.asarray(train_mask, dtype=bool)
    N, D, L = (np.asarray(v, dtype=np.float64) for v in (N, D, L))
    if m.shape != N.shape:
        raise FitError(f"train_mask has shape {m.shape}, expected {N.shape}")
    if m.all() or not m.any():
        raise FitError("train_mask must leave both training and held-out points")
    res = fit_chinchilla(N[m], D[m], L[m], **kwargs)
    res.extra["heldout"] = heldout_error(res.params, N[~m], D[~m], L[~m])
    res.extra["heldout_points"] = int((~m).sum())
    return res
