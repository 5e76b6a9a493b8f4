"""Planner: budgets -> compute-optimal training, data-filtering and test-time (Kinetics) plans.

    from simulator.planner import cluster_budget, plan_training
    plan = plan_training(cluster_budget("dgx-h100", 2048, days=30), law="chinchilla-epoch")
    plan.plan["n_params"], plan.plan["tokens"], plan.plan["layout"], plan.nominal["n_params"]

Modules: ``budget`` (FLOP / cluster-days / $ budgets), ``shapes`` (family rule N -> shape),
``laws`` (loss-law and Step Law adapters), ``training_plan`` (hardware-aware vs nominal optimum),
``data_plan`` (data-filtering level), ``test_time_plan`` (Kinetics test-time plans). See
``docs/planner.md``.
"""

from simulator.planner.budget import Budget, cluster_budget, dollar_budget, flops_budget, make_budget
from simulator.planner.errors import PlanError
from simulator.planner.shapes import FAMILIES, Family, candidates, shape_for_params
from simulator.planner.training_plan import TrainingPlan, law_optimum, plan_training

__all__ = [
    "FAMILIES",
    "Budget",
    "Family",
    "PlanError",
    "TrainingPlan",
    "candidates",
    "cluster_budget",
    "dollar_budget",
    "flops_budget",
    "law_optimum",
    "make_budget",
    "plan_training",
    "shape_for_params",
]
