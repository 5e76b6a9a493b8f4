"""Farseer (Li et al. 2025, *Predictable Scale: Part II*), the 9-parameter law.

    L(N, D) = exp(a3 N^gamma + b3) + exp(a2 N^beta + b2) * D^(-exp(a1 N^alpha + b1))

(arXiv:2506.10972, Eq. 3). The first term models E + L_N(N); the second B(N) D^-A(N) with an
N-dependent data exponent A(N) = exp(a1 N^alpha + b1) and coefficient B(N) = exp(a2 N^beta + b2).

Units, as in the paper: **L in bits per character** on the authors' held-out English validation
set, **N = non-embedding parameters**, D = training tokens. Do not compare these values with
nats/token laws such as Chinchilla without converting.

Published constants (Eq. 15, baseline recipe):
    L = exp(-0.021 N^0.169 - 0.091) + exp(88.01 N^-0.1 - 6.287) D^(-exp(-0.124 N^0.123 + 0.424)).

No closed-form allocation; :func:`optimal_allocation_numerical` minimises at C = 6 N D. With the
Eq. 15 constants there is no interior optimum for C >~ 1e23 (the first term -> 0 as N grows), i.e.
outside the fitted range (N <= 25B, C <= 3.5e21); ``interior`` in the result reports this.
"""

from __future__ import annotations

from scaling_laws._lazy import LazyModule
from scaling_laws.allocation import numerical_allocation
from scaling_laws.base import Law, ParamSet, frozen, register_law

jnp = LazyModule("jax.numpy")

CITATION = "Li et al. 2025, Predictable Scale: Part II, Farseer: A Refined Scaling Law in LLMs, arXiv:2506.10972"
PARAM_NAMES = ("a1", "alpha", "b1", "a2", "beta", "b2", "a3", "gamma", "b3")

PUBLISHED = frozen(
    {
        "eq15": ParamSet(
            "eq15",
            {"a1": -0.124, "alpha": 0.123, "b1": 0.424, "a2": 88.01, "beta": -0.1, "b2": -6.287,
             "a3": -0.021, "gamma": 0.169, "b3": -0.091},
            f"{CITATION}, Eq. 15 (baseline data recipe; L in bits/char, N non-embedding)",
            notes="transcribed from a full-text rendering of the paper; check against the PDF",
        )
    }
)


def data_exponent(params, N):
    """A(N) = exp(a1 N^alpha + b1)."""
    N = jnp.asarray(N, dtype=jnp.result_type(float))
    return jnp.exp(params["a1"] * N ** params["alpha"] + params["b1"])


def data_coefficient(params, N):
    """B(N) = exp(a2 N^beta + b2)."""
    N = jnp.asarray(N, dtype=jnp.result_type(float))
    return jnp.exp(params["a2"] * N ** params["beta"] + params["b2"])


def model_term(params, N):
    """E + L_N(N) = exp(a3 N^gamma + b3)."""
    N = jnp.asarray(N, dtype=jnp.result_type(float))
    return jnp.exp(params["a3"] * N ** params["gamma"] + params["b3"])


def loss(params, N, D):
    """Farseer L(N, D) in bits per character (Eq. 3)."""
    D = jnp.asarray(D, dtype=jnp.result_type(float))
    return model_term(params, N) + data_coefficient(params, N) * D ** (-data_exponent(params, N))


def optimal_allocation_numerical(params, compute_flop, ratio_lo=1.0, ratio_hi=1e4, **kwargs):
    """argmin_N L(N, C/(6N)) with D/N in [ratio_lo, ratio_hi]; ``interior`` False at a boundary."""
    return numerical_allocation(
        lambda n, d: loss(params, n, d), compute_flop, ratio_lo=ratio_lo, ratio_hi=ratio_hi, **kwargs
    )


LAW = register_law(
    Law(
        name="farseer",
        description="Farseer 9-parameter law (bits/char, N non-embedding)",
        fn=loss,
        param_names=PARAM_NAMES,
        bounds=frozen({p: (-100.0, 100.0) for p in PARAM_NAMES}),
        inputs=frozen({"N": "non-embedding parameters", "D": "training tokens"}),
        output="loss, bits per character",
        citation=CITATION,
        published=PUBLISHED,
        formula="L = exp(a3 N^gamma + b3) + exp(a2 N^beta + b2) D^-exp(a1 N^alpha + b1)",
    )
)
