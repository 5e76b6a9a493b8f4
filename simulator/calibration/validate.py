"""Predicted vs measured kernel times: error statistics per source and operator.

For rows with measured time ``t_m`` and prediction ``t_p`` the signed relative error is
``e = (t_p - t_m) / t_m`` (in %). Reported per group:

* ``median_abs_pct`` = median(|e|), ``p90_abs_pct`` = 90th percentile of |e|;
* ``bias_pct`` = median(e) (> 0: the model is pessimistic / predicts too slow, < 0: optimistic);
* ``n`` rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fitters.precision import float32, float64
from simulator.calibration.errors import CalibrationError

STAT_COLUMNS = ("n", "median_abs_pct", "p90_abs_pct", "bias_pct")


def pct_errors(predicted_s, measured_s) -> np.ndarray:
    """Signed relative errors ``100 (t_p - t_m) / t_m`` (vectorised)."""
    p = np.asarray(predicted_s, dtype=float)
    m = np.asarray(measured_s, dtype=float)
    if p.shape != m.shape:
        raise CalibrationError(f"predicted and measured times differ in shape: {p.shape} vs {m.shape}")
    if np.any(~np.isfinite(m) | (m <= 0)):
        raise CalibrationError("measured times must be finite and > 0")
    return 100.0 * (p - m) / m


def error_stats(predicted_s, measured_s) -> dict[str, float]:
    """``{"n", "median_abs_pct", "p90_abs_pct", "bias_pct"}`` of one set of rows."""
    e = pct_errors(predicted_s, measured_s)
    if e.size == 0:
        return {"n": 0, "median_abs_pct": float("nan"), "p90_abs_pct": float("nan"), "bias_pct": float("nan")}
    a = np.abs(e)
    return {"n": int(e.size), "median_abs_pct": float(np.median(a)), "p90_abs_pct": float(np.percentile(a, 90)),
            "bias_pct": float(np.median(e))}


def summarize(rows: pd.DataFrame, predicted_col: str = "predicted_s", measured_col: str = "time_s",
              by: Sequence[str] = ("source", "op"), total: bool = True) -> pd.DataFrame:
    """Error statistics of ``rows`` grouped by ``by``; with ``total`` one ``all`` row per value of the
    first key (or one overall row when grouping by a single key)."""
    by = list(by)
    out = []
    for key, g in rows.groupby(by, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        out.append({**dict(zip(by, key, strict=True)), **error_stats(g[predicted_col], g[measured_col])})
    if total and len(by) > 1:
        for key, g in rows.groupby(by[0], sort=True):
            out.append({by[0]: key, **{b: "all" for b in by[1:]}, **error_stats(g[predicted_col], g[measured_col])})
    elif total and by:
        out.append({by[0]: "all", **error_stats(rows[predicted_col], rows[measured_col])})
    return pd.DataFrame(out, columns=[*by, *STAT_COLUMNS])


def format_table(table: pd.DataFrame, title: str = "") -> str:
    """Plain-text table (fixed width) for tests and the CLI."""
    t = table.copy()
    for c in ("median_abs_pct", "p90_abs_pct", "bias_pct"):
        if c in t:
            t[c] = t[c].map(lambda x: f"{x:8.1f}")
    body = t.to_string(index=False)
    return f"{title}\n{body}" if title else body


# ------------------------------------------------------------------------------------ orchestration
SOURCES = ("cpu", "vidur-a100", "vidur-a40", "llmcompass-a100", "llmcompass-mi210", "measured-public")


def predict_for_device(rows: pd.DataFrame, device) -> np.ndarray:
    """Predicted time (s) of every row on ``device`` with its current efficiency curve (per kernel
    class when ``device.efficiency.classes`` has any; elementwise rows then at the vector peak)."""
    from simulator.calibration.fit import EFFICIENCY_FIELDS, device_rates, predict_rows

    classes = dict(device.efficiency.classes)
    peak, bw, link_bw, lat = device_rates(rows, device, vector_peak=bool(classes))
    params = {f: float(getattr(device.efficiency, f)) for f in EFFICIENCY_FIELDS}
    return predict_rows(rows, params, peak, bw, link_bw, lat, classes=classes)


def predict_with_profile(rows: pd.DataFrame, device, profile) -> np.ndarray:
    """Predictions with ``profile`` applied through :func:`~simulator.calibration.profile.apply_profile`
    (per dtype when the profile has per-dtype compute efficiencies)."""
    from simulator.calibration.profile import apply_profile

    rows = rows.reset_index(drop=True)
    out = np.empty(len(rows))
    for d, idx in rows.groupby(rows.dtype.astype(str)).groups.items():
        dev = apply_profile(device, profile, dtype=d)
        out[np.asarray(idx)] = predict_for_device(rows.loc[idx], dev)
    return out


def compare(rows: pd.DataFrame, device, profile=None) -> pd.DataFrame:
    """``rows`` with ``predicted_catalog_s`` (catalog efficiency) and, given a profile,
    ``predicted_calibrated_s``."""
    rows = rows.reset_index(drop=True).copy()
    rows["predicted_catalog_s"] = predict_for_device(rows, device)
    if profile is not None:
        rows["predicted_calibrated_s"] = predict_with_profile(rows, device, profile)
    return rows


def before_after(rows: pd.DataFrame, by: Sequence[str] = ("source", "op")) -> pd.DataFrame:
    """Error table with a ``calibration`` column: ``catalog`` and (when present) ``calibrated``."""
    parts = [summarize(rows, "predicted_catalog_s", by=by).assign(calibration="catalog")]
    if "predicted_calibrated_s" in rows:
        parts.append(summarize(rows, "predicted_calibrated_s", by=by).assign(calibration="calibrated"))
    t = pd.concat(parts, ignore_index=True)
    return t[[*by, "calibration", *STAT_COLUMNS]]


def validate_table(name: str, calibration=None) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Validate measured table ``name`` (:data:`simulator.calibration.measured.TABLES`).

    ``calibration``: profile path, ``"default"`` (``data/calibration/<device>.json``; skipped with a
    note when absent) or ``None``. When the profile was fitted on this very table, its training
    groups (models) are left out of the comparison. Returns ``(table, rows, notes)``.
    """
    from hardware_db import load_device
    from simulator.calibration import measured
    from simulator.calibration.profile import apply_profile, default_note, default_profile, read_profile

    key = str(name).lower()
    if key not in measured.TABLES:
        raise CalibrationError(f"unknown validation source {name!r}; allowed: {', '.join(SOURCES)}")
    device = load_device(measured.TABLE_DEVICE[key])
    notes: list[str] = []
    profile = None
    if calibration is not None:  # read (and check) the profile before loading any data
        path = default_profile(device.name) if str(calibration) == "default" else calibration
        if path is None:  # no shipped profile, or one that does not qualify as a default (profile.DEFAULT_RULE)
            notes.append(default_note(device.name))
        else:
            profile = read_profile(path)
            apply_profile(device, profile)  # refuses a profile for another device
    rows = measured.load_table(key)
    if profile is not None and str(profile.fit.get("table", "")).lower() == key:
        train = set(profile.fit.get("train_groups") or [])
        if not train:
            notes.append(f"profile {profile.path} was fitted on all of {key}: the calibrated errors are in-sample")
        else:
            rows = rows[~rows.group.isin(train)]
            notes.append(f"left out the rows the profile was fitted on ({', '.join(sorted(train))})")
    rows = compare(rows, device, profile)
    if profile is not None:
        notes.append(f"calibrated = {profile.path} (source: {profile.source})")
    return before_after(rows), rows, notes


