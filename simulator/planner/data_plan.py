"""Data plans: how aggressively to filter, given a budget of samples seen (quality vs quantity).

Goyal et al. 2024 (*Scaling Laws for Data Filtering*, CVPR 2024, arXiv:2404.07177) model the error
``y = 1 - accuracy`` after ``n`` samples from pools of ``S`` unique samples each, ranked by quality
(utility exponent ``b_i < 0``; repetition half-life ``tau_i`` epochs). Keeping the top ``p`` pools
(filtering level ``p``) mixes them uniformly (their Theorem 1): the combined pool has ``p S``
samples, ``tau -> p tau`` and the utility of the ``k``-th repetition is
``b_eff(k) = (1/p) sum_{i<=p} b_i 2^(-k / (p tau_i))``. With ``K = floor(n / (p S))`` (the
released code's form, :mod:`scaling_laws.data_filtering`, ``variant="code"``)::

    y_p(n) = [ (a min(n, p S) / 1e5)^b_eff(0) + d ] prod_{k=1..K} ( min(p S (k+1), n) / (p S k) )^b_eff(k)

The plan evaluates every level at every budget in one array expression (levels x budgets x
repetitions) and picks ``argmax_p (1 - y_p(n))``: aggressive filtering wins at small budgets,
larger pools once the best data would be repeated too often.

Default pools: the released T-MARS buckets (top 0-10 %, 10-20 %, 20-30 %, 30-40 % of DataComp
medium, 12.8M samples each; ImageNet-1k zero-shot), parameters from
:data:`scaling_laws.data_filtering.PUBLISHED` ``["utility"]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.planner.budget import positive
from simulator.planner.errors import PlanError

N_SCALE = 1e5  # the released code's normaliser (a n / 1e5)^b


@dataclass(frozen=True)
class Pool:
    """One quality bucket: ``b`` (< 0) utility exponent, ``tau`` (> 0) repetition half-life in epochs."""

    name: str
    b: float
    tau: float


def published_pools(count: int = 4) -> tuple[list[Pool], float, float, float, str]:
    """(pools, a, d, pool size, source) of the released T-MARS fit (first ``count`` buckets)."""
    from scaling_laws import data_filtering as df

    ps = df.PUBLISHED["utility"]
    v = ps.values
    pools = [Pool(n, float(b), float(t)) for n, b, t in zip(df.POOL_NAMES, v["b"], v["tau"], strict=True)][:count]
    return pools, float(v["a"]), float(v["d"]), float(df.POOL_SIZE), ps.source


def level_errors(b, tau, a: float, d: float, samples, pool_size: float) -> np.ndarray:
    """Error ``y_p(n)`` for every filtering level ``p = 1..P`` (rows) and budget ``n`` (columns).

    Vectorised: levels x budgets x repetitions in one numpy expression (float64).
    """
    b = np.asarray(b, dtype=np.float64)
    tau = np.asarray(tau, dtype=np.float64)
    n = np.atleast_1d(np.asarray(samples, dtype=np.float64))
    P = b.size
    p = np.arange(1, P + 1, dtype=np.float64)[:, None]                 # (P, 1)
    member = (np.arange(P)[None, :] < p)                                # (P, P): pool i in level p
    S = p * pool_size                                                   # (P, 1)
    K = int(np.floor(n.max() / pool_size)) + 1
    k = np.arange(1, K + 1, dtype=np.float64)                           # (K,)
    # b_eff(k) per level: mean over member pools of b_i 2^(-k / (p tau_i))
    decay = 2.0 ** (-k[None, None, :] / (p[:, :, None] * tau[None, :, None]))      # (P, P, K)
    bk = np.sum(np.where(member[:, :, None], b[None, :, None] * decay, 0.0), axis=1) / p  # (P, K)
    b0 = np.sum(np.where(member, b[None, :], 0.0), axis=1, keepdims=True) / p          # (P, 1)
    nn = n[None, :, None]                                               # (1, B, 1)
    Sk = S[:, :, None] * k[None, None, :]                               # (P, 1, K)
    ratio = np.minimum(S[:, :, None] * (k[None, None, :] + 1.0), nn) / Sk
    log_prod = np.sum(np.where(nn > Sk, bk[:, None, :] * np.log(np.maximum(ratio, 1e-300)), 0.0), axis=-1)
    first = (a * np.minimum(n[None, :], S) / N_SCALE) ** b0
    return (first + d) * np.exp(log_prod)


def plan_data(samples_seen, pools: list[Pool] | None = None, *, a: float | None = None, d: float | None = None,
              pool_size: float | None = None) -> dict:
    """Best filtering level for each budget of samples seen.

    ``pools`` are ordered best first (level ``p`` keeps the first ``p``); default: the released
    T-MARS buckets with their ``a``, ``d`` and pool size. Returns ``{"levels": [...], "budgets":
    [...], "accuracy": (levels x budgets), "epochs": (levels x budgets), "best_level": [...],
    "best_pools": [...], "source": ...}`` (accuracy as a fraction in [0, 1]).
    """
    n = np.atleast_1d(np.asarray(samples_seen, dtype=np.float64))
    for x in n.ravel():
        positive("samples seen", x)
    if pools is None:
        pools, a0, d0, s0, source = published_pools()
    else:
        pools = list(pools)
        a0, d0, s0, source = a, d, pool_size, "user-supplied pools"
        if not pools:
            raise PlanError("pools is empty; allowed: one or more Pool(name, b < 0, tau > 0), best first")
    a = positive("a", a0 if a is None else a)
    d = float(d0 if d is None else d)
    if not 0.0 <= d < 1.0:
        raise PlanError(f"d = {d}; allowed: an error floor in [0, 1)")
    pool_size = positive("pool size (samples)", s0 if pool_size is None else pool_size)
    for pl in pools:
        if not (np.isfinite(pl.b) and pl.b < 0):
            raise PlanError(f"pool '{pl.name}': b = {pl.b}; allowed: a utility exponent < 0")
        positive(f"pool '{pl.name}' tau (epochs)", pl.tau)
    y = level_errors([pl.b for pl in pools], [pl.tau for pl in pools], a, d, n, pool_size)
    acc = 1.0 - y
    best = np.argmax(acc, axis=0)
    levels = [{"level": i + 1, "pools": [pl.name for pl in pools[: i + 1]], "unique_samples": (i + 1) * pool_size}
              for i in range(len(pools))]
    epochs = n[None, :] / (np.arange(1, len(pools) + 1)[:, None] * pool_size)
    return {
        "levels": levels,
        "budgets": n.tolist(),
        "accuracy": acc,
        "epochs": epochs,
        "best_level": (best + 1).tolist(),
        "best_accuracy": acc[best, np.arange(n.size)].tolist(),
        "best_pools": [levels[i]["pools"] for i in best],
        "source": source,
        "law": "Goyal et al. 2024, arXiv:2404.07177 (code variant, uniform mixture of the top-p pools)",
    }
