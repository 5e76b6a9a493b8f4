"""Chinchilla Approach 3 (Hoffmann et al. 2022) and its Epoch AI replication.

    L(N, D) = E + A / N^alpha + B / D^beta

N = total parameters (embeddings included), D = training tokens, L = MassiveText evaluation loss in
nats/token (Hoffmann et al., arXiv:2203.15556, Sec. 3.3 and App. D.2). For fitting the law is
written in the log-sum-exp form of Hoffmann App. D.2,

    ln L = LSE(a - alpha ln N, b - beta ln D, e),   A = e^a, B = e^b, E = e^e.

Compute-optimal allocation at C = 6 N D (closed form, Hoffmann App. D.2 / Eq. 4):

    N_opt(C) = G (C/6)^a_N,  D_opt(C) = G^-1 (C/6)^b_D,
    G = (alpha A / (beta B))^(1/(alpha+beta)),  a_N = beta/(alpha+beta),  b_D = alpha/(alpha+beta).
"""

from __future__ import annotations

import numpy as np

from scaling_laws._lazy import LazyModule
from scaling_laws.allocation import numerical_allocation
from scaling_laws.base import Law, ParamSet, frozen, register_law

jnp = LazyModule("jax.numpy")

PARAM_NAMES = ("E", "A", "B", "alpha", "beta")

HOFFMANN = "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, arXiv:2203.15556"
EPOCH = "Besiroglu, Erdil, Barnett, You 2024, Chinchilla Scaling: A replication attempt, arXiv:2404.10102"

PUBLISHED = frozen(
    {
        "hoffmann": ParamSet(
            "hoffmann",
            {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28},
            f"{HOFFMANN}, Eq. 10 (Sec. 3.3, Approach 3), as printed (rounded)",
        ),
        "hoffmann-unrounded": ParamSet(
            "hoffmann-unrounded",
            {  # exp of the printed logs, rounded to float32 as they always were (jnp.exp at import)
                "E": float(np.exp(np.float32(0.5267228))),
                "A": float(np.exp(np.float32(6.0073404))),
                "B": float(np.exp(np.float32(6.0179186))),
                "alpha": 0.33917084,
                "beta": 0.2849083,
            },
            f"{HOFFMANN}, unrounded values from the paper's TeX source (a=6.0073404, b=6.0179186, "
            "e=0.5267228) as used in Epoch's notebook (epoch-research/analyzing-chinchilla @9225883)",
        ),
        "epoch": ParamSet(
            "epoch",
            {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658},
            f"{EPOCH}, Table 1 / Eq. 4 (fit on the 240 digitised points; bootstrap SEs in EPOCH_SE)",
        ),
    }
)

#: Bootstrap standard errors of the Epoch estimates (arXiv:2404.10102, Table 1).
EPOCH_SE = frozen({"E": 0.03, "A": 124.58, "B": 1293.23, "alpha": 0.02, "beta": 0.02})

#: Hoffmann et al.'s initialisation grid (App. D.2): 6 x 6 x 5 x 5 x 5 = 4,500 starts over
#: (a, b, e, alpha, beta).
GRID_A = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)
GRID_B = GRID_A
GRID_E = (-1.0, -0.5, 0.0, 0.5, 1.0)
GRID_ALPHA = (0.0, 0.5, 1.0, 1.5, 2.0)
GRID_BETA = GRID_ALPHA


def loss(params, N, D):
    """L(N, D) = E + A N^-alpha + B D^-beta (nats/token); broadcasts over N and D."""
    N = jnp.asarray(N, dtype=jnp.result_type(float))
    D = jnp.asarray(D, dtype=jnp.result_type(float))
    return params["E"] + params["A"] * N ** (-params["alpha"]) + params["B"] * D ** (-params["beta"])


def log_loss_lse(theta, log_n, log_d):
    """ln L in Hoffmann's LSE form; ``theta = (a, b, e, alpha, beta)`` with A = e^a, B = e^b, E = e^e."""
    a, b, e, alpha, beta = theta[0], theta[1], theta[2], theta[3], theta[4]
    u = a - alpha * log_n
    v = b - beta * log_d
    m = jnp.maximum(jnp.maximum(u, v), e)
    return m + jnp.log(jnp.exp(u - m) + jnp.exp(v - m) + jnp.exp(e - m))


def theta_to_params(theta) -> dict[str, float]:
    """(a, b, e, alpha, beta) -> {E, A, B, alpha, beta}."""
    a, b, e, alpha, beta = (float(t) for t in theta)
    return {"E": float(jnp.exp(e)), "A": float(jnp.exp(a)), "B": float(jnp.exp(b)), "alpha": alpha, "beta": beta}


def params_to_theta(params) -> jnp.ndarray:
    """{E, A, B, alpha, beta} -> (a, b, e, alpha, beta)."""
    return jnp.array(
        [jnp.log(params["A"]), jnp.log(params["B"]), jnp.log(params["E"]), params["alpha"], params["beta"]]
    )


def allocation_exponents(params) -> tuple[float, float]:
    """(a_N, b_D) = (beta/(alpha+beta), alpha/(alpha+beta)): N_opt ~ C^a_N, D_opt ~ C^b_D."""
    s = params["alpha"] + params["beta"]
    if isinstance(s, (int, float)) and s == 0:
        return float("nan"), float("nan")
    return params["beta"] / s, params["alpha"] / s


def optimal_allocation(params, compute_flop) -> dict[str, jnp.ndarray]:
    """Closed-form compute-optimal (N, D) at C = 6 N D (Hoffmann et al. 2022, App. D.2).

    N_opt = G (C/6)^(beta/(alpha+beta)), D_opt = G^-1 (C/6)^(alpha/(alpha+beta)),
    G = (alpha A / (beta B))^(1/(alpha+beta)). Returns {"N", "D", "loss"}.
    """
    C = jnp.asarray(compute_flop, dtype=jnp.result_type(float))
    al, be, A, B = params["alpha"], params["beta"], params["A"], params["B"]
    G = (al * A / (be * B)) ** (1.0 / (al + be))
    aN, bD = allocation_exponents(params)
    N = G * (C / 6.0) ** aN
    D = (C / 6.0) ** bD / G
    return {"N": N, "D": D, "loss": loss(params, N, D)}


def optimal_allocation_numerical(params, compute_flop, **kwargs):
    """argmin_N L(N, C/(6N)) found numerically (see :func:`scaling_laws.allocation.numerical_allocation`)."""
    return numerical_allocation(lambda n, d: loss(params, n, d), compute_flop, **kwargs)


LAW = register_law(
    Law(
        name="chinchilla",
        description="Chinchilla Approach 3: L = E + A/N^alpha + B/D^beta (nats/token)",
        fn=loss,
        param_names=PARAM_NAMES,
        bounds=frozen({"E": (0.0, 10.0), "A": (0.0, 1e12), "B": (0.0, 1e12), "alpha": (0.0, 3.0), "beta": (0.0, 3.0)}),
        inputs=frozen({"N": "parameters (total, embeddings included)", "D": "training tokens"}),
        output="loss, nats/token",
        citation=HOFFMANN,
        published=PUBLISHED,
        formula="L(N, D) = E + A / N^alpha + B / D^beta",
    )
)
