"""Vectorised design-space sweeps: a table of configurations in, a table of predictions out.

:func:`serve` takes a pandas DataFrame or a pyarrow Table with one serving configuration per row
and returns a DataFrame with the input columns plus every metric of
:data:`simulator.serving.RESULT_COLUMNS` (SI units, unit-suffixed names). Nothing loops over rows
in Python: model names and (hardware, compute dtype) pairs are factorised, each distinct one is
loaded once into a stacked pytree table (padded to a power of two), and one ``jax.jit``-compiled
function gathers the rows and evaluates :func:`simulator.serving.serve_core` with ``jax.lax.map``
over vmapped batches of :data:`MAP_BATCH` rows (so a batch's intermediates stay in cache). Rows go
in blocks of a power-of-two size (at most 65536 rows, padded; :func:`block_size`) so a sweep compiles once,
and blocks run on all cores (XLA releases the GIL).

Input columns (defaults in brackets): ``model``; ``hardware`` (device name/path) or ``system``;
``batch`` [1], ``input_len`` [1024], ``output_len`` [128], ``tp`` ``pp`` ``ep`` ``dp`` [1],
``weight_dtype`` [= act], ``act_dtype`` [auto: bf16, fp16, fp32], ``kv_dtype`` [= act],
``chunk`` [0], ``block_size`` [16], ``weights_offloaded`` [0], ``tp_overlap`` [0],
``workspace_bytes`` [1e9], ``spec_gamma`` [0], ``spec_accept`` [0], ``draft_model`` [none],
``engine`` [none] (serving engine whose host time is added per step, :data:`simulator.engines.ENGINES`).

Invalid rows (``errors="raise"``, the default) raise one ``ConfigError`` naming the first bad row
and the reason; with ``errors="mark"`` they get ``valid = False``, the reason in ``error`` and NaN
results.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from simulator import ops as O
from simulator.engines import ENGINES
from simulator.errors import ConfigError
from simulator.hw import HwSpec, build_hw
from simulator.layout_rule import SERVE_RULES, serving_violations
from simulator.serving import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_WORKSPACE_BYTES,
    RESULT_COLUMNS,
    ServeConfig,
    dequant_flop_of,
    head_weight_bytes_of,
    resolve_dtypes,
    resolve_hardware,
    resolve_model,
    serve_core,
    weight_bytes_of,
)
from simulator.table_cache import cached_table, stack_numpy

NUMERIC_DEFAULTS = {
    "batch": 1, "input_len": 1024, "output_len": 128, "tp": 1, "pp": 1, "ep": 1, "dp": 1, "chunk": 0,
    "block_size": DEFAULT_BLOCK_SIZE, "weights_offloaded": 0, "tp_overlap": 0.0,
    "workspace_bytes": DEFAULT_WORKSPACE_BYTES, "spec_gamma": 0, "spec_accept": 0.0,
}
BLOCK_ROWS = 1 << 16  # rows per compiled call for large sweeps


def _pad_table(table, size: int | None = None):
    """Pad a stacked table to a power-of-two row count (>= 8) by repeating its last row (NumPy)."""
    rows = int(jax.tree_util.tree_leaves(table)[0].shape[0])
    size = size or max(8, 1 << (rows - 1).bit_length())
    if size == rows:
        return table
    return jax.tree_util.tree_map(lambda x: np.concatenate([x, np.repeat(x[-1:], size - rows, axis=0)]), table)


def block_size(n: int, block_rows: int = BLOCK_ROWS) -> int:
    """Rows per compiled call: the next power of two >= ``n`` (>= 8), at most ``block_rows``; above
    :data:`MAP_BATCH` a multiple of it. Calls of similar size share one compilation, and a call with
    64 configurations does not pay for thousands of padded rows."""
    size = min(int(block_rows), max(8, 1 << (max(int(n), 1) - 1).bit_length()))
    return -(-size // MAP_BATCH) * MAP_BATCH if size > MAP_BATCH else size


def _take(table, idx):
    return jax.tree_util.tree_map(lambda x: jnp.take(x, idx, axis=0), table)


MAP_BATCH = 256  # rows per inner step: keeps the intermediates of a step in cache


def _rows(models, hws, m_idx, h_idx, prec_arrays, cfg_arrays, drafts=None, d_idx=None):
    """Evaluate rows with ``lax.map`` over cache-sized vmapped batches (see :data:`MAP_BATCH`)."""

    def one(args):
        mi, hi, p, c, di = args
        draft = None if drafts is None else _take(drafts, di)
        res = serve_core(_take(models, mi), _take(hws, hi), O.Precision(*p), ServeConfig(*c), draft)
        return {k: res[k] for k in RESULT_COLUMNS}

    d_idx = m_idx if d_idx is None else d_idx
    rows = int(np.shape(m_idx)[0])
    return jax.lax.map(one, (m_idx, h_idx, prec_arrays, cfg_arrays, d_idx), batch_size=min(MAP_BATCH, rows))


_eval_block = jax.jit(_rows)


def _to_frame(configs) -> pd.DataFrame:
    if isinstance(configs, pd.DataFrame):
        return configs.reset_index(drop=True)
    try:
        import pyarrow as pa

        if isinstance(configs, pa.Table):
            return configs.to_pandas()
    except ImportError:  # pragma: no cover
        pass
    raise ConfigError(f"configs must be a pandas DataFrame or a pyarrow Table, got {type(configs).__name__}")


def _column(df: pd.DataFrame, name: str, default):
    """Column ``name`` as a numpy array (``default`` where missing / NaN; None keeps NaN)."""
    if name in df.columns:
        col = df[name]
        if default is not None and col.isna().any():
            col = col.fillna(default)
        return col.to_numpy()
    if isinstance(default, str) or default is None:
        return np.full(len(df), default, dtype=object)
    return np.broadcast_to(np.float32(default), (len(df),))  # a read-only view, no million-row fill


def _model_table(names: tuple):
    """``(padded stacked ModelSpec table, heads, layers, experts)`` of the distinct models ``names``."""
    specs = [resolve_model(name) for name in names]
    table = _pad_table(stack_numpy(specs, all_float=True, name="sweep"))
    per = np.asarray([[int(sp.num_heads), int(sp.num_layers), int(sp.num_experts)] for sp in specs])
    return table, per[:, 0], per[:, 1], per[:, 2]


def _hw_table(pairs: tuple, is_system: bool):
    """``(padded stacked HwSpec table, bytes of the act dtype, compute dtypes, act bytes, GEMM-input
    bytes)`` of distinct ``(hardware, act dtype)``: the act dtype's bytes are the default of the
    weight and KV dtypes; the last two are the front end's ``Precision`` fields (bf16 activations
    with low-precision GEMM inputs for W8A8 / W4A4)."""
    hw_specs, dtype_bytes, compute_dtypes, act_bytes, gemm_in = [], [], [], [], []
    for name, a in pairs:
        obj = resolve_hardware(None, name) if is_system else resolve_hardware(name)
        cdt, prec = resolve_dtypes(obj, None, a, None)
        hw_specs.append(build_hw(obj, cdt))
        dtype_bytes.append(float(prec.gemm_input_bytes()))  # the act dtype's element bytes
        compute_dtypes.append(cdt)
        act_bytes.append(float(prec.act_bytes))
        gemm_in.append(float(prec.gemm_in_bytes))
    return (_pad_table(stack_numpy(hw_specs, all_float=True)), np.asarray(dtype_bytes),
            np.asarray(compute_dtypes, dtype=object), np.asarray(act_bytes), np.asarray(gemm_in))


def _codes(values):
    """``pd.factorize`` keeping missing values as a category of their own."""
    codes, uniq = pd.factorize(values, use_na_sentinel=False)
    return np.asarray(codes), list(uniq)


def _check(df: pd.DataFrame, arrays: dict[str, np.ndarray], heads, layers, experts, errors: str, extra=()):
    """Vectorised validity checks (plus ``extra`` ``(mask, reason)`` pairs); returns the reason per row ('' = valid)."""
    code = np.zeros(len(df), dtype=np.int8)
    messages = [""]

    def flag(mask, text):
        messages.append(text)
        code[mask & (code == 0)] = len(messages) - 1

    for name, low in (("batch", 1), ("input_len", 1), ("output_len", 1), ("tp", 1), ("pp", 1), ("ep", 1),
                      ("dp", 1), ("chunk", 0), ("block_size", 1), ("spec_gamma", 0)):
        v = arrays[name]
        flag(~np.isfinite(v) | (v < low) | (v != np.round(v)), f"{name} must be an integer >= {low}")
    for name in ("tp_overlap", "spec_accept"):
        v = arrays[name]
        flag(~((v >= 0) & (v <= 1)), f"{name} must be in [0, 1]")
    # the one serving layout rule (simulator.layout_rule.serving_violations)
    rule = serving_violations(heads=heads, layers=layers, experts=experts, tp=np.maximum(arrays["tp"], 1),
                              pp=arrays["pp"], ep=np.maximum(arrays["ep"], 1), dp=arrays["dp"], chunk=arrays["chunk"],
                              batch=arrays["batch"])
    for k, text in SERVE_RULES.items():
        flag(rule == k, text)
    for mask, text in extra:
        flag(mask, text)
    bad = np.flatnonzero(code)
    if errors == "raise" and bad.size:
        i = int(bad[0])
        raise ConfigError(f"sweep row {i}: {messages[code[i]]} (model {df['model'].iloc[i]})")
    return code == 0, pd.Categorical.from_codes(code, categories=messages)  # categorical: no string per row


def _engine_columns(df: pd.DataFrame):
    """``engine_step_s`` / ``engine_seq_s`` / ``engine_host_share`` per row from the optional ``engine``
    column (missing = ``none``), and the mask of rows naming an unknown engine."""
    n = len(df)
    zeros = {k: np.zeros(n, dtype=np.float32) for k in ("engine_step_s", "engine_seq_s", "engine_host_share")}
    if "engine" not in df.columns:
        return zeros, np.zeros(n, dtype=bool)
    codes, uniq = _codes(df["engine"])
    table = []
    for u in uniq:
        key = "none" if u is None or (isinstance(u, float) and np.isnan(u)) else str(u).strip().lower()
        e = ENGINES.get(key)
        table.append((np.nan, np.nan, np.nan) if e is None else (e.step_s, e.per_sequence_s, e.host_share))
    vals = np.asarray(table, dtype=np.float64)[codes]
    bad = np.isnan(vals[:, 0])
    vals = np.nan_to_num(vals)
    return {k: vals[:, i].astype(np.float32) for i, k in enumerate(zeros)}, bad


def serve(configs, errors: str = "raise", block_rows: int = BLOCK_ROWS) -> pd.DataFrame:
    """Predict every serving configuration in ``configs`` (DataFrame / Arrow table); see module doc."""
    if errors not in ("raise", "mark"):
        raise ConfigError(f"errors = '{errors}'; allowed: raise, mark")
    df = _to_frame(configs)
    n = len(df)
    if n == 0:
        raise ConfigError("configs has no rows")
    if "model" not in df.columns:
        raise ConfigError("configs needs a 'model' column")
    hw_col = "system" if "system" in df.columns else "hardware" if "hardware" in df.columns else (
        "device" if "device" in df.columns else None)
    if hw_col is None:
        raise ConfigError("configs needs a 'hardware' (device) or 'system' column")
    is_system = hw_col == "system"

    # distinct models -> stacked ModelSpec table (cached per process for catalog names)
    m_codes, m_names = _codes(df["model"])
    models, heads, layers, experts = cached_table("model", tuple(m_names), _model_table)
    heads, layers, experts = heads[m_codes], layers[m_codes], experts[m_codes]

    # distinct (hardware, act dtype) pairs -> HwSpec table and precision bytes
    hc, hu = _codes(df[hw_col])
    ac, au = _codes(df["act_dtype"]) if "act_dtype" in df.columns else (np.zeros(n, dtype=np.int64), [None])
    pair_codes, pairs = pd.factorize(hc.astype(np.int64) * (len(au) + 1) + ac)
    h_codes = pair_codes

    def _act(a):
        return None if a is None or (isinstance(a, float) and np.isnan(a)) else str(a).lower()

    pair_names = tuple((hu[int(k) // (len(au) + 1)], _act(au[int(k) % (len(au) + 1)])) for k in pairs)
    hws, dtype_table, cdt_table, act_table, gemm_in_table = cached_table("hw", pair_names, _hw_table, is_system)
    hws: HwSpec
    a_bytes = dtype_table[h_codes]   # the act dtype's element bytes: default of the weight and KV dtypes

    def bytes_col(col, fn):
        out = a_bytes.copy()
        if col not in df.columns:
            return out
        codes, uniq = _codes(df[col])
        table = np.asarray([np.nan if u is None or (isinstance(u, float) and np.isnan(u)) else fn(str(u).lower())
                            for u in uniq])
        vals = table[codes]
        return np.where(np.isnan(vals), out, vals)

    from simulator.dtypes import dtype_bytes

    w_bytes = bytes_col("weight_dtype", weight_bytes_of)
    kv_bytes = bytes_col("kv_dtype", dtype_bytes)
    dq_flop = dequant_flop_of(w_bytes, a_bytes, cdt_table, index=h_codes)  # the front end's rule, per row
    head_bytes = head_weight_bytes_of(w_bytes, cdt_table, index=h_codes)  # the front end's rule, per row
    act_bytes = act_table[h_codes]
    # Precision leaves by field name (built once; each block takes its slice), as cfg_names below
    prec_by_name = dict(weight_bytes=w_bytes, act_bytes=act_bytes, kv_bytes=kv_bytes, cast_bytes=np.zeros(n),
                        dequant_flop=dq_flop, cast_reads=np.ones(n), head_weight_bytes=head_bytes,
                        gemm_in_bytes=gemm_in_table[h_codes])
    prec_cols = tuple(prec_by_name[f.name] for f in dataclasses.fields(O.Precision))

    arrays = {k: np.asarray(_column(df, k, v), dtype=np.float32) for k, v in NUMERIC_DEFAULTS.items()}
    eng_arrays, eng_bad = _engine_columns(df)
    valid, reason = _check(df, arrays, heads, layers, experts, errors,
                           extra=[(eng_bad, f"engine must be one of {', '.join(ENGINES)}")])
    # invalid rows are evaluated with a harmless layout, then masked
    safe = arrays if valid.all() else {k: np.where(valid, v, NUMERIC_DEFAULTS[k]) for k, v in arrays.items()}
    safe = {**safe, **{k: np.where(valid, v, 0.0) for k, v in eng_arrays.items()}}

    drafts = None
    if "draft_model" in df.columns and df["draft_model"].notna().any():
        d_col = df["draft_model"].where(df["draft_model"].notna(), df["model"]).astype(str)
        d_codes, d_names = pd.factorize(d_col)
        drafts = _pad_table(stack_numpy([resolve_model(x) for x in d_names], all_float=True, name="sweep-draft"))
        safe["spec_gamma"] = np.where(df["draft_model"].notna().to_numpy(), safe["spec_gamma"], 0.0)

    float_cols = [k for k in RESULT_COLUMNS if k != "fits"]
    block = np.empty((len(float_cols), n), dtype=np.float32)  # one 2-D block: no DataFrame consolidation copy
    results = {k: block[i] for i, k in enumerate(float_cols)}
    results["fits"] = np.empty(n, dtype=bool)
    size = block_size(n, block_rows)  # power-of-two buckets: few compilations, little padding
    cfg_names = [f.name for f in dataclasses.fields(ServeConfig)]
    d_all = None if drafts is None else d_codes

    def run(start):  # one block of rows (padded to a fixed size so the sweep compiles once)
        stop = min(start + size, n)
        pad = size - (stop - start)

        def blk(x):
            x = np.asarray(x[start:stop])
            return np.concatenate([x, np.repeat(x[-1:], pad, axis=0)]) if pad else x

        prec_arrays = tuple(blk(x).astype(np.float32, copy=False) for x in prec_cols)
        cfg_arrays = tuple(blk(safe[name]).astype(np.float32, copy=False) for name in cfg_names)
        idx = (blk(m_codes).astype(np.int32), blk(h_codes).astype(np.int32))
        out = _eval_block(models, hws, *idx, prec_arrays, cfg_arrays, drafts,
                          None if d_all is None else blk(d_all).astype(np.int32))
        for k in RESULT_COLUMNS:
            results[k][start:stop] = np.asarray(out[k])[: stop - start]

    starts = list(range(0, n, size))
    if len(starts) == 1:
        run(0)
    else:  # XLA releases the GIL: blocks run concurrently on the cores
        with ThreadPoolExecutor(max_workers=max(1, min(len(starts), os.cpu_count() or 1))) as pool:
            list(pool.map(run, starts))

    valid_all = bool(valid.all())
    for k in RESULT_COLUMNS:
        if not valid_all:
            if k == "fits":
                results[k] &= valid
            else:
                results[k][~valid] = np.nan
    extra = {"fits": results["fits"], "weight_bytes_per_param": w_bytes, "act_bytes_per_elem": act_bytes,
             "kv_bytes_per_elem": kv_bytes, "valid": valid, "error": reason}
    names = [*float_cols, *extra]
    keep = df.drop(columns=[c for c in names if c in df.columns])
    floats = pd.DataFrame(block.T, columns=float_cols, copy=False)
    out = pd.concat([keep, floats, pd.DataFrame(extra)], axis=1)
    return out[[*keep.columns, *RESULT_COLUMNS, *[c for c in extra if c != "fits"]]]


__all__ = ["serve"]
