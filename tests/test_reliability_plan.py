"""Planner with ETTR: a device-time plan trains only ETTR x the budget; the ideal plan is unchanged."""

from __future__ import annotations

import pytest

from simulator.planner import make_budget, plan_training
from simulator.reliability import ReliabilityOptions


def test_plan_with_ettr_trains_fewer_tokens_than_ideal():
    budget = make_budget(system="dgx-h100", devices=1024, days=30)
    ideal = plan_training(budget).to_dict()["plan"]
    real = plan_training(budget, reliability=ReliabilityOptions()).to_dict()["plan"]
    assert "ettr" not in ideal
    assert 0.9 < real["ettr"] < 1.0
    assert real["tokens"] < ideal["tokens"]
    assert real["predicted_loss"] >= ideal["predicted_loss"]
    # the trained days plus the expected lost time fill the budget
    assert real["expected_train_days"] == pytest.approx(30.0, rel=0.01)
