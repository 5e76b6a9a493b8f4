"""Chinchilla Approach 3 regression tests against Epoch AI's 245 digitised points.

Reference values and tolerances: /work/shared/reference/scaling_laws.md Sec. 1 (Besiroglu et al.
2024, arXiv:2404.10102, Table 1; Hoffmann et al. 2022, Eq. 10). The fit is run once per module.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from conftest import require_dataset

from fitters.chinchilla import epoch_points, fit_and_extrapolate, fit_chinchilla, hoffmann_grid, objective
from fitters.errors import FitError
from scaling_laws import chinchilla as law


@pytest.fixture(scope="module")
def pts240():
    require_dataset("epoch-chinchilla")
    return epoch_points()


@pytest.fixture(scope="module")
def fit240(pts240):
    # 1,000 resamples: the SE ranges below are for 1,000 (vectorised: ~1 s on 2 cores).
    return fit_chinchilla(*pts240, bootstrap=1000, seed=0)


def test_grid_is_hoffmanns_4500_starts():
    g = hoffmann_grid()
    assert g.shape == (4500, 5)
    assert sorted(set(g[:, 0])) == [0, 5, 10, 15, 20, 25] and sorted(set(g[:, 3])) == [0, 0.5, 1, 1.5, 2]


def test_epoch_240_optimum(fit240):
    """Tolerance = optimiser agreement with Epoch's own L-BFGS-B grid fit (notebook), not statistics."""
    p = fit240.params
    assert fit240.n_points == 240
    assert p["alpha"] == pytest.approx(0.347, abs=0.003)
    assert p["beta"] == pytest.approx(0.367, abs=0.005)
    assert p["E"] == pytest.approx(1.817, abs=0.003)
    assert np.log(p["A"]) == pytest.approx(6.169, abs=0.05)
    assert np.log(p["B"]) == pytest.approx(7.670, abs=0.12)
    assert fit240.objective <= 1.01828e-3 + 1e-8
    assert fit240.objective == pytest.approx(1.01827e-3, rel=1e-5)
    assert fit240.converged and fit240.n_at_best >= 2 and not fit240.warnings


def test_within_half_se_of_epoch_published(fit240):
    pub, se = law.PUBLISHED["epoch"].values, law.EPOCH_SE
    for k in law.PARAM_NAMES:
        assert abs(fit240.params[k] - pub[k]) <= 0.5 * se[k], k
    aN, _ = law.allocation_exponents(fit240.params)
    assert 0.50 <= aN <= 0.53
    with jax.enable_x64(True):
        opt = law.optimal_allocation(fit240.params, 5.88e23)
    assert 15 <= float(opt["D"] / opt["N"]) <= 22


def test_bootstrap_standard_errors(fit240):
    """Ranges bracket Epoch's SEs (alpha 0.0154, beta 0.0206, E 0.03 from 4,000 resamples) with
    ~+-20 % for Monte-Carlo error of 1,000 resamples and the BFGS-vs-Newton difference."""
    se = fit240.stderr
    assert 0.012 <= se["alpha"] <= 0.019
    assert 0.016 <= se["beta"] <= 0.025
    assert 0.020 <= se["E"] <= 0.032
    assert fit240.extra["bootstrap_converged"] >= 990
    lo, hi = fit240.ci["alpha"]
    assert lo < fit240.params["alpha"] < hi


def test_rounding_inflates_objective(fit240, pts240):
    f_printed = objective(law.PUBLISHED["hoffmann"].values, *pts240)
    f_unrounded = objective(law.PUBLISHED["hoffmann-unrounded"].values, *pts240)
    assert f_printed >= 4 * fit240.objective
    assert f_unrounded >= 1.15 * fit240.objective
    assert f_printed > f_unrounded


def test_all_245_points():
    require_dataset("epoch-chinchilla")
    r = fit_chinchilla(*epoch_points(drop_largest=0))
    assert r.n_points == 245
    assert r.params["beta"] == pytest.approx(0.453, abs=0.02)
    assert r.params["E"] == pytest.approx(1.891, abs=0.01)
    assert r.params["alpha"] == pytest.approx(0.349, abs=0.005)


def test_screening_does_not_change_the_optimum(pts240):
    """Exhaustive run (every start to convergence) on a 600-start subset vs the screened default."""
    sub = hoffmann_grid()[np.random.default_rng(1).choice(4500, 600, replace=False)]
    full = fit_chinchilla(*pts240, starts=sub, keep=None, max_iter=150)
    screened = fit_chinchilla(*pts240, starts=sub)
    assert screened.objective == pytest.approx(full.objective, rel=1e-9)
    assert screened.params["alpha"] == pytest.approx(full.params["alpha"], rel=1e-6)


def test_heldout_extrapolation(pts240):
    """Fit on C < 1e21 FLOP, predict the 23 larger-budget runs. Digitisation noise is ~0.4 % of L;
    2 % mean error allows for extrapolating ~1 decade in compute (measured: 1.05 %)."""
    N, D, L = pts240
    r = fit_and_extrapolate(N, D, L, 6 * N * D < 1e21)
    assert r.extra["heldout_points"] == 23
    assert r.extra["heldout"]["mean_abs_rel_error"] < 0.02


def test_non_convergence_is_reported(pts240):
    r = fit_chinchilla(*pts240, starts=hoffmann_grid()[:50], max_iter=3, screen_iter=2, keep=10)
    assert not r.converged
    assert any("did not converge" in w for w in r.warnings)


def test_closed_form_allocation_matches_numerical():
    with jax.enable_x64(True):
        C = np.array([1e18, 1e21, 5.88e23, 1e26])
        for ps in law.PUBLISHED.values():
            a = law.optimal_allocation(ps.values, C)
            b = law.optimal_allocation_numerical(ps.values, C)
            np.testing.assert_allclose(np.asarray(b["N"]), np.asarray(a["N"]), rtol=1e-6)
            np.testing.assert_allclose(np.asarray(b["D"]), np.asarray(a["D"]), rtol=1e-6)
            assert bool(np.all(b["interior"]))
        h = law.PUBLISHED["hoffmann"].values
        assert law.allocation_exponents(h)[0] == pytest.approx(0.4516, abs=1e-4)
        opt = law.optimal_allocation(h, 5.88e23)
        assert float(opt["D"] / opt["N"]) == pytest.approx(92.8, abs=0.5)


@pytest.mark.parametrize(
    "cols, match",
    [
        (dict(N=[1e8, np.nan] * 5, D=[1e9] * 10, L=[3.0] * 10), "NaN"),
        (dict(N=[1e8] * 10, D=[1e9] * 9 + [0.0], L=[3.0] * 10), "'D' must be positive"),
        (dict(N=[1e8] * 4, D=[1e9] * 4, L=[3.0] * 4), "not enough"),
        (dict(N=[1e8] * 7, D=[1e9] * 6, L=[3.0] * 7), "has 6 values"),
    ],
)
def test_bad_input(cols, match):
    with pytest.raises(FitError, match=match):
        fit_chinchilla(**cols)


def test_loss_function_values():
    with jax.enable_x64(True):
        p = law.PUBLISHED["hoffmann"].values
        L = float(law.loss(p, 70e9, 1.4e12))
        assert L == pytest.approx(1.69 + 406.4 / 70e9**0.34 + 410.7 / 1.4e12**0.28, rel=1e-12)
        th = law.params_to_theta(p)
        assert float(np.exp(law.log_loss_lse(th, np.log(70e9), np.log(1.4e12)))) == pytest.approx(L, rel=1e-12)
