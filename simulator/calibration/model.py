"""The calibration model: predicted time of measured kernels and collectives, and the fit objective.

What :mod:`simulator.calibration.fit` fits (by gradient, optax, float64) and what predictions and
validation (:func:`predict_rows`, :mod:`simulator.calibration.validate`) evaluate.

Model (the roofline of :func:`simulator.roofline.kernel_time_s`) for a kernel doing ``F`` FLOP and
moving ``B`` bytes on a device with dense peak ``P`` (FLOP/s, of the kernel's dtype) and main-memory
bandwidth ``W`` (bytes/s)::

    t(F, B) = max((F + F_half) / (P e_c), (B + B_half) / (W e_m)) + t_kernel

and, for a collective of ``S`` bytes over ``n`` devices on a link of ``L`` bytes/s per direction
with per-hop latency ``alpha``, the alpha-beta costs of :mod:`simulator.collectives`
(:func:`collective_time_s`; all-reduce = min(ring, tree))::

    ring all-reduce:  t = 2 (n-1)/n * S / (L e_l) + 2 (n-1) alpha
    all-gather:       t =   (n-1)/n * S / (L e_l) +   (n-1) alpha    (S = gathered output)

The link latency ``alpha`` is fitted too when collectives are present (it is a catalog number,
usually an estimate) and stored in the profile. Parameters (``hardware_db.Efficiency`` fields, plus ``alpha``) are kept in their allowed
range by construction: ``e_c, e_m, e_l = sigmoid(u)`` in (0, 1); ``F_half, B_half, t_kernel,
alpha = exp(v)`` > 0. The loss is a weighted mean Huber loss (``delta`` = 0.1, i.e. ~10 %) of the
log-time error ``r = ln t_pred - ln t_meas`` (relative errors count alike for 2 us and 60 ms
kernels); each operator gets the same total weight, so 20 large GEMMs are not drowned by 1000
norms. Adam (optax) runs from several starting points at once (``jax.vmap``) in float64; the best
final loss wins. ``compute`` / ``compute_half_flop`` can be fitted per dtype (``per_dtype=True``).

Per-class form (``classes=True``): every kernel class of ``hardware_db.EFFICIENCY_CLASSES`` present
in the rows (:func:`row_classes`: ``gemm``, ``attention``, ``elementwise``; ``collective`` rows fit
the link) gets its own ``e_c, e_m, F_half, B_half`` (and ``t_kernel`` unless
``shared_overhead=True``) in the same joint fit; elementwise rows are priced at the device's
*vector* peak (fp32 when the catalog lists it), as the serving simulator prices them
(``simulator.hw.HwSpec.vector_flops_per_s``). Per-dtype ``compute`` then applies to the GEMM class.

GEMM-shape term (``gemm_shape=True``, per-class form): a GEMM of ``M`` output rows (column ``m``)
computes the padded work ``F / u(M)``, ``u(M) = M / (M + R)``, ``R = softplus(w)`` > 0
(``gemm_rows_half``; :func:`simulator.roofline.gemm_kernel_time_s`), fitted after the per-class fit
and starting from it (kept only when it lowers the loss).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from fitters.precision import float64
from simulator import roofline
from simulator.calibration.errors import CalibrationError

EFFICIENCY_FIELDS = ("compute", "memory", "link", "compute_half_flop", "memory_half_bytes", "kernel_overhead_s")
_BOUNDED = ("compute", "memory", "link")
HUBER_DELTA = 0.1
#: kernel classes with a roofline curve of their own (``collective`` rows fit the link instead)
KERNEL_CLASSES = ("gemm", "attention", "elementwise")
CLASS_CURVE_FIELDS = ("compute", "memory", "compute_half_flop", "memory_half_bytes", "kernel_overhead_s")
#: optional GEMM-shape term of the ``gemm`` class (:func:`simulator.roofline.gemm_row_utilisation`)
GEMM_SHAPE_FIELD = "gemm_rows_half"


def row_classes(rows: pd.DataFrame) -> np.ndarray:
    """Efficiency class of every measured row: ``collective`` (kind collective), ``attention`` (op
    names containing ``attention``), ``gemm`` (other kind-gemm rows), else ``elementwise`` (norms,
    activations, residual adds, softmax, copies)."""
    kind = rows.kind.astype(str).to_numpy()
    op = rows.op.astype(str).str.lower()
    out = np.where(kind == "gemm", "gemm", "elementwise").astype(object)
    out[op.str.contains("attention").to_numpy()] = "attention"
    out[kind == "collective"] = "collective"
    return out.astype(str)


def collective_time_s(message_bytes, num_devices, link_bytes_per_s, link_efficiency, hop_latency_s,
                      is_all_gather=False):
    """Collective time as the simulator computes it: :func:`simulator.collectives.collective_time_s`
    on one switched link of ``link_bytes_per_s`` with hop latency ``hop_latency_s`` and efficiency
    ``link_efficiency`` (:func:`simulator.collectives.link_fabric`), all ``num_devices`` ranks on it
    (the measured rows are single-node): all-reduce, or all-gather (``is_all_gather``, ``S`` the
    gathered output). Broadcasts, differentiable; 0 for one device.
    """
    from simulator import collectives

    fabric = collectives.link_fabric(link_bytes_per_s, hop_latency_s, link_efficiency)
    ar = collectives.collective_time_s("all_reduce", message_bytes, num_devices, num_devices, fabric)
    ag = collectives.collective_time_s("all_gather", message_bytes, num_devices, num_devices, fabric)
    return jnp.where(is_all_gather, ag, ar)


@dataclass
class EfficiencyFit:
    """Fitted efficiency parameters (a calibration profile's numbers; not a scaling-law fit, which is
    :class:`fitters.result.FitResult`).

    ``params``: the six ``Efficiency`` fields (``compute`` / ``compute_half_flop`` of the dtype
    ``main_dtype``); ``per_dtype``: dtype -> {"compute", "compute_half_flop"}; ``link_latency_s``:
    fitted per-hop link latency (``None`` when no collective rows); ``loss``: final objective;
    ``n_rows``; ``steps``; ``starts``.
    """

    params: dict[str, float]
    per_dtype: dict[str, dict[str, float]] = field(default_factory=dict)
    classes: dict[str, dict[str, float]] = field(default_factory=dict)  # per-class fit: class -> curve
    class_per_dtype: dict[str, dict[str, float]] = field(default_factory=dict)  # GEMM class per dtype
    link_latency_s: float | None = None
    loss: float = float("nan")
    n_rows: int = 0
    steps: int = 0
    starts: int = 0
    main_dtype: str = ""


def _logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _softplus(x):
    x = np.asarray(x, dtype=float)
    return np.logaddexp(0.0, x)


def _inv_softplus(y):
    y = np.asarray(y, dtype=float)
    return y + np.log(-np.expm1(-y))


def _huber_loss(rows: pd.DataFrame, pred) -> float:
    """The fit's objective (:func:`_loss`) of predictions ``pred`` for ``rows``."""
    w = 1.0 / rows.op.map(rows.op.value_counts()).to_numpy(float)
    r = np.log(np.asarray(pred, dtype=float)) - np.log(rows.time_s.to_numpy(float))
    a = np.abs(r)
    h = np.where(a <= HUBER_DELTA, 0.5 * r * r, HUBER_DELTA * (a - 0.5 * HUBER_DELTA))
    return float(np.sum(w / w.sum() * h) / HUBER_DELTA)


