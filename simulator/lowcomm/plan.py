"""Cross-site planning: data-parallel across sites versus DiLoCo-style training, by the loss
reached within a wall-clock deadline, over a sweep of WAN bandwidths.

For every model of the planner's family (:mod:`simulator.planner.shapes`) the site's best layout
and step time come from the planner's vectorised training-simulator call
(:func:`simulator.planner.training_plan.evaluate_candidates`) on one site's devices, at a per-site
batch of ``B* / sites`` (Step Law ``B*``, as the single-site planner). Then, per WAN bandwidth::

    t_step = site step + exposed WAN time per step     (simulator.lowcomm.comm.comm_per_step)
    D      = sites x per-site batch tokens x floor(wall x ETTR / t_step)
    loss   = L(N, D)                 data parallel
    loss   = L(N, D) x M^beta        DiLoCo (Charles et al. 2025 joint fit, scaling_laws.diloco)

and each algorithm keeps its lowest-loss model. ``crossover_gbps`` is the highest swept
bandwidth at which DiLoCo's best loss is still lower than data parallel's (below it DiLoCo wins).
ETTR (optional) uses one failure process for the whole job in both cases (a failure at any site
stops a data-parallel step; DiLoCo's sync waits for the failed site), which treats both alike.
"""

from __future__ import annotations

import numpy as np

from simulator.errors import ConfigError
from simulator.lowcomm.comm import LowCommConfig, WanLink, comm_per_step


def cross_site_plan(system, devices_per_site: int, sites: int, days: float, wan_gbps=(400.0,), *,
                    wan_latency_s: float = 0.03, law: str | None = None, family: str | None = None,
                    seq_len: int = 2048, lowcomm: LowCommConfig | None = None, reliability=None,
                    dtype: str = "bf16") -> dict:
    """Compare data parallel and ``lowcomm`` (default DiLoCo, H = 30, fp32 outer gradients) across
    ``sites`` sites of ``devices_per_site`` devices for ``days``; ``wan_gbps`` a list of per-site
    WAN bandwidths (Gbit/s). Returns per-bandwidth rows and the crossover bandwidth."""
    from scaling_laws.diloco import DILOCO_SOURCE, diloco_loss_factor
    from simulator.planner import make_budget
    from simulator.planner.laws import DEFAULT_LAW, get_loss_law, step_law
    from simulator.planner.shapes import DEFAULT_FAMILY, candidates
    from simulator.planner.training_plan import evaluate_candidates
    from simulator.training.common import TrainOptions

    S = int(sites)
    if isinstance(sites, bool) or S != sites or S < 1:
        raise ConfigError(f"--sites = {sites!r}; allowed: an integer >= 1")
    lc = lowcomm or LowCommConfig()
    bws = [float(w) for w in np.atleast_1d(wan_gbps)]
    links = [WanLink.gbps(w, wan_latency_s) for w in bws]
    budget = make_budget(system=system, devices=devices_per_site, days=days, dtype=dtype)
    lw = get_loss_law(law or DEFAULT_LAW)
    cands = candidates(family or DEFAULT_FAMILY)
    wall = float(budget.wall_s)
    opts = TrainOptions(dtype=dtype)
    # per-site batch: Step Law B* at a first-guess D (40 % MFU on all sites), split across sites
    n_law = cands.non_embedding_params if lw.non_embedding else cands.total_params
    d0 = np.maximum(np.floor(0.4 * S * budget.nominal_flop(1.0) / (6.0 * n_law)), 1.0)
    _, bt = step_law(cands.non_embedding_params, d0)
    ev = evaluate_candidates(cands, budget, np.maximum(bt / seq_len / S, 1.0), seq_len, opts)
    ok = ev["ok"]
    step = np.where(ok, ev["step_time_s"], np.inf)
    batch_tok = ev["batch_sequences"] * seq_len
    P = cands.total_params.astype(float)
    if reliability is not None:
        from simulator.reliability import ettr_array

        ettr = ettr_array(np.full(P.shape, wall), np.where(ok, step, 1.0), P, int(budget.devices) * S,
                          int(budget.system.devices_per_node), reliability)
    else:
        ettr = np.ones(P.shape)
    factor = float(diloco_loss_factor(S))
    rows = []
    for w, link in zip(bws, links, strict=True):
        res = {"wan_gbps": w}
        for name, cfg in (("dp", LowCommConfig("dp", grad_bytes_per_param=lc.grad_bytes_per_param)), ("lowcomm", lc)):
            exp = np.asarray(comm_per_step(P, np.where(ok, step, 1.0), S, link, cfg)["exposed_s_per_step"])
            t = step + exp
            steps = np.floor(wall * ettr / t)
            D = np.where(ok, S * batch_tok * steps, 0.0)
            feas = ok & (D >= n_law)  # at least one token per parameter
            loss = np.where(feas, lw.loss(cands.total_params, cands.non_embedding_params, np.maximum(D, 1.0)), np.inf)
            if name == "lowcomm":
                loss = loss * factor
            i = int(np.argmin(loss))
            res[name] = {"loss": float(loss[i]), "n_params": float(P[i]), "tokens": float(D[i]),
                         "step_s": float(step[i]), "exposed_wan_s_per_step": float(exp[i]),
                         "wan_fraction": float(exp[i] / t[i]) if np.isfinite(t[i]) else None,
                         "ettr": float(ettr[i]), "feasible": bool(feas[i])}
        res["winner"] = lc.algorithm if res["lowcomm"]["loss"] < res["dp"]["loss"] else "dp"
        rows.append(res)
    wins = [r["wan_gbps"] for r in rows if r["winner"] != "dp"]
    return {
        "system": budget.system.name, "devices_per_site": int(budget.devices), "sites": S, "days": float(days),
        "wan_latency_s": wan_latency_s, "law": lw.name, "family": cands.family.name, "seq_len": seq_len,
        "algorithm": lc.algorithm, "inner_steps": lc.inner_steps, "fragments": lc.fragments,
        "outer_bytes_per_param": lc.outer_bytes_per_param, "loss_factor": factor, "loss_factor_source": DILOCO_SOURCE,
        "rows": rows, "crossover_gbps": max(wins) if wins else None,
        "dp_wins_above_gbps": (min(r["wan_gbps"] for r in rows if r["winner"] == "dp" and r["wan_gbps"] > max(wins))
                               if wins and any(r["winner"] == "dp" and r["wan_gbps"] > max(wins) for r in rows)
                               else None),
    }
