"""Kernel suite: time small JAX kernels on whatever backend JAX sees (CPU here, GPU/TPU elsewhere).

The kernels and their work counts are in :mod:`simulator.calibration.kernel_cases` (re-exported
here: ``KernelCase``, ``default_cases``, ``supported_dtypes``, ``JNP_DTYPES``).

Timing: compile, ``warmup`` untimed calls, then ``repeats`` calls each timed with
``time.perf_counter`` around ``block_until_ready``; the median is the measurement, ``p10``/``p90``
and ``std`` its spread. Results go to Parquet with the device name, backend, software versions and
UTC date; parts are written every ``chunk`` cases (``parts/part-*.parquet``), so an interrupted run
keeps what it finished and a rerun into the same folder skips the finished cases.
"""

from __future__ import annotations

import datetime as _dt
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from simulator.calibration.errors import CalibrationError
from simulator.calibration.kernel_cases import (  # noqa: F401  (re-exported)
    JNP_DTYPES,
    KernelCase,
    _build,
    _jnp_dtype,
    default_cases,
    supported_dtypes,
)


def time_cases(cases: Sequence[KernelCase], warmup: int = 2, repeats: int = 7, sample_s: float = 1e-3,
               max_inner: int = 64) -> list[dict[str, float]]:
    """Median and spread (s) of each case, timed in interleaved rounds.

    Every case is compiled and run ``warmup`` times; then ``repeats`` rounds each take one sample of
    every case in turn, so a burst of load from other processes hits all cases of the chunk alike
    instead of one. A sample is the mean of ``inner`` back-to-back calls (each ``block_until_ready``),
    ``inner = clip(sample_s / t_first, 1, max_inner)``, so microsecond kernels are not lost in timer
    noise; launch/dispatch overhead stays in every call. Returns, per case, ``time_s`` (median of the
    samples), ``time_min_s``, ``time_p10_s``, ``time_p90_s``, ``time_std_s``, ``repeats``, ``inner``.
    """
    built = []
    for case in cases:
        fn, args = _build(case)
        for _ in range(max(warmup, 1)):  # the first call compiles
            jax.block_until_ready(fn(*args))
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        first = max(time.perf_counter() - t0, 1e-7)
        built.append((fn, args, int(np.clip(sample_s // first, 1, max_inner))))
    samples = np.empty((len(cases), repeats))
    for r in range(repeats):
        for i, (fn, args, inner) in enumerate(built):
            t0 = time.perf_counter()
            for _ in range(inner):
                jax.block_until_ready(fn(*args))
            samples[i, r] = (time.perf_counter() - t0) / inner
    out = []
    for i, (_, _, inner) in enumerate(built):
        ts = samples[i]
        out.append({"time_s": float(np.median(ts)), "time_min_s": float(ts.min()),
                    "time_p10_s": float(np.percentile(ts, 10)), "time_p90_s": float(np.percentile(ts, 90)),
                    "time_std_s": float(ts.std()), "repeats": int(repeats), "inner": int(inner)})
    return out


def time_case(case: KernelCase, warmup: int = 2, repeats: int = 7) -> dict[str, float]:
    """Median and spread (s) of one case (see :func:`time_cases`)."""
    return time_cases([case], warmup=warmup, repeats=repeats)[0]


def environment(device_name: str | None = None) -> dict[str, str]:
    """Device name, backend and software versions recorded with every measurement."""
    import jaxlib

    dev = jax.devices()[0]
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "device_name": device_name or str(getattr(dev, "device_kind", dev.platform)),
        "device_kind": str(getattr(dev, "device_kind", "")),
        "backend": jax.default_backend(),
        "num_devices": str(jax.device_count()),
        "jax_version": jax.__version__,
        "jaxlib_version": getattr(jaxlib, "__version__", ""),
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "os": platform.platform(),
        "host_cpu": cpu,
        "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def _done_ids(parts_dir: Path) -> tuple[set[str], list[pd.DataFrame]]:
    frames = []
    for p in sorted(parts_dir.glob("part-*.parquet")):
        try:
            frames.append(pd.read_parquet(p))
        except Exception:  # a part cut off mid-write is ignored (its cases rerun)
            continue
    ids = set(pd.concat(frames).case_id) if frames else set()
    return ids, frames


def check_out_dir(out_dir: str | Path) -> None:
    """``out_dir`` (and its parts/ folder) can be created: no file stands in the way."""
    from simulator.calibration.errors import CalibrationError

    p = Path(out_dir).expanduser()
    for q in (p / "parts", p, *p.parents):
        if q.exists() and not q.is_dir():
            raise CalibrationError(f"--out '{p}': '{q}' is a file; allowed: a folder (new, or holding earlier "
                                   "measurements)")


#: Columns of a measurements table that :func:`suite_rows` reads.
MEASUREMENT_COLUMNS = ("op", "kind", "dtype", "m", "n", "k", "elements", "flops", "bytes_moved", "time_s",
                       "case_id", "num_workers")


def load_measurements(path: str | Path) -> pd.DataFrame:
    """Read a ``measurements.parquet`` written by :func:`run_suite`; CalibrationError (one line naming
    --measurements) when it is missing, not Parquet, or lacks the suite's columns."""
    from simulator.calibration.errors import CalibrationError

    p = Path(path).expanduser()
    if not p.is_file():
        raise CalibrationError(f"--measurements {p} not found; allowed: a measurements.parquet from `simlab calibrate`")
    try:
        df = pd.read_parquet(p)
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a non-Parquet file
        raise CalibrationError(f"--measurements {p} is not a readable Parquet file ({type(err).__name__}); "
                               "allowed: a measurements.parquet from `simlab calibrate`") from None
    missing = [c for c in MEASUREMENT_COLUMNS if c not in df.columns]
    if missing:
        raise CalibrationError(f"--measurements {p} lacks column(s) {', '.join(missing)}; allowed: a "
                               "measurements.parquet from `simlab calibrate`")
    if len(df) == 0:
        raise CalibrationError(f"--measurements {p} has no rows")
    return df


def run_suite(
    cases: Sequence[KernelCase],
    out_dir: str | Path | None = None,
    device_name: str | None = None,
    warmup: int = 2,
    repeats: int = 7,
    chunk: int = 8,
    progress: bool = True,
) -> pd.DataFrame:
    """Time ``cases`` and return one row per case (columns: case fields, ``case_id``, ``op``, ``kind``,
    ``flops``, ``bytes_moved``, timing statistics, environment).

    With ``out_dir``: parts are written to ``out_dir/parts/`` every ``chunk`` cases and the whole
    table to ``out_dir/measurements.parquet`` at the end; cases already present in the parts are
    not rerun.
    """
    env = environment(device_name)
    parts_dir = None
    done: set[str] = set()
    old: list[pd.DataFrame] = []
    if out_dir is not None:
        check_out_dir(out_dir)
        parts_dir = Path(out_dir) / "parts"
        parts_dir.mkdir(parents=True, exist_ok=True)
        done, old = _done_ids(parts_dir)
    todo = [c for c in cases if c.case_id not in done]
    buf: list[dict] = []
    part_no = len(list(parts_dir.glob("part-*.parquet"))) if parts_dir else 0
    new: list[pd.DataFrame] = []

    def flush():
        nonlocal part_no, buf
        if not buf:
            return
        df = pd.DataFrame(buf)
        new.append(df)
        if parts_dir is not None:
            tmp = parts_dir / f".part-{part_no:05d}.tmp"
            df.to_parquet(tmp, index=False)
            tmp.replace(parts_dir / f"part-{part_no:05d}.parquet")  # atomic: no half-written parts
            part_no += 1
        buf = []

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    cols = (TextColumn("[bold]calibrate"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            TextColumn("{task.description}"))
    from rich.console import Console

    with Progress(*cols, disable=not progress, transient=False, console=Console(stderr=True)) as bar:
        task = bar.add_task("", total=len(todo))
        try:
            for start in range(0, len(todo), chunk):
                block = todo[start:start + chunk]
                bar.update(task, description=f"{block[0].kind} .. {block[-1].kind}")
                stats = time_cases(block, warmup=warmup, repeats=repeats)
                for case, st in zip(block, stats, strict=True):
                    flops, nbytes = case.work()
                    buf.append({**asdict(case), "case_id": case.case_id, "op": case.op, "kind": case.row_kind,
                                "flops": flops, "bytes_moved": nbytes,
                                "num_workers": jax.device_count() if case.row_kind == "collective" else 1,
                                **st, **env})
                flush()
                bar.advance(task, len(block))
        finally:
            flush()
    frames = [f for f in (*old, *new) if len(f)]
    if not frames:
        raise CalibrationError("the kernel suite produced no measurements")
    result = pd.concat(frames, ignore_index=True)
    result = result.drop_duplicates("case_id", keep="last").reset_index(drop=True)
    if out_dir is not None:
        result.to_parquet(Path(out_dir) / "measurements.parquet", index=False)
    return result


def suite_rows(measurements: pd.DataFrame, source: str = "cpu-suite") -> pd.DataFrame:
    """Measurements of :func:`run_suite` as rows of :mod:`simulator.calibration.measured`."""
    m = measurements
    return pd.DataFrame({
        "source": source, "op": m.op, "kind": m.kind, "dtype": m.dtype, "m": m.m, "n": m.n, "k": m.k,
        "elements": m.elements, "flops": m.flops, "bytes_moved": m.bytes_moved, "time_s": m.time_s,
        "group": m.case_id, "tp": 1, "num_workers": m.num_workers,
    }).assign(spread=((m.time_p90_s - m.time_p10_s) / m.time_s) if {"time_p90_s", "time_p10_s"} <= set(m.columns)
              else np.nan)  # (p90 - p10) / median of the repeats


def split_half(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Calibration / held-out halves: within each (op, dtype), sizes sorted by work alternate."""
    rows = rows.assign(_w=np.maximum(rows.flops, rows.bytes_moved)).sort_values(["op", "dtype", "_w"])
    rank = rows.groupby(["op", "dtype"]).cumcount()
    train = rows[rank % 2 == 0].drop(columns="_w")
    test = rows[rank % 2 == 1].drop(columns="_w")
    return train, test