def _predict(raw, fixed, data):
    """Predicted times (float64) from unconstrained ``raw`` params (see module doc)."""
    p = {**fixed, **raw}
    c, d = data["class_id"], data["dtype_id"]
    e_c = jax.nn.sigmoid(p["u_compute"])[c, d]
    f_half = jnp.exp(p["v_compute_half_flop"])[c, d]
    e_m = jax.nn.sigmoid(p["u_memory"])[c]
    b_half = jnp.exp(p["v_memory_half_bytes"])[c]
    t_k = jnp.exp(p["v_kernel_overhead_s"])[jnp.minimum(c, p["v_kernel_overhead_s"].shape[-1] - 1)]
    flops = data["flops"]
    if "w_gemm_rows_half" in p:  # GEMM-shape term: padded work F / u(M), u = M / (M + softplus(w))
        flops = flops / roofline.gemm_row_utilisation(data["gemm_rows"], jax.nn.softplus(p["w_gemm_rows_half"]))
    t_kernel = roofline.kernel_time_s(flops, data["bytes_moved"], data["peak"], data["bandwidth"],
                                      e_c, e_m, f_half, b_half, t_k)
    e_l = jax.nn.sigmoid(p["u_link"])
    alpha = jnp.exp(p["v_link_latency_s"])
    t_coll = collective_time_s(data["bytes_moved"], data["num_workers"], data["link_bw"], e_l, alpha, data["is_ag"])
    return jnp.where(data["is_coll"], t_coll, t_kernel)


def _loss(raw, fixed, data):
    r = jnp.log(_predict(raw, fixed, data)) - jnp.log(data["time_s"])
    return jnp.sum(data["weight"] * optax.losses.huber_loss(r, delta=HUBER_DELTA)) / HUBER_DELTA


