"""The one layout rule of training: which parallel layouts are valid, and why not (vectorised).

Used by ``simlab predict train`` (:func:`check_layout`), the layout search
(``simulator.training.layouts.enumerate_layouts``), the planner
(``simulator.planner.training_plan``) and training sweeps (``simulator.design_space.training``):
each calls :func:`layout_violations` on NumPy arrays (one layout or millions) and gets, per
layout, 0 (valid) or the number of the first rule it breaks; :func:`explain` turns that number
into a one-line human message.

Rules, in the order they are checked (``L`` layers, ``H`` heads, ``E`` experts, ``N`` devices,
``B`` global batch in sequences, ``s`` sequence length, ``m = B / (b dp)`` micro-batches):

 1. every degree (tp, pp, dp, cp, ep, micro-batch b, virtual stages v) is an integer >= 1
 2. ``tp pp dp cp = N``
 3. ``tp <= devices per node`` (tensor parallelism stays inside a node, Narayanan et al. 2021 Sec. 3)
 4. ``H mod tp = 0``
 5. ``B mod (b dp) = 0``
 6. ``s mod cp = 0``
 7. ``v > 1`` needs ``pp > 1`` and ``m mod pp = 0`` (interleaved 1F1B, Narayanan et al. 2021 Sec. 2.2.2)
 8. pipeline stages: without first/last-stage sizes, ``L mod (pp v) = 0`` (Megatron-LM's even
    split); with them (Megatron-LM ``--decoder-first-pipeline-num-layers`` /
    ``--decoder-last-pipeline-num-layers``), the ``pp - 2`` middle stages split the remaining
    ``L - first - last`` layers evenly and every middle stage holds at least ``v`` layers (one per
    model chunk), the first and last at least ``max(v - 1, 1)``: the embedding, and the output layer
    with the loss, may fill a chunk alone (Llama 3, arXiv:2407.21783 Sec. 3.3.2: 126 layers on
    pp 16 as 7 + 14 x 8 + 7, "the first model chunk on the first stage has only the embedding");
    ``pp = 1`` takes no first/last sizes and ``pp = 2`` needs ``first + last = L``
 9. ``ep = 1``, or an MoE model with ``E mod ep = 0`` and ``dp mod ep = 0``
10. ZeRO stage in 0..3, and ZeRO >= 2 is not combined with ``pp > 1`` (DeepSpeed refuses it)
11. optimizer offload needs ZeRO >= 1 (it moves the sharded optimizer state)
"""

from __future__ import annotations

import numpy as np

from simulator.errors import ConfigError

MESSAGES = {
    1: "every parallel degree (tp, pp, dp, cp, ep, micro_batch, virtual_stages) must be an integer >= 1",
    2: "tp x pp x dp x cp = {tp} x {pp} x {dp} x {cp} = {devices_used} does not equal the device count {num_devices}",
    3: "tp = {tp} is larger than a node ({devices_per_node} devices); tensor parallelism stays inside a node",
    4: "tp = {tp} does not divide the model's {heads} attention heads",
    5: "global batch {global_batch} is not divisible by micro_batch x dp = {micro_batch} x {dp}",
    6: "sequence length {seq_len} is not divisible by cp = {cp}",
    7: "virtual_stages = {virtual_stages} (interleaved schedule) needs pp > 1 and a micro-batch count that is "
       "a multiple of pp = {pp}",
    8: "the model's {layers} layers do not split into pp = {pp} stages x virtual_stages = {virtual_stages} "
       "(first/last stage layers {first_stage_layers}/{last_stage_layers}, 0 = even split): the middle "
       "stages must share the rest evenly and hold at least virtual_stages layers each, the first and last "
       "stages at least virtual_stages - 1 (the embedding / the output layer may fill a chunk alone) "
       "(--first-stage-layers/--last-stage-layers)",
    9: "ep = {ep} must divide dp = {dp} and the model's {experts} experts (MoE models only)",
    10: "ZeRO stage {zero} is not allowed here: stages are 0-3, and ZeRO >= 2 cannot be combined with pp > 1",
    11: "optimizer offload needs ZeRO stage >= 1 (it moves the sharded optimizer state)",
}


#: One short line per rule (for tables of many layouts; :func:`explain` fills in the numbers).
RULES = {
    1: "parallel degrees must be integers >= 1",
    2: "tp x pp x cp does not divide the device count (dp = devices / (tp pp cp))",
    3: "tp is larger than a node",
    4: "tp does not divide the attention heads",
    5: "global batch is not divisible by micro_batch x dp",
    6: "sequence length is not divisible by cp",
    7: "virtual_stages > 1 needs pp > 1 and micro-batches a multiple of pp",
    8: "layers do not split into the pipeline stages (give first/last stage layers)",
    9: "ep must divide dp and the expert count (MoE only)",
    10: "ZeRO stage must be 0-3 and not >= 2 with pp > 1",
    11: "offload needs ZeRO >= 1",
}


