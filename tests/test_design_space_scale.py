"""Scale-out of sweeps: sharding a chunk over JAX devices (4 host devices in a subprocess) and
running chunks on a Dask ``LocalCluster`` on loopback (127.0.0.1 only, bounded in time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from simulator.design_space import SweepError, parse_spec, run_sweep
from simulator.design_space.runner import completed_chunks, read_manifest

REPO = Path(__file__).resolve().parents[1]
DASK_TIMEOUT_S = 60

SPEC = {
    "kind": "serve",
    "name": "scale",
    "axes": {
        "model": ["llama-3-8b", "llama-3-70b"],
        "hardware": ["h100", "mi300x"],
        "batch": {"start": 1, "stop": 64, "mul": 2},
        "tp": [1, 2, 4],
    },
}


def jax_standin(configs: pa.Table) -> pd.DataFrame:
    """A stand-in that computes with JAX (so it runs on whichever device is the default) and
    records that device and the worker thread."""
    import jax
    import jax.numpy as jnp

    b = jnp.asarray(configs.column("batch").to_numpy(zero_copy_only=False), dtype=jnp.float32)
    tp = jnp.asarray(configs.column("tp").to_numpy(zero_copy_only=False), dtype=jnp.float32)
    lat = jax.jit(lambda b, tp: (1.0 + 0.1 * b) / jnp.sqrt(tp))(b, tp)
    dev = next(iter(lat.devices()))
    return pd.DataFrame({
        "e2e_latency_s": np.asarray(lat),
        "output_tokens_per_s": np.asarray(b * 128 / lat),
        "device_id": np.full(configs.num_rows, dev.id, dtype=np.int32),
        "worker": [threading.current_thread().name] * configs.num_rows,
    })


SHARD_SCRIPT = textwrap.dedent(
    """
    import json, sys, tempfile
    import jax, pandas as pd
    sys.path.insert(0, {tests!r})
    from test_design_space_scale import SPEC, jax_standin
    from simulator.design_space import Grid, parse_spec, run_sweep
    from simulator.design_space.sharding import evaluate_sharded

    devices = jax.local_devices()
    spec = parse_spec(SPEC)
    table = Grid.from_spec(spec, spec.size).chunk(0)
    sharded = evaluate_sharded(jax_standin, table)
    plain = jax_standin(table)
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        run_sweep(spec, a, chunk_size=40, evaluate=jax_standin, shard="auto", progress=False)
        run_sweep(spec, b, chunk_size=40, evaluate=jax_standin, shard=False, progress=False)
        da = pd.read_parquet(a).sort_values("config_id")
        db = pd.read_parquet(b).sort_values("config_id")
        same_run = bool((da["e2e_latency_s"].to_numpy() == db["e2e_latency_s"].to_numpy()).all())
        run_devices = sorted(set(da["device_id"].tolist()))
    print(json.dumps({{
        "n_devices": len(devices),
        "shard_devices": sharded["device_id"].tolist(),
        "same": bool((sharded["e2e_latency_s"].to_numpy() == plain["e2e_latency_s"].to_numpy()).all()),
        "rows": len(sharded),
        "same_run": same_run,
        "run_devices": run_devices,
    }}))
    """
)


def test_chunk_is_sharded_over_four_host_devices():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    script = SHARD_SCRIPT.format(tests=str(REPO / "tests"))
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["n_devices"] == 4
    n = res["rows"]
    q = -(-n // 4)
    # contiguous slices, slice d on device d, row order preserved
    assert res["shard_devices"] == [i // q for i in range(n)]
    assert res["same"] and res["same_run"]
    assert res["run_devices"] == [0, 1, 2, 3]


def test_split_bounds_and_single_device_passthrough():
    from simulator.design_space.sharding import evaluate_sharded, split_bounds

    assert split_bounds(10, 4) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert split_bounds(2, 4) == [(0, 1), (1, 2)]
    table = pa.table({"batch": [1, 2, 3], "tp": [1, 1, 2]})
    out = evaluate_sharded(jax_standin, table, devices=[None])
    assert len(out) == 3 and out["worker"].nunique() == 1


# ------------------------------------------------------------------------------------------ Dask
@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                                       host="127.0.0.1", dashboard_address="127.0.0.1:0", timeout=DASK_TIMEOUT_S)
    client = distributed.Client(cluster, timeout=DASK_TIMEOUT_S)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_dask_workers_write_their_own_parts(tmp_path, dask_client):
    spec = parse_spec(SPEC)
    assert dask_client.scheduler.address.startswith("tcp://127.0.0.1:")
    rep = run_sweep(spec, tmp_path / "d", chunk_size=16, evaluate=jax_standin, client=dask_client, progress=False)
    assert rep.backend == "dask" and rep.complete and rep.chunks_run == 6
    df = pd.read_parquet(tmp_path / "d").sort_values("config_id")
    assert df["config_id"].tolist() == list(range(spec.size))
    # the evaluation ran on worker threads (not the driver), which wrote the parts
    assert not (df["worker"] == threading.current_thread().name).any()
    assert df["worker"].str.contains("Dask-Default-Threads|ThreadPoolExecutor", regex=True).all()
    run_sweep(spec, tmp_path / "l", chunk_size=16, evaluate=jax_standin, progress=False)
    local = pd.read_parquet(tmp_path / "l").sort_values("config_id")
    np.testing.assert_array_equal(df["e2e_latency_s"].to_numpy(), local["e2e_latency_s"].to_numpy())


def test_dask_resume_and_rerun(tmp_path, dask_client):
    spec = parse_spec(SPEC)
    out = tmp_path / "r"
    run_sweep(spec, out, chunk_size=16, evaluate=jax_standin, max_chunks=2, progress=False)  # locally
    assert completed_chunks(out) == {0, 1}
    rep = run_sweep(spec, out, evaluate=jax_standin, client=dask_client, progress=False)
    assert rep.chunks_before == 2 and rep.chunks_run == 4 and rep.complete
    again = run_sweep(spec, out, evaluate=jax_standin, client=dask_client, progress=False)
    assert again.chunks_run == 0


def failing(configs: pa.Table) -> pd.DataFrame:
    if int(configs.column("config_id")[0].as_py()) >= 80:  # the last chunk (of 16) fails
        raise SweepError("stand-in failure")
    return jax_standin(configs)


def test_dask_failure_keeps_written_parts(tmp_path, dask_client):
    spec = parse_spec(SPEC)
    with pytest.raises(SweepError, match="stand-in failure"):
        run_sweep(spec, tmp_path, chunk_size=16, evaluate=failing, client=dask_client, progress=False)
    done = completed_chunks(tmp_path)
    # chunks 0 and 1 finished before the failing chunk 5 was submitted (window of 4 tasks)
    assert {0, 1} <= done and 5 not in done
    assert read_manifest(tmp_path)["status"] == "running"


def test_unreachable_scheduler_is_one_line_error(tmp_path):
    pytest.importorskip("distributed")
    from simulator.design_space.distributed import connect

    with pytest.raises(SweepError, match="cannot reach the Dask scheduler"):
        connect("tcp://127.0.0.1:9", timeout_s=1.0)
    with pytest.raises(SweepError, match="allowed: an address"):
        connect("localhost")


def test_dask_worker_processes_run_the_real_evaluator(tmp_path):
    """Separate worker processes (as on a real cluster): the default serving evaluator is shipped
    by reference, each worker process evaluates and writes its own parts."""
    distributed = pytest.importorskip("distributed")
    spec = parse_spec({"kind": "serve", "axes": {"model": ["llama-3.2-1b"], "hardware": ["h100", "a100"],
                                                 "batch": [1, 2, 4, 8]}})
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", timeout=DASK_TIMEOUT_S) as cluster, \
            distributed.Client(cluster, timeout=DASK_TIMEOUT_S) as client:
        rep = run_sweep(spec, tmp_path, chunk_size=4, client=client, progress=False)
    assert rep.complete and rep.chunks_run == 2
    df = pd.read_parquet(tmp_path).sort_values("config_id")
    assert df["config_id"].tolist() == list(range(8)) and np.isfinite(df["tpot_s"]).all()