@float64()
def predict_rows(rows: pd.DataFrame, params: dict[str, float], peak_flops_per_s, bandwidth_bytes_per_s,
                 link_bytes_per_s=1.0, link_latency_s: float = 0.0,
                 per_dtype: dict[str, dict[str, float]] | None = None,
                 classes: dict[str, dict[str, float]] | None = None,
                 class_per_dtype: dict[str, dict[str, float]] | None = None) -> np.ndarray:
    """Predicted time (s) of every row with efficiency ``params`` (NumPy float64 array).

    GEMM/memory rows use :func:`simulator.roofline.kernel_time_s`; collective rows use
    :func:`collective_time_s` (all-reduce). ``per_dtype`` overrides ``compute`` /
    ``compute_half_flop`` for the rows of that dtype. ``classes`` (class -> fields, as
    ``hardware_db.Efficiency.classes``) overrides the curve of the rows of each class
    (:func:`row_classes`), ``class_per_dtype`` the GEMM class's compute per dtype.
    """
    rows = rows.reset_index(drop=True)
    n = len(rows)
    val = {f: np.full(n, params[f], dtype=float) for f in EFFICIENCY_FIELDS}
    val[GEMM_SHAPE_FIELD] = np.zeros(n)
    dt = rows.dtype.astype(str).to_numpy()
    for d, pd_ in (per_dtype or {}).items():
        mask = dt == d
        val["compute"][mask] = pd_["compute"]
        val["compute_half_flop"][mask] = pd_["compute_half_flop"]
    if classes:
        rc = row_classes(rows)
        for c, over in classes.items():
            for f, v in over.items():
                val[f][rc == c] = v
        val[GEMM_SHAPE_FIELD][rc != "gemm"] = 0.0
        for d, pd_ in (class_per_dtype or {}).items():
            mask = (rc == "gemm") & (dt == d)
            val["compute"][mask] = pd_["compute"]
            val["compute_half_flop"][mask] = pd_["compute_half_flop"]
    flops = rows.flops.to_numpy(float)
    if (val[GEMM_SHAPE_FIELD] > 0).any() and "m" in rows:
        rows_m = np.where(val[GEMM_SHAPE_FIELD] > 0, rows["m"].to_numpy(float), 0.0)
        flops = np.asarray(flops / roofline.gemm_row_utilisation(rows_m, val[GEMM_SHAPE_FIELD]))
    t_kernel = roofline.kernel_time_s(flops, rows.bytes_moved.to_numpy(float),
                                      jnp.asarray(peak_flops_per_s, dtype=float),
                                      jnp.asarray(bandwidth_bytes_per_s, dtype=float),
                                      val["compute"], val["memory"], val["compute_half_flop"],
                                      val["memory_half_bytes"], val["kernel_overhead_s"])
    nw = rows["num_workers"].to_numpy(float) if "num_workers" in rows else np.ones(n)
    t_coll = collective_time_s(rows.bytes_moved.to_numpy(float), nw, jnp.asarray(link_bytes_per_s, dtype=float),
                               val["link"], link_latency_s, (rows.op == "all_gather").to_numpy())
    out = jnp.where((rows.kind == "collective").to_numpy(), t_coll, t_kernel)
    return np.asarray(out, dtype=np.float64)


# ------------------------------------------------------------------------------ device-level helpers
def device_rates(rows: pd.DataFrame, device, vector_peak: bool = False) -> tuple[np.ndarray, float, float, float]:
    """Per-row dense peak of the row's dtype, main-memory bandwidth, intra-node link bandwidth and
    latency of ``device`` (link 1 B/s and 0 s when the device has no link).

    ``vector_peak``: elementwise rows (:func:`row_classes`) get the device's vector peak (fp32 when
    the catalog lists it, else the row's dtype), as ``simulator.hw.build_hw`` prices vector work;
    the per-class fit and predictions with per-class efficiencies use it.
    """
    peaks = {d: device.peak(d) for d in rows.dtype.astype(str).unique() if d in device.peak_flops_per_s}
    missing = sorted(set(rows.dtype.astype(str)) - set(peaks))
    if missing:
        raise CalibrationError(f"device '{device.name}' has no peak rate for dtype(s) {missing}; "
                               f"it has: {', '.join(device.peak_flops_per_s)}")
    link = device.intra_node_link
    peak = rows.dtype.astype(str).map(peaks).to_numpy(float)
    if vector_peak and "fp32" in device.peak_flops_per_s:
        peak = np.where(row_classes(rows) == "elementwise", device.peak("fp32"), peak)
    return (peak, float(device.memory.bandwidth_bytes_per_s),
            float(link.bandwidth_bytes_per_s) if link else 1.0, float(link.latency_s) if link else 0.0)


__all__ = ["CLASS_CURVE_FIELDS", "EFFICIENCY_FIELDS", "GEMM_SHAPE_FIELD", "HUBER_DELTA", "KERNEL_CLASSES",
           "EfficiencyFit", "collective_time_s", "device_rates", "predict_rows", "row_classes"]
