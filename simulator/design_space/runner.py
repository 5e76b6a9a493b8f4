"""Run a sweep: chunks of the grid -> vectorised evaluation -> a partitioned Parquet dataset.

Output folder layout (``pandas.read_parquet(out)`` / ``pyarrow.dataset.dataset(out)`` read it
directly: names starting with ``_`` or ``.`` are skipped by both)::

    out/_manifest.json          spec (axes), spec hash, chunk size, sizes, status, versions
    out/part-000000.parquet     chunk 0: config_id, one column per axis, result columns (SI units)
    out/part-000001.parquet     ...
    out/_summary/               written by ``simlab sweep summarize`` (CSV + plots)

Each part is written to a hidden temporary file and renamed into place, so a part that exists is
complete. Resuming therefore means: read the manifest, list the parts present, evaluate the rest.
A finished sweep run again does nothing; a folder holding a different sweep (another spec hash) or
unrelated files is refused with a one-line :class:`SweepError` and nothing in it is touched. On an
error (bad chunk, interrupt) every part already written stays.

Evaluation and writing overlap: the evaluator (JAX, releases the GIL) fills chunk ``c + 1`` while
a writer thread compresses and writes chunk ``c`` (a queue of at most ``QUEUE_PARTS`` chunks keeps
memory bounded: about ``(2 + QUEUE_PARTS) x chunk_size x row bytes``).

Chunks run in this process (optionally sharded over all local JAX devices, see
:mod:`simulator.design_space.sharding`) or on a Dask cluster (:mod:`simulator.design_space.distributed`),
where each worker writes its own parts.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from simulator.design_space.errors import SweepError
from simulator.design_space.grid import Grid
from simulator.design_space.output import (  # noqa: F401  (re-exported: this module's names before the split)
    MANIFEST,
    PART_RE,
    _now,
    _version,
    _write_manifest,
    completed_chunks,
    dictionary_columns,
    part_name,
    prepare_output,
    read_manifest,
    spec_from_manifest,
    write_part,
)
from simulator.design_space.progress import _Progress, _si  # noqa: F401
from simulator.design_space.spec import SweepSpec

QUEUE_PARTS = 2
COMPRESSIONS = ("zstd", "snappy", "lz4", "gzip", "none")

Evaluator = Callable[[pa.Table], "pd.DataFrame | pa.Table"]


# ----------------------------------------------------------------------------------- evaluators
def serve_evaluator(configs: pa.Table) -> pd.DataFrame:
    """Serving evaluation of a table of configurations: :func:`simulator.sweep.serve` with
    ``errors="mark"`` (invalid rows get ``valid = False``, the reason in ``error`` and NaN results,
    instead of stopping the sweep)."""
    from simulator.sweep import serve

    return serve(configs, errors="mark")


def train_evaluator(configs: pa.Table) -> pd.DataFrame:
    """Training evaluation of a table of layouts: :func:`simulator.design_space.training.train_table`
    (``jax.vmap`` of :func:`simulator.training.train_step`; invalid layouts are marked, not raised)."""
    from simulator.design_space.training import train_table

    return train_table(configs)


EVALUATORS: dict[str, Evaluator] = {"serve": serve_evaluator, "train": train_evaluator}


def evaluator_for(kind: str) -> Evaluator:
    """The table evaluator of a sweep kind (``serve`` / ``train``)."""
    try:
        return EVALUATORS[kind]
    except KeyError:
        raise SweepError(f"kind '{kind}'; allowed: {', '.join(EVALUATORS)}") from None


# ------------------------------------------------------------------------------------ one chunk
def assemble(configs: pa.Table, result, columns: tuple[str, ...] = ()) -> pa.Table:
    """Output table of one chunk: the configuration columns (``config_id``, axes) followed by the
    evaluator's other columns (all of them, or only ``columns``). Row counts must agree."""
    if isinstance(result, pd.DataFrame):
        available, n = list(result.columns), len(result)
    elif isinstance(result, pa.Table):
        available, n = result.column_names, result.num_rows
    else:
        raise SweepError(f"the evaluator returned {type(result).__name__}; allowed: a DataFrame or Arrow table")
    names = [c for c in available if c not in configs.column_names]
    if columns:
        missing = [c for c in columns if c not in available]
        if missing:
            raise SweepError(f"output.columns: unknown result column '{missing[0]}'; "
                             f"allowed: {', '.join(map(str, available))}")
        names = [c for c in columns if c not in configs.column_names]
    extra = None
    if names:
        extra = (pa.Table.from_pandas(result[names], preserve_index=False) if isinstance(result, pd.DataFrame)
                 else result.select(names))
    if n != configs.num_rows:
        raise SweepError(f"the evaluator returned {n} rows for {configs.num_rows} configurations")
    out = configs
    if extra is not None:
        for name, col in zip(extra.column_names, extra.columns, strict=True):
            out = out.append_column(name, col)
    return out.replace_schema_metadata(None)