def validate_cpu(measurements: pd.DataFrame | None = None, device_name: str = "host-cpu", quick: bool = True,
                 progress: bool = True, per_dtype: bool = True, steps: int = 1500, repeats: int = 15,
                 statistic: str = "median"):
    """Held-out validation on this machine's JAX backend (CPU in CI).

    ``statistic``: which summary of a kernel's repeated timings is its measured time, ``median``
    (the suite's default) or ``min``, the estimator of the uncontended time on a machine that other
    processes share (Python's ``timeit`` documentation: higher values "are typically not caused by
    variability in Python's speed, but by other processes interfering with your timing accuracy");
    the test suite, whose other worker keeps the second core busy, uses ``min``.

    Runs the quick kernel suite (or uses ``measurements`` from :func:`~simulator.calibration.suite.run_suite`),
    fits a profile on half the sizes of every kernel family (:func:`~simulator.calibration.suite.split_half`)
    with catalog peaks raised to measured rates where the catalog is lower, and compares catalog and
    calibrated predictions on the other half. Returns ``(table, test_rows, profile, notes)``.
    """
    if statistic not in ("median", "min"):  # before the suite runs (about a minute on CPU)
        raise CalibrationError(f"statistic '{statistic}'; allowed: median, min")
    from hardware_db import load_device
    from simulator.calibration import suite
    from simulator.calibration.fit import fit_profile

    device = load_device(device_name)
    if measurements is None:
        measurements = suite.run_suite(suite.default_cases(quick=quick), device_name=device.name, progress=progress,
                                       repeats=repeats)
    if statistic == "min" and "time_min_s" in measurements:
        measurements = measurements.assign(time_s=measurements["time_min_s"])
    rows = suite.suite_rows(measurements, source=f"{measurements['backend'].iloc[0]}-suite"
                            if "backend" in measurements else "suite")
    train, test = suite.split_half(rows)
    env = {k: str(measurements[k].iloc[0]) for k in ("jax_version", "jaxlib_version", "backend", "host_cpu", "date_utc")
           if k in measurements}
    profile, notes = fit_profile(train, device, source="kernel suite (calibration half)", backend=env.get("backend", ""),
                                 per_dtype=per_dtype, raise_peaks=True, steps=steps, software=env)
    test = test[test.dtype.astype(str).isin(device.peak_flops_per_s) | (test.kind == "collective")]
    test = compare(test, device, profile)
    return before_after(test), test, profile, notes


