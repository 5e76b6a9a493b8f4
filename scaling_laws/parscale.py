"""ParScale (Chen et al. 2025, "Parallel Scaling Law for Language Models").

    L(N, P) = E + ( A * 1e9 / (N (k ln P + 1)) )^alpha

P parallel streams act like multiplying the parameters by (1 + k ln P). N = non-embedding
parameters (incl. the small ParScale prefix/aggregation parameters), L in nats/token, natural log.
arXiv:2505.10475, Eq. 5 (Sec. 3); constants from the authors' fit script (QwenLM/ParScale @cd6acb4,
``parametric_fit.py``) are not printed there, so the sets below are refits of the released losses
(the team's reference notes, Sec. 6c), regression-tested in tests/test_scaling_parscale.py.
"""

from __future__ import annotations

from scaling_laws._lazy import LazyModule
from scaling_laws.base import Law, ParamSet, frozen, register_law

jnp = LazyModule("jax.numpy")

CITATION = "Chen et al. 2025, Parallel Scaling Law for Language Models, NeurIPS 2025, arXiv:2505.10475"
PARAM_NAMES = ("E", "A", "alpha", "k")

PUBLISHED = frozen(
    {
        "stack-v2-python": ParamSet(
            "stack-v2-python",
            {"E": 0.6912, "A": 0.0113, "alpha": 0.1894, "k": 0.3935},
            f"{CITATION}, Eq. 5 form; values = refit of the 24 Stack-V2-Python losses in parametric_fit.py "
            "(simlab reference notes Sec. 6c; the paper reports k ~ 0.39)",
        ),
        "pile": ParamSet(
            "pile",
            {"E": 1.2888, "A": 0.1974, "alpha": 0.1963, "k": 0.3345},
            f"{CITATION}, Eq. 5 form; values = refit of the 24 Pile losses in parametric_fit.py (reference notes Sec. 6c)",
        ),
    }
)


def loss(params, N, P):
    """L = E + (A 1e9 / (N (k ln P + 1)))^alpha (nats/token)."""
    N = jnp.asarray(N, dtype=jnp.result_type(float))
    P = jnp.asarray(P, dtype=jnp.result_type(float))
    return params["E"] + (params["A"] * 1e9 / (N * (params["k"] * jnp.log(P) + 1.0))) ** params["alpha"]


def equivalent_dense_params(params, N, P):
    """N (k ln P + 1): the dense model size with the same loss."""
    return jnp.asarray(N) * (params["k"] * jnp.log(jnp.asarray(P, dtype=jnp.result_type(float))) + 1.0)


LAW = register_law(
    Law(
        name="parscale",
        description="ParScale: L = E + (A 1e9 / (N (k ln P + 1)))^alpha (nats/token)",
        fn=loss,
        param_names=PARAM_NAMES,
        bounds=frozen({"E": (0.0, 10.0), "A": (0.0, 1e3), "alpha": (0.0, 3.0), "k": (0.0, 10.0)}),
        inputs=frozen({"N": "non-embedding parameters", "P": "parallel streams"}),
        output="loss, nats/token",
        citation=CITATION,
        published=PUBLISHED,
        formula="L = E + (A 1e9 / (N (k ln P + 1)))^alpha",
    )
)
