"""Porian et al. 2024 (arXiv:2406.19146) allocation exponents from the released optimal pairs.

Reference: /work/shared/reference/scaling_laws.md Sec. 6b; the paper's RefinedWeb sequence
0.835 -> 0.706 -> 0.602 -> 0.571 -> 0.497 [0.491, 0.505].
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_dataset

from fitters.errors import FitError
from fitters.porian import fit_allocation, fit_configuration
from fitters.registry import load_csv

RW = dict(dataset="rw", val="val", param_count="standard")
STAGES = [
    # (configuration, published exponent, tolerance)
    (dict(dataset="rw", hparams="base", warmup="long", decay="kaplan", param_count="kaplan", val="train"), 0.835, 0.01),
    (dict(RW, hparams="base", warmup="long", decay="kaplan"), 0.706, 0.01),
    (dict(RW, hparams="base", warmup="short", decay="kaplan"), 0.602, 0.01),
    (dict(RW, hparams="base", warmup="short", decay="chinchilla"), 0.571, 0.01),
    (dict(RW, hparams="tuned", warmup="short", decay="const"), 0.497, 0.005),
]


@pytest.fixture
def pairs():
    require_dataset("porian-optimal-pairs")


@pytest.mark.parametrize("config, published, tol", STAGES)
def test_allocation_exponent(pairs, config, published, tol):
    r = fit_configuration(**config)
    assert r.params["a"] == pytest.approx(published, abs=tol)


def test_tuned_exponent_inside_published_ci_and_matches_authors_fit(pairs):
    r = fit_configuration(**STAGES[-1][0])
    assert 0.491 <= r.params["a"] <= 0.505
    require_dataset("porian-fit-results")
    fr = load_csv("porian-fit-results")
    m = fr[(fr.source_file == "summary_df.pickle.xz") & (fr.fit == "weighted")]
    for k, v in STAGES[-1][0].items():
        m = m[m[k] == v]
    assert r.params["a"] == pytest.approx(float(m["n_exponent"].iloc[0]), abs=1e-6)


def test_nan_budgets_are_dropped(pairs):
    r = fit_configuration(**STAGES[1][0])
    assert r.extra["dropped_budgets"] == 1


def test_weights_matter():
    C = np.logspace(18, 22, 9)
    n = 0.1 * C**0.5
    n[0] *= 3  # an outlier with a huge sigma must not move the weighted fit
    s = np.full(9, 0.01)
    s[0] = 100.0
    assert fit_allocation(C, n, s).params["a"] == pytest.approx(0.5, abs=1e-6)
    assert abs(fit_allocation(C, n).params["a"] - 0.5) > 0.01


def test_bad_input():
    with pytest.raises(FitError, match="usable budgets"):
        fit_allocation([1e18, 1e19], [1e6, 1e7])
    with pytest.raises(FitError, match="unknown Porian configuration"):
        fit_configuration(optimiser="adam")
