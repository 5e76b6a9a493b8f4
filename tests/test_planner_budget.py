"""Budgets and the family shape rule of the planner."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hardware_db.errors import SimlabError
from simulator.planner import PlanError, cluster_budget, dollar_budget, flops_budget, make_budget
from simulator.planner.shapes import candidates, family_spec, shape_for_params


def _one_line(err: Exception) -> bool:
    return "\n" not in str(err) and len(str(err)) > 10


@pytest.mark.parametrize("bad", [0, -1e20, float("nan"), float("inf"), "abc"])
def test_flops_budget_rejects_non_positive(bad):
    with pytest.raises(PlanError) as e:
        flops_budget(bad)
    assert _one_line(e.value) and "compute budget" in str(e.value)


def test_cluster_budget_conversions():
    b = cluster_budget("dgx-h100", 2048, 30)
    assert b.devices == 2048 and b.system.num_devices == 2048
    assert b.device_hours == pytest.approx(2048 * 30 * 24)
    assert b.nominal_flop() == pytest.approx(2048 * 30 * 86400 * b.system.device.peak("bf16"))
    assert b.nominal_flop(0.5) == pytest.approx(0.5 * b.nominal_flop())
    assert b.max_usd is None  # the catalog has no H100 price
    b2 = cluster_budget("dgx-h100", 2048, 30, price_per_device_hour_usd=2.5)
    assert b2.max_usd == pytest.approx(2.5 * 2048 * 720)


def test_dollar_budget_conversions():
    b = dollar_budget(1e6, "dgx-h100", 2048, price_per_device_hour_usd=2.5)
    assert b.device_hours == pytest.approx(4e5)
    assert b.wall_s == pytest.approx(4e5 / 2048 * 3600)
    assert b.max_usd == pytest.approx(1e6)


def test_device_count_the_system_cannot_form():
    with pytest.raises(SimlabError) as e:
        cluster_budget("dgx-h100", 2047, 30)
    assert _one_line(e.value) and "2047" in str(e.value)


@pytest.mark.parametrize("kw", [dict(days=0), dict(days=-3), dict(devices=0, days=1)])
def test_cluster_budget_bad_numbers(kw):
    args = dict(system="dgx-h100", devices=8, days=1)
    args.update(kw)
    with pytest.raises(SimlabError) as e:
        cluster_budget(**args)
    assert _one_line(e.value)


def test_dollar_budget_needs_a_price():
    with pytest.raises(PlanError, match="price"):
        dollar_budget(1e6, "dgx-h100", 8)


def test_make_budget_needs_exactly_one():
    with pytest.raises(PlanError, match="exactly one"):
        make_budget()
    with pytest.raises(PlanError, match="exactly one"):
        make_budget(compute_flop=1e24, days=3, system="dgx-h100")
    with pytest.raises(PlanError, match="needs a system"):
        make_budget(days=3)
    assert make_budget(compute_flop=1e24).kind == "flops"
    assert make_budget(system="dgx-h100", devices=16, days=2).kind == "cluster"


def test_llama_family_reproduces_llama_7b_and_heads_split_by_8():
    c = candidates("llama")
    # depth 32 with 32 heads is LLaMA-7B (Touvron et al. 2023 Table 2): 6,738,415,616 parameters
    i = np.nonzero((c.layers == 32) & (c.heads == 32))[0]
    assert i.size == 1 and c.total_params[i[0]] == 6_738_415_616
    assert np.all((c.heads < 8) | (c.heads % 8 == 0))
    assert np.all(np.diff(c.total_params) >= 0)  # sorted by size
    # dense in N above 1B: consecutive candidates differ by < 15 %
    big = c.total_params > 1e9
    assert np.max(c.total_params[big][1:] / c.total_params[big][:-1]) < 1.15


def test_shape_for_params_nearest_and_errors():
    row = shape_for_params(70e9)
    assert abs(math.log(row["total_params"] / 70e9)) < 0.1
    assert row["hidden_size"] == 128 * row["num_heads"]
    with pytest.raises(PlanError):
        shape_for_params(-5)
    with pytest.raises(PlanError, match="unknown model family"):
        candidates("gpt5")
    with pytest.raises(PlanError):
        family_spec("llama", [0, 3])
