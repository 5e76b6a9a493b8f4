"""Damped-Newton minimiser and the analytic Huber/LSE derivatives."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fitters.huber import huber, lse_huber_derivs
from fitters.optim import autodiff_derivs, lm_minimize
from scaling_laws.chinchilla import log_loss_lse


def test_huber():
    with jax.enable_x64(True):
        r = jnp.array([-0.1, -1e-3, 0.0, 5e-4, 0.2])
        h = np.asarray(huber(r, 1e-3))
    np.testing.assert_allclose(h, [1e-3 * (0.1 - 5e-4), 5e-7, 0.0, 1.25e-7, 1e-3 * (0.2 - 5e-4)], rtol=1e-12)


@pytest.mark.parametrize("theta", [[6.0, 7.5, 0.6, 0.35, 0.37], [5.0, 10.0, -0.5, 0.5, 1.0], [20.0, 0.0, 1.0, 2.0, 0.0]])
def test_analytic_derivatives_match_autodiff(theta):
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        x = jnp.asarray(np.log(rng.uniform(7e7, 1.6e10, 50)))
        z = jnp.asarray(np.log(rng.uniform(1e9, 5e11, 50)))
        y = jnp.asarray(np.log(rng.uniform(2.0, 4.0, 50)))
        w = jnp.asarray(rng.integers(0, 3, 50).astype(float))
        t = jnp.asarray(theta, dtype=jnp.float64)
        ad = autodiff_derivs(lambda th: jnp.sum(w * huber(log_loss_lse(th, x, z) - y, 1e-3)))
        for a, b in zip(lse_huber_derivs(t, x, z, y, w, 1e-3), ad(t), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-14)


def test_lm_minimize_rosenbrock_vectorised():
    def rosen(t):
        return (1 - t[0]) ** 2 + 100 * (t[1] - t[0] ** 2) ** 2

    with jax.enable_x64(True):
        d = autodiff_derivs(rosen)
        starts = jnp.array([[-1.2, 1.0], [2.0, 2.0], [0.0, -1.0]])
        st = jax.vmap(lambda t: lm_minimize(d, t, max_iter=500, f_scale=1e-12))(starts)
    np.testing.assert_allclose(np.asarray(st.theta), 1.0, atol=1e-6)
    assert bool(jnp.all(st.converged))


def test_lm_reports_non_convergence():
    with jax.enable_x64(True):
        d = autodiff_derivs(lambda t: (1 - t[0]) ** 2 + 100 * (t[1] - t[0] ** 2) ** 2)
        st = lm_minimize(d, jnp.array([-1.2, 1.0]), max_iter=3)
    assert not bool(st.converged)
