"""Data plans: filtering level under the Goyal et al. 2024 data-filtering law."""

from __future__ import annotations

import numpy as np
import pytest

from scaling_laws import data_filtering as df
from simulator.planner import PlanError
from simulator.planner.data_plan import Pool, level_errors, plan_data

# golden predictions (accuracy %, code-version law, uniform mixtures of the top-p T-MARS pools),
# shared/reference/scaling_laws.md Sec. 4
GOLDEN = np.array([
    [18.25, 24.62, 28.73, 31.18],
    [15.84, 23.30, 29.60, 38.55],
    [13.42, 20.40, 26.77, 37.56],
    [11.68, 17.99, 24.13, 35.14],
])
BUDGETS = [32e6, 64e6, 128e6, 640e6]


def test_golden_table_and_best_levels():
    r = plan_data(BUDGETS)
    assert np.allclose(100 * r["accuracy"], GOLDEN, atol=0.01)
    assert r["best_level"] == [1, 1, 2, 2]  # quality wins at low compute, quantity at high
    assert r["best_pools"][0] == ["tmars_top0to10p"]


def test_vectorised_levels_equal_the_law_per_level():
    ps = df.PUBLISHED["utility"].values
    b, tau = np.asarray(ps["b"][:4]), np.asarray(ps["tau"][:4])
    n = np.array([5e6, 20e6, 1e8, 3e8])
    ours = level_errors(b, tau, ps["a"], ps["d"], n, df.POOL_SIZE)
    for p in range(1, 5):
        ref = np.asarray(df.error(ps["a"], b[:p], tau[:p], ps["d"], n, df.POOL_SIZE))
        assert np.allclose(ours[p - 1], ref, rtol=1e-5), p


def test_user_pools_and_bad_input():
    pools = [Pool("clean", -0.2, 3.0), Pool("web", -0.1, 8.0)]
    r = plan_data([2e7, 5e9], pools, a=0.025, d=0.1, pool_size=2e7)
    assert r["accuracy"].shape == (2, 2)
    assert r["best_level"] == [1, 2]  # one fresh epoch of clean data vs 250 repetitions of it
    with pytest.raises(PlanError, match="samples seen"):
        plan_data([0.0])
    with pytest.raises(PlanError, match="utility exponent"):
        plan_data([1e6], [Pool("bad", 0.1, 3.0)], a=0.025, d=0.1, pool_size=1e6)
