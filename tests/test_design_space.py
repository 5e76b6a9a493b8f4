"""Tests of the sweep machinery: spec parsing, lazy grid, chunked Parquet runs, resume, summaries.

Most tests use a cheap stand-in evaluator (a vectorised numpy function of the configuration table)
so they exercise the machinery, not the serving core; ``test_real_serving_evaluator`` runs the
real :func:`simulator.sweep.serve` on a tiny grid.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from simulator.design_space import Grid, SweepError, load_spec, parse_spec, run_sweep, summarize
from simulator.design_space.runner import MANIFEST, completed_chunks, read_manifest
from simulator.design_space.summarize import pareto_mask

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "examples" / "sweeps").glob("*.toml"))

SMALL = {
    "kind": "serve",
    "name": "small",
    "axes": {
        "model": ["llama-3-8b", "llama-3-70b"],
        "hardware": ["h100", "a100", "mi300x"],
        "batch": {"start": 1, "stop": 16, "mul": 2},
        "input_len": [512, 2048],
        "tp": [1, 2],
    },
}


def standin(configs: pa.Table) -> pd.DataFrame:
    """A serving-like stand-in: latency grows with batch and prompt, throughput with batch and tp."""
    df = configs.to_pandas()
    b = df["batch"].to_numpy(float)
    L = df["input_len"].to_numpy(float) if "input_len" in df else np.full(len(df), 1024.0)
    tp = df["tp"].to_numpy(float) if "tp" in df else np.ones(len(df))
    big = df["model"].astype(str).str.contains("70b").to_numpy()
    speed = df["hardware"].astype(str).map({"h100": 3.0, "a100": 1.0, "mi300x": 2.5}).fillna(1.0).to_numpy(float)
    lat = (1e-3 * L + 0.05 * b) * np.where(big, 8.0, 1.0) / speed / np.sqrt(tp)
    out = b * 128 / lat
    return pd.DataFrame({
        "e2e_latency_s": lat,
        "output_tokens_per_s": out,
        "output_tokens_per_s_per_device": out / tp,
        "devices": tp,
        "fits": ~(big & (tp < 2) & (b > 4)),
        "valid": np.ones(len(df), dtype=bool),
    })


class Counting:
    """Stand-in that counts calls and rows, and can fail on its n-th call."""

    def __init__(self, fail_on: int | None = None):
        self.calls = 0
        self.rows = 0
        self.fail_on = fail_on

    def __call__(self, configs: pa.Table) -> pd.DataFrame:
        self.calls += 1
        if self.fail_on is not None and self.calls == self.fail_on:
            raise KeyboardInterrupt("simulated interrupt")
        self.rows += configs.num_rows
        return standin(configs)


def small_spec(**changes):
    data = json.loads(json.dumps(SMALL))
    data.update(changes)
    return parse_spec(data, source="small.toml")


# ------------------------------------------------------------------------------------------ spec
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_specs_load(path):
    spec = load_spec(path)
    assert spec.size >= 1 and spec.kind in ("serve", "train")


def test_spec_axes_ranges_and_hash():
    spec = small_spec()
    assert spec.axes["batch"] == (1, 2, 4, 8, 16)
    assert spec.shape == (2, 3, 5, 2, 2) and spec.size == 120
    # the hash ignores name and chunk size, not the axes
    assert small_spec(name="other", chunk_size=7).spec_hash == spec.spec_hash
    data = json.loads(json.dumps(SMALL))
    data["axes"]["tp"] = [1, 2, 4]
    assert parse_spec(data).spec_hash != spec.spec_hash
    stepped = parse_spec({"axes": {"model": "llama-3-8b", "device": "h100",
                                   "input_len": {"start": 128, "stop": 512, "step": 128}}})
    assert stepped.axes["input_len"] == (128, 256, 384, 512)
    assert stepped.axes["hardware"] == ("h100",)  # `device` is accepted for hardware
    assert stepped.axes["model"] == ("llama-3-8b",)  # a scalar is a one-value axis


@pytest.mark.parametrize(
    "change, key",
    [
        ({"colour": "red"}, "colour"),
        ({"axes": {**SMALL["axes"], "bacth": [1, 2]}}, "axes.bacth"),
        ({"axes": {**SMALL["axes"], "batch": []}}, "axes.batch"),
        ({"axes": {**SMALL["axes"], "hardware": ["h100", "no-such-gpu"]}}, "axes.hardware[1]"),
        ({"axes": {**SMALL["axes"], "model": ["llama-9-1t"]}}, "axes.model[0]"),
        ({"axes": {**SMALL["axes"], "batch": [1, "two"]}}, "axes.batch[1]"),
        ({"axes": {**SMALL["axes"], "batch": {"start": 1, "stop": 8}}}, "axes.batch"),
        ({"axes": {**SMALL["axes"], "system": ["dgx-h100"]}}, "axes.system"),
        ({"kind": "bake"}, "kind"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"output": {"cols": ["x"]}}, "output.cols"),
    ],
)
def test_spec_errors_name_the_key(change, key):
    data = json.loads(json.dumps(SMALL))
    data.update(change)
    with pytest.raises(SweepError) as err:
        parse_spec(data, source="s.toml")
    msg = str(err.value)
    assert "\n" not in msg and f"s.toml: {key}" in msg


def test_load_spec_bad_files(tmp_path):
    with pytest.raises(SweepError, match="not found"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("kind = [\n")
    with pytest.raises(SweepError, match="not valid TOML"):
        load_spec(bad)


# ------------------------------------------------------------------------------------------ grid
def test_grid_chunks_follow_cartesian_product_order():
    spec = small_spec()
    grid = Grid.from_spec(spec, chunk_size=7)
    assert grid.size == 120 and grid.n_chunks == 18
    table = pa.concat_tables([grid.chunk(c) for c in range(grid.n_chunks)]).to_pandas()
    expected = list(itertools.product(*spec.axes.values()))
    got = list(zip(*(table[k].astype(object) for k in spec.axes), strict=True))
    assert got == expected
    assert table["config_id"].tolist() == list(range(120))
    assert pa.types.is_dictionary(grid.chunk(0).schema.field("model").type)
    with pytest.raises(SweepError, match="chunk 18"):
        grid.chunk(18)


def test_grid_is_lazy_for_huge_products():
    axes = {f"a{i}": np.arange(1000) for i in range(5)}  # 1e15 configurations
    grid = Grid(axes, chunk_size=1000)
    assert grid.size == 10**15
    chunk = grid.chunk(grid.n_chunks - 1).to_pandas()
    assert len(chunk) == 1000 and (chunk["a0"] == 999).all() and (chunk["a4"].to_numpy() == np.arange(1000)).all()
    assert chunk["config_id"].iloc[-1] == 10**15 - 1


# ---------------------------------------------------------------------------------------- runner
def test_run_writes_parts_manifest_and_reruns_do_nothing(tmp_path):
    spec = small_spec()
    ev = Counting()
    rep = run_sweep(spec, tmp_path / "out", chunk_size=25, evaluate=ev, progress=False)
    out = tmp_path / "out"
    assert rep.complete and rep.chunks_run == 5 and rep.configs_run == 120 and ev.rows == 120
    assert sorted(p.name for p in out.glob("part-*.parquet")) == [f"part-{c:06d}.parquet" for c in range(5)]
    man = read_manifest(out)
    assert man["spec_hash"] == spec.spec_hash and man["status"] == "complete" and man["n_configs"] == 120
    df = pd.read_parquet(out)  # the folder is a plain Parquet dataset (manifest/summary are skipped)
    assert len(df) == 120 and sorted(df["config_id"]) == list(range(120))
    assert list(df.columns[:6]) == ["config_id", "model", "hardware", "batch", "input_len", "tp"]
    assert "e2e_latency_s" in df and "output_tokens_per_s" in df
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = run_sweep(spec, out, evaluate=ev, progress=False)
    assert again.chunks_run == 0 and again.complete and ev.calls == 5
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes


def test_resume_after_interrupt_keeps_completed_chunks(tmp_path):
    spec = small_spec()
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, out, chunk_size=10, evaluate=Counting(fail_on=5), progress=False)
    assert completed_chunks(out) == {0, 1, 2, 3}
    assert read_manifest(out)["status"] == "running"
    before = {p: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    ev = Counting()
    rep = run_sweep(spec, out, evaluate=ev, progress=False)  # chunk size comes from the manifest
    assert rep.chunks_before == 4 and rep.chunks_run == 8 and ev.rows == 80 and rep.complete
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())
    assert not list(out.glob(".*.tmp"))
    df = pd.read_parquet(out)
    assert sorted(df["config_id"]) == list(range(120))
    ref = pd.concat([Grid.from_spec(spec, 120).chunk(0).to_pandas()[["config_id"]],
                     standin(Grid.from_spec(spec, 120).chunk(0))], axis=1)
    merged = df.sort_values("config_id").reset_index(drop=True)
    np.testing.assert_allclose(merged["e2e_latency_s"], ref["e2e_latency_s"])


def test_progress_bar_reports_configs_and_rate(tmp_path, capsys):
    run_sweep(small_spec(), tmp_path, chunk_size=30, evaluate=standin, progress=True)
    err = capsys.readouterr().err
    assert "120/120 configs" in err and "configs/s" in err


def test_max_chunks_then_resume(tmp_path):
    spec = small_spec()
    rep = run_sweep(spec, tmp_path, chunk_size=50, evaluate=standin, max_chunks=1, progress=False)
    assert rep.chunks_run == 1 and not rep.complete
    rep = run_sweep(spec, tmp_path, evaluate=standin, progress=False)
    assert rep.chunks_before == 1 and rep.chunks_run == 2 and rep.complete


def test_output_folder_guards_change_nothing(tmp_path):
    spec = small_spec()
    out = tmp_path / "out"
    run_sweep(spec, out, chunk_size=60, evaluate=standin, progress=False)
    snapshot = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in out.iterdir()}
    other = small_spec(axes={**SMALL["axes"], "tp": [1, 2, 4]})
    with pytest.raises(SweepError, match="holds a different sweep") as err:
        run_sweep(other, out, evaluate=standin, progress=False)
    assert "\n" not in str(err.value)
    with pytest.raises(SweepError, match="chunk size 60"):
        run_sweep(spec, out, chunk_size=10, evaluate=standin, progress=False)
    assert {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in out.iterdir()} == snapshot
    # a folder with unrelated files, and a file, are refused
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match="not empty"):
        run_sweep(spec, tmp_path / "busy", evaluate=standin, progress=False)
    assert os.listdir(tmp_path / "busy") == ["notes.txt"]
    with pytest.raises(SweepError, match="is a file"):
        run_sweep(spec, tmp_path / "busy" / "notes.txt", evaluate=standin, progress=False)
    (out / MANIFEST).write_text("{not json")
    with pytest.raises(SweepError, match="unreadable sweep manifest"):
        run_sweep(spec, out, evaluate=standin, progress=False)


def test_output_columns_and_bad_evaluators(tmp_path):
    spec = small_spec(output={"columns": ["e2e_latency_s"]})
    run_sweep(spec, tmp_path / "a", chunk_size=200, evaluate=standin, progress=False)
    df = pd.read_parquet(tmp_path / "a")
    assert list(df.columns) == ["config_id", *spec.axes, "e2e_latency_s"]
    bad = small_spec(output={"columns": ["nope_s"]})
    with pytest.raises(SweepError, match="unknown result column 'nope_s'"):
        run_sweep(bad, tmp_path / "b", evaluate=standin, progress=False)
    with pytest.raises(SweepError, match="returned 1 rows"):
        run_sweep(small_spec(), tmp_path / "c", evaluate=lambda t: standin(t).head(1), progress=False)
    assert completed_chunks(tmp_path / "c") == set()


def test_real_serving_evaluator(tmp_path):
    """The default evaluator of kind 'serve' is simulator.sweep.serve; rows stay aligned."""
    pytest.importorskip("simulator.sweep")
    from simulator.sweep import serve

    spec = parse_spec({"kind": "serve", "axes": {"model": ["llama-3.2-1b", "llama-3-70b"], "hardware": ["h100"],
                                                 "batch": [1, 8], "tp": [1, 3]}})
    run_sweep(spec, tmp_path, chunk_size=8, progress=False)  # one chunk: one compiled shape
    df = pd.read_parquet(tmp_path).sort_values("config_id").reset_index(drop=True)
    assert len(df) == 8
    ref = serve(Grid.from_spec(spec, 8).chunk(0), errors="mark")
    for col in ("ttft_s", "tpot_s", "output_tokens_per_s", "memory_bytes"):
        np.testing.assert_allclose(df[col].to_numpy(float), ref[col].to_numpy(float), rtol=1e-6)
    assert (~df.loc[df["tp"] == 3, "valid"]).all()  # tp = 3 divides no head count here: marked, not raised
    assert df.loc[df["tp"] == 1, "valid"].all()


# ------------------------------------------------------------------------------------- summaries
def test_pareto_mask_matches_brute_force():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, 300).astype(float)
    y = rng.integers(0, 20, 300).astype(float)
    mask = pareto_mask(x, y, "min", "max")
    pts = set()
    for i in range(len(x)):
        dominated = np.any((x <= x[i]) & (y >= y[i]) & ((x < x[i]) | (y > y[i])))
        if not dominated:
            pts.add((x[i], y[i]))
    assert {(a, b) for a, b in zip(x[mask], y[mask], strict=True)} == pts
    assert mask.sum() == len(pts)  # duplicates kept once
    m2 = pareto_mask(x, y, "min", "min")
    assert m2[np.argmin(x + 1e-3 * y)]


def test_summary_streams_parts_and_matches_in_memory(tmp_path):
    spec = small_spec()
    run_sweep(spec, tmp_path, chunk_size=13, evaluate=standin, progress=False)
    s = summarize(tmp_path)
    full = pd.read_parquet(tmp_path)
    ok = full[full["fits"] & full["valid"]].copy()
    assert s.rows == 120 and s.rows_fit == len(ok)
    for (model, hw), g in ok.groupby(["model", "hardware"], observed=True):
        row = s.best[(s.best["model"] == model) & (s.best["hardware"] == hw)]
        assert len(row) == 1
        assert row["output_tokens_per_s_per_device"].iloc[0] == pytest.approx(g["output_tokens_per_s_per_device"].max())
    front = s.fronts["latency_throughput"]
    for model, g in ok.groupby("model", observed=True):
        mask = pareto_mask(g["e2e_latency_s"], g["output_tokens_per_s_per_device"], "min", "max")
        expect = set(g.loc[mask, "config_id"])
        assert set(front.loc[front["model"] == model, "config_id"]) == expect
    cost = s.fronts["cost_time"]
    assert set(cost["hardware"]) <= {"mi300x"}  # only the device with a catalog price
    assert any("no catalog price" in n for n in s.notes)
    summary_dir = tmp_path / "_summary"
    assert (summary_dir / "best.csv").exists() and (summary_dir / "pareto_latency_throughput.png").exists()
    assert len(pd.read_parquet(tmp_path)) == 120  # _summary/ does not disturb reading the dataset
    json.dumps(s.to_dict())


def test_summary_of_partial_and_missing(tmp_path):
    spec = small_spec()
    run_sweep(spec, tmp_path / "p", chunk_size=50, evaluate=standin, max_chunks=1, progress=False)
    s = summarize(tmp_path / "p", plots=False)
    assert s.parts == 1 and s.rows == 50 and any("partial" in n for n in s.notes)
    with pytest.raises(SweepError, match="holds no sweep"):
        summarize(tmp_path / "nothing")


# -------------------------------------------------------------------------------------- training
def test_training_sweep_matches_predict_training(tmp_path):
    """kind = "train": vectorised train_step per row; invalid layouts marked; rows equal predict_training."""
    from simulator.training import predict_training

    spec = parse_spec({
        "kind": "train",
        "axes": {"model": "gpt3-175b", "system": "dgx-a100", "num_devices": 1024, "global_batch": 1536,
                 "seq_len": 2048, "tokens": 300e9, "tp": [4, 8, 3], "pp": [8, 16], "micro_batch": [1, 2],
                 "recompute": ["selective", "full"]},
    })
    run_sweep(spec, tmp_path, chunk_size=spec.size, progress=False)
    df = pd.read_parquet(tmp_path).sort_values("config_id")
    assert len(df) == 24
    bad = df[df["tp"] == 3]
    assert (~bad["valid"]).all() and bad["step_time_s"].isna().all()
    assert bad["error"].str.contains("does not divide").all()
    ok = df[df["valid"]]
    assert len(ok) == 16 and np.isfinite(ok["step_time_s"]).all()
    row = ok.iloc[5]
    ref = predict_training("gpt3-175b", "dgx-a100", 1024, tp=int(row.tp), pp=int(row.pp),
                           micro_batch=int(row.micro_batch), recompute=row.recompute, global_batch=1536,
                           seq_len=2048, tokens=300e9)
    assert row.step_time_s == pytest.approx(ref["step_time_s"], rel=1e-5)
    assert row.mfu == pytest.approx(ref["mfu"], rel=1e-5)
    assert row.train_time_s == pytest.approx(ref["train_time_s"], rel=1e-5)
    assert row.dp == 1024 / (row.tp * row.pp)
    s = summarize(tmp_path, plots=False)
    assert s.kind == "train" and len(s.best) == 1
    assert s.best["tokens_per_s"].iloc[0] == pytest.approx(ok.loc[ok["fits"], "tokens_per_s"].max())