# ------------------------------------------------------------------------------- end-to-end rows (c)
#: device strings of measured_public.csv -> catalog device (only devices that have a shipped profile)
PUBLIC_DEVICES = {"NVIDIA A100 80GB": "a100-sxm4-80gb", "NVIDIA A100 SXM": "a100-sxm4-80gb",
                  "NVIDIA A100 (NVLink3)": "a100-sxm4-80gb"}
PUBLIC_MODELS = {"Llama 2 7B": "llama-2-7b", "Llama 2 70B": "llama-2-70b", "Llama 2 13B": "llama-2-13b"}
PUBLIC_WEIGHTS = {"F16": "fp16", "Q4_0": "q4_0", "Q4_K_M": "q4_k_m", "Q8_0": "q8_0"}


def public_csv_path(path=None):
    """``measured_public.csv``: ``path`` if given, else registered dataset ``measured-public``
    (:mod:`simulator.calibration.datasets`: ``$SIMLAB_REFERENCE_DIR/measured_public.csv``, default
    ``$SIMLAB_DATA_DIR/../reference/``, sha256-checked); a missing file is the registry's one-line
    :class:`fitters.DatasetError`."""
    from pathlib import Path

    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise CalibrationError(f"measured_public.csv not found at {p}")
        return p
    import simulator.calibration.datasets  # noqa: F401  (registers measured-public)
    from fitters.registry import dataset_path

    return dataset_path("measured-public", download=False)


@float64()
def _public_prediction(row, device) -> float | None:
    """Predicted time per unit of the row's metric (s per token, s per GEMM, s per all-reduce), or None."""
    import re

    from simulator import kernels, roofline

    metric = str(row["metric"])
    if metric in ("single-stream decode rate", "prompt processing rate"):
        from simulator.serving import predict_serve

        model = PUBLIC_MODELS.get(str(row["model_name"]))
        wdt = PUBLIC_WEIGHTS.get(str(row["precision"]))
        if model is None or wdt is None:
            return None
        with float32():  # the serving simulator is the float32 core
            if metric == "single-stream decode rate":  # llama-bench tg128: 128 tokens from an empty context
                r = predict_serve(model, device, batch=1, input_len=1, output_len=128, weight_dtype=wdt,
                                  act_dtype="fp16", kv_dtype="fp16")
                return r["tpot_avg_s"]
            r = predict_serve(model, device, batch=1, input_len=512, output_len=1, weight_dtype=wdt, act_dtype="fp16",
                              kv_dtype="fp16")  # llama-bench pp512
        return 1.0 / r["prefill_tokens_per_s"]
    if metric.startswith("max achievable matmul throughput"):
        m = re.search(r"MxNxK=(\d+)x(\d+)x(\d+)", str(row["model_name"]))
        dt = str(row["precision"]).lower()
        if m is None or dt not in device.peak_flops_per_s:
            return None
        M, N, K = (float(v) for v in m.groups())
        e = device.efficiency.for_class("gemm")
        f = kernels.gemm_flops(M, N, K)
        b = kernels.gemm_bytes(M, N, K, 2, 2, 2)
        return float(roofline.gemm_kernel_time_s(f, b, device.peak(dt), device.memory.bandwidth_bytes_per_s,
                                                 e["compute"], e["memory"], e["compute_half_flop"],
                                                 e["memory_half_bytes"], e["kernel_overhead_s"], rows=M,
                                                 rows_half=e.get("gemm_rows_half", 0.0)))
    if metric == "bus bandwidth (busbw)" and "all-reduce" in str(row["model_name"]) and device.intra_node_link:
        from simulator.calibration.fit import collective_time_s

        m = re.search(r"payload (\d+)GiB", str(row["model_name"]))
        n = float(row["device_count"])
        if m is None or n > 8:
            return None
        s = float(m.group(1)) * 2**30
        link = device.intra_node_link
        return float(collective_time_s(s, n, link.bandwidth_bytes_per_s, device.efficiency.for_class("collective")["link"],
                                       link.latency_s))
    return None


