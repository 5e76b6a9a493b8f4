"""Kaplan et al. 2020 joint law L(N, D).

    L(N, D) = [ (N_c / N)^(alpha_N / alpha_D) + D_c / D ]^alpha_D

N = non-embedding parameters, D = tokens (early-stopped), L = WebText2 test loss in nats/token.
Kaplan, McCandlish, Henighan, Brown, Chess, Child, Gray, Radford, Wu, Amodei, *Scaling Laws for
Neural Language Models*, arXiv:2001.08361, Eq. 1.5 with the joint fit of Table 2
(alpha_N = 0.076, alpha_D = 0.103, N_c = 6.4e13, D_c = 1.8e13; transcription marked unverified in
the team's reference notes). No closed-form compute-optimal allocation follows from this form
(Kaplan's N ~ C^0.73 comes from L(N, S_min)); use :func:`optimal_allocation_numerical`.
"""

from __future__ import annotations

from scaling_laws._lazy import LazyModule
from scaling_laws.allocation import numerical_allocation
from scaling_laws.base import Law, ParamSet, frozen, register_law

jnp = LazyModule("jax.numpy")

CITATION = "Kaplan et al. 2020, Scaling Laws for Neural Language Models, arXiv:2001.08361"

PUBLISHED = frozen(
    {
        "kaplan": ParamSet(
            "kaplan",
            {"N_c": 6.4e13, "D_c": 1.8e13, "alpha_N": 0.076, "alpha_D": 0.103},
            f"{CITATION}, Eq. 1.5 and Table 2 (joint L(N, D) fit)",
            notes="N excludes embeddings; loss on WebText2 (nats/token)",
        )
    }
)


def loss(params, N, D):
    """L = ((N_c/N)^(alpha_N/alpha_D) + D_c/D)^alpha_D (nats/token)."""
    N = jnp.asarray(N, dtype=jnp.result_type(float))
    D = jnp.asarray(D, dtype=jnp.result_type(float))
    return ((params["N_c"] / N) ** (params["alpha_N"] / params["alpha_D"]) + params["D_c"] / D) ** params["alpha_D"]


def optimal_allocation_numerical(params, compute_flop, **kwargs):
    """argmin_N L(N, C/(6N)) (no closed form for this joint law)."""
    return numerical_allocation(lambda n, d: loss(params, n, d), compute_flop, **kwargs)


LAW = register_law(
    Law(
        name="kaplan",
        description="Kaplan et al. 2020 joint law L = ((N_c/N)^(aN/aD) + D_c/D)^aD (nats/token)",
        fn=loss,
        param_names=("N_c", "D_c", "alpha_N", "alpha_D"),
        bounds=frozen({"N_c": (0.0, 1e20), "D_c": (0.0, 1e20), "alpha_N": (0.0, 2.0), "alpha_D": (0.0, 2.0)}),
        inputs=frozen({"N": "non-embedding parameters", "D": "training tokens"}),
        output="loss, nats/token (WebText2)",
        citation=CITATION,
        published=PUBLISHED,
        formula="L(N, D) = ((N_c/N)^(alpha_N/alpha_D) + D_c/D)^alpha_D",
    )
)
