"""Test-time coverage with saturation (TTSPM; Wang, Zhu, Leong, Li, Li 2025, arXiv:2505.20522).

    F(N) = F_max (1 - (1 - p)^N)

N samples (parallel) or rethinking rounds (sequential), per-sample success p, ceiling F_max
(arXiv:2505.20522, Sec. 3, parallel and sequential forms). Saturation: the smallest N whose marginal
gain F(N+1) - F(N) = F_max p (1 - p)^N falls below eps,

    N* = ceil( ln(eps / (F_max p)) / ln(1 - p) )

(reconstructed from the model; the paper's exact eps convention is unverified).
Also: the unbiased pass@k estimator 1 - C(n - c, k) / C(n, k) (Chen et al. 2021, arXiv:2107.03374,
Eq. 1) used to turn n sampled trials with c correct into coverage at k.
"""

from __future__ import annotations

from scaling_laws._lazy import LazyModule
from scaling_laws.base import Law, ParamSet, frozen, register_law

jnp = LazyModule("jax.numpy")
_special = LazyModule("jax.scipy.special")

CITATION = "Wang, Zhu, Leong, Li, Li 2025, Scaling over Scaling: Exploring Test-Time Scaling Plateau, arXiv:2505.20522"


def coverage(params, N):
    """F(N) = F_max (1 - (1 - p)^N)."""
    N = jnp.asarray(N, dtype=jnp.result_type(float))
    return params["F_max"] * (1.0 - (1.0 - params["p"]) ** N)


def saturation_point(params, eps):
    """N* = ceil(ln(eps / (F_max p)) / ln(1 - p)), at least 0."""
    n = jnp.log(eps / (params["F_max"] * params["p"])) / jnp.log1p(-params["p"])
    return jnp.maximum(jnp.ceil(n), 0.0)


def pass_at_k(n, c, k):
    """Unbiased pass@k = 1 - C(n-c, k)/C(n, k) for n trials with c correct (vectorised)."""
    n, c, k = (jnp.asarray(v, dtype=jnp.result_type(float)) for v in (n, c, k))
    gammaln = _special.gammaln
    log_ratio = gammaln(n - c + 1) - gammaln(n - c - k + 1) - gammaln(n + 1) + gammaln(n - k + 1)
    return jnp.where(n - c < k, 1.0, 1.0 - jnp.exp(log_ratio))


LAW = register_law(
    Law(
        name="coverage",
        description="Test-time coverage with saturation F(N) = F_max (1 - (1-p)^N)",
        fn=coverage,
        param_names=("F_max", "p"),
        bounds=frozen({"F_max": (0.0, 1.0), "p": (0.0, 1.0)}),
        inputs=frozen({"N": "samples or rounds"}),
        output="fraction solved",
        citation=CITATION,
        published=frozen(
            {"example": ParamSet("example", {"F_max": 1.0, "p": 0.1}, f"{CITATION}; illustrative values (N* = 44 at eps = 1e-3)")}
        ),
        formula="F(N) = F_max (1 - (1 - p)^N)",
    )
)
