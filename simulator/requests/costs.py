"""Iteration-cost tables of one deployment, evaluated once by the simulator core and interpolated.

Every iteration time of the request-level simulator comes from
:func:`simulator.iteration.iteration_time_s` (the single cost path: operator inventory priced on
the hardware). A request stream needs millions of iteration times, so the core is evaluated ONCE
per deployment over a grid of iteration shapes (one jitted, broadcast call) and the event loop
interpolates linearly in plain Python/numpy:

- ``decode``: ``t_dec(B, c)``, ``B`` decoding sequences at mean KV context ``c`` (no prefill), for
  every integer ``B = 1..max_batch`` (rows interpolated from a geometric grid) and a grid of
  ``c``; the event loop uses the local affine form ``t = a + b c`` to sum many iterations at
  once (context grows by one token per iteration): ``sum_{j<k} t(c0 + j) = k a + b (k c0 + k(k-1)/2)``.
- ``prefill``: ``t_pre(P, n)``, a prefill-only iteration of ``P`` prompt tokens from ``n`` prompts
  (vLLM's default scheduler and static batching).
- ``mixed``: ``t_mix(P, p0, B, c)``, one Sarathi-Serve iteration: a chunk of ``P`` prompt tokens
  after ``p0`` already-prefilled tokens of the same prompt, plus ``B`` decodes at mean context ``c``.
  A chunk spanning several prompts is priced as one prompt (attention pairs over-counted: conservative).

Attention work is linear in the context of each sequence, so a group of decodes described by
its mean context is exact within one roofline regime (``simulator.iteration``); prompts of a
batched prefill are described by an effective count ``n_eff = (sum L_i)^2 / sum L_i^2`` of equal
prompts, which keeps the tokens and the causal attention pairs exact (the engine computes it).

A :class:`Deployment` also carries the KV-cache room in tokens for paged-KV admission:
``kv_tokens = (capacity - weights - workspace - activations) / kv_bytes_per_token`` per device,
all from :func:`simulator.serving.predict_serve` and :func:`simulator.ops.kv_cache_bytes_per_token`.
"""

from __future__ import annotations

import bisect
import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from simulator import ops as O
from simulator.errors import ConfigError

DEFAULT_MAX_BATCH = 256  # vLLM max_num_seqs default (vllm/config.py, SchedulerConfig, v0.4-0.6)
DEFAULT_BLOCK_SIZE = 16  # vLLM paged-KV block default (Kwon et al., SOSP 2023, §7)
DEFAULT_TOKEN_BUDGET = 512  # Sarathi-Serve token budget for strict TBT SLOs (Agrawal et al., OSDI 2024, §5.2)


_JIT = {}
_BUCKETS = (8192,)  # one shape for every table (a single compile per process)


def _grid_times(model, hw, prec, layout, pt, ps, pc, ds, dc):
    """Core iteration times (s) and roofline utilisation of flat arrays of iteration shapes (one jitted call).

    Utilisation ``u = min(1, max(F / (t P), B / (t W)))`` per device, with ``F`` the FLOPs and ``B``
    the bytes of the iteration's operator inventory (:func:`simulator.ops.forward_ops`, per TP
    rank), ``P`` the matrix peak and ``W`` the main-memory bandwidth: the share of the busier unit.
    """
    fn = _JIT.get("f")
    if fn is None:
        from simulator.iteration import iteration_time_s as it
        from simulator.iteration import iteration_work as work

        def f(model, hw, prec, pt, ps, pc, ds, dc, tp, pp, ep, overlap, off):
            t = it(model, hw, prec, pt, ps, pc, ds, dc, tp, pp, ep, 1.0, overlap, off)
            tokens, attn, lm = work(pt, ps, pc, ds, dc)
            ops = O.forward_ops(model, tokens, attn, lm, prec, tp, pp, ep, 1.0)
            flops = sum(op.flops for op in ops.values())
            nbytes = sum(op.bytes for op in ops.values())
            ts = jnp.maximum(t, 1e-30)
            u = jnp.maximum(flops / (ts * hw.matrix_flops_per_s), nbytes / (ts * hw.mem_bytes_per_s))
            return t, jnp.where(t > 0, jnp.clip(u, 0.0, 1.0), 0.0)

        fn = _JIT["f"] = jax.jit(f)
    tp, pp, ep, overlap, off = layout
    n = len(pt)
    size = next((b for b in _BUCKETS if b >= n), n)  # fixed shapes: one compile for every deployment
    cols = [np.concatenate([np.asarray(a, dtype=float), np.full(size - n, float(a[-1]))]) for a in (pt, ps, pc, ds, dc)]
    # the model's name is static pytree metadata: a constant name keeps one compiled program per structure
    model = dataclasses.replace(model, name="simlab-requests")
    t, u = fn(model, hw, prec, *(jnp.asarray(a) for a in cols), float(tp), float(pp), float(ep), float(overlap),
              float(off))
    return np.asarray(t, dtype=float)[:n], np.asarray(u, dtype=float)[:n]