def evaluate_chunk(grid: Grid, chunk: int, evaluate: Evaluator, columns: tuple[str, ...] = (),
                   shard: bool | str = "auto") -> pa.Table:
    """Build chunk ``chunk`` of ``grid``, evaluate it (sharded over local JAX devices when
    ``shard`` is True, or "auto" and there are several) and return the output table."""
    configs = grid.chunk(chunk)
    if shard:
        from simulator.design_space.sharding import evaluate_sharded, local_devices

        devices = local_devices()
        if shard is True or len(devices) > 1:
            return assemble(configs, evaluate_sharded(evaluate, configs, devices), columns)
    return assemble(configs, evaluate(configs), columns)


def run_chunk(grid: Grid, chunk: int, out_dir: str | Path, evaluate: Evaluator, columns: tuple[str, ...] = (),
              compression: str = "zstd", shard: bool | str = "auto") -> int:
    """Evaluate and write one chunk (what a Dask worker does); returns the number of rows."""
    table = evaluate_chunk(grid, chunk, evaluate, columns, shard)
    write_part(table, out_dir, chunk, compression)
    return table.num_rows


# -------------------------------------------------------------------------------------- the run
@dataclass
class SweepReport:
    """What a run did. ``configs_per_s`` counts configurations evaluated and written by this run."""

    out_dir: str
    spec_hash: str
    kind: str
    n_configs: int
    n_chunks: int
    chunk_size: int
    chunks_before: int
    chunks_run: int
    configs_run: int
    seconds: float
    configs_per_s: float
    complete: bool
    backend: str

    def to_dict(self) -> dict:
        return asdict(self)


def _local_chunks(grid: Grid, todo: Iterable[int], out_dir: Path, evaluate: Evaluator, columns, compression,
                  shard, on_done: Callable[[int, int], None]) -> None:
    """Evaluate chunks here, writing them on a background thread (bounded queue)."""
    q: queue.Queue = queue.Queue(maxsize=QUEUE_PARTS)
    failure: list[BaseException] = []

    def writer():
        while True:
            item = q.get()
            if item is None:
                return
            chunk, table = item
            try:
                if not failure:
                    write_part(table, out_dir, chunk, compression)
                    on_done(chunk, table.num_rows)
            except BaseException as err:  # noqa: BLE001 - re-raised on the main thread
                failure.append(err)

    thread = threading.Thread(target=writer, name="simlab-parquet-writer", daemon=True)
    thread.start()
    try:
        for chunk in todo:
            if failure:
                break
            table = evaluate_chunk(grid, chunk, evaluate, columns, shard)
            q.put((chunk, table))
    finally:
        q.put(None)
        thread.join()
    if failure:
        raise failure[0]


