"""The one pricing function: operator work x hardware -> seconds (serving, training, calibration).

Every time simlab predicts comes from here. An operator's work is an :class:`simulator.ops.OpCost`
(FLOP, bytes per tier, kernel launches, GEMM rows, collective payload); the hardware is a
:class:`simulator.hw.HwSpec` with the calibration profile (if any) already applied. Each operator
is priced with the roofline curve of its kernel class (``gemm``, ``attention``, ``elementwise``;
``simulator.ops.OP_INFO``), the GEMM-row term, and one collective-time function:

    t_op = max((F / u(M) + n F_half) / (P e_c), (B + n B_half) / (W e_m)) + n t_kernel
           with  u(M) = M / (M + R)   (GEMM rows; 1 when R = 0 or M unknown)

``n`` = kernel launches (0 for work fused into another kernel), ``P`` the matrix peak of the
compute dtype for gemm/attention work and the vector peak for elementwise work, ``W`` main-memory
bandwidth, ``(e_c, e_m, F_half, B_half, t_kernel, R)`` the class's curve
(``hardware_db.Efficiency.for_class``; :func:`simulator.roofline.kernel_time_s`). Elementwise
kernels have no GEMM-style start-up work (``F_half`` of the elementwise class defaults to 0; it
is memory-bound work whose start-up cost is ``B_half`` and ``t_kernel``).

Precision per operator: an operator marked ``OpInfo.lowp`` (the linear-layer GEMMs) runs in the
hardware spec's low-precision GEMM dtype (FP8/FP4): ``P -> P r_p``, ``e_c -> e_c r_e``,
``F_half -> F_half r_p r_e`` (``HwSpec.lowp_peak_ratio`` / ``lowp_eff_ratio``; both 1 without a
low-precision dtype); attention matmuls do so only with ``HwSpec.attn_lowp`` = 1 (FP8 attention).
Vector work inside a matrix kernel (weight dequantisation of W4A16 / Q4_0, ``OpCost.vec_flops``)
adds ``F_vec / (P_vec e_c)`` to its compute term, so it hides under the weight stream while the
kernel is memory-bound (MARLIN, Frantar et al. 2024) and shows once it is compute-bound.

Collectives (:func:`collective_s`): the group of ``n`` ranks spaced ``stride`` apart in the
device order (tensor parallel fastest) shares a node ``floor(devices_per_node / stride)`` at a
time; :func:`simulator.collectives.collective_time_s` prices it on the fabric (intra-node phases
on the peer links, the rest on the per-device NIC share, pipelined as NCCL runs them).

A step's time (:func:`step_time_s`) is the sum of its compute/memory operators plus the exposed
part of its collectives, ``comm - overlap min(comm, compute)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from simulator import collectives
from simulator import ops as O
from simulator.hw import HW_CLASSES, HwSpec
from simulator.roofline import compute_time_s, gemm_row_utilisation, kernel_time_s, memory_time_s

CLASS_INDEX = {c: i for i, c in enumerate(HW_CLASSES)}


def _f(x):
    return jnp.asarray(x, dtype=jnp.result_type(float))


# ------------------------------------------------------------------------------------ kernels
def price_kernels(flops, nbytes, kernels, rows, cls_idx, hw: HwSpec, on_vector=None, lowp=None, vec_flops=None):
    """Seconds and bound (1 = compute, 0 = memory) of kernels of classes ``cls_idx`` (last axis).

    ``flops``, ``nbytes``, ``kernels``, ``rows`` broadcast against ``cls_idx`` (a NumPy int array of
    class indices into :data:`simulator.hw.HW_CLASSES`, static), with the hardware's batch axes in
    front. ``on_vector`` (static bool array, default: the elementwise class) marks work that runs at
    the vector peak (e.g. the online softmax: vector work priced on the attention curve). ``lowp``
    (static bool array, default none) marks GEMMs eligible for the low-precision GEMM dtype
    (``OpInfo.lowp``); attention-class matrix work joins them when ``hw.attn_lowp`` is 1.
    ``vec_flops`` (optional): vector FLOP inside each kernel (weight dequantisation,
    ``OpCost.vec_flops``), added to its compute term at the vector peak:
    ``F_vec / (P_vec e_c)``. This is the formula of the module docstring, applied once for every
    caller.
    """
    cls_idx = np.asarray(cls_idx, dtype=int)
    vec = cls_idx == CLASS_INDEX["elementwise"] if on_vector is None else np.asarray(on_vector, dtype=bool)
    is_vec = jnp.asarray(vec)
    is_gemm = jnp.asarray(cls_idx == CLASS_INDEX["gemm"])
    low = np.zeros_like(vec) if lowp is None else np.broadcast_to(np.asarray(lowp, dtype=bool), vec.shape)
    attn_mm = (cls_idx == CLASS_INDEX["attention"]) & ~vec

    def pick(x):
        return jnp.take(x, jnp.asarray(cls_idx), axis=-1)

    # share of each kernel's matrix work in the low-precision dtype (0 or 1), its peak and efficiency
    u = jnp.where(jnp.asarray(low & ~vec), 1.0, jnp.where(jnp.asarray(attn_mm), _f(hw.attn_lowp)[..., None], 0.0))
    r_p = 1.0 + u * (_f(hw.lowp_peak_ratio)[..., None] - 1.0)
    r_e = 1.0 + u * (_f(hw.lowp_eff_ratio)[..., None] - 1.0)
    peak = jnp.where(is_vec, hw.vector_flops_per_s[..., None], hw.matrix_flops_per_s[..., None] * r_p)
    flops_c = _f(flops)
    if hw.gemm_shape:  # GEMM-shape term of the gemm class: padded work F (M + R) / M
        flops_c = flops_c / gemm_row_utilisation(jnp.where(is_gemm, rows, 0.0),
                                                 jnp.asarray(hw.gemm_rows_half)[..., None])
    if vec_flops is not None:  # vector work inside the kernel, in matrix-FLOP equivalents at this peak
        flops_c = flops_c + _f(vec_flops) * peak / hw.vector_flops_per_s[..., None]
    e_c, e_m = pick(hw.class_compute_eff) * r_e, pick(hw.class_memory_eff)
    half_f = pick(hw.class_compute_half_flop) * kernels * r_p * r_e
    half_b = pick(hw.class_memory_half_bytes) * kernels
    bw = hw.mem_bytes_per_s[..., None]
    t = kernel_time_s(flops_c, nbytes, peak, bw, e_c, e_m, half_f, half_b, pick(hw.class_kernel_overhead_s) * kernels)
    bound = jnp.where(compute_time_s(flops_c, peak, e_c, half_f) >= memory_time_s(nbytes, bw, e_m, half_b), 1, 0)
    return t, bound


def kernel_s(hw: HwSpec, flops, nbytes, cls: str = "gemm", kernels=1.0, rows=0.0):
    """Seconds of one (set of ``kernels`` identical) kernel(s) of class ``cls``: :func:`price_kernels`
    for work that is not an inventory operator (e.g. the optimizer pass over the parameters)."""
    t, _ = price_kernels(_f(flops)[..., None], _f(nbytes)[..., None], _f(kernels)[..., None],
                         _f(rows)[..., None], np.asarray([CLASS_INDEX[cls]]), hw)
    return t[..., 0]


# -------------------------------------------------------------------------------- collectives
def ranks_per_node(hw: HwSpec, stride):
    """Ranks of a group spaced ``stride`` apart that share a node: ``max(floor(devices_per_node /
    stride), 1)`` (inf for a bare device, which is one node holding every rank)."""
    return jnp.maximum(jnp.floor(_f(hw.devices_per_node) / jnp.maximum(_f(stride), 1.0)), 1.0)


def collective_s(kind: str, nbytes, n, stride, hw: HwSpec):
    """Seconds of one collective ``kind`` of ``nbytes`` per rank over ``n`` ranks spaced ``stride``.

    ``kind``: ``all_reduce`` | ``reduce_scatter`` | ``all_gather`` (``nbytes`` = the full,
    unscattered buffer) | ``all_to_all`` (what each rank sends) | ``send_recv`` (one message to
    the next stage; crosses nodes when ``stride >= devices_per_node``).

    Priced by the one collective function, :func:`simulator.collectives.collective_time_s` (NCCL's
    algorithms and protocols on the system's fabric, intra- and inter-node phases pipelined), with
    :func:`ranks_per_node` of the group in a node.
    """
    return collectives.collective_time_s(kind, nbytes, n, ranks_per_node(hw, stride), hw)


def comm_time_s(name: str, cost: O.OpCost, hw: HwSpec, tp, pp, ep):
    """Time of communication operator ``name`` of a forward step: ``calls x collective(bytes / calls)``.

    The group and stride come from ``OP_INFO[name]``: tensor-parallel collectives over ``tp``
    adjacent ranks; the expert all-to-all over ``ep`` ranks adjacent from the tensor group on;
    pipeline hand-offs to the next stage ``tp`` ranks away (crossing nodes when ``tp pp`` exceeds a
    node).
    """
    info = O.OP_INFO[name]
    calls = jnp.maximum(cost.kernels, 1.0)
    per_call = cost.comm_bytes / calls
    group = {"tp": tp, "ep": ep, "pp": pp}[info.group]
    if info.collective == "send_recv":
        stride = jnp.where(_f(tp) * _f(pp) > hw.devices_per_node, jnp.inf, 1.0)
        t = collective_s("send_recv", per_call, 2.0, stride, hw)
    else:
        t = collective_s(info.collective, per_call, group, 1.0, hw)
    return jnp.where(cost.comm_bytes > 0, calls * t, 0.0)


# ----------------------------------------------------------------------------- operator sets
def _stack_ops(ops: dict[str, O.OpCost], names):
    return {f: jnp.stack(jnp.broadcast_arrays(*[_f(getattr(ops[n], f)) for n in names]), axis=-1)
            for f in ("flops", "weight_bytes", "act_bytes", "kv_bytes", "kernels", "rows", "vec_flops")}


def _compute_op_times(ops: dict[str, O.OpCost], hw: HwSpec, weights_offloaded=0.0):
    """``(names, seconds [..., n_ops], bound [..., n_ops])`` of the non-communication operators.

    Weight bytes streamed from a slower tier (SN40L DDR, ``weights_offloaded``) count
    ``W_main / W_slow`` times. One :func:`price_kernels` call over all operators.
    """
    names = [n for n in ops if O.OP_INFO[n].kind != O.COMM]
    st = _stack_ops(ops, names)
    slow = jnp.where(hw.slow_bytes_per_s > 0, hw.slow_bytes_per_s, hw.mem_bytes_per_s)
    w_scale = jnp.where(_f(weights_offloaded) > 0, hw.mem_bytes_per_s / slow, 1.0)
    nbytes = st["weight_bytes"] * w_scale[..., None] + st["act_bytes"] + st["kv_bytes"]
    cls = np.asarray([CLASS_INDEX[O.OP_INFO[n].eff_class] for n in names])
    on_vector = np.asarray([O.OP_INFO[n].kind == O.VECTOR for n in names])
    lowp = np.asarray([O.OP_INFO[n].lowp for n in names])
    t, bound = price_kernels(st["flops"], nbytes, st["kernels"], st["rows"], cls, hw, on_vector, lowp, st["vec_flops"])
    return names, t, bound


def op_times_s(ops: dict[str, O.OpCost], hw: HwSpec, tp=1, pp=1, ep=1, weights_offloaded=0.0):
    """Time of every operator (dict name -> seconds); comm operators get their collective time."""
    names, t, _ = _compute_op_times(ops, hw, weights_offloaded)
    out = {n: t[..., i] for i, n in enumerate(names)}
    for name, cost in ops.items():
        if O.OP_INFO[name].kind == O.COMM:
            out[name] = comm_time_s(name, cost, hw, tp, pp, ep)
    return {n: out[n] for n in ops}


def op_bounds(ops: dict[str, O.OpCost], hw: HwSpec, weights_offloaded=0.0) -> dict[str, jax.Array]:
    """Per operator: 0 = memory-bound, 1 = compute-bound, 2 = communication."""
    names, _, bound = _compute_op_times(ops, hw, weights_offloaded)
    out = {n: bound[..., i] for i, n in enumerate(names)}
    for name, cost in ops.items():
        if O.OP_INFO[name].kind == O.COMM:
            out[name] = jnp.full(jnp.shape(cost.comm_bytes), 2)
    return {n: out[n] for n in ops}


def step_parts_s(ops: dict[str, O.OpCost], hw: HwSpec, tp=1, pp=1, ep=1, weights_offloaded=0.0):
    """(sum of compute/memory operator times, sum of collective times) of a step."""
    _, t, _ = _compute_op_times(ops, hw, weights_offloaded)
    comp = jnp.sum(t, axis=-1)
    names = [n for n in ops if O.OP_INFO[n].kind == O.COMM]
    shared = {"attn_allreduce", "mlp_allreduce"} <= set(names)
    comm = 0.0
    if shared:  # both move T h activations per call: one collective time, two call counts
        a, m = ops["attn_allreduce"], ops["mlp_allreduce"]
        per_call = comm_time_s("attn_allreduce", a, hw, tp, pp, ep) / jnp.maximum(a.kernels, 1.0)
        comm = per_call * (a.kernels + m.kernels)
        names = [n for n in names if n not in ("attn_allreduce", "mlp_allreduce")]
    comm = comm + sum(comm_time_s(n, ops[n], hw, tp, pp, ep) for n in names)
    return comp, comm


def step_time_s(ops: dict[str, O.OpCost], hw: HwSpec, tp=1, pp=1, ep=1, weights_offloaded=0.0, overlap=0.0):
    """Critical-path time of a step: compute/memory operators plus exposed communication."""
    comp, comm = step_parts_s(ops, hw, tp, pp, ep, weights_offloaded)
    return comp + collectives.exposed_s(comm, comp, overlap)


__all__ = [
    "CLASS_INDEX",
    "collective_s",
    "comm_time_s",
    "kernel_s",
    "op_bounds",
    "op_times_s",
    "price_kernels",
    "ranks_per_node",
    "step_parts_s",
    "step_time_s",
]
