"""Fit size-dependent efficiency parameters to measured kernel times by gradient (optax, float64).

The model and its objective live in :mod:`simulator.calibration.model` (re-exported here:
``EfficiencyFit``, ``predict_rows``, ``row_classes``, ``collective_time_s``, ``device_rates``, the
field tuples); in short, a kernel doing ``F`` FLOP and moving ``B`` bytes takes
``max((F + F_half) / (P e_c), (B + B_half) / (W e_m)) + t_kernel`` and a collective its alpha-beta
time, with parameters kept in range by construction (``sigmoid`` / ``exp``) and a weighted Huber loss
of the log-time error. This module runs the optimisation: Adam (optax) from several starting points
at once (``jax.vmap``) in float64, the best final loss wins (:func:`fit_efficiency`), and turns
measured rows of a device into a calibration profile (:func:`fit_profile`: single curve, per-class
curves, then the GEMM-shape term).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from fitters.precision import float64
from simulator.calibration.errors import CalibrationError
from simulator.calibration.model import (  # noqa: F401  (re-exported: the public names of this module before the split)
    _BOUNDED,
    CLASS_CURVE_FIELDS,
    EFFICIENCY_FIELDS,
    GEMM_SHAPE_FIELD,
    HUBER_DELTA,
    KERNEL_CLASSES,
    EfficiencyFit,
    _huber_loss,
    _inv_softplus,
    _logit,
    _loss,
    _predict,
    _softplus,
    collective_time_s,
    device_rates,
    predict_rows,
    row_classes,
)

#: held-out choice (docs/calibration.md): the per-class fit of ``fit_profile`` fits the GEMM-shape term
GEMM_SHAPE_DEFAULT = True
#: held-out choice (docs/calibration.md): one kernel overhead per class fitted better than a shared one
SHARED_OVERHEAD_DEFAULT = False


def _warm(base, warm: EfficiencyFit, cls_names, dtypes, per_dtype, n_over, has_link):
    """Start values (in place) from an earlier per-class fit ``warm`` (same rows, no shape term)."""
    for i, c in enumerate(cls_names):
        cv = warm.classes.get(c)
        if not cv:
            continue
        base["u_compute"][i, :] = _logit(cv["compute"])
        base["v_compute_half_flop"][i, :] = np.log(max(cv["compute_half_flop"], 1e-30))
        base["u_memory"][i] = _logit(cv["memory"])
        base["v_memory_half_bytes"][i] = np.log(max(cv["memory_half_bytes"], 1e-30))
        if n_over > 1:
            base["v_kernel_overhead_s"][i] = np.log(max(cv["kernel_overhead_s"], 1e-30))
    if per_dtype and "gemm" in cls_names:
        g = cls_names.index("gemm")
        for j, d in enumerate(dtypes):
            if d in warm.class_per_dtype:
                base["u_compute"][g, j] = _logit(warm.class_per_dtype[d]["compute"])
                base["v_compute_half_flop"][g, j] = np.log(max(warm.class_per_dtype[d]["compute_half_flop"], 1e-30))
    if has_link and "collective" in warm.classes:
        base["u_link"] = np.asarray(_logit(warm.classes["collective"]["link"]))
    if warm.link_latency_s:
        base["v_link_latency_s"] = np.asarray(np.log(warm.link_latency_s))


@float64()
def fit_efficiency(
    rows: pd.DataFrame,
    peak_flops_per_s,
    bandwidth_bytes_per_s,
    link_bytes_per_s=1.0,
    init: dict[str, float] | None = None,
    fit_fields: tuple[str, ...] = EFFICIENCY_FIELDS,
    per_dtype: bool = False,
    link_latency_s: float = 5e-6,
    steps: int = 1500,
    starts: int = 8,
    learning_rate: float = 0.05,
    seed: int = 0,
    classes: bool = False,
    shared_overhead: bool = SHARED_OVERHEAD_DEFAULT,
    gemm_shape: bool = False,
    warm_start: EfficiencyFit | None = None,
) -> EfficiencyFit:
    """Fit efficiency parameters to ``rows`` (columns ``flops``, ``bytes_moved``, ``time_s``, ``kind``,
    ``op``, ``dtype``, ``num_workers``; see :mod:`simulator.calibration.measured`).

    ``peak_flops_per_s`` / ``bandwidth_bytes_per_s`` / ``link_bytes_per_s``: scalars or one value
    per row (peak of each row's dtype). ``init``: starting values of the Efficiency fields (those
    not in ``fit_fields`` stay fixed at them). ``classes``: fit one curve per kernel class present
    (module docstring; ``shared_overhead`` keeps one ``t_kernel`` for all classes); the result's
    ``classes`` then holds them and ``params`` the GEMM class's (device-wide fallback). Raises
    :class:`CalibrationError` on empty or non-positive input.

    ``gemm_shape`` (with ``classes``): also fit the GEMM class's row half-size ``gemm_rows_half``
    (``softplus(w)`` > 0; :func:`simulator.roofline.gemm_row_utilisation`, rows = column ``m``) and
    return it in ``classes["gemm"]``.
    """
    need = {"flops", "bytes_moved", "time_s", "kind", "op", "dtype"}
    missing = need - set(rows.columns)
    if missing:
        raise CalibrationError(f"calibration rows lack column(s) {sorted(missing)}")
    rows = rows.reset_index(drop=True)
    n = len(rows)
    if n < 3:
        raise CalibrationError(f"need at least 3 measured rows to fit efficiency, got {n}")
    t = rows.time_s.to_numpy(float)
    if not np.all(np.isfinite(t) & (t > 0)):
        raise CalibrationError("measured time_s must be finite and > 0 in every row")
    bad = set(fit_fields) - set(EFFICIENCY_FIELDS)
    if bad:
        raise CalibrationError(f"unknown efficiency field(s) {sorted(bad)}; allowed: {', '.join(EFFICIENCY_FIELDS)}")
    init = {"compute": 0.7, "memory": 0.7, "link": 0.7, "compute_half_flop": 1e8, "memory_half_bytes": 1e5,
            "kernel_overhead_s": 5e-6, **(init or {})}

    dtypes = sorted(rows.dtype.astype(str).unique()) if per_dtype else ["all"]
    main_dtype = rows.loc[rows.kind == "gemm", "dtype"].mode()
    main_dtype = str(main_dtype.iloc[0]) if len(main_dtype) else str(rows.dtype.mode().iloc[0])
    dtype_id = (rows.dtype.astype(str).map({d: i for i, d in enumerate(dtypes)}).to_numpy()
                if per_dtype else np.zeros(n, dtype=int))
    op_counts = rows.op.map(rows.op.value_counts()).to_numpy(float)
    weight = 1.0 / op_counts
    weight /= weight.sum()
    is_coll = (rows.kind == "collective").to_numpy()
    nw = rows["num_workers"].to_numpy(float) if "num_workers" in rows else np.ones(n)
    has_link = bool(is_coll.any())
    rc = row_classes(rows)
    cls_names = [c for c in KERNEL_CLASSES if (rc == c).any()] if classes else ["all"]
    if not cls_names:
        cls_names = ["gemm"]
    class_id = (np.asarray([cls_names.index(c) if c in cls_names else 0 for c in rc]) if classes
                else np.zeros(n, dtype=int))
    nc = len(cls_names)
    n_over = 1 if (not classes or shared_overhead) else nc

    data = {
        "flops": jnp.asarray(rows.flops.to_numpy(float)),
        "bytes_moved": jnp.asarray(rows.bytes_moved.to_numpy(float)),
        "time_s": jnp.asarray(t),
        "peak": jnp.broadcast_to(jnp.asarray(peak_flops_per_s, dtype=float), (n,)),
        "bandwidth": jnp.broadcast_to(jnp.asarray(bandwidth_bytes_per_s, dtype=float), (n,)),
        "link_bw": jnp.broadcast_to(jnp.asarray(link_bytes_per_s, dtype=float), (n,)),
        "dtype_id": jnp.asarray(dtype_id),
        "class_id": jnp.asarray(class_id),
        "weight": jnp.asarray(weight),
        "is_coll": jnp.asarray(is_coll),
        "is_ag": jnp.asarray((rows.op == "all_gather").to_numpy()),
        "num_workers": jnp.asarray(nw),
        "gemm_rows": jnp.asarray(np.where(rc == "gemm", rows["m"].to_numpy(float), 0.0)
                                 if "m" in rows else np.zeros(n)),
    }
    shape_term = bool(gemm_shape and classes and "gemm" in cls_names and (np.asarray(data["gemm_rows"]) > 0).any())
    nd = len(dtypes)
    base = {
        "u_compute": np.full((nc, nd), _logit(init["compute"])),
        "v_compute_half_flop": np.full((nc, nd), np.log(max(init["compute_half_flop"], 1e-30))),
        "u_memory": np.full(nc, _logit(init["memory"])),
        "v_memory_half_bytes": np.full(nc, np.log(max(init["memory_half_bytes"], 1e-30))),
        "v_kernel_overhead_s": np.full(n_over, np.log(max(init["kernel_overhead_s"], 1e-30))),
        "u_link": np.asarray(_logit(init["link"])),
        "v_link_latency_s": np.asarray(np.log(link_latency_s)),
    }
    free_keys = {f"u_{f}" if f in _BOUNDED else f"v_{f}" for f in fit_fields}
    if shape_term:
        base["w_gemm_rows_half"] = np.asarray(_inv_softplus(init.get(GEMM_SHAPE_FIELD) or 16.0))
        free_keys |= {"w_gemm_rows_half"}
    if not has_link:
        free_keys -= {"u_link"}
    elif "link" in fit_fields:
        free_keys |= {"v_link_latency_s"}
    fixed = {k: jnp.asarray(v) for k, v in base.items() if k not in free_keys}
    rng = np.random.default_rng(seed)
    # multi-start: the first start is ``init``; the others jitter every free parameter
    # (efficiencies by +-1.5 in logit, sizes/latencies by a factor up to e^3)
    if warm_start is not None and classes:
        _warm(base, warm_start, cls_names, dtypes, per_dtype, n_over, has_link)
    raw0 = {}
    for k in sorted(free_keys):
        v = np.broadcast_to(base[k], (starts,) + np.shape(base[k])).copy()
        scale = 1.5 if k.startswith("u_") else 3.0
        if k.startswith("w_"):  # softplus-positive: jitter the value by a factor up to e^3
            v[1:] = _inv_softplus(_softplus(v[1:]) * np.exp(rng.uniform(-scale, scale, size=v[1:].shape)))
            if warm_start is not None:  # the first start is the earlier fit with the term ~off
                v[0] = _inv_softplus(0.01)
        else:
            v[1:] += rng.uniform(-scale, scale, size=v[1:].shape)
        raw0[k] = jnp.asarray(v)

    opt = optax.adam(learning_rate)

    def run_one(raw):
        state = opt.init(raw)

        def step(carry, _):
            raw, state = carry
            loss, g = jax.value_and_grad(_loss)(raw, fixed, data)
            upd, state = opt.update(g, state, raw)
            return (optax.apply_updates(raw, upd), state), loss

        (raw, _), _ = jax.lax.scan(step, (raw, state), None, length=steps)
        return raw, _loss(raw, fixed, data)

    raws, losses = jax.jit(jax.vmap(run_one))(raw0)
    losses = np.asarray(losses)
    best = int(np.nanargmin(np.where(np.isfinite(losses), losses, np.inf)))
    p = {**{k: np.asarray(v) for k, v in base.items()}, **{k: np.asarray(v[best]) for k, v in raws.items()}}

    sig = lambda x: 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))  # noqa: E731
    comp = sig(p["u_compute"])
    fhalf = np.exp(p["v_compute_half_flop"])
    mem = np.atleast_1d(sig(p["u_memory"]))
    bhalf = np.atleast_1d(np.exp(p["v_memory_half_bytes"]))
    over = np.atleast_1d(np.exp(p["v_kernel_overhead_s"]))
    main_i = dtypes.index(main_dtype) if per_dtype and main_dtype in dtypes else 0
    g = cls_names.index("gemm") if "gemm" in cls_names else 0

    def curve(i):
        return {"compute": float(comp[i, main_i]), "memory": float(mem[i]),
                "compute_half_flop": float(fhalf[i, main_i]), "memory_half_bytes": float(bhalf[i]),
                "kernel_overhead_s": float(over[min(i, len(over) - 1)])}

    params = {**curve(g), "link": float(sig(p["u_link"]))}
    params = {f: params[f] for f in EFFICIENCY_FIELDS}
    per = ({d: {"compute": float(comp[g, i]), "compute_half_flop": float(fhalf[g, i])} for i, d in enumerate(dtypes)}
           if per_dtype else {})
    cls_out: dict[str, dict[str, float]] = {}
    if classes:
        cls_out = {c: curve(i) for i, c in enumerate(cls_names) if (rc == c).any()}
        if shape_term:
            cls_out["gemm"][GEMM_SHAPE_FIELD] = float(_softplus(p["w_gemm_rows_half"]))
        if has_link:
            cls_out["collective"] = {"link": params["link"]}
    return EfficiencyFit(params=params, per_dtype={} if classes else per, classes=cls_out,
                     class_per_dtype=per if classes else {},
                     link_latency_s=float(np.exp(p["v_link_latency_s"])) if has_link else None,
                     loss=float(losses[best]), n_rows=n, steps=steps, starts=starts, main_dtype=main_dtype)


def measured_peaks(rows: pd.DataFrame, device) -> dict[str, float]:
    """Rates measured in ``rows`` that exceed the catalog's peaks of ``device``.

    ``{dtype: best GEMM FLOP/s}`` where that beats ``device.peak(dtype)`` and
    ``{"bandwidth_bytes_per_s": best memory-kernel bytes/s}`` where that beats the main memory's
    bandwidth. Efficiency is bounded by 1, so such a catalog number is provably too low (on CPUs the
    catalog holds placeholders, and cache-resident streams beat DRAM bandwidth).
    """
    out: dict[str, float] = {}
    g = rows[rows.kind == "gemm"]
    for d, sub in g.groupby(g.dtype.astype(str)):
        best = float((sub.flops / sub.time_s).max())
        if d in device.peak_flops_per_s and best > device.peak(d):
            out[d] = best
    m = rows[rows.kind == "memory"]
    if len(m):
        best = float((m.bytes_moved / m.time_s).max())
        if best > device.memory.bandwidth_bytes_per_s:
            out["bandwidth_bytes_per_s"] = best
    return out


def fit_profile(rows: pd.DataFrame, device, source: str, backend: str = "table", per_dtype: bool = False,
                raise_peaks: bool = False, table: str = "", train_groups: list[str] | None = None,
                steps: int = 1500, starts: int = 8, software: dict[str, str] | None = None,
                classes: bool = True, shared_overhead: bool = SHARED_OVERHEAD_DEFAULT,
                gemm_shape: bool = GEMM_SHAPE_DEFAULT):
    """Fit ``rows`` measured on ``device`` and return ``(CalibrationProfile, notes)``.

    The profile's ``efficiency`` is the best single curve (device-wide: what consumers that know no
    kernel classes use); with ``classes`` a second, per-class fit (:func:`fit_efficiency` with
    ``classes=True``) fills ``classes`` / ``class_per_dtype``, which predictions then use per kernel
    class. ``fit`` records the in-sample errors of both forms. ``gemm_shape``: the per-class fit
    also fits the GEMM class's row half-size ``gemm_rows_half`` (rows with a GEMM shape ``m``).

    The catalog efficiency is the starting point. With ``raise_peaks`` the peaks that measurements
    beat are raised first (:func:`measured_peaks`, recorded in ``peaks_raised``); without it such a
    device gets a note, since its efficiency then sits at the bound 1.
    """
    import dataclasses as _dc
    import datetime as _dt

    from simulator.calibration.profile import CalibrationProfile
    from simulator.calibration.validate import error_stats

    notes: list[str] = []
    have = set(device.peak_flops_per_s)
    keep = rows.dtype.astype(str).isin(have) | (rows.kind == "collective")
    for d in sorted(set(rows.dtype.astype(str)[~keep])):
        notes.append(f"skipped dtype {d}: device '{device.name}' has no peak rate for it")
    rows = rows[keep].reset_index(drop=True)
    raised = measured_peaks(rows, device)
    if raised and raise_peaks:
        peaks = {**device.peak_flops_per_s, **{k: v for k, v in raised.items() if k != "bandwidth_bytes_per_s"}}
        tiers = tuple(_dc.replace(t, bandwidth_bytes_per_s=raised.get("bandwidth_bytes_per_s", t.bandwidth_bytes_per_s))
                      if t.name == device.main_memory else t for t in device.memory_tiers)
        device = _dc.replace(device, peak_flops_per_s=peaks, memory_tiers=tiers)
        notes.append(f"raised catalog peaks of '{device.name}' to measured rates: "
                     + ", ".join(f"{k}={v:.3g}" for k, v in raised.items()))
    elif raised:
        notes.append(f"measured rates beat the catalog peaks of '{device.name}' ("
                     + ", ".join(f"{k}={v:.3g}" for k, v in raised.items())
                     + "); efficiency is capped at 1 - fix the catalog or use raise_peaks")
        raised = {}
    peak, bw, link_bw, lat = device_rates(rows, device)
    init = {f: getattr(device.efficiency, f) for f in EFFICIENCY_FIELDS}
    fields = tuple(f for f in EFFICIENCY_FIELDS if f != "link" or (rows.kind == "collective").any())
    res = fit_efficiency(rows, peak, bw, link_bw, init=init, fit_fields=fields, per_dtype=per_dtype,
                         link_latency_s=max(lat, 1e-7), steps=steps, starts=starts)
    pred = predict_rows(rows, res.params, peak, bw, link_bw, res.link_latency_s or lat, res.per_dtype)
    st = error_stats(pred, rows.time_s.to_numpy(float))
    single = st
    cres = None
    if classes:
        vpeak = device_rates(rows, device, vector_peak=True)[0]
        cres = fit_efficiency(rows, vpeak, bw, link_bw, init=init, fit_fields=fields, per_dtype=per_dtype,
                              link_latency_s=max(lat, 1e-7), steps=steps, starts=starts, classes=True,
                              shared_overhead=shared_overhead)
        if gemm_shape and "gemm" in cres.classes:
            # then the GEMM-shape term, starting from that fit; it touches GEMM rows only, so only the
            # GEMM class's curve is taken from it, and only if it lowers the loss of the GEMM rows
            sres = fit_efficiency(rows, vpeak, bw, link_bw, init=init, fit_fields=fields, per_dtype=per_dtype,
                                  link_latency_s=max(lat, 1e-7), steps=steps, starts=starts, classes=True,
                                  shared_overhead=shared_overhead, gemm_shape=True, warm_start=cres)
            shaped = _dc.replace(cres, classes={**cres.classes, "gemm": sres.classes["gemm"]},
                                 class_per_dtype=sres.class_per_dtype)
            g = row_classes(rows) == "gemm"

            def gemm_loss(r):
                pred = predict_rows(rows, res.params, vpeak, bw, link_bw, r.link_latency_s or lat, res.per_dtype,
                                    classes=r.classes, class_per_dtype=r.class_per_dtype)
                return _huber_loss(rows[g], pred[g])

            if GEMM_SHAPE_FIELD in sres.classes["gemm"] and gemm_loss(shaped) < gemm_loss(cres):
                cres = shaped
        cpred = predict_rows(rows, res.params, vpeak, bw, link_bw, cres.link_latency_s or lat, res.per_dtype,
                             classes=cres.classes, class_per_dtype=cres.class_per_dtype)
        st = error_stats(cpred, rows.time_s.to_numpy(float))
        if cres.link_latency_s is not None and res.link_latency_s is not None:
            # one fitted link latency per profile: the per-class fit's (its link efficiency is in classes)
            res.link_latency_s = cres.link_latency_s
    prof = CalibrationProfile(
        device=device.name, efficiency=res.params, source=source, backend=backend,
        date_utc=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        per_dtype=res.per_dtype, link_latency_s=res.link_latency_s, peaks_raised=raised,
        fit={"rows": res.n_rows, "loss": res.loss, "ops": sorted(rows.op.unique()), "table": table,
             "train_groups": sorted(train_groups or []), "steps": steps, "starts": starts,
             "in_sample_median_abs_pct": st["median_abs_pct"], "in_sample_p90_abs_pct": st["p90_abs_pct"],
             "in_sample_bias_pct": st["bias_pct"],
             **({"form": "per-class", "shared_overhead": bool(shared_overhead), "classes_loss": cres.loss,
                 "gemm_shape": GEMM_SHAPE_FIELD in cres.classes.get("gemm", {}),
                 "single_curve_in_sample_median_abs_pct": single["median_abs_pct"],
                 "single_curve_in_sample_p90_abs_pct": single["p90_abs_pct"]} if cres is not None
                else {"form": "single-curve"})},
        software=dict(software or {}),
        classes=dict(cres.classes) if cres is not None else {},
        class_per_dtype=dict(cres.class_per_dtype) if cres is not None else {},
    )
    return prof, notes
