"""Iteration-level engine of one replica: static batching, vLLM and Sarathi-Serve schedulers.

An engine runs one iteration at a time; each iteration's time comes from the deployment's
:class:`simulator.requests.costs.CostTable` (the simulator core) plus the engine's host overhead.
Iterations are simulated exactly at every *event* (an admission, a prefill chunk, a completion, a
preemption, the next arrival); between events the decode phase is advanced in closed form:
``k`` decode iterations of ``B`` sequences at mean context ``c0`` (growing one token per
iteration) take ``k a + b (k c0 + k (k - 1) / 2)`` with ``t_dec ≈ a + b c`` locally, where ``k``
is the smallest of: iterations until the next completion, until the KV cache is full, until the
next arrival. So the cost is a few Python operations per request, not per token.

Schedulers (``mode``):

- ``static``: request-level batching (FasterTransformer / HF generate; Yu et al., Orca, OSDI
  2022, §2.2): when idle, take up to ``max_batch`` waiting requests (FCFS), prefill them in one
  iteration, decode until the longest finishes. Finished sequences keep their batch slot
  (padding) until the batch ends; each request's completion is its own last token.
- ``vllm``: continuous batching with paged KV (Kwon et al., SOSP 2023, §4.2-4.5; vLLM v0
  default scheduler): prefill-prioritised. Each iteration admits waiting requests FCFS while the
  batch has room (``max_batch``), the prompt tokens stay within ``max_prefill_tokens`` and their
  KV fits; admitted prompts run as a prefill-only iteration that emits their first token;
  otherwise all running sequences decode one token. When the KV cache cannot hold the next
  decode iteration, the most recently admitted request is preempted *by recompute* (its blocks
  freed; it returns to the head of the queue and later re-prefills prompt + generated tokens).
- ``sarathi``: chunked prefill with stall-free batching (Agrawal et al., Sarathi-Serve, OSDI
  2024, §4): every iteration decodes all running sequences and fills the rest of a token budget
  with prompt chunks (FCFS, one or several prompts); a prompt's first token comes with its last
  chunk. KV for the whole prompt is reserved at admission.
- ``decode``: decode-only (the decode pool of a disaggregated deployment): submitted requests
  already hold their prompt's KV and first token; admission only needs KV room and a batch slot.

Prefix caching (vLLM automatic prefix caching, SGLang RadixAttention): ``rec.cached[rid]`` prompt
tokens (whole blocks) are found in the cache and not recomputed; their KV still counts against the
request (shared blocks counted per request: conservative). A prefill-only iteration prices the
computed tokens without attention to the cached prefix (under-counted); a Sarathi chunk starts at
the cached offset (exact).

Host overhead: with an engine (``Deployment.overhead``) each iteration of device time ``t`` and
``b`` sequences takes ``t (1 + share) + step_s + per_sequence_s b`` (:mod:`simulator.engines`).

KV accounting (tokens, paged): a running sequence of context ``c`` holds ``c`` tokens plus at most
one partly filled block; the engine books ``c + (block - 1)`` per sequence (the bound of Kwon et
al., §4.2) so that admissions and preemptions never overrun the pool. Admission also leaves vLLM's
watermark of 1 % of the pool free (``BlockSpaceManager``, v0 default), which keeps a preempted
request from being readmitted at once (thrashing).

Every event appends one row to an event log (end time, kind, duration, batch, tokens/context,
running sequences and KV tokens after it); occupancy over time and energy (each iteration's
``t (P_idle + (P_max - P_idle) u)`` per device, ``u`` its tabulated utilisation,
:mod:`simulator.requests.power`) are computed from the log afterwards, vectorised.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections import deque

import numpy as np

MODES = ("static", "vllm", "sarathi", "decode")
EV_DECODE, EV_PREFILL, EV_MIXED = 0, 1, 2


class Engine:
    """One replica. ``submit`` requests in arrival order, ``advance(t)`` to a time, ``drain()`` at the end.

    ``rec`` is the shared record: lists ``first_s``, ``done_s``, ``start_s`` (first scheduled),
    ``preempt`` indexed by request id; ``prompt`` / ``output`` the lengths.
    """

    def __init__(self, dep, mode: str, rec):
        if mode not in MODES:
            raise ValueError(mode)
        self.dep, self.mode, self.rec = dep, mode, rec
        self.tab = dep.table
        self.cap = float(dep.kv_tokens)
        self.bslack = float(dep.block_size - 1)
        self.max_batch = int(dep.max_batch)
        self.max_pre = int(dep.max_prefill_tokens)
        self.budget = int(dep.token_budget)
        self.watermark = 0.01 * self.cap  # vLLM BlockSpaceManager watermark (0.01 of the blocks, v0 default)
        self.now = 0.0
        self.waiting = deque()       # request ids (FCFS; preempted ones re-enter at the front)
        self.heap = []               # (finish_iteration, admission_seq, rid) of running sequences
        self.order = []              # running rids in admission order (LIFO preemption); lazy
        self.it = 0                  # decode iterations applied to the running set so far
        self.n_run = 0
        self.sum_ctx = 0.0           # sum of running contexts (tokens)
        self.start_it = {}           # rid -> it at which it joined the running set
        self.ctx0 = {}               # rid -> context when it joined
        self.alive = set()           # running rids
        self.redo = {}               # rid -> (context to recompute, decode tokens left) after preemption
        self.pref = deque()          # sarathi: [rid, done_tokens, total_tokens] being prefilled
        self.pref_reserved = 0.0     # sarathi: KV booked by prompts being prefilled
        self.seq = 0
        self.busy_s = 0.0
        self.iterations = 0
        self.outstanding = 0         # submitted and not finished
        # event log: end time, kind, duration, batch, x (context or tokens), y (k or seqs or offset), z (context)
        self.log = []
        self._events = None
        self._jmax = len(self.tab.ctx_grid) - 2
        self.overhead = dep.overhead  # (step_s, per_sequence_s, share) or None
        self._step = {"vllm": self._step_vllm, "decode": self._step_vllm, "static": self._step_static,
                      "sarathi": self._step_sarathi}[mode]

    # -- bookkeeping ------------------------------------------------------------------------
    def kv_used(self) -> float:
        """KV tokens booked: contexts + one partial block per running sequence + prompts being prefilled."""
        return self.sum_ctx + self.n_run * self.bslack + self.pref_reserved

    def _log(self, kind, dt, b, x, y, z):
        self.log.append((self.now, kind, dt, b, x, y, z, self.n_run,
                         self.sum_ctx + self.n_run * self.bslack + self.pref_reserved))

    def _join(self, rid, ctx, remaining, t):
        """``rid`` starts decoding with ``ctx`` cached tokens and ``remaining`` tokens to generate."""
        if remaining <= 0:
            self.rec.done_s[rid] = t
            self.outstanding -= 1
            return
        self.seq += 1
        heapq.heappush(self.heap, (self.it + remaining, self.seq, rid))
        self.order.append(rid)
        self.alive.add(rid)
        self.start_it[rid] = self.it
        self.ctx0[rid] = ctx
        self.n_run += 1
        self.sum_ctx += ctx

    def _pop_finished(self):
        heap, it, alive = self.heap, self.it, self.alive
        done, now = self.rec.done_s, self.now
        while heap and heap[0][0] <= it:
            _, _, rid = heapq.heappop(heap)
            if rid not in alive:
                continue  # preempted earlier (lazy deletion)
            alive.discard(rid)
            self.n_run -= 1
            self.sum_ctx -= self.ctx0[rid] + (it - self.start_it[rid])
            done[rid] = now
            self.outstanding -= 1
        while heap and heap[0][2] not in alive:
            heapq.heappop(heap)

    def _preempt(self) -> bool:
        """Preempt the most recently admitted running sequence (recompute). False if none."""
        order = self.order
        while order:
            rid = order.pop()
            if rid in self.alive:
                self.alive.discard(rid)
                ctx = self.ctx0[rid] + (self.it - self.start_it[rid])
                left = next(f - self.it for f, _, r in self.heap if r == rid)  # O(B), rare
                self.n_run -= 1
                self.sum_ctx -= ctx
                self.redo[rid] = (ctx, left)
                self.waiting.appendleft(rid)
                self.rec.preempt[rid] += 1
                while self.heap and self.heap[0][2] not in self.alive:
                    heapq.heappop(self.heap)
                return True
        return False

    def _with_overhead(self, t, b):
        """Device time ``t`` of an iteration of ``b`` sequences plus the engine's host time."""
        if self.overhead is None:
            return t
        step, per, share = self.overhead
        return t * (1.0 + share) + step + per * b

    # -- public -----------------------------------------------------------------------------
    def submit(self, rid, t):
        if not self.waiting and not self.n_run and not self.pref and self.now < t:
            self.now = t  # idle engine: the next iteration starts at the arrival
        self.waiting.append(rid)
        self.outstanding += 1

    def queued(self) -> int:
        return len(self.waiting)

    def advance(self, t_lim=math.inf):
        """Run iterations that start before ``t_lim`` (the last one may end after it)."""
        step = self._step
        while self.now < t_lim and (self.waiting or self.n_run or self.pref):
            step(t_lim)

    def drain(self):
        self.advance(math.inf)

    # -- decode fast-forward ------------------------------------------------------------------
    def _decode(self, t_lim, batch=0, sum_ctx=0.0):
        """Advance ``k >= 1`` decode iterations in closed form (see the module docstring)."""
        n_run = self.n_run
        b = batch or n_run
        c0 = (sum_ctx or self.sum_ctx) / b
        # local affine form of t_dec(b, .) on the context grid segment holding c0
        tab = self.tab
        g = tab.ctx_grid
        row = tab.dec_rows[b]
        j = bisect_right(g, c0) - 1
        if j < 0:
            j = 0
        elif j > self._jmax:
            j = self._jmax
        s = (row[j + 1] - row[j]) / (g[j + 1] - g[j])
        a = row[j] - s * g[j]
        if self.overhead is not None:  # host time per iteration: affine in the device time
            step, per, share = self.overhead
            a = a * (1.0 + share) + step + per * b
            s = s * (1.0 + share)
        k = self.heap[0][0] - self.it
        if not batch:
            k_mem = int((self.cap - self.sum_ctx - n_run * self.bslack - self.pref_reserved) // n_run)
            if k_mem < k:
                k = k_mem
        if t_lim != math.inf:
            dt = t_lim - self.now
            bq = a + s * c0 - 0.5 * s
            if s > 1e-18:
                kt = math.ceil((-bq + math.sqrt(max(bq * bq + 2.0 * s * dt, 0.0))) / s - 1e-9)
            else:
                kt = math.ceil(dt / a - 1e-9) if a > 0 else k
            if kt < k:
                k = kt
        if k < 1:
            k = 1
        if k > 1:  # use the grid segment holding the mean context of the k iterations
            cm = c0 + 0.5 * (k - 1)
            jm = bisect_right(g, cm) - 1
            if jm != j and 0 <= jm <= self._jmax:
                s = (row[jm + 1] - row[jm]) / (g[jm + 1] - g[jm])
                a = row[jm] - s * g[jm]
                if self.overhead is not None:
                    step, per, share = self.overhead
                    a = a * (1.0 + share) + step + per * b
                    s = s * (1.0 + share)
        t = k * a + s * (k * c0 + 0.5 * k * (k - 1))
        self.now += t
        self.busy_s += t
        self.iterations += k
        self.it += k
        self.sum_ctx += k * n_run
        if self.heap[0][0] <= self.it:
            self._pop_finished()
        n_run = self.n_run
        self.log.append((self.now, EV_DECODE, t, b, c0 + 0.5 * (k - 1), k, 0.0, n_run,
                         self.sum_ctx + n_run * self.bslack + self.pref_reserved))

    # -- vLLM / decode-only ------------------------------------------------------------------
    def _step_vllm(self, t_lim):
        waiting = self.waiting
        if waiting:
            rec, redo = self.rec, self.redo
            prompt, cached = rec.prompt, rec.cached
            decode_only = self.mode == "decode"
            bslack, max_pre = self.bslack, self.max_pre
            room = self.cap - (self.sum_ctx + self.n_run * bslack)
            free = self.max_batch - self.n_run
            adm, tok, nseq = [], 0, 0
            while waiting and free > 0:
                rid = waiting[0]
                if rid in redo:
                    need, compute = redo[rid][0], True
                elif decode_only:
                    need, compute = prompt[rid] + 1, False
                else:
                    need, compute = prompt[rid], True
                # vLLM can_allocate: the prompt's blocks plus a 1 % watermark must be free (no thrashing)
                if need + bslack + 1 + self.watermark > room or (compute and adm and tok + need > max_pre):
                    break
                waiting.popleft()
                adm.append(rid)
                if compute:
                    tok += need - cached[rid]  # prefix-cache hits are not recomputed
                    nseq += 1
                room -= need + bslack
                free -= 1
            if adm:
                t = 0.0
                if tok:
                    t = self._with_overhead(self.tab.prefill_time(tok, nseq), len(adm))
                    self.now += t
                    self.busy_s += t
                    self.iterations += 1
                now, start = self.now, rec.start_s
                for rid in adm:
                    if start[rid] != start[rid]:
                        start[rid] = now - t
                    if rid in redo:
                        ctx, left = redo.pop(rid)
                        # a recompute prefill emits the next token; a decode-only re-admission does not
                        self._join(rid, ctx, left if decode_only else left - 1, now)
                    elif decode_only:
                        self._join(rid, prompt[rid] + 1, rec.output[rid] - 1, now)
                    else:
                        rec.first_s[rid] = now
                        self._join(rid, prompt[rid], rec.output[rid] - 1, now)
                if tok:
                    self._log(EV_PREFILL, t, nseq, tok, 0.0, 0.0)
                    return
        if self.n_run:
            if self.sum_ctx + self.n_run * (self.bslack + 1) > self.cap and self._preempt():
                return
            self._decode(t_lim)
        elif waiting:
            raise RuntimeError("engine stalled: a waiting request can never be admitted")

    # -- static batching ----------------------------------------------------------------------
    def _step_static(self, t_lim):
        if self.n_run:  # decode the whole batch; finished sequences keep their slot (padding)
            b = self._static_b
            self._decode(t_lim, batch=b, sum_ctx=self._static_ctx + b * (self.it - self._static_it))
            return
        adm, tok, room = [], 0, self.cap
        rec = self.rec
        while self.waiting and len(adm) < self.max_batch:
            rid = self.waiting[0]
            need = rec.prompt[rid] + rec.output[rid] + self.bslack
            if need > room:
                break
            self.waiting.popleft()
            adm.append(rid)
            tok += rec.prompt[rid] - rec.cached[rid]
            room -= need
        if not adm:
            raise RuntimeError("engine stalled: a waiting request can never be admitted")
        t = self._with_overhead(self.tab.prefill_time(tok, len(adm)), len(adm))
        start = self.now
        self.now += t
        self.busy_s += t
        self.iterations += 1
        self._static_b, self._static_ctx, self._static_it = len(adm), float(tok), self.it
        for rid in adm:
            rec.start_s[rid] = start
            rec.first_s[rid] = self.now
            self._join(rid, rec.prompt[rid], rec.output[rid] - 1, self.now)
        self._log(EV_PREFILL, t, len(adm), tok, 0.0, 0.0)

    # -- Sarathi-Serve --------------------------------------------------------------------------
    def _step_sarathi(self, t_lim):
        rec, waiting, pref, redo = self.rec, self.waiting, self.pref, self.redo
        # admit into the prefill queue while KV (with the watermark) and batch slots allow (FCFS)
        if waiting:
            room = self.cap - self.watermark - (self.sum_ctx + self.n_run * self.bslack + self.pref_reserved)
            slots = self.max_batch - self.n_run - len(pref)
            while waiting and slots > 0:
                rid = waiting[0]
                total = redo[rid][0] if rid in redo else rec.prompt[rid]
                if total + self.bslack + 1 > room:
                    break
                waiting.popleft()
                pref.append([rid, min(rec.cached[rid], total - 1), total])  # prefix hits start done
                self.pref_reserved += total + self.bslack
                room -= total + self.bslack
                slots -= 1
        if not pref:
            if self.n_run:
                if self.kv_used() + self.n_run > self.cap and self._preempt():
                    return
                self._decode(t_lim)
            elif waiting:
                raise RuntimeError("engine stalled: a waiting request can never be admitted")
            return
        if self.n_run and self.kv_used() + self.n_run > self.cap and self._preempt():
            return
        b = self.n_run
        left = self.budget - b
        if left < 1:
            left = 1  # always make prefill progress (Sarathi sets budget > max decode batch)
        chunk, offset, done = 0, float(self.pref[0][1]), []
        for item in self.pref:
            if left <= 0:
                break
            take = min(left, item[2] - item[1])
            if rec.start_s[item[0]] != rec.start_s[item[0]]:
                rec.start_s[item[0]] = self.now
            item[1] += take
            chunk += take
            left -= take
            if item[1] >= item[2]:
                done.append(item)
        c0 = self.sum_ctx / b if b else 0.0
        t = self._with_overhead(self.tab.mixed_time(chunk, offset, b, c0), b + len(done))
        self.now += t
        self.busy_s += t
        self.iterations += 1
        if b:
            self.it += 1
            self.sum_ctx += b
            self._pop_finished()
        for item in done:
            self.pref.popleft()
            rid, total = item[0], item[2]
            self.pref_reserved -= total + self.bslack
            if rid in self.redo:
                ctx, rem = self.redo.pop(rid)
                self._join(rid, ctx, rem - 1, self.now)
            else:
                rec.first_s[rid] = self.now
                self._join(rid, total, rec.output[rid] - 1, self.now)
        self._log(EV_MIXED, t, b, chunk, offset, c0)

    # -- after the run ------------------------------------------------------------------------
    def event_arrays(self) -> dict:
        """The event log as numpy arrays (``time_s`` = end of each event), computed once after the run."""
        if self._events is None or self._events[0] != len(self.log):
            names = ("time_s", "kind", "dt_s", "batch", "x", "y", "z", "running", "kv_tokens")
            a = np.array(self.log, dtype=float).reshape(-1, len(names))
            self._events = (len(self.log), {n: a[:, i] for i, n in enumerate(names)})
        return self._events[1]

    def energy_j(self) -> float:
        """Device energy of all iterations (J) from the event log and the utilisation tables."""
        pw = self.dep.power
        if pw is None:
            return 0.0
        ev = self.event_arrays()
        if ev["kind"].size == 0:
            return 0.0
        u = self.tab.util_of_events(ev)
        return float(np.sum(ev["dt_s"] * pw.devices * (pw.idle_w + (pw.max_w - pw.idle_w) * u)))


__all__ = ["EV_DECODE", "EV_MIXED", "EV_PREFILL", "Engine", "MODES"]