def _geom_grid(hi: float, n: int, lo: float = 1.0, zero: bool = False) -> np.ndarray:
    hi = max(float(hi), lo)
    g = np.unique(np.round(np.geomspace(lo, hi, n)))
    return np.concatenate([[0.0], g]) if zero else g


def _seg(grid, x):
    """(segment index, fraction) of ``x`` in a sorted grid (clamped, linear extrapolation at the ends)."""
    j = bisect.bisect_right(grid, x) - 1
    if j < 0:
        j = 0
    elif j >= len(grid) - 1:
        j = len(grid) - 2
    return j, (x - grid[j]) / (grid[j + 1] - grid[j])


def _multilinear(grids, table, points) -> np.ndarray:
    """Vectorised multilinear interpolation of ``table`` (axes = ``grids``) at ``points`` (one array per axis)."""
    idx, frac = [], []
    for g, x in zip(grids, points, strict=False):
        j = np.clip(np.searchsorted(g, x, side="right") - 1, 0, len(g) - 2)
        idx.append(j)
        frac.append((x - g[j]) / (g[j + 1] - g[j]))
    out = np.zeros(np.shape(points[0]))
    d = len(grids)
    for corner in range(1 << d):
        w = np.ones_like(out)
        ix = []
        for ax in range(d):
            bit = (corner >> ax) & 1
            w = w * (frac[ax] if bit else 1.0 - frac[ax])
            ix.append(idx[ax] + bit)
        out = out + w * table[tuple(ix)]
    return out


