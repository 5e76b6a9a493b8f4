"""Data-filtering scaling law with repetition (Goyal et al. 2024, "Scaling Laws for Data Filtering").

Error y = 1 - accuracy after n samples drawn from a pool of S unique samples (one epoch = S
samples). The utility exponent b < 0 of a sample decays with repetition: on its (k+1)-th visit a
sample has utility b * 2^(-k/tau) (half-life tau epochs). Goyal, Maini, Lipton, Raghunathan,
Kolter, CVPR 2024, arXiv:2404.07177, Eqs. 2-3; released code locuslab/scaling_laws_data_filtering
@251f695 (``estimate_best_pool.py``). With K = floor(n / S):

* ``variant="code"`` (what produced the released parameters; d inside the product)::

      y(n) = [ (a min(n, S) / 1e5)^b + d ] * prod_{k=1..K} ( min(S (k+1), n) / (S k) )^(b 2^(-k/tau))

* ``variant="paper"`` (the paper's typography, additive irreducible error)::

      y(n) = (a min(n, S) / 1e5)^b * prod_{k=1..K} ( ... )^(b 2^(-k/tau)) + d

The two are *not* interchangeable with the released parameters; only ``"code"`` reproduces the
authors' numbers. Mixing p pools uniformly (Theorem 1): the combined pool has p S samples, each
sample is repeated p times less often (tau -> p tau) and the per-epoch utility is the mean
b_eff(k) = (1/p) sum_i b_i 2^(-k / (p tau_i)).

Baseline "effective data" law (Muennighoff-style; ``id = tmars_imagenet1k_data`` in the release):
D_eff = sum_k (new samples in pass k) 2^(-k/tau), y = (a D_eff / 1e5)^b + d.
"""

from __future__ import annotations

import numpy as np

from scaling_laws._lazy import LazyModule, lazy_jit
from scaling_laws.base import Law, ParamSet, frozen, register_law
from scaling_laws.errors import LawError

jax = LazyModule("jax")
jnp = LazyModule("jax.numpy")

CITATION = "Goyal, Maini, Lipton, Raghunathan, Kolter 2024, Scaling Laws for Data Filtering, CVPR 2024, arXiv:2404.07177"
_RELEASE = "locuslab/scaling_laws_data_filtering @251f695 results/parameter_values.jsonl"
N_SCALE = 1e5  # the code's normaliser: (a n / 1e5)^b
POOL_SIZE = 12.8e6  # DataComp-medium T-MARS bucket of 10 % = 12.8M samples

POOL_NAMES = ("tmars_top0to10p", "tmars_top10to20p", "tmars_top20to30p", "tmars_top30to40p", "tmars_top0to40p_random25p")

PUBLISHED = frozen(
    {
        "utility": ParamSet(
            "utility",
            {
                "a": 0.025,
                "b": (-0.16, -0.125, -0.1, -0.085, -0.12),
                "tau": (6.7272727272727275, 8.545454545454547, 5.2727272727272725, 2.2727272727272725, 6.0),
                "d": 0.1,
            },
            f"{CITATION}; fitted values released in {_RELEASE} (id tmars_imagenet1k_utility)",
            notes="pools: " + ", ".join(POOL_NAMES) + "; ImageNet-1k zero-shot error; n in samples",
        ),
        "effective-data": ParamSet(
            "effective-data",
            {
                "a": 0.022,
                "b": (-0.18227272727272728, -0.14484848484848487, -0.13530303030303031, -0.09757575757575758, -0.141969696969697),
                "tau": (4.0, 4.363636363636363, 2.909090909090909, 1.4545454545454546, 3.4545454545454546),
                "d": 0.1,
            },
            f"{CITATION}; baseline values released in {_RELEASE} (id tmars_imagenet1k_data; d not stored, 0.1 as the code)",
        ),
    }
)


def _k_max(n, pool_size, k_max):
    if k_max is not None:
        return int(k_max)
    try:
        return int(np.floor(np.max(np.asarray(n, dtype=np.float64)) / pool_size)) + 1
    except Exception as err:  # traced input
        raise LawError("k_max must be given when n is traced (max repetitions, floor(max n / pool size) + 1)") from err


