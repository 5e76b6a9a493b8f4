"""Training predictions vs published measurements (data/validation/training_rows.csv), with the
catalog's DEFAULT efficiencies. Per-row errors are printed (``pytest -s``) and summarised.

Sources: Narayanan et al. 2021 (SC21) Tables 1-2, Korthikanti et al. 2022 (abstract), MosaicML
llm-foundry benchmark tables; the row ids are those of ../shared/reference/measured_public.csv.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from conftest import require_dataset

from simulator.training.validation import load_rows, predict_rows


@functools.lru_cache(maxsize=1)
def _predicted() -> pd.DataFrame:
    """Once per process: pytest tears a module fixture down whenever its worker runs another module's
    test in between, and this one compiles six recipes."""
    return predict_rows()


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    df = _predicted().copy()
    with pd.option_context("display.width", 200, "display.max_rows", 100):
        print("\n" + df[["id", "measured", "predicted", "error", "fits"]].round(3).to_string())
    return df.set_index("id")


def _group(df, prefix):
    return df[df.index.str.startswith(prefix)]


def test_rows_match_the_reference_table():
    """Our typed table carries the reference measurements verbatim (checked when the file is present)."""
    import simulator.calibration.datasets  # noqa: F401  (registers measured-public)

    ref = pd.read_csv(require_dataset("measured-public")).set_index("id")
    rows = load_rows().set_index("id")
    for rid, row in rows.iterrows():
        assert rid in ref.index, rid
        val = float(ref.loc[rid, "value"])
        expect = val / 100.0 if ref.loc[rid, "unit"] == "%" else val
        assert float(row.measured) == pytest.approx(expect), rid


def test_narayanan_table1_median_error_within_10_percent(results):
    """Table 1 (GPT 1.7B ... 1T, paper layouts, micro-batches from examples/sc21/run_table_1.sh):
    achieved TFLOP/s per GPU in the paper's Eq. 3 convention (recompute counted)."""
    t1 = _group(results, "megatron21-t1-")
    assert len(t1) == 10
    med = float(t1["abs_error"].median())
    print(f"\nNarayanan Table 1: median |error| {100 * med:.1f}%, max {100 * t1['abs_error'].max():.1f}%")
    assert t1["fits"].all()
    assert med <= 0.10, (
        f"median |error| {100 * med:.1f}% > 10% with the catalog's default A100 efficiency; every row is "
        f"over-predicted: the A100 default compute efficiency 0.869 is the best-shape MAMF; measured transformer "
        f"GEMMs (Vidur) have median 0.745, which gives 3.9% (docs/training.md 'Validation')")


def test_narayanan_table1_trends(results):
    """No row is far off (every row within 15%), and the largest models (>= 145B, p >= 8) reach
    more TFLOP/s per GPU than the 18B-39B ones, as measured."""
    t1 = _group(results, "megatron21-t1-")
    assert (t1["abs_error"] <= 0.15).all()
    big = t1.loc[["megatron21-t1-145.6b", "megatron21-t1-310.1b", "megatron21-t1-529.6b", "megatron21-t1-1008.0b"]]
    mid = t1.loc[["megatron21-t1-18.4b", "megatron21-t1-39.1b"]]
    assert big["predicted"].min() > mid["predicted"].max()
    assert big["measured"].min() > mid["measured"].max()


def test_narayanan_table2_ptdp_beats_zero3(results):
    """Table 2: PTD-P is faster than ZeRO-3 at every GPU count, and ZeRO-3 per-GPU throughput falls
    steeply with more GPUs at a fixed batch (below 2/3 of its rate) while PTD-P stays nearly flat
    (above 85%)."""
    t2 = _group(results, "megatron21-t2-")
    for model, counts in (("174.6b", (384, 768, 1536)), ("529.6b", (1120, 2240))):
        ptdp = [t2.loc[f"megatron21-t2-ptdp-{model}-{n}", "predicted"] for n in counts]
        zero3 = [t2.loc[f"megatron21-t2-zero3-{model}-{n}", "predicted"] for n in counts]
        assert all(p > z for p, z in zip(ptdp, zero3, strict=True)), (model, ptdp, zero3)
        assert np.all(np.diff(zero3) < 0)
        # measured: ZeRO-3 keeps 0.31 (175B) / 0.49 (530B) of its per-GPU rate, PTD-P 0.92 / 0.95
        assert zero3[-1] / zero3[0] < 2 / 3 and ptdp[-1] / ptdp[0] > 0.85
    # 529.6B: ZeRO-3 on 640 GPUs vs PTD-P on 560 GPUs (the table's closest pair)
    assert t2.loc["megatron21-t2-ptdp-529.6b-560", "predicted"] > t2.loc["megatron21-t2-zero3-529.6b-640", "predicted"]
    print(f"\nTable 2 median |error| {100 * t2['abs_error'].median():.1f}%")


def test_narayanan_table2_zero3_within_15_percent(results):
    """Issue 12's ZeRO-3 target: every 2021 DeepSpeed ZeRO-3 row within 15 % (recipe ``deepspeed2021``:
    prefetched gathers hidden per pass, reduce-scatters on the critical path, ranks not node-aware;
    docs/training.md "Per-pass ZeRO-3 overlap"). v0.1 was -24 ... +2 %, the pooled rule -31 ... -18 %."""
    z3 = _group(results, "megatron21-t2-zero3-")
    assert len(z3) == 6
    print(f"\nZeRO-3 rows: {', '.join(f'{100 * e:+.1f}%' for e in z3['error'])}")
    assert (z3["abs_error"] <= 0.15).all(), z3["error"].round(3).to_dict()


def test_korthikanti_selective_vs_full(results):
    """530B on 2240 A100s: selective recompute + SP beats full recompute by about the measured 29%."""
    sel = results.loc["korthikanti-530b-selective"]
    full = results.loc["korthikanti-530b-full"]
    ratio_pred, ratio_meas = sel.predicted / full.predicted, sel.measured / full.measured
    print(f"\nKorthikanti MFU: selective {sel.predicted:.3f} (meas {sel.measured}), full {full.predicted:.3f} "
          f"(meas {full.measured}); speed-up {ratio_pred:.3f} vs {ratio_meas:.3f}")
    assert ratio_pred == pytest.approx(ratio_meas, rel=0.05)
    assert abs(sel.error) <= 0.20 and abs(full.error) <= 0.20


def test_mosaicml_mfu_rows(results):
    """llm-foundry MFU (FSDP + FlashAttention): reported; asserted are MFU bounds and the measured
    ordering A100 > H100 MFU for the same model (H100 compute outgrows its memory/network)."""
    mpt = results[results.index.str.startswith("mpt")]
    assert ((mpt["predicted"] > 0) & (mpt["predicted"] <= 1)).all()
    for model in ("mpt7b", "mpt70b"):
        a = mpt[mpt.index.str.startswith(f"{model}-a100")].iloc[0]
        h = mpt[mpt.index.str.startswith(f"{model}-h100")].iloc[0]
        assert a.predicted > h.predicted and a.measured > h.measured
    bf16 = mpt[~mpt.index.str.contains("fp8")]
    print(f"\nMosaicML bf16 rows: median |error| {100 * bf16['abs_error'].median():.1f}%; "
          f"fp8 row error {100 * mpt.loc['mpt3b-h100-fp8-8gpu', 'error']:.0f}% (linear-layer GEMMs in FP8, attention and norms in bf16)")
