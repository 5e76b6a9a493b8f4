"""FLOP and byte counts of the primitive kernels every operator is built from (pure ``jax.numpy``).

Conventions: 2 FLOP per multiply-add; bytes are what the kernel reads plus writes in the memory
tier it streams from (no cache reuse across kernels). All arguments broadcast.
"""

from __future__ import annotations

import jax.numpy as jnp


def gemm_flops(m, n, k):
    """FLOP of ``C[m, n] = A[m, k] @ B[k, n]``: ``2 m n k``."""
    return 2.0 * jnp.asarray(m, dtype=float) * n * k


def gemm_bytes(m, n, k, a_bytes, b_bytes, c_bytes):
    """Bytes moved by one GEMM: read A (m x k) and B (k x n), write C (m x n) once each."""
    m = jnp.asarray(m, dtype=float)
    return m * k * a_bytes + jnp.asarray(k, dtype=float) * n * b_bytes + m * n * c_bytes


def elementwise_flops(elements, flops_per_element):
    """FLOP of an elementwise / normalisation kernel: ``elements * flops_per_element``."""
    return jnp.asarray(elements, dtype=float) * flops_per_element


def elementwise_bytes(elements, element_bytes, reads, writes):
    """Bytes of a streaming kernel reading ``reads`` and writing ``writes`` tensors of ``elements``."""
    return jnp.asarray(elements, dtype=float) * element_bytes * (reads + writes)
