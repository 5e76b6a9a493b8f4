"""Step Law fitting procedure (Li et al. 2025, arXiv:2503.04715, Sec. 3; released ``code/fit_tool.py``).

1. In every (N, D) cell take the minimum smoothed final training loss L_min.
2. Keep every (eta, B) run with |L / L_min - 1| < 0.25 % (``tolerance``).
3. B in tokens = batch sequences x 2048.
4. OLS in logs: ln eta = c_eta + coefN ln N + coefD ln D;  ln B = c_B + coefB ln D.
5. Bootstrap: 1,000 resamples (with replacement) of the kept runs; the reported law is the mean
   of the bootstrap coefficients, its SE their standard deviation.

The bootstrap is vectorised: each resample is a multiplicity-weight vector, and all weighted
normal equations (X^T W X) beta = X^T W y are solved in one batched ``numpy.linalg.solve``.
:func:`near_optimality` measures how close a law's (eta*, B*) lands to each cell's grid optimum.
"""

from __future__ import annotations

import math

import numpy as np

from fitters.errors import FitError
from fitters.result import FitResult

SEQ_LEN = 2048  # Step Law runs: sequence length 2048 (SOURCE.md; exp names)
REQUIRED = ("N", "D", "lr", "bs", "smooth loss")


def _check_frame(df):
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise FitError(f"Step Law data lacks column(s) {', '.join(repr(c) for c in missing)}; needs {', '.join(REQUIRED)}")
    vals = df[list(REQUIRED)].to_numpy(np.float64)
    bad = ~np.isfinite(vals) | (vals <= 0)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise FitError(f"column {REQUIRED[c]!r} must be positive and finite; row {int(r)} is {vals[r, c]!r}")


def near_optimal_runs(df, tolerance: float = 0.0025):
    """Rows within ``tolerance`` (relative) of their (N, D) cell's minimum smoothed loss."""
    try:
        tol = float(tolerance)
    except (TypeError, ValueError):
        tol = math.nan
    if isinstance(tolerance, bool) or not math.isfinite(tol) or tol <= 0:
        raise FitError(f"tolerance = {tolerance!r}; allowed: a finite relative loss > 0 (e.g. 0.0025)")
    _check_frame(df)
    lmin = df.groupby(["N", "D"])["smooth loss"].transform("min")
    return df[(df["smooth loss"] / lmin - 1.0).abs() < tolerance]


def _wls(X, y, W):
    """Weighted least squares for each row of W (B, m): returns coefficients (B, p)."""
    XtW = np.einsum("mp,bm->bpm", X, W)
    A = XtW @ X
    rhs = XtW @ y
    return np.linalg.solve(A, rhs[..., None])[..., 0]


def fit_steplaw(df, *, tolerance: float = 0.0025, bootstrap: int = 1000, seed: int = 0, seq_len: int = SEQ_LEN) -> FitResult:
    """Fit eta*(N, D) and B*(D) from an LR x batch-size grid (columns N, D, lr, bs, smooth loss)."""
    kept = near_optimal_runs(df, tolerance)
    m = len(kept)
    if m <= 3:
        raise FitError(f"only {m} near-optimal runs; need more than 3 to fit ln eta ~ ln N + ln D")
    lnN = np.log(kept["N"].to_numpy(np.float64))
    lnD = np.log(kept["D"].to_numpy(np.float64))
    ln_lr = np.log(kept["lr"].to_numpy(np.float64))
    ln_b = np.log(kept["bs"].to_numpy(np.float64) * seq_len)
    X_lr = np.column_stack([np.ones(m), lnN, lnD])
    X_b = np.column_stack([np.ones(m), lnD])
    if np.linalg.matrix_rank(X_lr) < 3:
        raise FitError("near-optimal runs span fewer than 2 distinct N or D values; cannot fit the exponents")
    ones = np.ones((1, m))
    point_lr = _wls(X_lr, ln_lr, ones)[0]
    point_b = _wls(X_b, ln_b, ones)[0]
    names = ("lr_intercept", "lr_coefN", "lr_coefD", "bs_intercept", "bs_coefD")
    res = FitResult(
        law="steplaw",
        params=dict(zip(names, [*point_lr, *point_b], strict=True)),
        objective=float(np.sum((X_lr @ point_lr - ln_lr) ** 2) + np.sum((X_b @ point_b - ln_b) ** 2)),
        n_points=m,
        method=f"OLS in logs on runs within {tolerance:.2%} of each cell's best smoothed loss (Li et al. 2025)",
        extra={"n_runs": int(len(df)), "n_cells": int(df.groupby(['N', 'D']).ngroups), "point_estimate": None},
    )
    res.extra["point_estimate"] = dict(res.params)
    if bootstrap:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, m, size=(int(bootstrap), m))
        W = np.zeros((int(bootstrap), m))
        np.add.at(W, (np.arange(int(bootstrap))[:, None], idx), 1.0)
        with np.errstate(all="ignore"):
            c_lr = _wls(X_lr, ln_lr, W)
            c_b = _wls(X_b, ln_b, W)
        samples = np.column_stack([c_lr, c_b])
        ok = np.isfinite(samples).all(axis=1)
        samples = samples[ok]
        res.samples = {k: samples[:, i] for i, k in enumerate(names)}
        # The paper reports the bootstrap mean as its law.
        res.params = {k: float(v.mean()) for k, v in res.samples.items()}
        res.stderr = {k: float(v.std(ddof=1)) for k, v in res.samples.items()}
        res.ci = {k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for k, v in res.samples.items()}
        res.extra["bootstrap_resamples"] = int(bootstrap)
        res.method += f"; mean of {int(ok.sum())} bootstrap refits"
    return res


def near_optimality(df, params, *, seq_len: int = SEQ_LEN):
    """Per (N, D) cell: the run nearest (Euclidean in ln eta, ln B_tokens) to the law's prediction.

    Returns a DataFrame with N, D, lr_pred, batch_tokens_pred, the chosen run's lr/bs, its smoothed
    loss, the cell minimum and ``gap`` = L_chosen / L_min - 1.
    """
    import pandas as pd

    _check_frame(df)
    N = df["N"].to_numpy(np.float64)
    D = df["D"].to_numpy(np.float64)
    lr_pred = np.exp(params["lr_intercept"] + params["lr_coefN"] * np.log(N) + params["lr_coefD"] * np.log(D))
    b_pred = np.exp(params["bs_intercept"] + params["bs_coefD"] * np.log(D))
    dist = (np.log(df["lr"].to_numpy(np.float64)) - np.log(lr_pred)) ** 2 + (
        np.log(df["bs"].to_numpy(np.float64) * seq_len) - np.log(b_pred)
    ) ** 2
    work = df.assign(_dist=dist, lr_pred=lr_pred, batch_tokens_pred=b_pred)
    lmin = work.groupby(["N", "D"])["smooth loss"].min()
    chosen = work.loc[work.groupby(["N", "D"])["_dist"].idxmin()]
    out = pd.DataFrame(
        {
            "N": chosen["N"].to_numpy(),
            "D": chosen["D"].to_numpy(),
            "lr_pred": chosen["lr_pred"].to_numpy(),
            "batch_tokens_pred": chosen["batch_tokens_pred"].to_numpy(),
            "lr": chosen["lr"].to_numpy(),
            "bs": chosen["bs"].to_numpy(),
            "loss": chosen["smooth loss"].to_numpy(),
        }
    )
    out["loss_min"] = lmin.loc[list(zip(out["N"], out["D"], strict=True))].to_numpy()
    out["gap"] = out["loss"] / out["loss_min"] - 1.0
    return out