def _a(x):
    return np.asarray(x, dtype=np.float64)


def _indivisible(a, b):
    """``a mod max(b, 1) != 0`` for integer-valued float arrays, by one division (exact for integers
    below 2**52: a quotient is a whole number only when the division is exact); about 3x faster than
    ``np.mod`` on a million rows. Non-finite quotients count as indivisible, as ``np.mod`` gives NaN."""
    q = a / np.maximum(b, 1.0)
    return ~np.isfinite(q) | (q != np.floor(q))


def stage_layers(layers, pp, first_stage_layers=0, last_stage_layers=0):
    """``(first, middle, last, busiest)`` layers per pipeline stage (NumPy or JAX arrays).

    Without first/last sizes (0) every stage holds ``L / pp`` (ceil for the busiest); with them the
    ``pp - 2`` middle stages hold ``(L - first - last) / (pp - 2)`` each. ``busiest`` is the largest.
    """
    xp = _xp(layers, pp, first_stage_layers, last_stage_layers)
    L, p = xp.asarray(layers, dtype=float), xp.asarray(pp, dtype=float)
    f, la = xp.asarray(first_stage_layers, dtype=float), xp.asarray(last_stage_layers, dtype=float)
    uneven = (f > 0) | (la > 0)
    even = xp.ceil(L / xp.maximum(p, 1.0))
    middle = xp.where(p > 2, (L - f - la) / xp.maximum(p - 2.0, 1.0), 0.0)
    first = xp.where(uneven, f, even)
    last = xp.where(uneven, la, even)
    mid = xp.where(uneven, middle, even)
    busiest = xp.maximum(xp.maximum(first, last), xp.where(p > 2, mid, 0.0))
    return first, mid, last, busiest


def _xp(*xs):
    """numpy, or jax.numpy when any argument is a JAX array (the step model calls this under jit)."""
    if any(type(x).__module__.startswith("jax") for x in xs):
        import jax.numpy as jnp

        return jnp
    return np


def layout_violations(*, layers, heads, experts, num_devices, global_batch, seq_len, tp, pp, dp, cp=1, ep=1,
                      micro_batch=1, virtual_stages=1, zero=0, offload=0, first_stage_layers=0,
                      last_stage_layers=0, devices_per_node=np.inf) -> np.ndarray:
    """Per layout: 0 if valid, else the number of the first broken rule (module docstring). Broadcasts."""
    L, H, E = _a(layers), _a(heads), _a(experts)
    N, B, S = _a(num_devices), _a(global_batch), _a(seq_len)
    t, p, d, c, e, b, v = (_a(x) for x in (tp, pp, dp, cp, ep, micro_batch, virtual_stages))
    z, of, f, la, dpn = _a(zero), _a(offload), _a(first_stage_layers), _a(last_stage_layers), _a(devices_per_node)
    shape = np.broadcast_shapes(*(np.shape(x) for x in (L, H, E, N, B, S, t, p, d, c, e, b, v, z, of, f, la, dpn)))
    code = np.zeros(shape, dtype=np.int64)

    def rule(k, bad):
        nonlocal code
        code = np.where((code == 0) & np.broadcast_to(bad, shape), k, code)

    degrees = np.stack(np.broadcast_arrays(t, p, d, c, e, b, v))
    rule(1, np.any((degrees < 1) | (degrees != np.round(degrees)) | ~np.isfinite(degrees), axis=0)
         | (B < 1) | (S < 1))
    safe = lambda x: np.maximum(x, 1.0)  # noqa: E731
    rule(2, t * p * d * c != N)
    rule(3, t > dpn)
    rule(4, _indivisible(H, t))
    rule(5, _indivisible(B, b * d))
    rule(6, _indivisible(S, c))
    m = B / safe(b * d)
    rule(7, (v > 1) & ((p <= 1) | _indivisible(m, p)))
    uneven = (f > 0) | (la > 0)
    even_bad = _indivisible(L, p * v)
    middle = L - f - la
    # first / last stage: the embedding / the output layer and loss may fill one chunk alone (Llama 3,
    # arXiv:2407.21783 Sec. 3.3.2: "the first model chunk on the first stage has only the embedding,
    # and the last model chunk on the last stage has only output projection and loss calculation")
    uneven_bad = ((p <= 1) | (f < v - 1) | (la < v - 1) | (f < 1) | (la < 1) | (middle < 0)
                  | ((p == 2) & (middle != 0))
                  | ((p > 2) & (_indivisible(middle, p - 2) | (middle / safe(p - 2) < v))))
    rule(8, (p > L) | np.where(uneven, uneven_bad, even_bad))
    rule(9, (e > 1) & ((E == 0) | _indivisible(E, e) | _indivisible(d, e)))
    rule(10, (z < 0) | (z > 3) | (z != np.round(z)) | ((z >= 2) & (p > 1)))
    rule(11, (of > 0) & (z < 1))
    return code


