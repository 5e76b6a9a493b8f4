"""Shard one chunk of configurations over all local JAX devices.

A chunk of ``C`` rows is cut into ``D`` contiguous slices of ``ceil(C / D)`` rows (``D`` = number
of devices); slice ``d`` is evaluated by the table evaluator inside ``jax.default_device(devices[d])``
on its own thread, so every array the evaluator creates and every jitted call it makes runs on that
device (JAX's default-device setting is thread-local and XLA releases the GIL while it computes).
The slices are concatenated back in order, so the result is row-for-row the unsharded one.

On a GPU/TPU host this spreads a chunk over all accelerators; on CPU it can be exercised with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (four host "devices", see the tests).
Equal slice sizes keep the number of compiled shapes at one per chunk size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pyarrow as pa


def local_devices(platform: str | None = None) -> list:
    """All JAX devices of this process (optionally of one platform: ``cpu``, ``gpu``, ``tpu``)."""
    import jax

    return list(jax.local_devices(backend=platform) if platform else jax.local_devices())


def split_bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ``[start, stop)`` slices of ``ceil(n / parts)`` rows (empty ones dropped)."""
    size = max(-(-n // max(parts, 1)), 1)
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def concat_results(parts: Sequence) -> pd.DataFrame | pa.Table:
    """Concatenate evaluator outputs (all DataFrames or all Arrow tables) in order."""
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], pa.Table):
        return pa.concat_tables(parts, promote_options="permissive")
    return pd.concat(parts, ignore_index=True)


def evaluate_sharded(
    evaluate: Callable[[pa.Table], pd.DataFrame | pa.Table],
    configs: pa.Table,
    devices: Sequence | None = None,
) -> pd.DataFrame | pa.Table:
    """Evaluate ``configs`` with ``evaluate``, one contiguous slice per JAX device, results in row order.

    ``devices`` defaults to :func:`local_devices`. With one device (or one row) this is just
    ``evaluate(configs)``.
    """
    import jax

    devs = local_devices() if devices is None else list(devices)
    bounds = split_bounds(configs.num_rows, len(devs))
    if len(devs) <= 1 or len(bounds) <= 1:
        return evaluate(configs)

    def run(i: int):
        start, stop = bounds[i]
        with jax.default_device(devs[i]):
            return evaluate(configs.slice(start, stop - start))

    with ThreadPoolExecutor(max_workers=len(bounds), thread_name_prefix="simlab-shard") as pool:
        parts = list(pool.map(run, range(len(bounds))))
    return concat_results(parts)


__all__ = ["concat_results", "evaluate_sharded", "local_devices", "split_bounds"]
