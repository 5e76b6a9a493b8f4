"""The kernels of the calibration suite: :class:`KernelCase` and its jitted JAX function.

Each :class:`KernelCase` knows its work in the units the roofline uses (FLOP with 2 per multiply-add,
bytes read + written once; counted with :mod:`simulator.kernels`, the same counters the operators
use, so a calibrated efficiency means the same thing in both):

* ``gemm``: ``C[m,n] = A[m,k] B[k,n]`` (``gemm_flops``, ``gemm_bytes``), per dtype;
* ``copy`` (``y = 1.0001 x``: 1 read + 1 write) and ``triad`` (``a = b + s c``: 2 reads + 1 write);
* ``gelu`` (1 + 1), ``rmsnorm`` over rows of ``n`` (1 + 1), ``softmax`` over rows (1 + 1);
* ``attention_prefill`` / ``attention_decode``: ``softmax(Q K^T / sqrt(d)) V`` for ``b`` sequences of
  ``h`` heads, ``s_q`` queries, ``s_kv`` keys, head size ``d``: FLOP = ``4 b h s_q s_kv d`` (two GEMMs);
  bytes = Q, K, V, O once (what a fused kernel moves) + the ``b h s_q s_kv`` score matrix written
  and read once in float32 (what XLA's unfused kernels move);
* ``all_reduce`` / ``all_gather`` (only with several devices, ``jax.shard_map`` over a 1-D mesh):
  ``psum`` / ``all_gather`` of ``elements`` per device; bytes = the per-device buffer (all-reduce)
  or the gathered output (all-gather), as :mod:`simulator.collectives` counts them.

:func:`default_cases` is the standard grid (``quick`` for tests); :func:`supported_dtypes` the dtypes
the present backend can run. Timing and storage: :mod:`simulator.calibration.suite`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from fitters.precision import float64
from simulator import kernels
from simulator.calibration.errors import CalibrationError
from simulator.dtypes import dtype_bytes

JNP_DTYPES = {"fp64": "float64", "fp32": "float32", "bf16": "bfloat16", "fp16": "float16",
              "fp8": "float8_e4m3fn", "int8": "int8"}


@dataclass(frozen=True)
class KernelCase:
    """One kernel of the suite (shape fields unused by a kind are 0)."""

    kind: str          # gemm | copy | triad | gelu | rmsnorm | softmax | attention_prefill | attention_decode | all_reduce | all_gather
    dtype: str         # simlab dtype name
    m: int = 0
    n: int = 0
    k: int = 0
    elements: int = 0  # elementwise kernels: tensor elements; collectives: per-device elements
    batch: int = 0
    heads: int = 0
    s_q: int = 0
    s_kv: int = 0
    head_dim: int = 0

    @property
    def case_id(self) -> str:
        shape = "x".join(str(v) for v in (self.m, self.n, self.k, self.elements, self.batch, self.heads,
                                          self.s_q, self.s_kv, self.head_dim))
        return f"{self.kind}:{self.dtype}:{shape}"

    @property
    def op(self) -> str:
        """Operator label used in validation tables."""
        return self.kind

    @property
    def row_kind(self) -> str:
        """``gemm`` | ``memory`` | ``collective``: which efficiency the case informs."""
        if self.kind in ("all_reduce", "all_gather"):
            return "collective"
        return "gemm" if self.kind in ("gemm", "attention_prefill") else "memory"

    @float64()
    def work(self) -> tuple[float, float]:
        """``(flops, bytes_moved)`` of the case (see module docstring)."""
        b = dtype_bytes(self.dtype)
        if self.kind == "gemm":
            return (float(kernels.gemm_flops(self.m, self.n, self.k)),
                    float(kernels.gemm_bytes(self.m, self.n, self.k, b, b, b)))
        e = self.elements
        if self.kind == "copy":
            return float(kernels.elementwise_flops(e, 1)), float(kernels.elementwise_bytes(e, b, 1, 1))
        if self.kind == "triad":
            return float(kernels.elementwise_flops(e, 2)), float(kernels.elementwise_bytes(e, b, 2, 1))
        if self.kind == "gelu":
            return float(kernels.elementwise_flops(e, 8)), float(kernels.elementwise_bytes(e, b, 1, 1))
        if self.kind in ("rmsnorm", "softmax"):
            e = self.m * self.n
            return float(kernels.elementwise_flops(e, 5)), float(kernels.elementwise_bytes(e, b, 1, 1))
        if self.kind.startswith("attention"):
            bh = self.batch * self.heads
            flops = 4.0 * bh * self.s_q * self.s_kv * self.head_dim
            qo = 2.0 * bh * self.s_q * self.head_dim * b
            kv = 2.0 * bh * self.s_kv * self.head_dim * b
            scores = 2.0 * bh * self.s_q * self.s_kv * 4.0
            return flops, qo + kv + scores
        if self.kind == "all_reduce":
            return 0.0, float(e * b)
        if self.kind == "all_gather":
            return 0.0, float(e * b * jax.device_count())
        raise CalibrationError(f"unknown kernel kind {self.kind!r}")


def default_cases(quick: bool = False, dtypes: Sequence[str] | None = None, num_devices: int | None = None) -> list[KernelCase]:
    """The suite: a grid of GEMMs per dtype, streams, norms, attention, collectives when ``num_devices`` > 1.

    ``quick`` keeps sizes that run in a few seconds on a laptop CPU; the full suite is meant for GPUs
    (sizes up to 8192^3 GEMMs and 2^28-element streams).
    """
    backend = jax.default_backend()
    if dtypes is None:
        dtypes = ("fp32",) if backend == "cpu" else ("bf16", "fp16", "fp32")
    num_devices = jax.device_count() if num_devices is None else num_devices
    cases: list[KernelCase] = []
    if quick:
        squares = [128, 256, 384, 512, 768, 1024]
        skinny = [(m, 1024, 1024) for m in (1, 8, 16, 32, 64, 128, 256)]
        stream = [2 ** p for p in range(16, 22)]  # 256 KiB .. 8 MiB fp32: one cache regime on a CPU
        rows = [(r, 1024) for r in (64, 256, 512, 1024)]
        prefill = [(1, 8, s, s, 64) for s in (128, 256, 512)]
        decode = [(4, 8, 1, s, 64) for s in (512, 1024, 2048)]
        coll = [2 ** p for p in range(12, 23, 2)]
    else:
        squares = [256, 512, 1024, 1536, 2048, 3072, 4096, 6144, 8192]
        skinny = [(m, n, n) for n in (4096, 8192) for m in (1, 8, 32, 128, 512)]
        stream = [2 ** p for p in range(16, 29, 1)]
        rows = [(r, 4096) for r in (64, 256, 1024, 4096, 16384, 65536)]
        prefill = [(1, 32, s, s, 128) for s in (512, 1024, 2048, 4096)]
        decode = [(b, 32, 1, s, 128) for b in (1, 16) for s in (1024, 4096, 16384)]
        coll = [2 ** p for p in range(12, 29, 2)]
    gemm_dtypes = list(dtypes)
    for dt in gemm_dtypes:
        cases += [KernelCase("gemm", dt, m=s, n=s, k=s) for s in squares]
        cases += [KernelCase("gemm", dt, m=m, n=n, k=k) for m, n, k in skinny]
    main = gemm_dtypes[0]
    for kind in ("copy", "triad", "gelu"):
        cases += [KernelCase(kind, main, elements=e) for e in stream]
    for kind in ("rmsnorm", "softmax"):
        cases += [KernelCase(kind, main, m=r, n=c) for r, c in rows]
    cases += [KernelCase("attention_prefill", main, batch=b, heads=h, s_q=q, s_kv=kv, head_dim=d)
              for b, h, q, kv, d in prefill]
    cases += [KernelCase("attention_decode", main, batch=b, heads=h, s_q=q, s_kv=kv, head_dim=d)
              for b, h, q, kv, d in decode]
    if num_devices > 1:
        for kind in ("all_reduce", "all_gather"):
            cases += [KernelCase(kind, main, elements=e) for e in coll]
    return cases


def _jnp_dtype(name: str):
    try:
        return jnp.dtype(JNP_DTYPES[name])
    except (KeyError, TypeError, AttributeError):
        raise CalibrationError(f"dtype {name!r} has no JAX kernel here; allowed: {', '.join(JNP_DTYPES)}") from None


def _build(case: KernelCase):
    """Jitted function and its arguments for ``case``."""
    dt = _jnp_dtype(case.dtype)
    key = jax.random.PRNGKey(0)

    def rnd(shape):
        return jax.random.normal(key, shape, dtype=jnp.float32).astype(dt)

    if case.kind == "gemm":
        return jax.jit(lambda a, b: a @ b), (rnd((case.m, case.k)), rnd((case.k, case.n)))
    if case.kind == "copy":
        return jax.jit(lambda x: x * jnp.asarray(1.0001, dt)), (rnd((case.elements,)),)
    if case.kind == "triad":
        return jax.jit(lambda b, c: b + jnp.asarray(1.5, dt) * c), (rnd((case.elements,)), rnd((case.elements,)))
    if case.kind == "gelu":
        return jax.jit(jax.nn.gelu), (rnd((case.elements,)),)
    if case.kind == "rmsnorm":
        def rms(x):
            xf = x.astype(jnp.float32)
            return (xf * jax.lax.rsqrt(jnp.mean(xf * xf, axis=-1, keepdims=True) + 1e-6)).astype(x.dtype)
        return jax.jit(rms), (rnd((case.m, case.n)),)
    if case.kind == "softmax":
        return jax.jit(lambda x: jax.nn.softmax(x, axis=-1)), (rnd((case.m, case.n)),)
    if case.kind.startswith("attention"):
        def attn(q, k, v):
            s = jnp.einsum("bhqd,bhkd->bhqk", q, k, preferred_element_type=jnp.float32) / np.sqrt(case.head_dim)
            return jnp.einsum("bhqk,bhkd->bhqd", jax.nn.softmax(s, axis=-1).astype(q.dtype), v)
        bh = (case.batch, case.heads)
        return jax.jit(attn), (rnd((*bh, case.s_q, case.head_dim)), rnd((*bh, case.s_kv, case.head_dim)),
                               rnd((*bh, case.s_kv, case.head_dim)))
    if case.kind in ("all_reduce", "all_gather"):
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as P

        nd = jax.device_count()
        mesh = jax.make_mesh((nd,), ("i",))
        if case.kind == "all_reduce":
            body = lambda x: jax.lax.psum(x, "i")  # noqa: E731
        else:
            body = lambda x: jax.lax.all_gather(x, "i", tiled=True)  # noqa: E731
        fn = jax.jit(jax.shard_map(body, mesh=mesh, in_specs=P("i"), out_specs=P("i")))
        x = jax.device_put(rnd((nd * case.elements,)), NamedSharding(mesh, P("i")))  # elements per device
        return fn, (x,)
    raise CalibrationError(f"unknown kernel kind {case.kind!r}")


def supported_dtypes(dtypes: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split ``dtypes`` into (runnable on this backend, skipped with a note)."""
    ok, notes = [], []
    for d in dtypes:
        try:
            dt = _jnp_dtype(d)
            x = jnp.ones((8, 8), dt)
            jax.block_until_ready(jax.jit(lambda a: a @ a)(x))
            ok.append(d)
        except Exception as err:  # the backend lacks the dtype (or a matmul for it)
            msg = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
            notes.append(f"skipped dtype {d}: {jax.default_backend()} backend cannot run it ({msg})")
    return ok, notes

__all__ = ["JNP_DTYPES", "KernelCase", "default_cases", "supported_dtypes"]
