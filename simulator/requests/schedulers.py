"""The schedulers of :class:`simulator.requests.engine.Engine`: one iteration step per mode.

Each ``_step_<mode>(t_lim)`` runs one scheduling decision of the engine (admissions, a prefill or
mixed iteration, or a closed-form decode fast-forward by ``Engine._decode``); the engine's state
and bookkeeping (KV accounting, the running set, the event log) live in :mod:`simulator.requests.engine`.

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

A prefill iteration of prompts ``x_i`` (computed tokens) is priced with ``P = sum x_i`` tokens in
``n_eff = P^2 / sum x_i^2`` equal prompts: this keeps both the tokens and the causal attention
pairs ``sum x_i^2 / 2`` of the batch exact (the LM-head rows become ``n_eff <= n``: negligible).

Prefix caching (vLLM automatic prefix caching, SGLang RadixAttention): ``rec.cached[rid]`` prompt
tokens (whole blocks) are found in the cache and not recomputed; their KV still counts against the
request (shared blocks counted per request: conservative). A prefill-only iteration prices the
computed tokens without attention to the cached prefix (under-counted); a Sarathi chunk starts at
the cached offset (exact).
"""

from __future__ import annotations

MODES = ("static", "vllm", "sarathi", "decode")
EV_DECODE, EV_PREFILL, EV_MIXED = 0, 1, 2


class SchedulerSteps:
    """Scheduler steps mixed into :class:`~simulator.requests.engine.Engine` (they use its state)."""

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
            adm, tok, nseq, sq = [], 0, 0, 0
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
                    x = need - cached[rid]  # prefix-cache hits are not recomputed
                    tok += x
                    sq += x * x
                    nseq += 1
                room -= need + bslack
                free -= 1
            if adm:
                t = 0.0
                if tok:
                    t = self._with_overhead(self.tab.prefill_time(tok, tok * tok / sq), len(adm))
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
        adm, tok, sq, room = [], 0, 0, self.cap
        rec = self.rec
        while self.waiting and len(adm) < self.max_batch:
            rid = self.waiting[0]
            need = rec.prompt[rid] + rec.output[rid] + self.bslack
            if need > room:
                break
            self.waiting.popleft()
            adm.append(rid)
            x = rec.prompt[rid] - rec.cached[rid]
            tok += x
            sq += x * x
            room -= need
        if not adm:
            raise RuntimeError("engine stalled: a waiting request can never be admitted")
        t = self._with_overhead(self.tab.prefill_time(tok, tok * tok / sq), len(adm))
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


__all__ = ["EV_DECODE", "EV_MIXED", "EV_PREFILL", "MODES", "SchedulerSteps"]
