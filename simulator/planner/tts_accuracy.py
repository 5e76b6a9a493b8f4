"""Accuracy side of the test-time planner: the accuracy table and the coverage model fitted to it.

**Accuracy (coverage model).** Fitted to a user table of ``(model, samples, gen_len[, kv_budget],
accuracy)``, per model ``m`` (``F_max``, ``p``, ``lambda``), plus a shared KV-budget scale ``beta``
when the table has sparse rows::

    p_eff = p_m (1 - exp(-L_out / lambda_m)) (1 - exp(-B / beta))     (last factor 1 for dense)
    acc(m, n, L_out, B) = F_max,m (1 - (1 - p_eff)^n)

The outer form is the TTSPM parallel-sampling coverage ``F(N) = F_max (1 - (1-p)^N)`` (Wang et al.
2025, arXiv:2505.20522; :func:`scaling_laws.coverage.coverage`), i.e. Best-of-N with an oracle
verifier as Kinetics' solving rate (Pass@K). The length factor is our modelling assumption: a
trace truncated at ``L_out`` tokens has finished with probability ``1 - exp(-L_out / lambda)``
(Kinetics' Long-CoT evaluation truncates traces at 2K-32K tokens, App. D). Fitted by nonlinear
least squares (scipy ``least_squares``, parameters in logit / log space, a weak ridge pulling
``ln lambda_m`` to their mean so that models with one length stay identified).

:func:`load_accuracy_table` reads and checks a table (a shipped name such as ``example_accuracy`` or
a CSV path); :func:`fit_coverage` fits the model. Used by :mod:`simulator.planner.test_time_plan`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from fitters.precision import float64
from simulator.planner.errors import PlanError
from simulator.resources import shipped_or_path

REQUIRED_COLUMNS = ("model", "samples", "gen_len", "accuracy")


def load_accuracy_table(path_or_frame):
    """Read and validate an accuracy table (CSV path or DataFrame); one-line PlanError if bad.

    Columns: ``model`` (catalog name, e.g. qwen3-8b), ``samples`` (integer >= 1), ``gen_len``
    (tokens > 0), ``accuracy`` (fraction in [0, 1]); optional ``kv_budget`` (tokens; empty or 0 =
    dense) and ``source``.
    """
    import pandas as pd

    if isinstance(path_or_frame, pd.DataFrame):
        df, where = path_or_frame.copy(), "accuracy table"
    else:
        p = shipped_or_path("kinetics", path_or_frame, ".csv")  # also: example_accuracy, data/kinetics/...
        if not p.is_file():
            raise PlanError(f"accuracy table '{p}' not found; allowed: a CSV with columns {', '.join(REQUIRED_COLUMNS)}")
        try:
            df = pd.read_csv(p, comment="#")
        except Exception as err:  # parser errors are user input errors here
            raise PlanError(f"accuracy table '{p}' is not a readable CSV: {str(err).splitlines()[0]}") from None
        where = f"accuracy table '{p.name}'"
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise PlanError(f"{where}: missing column(s) {', '.join(missing)}; needs {', '.join(REQUIRED_COLUMNS)}")
    if df.empty:
        raise PlanError(f"{where} has no rows")
    df["model"] = df["model"].astype(str).str.strip().str.lower()
    for col in ("samples", "gen_len", "accuracy"):
        vals = pd.to_numeric(df[col], errors="coerce")
        if vals.isna().any():
            row = int(vals.isna().to_numpy().nonzero()[0][0]) + 1
            raise PlanError(f"{where}: column '{col}' row {row} is not a number")
        df[col] = vals.astype(float)
    acc = df["accuracy"].to_numpy()
    if ((acc < 0) | (acc > 1)).any():
        row = int(((acc < 0) | (acc > 1)).nonzero()[0][0]) + 1
        raise PlanError(f"{where}: accuracy {acc[row - 1]:g} in row {row} is outside [0, 1]; "
                        "allowed: probabilities in [0, 1] (not percent)")
    s = df["samples"].to_numpy()
    if (s < 1).any() or (s != np.round(s)).any():
        raise PlanError(f"{where}: samples must be integers >= 1")
    if (df["gen_len"].to_numpy() <= 0).any():
        raise PlanError(f"{where}: gen_len must be > 0 tokens")
    kv = pd.to_numeric(df["kv_budget"], errors="coerce").fillna(0.0) if "kv_budget" in df.columns else 0.0 * s
    if (np.asarray(kv) < 0).any():
        raise PlanError(f"{where}: kv_budget must be >= 0 (0 or empty = dense attention)")
    df["kv_budget"] = np.asarray(kv, dtype=float)
    return df


# ------------------------------------------------------------------------------ coverage model
@dataclass(frozen=True)
class CoverageFit:
    """Fitted coverage model (see module docstring). Arrays are per model, in ``models`` order."""

    models: tuple[str, ...]
    f_max: np.ndarray
    p: np.ndarray
    lam: np.ndarray
    beta: float | None  # None: no sparse rows, sparse attention not scored
    rmse: float
    rows: int

    @float64()
    def accuracy(self, model_index, samples, gen_len, kv_budget=0.0) -> np.ndarray:
        """Predicted accuracy (fraction) for arrays of configurations (``kv_budget`` 0 = dense)."""
        from scaling_laws.coverage import coverage

        i = np.asarray(model_index)
        L = np.asarray(gen_len, dtype=np.float64)
        B = np.asarray(kv_budget, dtype=np.float64)
        sparse = 1.0 if self.beta is None else np.where(B > 0, 1.0 - np.exp(-B / self.beta), 1.0)
        p_eff = self.p[i] * (1.0 - np.exp(-L / self.lam[i])) * sparse
        return np.asarray(coverage({"F_max": jnp.asarray(self.f_max[i]), "p": jnp.asarray(p_eff)},
                                   jnp.asarray(samples, dtype=jnp.float64)), dtype=np.float64)

    def describe(self) -> dict:
        return {"models": list(self.models), "F_max": self.f_max.tolist(), "p": self.p.tolist(),
                "lambda_tokens": self.lam.tolist(), "kv_beta_tokens": self.beta, "rmse": self.rmse,
                "rows": self.rows}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def fit_coverage(table, models: tuple[str, ...] | None = None, ridge: float = 1e-3) -> CoverageFit:
    """Fit the coverage model to an accuracy table (see :func:`load_accuracy_table`)."""
    from scipy.optimize import least_squares

    df = load_accuracy_table(table)
    models = tuple(models) if models is not None else tuple(dict.fromkeys(df["model"]))
    unknown = sorted(set(df["model"]) - set(models))
    if unknown:
        raise PlanError(f"accuracy table: model(s) {', '.join(unknown)} not in the family; allowed: {', '.join(models)}")
    present = [m for m in models if m in set(df["model"])]
    idx = np.array([present.index(m) for m in df["model"]])
    n = df["samples"].to_numpy()
    L = df["gen_len"].to_numpy()
    B = df["kv_budget"].to_numpy()
    y = df["accuracy"].to_numpy()
    M = len(present)
    has_sparse = bool((B > 0).any())
    if has_sparse and not (B == 0).any():
        raise PlanError("accuracy table: sparse rows (kv_budget > 0) need dense rows too")

    def unpack(th):
        f = _sigmoid(th[:M])
        p = _sigmoid(th[M:2 * M])
        lam = np.exp(th[2 * M:3 * M])
        beta = np.exp(th[3 * M]) if has_sparse else None
        return f, p, lam, beta

    def predict(th):
        f, p, lam, beta = unpack(th)
        sp = np.where(B > 0, 1.0 - np.exp(-B / beta), 1.0) if has_sparse else 1.0
        pe = p[idx] * (1.0 - np.exp(-L / lam[idx])) * sp
        return f[idx] * (1.0 - (1.0 - pe) ** n)

    def resid(th):
        lnl = th[2 * M:3 * M]
        return np.concatenate([predict(th) - y, ridge * (lnl - lnl.mean())])

    best = None
    for lam0 in (4096.0, 16384.0, 65536.0):  # three starts of the length scale
        ymax = np.array([y[idx == k].max() for k in range(M)])
        f0 = np.clip(ymax + 0.1, 0.05, 0.99)
        th0 = np.concatenate([np.log(f0 / (1 - f0)), np.zeros(M), np.full(M, math.log(lam0))]
                             + ([np.array([math.log(128.0)])] if has_sparse else []))
        r = least_squares(resid, th0, method="trf", x_scale="jac", max_nfev=4000)
        if best is None or r.cost < best.cost:
            best = r
    f, p, lam, beta = unpack(best.x)
    rmse = float(np.sqrt(np.mean((predict(best.x) - y) ** 2)))
    # models absent from the table cannot be scored
    full_f = np.full(len(models), np.nan)
    full_p = np.full(len(models), np.nan)
    full_l = np.full(len(models), np.nan)
    for k, m in enumerate(present):
        j = models.index(m)
        full_f[j], full_p[j], full_l[j] = f[k], p[k], lam[k]
    return CoverageFit(models, full_f, full_p, full_l, None if beta is None else float(beta), rmse, int(y.size))


__all__ = ["REQUIRED_COLUMNS", "CoverageFit", "fit_coverage", "load_accuracy_table"]
