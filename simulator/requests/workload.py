"""Request workloads: arrival processes, length distributions and CSV traces (numpy, seeded).

A :class:`Workload` is three arrays of equal length, sorted by arrival time: ``arrival_s``
(seconds from the start), ``prompt_tokens`` and ``output_tokens`` (integers >= 1).

Arrivals at a mean rate ``qps`` (requests/s):

- ``poisson``: exponential inter-arrival gaps with mean ``1/qps`` (coefficient of variation 1);
  the open-loop load of Vidur (Agrawal et al., MLSys 2024, §5) and DistServe (Zhong et al.,
  OSDI 2024, §6.1).
- ``gamma``: gamma-distributed gaps with mean ``1/qps`` and coefficient of variation ``cv``
  (shape ``k = 1/cv^2``, scale ``cv^2/qps``); ``cv > 1`` is burstier than Poisson, ``cv = 1`` is
  Poisson (AlpaServe, Li et al., OSDI 2023, §6.1 uses the same family for bursty traffic).
- ``uniform``: constant gaps ``1/qps`` (deterministic arrivals).

Length specs (strings, as on the command line; all draws rounded to integers >= 1):

- ``256`` or ``fixed:256``
- ``uniform:LO:HI`` (integers, inclusive)
- ``lognormal:MEAN:SIGMA``: lognormal with the given *mean* and log-space standard deviation
  ``sigma`` (``mu = ln(mean) - sigma^2/2``, so ``E[X] = mean``)
- ``zipf:MAX:A``: Zipf-like over ``1..MAX`` with ``P(x) ∝ x^-A`` (a power-law tail of short
  requests), truncated at MAX
- ``empirical:FILE.csv[:COLUMN]``: resampled with replacement from a column of a CSV
  (default column ``prompt_tokens`` / ``output_tokens`` by role)

Traces: ``load_trace(path)`` reads a CSV with columns ``arrival_s`` (or ``arrival_time`` /
``timestamp``), ``prompt_tokens`` (or ``input_tokens``/``input_len``) and ``output_tokens`` (or
``output_len``); times must be finite, >= 0 and non-decreasing, lengths integers >= 1.
Violations raise :class:`simulator.errors.ConfigError` with one line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simulator.errors import ConfigError

ARRIVALS = ("poisson", "gamma", "uniform")
LENGTH_KINDS = ("fixed", "uniform", "lognormal", "zipf", "empirical")


@dataclass(frozen=True)
class Workload:
    """Requests sorted by arrival: ``arrival_s`` (s), ``prompt_tokens``, ``output_tokens`` (int64)."""

    arrival_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    description: str = ""

    def __len__(self) -> int:
        return int(self.arrival_s.shape[0])

    @property
    def offered_qps(self) -> float:
        """Offered rate (requests/s): ``(n - 1) / (last arrival - first arrival)`` (inf if all at once)."""
        n = len(self)
        span = float(self.arrival_s[-1] - self.arrival_s[0]) if n > 1 else 0.0
        return (n - 1) / span if span > 0 else math.inf

    def with_arrivals(self, arrival_s) -> Workload:
        """The same requests at other arrival times (e.g. the same lengths at another rate)."""
        return Workload(np.asarray(arrival_s, dtype=float), self.prompt_tokens, self.output_tokens, self.description)


def _positive(name, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} = {value!r}; allowed: a number > 0") from None
    if not math.isfinite(v) or v <= 0:
        raise ConfigError(f"{name} = {value!r}; allowed: a number > 0")
    return v


def arrival_times(n: int, qps: float, process: str = "poisson", cv: float = 1.0, seed: int = 0) -> np.ndarray:
    """``n`` arrival times (s) at mean rate ``qps``; the first request arrives at its first gap."""
    qps = _positive("qps", qps)
    n = int(n)
    if n < 1:
        raise ConfigError(f"requests = {n}; allowed: an integer >= 1")
    rng = np.random.default_rng(seed)
    kind = str(process).strip().lower()
    if kind == "poisson":
        gaps = rng.exponential(1.0 / qps, n)
    elif kind == "gamma":
        cv = _positive("arrival cv", cv)
        shape = 1.0 / cv**2
        gaps = rng.gamma(shape, 1.0 / (qps * shape), n)
    elif kind == "uniform":
        gaps = np.full(n, 1.0 / qps)
    else:
        raise ConfigError(f"arrival process '{process}'; allowed: {', '.join(ARRIVALS)}")
    return np.cumsum(gaps)


def _empirical_column(path: str, column: str | None, role: str) -> np.ndarray:
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"empirical length file '{path}' not found")
    df = pd.read_csv(p)
    col = column or role
    if col not in df.columns:
        raise ConfigError(f"empirical length file '{path}' has no column '{col}'; columns: {', '.join(df.columns)}")
    vals = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    if vals.size == 0 or not np.all(np.isfinite(vals)) or np.any(vals < 1):
        raise ConfigError(f"column '{col}' of '{path}' must hold numbers >= 1")
    return vals


def sample_lengths(spec, n: int, rng: np.random.Generator, role: str = "prompt_tokens") -> np.ndarray:
    """``n`` integer lengths >= 1 from a spec string (see the module docstring) or a number."""
    if isinstance(spec, (int, float, np.integer)) and not isinstance(spec, bool):
        spec = f"fixed:{spec}"
    text = str(spec).strip()
    parts = text.split(":")
    kind = parts[0].lower()
    if kind.replace(".", "", 1).isdigit():
        parts, kind = ["fixed", parts[0]], "fixed"
    bad = ConfigError(f"length '{text}'; allowed: N, fixed:N, uniform:LO:HI, lognormal:MEAN:SIGMA, zipf:MAX:A, "
                      "empirical:FILE.csv[:COLUMN]")
    try:
        if kind == "fixed" and len(parts) == 2:
            v = _positive("length", parts[1])
            out = np.full(n, v)
        elif kind == "uniform" and len(parts) == 3:
            lo, hi = int(parts[1]), int(parts[2])
            if lo < 1 or hi < lo:
                raise bad
            out = rng.integers(lo, hi + 1, n)
        elif kind == "lognormal" and len(parts) == 3:
            mean, sigma = _positive("lognormal mean", parts[1]), float(parts[2])
            if sigma < 0:
                raise bad
            out = rng.lognormal(math.log(mean) - sigma**2 / 2.0, sigma, n)
        elif kind == "zipf" and len(parts) == 3:
            top, a = int(parts[1]), _positive("zipf exponent", parts[2])
            if top < 1:
                raise bad
            x = np.arange(1, top + 1, dtype=float)
            p = x ** (-a)
            out = rng.choice(x, size=n, p=p / p.sum())
        elif kind == "empirical" and len(parts) in (2, 3):
            vals = _empirical_column(parts[1], parts[2] if len(parts) == 3 else None, role)
            out = rng.choice(vals, size=n, replace=True)
        else:
            raise bad
    except ValueError:
        raise bad from None
    return np.maximum(np.rint(out), 1).astype(np.int64)


def synthetic(n: int, qps: float, input_len="1024", output_len="256", arrival: str = "poisson",
              cv: float = 1.0, seed: int = 0) -> Workload:
    """A seeded synthetic workload of ``n`` requests (independent streams for arrivals and lengths)."""
    ss = np.random.SeedSequence(seed)
    r_arr, r_in, r_out = (np.random.default_rng(s) for s in ss.spawn(3))
    t = arrival_times(n, qps, arrival, cv, seed=int(r_arr.integers(2**31)))
    p = sample_lengths(input_len, n, r_in, "prompt_tokens")
    o = sample_lengths(output_len, n, r_out, "output_tokens")
    desc = f"{n} requests, {arrival} arrivals at {qps:g} req/s" + (f" (cv {cv:g})" if arrival == "gamma" else "") + \
        f", prompt {input_len}, output {output_len}, seed {seed}"
    return Workload(t, p, o, desc)


_TIME_COLS = ("arrival_s", "arrival_time", "timestamp", "arrival_time_s")
_IN_COLS = ("prompt_tokens", "input_tokens", "input_len", "num_prefill_tokens", "context_tokens")
_OUT_COLS = ("output_tokens", "output_len", "num_decode_tokens", "generated_tokens")


def load_trace(path, max_requests: int | None = None, time_scale: float = 1.0) -> Workload:
    """A trace CSV as a :class:`Workload` (see the module docstring for the accepted columns).

    ``time_scale`` multiplies the inter-arrival times (0.5 doubles the rate).
    """
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"trace '{path}' not found")
    try:
        df = pd.read_csv(p)
    except Exception as err:  # pandas raises several types for malformed files
        raise ConfigError(f"trace '{path}' is not a readable CSV ({type(err).__name__})") from None

    def col(names, what):
        for c in names:
            if c in df.columns:
                return pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
        raise ConfigError(f"trace '{path}' has no {what} column; allowed names: {', '.join(names)}")

    t, pin, pout = col(_TIME_COLS, "arrival time"), col(_IN_COLS, "prompt length"), col(_OUT_COLS, "output length")
    if max_requests is not None:
        t, pin, pout = t[:max_requests], pin[:max_requests], pout[:max_requests]
    if t.size == 0:
        raise ConfigError(f"trace '{path}' has no rows")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        i = int(np.argmax(~np.isfinite(t) | (t < 0)))
        raise ConfigError(f"trace '{path}' data row {i + 1}: arrival time {float(t[i]):g}; allowed: finite seconds >= 0")
    if np.any(np.diff(t) < 0):
        i = int(np.argmax(np.diff(t) < 0)) + 1
        raise ConfigError(f"trace '{path}' data row {i + 1}: arrival time {t[i]:g} s before the previous row's "
                          f"{t[i - 1]:g} s; allowed: rows sorted by arrival time")
    for name, v in (("prompt length", pin), ("output length", pout)):
        badv = ~np.isfinite(v) | (v < 1) | (v != np.round(v))
        if np.any(badv):
            i = int(np.argmax(badv))
            raise ConfigError(f"trace '{path}' data row {i + 1}: {name} {float(v[i]):g}; allowed: an integer >= 1")
    scale = _positive("time scale", time_scale)
    t = t[0] + (t - t[0]) * scale if scale != 1.0 else t
    return Workload(t, pin.astype(np.int64), pout.astype(np.int64), f"trace {p.name} ({t.size} requests)")


__all__ = ["ARRIVALS", "LENGTH_KINDS", "Workload", "arrival_times", "load_trace", "sample_lengths", "synthetic"]
