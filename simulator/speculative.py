"""Speculative decoding arithmetic (Leviathan, Kalman & Matias 2023, "Fast Inference from
Transformers via Speculative Decoding", ICML; Chen et al. 2023).

A draft model proposes ``gamma`` tokens; the target verifies them in one forward pass of
``gamma + 1`` tokens per sequence. With i.i.d. per-token acceptance rate ``alpha`` the expected
number of tokens produced per target step is (Leviathan et al. Eq. 1)::

    E[tokens] = (1 - alpha^(gamma + 1)) / (1 - alpha)      (= gamma + 1 when alpha = 1)

and the time per output token is ``(gamma t_draft + t_target(gamma + 1)) / E[tokens]``.
The serving core (:func:`simulator.serving.serve_core` with a ``draft`` model) applies this.
"""

from __future__ import annotations

import jax.numpy as jnp


def expected_tokens_per_step(alpha, gamma):
    """``(1 - alpha^(gamma+1)) / (1 - alpha)``; ``gamma + 1`` at ``alpha = 1``; 1 at ``gamma = 0``."""
    alpha = jnp.clip(jnp.asarray(alpha, dtype=jnp.result_type(float)), 0.0, 1.0)
    gamma = jnp.asarray(gamma, dtype=jnp.result_type(float))
    safe = jnp.where(alpha < 1.0, 1.0 - alpha, 1.0)
    return jnp.where(alpha < 1.0, (1.0 - alpha ** (gamma + 1.0)) / safe, gamma + 1.0)


def time_per_token_s(t_draft_step_s, t_target_verify_s, alpha, gamma):
    """``(gamma t_draft + t_verify) / E[tokens]``: time per output token with speculation."""
    return (gamma * t_draft_step_s + t_target_verify_s) / expected_tokens_per_step(alpha, gamma)


__all__ = ["expected_tokens_per_step", "time_per_token_s"]
