"""Whole-run validation: published GPU-hours / ETTR of named runs vs predictions before (ideal) and
after (with failures, checkpoints and restarts), for ``data/validation/whole_runs.csv``.

Two ideal paths per row:

* ``sim``: the training simulator (``predict_training``) on the run's layout;
* ``pub``: the run's own published throughput (``6 N D`` model FLOPs / (GPUs x TFLOP/s)), which
  isolates the reliability model from the step-time model. ``hfu_recompute`` figures are converted to
  model FLOPs with 3/4 (full recompute adds one forward to forward + backward = 3 passes).

Reliability uses the defaults of :class:`simulator.reliability.ReliabilityOptions` (Llama 3 failure
rates, 14 B / parameter sync checkpoints, Llama 3 storage share, 600 s restart, Daly interval) for
every row; nothing is fitted to these rows. The Llama 3 row is not independent of the failure
rates (they come from its 54-day snapshot).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from simulator.reliability.model import ReliabilityOptions, reliability_terms
from simulator.resources import data_dir

CSV = data_dir("validation") / "whole_runs.csv"  # package data (simulator.resources)


def load_rows(path: Path | str = CSV) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _num(s):
    return float(s) if s not in (None, "") else math.nan


def _stages(row: dict) -> dict:
    """Uneven first/last pipeline stages (only passed when the row gives them)."""
    out = {}
    for k in ("first_stage_layers", "last_stage_layers"):
        if int(row.get(k) or 0) > 0:
            out[k] = int(row[k])
    return out


def predict_row(row: dict, opts: ReliabilityOptions | None = None) -> dict:
    """Predictions for one CSV row (see module docstring); errors are predicted / published - 1."""
    from hardware_db import load_system
    from simulator.models import load_model
    from simulator.training import predict_training

    spec = load_model(row["model"])
    params = float(spec.total_params())
    gpus = int(row["gpus"])
    tokens = float(row["tokens"])
    sysm = load_system(row["system"])
    recipe = (row.get("recipe") or "").strip()
    train_opts = None
    if recipe:  # the run's software stack (simulator.training.validation.RECIPES); empty = today's default
        from simulator.training.validation import recipe_options

        train_opts = recipe_options(recipe)
    r = predict_training(spec, row["system"], gpus, opts=train_opts, tp=int(row["tp"]), pp=int(row["pp"]), dp=int(row["dp"]),
                         cp=int(row["cp"]), zero=int(row["zero"]), recompute=row["recompute"],
                         virtual_stages=int(row["virtual_stages"]), micro_batch=int(row["micro_batch"]),
                         global_batch=int(row["global_batch"]), seq_len=int(row["seq_len"]), tokens=tokens,
                         **_stages(row))
    rel = reliability_terms(r["train_time_s"], r["step_time_s"], params, gpus, sysm.devices_per_node, opts)
    out = {"run": row["run"], "layout_published": row["layout_published"] == "1", "mfu": r["mfu"],
           "sim_ideal_gpu_hours": r["device_hours"], "sim_after_gpu_hours": r["device_hours"] / rel["ettr"],
           "ettr": rel["ettr"], "mtbf_h": rel["mtbf_s"] / 3600, "expected_failures": rel["expected_failures"],
           "published_gpu_hours": _num(row["published_gpu_hours"]), "published_ettr": _num(row["published_ettr"])}
    tf = _num(row["published_tflops_per_gpu"])
    if math.isfinite(tf):
        model_tf = tf * (0.75 if row["tflops_convention"] == "hfu_recompute" else 1.0)
        t_pub = 6.0 * params * tokens / (gpus * model_tf * 1e12)
        rel_pub = reliability_terms(t_pub, r["step_time_s"], params, gpus, sysm.devices_per_node, opts)
        out["pub_ideal_gpu_hours"] = t_pub * gpus / 3600
        out["pub_after_gpu_hours"] = out["pub_ideal_gpu_hours"] / rel_pub["ettr"]
    else:
        out["pub_ideal_gpu_hours"] = out["pub_after_gpu_hours"] = math.nan
    pg = out["published_gpu_hours"]
    for k in ("sim_ideal", "sim_after", "pub_ideal", "pub_after"):
        out[f"{k}_error"] = out[f"{k}_gpu_hours"] / pg - 1 if math.isfinite(pg) else math.nan
    return out


def whole_run_table(opts: ReliabilityOptions | None = None) -> list[dict]:
    """Predictions for every row of the CSV."""
    return [predict_row(r, opts) for r in load_rows()]
