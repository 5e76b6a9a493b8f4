"""Roofline time of one kernel with size-dependent efficiency (pure ``jax.numpy``).

For a kernel doing ``flops`` FLOP and moving ``bytes_moved`` bytes on a device with dense peak
``P`` (FLOP/s) and bandwidth ``W`` (bytes/s)::

    eff_c(F) = e_c * F / (F + F_half)          # saturating compute efficiency
    eff_m(B) = e_m * B / (B + B_half)          # saturating memory efficiency
    t = max(F / (P * eff_c(F)), B / (W * eff_m(B))) + t_kernel
      = max((F + F_half) / (P * e_c), (B + B_half) / (W * e_m)) + t_kernel

so ``F_half / (P e_c)`` acts as the fixed start-up cost of a small GEMM (tile/wave quantisation and
launch overhead folded together) and large kernels approach ``e_c`` of peak. The same saturating
form (``e_l``, a latency term) is used for links. Every argument broadcasts, so one call evaluates
millions of kernels, and the function is differentiable in the efficiency parameters, which is how
calibration fits them (see ``simulator.calibration``). Terms with zero work contribute nothing.
"""

from __future__ import annotations

import jax.numpy as jnp


def achieved_fraction(work, max_efficiency, half_work):
    """Fraction of peak reached by a kernel with ``work`` units: ``e * x / (x + x_half)``."""
    work = jnp.asarray(work)
    return max_efficiency * work / (work + half_work)


def compute_time_s(flops, peak_flops_per_s, max_efficiency, half_flop):
    """Time to execute ``flops`` at the saturating achieved rate; 0 where ``flops`` is 0."""
    flops = jnp.asarray(flops)
    return jnp.where(flops > 0, (flops + half_flop) / (peak_flops_per_s * max_efficiency), 0.0)


def memory_time_s(bytes_moved, bandwidth_bytes_per_s, max_efficiency, half_bytes):
    """Time to move ``bytes_moved`` at the saturating achieved bandwidth; 0 where nothing moves."""
    bytes_moved = jnp.asarray(bytes_moved)
    return jnp.where(
        bytes_moved > 0, (bytes_moved + half_bytes) / (bandwidth_bytes_per_s * max_efficiency), 0.0
    )


def kernel_time_s(
    flops,
    bytes_moved,
    peak_flops_per_s,
    bandwidth_bytes_per_s,
    compute_efficiency,
    memory_efficiency,
    half_flop,
    half_bytes,
    kernel_overhead_s,
):
    """Roofline time of one kernel: ``max(compute time, memory time) + per-kernel overhead``."""
    t_compute = compute_time_s(flops, peak_flops_per_s, compute_efficiency, half_flop)
    t_memory = memory_time_s(bytes_moved, bandwidth_bytes_per_s, memory_efficiency, half_bytes)
    busy = (jnp.asarray(flops) > 0) | (jnp.asarray(bytes_moved) > 0)
    return jnp.maximum(t_compute, t_memory) + jnp.where(busy, kernel_overhead_s, 0.0)


def gemm_row_utilisation(rows, rows_half):
    """Row-utilisation factor ``u(M) = M / (M + rows_half)`` of a GEMM with ``M`` output rows.

    A smooth stand-in for tile quantisation (a GEMM with ``M`` rows runs ``ceil(M / tile)`` row
    tiles, so a fraction ``M / (ceil(M / tile) tile)`` of the tile rows does useful work; NVIDIA,
    "Matrix Multiplication Background User's Guide", tile and wave quantisation). ``rows_half`` is
    the row count at which half the rows are wasted. 1 where ``rows_half`` is 0 (off) or ``rows`` is
    0 (not a GEMM / unknown shape).
    """
    rows = jnp.asarray(rows)
    on = (rows > 0) & (jnp.asarray(rows_half) > 0)
    return jnp.where(on, rows / jnp.where(on, rows + rows_half, 1.0), 1.0)


def gemm_kernel_time_s(
    flops,
    bytes_moved,
    peak_flops_per_s,
    bandwidth_bytes_per_s,
    compute_efficiency,
    memory_efficiency,
    half_flop,
    half_bytes,
    kernel_overhead_s,
    rows=0.0,
    rows_half=0.0,
):
    """:func:`kernel_time_s` of a GEMM with ``rows`` output rows (``M``): the compute term runs the
    padded work ``flops / u`` with ``u`` = :func:`gemm_row_utilisation` ``(rows, rows_half)``, i.e.
    ``t_c = (F / u + F_half) / (P e_c)`` (wasted tile rows cost FLOP; the start-up work ``F_half``
    does not scale); identical to :func:`kernel_time_s` where ``rows_half`` or ``rows`` is 0."""
    padded = jnp.asarray(flops) / gemm_row_utilisation(rows, rows_half)
    return kernel_time_s(padded, bytes_moved, peak_flops_per_s, bandwidth_bytes_per_s, compute_efficiency,
                         memory_efficiency, half_flop, half_bytes, kernel_overhead_s)