class CostTable:
    """Interpolation tables of one deployment (see the module docstring). Times in seconds.

    ``dec_rows[B][j]``: ``t_dec(B, ctx_grid[j])`` for every integer ``B = 0..max_batch``;
    ``pre``: ``t_pre`` on (``pre_tok`` x ``pre_seq``); ``mix``: ``t_mix`` on (tokens x offset x
    batch x context). The ``*_u`` tables hold the utilisation (``_grid_times``) at the same points.
    """

    def __init__(self, ctx_grid, dec_rows, dec_u, pre_tok, pre_seq, pre_t, pre_u, mix_axes=None, mix_t=None,
                 mix_u=None):
        self.ctx_grid = [float(c) for c in ctx_grid]
        self.dec_rows, self.dec_u = dec_rows, dec_u
        self.pre_tok, self.pre_seq = [float(x) for x in pre_tok], [float(x) for x in pre_seq]
        self.pre_t, self.pre_u = pre_t, pre_u
        self.mix_axes = None if mix_axes is None else [[float(x) for x in g] for g in mix_axes]
        self.mix_t, self.mix_u = mix_t, mix_u

    def seg_index(self, c: float) -> int:
        """Index ``j`` of the context-grid segment ``[g_j, g_j+1]`` used for ``c`` (clamped)."""
        j = bisect.bisect_right(self.ctx_grid, c) - 1
        n = len(self.ctx_grid) - 2
        return 0 if j < 0 else (n if j > n else j)

    # -- vectorised utilisation of an engine's event log -----------------------------------------
    def util_of_events(self, ev) -> np.ndarray:
        """Utilisation of each logged event (``Engine.event_arrays``), multilinear in the tables."""
        kind = ev["kind"].astype(int)
        u = np.zeros(kind.size)
        m = kind == 0
        if m.any():
            rows = np.asarray(self.dec_u)
            b = ev["batch"][m].astype(int)
            u[m] = _multilinear([np.arange(rows.shape[0], dtype=float), np.asarray(self.ctx_grid)], rows,
                                [b.astype(float), ev["x"][m]])
        m = kind == 1
        if m.any():
            u[m] = _multilinear([np.asarray(self.pre_tok), np.asarray(self.pre_seq)], np.asarray(self.pre_u),
                                [ev["x"][m], ev["batch"][m]])
        m = kind == 2
        if m.any() and self.mix_u is not None:
            u[m] = _multilinear([np.asarray(g) for g in self.mix_axes], np.asarray(self.mix_u),
                                [ev["x"][m], ev["y"][m], ev["batch"][m], ev["z"][m]])
        return np.clip(u, 0.0, 1.0)

    # -- decode -----------------------------------------------------------------------------
    def decode_affine(self, b: int, c: float):
        """``(a, slope)`` with ``t_dec(b, x) ≈ a + slope x`` near ``x = c`` (linear segment of the grid)."""
        g = self.ctx_grid
        row = self.dec_rows[b]
        j, _ = _seg(g, c)
        slope = (row[j + 1] - row[j]) / (g[j + 1] - g[j])
        return row[j] - slope * g[j], slope

    def decode_time(self, b: int, c: float) -> float:
        a, s = self.decode_affine(b, c)
        return a + s * c

    def decode_util(self, b: int, c: float) -> float:
        j, y = _seg(self.ctx_grid, c)
        row = self.dec_u[b]
        return (1 - y) * row[j] + y * row[j + 1]

    # -- prefill ----------------------------------------------------------------------------
    def _bilinear(self, rows, tokens, seqs):
        i, u = _seg(self.pre_tok, tokens)
        j, v = _seg(self.pre_seq, seqs)
        r0, r1 = rows[i], rows[i + 1]
        return (1 - u) * ((1 - v) * r0[j] + v * r0[j + 1]) + u * ((1 - v) * r1[j] + v * r1[j + 1])

    def prefill_time(self, tokens: float, seqs: float) -> float:
        """Bilinear ``t_pre(P, n)`` (linear extrapolation in ``P`` beyond the grid)."""
        return self._bilinear(self.pre_t, tokens, seqs)

    def prefill_util(self, tokens: float, seqs: float) -> float:
        return min(max(self._bilinear(self.pre_u, tokens, seqs), 0.0), 1.0)

    # -- mixed (Sarathi) ----------------------------------------------------------------------
    def _quad(self, T, tokens, offset, b, c):
        gt, go, gb, gc = self.mix_axes
        br = bisect.bisect_right
        i = min(max(br(gt, tokens) - 1, 0), len(gt) - 2)
        j = min(max(br(go, offset) - 1, 0), len(go) - 2)
        k = min(max(br(gb, b) - 1, 0), len(gb) - 2)
        m = min(max(br(gc, c) - 1, 0), len(gc) - 2)
        u = (tokens - gt[i]) / (gt[i + 1] - gt[i])
        v = (offset - go[j]) / (go[j + 1] - go[j])
        w = (b - gb[k]) / (gb[k + 1] - gb[k])
        y = (c - gc[m]) / (gc[m + 1] - gc[m])
        acc = 0.0
        for Ti, fu in ((T[i], 1.0 - u), (T[i + 1], u)):
            for Tij, fv in ((Ti[j], 1.0 - v), (Ti[j + 1], v)):
                r0, r1 = Tij[k], Tij[k + 1]
                acc += fu * fv * ((1.0 - w) * ((1.0 - y) * r0[m] + y * r0[m + 1])
                                  + w * ((1.0 - y) * r1[m] + y * r1[m + 1]))
        return acc

    def mixed_time(self, tokens: float, offset: float, b: int, c: float) -> float:
        """Quadrilinear ``t_mix(P, p0, B, c)`` (one Sarathi-Serve iteration)."""
        return self._quad(self.mix_t, tokens, offset, b, c)

    def mixed_util(self, tokens: float, offset: float, b: int, c: float) -> float:
        return min(max(self._quad(self.mix_u, tokens, offset, b, c), 0.0), 1.0)


