"""Layout checks, enumeration of every valid parallel layout, and vectorised layout search.

:func:`enumerate_layouts` builds all ``(TP, PP, DP, CP, EP, micro-batch, virtual stages,
recompute, ZeRO)`` combinations as flat integer arrays with one ``numpy`` mesh + mask (no Python
loop over layouts); :func:`search_layouts` evaluates them in one jitted call of
:func:`simulator.training.step.train_step` and returns the fastest layout that fits in device
memory plus the Pareto set of step time versus memory per device.

Validity: the one layout rule of :mod:`simulator.layout_rule` (vectorised, with messages).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from simulator import layout_rule
from simulator.compiled import cached_call
from simulator.errors import ConfigError
from simulator.training.common import OFFLOAD, RECOMPUTE, Layout, TrainHardware, TrainOptions
from simulator.training.step import train_step

if TYPE_CHECKING:
    import pandas as pd

_INV_RC = {v: k for k, v in RECOMPUTE.items()}
_INV_OF = {v: k for k, v in OFFLOAD.items()}


def _divisors(n: int) -> np.ndarray:
    n = int(n)
    d = np.arange(1, n + 1)
    return d[n % d == 0]


def check_layout(spec, num_devices: int, global_batch: int, seq_len: int, *, tp: int, pp: int, dp: int,
                 cp: int = 1, ep: int = 1, micro_batch: int = 1, virtual_stages: int = 1, zero: int = 0,
                 offload: int = 0, first_stage_layers: int = 0, last_stage_layers: int = 0,
                 devices_per_node: float | None = None) -> None:
    """Raise a one-line :class:`ConfigError` if an explicit layout is invalid (:mod:`simulator.layout_rule`)."""
    layout_rule.check_layout(spec, num_devices, global_batch, seq_len, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep,
                             micro_batch=micro_batch, virtual_stages=virtual_stages, zero=zero, offload=offload,
                             first_stage_layers=first_stage_layers, last_stage_layers=last_stage_layers,
                             devices_per_node=devices_per_node)


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
    d = N // np.maximum(t * p * c, 1)
    ok = layout_rule.layout_violations(layers=L, heads=H, experts=E, num_devices=N, global_batch=B, seq_len=S,
                                       tp=t, pp=p, dp=d, cp=c, ep=e, micro_batch=mb, virtual_stages=v, zero=z,
                                       offload=of, devices_per_node=devices_per_node) == 0
    if not ok.any():
        raise ConfigError(f"no valid layout for {N} devices, global batch {B}, sequence {S} "
                          f"and the model's {L} layers / {H} heads")
    cols = [x[ok] for x in (t, p, d, c, e, mb, v, rc, z, of)]
    zeros = np.zeros(int(ok.sum()), dtype=np.int64)  # even pipeline stages in a search
    return Layout(*(jnp.asarray(x, dtype=jnp.int32) for x in (*cols, zeros, zeros)))


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
    # one trace per (shapes, recipe), kept across processes (simulator.compiled)
    out = cached_call("train_step", partial(train_step, opts=opts),
                      (spec, layouts, hw, np.float32(global_batch), np.float32(seq_len)),
                      static=repr(opts))
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
        import pandas as pd  # imported when a table is asked for (keeps `predict train` start-up short)

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
    import pandas as pd

    return pd.DataFrame(rows)


