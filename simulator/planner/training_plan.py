"""Compute-optimal training plans: hardware-aware (training simulator) and nominal (6ND / peak).

Given a :class:`~simulator.planner.budget.Budget`, a loss law ``L(N, D)`` (default
``chinchilla-epoch``: Besiroglu et al. 2024, arXiv:2404.10102) and a model family
(:mod:`simulator.planner.shapes`), choose the model, the tokens, the parallel layout, the global
batch and the peak learning rate that minimise the predicted loss.

**Candidates.** Every shape of the family (depth 2-320, about 600 shapes from 18M to 6.4T
parameters). ``N`` below is the law's parameter count (total for Chinchilla, non-embedding for
Kaplan / Farseer; see :mod:`simulator.planner.laws`).

**FLOP budget** ``C`` (``C = 6 N D``, Kaplan et al. 2020 Sec. 2.1; Hoffmann et al. 2022 Sec. 3)::

    D_i = floor(C / (6 N_i)),   i* = argmin_i L(N_i, D_i)   over D_i >= r_min N_i

plus the law's continuous optimum ``argmin_N L(N, C / 6N)`` (:func:`law_optimum`, via
:func:`scaling_laws.allocation.numerical_allocation`), which equals the closed form
``N_opt = G (C/6)^(beta/(alpha+beta))`` for Chinchilla.

**Device-time budget** (cluster for days, or dollars at a price per device-hour): the achieved
throughput of every candidate comes from the training simulator
(:func:`simulator.training.train_step`): one jitted call evaluates the grid
``candidates x layouts`` (TP, PP, micro-batch, recomputation, ZeRO stage; DP fills the devices),
masks layouts that are invalid (``heads % tp``, ``pp > layers``, ZeRO >= 2 with PP, as in
:mod:`simulator.training.layouts`; uneven stages are allowed and the simulator charges the busiest
stage ``ceil(L / pp)`` layers) or do not fit in device memory, and keeps each candidate's fastest
layout::

    tokens/s_i = max_layout  B_eff s / t_step,   D_i = whole steps in the wall-clock budget
    i* = argmin_i L(N_i, D_i)

MFU therefore depends on size and layout (small models waste the data-parallel all-reduce,
large ones pay pipeline bubbles and recomputation). The global batch follows Step Law
``B*(D) = 0.58 D^0.571`` tokens (Li et al. 2025, arXiv:2503.04715), rounded up per layout to a
multiple of ``dp x micro_batch`` sequences (``B_eff``); ``D`` and ``B*`` are iterated twice. The
peak learning rate is Step Law's ``eta* = 1.79 N^-0.713 D^0.307`` (N non-embedding).

**Nominal answer** (hardware-blind): ``C_nom = device-seconds x peak x nominal_mfu`` (dense catalog
peak, ``nominal_mfu = 1``) with the FLOP-budget rule; reported beside the plan together with the
days that model would really need on the hardware at its best layout.

Energy = TDP x devices x time (an upper bound: boards at TDP); $ = price x device-hours.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from fitters.precision import float64
from simulator.layout_rule import layout_violations
from simulator.planner.budget import SECONDS_PER_DAY, SECONDS_PER_HOUR, Budget
from simulator.planner.errors import PlanError
from simulator.planner.laws import DEFAULT_LAW, STEP_LAW_SOURCE, LossLaw, get_loss_law, step_law
from simulator.planner.shapes import DEFAULT_FAMILY, Candidates, candidates
from simulator.training.common import RECOMPUTE, Layout, TrainOptions, train_hardware
from simulator.training.flops import model_flops_per_token
from simulator.training.step import train_step

DEFAULT_SEQ_LEN = 2048
"""Training context (tokens): Hoffmann et al. 2022 (Sec. 3) and Step Law both trained at 2048."""

#: Layout dimensions searched per candidate (DP = devices / (TP PP)); CP = EP = 1, no interleaving.
LAYOUT_SPACE = {
    "tp": (1, 2, 4, 8),
    "pp": (1, 2, 4, 8, 16, 32, 64),
    "micro_batch": (1, 2, 4),
    "recompute": ("none", "selective", "full"),
    "zero": (1, 3),
}

_INV_RC = {v: k for k, v in RECOMPUTE.items()}


# ------------------------------------------------------------------------------- layout grid
def layout_grid(devices: int, devices_per_node: int, space: dict | None = None) -> dict[str, np.ndarray]:
    """Model-independent layouts for ``devices`` (numpy int arrays): TP inside a node, TP PP | devices."""
    sp = dict(LAYOUT_SPACE, **(space or {}))
    rc = [RECOMPUTE[r] if isinstance(r, str) else int(r) for r in sp["recompute"]]
    rows = np.array(list(itertools.product(sp["tp"], sp["pp"], sp["micro_batch"], rc, sp["zero"])), dtype=np.int64)
    tp, pp, mb, r, z = rows.T
    # model-independent part of the one layout rule (simulator.layout_rule); the model-dependent
    # rules (heads, layers per stage) are applied per candidate in evaluate_candidates
    ok = (tp <= max(devices_per_node, 1)) & (devices % (tp * pp) == 0) & ~((z >= 2) & (pp > 1))
    if not ok.any():
        raise PlanError(f"no layout in the search space for {devices} devices")
    tp, pp, mb, r, z = (x[ok] for x in (tp, pp, mb, r, z))
    return {"tp": tp, "pp": pp, "dp": devices // (tp * pp), "micro_batch": mb, "recompute": r, "zero": z}


@partial(jax.jit, static_argnames=("opts",))
def _grid_eval(spec, layout, hw, batch, seq_len, opts):
    r = train_step(spec, layout, hw, batch, seq_len, opts)
    return {k: r[k] for k in ("tokens_per_s", "mfu", "step_time_s", "total_bytes", "fits")}


def evaluate_candidates(cands: Candidates, budget: Budget, batch_sequences: np.ndarray, seq_len: int,
                        opts: TrainOptions, space: dict | None = None) -> dict:
    """Best layout per candidate in one vectorised simulator call (candidates x layouts).

    ``batch_sequences`` (one per candidate) is the target global batch; each layout rounds it up
    to a multiple of ``dp x micro_batch``. Returns per-candidate arrays: ``ok`` (some layout valid
    and fitting), ``tokens_per_s``, ``mfu``, ``step_time_s``, ``batch_sequences`` (effective),
    ``layout_index`` and the grid itself (``grid``).
    """
    sysm = budget.system
    dpn = int(sysm.devices_per_node)
    grid = layout_grid(int(budget.devices), dpn, space)
    hw = train_hardware(sysm, opts.dtype, price_per_hour_usd=budget.price_per_device_hour_usd)
    spec = jax.tree.map(lambda x: jnp.asarray(np.broadcast_to(np.asarray(x), cands.layers.shape))[:, None],
                        cands.spec)
    K = grid["tp"].size
    one = np.ones(K, dtype=np.int64)
    lay = Layout(*(jnp.asarray(v, dtype=jnp.int32)[None, :] for v in (
        grid["tp"], grid["pp"], grid["dp"], one, one, grid["micro_batch"], one, grid["recompute"], grid["zero"],
        0 * one)))
    per = (grid["dp"] * grid["micro_batch"])[None, :]
    target = np.maximum(np.asarray(batch_sequences, dtype=np.float64), 1.0)[:, None]
    b_eff = np.ceil(target / per) * per
    r = _grid_eval(spec, lay, hw, jnp.asarray(b_eff, dtype=jnp.float32), float(seq_len), opts)
    tps = np.asarray(r["tokens_per_s"], dtype=np.float64)
    experts = np.asarray(np.broadcast_to(np.asarray(cands.spec.num_experts), cands.layers.shape))[:, None]
    valid = layout_violations(layers=cands.layers[:, None], heads=cands.heads[:, None], experts=experts,
                              num_devices=int(budget.devices), global_batch=b_eff, seq_len=seq_len,
                              tp=grid["tp"][None, :], pp=grid["pp"][None, :], dp=grid["dp"][None, :],
                              micro_batch=grid["micro_batch"][None, :], zero=grid["zero"][None, :],
                              devices_per_node=dpn) == 0
    valid &= np.asarray(r["fits"]) & np.isfinite(tps) & (tps > 0)
    score = np.where(valid, tps, -np.inf)
    j = np.argmax(score, axis=1)
    rows = np.arange(len(cands))
    ok = valid[rows, j]
    return {
        "ok": ok,
        "tokens_per_s": np.where(ok, tps[rows, j], np.nan),
        "mfu": np.where(ok, np.asarray(r["mfu"], dtype=np.float64)[rows, j], np.nan),
        "step_time_s": np.where(ok, np.asarray(r["step_time_s"], dtype=np.float64)[rows, j], np.nan),
        "total_bytes": np.asarray(r["total_bytes"], dtype=np.float64)[rows, j],
        "batch_sequences": b_eff[rows, j],
        "layout_index": j,
        "grid": grid,
        "layouts": K,
        "hw": hw,
    }


def _layout_dict(grid: dict, j: int) -> dict:
    out = {k: int(grid[k][j]) for k in ("tp", "pp", "dp", "micro_batch", "zero")}
    out.update(cp=1, ep=1, virtual_stages=1, recompute=_INV_RC[int(grid["recompute"][j])], offload="none")
    return out


# ------------------------------------------------------------------------------------ optima
@float64()
def law_optimum(law: LossLaw, compute_flop, ratio_lo: float = 1.0, ratio_hi: float = 1e5) -> dict:
    """Continuous ``argmin_N L(N, C/(6N))`` of the law at its own N convention (vectorised over C),
    searched over ``D/N`` in ``[ratio_lo, ratio_hi]``; ``interior`` is False when the minimum sits on
    a bound (e.g. Farseer above ~1e22 FLOP has no interior optimum, scaling_laws.md Sec. 2). Float64."""
    from scaling_laws.allocation import numerical_allocation

    C = np.asarray(compute_flop, dtype=np.float64)
    r = numerical_allocation(lambda n, d: law.fn(law.params, N=n, D=d), jnp.asarray(C),
                             ratio_lo=ratio_lo, ratio_hi=ratio_hi)
    out = {k: np.asarray(v) for k, v in r.items()}
    N, D = out["N"], out["D"]
    return {"n_params": N, "tokens": D, "tokens_per_param": D / N, "predicted_loss": out["loss"],
            "interior": out["interior"], "compute_flop": C}


def _scalar(d: dict) -> dict:
    return {k: (v.item() if isinstance(v, (np.ndarray, np.generic)) and np.ndim(v) == 0 else v) for k, v in d.items()}


def flops_choice(law: LossLaw, cands: Candidates, compute_flop: float, min_tokens_per_param: float) -> dict:
    """Discrete FLOP-budget choice: ``D_i = floor(C / 6 N_i)``, argmin of the loss over feasible i."""
    n_law = cands.non_embedding_params if law.non_embedding else cands.total_params
    D = np.floor(compute_flop / (6.0 * n_law))
    feasible = D >= min_tokens_per_param * n_law
    if not feasible.any():
        need = 6.0 * min_tokens_per_param * n_law.min() ** 2
        raise PlanError(f"budget {compute_flop:.3g} FLOP is too small for any candidate: the smallest "
                        f"{cands.family.name} model (N = {n_law.min():.3g}) needs at least {need:.3g} FLOP "
                        f"for {min_tokens_per_param:g} tokens per parameter")
    loss = np.where(feasible, law.loss(cands.total_params, cands.non_embedding_params, np.maximum(D, 1.0)), np.inf)
    i = int(np.argmin(loss))
    return {"index": i, "tokens": float(D[i]), "n_params": float(n_law[i]), "predicted_loss": float(loss[i]),
            "feasible": int(feasible.sum())}


# ------------------------------------------------------------------------------------- plans
@dataclass
class TrainingPlan:
    """Result of :func:`plan_training`; ``to_dict()`` gives plain JSON-ready values (SI units).

    ``plan`` is the recommendation (hardware-aware for device-time budgets), ``nominal`` the
    hardware-blind answer for the same budget, ``law_optimum`` the law's continuous optimum at
    the plan's FLOP budget (``C`` itself, or ``C_nom`` for device-time budgets).
    """

    budget: dict
    law: dict
    family: str
    seq_len: int
    plan: dict
    nominal: dict
    law_optimum: dict
    search: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"budget": self.budget, "law": self.law, "family": self.family, "seq_len": self.seq_len,
                "plan": self.plan, "nominal": self.nominal, "law_optimum": self.law_optimum,
                "search": self.search}


def _describe(cands: Candidates, i: int, law: LossLaw, tokens: float, loss: float, seq_len: int) -> dict:
    shape = cands.row(i)
    n_law = shape["non_embedding_params"] if law.non_embedding else shape["total_params"]
    lr, b_tokens = step_law(shape["non_embedding_params"], tokens)
    spec_i = jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), cands.layers.shape)[i], cands.spec)
    sim_flop_per_token = float(model_flops_per_token(spec_i, seq_len))
    return {
        "n_params": n_law,
        "total_params": shape["total_params"],
        "non_embedding_params": shape["non_embedding_params"],
        "tokens": float(tokens),
        "tokens_per_param": float(tokens) / n_law,
        "predicted_loss": float(loss),
        "compute_flop": 6.0 * n_law * float(tokens),
        "simulator_model_flop": sim_flop_per_token * float(tokens),
        "shape": shape,
        "peak_lr": float(lr),
        "step_law_batch_tokens": float(b_tokens),
        "step_law_source": STEP_LAW_SOURCE,
    }


def _add_hardware(d: dict, ev: dict, i: int, budget: Budget, seq_len: int) -> dict:
    """Layout, MFU and the time / device-hours / energy / $ of training ``d['tokens']`` at it."""
    if not ev["ok"][i]:
        d.update(layout=None, fits=False, mfu=None, tokens_per_s=None, wall_s=None, train_days=None,
                 device_hours=None, energy_j=None, energy_kwh=None, cost_usd=None)
        return d
    hw = ev["hw"]
    tps = float(ev["tokens_per_s"][i])
    t = d["tokens"] / tps
    dev = float(budget.devices)
    price = budget.price_per_device_hour_usd
    energy = float(hw.power_w) * dev * t
    b = float(ev["batch_sequences"][i])
    d.update(
        layout=_layout_dict(ev["grid"], int(ev["layout_index"][i])), fits=True, mfu=float(ev["mfu"][i]),
        tokens_per_s=tps, step_time_s=float(ev["step_time_s"][i]), memory_per_device_bytes=float(ev["total_bytes"][i]),
        global_batch_sequences=b, global_batch_tokens=b * seq_len, steps=d["tokens"] / (b * seq_len),
        wall_s=t, train_days=t / SECONDS_PER_DAY, device_hours=t * dev / SECONDS_PER_HOUR,
        energy_j=energy, energy_kwh=energy / 3.6e6,
        cost_usd=None if price is None else price * t * dev / SECONDS_PER_HOUR,
        system=budget.system.name, devices=int(budget.devices),
    )
    return d


def _ettr(ev: dict, cands: Candidates, budget: Budget, wall: float, reliability) -> np.ndarray:
    """Per-candidate ETTR over ``wall`` seconds (ones without ``reliability``)."""
    if reliability is None:
        return np.ones(len(cands))
    from simulator.reliability import ettr_array

    step = np.where(ev["ok"], ev["step_time_s"], 1.0)
    return ettr_array(np.full(len(cands), wall), step, cands.total_params, int(budget.devices),
                      int(budget.system.devices_per_node), reliability)


def plan_training(budget: Budget, law: str | LossLaw = DEFAULT_LAW, family: str = DEFAULT_FAMILY, *,
                  seq_len: int = DEFAULT_SEQ_LEN, nominal_mfu: float = 1.0, min_tokens_per_param: float = 1.0,
                  opts: TrainOptions | None = None, layout_space: dict | None = None,
                  cands: Candidates | None = None, reliability=None) -> TrainingPlan:
    """The compute-optimal training plan for ``budget`` (see the module docstring).

    ``min_tokens_per_param``: a candidate must see at least this many tokens per parameter (and
    one global batch) to count as trainable. Raises ``PlanError`` when no candidate is feasible.

    ``reliability``: a :class:`simulator.reliability.ReliabilityOptions` (device-time budgets): each
    candidate trains only ``ETTR x wall`` of the budget (failures, checkpoints, restarts at Daly's
    interval, :func:`simulator.reliability.ettr_array`); ``None`` = ideal (every second a step).
    """
    if not isinstance(budget, Budget):
        raise PlanError(f"budget must be a simulator.planner.Budget, got {type(budget).__name__}")
    lw = law if isinstance(law, LossLaw) else get_loss_law(law)
    if isinstance(seq_len, bool) or int(seq_len) != seq_len or seq_len < 1:
        raise PlanError(f"sequence length {seq_len!r}; allowed: an integer >= 1")
    seq_len = int(seq_len)
    if not min_tokens_per_param > 0:
        raise PlanError(f"min tokens per parameter {min_tokens_per_param}; allowed: > 0")
    opts = opts or TrainOptions(dtype=budget.dtype)
    cands = cands or candidates(family)
    c_nom = budget.nominal_flop(nominal_mfu)
    n_law = cands.non_embedding_params if lw.non_embedding else cands.total_params

    # nominal (hardware-blind) answer at C (or C_nom)
    nom = flops_choice(lw, cands, c_nom, min_tokens_per_param)
    nominal = _describe(cands, nom["index"], lw, nom["tokens"], nom["predicted_loss"], seq_len)
    nominal["assumed_mfu"] = None if budget.compute_flop is not None else float(nominal_mfu)
    opt = _scalar(law_optimum(lw, c_nom, ratio_lo=min_tokens_per_param))
    search = {"candidates": len(cands), "layouts": 0, "evaluations": 0}

    if not budget.has_hardware:
        plan = dict(nominal, basis="flops (C = 6 N D)", layout=None)
        return TrainingPlan(budget.describe(), lw.describe(), cands.family.name, seq_len, plan, nominal, opt, search)

    if not budget.time_limited:
        # FLOP budget timed on a system: the choice is the FLOP one; the simulator says how long.
        d_est = np.floor(c_nom / (6.0 * n_law))
        _, bt = step_law(cands.non_embedding_params, np.maximum(d_est, 1.0))
        ev = evaluate_candidates(cands, budget, bt / seq_len, seq_len, opts, layout_space)
        search.update(layouts=ev["layouts"], evaluations=ev["layouts"] * len(cands))
        plan = _add_hardware(dict(nominal, basis="flops (C = 6 N D), timed on the system"), ev, nom["index"],
                             budget, seq_len)
        return TrainingPlan(budget.describe(), lw.describe(), cands.family.name, seq_len, plan, dict(plan), opt,
                            search)

    # device-time budget: hardware-aware search, Step Law batch iterated with the achieved tokens
    wall = float(budget.wall_s)
    tokens = np.maximum(np.floor(0.4 * c_nom / (6.0 * n_law)), 1.0)  # first guess: 40 % MFU
    for _ in range(2):
        _, bt = step_law(cands.non_embedding_params, tokens)  # B* at the previous pass's D
        ev = evaluate_candidates(cands, budget, bt / seq_len, seq_len, opts, layout_space)
        step_tokens = ev["batch_sequences"] * seq_len
        ettr = _ettr(ev, cands, budget, wall, reliability)
        steps = np.floor(np.where(ev["ok"], ev["tokens_per_s"], 0.0) * wall * ettr / step_tokens)
        tokens = np.maximum(steps * step_tokens, 1.0)
    search.update(layouts=ev["layouts"], evaluations=2 * ev["layouts"] * len(cands))
    feasible = ev["ok"] & (steps >= 1) & (tokens >= min_tokens_per_param * n_law)
    if not feasible.any():
        if not ev["ok"].any():
            raise PlanError(f"no candidate fits on {budget.devices} x {budget.system.device.name}: the smallest "
                            f"{cands.family.name} model does not fit in device memory with any searched layout")
        raise PlanError(f"budget of {budget.device_hours:.3g} device-hours on {budget.devices} x "
                        f"{budget.system.device.name} is too small for any candidate: none reaches "
                        f"{min_tokens_per_param:g} tokens per parameter (and one global batch) in {wall:.3g} s")
    loss = np.where(feasible, lw.loss(cands.total_params, cands.non_embedding_params, tokens), np.inf)
    i = int(np.argmin(loss))
    plan = _describe(cands, i, lw, float(tokens[i]), float(loss[i]), seq_len)
    plan["basis"] = "hardware-aware (training simulator, best layout per candidate)"
    plan["step_law_batch_tokens"] = float(bt[i])  # the B* target used (D of the previous iteration)
    plan = _add_hardware(plan, ev, i, budget, seq_len)
    plan["feasible_candidates"] = int(feasible.sum())
    if reliability is not None and plan.get("wall_s") is not None:
        plan["ettr"] = float(ettr[i])
        plan["expected_wall_s"] = plan["wall_s"] / float(ettr[i])
        plan["expected_train_days"] = plan["expected_wall_s"] / SECONDS_PER_DAY
        plan["expected_device_hours"] = plan["device_hours"] / float(ettr[i])

    # what the nominal model would really need on this hardware
    k = nom["index"]
    nominal = _add_hardware(nominal, ev, k, budget, seq_len)
    if ev["ok"][k]:
        reach = float(np.floor(ev["tokens_per_s"][k] * wall))
        nominal["days_needed_on_hardware"] = nominal["train_days"]
        nominal["overrun_factor"] = nominal["wall_s"] / wall
        nominal["tokens_within_budget"] = reach
        nominal["loss_within_budget"] = float(lw.loss(cands.total_params[k], cands.non_embedding_params[k], reach))
    return TrainingPlan(budget.describe(), lw.describe(), cands.family.name, seq_len, plan, nominal, opt, search)
