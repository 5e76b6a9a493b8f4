"""Table evaluation of training configurations (the ``train`` kind of a sweep).

``train_table(configs)`` takes a DataFrame / Arrow table with one training configuration per row
and returns the step-time model of :func:`simulator.training.train_step` for every row, vectorised:
model names and (system, device count, dtype) triples are factorised, each distinct one is loaded
once into a stacked pytree, and one jitted ``jax.vmap(train_step)`` gathers the rows and
evaluates blocks padded to a power-of-two row count (:func:`bucket_rows`: at least 8, at most
``block_rows``), so a sweep compiles once per block shape and option set, and a call with a few
configurations pays for a few rows, not for a whole block.

Input columns (defaults in brackets): ``model``; ``system`` (a catalog system, scaled with
``System.for_devices``) or ``hardware`` (a device: one node holding all devices); ``num_devices``;
``global_batch`` (sequences); ``seq_len`` (tokens); ``tokens`` [none: no time-to-train columns];
``tp`` ``pp`` ``cp`` ``ep`` [1]; ``micro_batch`` [1]; ``virtual_stages`` [1]; ``recompute``
[selective]; ``zero`` [0]; ``offload`` [none]; ``dtype`` [bf16]; ``flash_attention`` [1];
``sequence_parallel`` [1]. ``dp = num_devices / (tp pp cp)``.

Rows breaking a layout rule of :func:`simulator.training.check_layout` (degrees that do not
multiply to the device count, tp not dividing the heads, pp above the layers, global batch not
divisible by micro-batch x dp, ...) get ``valid = False``, the reason in ``error`` and NaN results;
they never stop the sweep. Results (SI units): every key of ``train_step`` (``step_time_s``,
``mfu``, ``hfu``, ``tokens_per_s``, memory ``*_bytes``, ``fits``, ...) plus, with ``tokens``,
``train_time_s``, ``train_days``, ``device_hours``, ``energy_j``, ``energy_kwh``, ``cost_usd``
(NaN without a catalog price) from :func:`simulator.training.time_to_train`.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pyarrow as pa

from hardware_db.errors import SimlabError
from simulator import layout_rule
from simulator.design_space.errors import SweepError
from simulator.table_cache import cached_table, stack_numpy

BLOCK_ROWS = 1 << 16
MIN_ROWS = 8  # smallest padded block (power-of-two buckets from here up to the block size)
DEFAULTS = {"tp": 1, "pp": 1, "cp": 1, "ep": 1, "micro_batch": 1, "virtual_stages": 1, "zero": 0}
TEXT_DEFAULTS = {"recompute": "selective", "offload": "none", "dtype": "bf16"}
FLAG_DEFAULTS = {"flash_attention": 1, "sequence_parallel": 1}
REQUIRED = ("model", "num_devices", "global_batch", "seq_len")


def _frame(configs) -> pd.DataFrame:
    if isinstance(configs, pa.Table):
        return configs.to_pandas()
    if isinstance(configs, pd.DataFrame):
        return configs.reset_index(drop=True)
    raise SweepError(f"configs must be a DataFrame or an Arrow table, got {type(configs).__name__}")


def _num(df: pd.DataFrame, name: str, default) -> np.ndarray:
    if name not in df:
        return np.full(len(df), float(default))
    return df[name].to_numpy(dtype=float, na_value=float(default))


def _text(df: pd.DataFrame, name: str, default: str) -> pd.Series:
    if name not in df:
        return pd.Series([default] * len(df), dtype=object)
    return df[name].astype(object).where(df[name].notna(), default).astype(str).str.strip().str.lower()


def bucket_rows(n: int, cap: int = BLOCK_ROWS) -> int:
    """Rows a call of ``n`` rows is padded to: the next power of two >= max(n, 8), at most ``cap``."""
    return int(min(cap, max(MIN_ROWS, 1 << (max(int(n), 1) - 1).bit_length())))


@partial(jax.jit, static_argnames=("opts", "with_tokens"))
def _block(models, hws, m_idx, h_idx, layout_arrays, gb, seq, tokens, opts, with_tokens):
    from simulator.training import Layout, time_to_train, train_step

    model = jax.tree_util.tree_map(lambda x: jnp.take(x, m_idx, axis=0), models)
    hw = jax.tree_util.tree_map(lambda x: jnp.take(x, h_idx, axis=0), hws)
    layout = Layout(*layout_arrays)

    def one(sp, lay, h, b, s, d):
        res = train_step(sp, lay, h, b, s, opts)
        if with_tokens:
            res = dict(res, **time_to_train(res, h, d))
        return res

    return jax.vmap(one)(model, layout, hw, gb, seq, tokens)


def _model_table(names: tuple):
    """(stacked ModelSpec table, [heads, layers, experts] per model) of the distinct ``names``."""
    from simulator.models import load_model

    specs = [load_model(name) for name in names]
    per = np.asarray([[int(s.num_heads), int(s.num_layers), int(s.num_experts)] for s in specs], dtype=float)
    return stack_numpy(specs, name="sweep"), per


def _train_hw(key: tuple, is_system: bool):
    """TrainHardware of ``((name, device count, dtype),)``."""
    from hardware_db import load_device, load_system
    from simulator.training import train_hardware

    ((name, count, dtype),) = key
    obj = load_system(name).for_devices(int(count)) if is_system else load_device(name)
    return train_hardware(obj, dtype)


def _f32(x):
    return np.asarray(x, dtype=np.float32)


def train_table(configs, block_rows: int = BLOCK_ROWS) -> pd.DataFrame:
    """Evaluate every training configuration of ``configs``; see the module doc. Returns a DataFrame
    with the result columns (and ``dp``, ``valid``, ``error``), one row per input row, in order."""
    from simulator.training import Layout, TrainOptions
    from simulator.training.common import OFFLOAD, RECOMPUTE

    df = _frame(configs)
    n = len(df)
    for col in REQUIRED:
        if col not in df:
            raise SweepError(f"training configs need a '{col}' column")
    hw_col = "system" if "system" in df else "hardware" if "hardware" in df else None
    if hw_col is None:
        raise SweepError("training configs need a 'system' (or 'hardware') column")
    reason = np.full(n, "", dtype=object)

    def flag(mask, text):
        mask = mask & (reason == "")
        reason[mask] = text

    m_codes, m_names = pd.factorize(df["model"].astype(str))
    models, per_model = cached_table("train-model", tuple(m_names), _model_table)
    heads, layers, experts = (per_model[:, i][m_codes] for i in range(3))

    N = _num(df, "num_devices", 0)
    B = _num(df, "global_batch", 0)
    S = _num(df, "seq_len", 0)
    lay = {k: _num(df, k, v) for k, v in DEFAULTS.items()}
    texts = {k: _text(df, k, v) for k, v in TEXT_DEFAULTS.items()}
    flags = {k: _num(df, k, v) for k, v in FLAG_DEFAULTS.items()}
    rc = texts["recompute"].map(RECOMPUTE).to_numpy(dtype=float, na_value=-1.0)
    of = texts["offload"].map(OFFLOAD).to_numpy(dtype=float, na_value=-1.0)
    flag(rc < 0, "recompute must be none, selective or full")
    flag(of < 0, "offload must be none, cpu or nvme")
    for name, arr, low in (("num_devices", N, 1), ("global_batch", B, 1), ("seq_len", S, 1),
                           *((k, v, 0 if k == "zero" else 1) for k, v in lay.items())):
        flag(~np.isfinite(arr) | (arr < low) | (arr != np.round(arr)), f"{name} must be an integer >= {low}")
    tp, pp, cp, ep, mb, v, zero = (lay[k] for k in ("tp", "pp", "cp", "ep", "micro_batch", "virtual_stages", "zero"))
    tpc = np.maximum(tp * pp * cp, 1)
    dp = np.where(reason == "", np.floor(N / tpc), 1.0)
    # the one layout rule (simulator.layout_rule): first broken rule per row, with its message
    first_l, last_l = _num(df, "first_stage_layers", 0), _num(df, "last_stage_layers", 0)
    code = layout_rule.layout_violations(layers=layers, heads=heads, experts=experts, num_devices=N, global_batch=B,
                                         seq_len=S, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, micro_batch=mb,
                                         virtual_stages=v, zero=zero, offload=np.maximum(of, 0),
                                         first_stage_layers=first_l, last_stage_layers=last_l)
    for k in np.unique(code[(code > 0) & (reason == "")]):
        flag(code == k, layout_rule.RULES[int(k)])

    # distinct (hardware, device count, dtype) -> TrainHardware, once each
    n_key = np.where(reason == "", N, 1.0).astype(np.int64)
    key = df[hw_col].astype(str) + "|" + pd.Series(n_key).astype(str) + "|" + texts["dtype"]
    h_codes, h_keys = pd.factorize(key)
    hws, bad_keys = [], {}
    for i, k in enumerate(h_keys):
        name, count, dtype = k.split("|")
        try:
            hws.append(cached_table("train-hw", ((name, int(count), dtype),), _train_hw, hw_col == "system"))
        except SimlabError as err:
            bad_keys[i] = str(err)
            hws.append(None)
    if bad_keys:
        good = next((h for h in hws if h is not None), None)
        for i, msg in bad_keys.items():
            flag(h_codes == i, msg)
        if good is None:
            hws = [None]
        hws = [good if h is None else h for h in hws]
    valid = reason == ""

    results: dict[str, np.ndarray] = {}
    tokens = _num(df, "tokens", np.nan)
    with_tokens = "tokens" in df
    safe = {k: np.where(valid, x, DEFAULTS[k]) for k, x in lay.items()}
    safe_dp = np.where(valid, dp, 1.0)
    layout_cols = {"tp": safe["tp"], "pp": safe["pp"], "dp": safe_dp, "cp": safe["cp"], "ep": safe["ep"],
                   "micro_batch": safe["micro_batch"], "virtual_stages": safe["virtual_stages"],
                   "recompute": np.where(valid, rc, 1.0), "zero": safe["zero"], "offload": np.where(valid, of, 0.0),
                   "first_stage_layers": np.where(valid, first_l, 0.0), "last_stage_layers": np.where(valid, last_l, 0.0)}
    names = [f.name for f in dataclasses.fields(Layout)]
    if hws[0] is not None:
        h_key = tuple(tuple(k.split("|")) for k in h_keys)  # (name, count, dtype): names checked
        stacked_hw = (cached_table("train-hw-stack", h_key, lambda _k: stack_numpy(hws)) if not bad_keys
                      else stack_numpy(hws))
        safe_B = np.where(valid, B, 1.0)
        safe_S = np.where(valid, S, 1.0)
        opt_key = texts["dtype"] + "|" + pd.Series(flags["flash_attention"]).astype(str) + "|" + \
            pd.Series(flags["sequence_parallel"]).astype(str)
        o_codes, o_keys = pd.factorize(opt_key)
        for oi, ok in enumerate(o_keys):  # a handful of static option sets, not rows
            dtype, fa, sp = ok.split("|")
            opts = TrainOptions(dtype=dtype, flash_attention=bool(float(fa)), sequence_parallel=bool(float(sp)))
            rows = np.flatnonzero(o_codes == oi)
            size = bucket_rows(len(rows), block_rows)  # power-of-two blocks: few compilations, little padding
            for start in range(0, len(rows), size):  # blocks of rows
                idx = rows[start:start + size]
                pad = size - len(idx)
                pidx = np.concatenate([idx, np.repeat(idx[-1:], pad)]) if pad else idx
                arrays = tuple(np.asarray(layout_cols[k][pidx], dtype=np.int32) for k in names)
                out = _block(models, stacked_hw, np.asarray(m_codes[pidx], dtype=np.int32),
                             np.asarray(h_codes[pidx], dtype=np.int32), arrays, _f32(safe_B[pidx]),
                             _f32(safe_S[pidx]), _f32(tokens[pidx]), opts, with_tokens)
                for k, val in out.items():
                    val = np.asarray(val)[: len(idx)]
                    if k not in results:
                        results[k] = np.full(n, np.nan if val.dtype != bool else False,
                                             dtype=bool if val.dtype == bool else np.float64)
                    results[k][idx] = val
    for arr in results.values():  # invalid rows: False / NaN (on the arrays: one pass, no per-column .loc)
        if arr.dtype == bool:
            arr &= valid
        else:
            arr[~valid] = np.nan
    res = pd.DataFrame(results) if results else pd.DataFrame(index=pd.RangeIndex(n))
    res.insert(0, "dp", np.where(valid, dp, np.nan))
    res["valid"] = valid
    res["error"] = reason.astype(str)
    return res


__all__ = ["BLOCK_ROWS", "bucket_rows", "train_table"]
