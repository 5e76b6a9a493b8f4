"""Iteration-level engine of one replica: static batching, vLLM and Sarathi-Serve schedulers.

An engine runs one iteration at a time; each iteration's time comes from the deployment's
:class:`simulator.requests.costs.CostTable` (the simulator core) plus the engine's host overhead.
Iterations are simulated exactly at every *event* (an admission, a prefill chunk, a completion, a
preemption, the next arrival); between events the decode phase is advanced in closed form:
``k`` decode iterations of ``B`` sequences at mean context ``c0`` (growing one token per
iteration) take ``k a + b (k c0 + k (k - 1) / 2)`` with ``t_dec ≈ a + b c`` locally, where ``k``
is the smallest of: iterations until the next completion, until the KV cache is full, until the
next arrival. So the cost is a few Python operations per request, not per token.

Schedulers (``mode``: ``static``, ``vllm``, ``sarathi``, ``decode``): :mod:`simulator.requests.schedulers`,
one step method per mode, mixed into :class:`Engine`.

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
from itertools import chain

import numpy as np

from simulator.requests.schedulers import EV_DECODE, EV_MIXED, EV_PREFILL, MODES, SchedulerSteps


class Engine(SchedulerSteps):
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

    # -- after the run ------------------------------------------------------------------------
    def event_arrays(self) -> dict:
        """The event log as numpy arrays (``time_s`` = end of each event), computed once after the run."""
        if self._events is None or self._events[0] != len(self.log):
            names = ("time_s", "kind", "dt_s", "batch", "x", "y", "z", "running", "kv_tokens")
            a = np.fromiter(chain.from_iterable(self.log), float, count=len(names) * len(self.log))
            a = a.reshape(-1, len(names))
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
