"""Layout checks, enumeration of every valid parallel layout, and vectorised layout search.

:func:`enumerate_layouts` builds all ``(TP, PP, DP, CP, EP, micro-batch, virtual stages,
recompute, ZeRO)`` combinations as flat integer arrays with one ``numpy`` mesh + mask (no Python
loop over layouts); :func:`search_layouts` evaluates them in one jitted call of
:func:`simulator.training.step.train_step` and returns the fastest layout that fits in device
memory plus the Pareto set of step time versus memory per device.

Validity rules (Megatron-LM / DeepSpeed conventions):

* ``tp * pp * dp * cp = devices``; ``tp`` divides the attention heads and stays inside a node
  (``tp <= devices_per_node``), as Narayanan et al. 2021 recommend;
* ``pp <= layers`` and, in a search, ``layers % (pp * v) == 0`` (even stages); ``v > 1`` needs
  ``pp > 1`` and ``m % pp == 0`` (interleaved 1F1B schedule);
* ``global_batch % (dp * micro_batch) == 0``; ``seq % cp == 0``;
* ``ep`` divides ``dp`` and the expert count (MoE only; 1 for dense models);
* ZeRO stages 2/3 are not combined with pipeline parallelism (DeepSpeed refuses it).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from simulator.errors import ConfigError
from simulator.training.common import OFFLOAD, RECOMPUTE, Layout, TrainHardware, TrainOptions
from simulator.training.step import train_step

_INV_RC = {v: k for k, v in RECOMPUTE.items()}
_INV_OF = {v: k for k, v in OFFLOAD.items()}


def _divisors(n: int) -> np.ndarray:
    n = int(n)
    d = np.arange(1, n + 1)
    return d[n % d == 0]


def check_layout(spec, num_devices: int, global_batch: int, seq_len: int, *, tp: int, pp: int, dp: int,
                 cp: int = 1, ep: int = 1, micro_batch: int = 1, virtual_stages: int = 1, zero: int = 0,
                 devices_per_node: float | None = None) -> None:
    """Raise a one-line :class:`ConfigError` if an explicit layout is invalid (see module docstring)."""
    vals = dict(tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, micro_batch=micro_batch, virtual_stages=virtual_stages)
    for k, v in vals.items():
        if int(v) != v or v < 1:
            raise ConfigError(f"{k} must be a positive integer, got {v}")
    if global_batch < 1 or seq_len < 1:
        raise ConfigError(f"global batch and sequence length must be >= 1, got {global_batch} and {seq_len}")
    if tp * pp * dp * cp != num_devices:
        raise ConfigError(f"layout degrees tp={tp} x pp={pp} x dp={dp} x cp={cp} = {tp * pp * dp * cp} "
                          f"do not multiply to the device count {num_devices}")
    layers = int(spec.num_layers)
    if pp > layers:
        raise ConfigError(f"pp={pp} is larger than the model's {layers} layers")
    if int(spec.num_heads) % tp:
        raise ConfigError(f"tp={tp} does not divide the model's {int(spec.num_heads)} attention heads")
    if global_batch % (micro_batch * dp):
        raise ConfigError(f"global batch {global_batch} is not divisible by micro_batch x dp = "
                          f"{micro_batch} x {dp} = {micro_batch * dp}")
    if seq_len % cp:
        raise ConfigError(f"sequence length {seq_len} is not divisible by cp={cp}")
    if virtual_stages > 1:
        if pp == 1:
            raise ConfigError("virtual_stages > 1 (interleaved schedule) needs pp > 1")
        if layers % (pp * virtual_stages):
            raise ConfigError(f"layers {layers} are not divisible by pp x virtual_stages = {pp * virtual_stages}")
        if (global_batch // (micro_batch * dp)) % pp:
            raise ConfigError(f"interleaved schedule needs the micro-batch count "
                              f"{global_batch // (micro_batch * dp)} to be a multiple of pp={pp}")
    experts = int(spec.num_experts)
    if ep > 1 and (experts == 0 or dp % ep or experts % ep):
        raise ConfigError(f"ep={ep} must divide dp={dp} and the expert count {experts} (MoE models only)")
    if zero not in (0, 1, 2, 3):
        raise ConfigError(f"zero stage must be 0, 1, 2 or 3, got {zero}")
    if zero >= 2 and pp > 1:
        raise ConfigError(f"ZeRO stage {zero} cannot be combined with pipeline parallelism (pp={pp}); use zero <= 1")


def enumerate_layouts(spec, num_devices: int, global_batch: int, seq_len: int, *,
                      devices_per_node: int = 8, tp: Sequence[int] | None = None,
                      pp: Sequence[int] | None = None, cp: Sequence[int] | None = (1,),
                      ep: Sequence[int] | None = None, micro_batch: Sequence[int] | None = None,
                      virtual_stages: Sequence[int] | None = (1, 2, 3, 4),
                      recompute: Sequence[str] = ("none", "selective", "full"),
                      zero: Sequence[int] = (0, 1, 2, 3), offload: Sequence[str] = ("none",),
                      max_micro_batch: int = 64) -> Layout:
    """All valid layouts as a flat :class:`Layout` of int32 arrays (mesh of candidates + mask).

    ``None`` for a dimension means every admissible value: ``tp`` = divisors of the heads up to
    ``devices_per_node``; ``pp`` = divisors of the layers; ``ep`` = divisors of the expert count
    (1 for dense models); ``micro_batch`` = divisors of the global batch up to ``max_micro_batch``.
    ``dp`` follows from the device count. Raises ``ConfigError`` when nothing is valid.
    """
    N, B, S = int(num_devices), int(global_batch), int(seq_len)
    L, H, E = int(spec.num_layers), int(spec.num_heads), int(spec.num_experts)
    c_tp = np.asarray(tp if tp is not None else [d for d in _divisors(H) if d <= devices_per_node])
    c_pp = np.asarray(pp if pp is not None else _divisors(L))
    c_cp = np.asarray(cp if cp is not None else [d for d in _divisors(S) if d <= devices_per_node])
    c_ep = np.asarray(ep if ep is not None else (_divisors(E) if E > 0 else [1]))
    c_mb = np.asarray(micro_batch if micro_batch is not None else [d for d in _divisors(B) if d <= max_micro_batch])
    c_v = np.asarray(virtual_stages)
    c_rc = np.asarray([RECOMPUTE[str(r).lower()] if isinstance(r, str) else int(r) for r in recompute])
    c_z = np.asarray(zero)
    c_of = np.asarray([OFFLOAD[str(o).lower()] if isinstance(o, str) else int(o) for o in offload])
    grids = np.meshgrid(c_tp, c_pp, c_cp, c_ep, c_mb, c_v, c_rc, c_z, c_of, indexing="ij")
    t, p, c, e, mb, v, rc, z, of = (g.ravel().astype(np.int64) for g in grids)
    tpc = t * p * c
    ok = N % tpc == 0
    d = np.where(ok, N // np.maximum(tpc, 1), 0)
    ok &= d >= 1
    ok &= (H % t == 0) & (L % (p * v) == 0) & (S % c == 0)
    ok &= (B % np.maximum(d * mb, 1) == 0)
    m = np.where(ok, B // np.maximum(d * mb, 1), 0)
    ok &= (v == 1) | ((p > 1) & (m % p == 0))
    ok &= (e == 1) | ((E > 0) & (d % e == 0) & (E % e == 0))
    ok &= ~((z >= 2) & (p > 1))
    ok &= (of == 0) | (z >= 1)  # offload moves the (sharded) optimizer state
    if not ok.any():
        raise ConfigError(f"no valid layout for {N} devices, global batch {B}, sequence {S} "
                          f"and the model's {L} layers / {H} heads")
    cols = [x[ok] for x in (t, p, d, c, e, mb, v, rc, z, of)]
    return Layout(*(jnp.asarray(x, dtype=jnp.int32) for x in cols))


@partial(jax.jit, static_argnames=("opts",))
def _evaluate(spec, layout, hw, global_batch, seq_len, opts):
    return train_step(spec, layout, hw, global_batch, seq_len, opts)


def evaluate_layouts(spec, layouts: Layout, hw: TrainHardware, global_batch, seq_len,
                     opts: TrainOptions = TrainOptions()) -> dict[str, np.ndarray]:
    """Evaluate a batch of layouts with one jitted :func:`train_step` call; numpy arrays out."""
    shape = jnp.broadcast_shapes(*(jnp.shape(x) for x in jax.tree_util.tree_leaves(layouts)))
    layouts = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(jnp.asarray(x, dtype=jnp.int32), shape), layouts)
    n = int(np.prod(shape)) if shape else 1
    if len(shape) == 1 and n > 1:
        # pad to a power of two so that searches of similar size reuse one compiled function
        size = 1 << (n - 1).bit_length()
        layouts = jax.tree_util.tree_map(lambda x: jnp.concatenate([x, jnp.repeat(x[:1], size - n)]), layouts)
        if jax.tree_util.tree_leaves(spec) and jnp.ndim(jax.tree_util.tree_leaves(spec)[0]) == 1:
            spec = jax.tree_util.tree_map(lambda x: jnp.concatenate([x, jnp.repeat(x[:1], size - n)]), spec)
    if dataclasses.is_dataclass(spec) and hasattr(spec, "name"):
        spec = dataclasses.replace(spec, name="")  # static metadata: one compilation for all models
    out = _evaluate(spec, layouts, hw, jnp.asarray(float(global_batch)), jnp.asarray(float(seq_len)), opts)
    return {k: np.asarray(v)[:n] if np.ndim(v) else np.asarray(v) for k, v in out.items()}


def pareto_front(step_time_s: np.ndarray, memory_bytes: np.ndarray) -> np.ndarray:
    """Indices of the layouts not dominated in (step time, memory): sorted by memory ascending."""
    order = np.lexsort((step_time_s, memory_bytes))
    t_sorted = step_time_s[order]
    best_before = np.concatenate([[np.inf], np.minimum.accumulate(t_sorted)[:-1]])
    return order[t_sorted < best_before]


@dataclass(frozen=True)
class SearchResult:
    """Outcome of :func:`search_layouts`. ``best`` is -1 when no layout fits."""

    layouts: Layout
    results: dict
    best: int
    pareto: np.ndarray
    evaluated: int
    seconds: float

    def table(self, rows: np.ndarray | None = None) -> pd.DataFrame:
        """DataFrame (one row per layout, unit-suffixed columns) of ``rows`` (all by default)."""
        idx = np.arange(self.evaluated) if rows is None else np.asarray(rows)
        lay = {f.name: np.asarray(getattr(self.layouts, f.name))[idx] for f in dataclasses.fields(Layout)}
        lay["recompute"] = np.array([_INV_RC[int(x)] for x in lay["recompute"]], dtype=object)
        lay["offload"] = np.array([_INV_OF[int(x)] for x in lay["offload"]], dtype=object)
        keys = ("step_time_s", "mfu", "hfu", "tokens_per_s", "total_bytes", "shortfall_bytes", "fits",
                "bubble_s", "tp_comm_s", "dp_comm_s", "pp_comm_s")
        return pd.DataFrame({**lay, **{k: self.results[k][idx] for k in keys}})

    def best_layout(self) -> dict | None:
        """Plain description of the fastest fitting layout, or None."""
        return None if self.best < 0 else self.layouts.to_dict(self.best)


def search_layouts(spec, hw: TrainHardware, num_devices: int, global_batch: int, seq_len: int,
                   opts: TrainOptions = TrainOptions(), **constraints) -> SearchResult:
    """Enumerate (see :func:`enumerate_layouts`; ``constraints`` restrict dimensions), evaluate all
    layouts vectorised, and return the fastest that fits plus the step-time / memory Pareto set."""
    dpn = int(np.asarray(hw.spec.devices_per_node)) if np.isfinite(np.asarray(hw.spec.devices_per_node)) \
        else int(num_devices)
    layouts = enumerate_layouts(spec, num_devices, global_batch, seq_len, devices_per_node=dpn, **constraints)
    t0 = time.perf_counter()
    res = evaluate_layouts(spec, layouts, hw, global_batch, seq_len, opts)
    secs = time.perf_counter() - t0
    step = res["step_time_s"]
    fits = res["fits"] & np.isfinite(step)
    best = int(np.argmin(np.where(fits, step, np.inf))) if fits.any() else -1
    pareto = pareto_front(step, res["total_bytes"])
    return SearchResult(layouts, res, best, pareto, int(step.shape[0]), secs)


def best_layouts(specs: Sequence, hw: TrainHardware, num_devices: int, global_batch: int, seq_len: int,
                 opts: TrainOptions = TrainOptions(), **constraints) -> pd.DataFrame:
    """Best fitting layout of each candidate model, evaluated in ONE vectorised call.

    The layouts of every model are concatenated, each row carrying its model's architecture
    numbers (gathered from the stacked specs), so one jitted :func:`train_step` evaluates all
    models x layouts; a segment arg-min picks each model's fastest fitting layout. Returns one row
    per model: ``model``, ``tokens_per_s``, ``mfu``, ``hfu``, ``step_time_s``, ``total_bytes`` and the
    layout (NaN / empty when nothing fits). This is the entry point for the planner.
    """
    from simulator.models.spec import stack_specs

    specs = list(specs)
    dpn = int(np.asarray(hw.spec.devices_per_node)) if np.isfinite(np.asarray(hw.spec.devices_per_node)) \
        else int(num_devices)
    per = [enumerate_layouts(s, num_devices, global_batch, seq_len, devices_per_node=dpn, **constraints)
           for s in specs]  # loop over models (a handful), not layouts
    counts = np.array([int(p.tp.shape[0]) for p in per])
    model_idx = np.repeat(np.arange(len(specs)), counts)
    layouts = Layout(*(jnp.concatenate([getattr(p, f.name) for p in per]) for f in dataclasses.fields(Layout)))
    stacked = stack_specs(specs)
    gathered = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[model_idx], stacked)
    res = evaluate_layouts(gathered, layouts, hw, global_batch, seq_len, opts)
    step = np.where(res["fits"], res["step_time_s"], np.inf)
    rows = []
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    for i, s in enumerate(specs):
        seg = step[starts[i]:starts[i] + counts[i]]
        j = starts[i] + int(np.argmin(seg))
        ok = np.isfinite(step[j])
        row = {"model": s.name, "layouts_evaluated": int(counts[i])}
        for k in ("tokens_per_s", "mfu", "hfu", "step_time_s", "total_bytes"):
            row[k] = float(res[k][j]) if ok else float("nan")
        row.update(layouts.to_dict(j) if ok else {})
        rows.append(row)
    return pd.DataFrame(rows)