def run_sweep(
    spec: SweepSpec,
    out_dir: str | Path,
    *,
    chunk_size: int | None = None,
    evaluate: Evaluator | None = None,
    scheduler: str | None = None,
    client=None,
    shard: bool | str = "auto",
    compression: str = "zstd",
    max_chunks: int | None = None,
    progress: bool = True,
) -> SweepReport:
    """Run (or resume) ``spec`` into ``out_dir``; see the module doc.

    ``evaluate``: table evaluator (default: the one of ``spec.kind``). ``scheduler``
    (``tcp://host:8786``) or ``client`` (a ``dask.distributed.Client``) runs the chunks on a Dask
    cluster; ``out_dir`` must then be a path every worker can write. ``max_chunks`` stops after
    that many chunks (the sweep stays resumable). Returns a :class:`SweepReport`.
    """
    if compression not in COMPRESSIONS:
        raise SweepError(f"compression '{compression}'; allowed: {', '.join(COMPRESSIONS)}")
    if max_chunks is not None and (isinstance(max_chunks, bool) or int(max_chunks) < 0):
        raise SweepError(f"--max-chunks {max_chunks}; allowed: an integer >= 0")
    if chunk_size is not None and (isinstance(chunk_size, bool) or int(chunk_size) < 1):
        raise SweepError(f"--chunk-size {chunk_size}; allowed: an integer >= 1")
    evaluate = evaluator_for(spec.kind) if evaluate is None else evaluate
    if spec.columns:  # output.columns is checked on one configuration before the folder is touched
        first = Grid.from_spec(spec, 1).chunk(0)
        assemble(first, evaluate(first), spec.columns)
    own_client = False
    if scheduler and client is None:  # reach the cluster before touching the output folder
        from simulator.design_space.distributed import connect

        client, own_client = connect(scheduler), True
    try:
        return _run(spec, Path(out_dir).expanduser(), chunk_size, evaluate, client, shard, compression,
                    max_chunks, progress)
    finally:
        if own_client:
            client.close()


def _run(spec, out, chunk_size, evaluate, client, shard, compression, max_chunks, progress) -> SweepReport:
    """The body of :func:`run_sweep` once arguments are checked (and the cluster reached)."""
    manifest, grid = prepare_output(spec, out, chunk_size)
    done_before = completed_chunks(out)
    # lazily: a grid of 1e12 configurations has millions of chunks; never list them all
    pending = (c for c in range(grid.n_chunks) if c not in done_before)
    backend = "dask" if client is not None else "local"
    if max_chunks is not None or backend == "dask":
        todo = list(itertools.islice(pending, None if max_chunks is None else int(max_chunks)))
    else:
        first = next(pending, None)
        todo = [] if first is None else itertools.chain([first], pending)
    counts = {"chunks": 0, "rows": 0}
    t0 = time.perf_counter()
    if todo:
        done_rows = sum(min(grid.chunk_size, grid.size - c * grid.chunk_size) for c in done_before
                        if c < grid.n_chunks)
        bar = _Progress(grid.size, done_rows, f"sweep {spec.name}", progress)
        lock = threading.Lock()

        def on_done(chunk: int, rows: int) -> None:
            with lock:
                counts["chunks"] += 1
                counts["rows"] += rows
            bar.advance(rows)

        try:
            if backend == "dask":
                from simulator.design_space.distributed import run_chunks_dask

                run_chunks_dask(spec, grid.chunk_size, todo, out, evaluate, spec.columns, compression, shard,
                                on_done, client=client)
            else:
                _local_chunks(grid, todo, out, evaluate, spec.columns, compression, shard, on_done)
        finally:
            bar.close()
    seconds = time.perf_counter() - t0
    done_now = completed_chunks(out)
    complete = sum(1 for c in done_now if 0 <= c < grid.n_chunks) == grid.n_chunks
    if complete and manifest.get("status") != "complete":
        manifest = dict(manifest, status="complete", completed_utc=_now())
        _write_manifest(out, manifest)
        for stale in out.glob(".part-*.tmp"):  # temporary files left by killed writers
            stale.unlink(missing_ok=True)
    return SweepReport(
        out_dir=str(out), spec_hash=spec.spec_hash, kind=spec.kind, n_configs=grid.size, n_chunks=grid.n_chunks,
        chunk_size=grid.chunk_size, chunks_before=len(done_before), chunks_run=counts["chunks"],
        configs_run=counts["rows"], seconds=seconds,
        configs_per_s=counts["rows"] / seconds if counts["rows"] and seconds > 0 else 0.0,
        complete=complete, backend=backend,
    )


__all__ = [
    "COMPRESSIONS",
    "EVALUATORS",
    "MANIFEST",
    "SweepReport",
    "assemble",
    "completed_chunks",
    "evaluate_chunk",
    "evaluator_for",
    "part_name",
    "prepare_output",
    "read_manifest",
    "run_chunk",
    "run_sweep",
    "serve_evaluator",
    "spec_from_manifest",
    "train_evaluator",
]
