"""Kaplan joint law, test-time coverage, and the law registry."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from fitters.coverage import fit_coverage
from scaling_laws import coverage, kaplan
from scaling_laws.base import get_law, get_param_set, list_laws
from scaling_laws.errors import LawError


def test_kaplan_values_and_allocation():
    p = kaplan.PUBLISHED["kaplan"].values
    with jax.enable_x64(True):
        L = float(kaplan.loss(p, 1e9, 1e10))
        assert L == pytest.approx(((6.4e13 / 1e9) ** (0.076 / 0.103) + 1.8e13 / 1e10) ** 0.103, rel=1e-12)
        # D -> infinity recovers L(N) = (N_c/N)^alpha_N
        assert float(kaplan.loss(p, 1e9, 1e30)) == pytest.approx((6.4e13 / 1e9) ** 0.076, rel=1e-9)
        r = kaplan.optimal_allocation_numerical(p, np.array([1e20, 1e22]))
    assert bool(np.all(r["interior"]))


def test_coverage_saturation_and_fit():
    assert float(coverage.saturation_point({"F_max": 1.0, "p": 0.1}, 1e-3)) == 44
    n = np.array([1, 2, 4, 8, 16, 32, 64.0])
    with jax.enable_x64(True):
        F = np.asarray(coverage.coverage({"F_max": 0.8, "p": 0.07}, n))
    r = fit_coverage(n, F + np.random.default_rng(0).normal(0, 0.003, n.shape))
    assert r.params["p"] == pytest.approx(0.07, rel=0.02)
    assert r.converged


def test_pass_at_k():
    with jax.enable_x64(True):
        assert float(coverage.pass_at_k(32, 0, 8)) == 0.0
        assert float(coverage.pass_at_k(32, 30, 8)) == 1.0
        assert float(coverage.pass_at_k(10, 3, 1)) == pytest.approx(0.3)
        assert float(coverage.pass_at_k(4, 1, 2)) == pytest.approx(1 - 3 / 6)


def test_registry_of_laws():
    names = [law.name for law in list_laws()]
    for n in ("chinchilla", "kaplan", "farseer", "steplaw", "data-filtering", "kinetics", "parscale", "coverage"):
        assert n in names
    for law in list_laws():
        assert law.citation and law.param_names and law.published
        for ps in law.published.values():
            assert "arXiv" in ps.source
            assert set(ps.values) == set(law.param_names)
    law, ps = get_param_set("chinchilla-epoch")
    assert law.name == "chinchilla" and ps.values["E"] == 1.8172
    with pytest.raises(LawError, match="unknown law / parameter set 'chinchilla-foo'"):
        get_param_set("chinchilla-foo")
    with pytest.raises(LawError, match="unknown law"):
        get_law("gpt")
    with pytest.raises(LawError, match="missing parameter"):
        get_law("chinchilla").check_params({"E": 1.0})
