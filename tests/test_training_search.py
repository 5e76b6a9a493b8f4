"""Layout enumeration, vectorised search, Pareto set and the planner entry point."""

from __future__ import annotations

import numpy as np
import pytest

from hardware_db import load_system
from simulator.errors import ConfigError
from simulator.models import load_model
from simulator.training import (
    TrainOptions,
    best_layouts,
    check_layout,
    enumerate_layouts,
    pareto_front,
    search,
    search_layouts,
    train_hardware,
)


@pytest.fixture(scope="module")
def a100_1024():
    return train_hardware(load_system("dgx-a100").for_devices(1024), "bf16")


def test_enumerated_layouts_are_all_valid_and_complete():
    spec = load_model("gpt3-175b")
    lay = enumerate_layouts(spec, 1024, 1536, 2048, cp=(1, 2), zero=(0, 1, 3))
    d = {k: np.asarray(getattr(lay, k)) for k in ("tp", "pp", "dp", "cp", "ep", "micro_batch", "virtual_stages",
                                                    "recompute", "zero")}
    assert np.all(d["tp"] * d["pp"] * d["dp"] * d["cp"] == 1024)
    for i in np.random.default_rng(0).choice(len(d["tp"]), 200, replace=False):
        check_layout(spec, 1024, 1536, 2048, **{k: int(v[i]) for k, v in d.items() if k != "recompute"})
    # a brute-force count over the same candidate sets agrees with the vectorised enumeration
    count = 0
    for tp in (1, 2, 4, 8):
        for pp in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 96):
            for cp in (1, 2):
                if 1024 % (tp * pp * cp):
                    continue
                dp = 1024 // (tp * pp * cp)
                for mb in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64):
                    if 1536 % (dp * mb):
                        continue
                    m = 1536 // (dp * mb)
                    for v in (1, 2, 3, 4):
                        if 96 % (pp * v) or (v > 1 and (pp == 1 or m % pp)):
                            continue
                        for z in (0, 1, 3):
                            if z >= 2 and pp > 1:
                                continue
                            count += 3  # recompute none / selective / full
    assert count == len(d["tp"])


def test_pareto_front_is_non_dominated():
    rng = np.random.default_rng(1)
    t, m = rng.random(500), rng.random(500)
    idx = pareto_front(t, m)
    for i in idx:
        dominated = (t <= t[i]) & (m <= m[i]) & ((t < t[i]) | (m < m[i]))
        assert not dominated.any()
    others = np.setdiff1d(np.arange(500), idx)
    for j in others[:50]:
        assert np.any((t[idx] <= t[j]) & (m[idx] <= m[j]))


def test_search_returns_fastest_fitting_layout(a100_1024):
    spec = load_model("gpt3-175b")
    sr = search_layouts(spec, a100_1024, 1024, 1536, 2048, TrainOptions())
    step, fits = sr.results["step_time_s"], sr.results["fits"]
    assert sr.best >= 0 and fits[sr.best]
    assert step[sr.best] == pytest.approx(step[fits].min())
    assert sr.evaluated == len(step) > 1000
    assert np.all(np.diff(sr.results["total_bytes"][sr.pareto]) >= 0)
    assert np.all(np.diff(step[sr.pareto]) < 0)
    table = sr.table(sr.pareto)
    assert {"tp", "pp", "dp", "step_time_s", "mfu", "total_bytes", "fits"} <= set(table.columns)


def test_search_api_reports_closest_when_nothing_fits():
    out = search("gpt3-175b", "dgx-a100", 8, global_batch=8, seq_len=2048)
    assert out["best"] is None and out["closest"]["shortfall_bytes"] > 0


def test_best_layouts_vectorised_over_models_matches_single_searches(a100_1024):
    names = ["llama-3-8b", "gpt3-175b", "mixtral-8x7b"]
    df = best_layouts([load_model(n) for n in names], a100_1024, 1024, 1024, 4096)
    assert list(df["model"]) == names
    for n, row in zip(names, df.itertuples(), strict=True):
        sr = search_layouts(load_model(n), a100_1024, 1024, 1024, 4096)
        assert row.tokens_per_s == pytest.approx(float(sr.results["tokens_per_s"][sr.best]), rel=1e-5)
        assert 0 < row.mfu <= 1


def test_enumeration_rejects_impossible_requests():
    with pytest.raises(ConfigError, match="no valid layout"):
        enumerate_layouts(load_model("gpt3-175b"), 1024, 7, 2048)