def _public_measured_time(row) -> float:
    """Measured time per unit (the reciprocal of the row's rate)."""
    import re

    v = float(row["value"])
    metric = str(row["metric"])
    if metric.startswith("max achievable matmul throughput"):
        M, N, K = (float(x) for x in re.search(r"MxNxK=(\d+)x(\d+)x(\d+)", str(row["model_name"])).groups())
        return 2.0 * M * N * K / (v * 1e12)
    if metric == "bus bandwidth (busbw)":  # busbw = S / t * 2 (n - 1) / n
        s = float(re.search(r"payload (\d+)GiB", str(row["model_name"])).group(1)) * 2**30
        n = float(row["device_count"])
        return s / (v * 1e9) * 2.0 * (n - 1.0) / n
    return 1.0 / v  # tokens/s -> s per token


def validate_public(calibration="default", csv_path=None) -> tuple[pd.DataFrame, list[str]]:
    """End-to-end and microbenchmark rows of ``measured_public.csv`` on devices that have a shipped
    profile (A100): single-stream decode / prompt rates (llama.cpp, via :func:`simulator.serving.predict_serve`),
    the best-shape GEMM rate (MAMF) and NCCL all-reduce bus bandwidth, before and after calibration.

    Errors are on the time per unit (per token, per GEMM, per all-reduce): > 0 means predicted slower.
    Training rows are left to the training simulator's validation.
    """
    from hardware_db import load_device
    from simulator.calibration.profile import apply_profile, default_note, default_profile, read_profile

    df = pd.read_csv(public_csv_path(csv_path))
    notes = ["errors on time per unit (per token / GEMM / all-reduce); training rows are not covered here"]
    out = []
    for _, row in df[df.device.isin(PUBLIC_DEVICES)].iterrows():
        dev = load_device(PUBLIC_DEVICES[row["device"]])
        prof = None
        if calibration is not None:
            path = default_profile(dev.name) if str(calibration) == "default" else calibration
            if path is None:  # the shipped profile does not qualify as a default (profile.DEFAULT_RULE)
                if default_note(dev.name) not in notes:
                    notes.append(default_note(dev.name))
            else:
                prof = read_profile(path)
        t_cat = _public_prediction(row, dev)
        if t_cat is None:
            if row["workload_kind"] != "training":
                notes.append(f"skipped {row['id']}: no mapping to a simlab prediction")
            continue
        rec = {"source": "measured-public", "op": row["id"], "time_s": _public_measured_time(row),
               "predicted_catalog_s": t_cat}
        if prof is not None:
            rec["predicted_calibrated_s"] = _public_prediction(row, apply_profile(dev, prof))
        out.append(rec)
    if not out:
        raise CalibrationError("no row of measured_public.csv maps to a device with a calibration profile")
    rows = pd.DataFrame(out)
    if calibration is not None and "predicted_calibrated_s" in rows:
        notes.append(f"calibrated = {calibration if str(calibration) != 'default' else 'data/calibration/<device>.json'}")
    notes.append("llama.cpp 'NVIDIA A100 80GB' is taken as A100-SXM4-80GB (form factor not stated); "
                 "decode = llama-bench tg128 from an empty context, prompt = pp512, batch 1")
    return before_after(rows), notes
