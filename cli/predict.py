"""``simlab predict ...``: the prediction command group and its ``serve`` command.

Thin: parse, call :mod:`simulator.serving`, render (a rich table for people, JSON with SI-unit
keys for machines). Other ``predict`` commands live in their own modules and attach themselves
with a ``register(predict_app)`` function (see :data:`EXTENSIONS` at the bottom of this file).
"""

from __future__ import annotations

import typer

from cli.render import format_si, print_json, print_table
from cli.validation import (
    ALLOW_NO_FIT_HELP,
    InputError,
    check_options,
    emit_warnings,
    exclusive,
    require_serve_fits,
)

predict_app = typer.Typer(
    name="predict",
    help="Predict serving and training performance, losses and optimal plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _render_serve(r: dict) -> None:
    lay = f"tp={r['tp']} pp={r['pp']} ep={r['ep']} dp={r['dp']}"
    dt = (f"compute {r['compute_dtype']}, weights {8 * r['weight_bytes_per_param']:.3g} bit, "
          f"KV {8 * r['kv_bytes_per_elem']:.3g} bit")
    rows = [
        ("model / hardware", f"{r['model']} on {r['hardware']} ({int(r['devices'])} devices)"),
        ("layout", lay),
        ("precision", dt),
        ("batch x input / output", f"{r['batch']} x {r['input_len']} / {r['output_len']} tokens"),
        ("serving engine", f"{r.get('engine', 'none')} (host time per decode step {format_si(r.get('engine_decode_s', 0.0), 's')})"),
        ("TTFT (prefill)", format_si(r["ttft_s"], "s")),
        ("TPOT at last context", format_si(r["tpot_s"], "s")),
        ("TPOT averaged", format_si(r["tpot_avg_s"], "s")),
        ("end-to-end latency", format_si(r["e2e_latency_s"], "s")),
        ("output tokens/s", format_si(r["output_tokens_per_s"], "tok/s")),
        ("total tokens/s", format_si(r["total_tokens_per_s"], "tok/s")),
        ("memory per device", f"{format_si(r['memory_bytes'], 'B')} of {format_si(r['capacity_bytes'], 'B')}"),
        ("  weights / KV / activations / workspace", " / ".join(
            format_si(r[k], "B") for k in ("weights_bytes", "kv_cache_bytes", "activation_bytes", "workspace_bytes"))),
        ("fits", "yes" if r["fits"] else f"NO: short by {format_si(r['shortfall_bytes'], 'B')}"),
        ("largest batch that fits", f"{int(r['max_batch'])}"),
        ("energy per output token", format_si(r["energy_per_output_token_j"], "J")),
    ]
    if r.get("draft_model"):
        rows.append(("speculative tokens per step", f"{r['spec_tokens_per_step']:.3g} (draft {r['draft_model']})"))
    if r["model_switch_s"] == r["model_switch_s"]:  # not NaN: the device has a slower tier
        rows.append(("model switch (slow tier -> main)", format_si(r["model_switch_s"], "s")))
    print_table("simlab predict serve", ["quantity", "value"], rows)
    for phase in ("prefill", "decode"):
        ops = r.get(f"breakdown_{phase}")
        if not ops:
            continue
        total = sum(o["time_s"] for o in ops) or 1.0
        print_table(
            f"per-operator breakdown: {phase} step (summed over layers)",
            ["op", "time", "share", "FLOP", "bytes", "comm bytes", "bound"],
            [(o["op"], format_si(o["time_s"], "s"), f"{100 * o['time_s'] / total:.1f}%", format_si(o["flops"]),
              format_si(o["weight_bytes"] + o["act_bytes"] + o["kv_bytes"], "B"), format_si(o["comm_bytes"], "B"),
              o["bound"]) for o in ops],
        )


@predict_app.command("serve")
def serve(
    model: str = typer.Option(..., "--model", help="Model name from `simlab models list`, or a config path."),
    hardware: str = typer.Option(None, "--hardware", help="Device name, alias or TOML path (e.g. h100-sxm)."),
    system: str = typer.Option(None, "--system", help="System name (e.g. dgx-h100) for multi-node layouts."),
    tp: int = typer.Option(1, "--tp", help="Tensor-parallel degree."),
    pp: int = typer.Option(1, "--pp", help="Pipeline stages."),
    ep: int = typer.Option(1, "--ep", help="Expert-parallel degree (MoE; divides tp * dp)."),
    dp: int = typer.Option(1, "--dp", help="Independent replicas (batch is per replica)."),
    batch: int = typer.Option(1, "--batch", help="Concurrent sequences per replica."),
    input_len: int = typer.Option(1024, "--input", help="Prompt tokens per request."),
    output_len: int = typer.Option(128, "--output", help="Generated tokens per request."),
    weight_dtype: str = typer.Option(None, "--weight-dtype", help="bf16, fp16, fp8, int8, int4, fp4, q4_0, q8_0, ..."),
    act_dtype: str = typer.Option(None, "--act-dtype", help="Activation/compute dtype (default: bf16, fp16 or fp32)."),
    kv_dtype: str = typer.Option(None, "--kv-dtype", help="KV-cache dtype (default: the activation dtype)."),
    chunk: int = typer.Option(0, "--chunk", help="Chunked prefill: tokens per iteration (0 = static batching)."),
    block_size: int = typer.Option(16, "--block-size", help="Paged-KV block size in tokens."),
    weights_in: str = typer.Option("main", "--weights-in", help="main, or ddr: stream weights from the slow tier."),
    tp_overlap: float = typer.Option(0.0, "--tp-overlap", help="Fraction of collective time hidden by compute."),
    draft_model: str = typer.Option(None, "--draft-model", help="Speculative decoding: draft model name."),
    gamma: int = typer.Option(0, "--gamma", help="Speculative lookahead (tokens proposed per step)."),
    acceptance: float = typer.Option(0.0, "--acceptance", help="Speculative per-token acceptance rate."),
    prefill_tp: int = typer.Option(0, "--prefill-tp", help="Disaggregation: TP of a separate prefill pool (0 = off)."),
    prefill_dp: int = typer.Option(1, "--prefill-dp", help="Disaggregation: replicas in the prefill pool."),
    breakdown: bool = typer.Option(False, "--breakdown", help="Per-operator time, FLOP, bytes and bound."),
    json_out: bool = typer.Option(False, "--json", help="JSON with SI-unit keys instead of a table."),
    calibration: str = typer.Option(None, "--calibration", help="Calibration profile (JSON) for the device, or 'default' (the shipped profile, when it qualifies as a default)."),
    engine: str = typer.Option("none", "--engine", help="Serving engine whose host/framework time is added to every step: vllm (>= v0.6), vllm-v0.5, tensorrt-llm (PyTorch backend), sglang, llama.cpp, or none (the default: the bare kernel sequence)."),
    allow_no_fit: bool = typer.Option(False, "--allow-no-fit", help=ALLOW_NO_FIT_HELP),
) -> None:
    """Latency, throughput and memory of serving MODEL on HARDWARE with a layout and precision."""
    warnings = _check_serve_inputs(model=model, hardware=hardware, system=system, tp=tp, pp=pp, ep=ep, dp=dp,
                                   batch=batch, input_len=input_len, output_len=output_len, chunk=chunk,
                                   block_size=block_size, weights_in=weights_in, tp_overlap=tp_overlap,
                                   draft_model=draft_model, gamma=gamma, acceptance=acceptance,
                                   prefill_tp=prefill_tp, prefill_dp=prefill_dp, calibration=calibration)
    if prefill_tp:
        from simulator.disaggregation import predict_disaggregated
        from simulator.serving import apply_calibration, resolve_dtypes, resolve_hardware

        hw_obj = resolve_hardware(hardware, system)
        if calibration is not None:
            hw_obj = apply_calibration(hw_obj, calibration, resolve_dtypes(hw_obj, weight_dtype, act_dtype, kv_dtype)[0])
        r = predict_disaggregated(model, None if system else hw_obj, system=hw_obj if system else None, batch=batch, input_len=input_len,
                                  output_len=output_len, prefill_tp=prefill_tp, prefill_dp=prefill_dp,
                                  decode_tp=tp, decode_dp=dp, weight_dtype=weight_dtype, act_dtype=act_dtype,
                                  kv_dtype=kv_dtype, block_size=block_size, engine=engine)
        emit_warnings(warnings, r)
        if json_out:
            print_json(r)
        else:
            print_table("simlab predict serve (disaggregated prefill/decode)", ["quantity", "value"],
                        [(k, format_si(v) if isinstance(v, float) else str(v)) for k, v in r.items()])
        return
    from simulator.serving import predict_serve

    r = predict_serve(model, hardware, system=system, batch=batch, input_len=input_len, output_len=output_len,
                      tp=tp, pp=pp, ep=ep, dp=dp, weight_dtype=weight_dtype, act_dtype=act_dtype,
                      kv_dtype=kv_dtype, chunk=chunk, block_size=block_size, weights_in=weights_in,
                      tp_overlap=tp_overlap, draft_model=draft_model, spec_gamma=gamma, spec_accept=acceptance,
                      with_breakdown=breakdown, calibration=calibration, engine=engine)
    from simulator.guards import check_serve

    check_serve(r, {"model": model, "hardware": hardware or system, "batch": batch, "input": input_len,
                    "output": output_len, "tp": tp, "pp": pp, "ep": ep, "dp": dp, "chunk": chunk or None})
    if not allow_no_fit:
        require_serve_fits(r, model=model, batch=batch)
    emit_warnings(warnings, r)
    if json_out:
        print_json(r)
    else:
        _render_serve(r)


def _check_serve_inputs(*, model, hardware, system, tp, pp, ep, dp, batch, input_len, output_len, chunk,
                        block_size, weights_in, tp_overlap, draft_model, gamma, acceptance, prefill_tp, prefill_dp,
                        calibration) -> list[str]:
    """Option ranges (cli.validation), combinations the simulator cannot answer, and domain warnings."""
    check_options(batch=batch, input=input_len, output=output_len, tp=tp, pp=pp, ep=ep, dp=dp, chunk=chunk,
                  block_size=block_size, weights_in=str(weights_in).strip().lower(), tp_overlap=tp_overlap,
                  gamma=gamma, acceptance=acceptance, prefill_tp=prefill_tp, prefill_dp=prefill_dp)
    exclusive(hardware=hardware, system=system)
    if hardware is None and system is None:
        raise InputError("give --hardware (a device) or --system (a node or cluster); `simlab hardware list` "
                         "shows both")
    if chunk and chunk <= batch:
        # Sarathi-style chunked prefill: each iteration decodes the `batch` running sequences and fills
        # the rest of the chunk with prompt tokens; chunk <= batch leaves no room, so no request starts
        raise InputError(f"--chunk {chunk} with --batch {batch}: each iteration's {chunk}-token budget is used up "
                         "by the batch's decode tokens, so no prompt is ever prefilled; allowed: --chunk 0 "
                         f"(static batching) or --chunk > --batch (e.g. {max(512, 2 * batch)})")
    if calibration is not None and not str(calibration).strip():
        raise InputError("--calibration is empty; allowed: a profile path or 'default'")
    warnings: list[str] = []
    from simulator.models import load_model

    spec = load_model(model)
    context = input_len + output_len
    if spec.max_context and context > spec.max_context:
        warnings.append(f"--input {input_len} + --output {output_len} = {context} tokens exceeds model "
                        f"'{spec.name}' maximum context of {spec.max_context}; the prediction assumes the model "
                        "could run at that length")
    if draft_model is not None:
        draft = load_model(draft_model)
        if abs(draft.vocab_size - spec.vocab_size) > 0.02 * spec.vocab_size:
            raise InputError(f"--draft-model '{draft.name}' has a vocabulary of {draft.vocab_size} tokens, model "
                             f"'{spec.name}' {spec.vocab_size}: a draft must share the target's tokenizer; allowed: "
                             "a draft model of the same family")
    if system is not None:
        from hardware_db import load_system

        node = load_system(system).devices_per_node
        if tp > node:
            warnings.append(f"--tp {tp} spans more than one node of {node} devices; tensor parallelism is "
                            "normally kept inside a node (its all-reduces then run over the inter-node network)")
    return warnings


# Other `predict` commands live in their own modules; each defines `register(predict_app)`.
def _register_extensions() -> None:
    from cli import predict_loss, predict_optimal, predict_train, predict_tts

    for module in (predict_loss, predict_train, predict_optimal, predict_tts):
        module.register(predict_app)


_register_extensions()
