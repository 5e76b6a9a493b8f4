"""Training plans: closed-form agreement, budgets respected, monotone loss, hardware-aware vs nominal."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from scaling_laws import chinchilla as ch
from simulator.models import ModelSpec
from simulator.planner import PlanError, cluster_budget, dollar_budget, flops_budget, plan_training
from simulator.planner.laws import get_loss_law

C_CHINCHILLA = 6 * 70e9 * 1.4e12  # 5.88e23, Hoffmann et al. 2022


def test_hoffmann_numerical_optimum_equals_closed_form():
    p = plan_training(flops_budget(C_CHINCHILLA), law="chinchilla-hoffmann")
    with jax.enable_x64(True):
        cf = ch.optimal_allocation(ch.PUBLISHED["hoffmann"].values, C_CHINCHILLA)
        n_cf, d_cf = float(cf["N"]), float(cf["D"])
    o = p.law_optimum
    assert o["interior"]
    assert o["n_params"] == pytest.approx(n_cf, rel=1e-6)
    assert o["tokens"] == pytest.approx(d_cf, rel=1e-6)
    assert o["tokens_per_param"] == pytest.approx(92.8, abs=0.5)


def test_epoch_tokens_per_param():
    p = plan_training(flops_budget(C_CHINCHILLA))  # default law: chinchilla-epoch
    assert p.law["name"] == "chinchilla-epoch"
    assert 15 <= p.law_optimum["tokens_per_param"] <= 22
    # the discrete (family-shape) plan is close to the continuous optimum
    assert 10 <= p.plan["tokens_per_param"] <= 30


@pytest.mark.parametrize("law", ["chinchilla-hoffmann", "chinchilla-epoch", "kaplan", "farseer"])
def test_flops_plan_never_exceeds_budget_and_loss_monotone(law):
    budgets = np.logspace(19, 25, 7)
    losses = []
    for c in budgets:
        p = plan_training(flops_budget(c), law=law).plan
        assert p["compute_flop"] <= c * (1 + 1e-12)
        assert p["tokens"] == int(p["tokens"])
        losses.append(p["predicted_loss"])
    assert np.all(np.diff(losses) <= 1e-12), losses


def test_flops_budget_too_small():
    with pytest.raises(PlanError, match="too small for any candidate"):
        plan_training(flops_budget(1e12))


def test_unknown_law_is_one_line():
    from hardware_db.errors import SimlabError

    with pytest.raises(SimlabError) as e:
        plan_training(flops_budget(1e22), law="chinchila")
    assert "\n" not in str(e.value) and "chinchila" in str(e.value)


@pytest.fixture(scope="module")
def h100_plan():
    return plan_training(cluster_budget("dgx-h100", 2048, 30, price_per_device_hour_usd=2.5))


def test_cluster_plan_within_budget_and_reports_everything(h100_plan):
    p, nom = h100_plan.plan, h100_plan.nominal
    assert p["wall_s"] <= 30 * 86400 * (1 + 1e-9)
    assert p["cost_usd"] <= 2.5 * 2048 * 720 * (1 + 1e-9)
    for key in ("n_params", "tokens", "tokens_per_param", "predicted_loss", "layout", "mfu", "train_days",
                "device_hours", "cost_usd", "energy_j", "peak_lr", "global_batch_tokens"):
        assert p[key] is not None, key
    assert 0.05 < p["mfu"] < 0.8
    lay = p["layout"]
    assert lay["tp"] * lay["pp"] * lay["dp"] == 2048
    assert p["shape"]["num_heads"] % lay["tp"] == 0
    # the hardware-blind answer assumes 100 % of peak: bigger model, more tokens, lower claimed loss,
    # and it would overrun the 30 days on this hardware
    assert nom["n_params"] * nom["tokens"] > p["n_params"] * p["tokens"]
    assert nom["predicted_loss"] < p["predicted_loss"]
    assert nom["overrun_factor"] > 1.0
    # within the real budget the nominal model is no better than the hardware-aware choice
    assert p["predicted_loss"] <= nom["loss_within_budget"] + 1e-12
    # Step Law hyper-parameters at the plan's (N non-embedding, D)
    assert p["peak_lr"] == pytest.approx(1.79 * p["non_embedding_params"] ** -0.713 * p["tokens"] ** 0.307, rel=1e-9)
    # B* target from the previous iteration's D (converged to a few %), rounded up per layout
    assert p["step_law_batch_tokens"] == pytest.approx(0.58 * p["tokens"] ** 0.571, rel=0.03)
    assert p["global_batch_tokens"] >= p["step_law_batch_tokens"] * (1 - 1e-9)


def test_cluster_plan_matches_training_simulator(h100_plan):
    """The planner's throughput for its layout equals predict_training for the same configuration."""
    from simulator.training import predict_training

    p = h100_plan.plan
    s = p["shape"]
    spec = ModelSpec.create(name="planned", num_layers=s["layers"], hidden_size=s["hidden_size"],
                            num_heads=s["num_heads"], num_kv_heads=s["num_kv_heads"], head_dim=s["head_dim"],
                            ffn_size=s["ffn_size"], gated_mlp=1, vocab_size=s["vocab_size"], tied_embeddings=0,
                            layernorm=0, max_context=2048)
    lay = p["layout"]
    r = predict_training(spec, "dgx-h100", 2048, tp=lay["tp"], pp=lay["pp"], dp=lay["dp"],
                         micro_batch=lay["micro_batch"], recompute=lay["recompute"], zero=lay["zero"],
                         global_batch=int(p["global_batch_sequences"]), seq_len=2048)
    assert r["fits"]
    assert r["tokens_per_s"] == pytest.approx(p["tokens_per_s"], rel=1e-3)
    assert r["mfu"] == pytest.approx(p["mfu"], rel=1e-3)


def test_cluster_loss_never_rises_with_days():
    losses, walls = [], []
    for days in (0.5, 1, 2, 4, 8):
        p = plan_training(cluster_budget("dgx-h100", 64, days)).plan
        assert p["wall_s"] <= days * 86400 * (1 + 1e-9)
        losses.append(p["predicted_loss"])
        walls.append(p["train_days"])
    assert np.all(np.diff(losses) <= 1e-12), losses


def test_dollar_plan_respects_dollars():
    p = plan_training(dollar_budget(2e5, "dgx-h100", 64, price_per_device_hour_usd=3.0)).plan
    assert p["cost_usd"] <= 2e5 * (1 + 1e-9)
    assert p["device_hours"] <= 2e5 / 3.0 * (1 + 1e-9)


def test_cluster_budget_too_small():
    with pytest.raises(PlanError, match="too small for any candidate"):
        plan_training(cluster_budget("dgx-h100", 8, 1e-7))


def test_flops_budget_timed_on_a_system():
    res = plan_training(flops_budget(1e22, system="dgx-h100", devices=64))
    p = res.plan
    assert p["compute_flop"] <= 1e22
    assert p["layout"] is not None and p["train_days"] > 0
    # same model and tokens as without a system
    q = plan_training(flops_budget(1e22)).plan
    assert p["n_params"] == q["n_params"] and p["tokens"] == q["tokens"]


def test_loss_law_conventions():
    assert get_loss_law("kaplan").non_embedding
    assert get_loss_law("farseer").non_embedding
    assert not get_loss_law("hoffmann").non_embedding
