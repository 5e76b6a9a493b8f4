"""ParScale (Chen et al. 2025, arXiv:2505.10475) refit of the released losses.

Reference: /work/shared/reference/scaling_laws.md Sec. 6c (paper: k ~ 0.39 Stack-V2-Python,
0.33 Pile; HF Space L(2.8B, P=4) = 1.01548).
"""

from __future__ import annotations

import jax
import pytest
from conftest import require_dataset

from fitters.errors import FitError
from fitters.parscale import fit_parscale, released_points
from scaling_laws import parscale as law


@pytest.fixture(scope="module")
def data():
    require_dataset("parscale-losses")


def test_stack_v2_python(data):
    r = fit_parscale(*released_points("stack_v2_python"))
    assert r.n_points == 24 and r.converged
    assert r.params["k"] == pytest.approx(0.39, abs=0.02)
    assert r.extra["r2"] > 0.99
    with jax.enable_x64(True):
        assert float(law.loss(r.params, 2.8e9, 4)) == pytest.approx(1.0155, abs=1e-3)
        # P = 4 streams on 2.8B ~ a dense 4.33B model (authors' HF Space)
        assert float(law.equivalent_dense_params(r.params, 2.8e9, 4)) == pytest.approx(4.33e9, rel=0.02)


def test_pile(data):
    r = fit_parscale(*released_points("pile"))
    assert r.params["k"] == pytest.approx(0.33, abs=0.02)
    assert r.params["E"] == pytest.approx(1.2888, abs=0.01)


def test_published_sets_agree_with_refit(data):
    r = fit_parscale(*released_points("stack_v2_python"))
    for k, v in law.PUBLISHED["stack-v2-python"].values.items():
        assert r.params[k] == pytest.approx(v, rel=0.01)


def test_bad_input():
    with pytest.raises(FitError, match="not enough"):
        fit_parscale([1e9] * 3, [1, 2, 4], [1.0] * 3)
    with pytest.raises(FitError, match="unknown ParScale dataset"):
        released_points("c4")