def build_table(model, hw, prec, *, tp=1, pp=1, ep=1, tp_overlap=0.0, weights_offloaded=0,
                max_batch=DEFAULT_MAX_BATCH, max_context=8192, max_prefill_tokens=8192,
                token_budget=0, max_prompt=8192, n_ctx=24, n_batch=28, n_tok=24) -> CostTable:
    """Evaluate the core over the grids a scheduler needs (one call) and return a :class:`CostTable`.

    Grid sizes are fixed so that one compiled program serves every deployment of a search.
    """
    max_batch = int(max_batch)
    ctx = np.unique(np.concatenate([[0.0], _geom_grid(max(max_context, 2), n_ctx - 1)]))
    bgrid = _geom_grid(max_batch, n_batch)
    if bgrid.size < 2:
        bgrid = np.array([1.0, 2.0])
    ptok = _geom_grid(max(max_prefill_tokens, 2), n_tok)
    pseq = _geom_grid(max(min(max_batch, max_prefill_tokens), 2), 10)
    dB, dC = np.meshgrid(bgrid, ctx, indexing="ij")
    pP, pN = np.meshgrid(ptok, pseq, indexing="ij")
    pN = np.minimum(pN, pP)  # at least one token per prompt
    parts = [
        (np.zeros(dB.size), np.ones(dB.size), np.zeros(dB.size), dB.ravel(), dC.ravel()),
        (pP.ravel(), pN.ravel(), np.zeros(pP.size), np.zeros(pP.size), np.zeros(pP.size)),
    ]
    mix_axes = None
    if token_budget:
        mt = _geom_grid(max(token_budget, 2), 9)
        mo = np.unique(np.concatenate([[0.0], _geom_grid(max(max_prompt, 2), 6)]))
        mb = _geom_grid(max(min(max_batch, token_budget), 2), 9, zero=True)
        mc = np.unique(np.concatenate([[0.0], _geom_grid(max(max_context, 2), 7)]))
        g = np.meshgrid(mt, mo, mb, mc, indexing="ij")
        parts.append((g[0].ravel(), np.ones(g[0].size), g[1].ravel(), g[2].ravel(), g[3].ravel()))
        mix_axes = (mt, mo, mb, mc)
    cols = [np.concatenate([p[i] for p in parts]) for i in range(5)]
    t, u = _grid_times(model, hw, prec, (tp, pp, ep, tp_overlap, weights_offloaded), *cols)
    if not np.all(np.isfinite(t)):
        raise ConfigError("the cost model returned a non-finite iteration time for this deployment")
    n_dec, n_pre = dB.size, pP.size
    full_b = np.arange(0, max_batch + 1, dtype=float)

    def rows_of(x):
        d = x[:n_dec].reshape(dB.shape)
        out = np.empty((max_batch + 1, ctx.size))
        for j in range(ctx.size):
            out[:, j] = np.interp(full_b, bgrid, d[:, j])
        out[0] = 0.0
        return out.tolist()

    mix_t = mix_u = None
    if mix_axes is not None:
        shape = tuple(a.size for a in mix_axes)
        mix_t = t[n_dec + n_pre:].reshape(shape).tolist()
        mix_u = u[n_dec + n_pre:].reshape(shape).tolist()
    return CostTable(ctx, rows_of(t), rows_of(u), ptok, pseq, t[n_dec:n_dec + n_pre].reshape(pP.shape).tolist(),
                     u[n_dec:n_dec + n_pre].reshape(pP.shape).tolist(), mix_axes, mix_t, mix_u)


def kv_transfer_time_s(kv_bytes: float, hw, pairs: float) -> float:
    """KV-cache transfer of ``kv_bytes`` between pools, ``pairs`` device pairs in parallel, over the
    inter-node link (the intra-node link when the system has none): ``alpha + S / pairs / (B e_link)``
    (the same alpha-beta form as :mod:`simulator.disaggregation`)."""
    inter = float(hw.inter_bytes_per_s)
    bw = inter if inter > 0 else float(hw.intra_bytes_per_s)
    lat = float(hw.inter_latency_s) if inter > 0 else float(hw.intra_latency_s)
    if bw <= 0:
        return math.inf
    return lat + kv_bytes / max(pairs, 1.0) / (bw * float(hw.link_eff))


__all__ = ["CostTable", "DEFAULT_BLOCK_SIZE", "DEFAULT_MAX_BATCH", "DEFAULT_TOKEN_BUDGET", "build_table",
           "kv_transfer_time_s"]
