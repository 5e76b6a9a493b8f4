"""Test-time (Kinetics) plans: accuracy table checks, coverage fit, budgets, FLOPs vs eFLOPs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulator.planner import PlanError
from simulator.planner.test_time_plan import (
    EXAMPLE_TABLE,
    FAMILIES,
    fit_coverage,
    load_accuracy_table,
    plan_test_time,
)

MODELS = FAMILIES["qwen3"]
TRUE = {  # synthetic "truth" (F_max, p, lambda) per model, for recovery tests
    "qwen3-0.6b": (0.15, 0.3, 9000.0), "qwen3-1.7b": (0.35, 0.5, 9000.0), "qwen3-4b": (0.55, 0.6, 10000.0),
    "qwen3-8b": (0.62, 0.7, 11000.0), "qwen3-14b": (0.78, 0.85, 14000.0), "qwen3-32b": (0.82, 0.88, 15000.0),
}


def synthetic_table(sparse_beta: float | None = None) -> pd.DataFrame:
    rows = []
    for m, (f, p, lam) in TRUE.items():
        for n in (1, 4, 16):
            for L in (4096, 8192, 16384, 32768):
                pe = p * (1 - np.exp(-L / lam))
                rows.append((m, n, L, 0, f * (1 - (1 - pe) ** n)))
                if sparse_beta is not None and m == "qwen3-8b":
                    for B in (64, 256, 1024):
                        ps = pe * (1 - np.exp(-B / sparse_beta))
                        rows.append((m, n, L, B, f * (1 - (1 - ps) ** n)))
    return pd.DataFrame(rows, columns=["model", "samples", "gen_len", "kv_budget", "accuracy"])


def test_example_table_is_valid_and_labelled():
    df = load_accuracy_table(EXAMPLE_TABLE)
    assert set(df["model"]) == set(MODELS)
    assert df["source"].str.contains("ILLUSTRATIVE").all()


@pytest.mark.parametrize("bad,match", [(1.5, "outside"), (-0.1, "outside")])
def test_probabilities_outside_unit_interval(tmp_path, bad, match):
    t = synthetic_table()
    t.loc[3, "accuracy"] = bad
    path = tmp_path / "bad.csv"
    t.to_csv(path, index=False)
    with pytest.raises(PlanError, match=match) as e:
        load_accuracy_table(path)
    assert "\n" not in str(e.value)


def test_table_errors(tmp_path):
    with pytest.raises(PlanError, match="not found"):
        load_accuracy_table(tmp_path / "nope.csv")
    t = synthetic_table().drop(columns=["gen_len"])
    with pytest.raises(PlanError, match="missing column"):
        load_accuracy_table(t)
    t = synthetic_table()
    t.loc[0, "model"] = "llama-3-8b"
    with pytest.raises(PlanError, match="not in the family"):
        fit_coverage(t, MODELS)


def test_coverage_fit_recovers_synthetic_truth():
    fit = fit_coverage(synthetic_table(), MODELS)
    assert fit.rmse < 2e-3
    for k, m in enumerate(MODELS):
        f, p, lam = TRUE[m]
        assert fit.f_max[k] == pytest.approx(f, abs=0.02)
        assert fit.lam[k] == pytest.approx(lam, rel=0.15)


def test_eflops_plan_within_budget_and_side_by_side():
    for budget in (3e14, 3e15, 3e16):
        r = plan_test_time(synthetic_table(), budget_eflops=budget)
        c = r["choice"]
        assert c["eflops"] <= budget
        side = r["side_by_side"]
        # FLOPs-only accounting at the same number spends more real (e)FLOPs than allowed
        if side["flops_only_same_budget"] is not None:
            assert side["flops_only_same_budget"]["flops"] <= budget
            assert side["flops_only_same_budget"]["accuracy"] >= c["accuracy"] - 1e-12
        assert side["cost_ratio_same_accuracy"] >= 1.0 - 1e-12
    # more budget never lowers the chosen accuracy
    accs = [plan_test_time(synthetic_table(), budget_eflops=b)["choice"]["accuracy"] for b in (3e14, 3e15, 3e16)]
    assert np.all(np.diff(accs) >= -1e-12)


def test_eflops_favour_larger_models_than_flops():
    """Kinetics' finding (Sec. 3.1): counting memory traffic moves the frontier to larger models."""
    size = {m: i for i, m in enumerate(MODELS)}
    for table in (synthetic_table(), None):  # synthetic truth and the shipped (illustrative) example
        r = plan_test_time(table, budget_eflops=1e16)
        me = [size[m] for m in r["models_by_accuracy_eflops"]["models"]]
        mf = [size[m] for m in r["models_by_accuracy_flops"]["models"]]
        assert all(e >= f for e, f in zip(me, mf, strict=True))
        assert np.mean(me) > np.mean(mf)
        assert r["critical_model_eflops"] is not None and r["critical_model_flops"] is not None


def test_sparse_rows_enable_sparse_attention():
    r = plan_test_time(synthetic_table(sparse_beta=150.0), budget_eflops=3e14)
    assert r["coverage_fit"]["kv_beta_tokens"] == pytest.approx(150.0, rel=0.1)
    assert r["configurations"] > 6 * 6 * 16  # sparse options were searched
    assert r["choice"]["eflops"] <= 3e14


def test_latency_and_dollar_budgets_on_b200(tmp_path):
    t = synthetic_table()
    r = plan_test_time(t, budget_s=60, hardware="b200")
    assert r["choice"]["latency_s"] <= 60
    assert r["budget"]["intensity_flop_per_byte"] == pytest.approx(562.5)  # 4.5 PFLOP/s fp8 / 8 TB/s
    r2 = plan_test_time(t, budget_s=600, hardware="b200")
    assert r2["choice"]["accuracy"] >= r["choice"]["accuracy"]
    with pytest.raises(PlanError, match="price"):
        plan_test_time(t, budget_usd=0.01, hardware="b200")
    r3 = plan_test_time(t, budget_usd=0.01, hardware="b200", price_per_hour_usd=6.0)
    assert r3["choice"]["usd_per_query"] <= 0.01


def test_budget_errors():
    t = synthetic_table()
    with pytest.raises(PlanError, match="too small"):
        plan_test_time(t, budget_eflops=1e6)
    with pytest.raises(PlanError, match="exactly one"):
        plan_test_time(t)
    with pytest.raises(PlanError, match="needs --hardware"):
        plan_test_time(t, budget_s=10)
    with pytest.raises(PlanError):
        plan_test_time(t, budget_eflops=-5)


def test_grid_costs_match_kinetics_reference():
    """Vectorised grid costs: Qwen3-8B, L_in 200, L_out 32768, n 1, I 562.5 -> 536.7 + 320.5 + 45,073.8
    Tera-eFLOPs (shared/reference/scaling_laws.md Sec. 5); top-k sparse is cheaper than dense."""
    from simulator.planner.test_time_plan import _grid, kinetics_costs

    g = _grid(len(MODELS), True)
    c = kinetics_costs(MODELS, g, 200.0, 562.5)
    sel = (g["model"] == 3) & (g["samples"] == 1) & (g["gen_len"] == 32768)
    dense = sel & (g["kv_budget"] == 0)
    assert c["eflops"][dense][0] / 1e12 == pytest.approx(536.7 + 320.5 + 45073.8, rel=1e-3)
    assert c["flops"][dense][0] / 1e12 == pytest.approx(536.7 + 320.5, rel=1e-3)
    assert np.all(c["eflops"][sel & (g["kv_budget"] > 0)] < c["eflops"][dense][0])
