"""Step Law (Li et al. 2025, *Predictable Scale: Part I*): optimal peak LR and batch size.

    eta*(N, D) = e^c_eta * N^coefN * D^coefD          (published: 1.79 N^-0.713 D^0.307)
    B*(D)      = e^c_B * D^coefB   [tokens]          (published: 0.58 D^0.571)

N = non-embedding parameters, D = training tokens, B* in **tokens** (divide by the sequence length,
2048 in the paper, for sequences). arXiv:2503.04715, Eq. 1 (abstract and Sec. 3); the released
``1004_fitted_lr_bs_scaling_model_parameters.csv`` holds the 1,000 bootstrap fits whose means are
these values. Parameters are stored as the regression coefficients of ln eta and ln B.
"""

from __future__ import annotations

import math

from scaling_laws._lazy import LazyModule
from scaling_laws.base import Law, ParamSet, frozen, register_law

jnp = LazyModule("jax.numpy")

CITATION = "Li et al. 2025, Predictable Scale: Part I - Optimal Hyperparameter Scaling Law in LLM Pretraining, arXiv:2503.04715"
PARAM_NAMES = ("lr_intercept", "lr_coefN", "lr_coefD", "bs_intercept", "bs_coefD")

PUBLISHED = frozen(
    {
        "published": ParamSet(
            "published",
            {"lr_intercept": math.log(1.79), "lr_coefN": -0.713, "lr_coefD": 0.307,
             "bs_intercept": math.log(0.58), "bs_coefD": 0.571},
            f"{CITATION}, Eq. 1: eta* = 1.79 N^-0.713 D^0.307, B* = 0.58 D^0.571 (tokens)",
        )
    }
)


def optimal_lr(params, N, D):
    """eta*(N, D) = exp(lr_intercept) N^lr_coefN D^lr_coefD (peak learning rate)."""
    N = jnp.asarray(N, dtype=jnp.result_type(float))
    D = jnp.asarray(D, dtype=jnp.result_type(float))
    return jnp.exp(params["lr_intercept"] + params["lr_coefN"] * jnp.log(N) + params["lr_coefD"] * jnp.log(D))


def optimal_batch_tokens(params, D):
    """B*(D) = exp(bs_intercept) D^bs_coefD, in tokens."""
    D = jnp.asarray(D, dtype=jnp.result_type(float))
    return jnp.exp(params["bs_intercept"] + params["bs_coefD"] * jnp.log(D))


def optimal_hparams(params, N, D, seq_len: int = 2048):
    """{"lr": eta*, "batch_tokens": B*, "batch_sequences": B*/seq_len}."""
    b = optimal_batch_tokens(params, D)
    return {"lr": optimal_lr(params, N, D), "batch_tokens": b, "batch_sequences": b / seq_len}


LAW = register_law(
    Law(
        name="steplaw",
        description="Step Law: optimal peak LR eta*(N, D) and batch size B*(D) in tokens",
        fn=optimal_lr,
        param_names=PARAM_NAMES,
        bounds=frozen({p: (-50.0, 50.0) for p in PARAM_NAMES}),
        inputs=frozen({"N": "non-embedding parameters", "D": "training tokens"}),
        output="peak learning rate (batch size from optimal_batch_tokens, tokens)",
        citation=CITATION,
        published=PUBLISHED,
        formula="eta* = e^c N^coefN D^coefD; B* = e^c_B D^coefB (tokens)",
    )
)
