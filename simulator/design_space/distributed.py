"""Run sweep chunks on a Dask distributed cluster; every worker writes its own Parquet parts.

    simlab sweep spec.toml --out /shared/results --scheduler tcp://HOST:8786

The driver (this process) submits one task per chunk still missing and follows them with
``as_completed``; a task rebuilds the lazy grid from the spec (a few small arrays, cached per
worker), evaluates its chunk through the vectorised core (sharded over the worker's JAX devices)
and writes ``part-<chunk>.parquet`` itself, so result rows never travel back through the
scheduler: a task returns only its row count. ``--out`` must therefore be a folder every worker
can write (a shared filesystem). At most ``2 x (worker threads)`` tasks are in flight, so the
scheduler's memory does not grow with the grid. Resume works as for local runs: parts already
present are skipped, a part is renamed into place only when complete.

Start a cluster with ``dask scheduler`` on one machine and ``dask worker tcp://HOST:8786`` on the
others (each with simlab installed); tests use a ``LocalCluster`` on 127.0.0.1.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

from simulator.design_space.errors import SweepError
from simulator.design_space.grid import Grid
from simulator.design_space.spec import SweepSpec, parse_spec

CONNECT_TIMEOUT_S = 10.0


@functools.lru_cache(maxsize=8)
def _grid(spec_json: str, chunk_size: int) -> Grid:
    import json

    spec = parse_spec(json.loads(spec_json), source="<dask task>", check_catalog=False)
    return Grid.from_spec(spec, chunk_size)


def chunk_task(spec_json: str, chunk_size: int, chunk: int, out_dir: str, evaluate, columns: tuple[str, ...],
               compression: str, shard) -> tuple[int, int]:
    """What a worker runs for one chunk: evaluate and write its part; returns ``(chunk, rows)``."""
    from simulator.design_space.runner import run_chunk

    rows = run_chunk(_grid(spec_json, chunk_size), chunk, out_dir, evaluate, columns, compression, shard)
    return chunk, rows


def connect(scheduler: str, timeout_s: float = CONNECT_TIMEOUT_S):
    """A ``dask.distributed.Client`` for ``tcp://HOST:PORT``; ``SweepError`` if it cannot be reached."""
    try:
        from dask.distributed import Client
    except ImportError:  # pragma: no cover - dependency declared in pyproject
        raise SweepError("--scheduler needs dask[distributed]; install it with pip install 'dask[distributed]'") from None
    if not isinstance(scheduler, str) or "://" not in scheduler:
        raise SweepError(f"--scheduler '{scheduler}'; allowed: an address such as tcp://HOST:8786")
    try:
        return Client(scheduler, timeout=timeout_s)
    except (OSError, TimeoutError) as err:
        raise SweepError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({type(err).__name__}); "
                         "start one with 'dask scheduler' or check the address") from None


def run_chunks_dask(spec: SweepSpec, chunk_size: int, chunks: Sequence[int], out_dir: str | Path, evaluate,
                    columns: tuple[str, ...], compression: str, shard, on_done: Callable[[int, int], None],
                    scheduler: str | None = None, client=None) -> None:
    """Run ``chunks`` on the cluster (``client``, or a new one connected to ``scheduler``).

    Calls ``on_done(chunk, rows)`` as parts land. The first failing task cancels the rest and its
    error is raised here; parts written before stay.
    """
    import json

    from dask.distributed import as_completed

    own = client is None
    if own:
        client = connect(scheduler)
    spec_json = json.dumps(spec.to_dict())  # key order = axis order: never sort_keys
    out = str(Path(out_dir).resolve())
    try:
        nthreads = sum(client.nthreads().values()) or 1
        window = max(2 * nthreads, 2)
        pending = iter(chunks)

        def submit(c):
            return client.submit(chunk_task, spec_json, chunk_size, c, out, evaluate, tuple(columns), compression,
                                 shard, key=f"simlab-sweep-{spec.spec_hash[:12]}-chunk-{c}", pure=False)

        inflight = {submit(c) for _, c in zip(range(window), pending, strict=False)}
        ac = as_completed(list(inflight))
        for fut in ac:
            inflight.discard(fut)
            try:
                chunk, rows = fut.result()
            except BaseException:
                for other in inflight:
                    other.cancel()
                raise
            on_done(chunk, rows)
            nxt = next(pending, None)
            if nxt is not None:
                new = submit(nxt)
                inflight.add(new)
                ac.add(new)
    finally:
        if own:
            client.close()


__all__ = ["chunk_task", "connect", "run_chunks_dask"]
