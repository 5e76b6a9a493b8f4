"""Porian et al. 2024's compute-optimal allocation fit (arXiv:2406.19146, Sec. 2 and App. C).

For each compute budget C the IsoFLOP analysis gives an optimum N*(C) with a bootstrap standard
deviation sigma of ln N* (noise-and-interpolate, in the released summaries). The allocation law

    N*(C) = k C^a

is fitted by weighted least squares of ln N* on ln C with weights 1 / sigma^2 (the paper's
"weighted" fit). Budgets whose N* or sigma is missing are dropped (the
(rw, base, long, kaplan, standard, val) configuration has NaNs).
"""

from __future__ import annotations

import numpy as np

from fitters.errors import FitError
from fitters.result import FitResult

CONFIG_COLUMNS = ("dataset", "hparams", "warmup", "decay", "param_count", "val")


def fit_allocation(C, n_star, sigma_log=None) -> FitResult:
    """Weighted LS of ln N* = ln k + a ln C, weights 1/sigma_log^2 (unweighted when None)."""
    C = np.asarray(C, dtype=np.float64)
    n = np.asarray(n_star, dtype=np.float64)
    s = np.ones_like(C) if sigma_log is None else np.asarray(sigma_log, dtype=np.float64)
    ok = np.isfinite(C) & np.isfinite(n) & np.isfinite(s) & (C > 0) & (n > 0) & (s > 0)
    if ok.sum() < 3:
        raise FitError(f"only {int(ok.sum())} usable budgets (finite, positive C, N*, sigma); need at least 3")
    x, y, w = np.log(C[ok]), np.log(n[ok]), 1.0 / s[ok] ** 2
    X = np.column_stack([np.ones_like(x), x])
    A = X.T @ (w[:, None] * X)
    beta = np.linalg.solve(A, X.T @ (w * y))
    resid = y - X @ beta
    dof = max(len(x) - 2, 1)
    cov = np.linalg.inv(A) * float(np.sum(w * resid**2) / dof)
    return FitResult(
        law="allocation-power-law",
        params={"k": float(np.exp(beta[0])), "a": float(beta[1])},
        objective=float(np.sum(w * resid**2)),
        n_points=int(ok.sum()),
        method="weighted least squares of ln N* on ln C, weights 1/sigma(ln N*)^2 (Porian et al. 2024)",
        stderr={"a": float(np.sqrt(cov[1, 1])), "ln_k": float(np.sqrt(cov[0, 0]))},
        extra={"dropped_budgets": int((~ok).sum())},
    )


def optimal_pairs(**config):
    """Rows of ``porian-optimal-pairs`` for one configuration (keys of :data:`CONFIG_COLUMNS`)."""
    from fitters.registry import load_csv

    unknown = [k for k in config if k not in CONFIG_COLUMNS]
    if unknown:
        raise FitError(f"unknown Porian configuration key(s) {', '.join(unknown)}; use {', '.join(CONFIG_COLUMNS)}")
    df = load_csv("porian-optimal-pairs")
    df = df[df["source_file"] == "summary_df.pickle.xz"]
    for k, v in config.items():
        df = df[df[k] == v]
    if df.empty:
        raise FitError(f"no Porian optimal pairs for configuration {config}")
    return df


def fit_configuration(**config) -> FitResult:
    """:func:`fit_allocation` on the released optimal pairs of one configuration."""
    df = optimal_pairs(**config)
    res = fit_allocation(df["flops"], df["n_star"], df["n_star_log_std"])
    res.extra["config"] = dict(config)
    return res