def error(a, b, tau, d, n, pool_size=POOL_SIZE, *, variant: str = "code", k_max: int | None = None):
    """Error y(n) of a uniform mixture of the pools with utilities ``b`` and half-lives ``tau``.

    ``b`` and ``tau`` are scalars (one pool) or 1-D arrays (p pools mixed uniformly, combined
    size p * ``pool_size``); ``n`` is the number of samples seen (any shape).
    """
    if variant not in ("code", "paper"):
        raise LawError(f"variant must be 'code' or 'paper', got {variant!r}")
    n = jnp.asarray(n, dtype=jnp.result_type(float))
    p = int(np.shape(b)[-1]) if np.ndim(b) else 1
    km = _k_max(n, pool_size * p, k_max)
    return _error(a, b, tau, d, n, pool_size, variant, km)


@lazy_jit(static_argnames=("variant", "km"))
def _error(a, b, tau, d, n, pool_size, variant, km):
    b = jnp.atleast_1d(jnp.asarray(b, dtype=jnp.result_type(float)))
    tau = jnp.atleast_1d(jnp.asarray(tau, dtype=jnp.result_type(float)))
    p = b.shape[-1]
    S = pool_size * p
    k = jnp.arange(1, km + 1, dtype=n.dtype)  # (K,)
    b0 = jnp.mean(b, axis=-1)
    bk = jnp.mean(b[..., None, :] * 2.0 ** (-k[:, None] / (p * tau[..., None, :])), axis=-1)  # (..., K)
    nn = n[..., None]
    ratio = jnp.minimum(S * (k + 1), nn) / (S * k)
    log_prod = jnp.sum(jnp.where(nn > S * k, bk * jnp.log(jnp.maximum(ratio, 1e-300)), 0.0), axis=-1)
    first = (a * jnp.minimum(n, S) / N_SCALE) ** b0
    if variant == "code":
        return (first + d) * jnp.exp(log_prod)
    return first * jnp.exp(log_prod) + d


def error_effective_data(a, b, tau, d, n, pool_size=POOL_SIZE, *, k_max: int | None = None):
    """Baseline law: y = (a D_eff / 1e5)^b + d, D_eff = sum_k (new samples in pass k) 2^(-k/tau)."""
    n = jnp.asarray(n, dtype=jnp.result_type(float))
    km = _k_max(n, pool_size, k_max)
    k = jnp.arange(0, km + 1, dtype=n.dtype)
    nn = n[..., None]
    seen = jnp.clip(nn - pool_size * k, 0.0, pool_size)
    d_eff = jnp.sum(seen * 2.0 ** (-k / tau), axis=-1)
    return (a * d_eff / N_SCALE) ** b + d


def accuracy_table(params, samples, n_pools=(1, 2, 3, 4), pool_size=POOL_SIZE, variant="code"):
    """Accuracy (%) of mixing the first p pools (p in ``n_pools``) at each budget: (budgets, pools)."""
    b = np.asarray(params["b"], dtype=np.float64)
    tau = np.asarray(params["tau"], dtype=np.float64)
    cols = [
        100.0 * (1.0 - error(params["a"], b[:p], tau[:p], params["d"], samples, pool_size, variant=variant))
        for p in n_pools
    ]
    return jnp.stack(cols, axis=-1)


def _fn(params, n, pool_size=POOL_SIZE):
    return error(params["a"], params["b"], params["tau"], params["d"], n, pool_size)


LAW = register_law(
    Law(
        name="data-filtering",
        description="Goyal et al. 2024 utility law with repetition half-life (error = 1 - accuracy)",
        fn=_fn,
        param_names=("a", "b", "tau", "d"),
        bounds=frozen({"a": (0.0, 10.0), "b": (-1.0, 0.0), "tau": (0.0, 100.0), "d": (0.0, 1.0)}),
        inputs=frozen({"n": "samples seen", "pool_size": "unique samples per pool (epoch)"}),
        output="error fraction (1 - zero-shot accuracy)",
        citation=CITATION,
        published=PUBLISHED,
        formula="y = [(a min(n,S)/1e5)^b + d] prod_k (min(S(k+1),n)/(S k))^(b 2^(-k/tau))",
    )
)
