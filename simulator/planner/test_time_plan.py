"""Test-time plans (Kinetics): model size, samples, generation length and attention under a
per-query budget in eFLOPs, seconds or dollars.

**Cost.** Kinetics (Sadhukhan et al. 2025, arXiv:2506.05333, Sec. 3.2; :mod:`scaling_laws.kinetics`)
charges memory traffic at the hardware's arithmetic intensity ``I`` (FLOP/byte)::

    eFLOPs = 2 n P L_out + r n D L_out (2 L_in + L_out) + I D L_out (2 L_in + n L_out)   (dense)

and the top-k sparse form with KV budget ``B`` (:func:`scaling_laws.kinetics.sparse_cost`).
"FLOPs-only" is the same model with ``I = 0`` (the compute-optimal accounting the paper argues
against). ``I`` comes from the device (``peak(dtype) / memory bandwidth``; B200 FP8: 562.5) or is the
paper's 562.5 without one. A latency or $ budget is costed by the serving simulator
(:func:`simulator.serving.serve_core`, decode memory-bound on KV and weights):

* seconds: end-to-end latency of one query's ``n`` samples run as a batch of ``n`` sequences;
* dollars: $ per query when the device is filled with as many queries as its memory holds
  (``Q = floor(max_batch / n)``): ``price x devices x e2e(Q n) / 3600 / Q``.
  Sparse attention is not modelled by the serving simulator, so these budgets plan dense only.

**Accuracy (coverage model)**: :mod:`simulator.planner.tts_accuracy` (re-exported here:
``load_accuracy_table``, ``fit_coverage``, ``CoverageFit``): per model a TTSPM coverage curve
``F_max (1 - (1 - p_eff)^n)`` with a length (and KV-budget) factor on ``p``, fitted to a user table.

**Search.** The grid of Kinetics App. D.2 (samples ``{1, 2, 4, 8, 16, 32}``, lengths 2K-32K in steps
of 2K, KV budgets ``{32, ..., 1024}``) for every model of the family, costed and scored as arrays
(one vectorised evaluation; the serving simulator is ``vmap``-ed over the configurations).

**Critical model size** (our operationalisation of Kinetics Sec. 3.1): along the accuracy-vs-cost
frontier, the smallest model that stays on the frontier for at least ``span_decades`` (default 1)
decades of cost, i.e. from which extra budget goes into samples / length rather than a larger model.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from fitters.precision import float32, float64
from simulator.planner.budget import positive
from simulator.planner.errors import PlanError
from simulator.planner.tts_accuracy import (  # noqa: F401  (re-exported: this module's names before the split)
    REQUIRED_COLUMNS,
    CoverageFit,
    _sigmoid,
    fit_coverage,
    load_accuracy_table,
)
from simulator.resources import data_dir

SAMPLES = (1, 2, 4, 8, 16, 32)
GEN_LENS = tuple(range(2048, 32768 + 1, 2048))
KV_BUDGETS = (32, 64, 128, 256, 512, 1024)
DEFAULT_PROMPT_LEN = 200  # tokens; the reference worked numbers use L_in = 200 (scaling_laws.md Sec. 5)
FAMILIES = {"qwen3": ("qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b", "qwen3-14b", "qwen3-32b")}
EXAMPLE_TABLE = data_dir("kinetics") / "example_accuracy.csv"  # package data (simulator.resources)


# ---------------------------------------------------------------------------------- the grid
def _grid(n_models: int, sparse: bool, samples=SAMPLES, gen_lens=GEN_LENS, kv_budgets=KV_BUDGETS) -> dict:
    kv = (0,) + (tuple(kv_budgets) if sparse else ())
    g = np.meshgrid(np.arange(n_models), np.asarray(samples, float), np.asarray(gen_lens, float),
                    np.asarray(kv, float), indexing="ij")
    return {"model": g[0].ravel(), "samples": g[1].ravel(), "gen_len": g[2].ravel(), "kv_budget": g[3].ravel()}


@float64()
def kinetics_costs(models: tuple[str, ...], grid: dict, prompt_len: float, intensity: float) -> dict:
    """eFLOPs and FLOPs-only (I = 0) cost per configuration, one array evaluation over the grid.

    The Kinetics shapes (:data:`scaling_laws.kinetics.QWEN3`) are gathered per configuration into
    one :class:`~scaling_laws.kinetics.AttentionShape` with array fields (its cost functions are
    plain arithmetic, so they broadcast).
    """
    from scaling_laws import kinetics as kn

    shapes = [kn.qwen3_shape(m) for m in models]
    idx = grid["model"].astype(int)

    def col(attr):
        return np.asarray([getattr(sh, attr) for sh in shapes], dtype=np.float64)[idx]

    shape = kn.AttentionShape("grid", col("params"), col("num_layers"), col("num_heads"), col("num_kv_heads"),
                              col("head_dim"))
    n, L, B = grid["samples"], grid["gen_len"], grid["kv_budget"]
    dense = B <= 0
    Bs = np.where(dense, 1.0, B)
    ed = np.asarray(kn.dense_cost(shape, prompt_len, L, n, intensity)["total"])
    fd = np.asarray(kn.dense_cost(shape, prompt_len, L, n, 0.0)["total"])
    es = np.asarray(kn.sparse_cost(shape, prompt_len, L, Bs, n, intensity)["total"])
    fs = np.asarray(kn.sparse_cost(shape, prompt_len, L, Bs, n, 0.0)["total"])
    return {"eflops": np.where(dense, ed, es), "flops": np.where(dense, fd, fs)}


def serving_costs(models: tuple[str, ...], grid: dict, prompt_len: float, device, dtype: str,
                  price_per_hour_usd: float | None) -> dict:
    """Latency of one query (batch = its samples) and $ per query at the largest batch that fits,
    from the serving simulator, ``vmap``-ed over every dense configuration."""
    from simulator.hw import build_hw
    from simulator.models import load_model
    from simulator.models.spec import stack_specs
    from simulator.serving import ServeConfig, resolve_dtypes, serve_core

    compute_dtype, prec = resolve_dtypes(device, dtype, dtype, dtype)
    hw = build_hw(device, compute_dtype)
    specs = stack_specs([load_model(m) for m in models], name="family")
    idx = grid["model"].astype(int)
    spec_g = jax.tree.map(lambda x: jnp.asarray(x)[idx], specs)

    def run(batch):
        cfg = ServeConfig.make(batch=batch, input_len=prompt_len, output_len=jnp.asarray(grid["gen_len"]))
        cfg = jax.tree.map(lambda x: jnp.broadcast_to(x, batch.shape), cfg)
        return jax.vmap(lambda s, c: serve_core(s, hw, prec, c))(spec_g, cfg)

    with float32():  # the serving simulator is the float32 core (a caller may be in a float64 scope)
        r1 = jax.jit(run)(jnp.asarray(grid["samples"]))
        latency = np.asarray(r1["e2e_latency_s"], dtype=np.float64)
        fits = np.asarray(r1["fits"])
        max_batch = np.asarray(r1["max_batch"], dtype=np.float64)
        q = np.maximum(np.floor(max_batch / grid["samples"]), 1.0)
        r2 = jax.jit(run)(jnp.asarray(q * grid["samples"]))
        e2e_full = np.asarray(r2["e2e_latency_s"], dtype=np.float64)
    usd = (np.full_like(latency, np.nan) if price_per_hour_usd is None
           else price_per_hour_usd * e2e_full / 3600.0 / q)
    dense = grid["kv_budget"] <= 0
    ok = fits & dense
    return {"latency_s": np.where(ok, latency, np.inf), "usd_per_query": np.where(ok, usd, np.inf),
            "queries_per_batch": q, "fits": fits}


def _config(models, grid, i, acc, costs: dict) -> dict:
    out = {"model": models[int(grid["model"][i])], "samples": int(grid["samples"][i]),
           "gen_len": int(grid["gen_len"][i]),
           "attention": "dense" if grid["kv_budget"][i] <= 0 else f"top-k (KV budget {int(grid['kv_budget'][i])})",
           "kv_budget": int(grid["kv_budget"][i]), "accuracy": float(acc[i])}
    for k, v in costs.items():
        out[k] = float(v[i])
    return out


def _argmax_within(acc, cost, budget):
    ok = cost <= budget
    if not ok.any():
        return None
    a = np.where(ok, acc, -np.inf)
    best = a.max()
    # ties: the cheapest
    tie = np.where(a >= best - 1e-12, cost, np.inf)
    return int(np.argmin(tie))


def critical_model_size(models, grid, acc, cost, span_decades: float = 1.0) -> dict:
    """Frontier composition and the critical model size (see module docstring)."""
    from scaling_laws.kinetics import frontier

    f = frontier(cost, acc)
    m = grid["model"][f].astype(int)
    lc = np.log10(cost[f])
    end = np.append(lc[1:], lc[-1])  # a point holds the frontier until the next one
    span = np.bincount(m, weights=end - lc, minlength=len(models))
    crit = next((models[k] for k in range(len(models)) if span[k] >= span_decades), None)
    return {"frontier_models": [models[k] for k in m], "frontier_cost": cost[f].tolist(),
            "frontier_accuracy": acc[f].tolist(), "span_decades": dict(zip(models, span.tolist(), strict=True)),
            "critical_model": crit}


def models_by_accuracy(models, grid, acc, cost, fractions=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)) -> dict:
    """The model of the cheapest configuration reaching each accuracy target (``fraction x`` the
    best reachable accuracy): ``{"targets": [...], "models": [...]}`` (vectorised over targets)."""
    t = np.asarray(fractions, dtype=np.float64) * acc.max()
    reach = acc[None, :] >= t[:, None]
    j = np.argmin(np.where(reach, cost[None, :], np.inf), axis=1)
    return {"targets": t.tolist(), "models": [models[int(grid["model"][k])] for k in j]}


def plan_test_time(accuracy_table=None, *, family: str = "qwen3", budget_eflops=None, budget_s=None,
                   budget_usd=None, hardware=None, dtype: str | None = None, price_per_hour_usd=None,
                   prompt_len: float = DEFAULT_PROMPT_LEN, intensity: float | None = None,
                   samples=SAMPLES, gen_lens=GEN_LENS, kv_budgets=KV_BUDGETS) -> dict:
    """Best (model, samples, generation length, attention) for one per-query budget.

    Exactly one of ``budget_eflops`` (eFLOP), ``budget_s`` (seconds, needs ``hardware``) or
    ``budget_usd`` (dollars per query, needs ``hardware`` and a price). Returns the Kinetics
    choice, the FLOPs-only choice side by side, the fitted coverage model and the frontier with
    the critical model size. ``accuracy_table`` defaults to the shipped example (illustrative).
    """
    given = [k for k, v in (("eFLOPs", budget_eflops), ("seconds", budget_s), ("USD", budget_usd)) if v is not None]
    if len(given) != 1:
        raise PlanError(f"give exactly one per-query budget; got {', '.join(given) or 'none'}; "
                        "allowed: --budget-eflops | --budget-s | --budget-usd")
    key = str(family).strip().lower()
    if key not in FAMILIES:
        raise PlanError(f"unknown test-time family '{family}'; allowed: {', '.join(FAMILIES)}")
    models = FAMILIES[key]
    prompt_len = positive("prompt length (tokens)", prompt_len)
    fit = fit_coverage(EXAMPLE_TABLE if accuracy_table is None else accuracy_table, models)
    scored = np.isfinite(fit.f_max)
    device = None
    if hardware is not None:
        from hardware_db import load_device

        device = hardware if hasattr(hardware, "peak") else load_device(str(hardware))
    if dtype is None:
        dtype = "fp8" if device is not None and "fp8" in device.peak_flops_per_s else "bf16"
    if intensity is None:
        from scaling_laws.kinetics import B200_INTENSITY

        intensity = B200_INTENSITY if device is None else float(device.peak(dtype) / device.memory.bandwidth_bytes_per_s)
    intensity = float(intensity)
    if not (math.isfinite(intensity) and intensity >= 0):
        raise PlanError(f"intensity = {intensity}; allowed: a finite FLOP/byte >= 0")

    sparse_ok = fit.beta is not None and budget_eflops is not None
    grid = _grid(len(models), sparse_ok, samples, gen_lens, kv_budgets)
    keep = scored[grid["model"].astype(int)]
    grid = {k: v[keep] for k, v in grid.items()}
    acc = fit.accuracy(grid["model"].astype(int), grid["samples"], grid["gen_len"], grid["kv_budget"])
    costs = kinetics_costs(models, grid, prompt_len, intensity)

    notes = []
    if fit.beta is None:
        notes.append("no sparse rows (kv_budget > 0) in the accuracy table: dense attention only")
    if budget_eflops is not None:
        budget = positive("budget (eFLOP)", budget_eflops)
        basis, cost = "eflops", costs["eflops"]
    else:
        if device is None:
            raise PlanError("a latency or $ budget needs --hardware (a device from `simlab hardware`)")
        price = (positive("price per device-hour (USD, --price)", price_per_hour_usd)
                 if price_per_hour_usd is not None else device.price_per_hour_usd)
        if budget_usd is not None and price is None:
            raise PlanError(f"a $ budget needs a price; the catalog has none for '{device.name}'; allowed: --price USD")
        serve = serving_costs(models, grid, prompt_len, device, dtype, None if price is None else float(price))
        costs.update(latency_s=serve["latency_s"], usd_per_query=serve["usd_per_query"])
        if budget_s is not None:
            budget, basis, cost = positive("budget (s)", budget_s), "latency_s", serve["latency_s"]
        else:
            budget, basis, cost = positive("budget (USD)", budget_usd), "usd_per_query", serve["usd_per_query"]
        if fit.beta is not None:
            notes.append("sparse attention is not modelled by the serving simulator: dense only under s / $ budgets")

    i = _argmax_within(acc, cost, budget)
    if i is None:
        raise PlanError(f"budget {budget:.3g} ({basis}) is too small for any candidate: the cheapest "
                        f"configuration costs {np.min(cost):.3g}")
    kinetics_choice = _config(models, grid, i, acc, costs)
    # FLOPs-only side by side: what compute-only accounting picks at the same budget number
    # (eFLOPs budgets) or for the same accuracy (the cheapest FLOPs config reaching it).
    if basis == "eflops":
        j = _argmax_within(acc, costs["flops"], budget)
    else:
        j = None
    reach = acc >= acc[i] - 1e-12
    k = int(np.argmin(np.where(reach, costs["flops"], np.inf)))  # cheapest in FLOPs at >= that accuracy
    side = {
        "kinetics": kinetics_choice,
        "flops_only_same_budget": None if j is None else _config(models, grid, j, acc, costs),
        "flops_only_same_accuracy": _config(models, grid, k, acc, costs),
        # cost (in the budget's own unit) of the FLOPs-only pick over the Kinetics pick, same accuracy
        "cost_ratio_same_accuracy": float(cost[k] / cost[i]) if np.isfinite(cost[k]) else None,
    }
    crit_e = critical_model_size(models, grid, acc, costs["eflops"])
    crit_f = critical_model_size(models, grid, acc, costs["flops"])
    return {
        "budget": {"basis": basis, "value": budget, "hardware": None if device is None else device.name,
                   "dtype": dtype, "intensity_flop_per_byte": intensity, "prompt_len": prompt_len},
        "choice": kinetics_choice,
        "side_by_side": side,
        "coverage_fit": fit.describe(),
        "frontier_eflops": crit_e,
        "frontier_flops": crit_f,
        "critical_model_eflops": crit_e["critical_model"],
        "critical_model_flops": crit_f["critical_model"],
        "models_by_accuracy_eflops": models_by_accuracy(models, grid, acc, costs["eflops"]),
        "models_by_accuracy_flops": models_by_accuracy(models, grid, acc, costs["flops"]),
        "configurations": int(grid["model"].size),
        "notes": notes,
        "sources": {"cost": "Sadhukhan et al. 2025, arXiv:2506.05333 Sec. 3.2 (scaling_laws.kinetics)",
                    "coverage": "TTSPM F(N) = F_max (1-(1-p)^N), arXiv:2505.20522 (scaling_laws.coverage)"},
    }