#: Serving layouts (``simlab predict serve``, serving sweeps): rule number -> one-line message.
SERVE_MESSAGES = {
    1: "tp = {tp} does not divide the {heads} attention heads of the model",
    2: "pp = {pp} exceeds the model's {layers} layers",
    3: "ep = {ep} but it is a dense model; allowed: ep = 1",
    4: "ep = {ep} must divide the model's {experts} experts and tp x dp = {tp} x {dp} (expert parallelism pools "
       "the tokens of the dp replicas)",
    5: "chunk = {chunk} with batch = {batch} leaves no prefill budget (the batch's decode tokens use the whole "
       "chunk); allowed: chunk = 0 or chunk > batch",
}
SERVE_RULES = {1: "tp does not divide the attention heads", 2: "pp exceeds the layers", 3: "ep > 1 for a dense model",
               4: "ep must divide num_experts and tp * dp",
               5: "chunk <= batch leaves no prefill budget (chunk 0 or > batch)"}


def serving_violations(*, heads, layers, experts, tp, pp=1, ep=1, dp=1, chunk=0, batch=1) -> np.ndarray:
    """The layout rule of serving, vectorised like :func:`layout_violations`: 0 or the first broken
    rule of :data:`SERVE_MESSAGES` (pipeline stages may be uneven in serving: ``pp <= layers``)."""
    H, L, E = _a(heads), _a(layers), _a(experts)
    t, p, e, d, c, b = (_a(x) for x in (tp, pp, ep, dp, chunk, batch))
    shape = np.broadcast_shapes(*(np.shape(x) for x in (H, L, E, t, p, e, d, c, b)))
    code = np.zeros(shape, dtype=np.int64)
    for k, bad in ((1, _indivisible(H, t)), (2, p > L), (3, (e > 1) & (E == 0)),
                   (4, (e > 1) & (_indivisible(E, e) | _indivisible(t * d, e))),
                   (5, (c > 0) & (c <= b))):
        code = np.where((code == 0) & np.broadcast_to(bad, shape), k, code)
    return code


def explain(code: int, **values) -> str:
    """The one-line message of rule ``code`` with the layout's numbers filled in."""
    values = {k: (int(v) if isinstance(v, (float, np.floating)) and float(v).is_integer() else v)
              for k, v in values.items()}
    values.setdefault("devices_used", values.get("tp", 0) * values.get("pp", 0) * values.get("dp", 0)
                      * values.get("cp", 0))
    try:
        return MESSAGES[int(code)].format(**values)
    except (KeyError, IndexError):
        return MESSAGES.get(int(code), f"layout rule {code} broken")


def data_parallel_degree(num_devices: int, tp, pp, cp=1) -> int:
    """``dp = num_devices / (tp pp cp)`` for a layout given without ``dp``; a one-line
    :class:`ConfigError` with the message of rule 1 (a degree is not an integer >= 1) or a rule-2
    style message (the degrees do not divide the device count) otherwise."""
    degrees = dict(tp=tp, pp=pp, cp=cp)
    if any(isinstance(v, bool) or not np.isfinite(float(v)) or int(v) != v or v < 1 for v in degrees.values()):
        bad = ", ".join(f"{k}={v}" for k, v in degrees.items())
        raise ConfigError(f"{MESSAGES[1]}; got {bad}")
    denom = int(tp) * int(pp) * int(cp)
    if num_devices % denom:
        raise ConfigError(f"tp x pp x cp = {int(tp)} x {int(pp)} x {int(cp)} = {denom} does not divide the device "
                          f"count {num_devices}; allowed: degrees whose product divides it")
    return num_devices // denom


def check_layout(spec, num_devices: int, global_batch: int, seq_len: int, *, tp: int, pp: int, dp: int,
                 cp: int = 1, ep: int = 1, micro_batch: int = 1, virtual_stages: int = 1, zero: int = 0,
                 offload: int = 0, first_stage_layers: int = 0, last_stage_layers: int = 0,
                 devices_per_node: float | None = None) -> None:
    """Raise a one-line :class:`ConfigError` if one explicit layout breaks a rule (module docstring)."""
    vals = dict(layers=int(spec.num_layers), heads=int(spec.num_heads), experts=int(spec.num_experts),
                num_devices=num_devices, global_batch=global_batch, seq_len=seq_len, tp=tp, pp=pp, dp=dp, cp=cp,
                ep=ep, micro_batch=micro_batch, virtual_stages=virtual_stages, zero=zero, offload=offload,
                first_stage_layers=first_stage_layers, last_stage_layers=last_stage_layers,
                devices_per_node=np.inf if devices_per_node is None else devices_per_node)
    code = int(layout_violations(**vals))
    if code:
        raise ConfigError(explain(code, **vals))


__all__ = ["MESSAGES", "RULES", "SERVE_MESSAGES", "SERVE_RULES", "serving_violations", "check_layout", "data_parallel_degree", "explain", "layout_violations", "stage_layers"]
