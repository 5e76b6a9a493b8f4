"""``simlab predict train``: step time, MFU, memory and time-to-train of a training layout, or a search.

Attached to the ``predict`` group by :func:`register` (the group itself lives in ``cli/predict.py``).
Thin: parse, call :mod:`simulator.training`, render (rich tables, or JSON in SI units).
"""

from __future__ import annotations

import dataclasses

import typer

from cli.render import format_si, print_json, print_table
from cli.validation import ALLOW_NO_FIT_HELP, InputError


def _fmt_layout(lay: dict) -> str:
    return (f"tp={lay['tp']} pp={lay['pp']} dp={lay['dp']} cp={lay['cp']} ep={lay['ep']} mb={lay['micro_batch']} "
            f"v={lay['virtual_stages']} recompute={lay['recompute']} zero={lay['zero']} offload={lay['offload']}")


def _render_prediction(title: str, r: dict) -> None:
    mem = r["memory"]
    rows = [
        ("layout", _fmt_layout(r["layout"])),
        ("step time", format_si(r["step_time_s"], "s")),
        ("  compute (incl. recompute)", format_si(r["compute_s"], "s")),
        ("  pipeline bubble", format_si(r["bubble_s"], "s")),
        ("  TP comm (exposed)", format_si(r["tp_comm_s"], "s")),
        ("  PP send/recv", format_si(r["pp_comm_s"], "s")),
        ("  DP / ZeRO comm (exposed)", format_si(r["dp_comm_s"], "s")),
        ("  CP / EP comm (exposed)", format_si(r["cp_comm_s"] + r["ep_comm_s"], "s")),
        ("  optimizer", format_si(r["optimizer_s"], "s")),
        ("  stragglers (expected)", format_si(r["straggler_s"], "s")),
        ("MFU / HFU", f"{100 * r['mfu']:.1f}% / {100 * r['hfu']:.1f}%"),
        ("throughput", format_si(r["tokens_per_s"], "tokens/s")),
        ("memory per device", f"{format_si(mem['total_bytes'], 'B')} of {format_si(mem['capacity_bytes'], 'B')}"),
        ("  weights / grads / optimizer", " / ".join(format_si(mem[k], "B") for k in
                                                     ("weights_bytes", "gradients_bytes", "optimizer_bytes"))),
        ("  activations / buffers", f"{format_si(mem['activation_bytes'], 'B')} / {format_si(mem['buffer_bytes'], 'B')}"),
    ]
    if mem["offloaded_bytes"] > 0:
        rows.append(("  offloaded to host/NVMe", format_si(mem["offloaded_bytes"], "B")))
    rows.append(("fits", "yes" if r["fits"] else f"NO: short by {format_si(mem['shortfall_bytes'], 'B')}"))
    if "train_time_s" in r:
        rows += [
            ("tokens to train", format_si(r["tokens"], "")),
            ("wall-clock", f"{r['train_days']:.3g} days"),
            ("device-hours", format_si(r["device_hours"], "h")),
            ("energy (TDP)", f"{format_si(r['energy_kwh'] * 1e3, 'Wh')} ({format_si(r['energy_j'], 'J')})"),
            ("cost", "-" if r["cost_usd"] != r["cost_usd"] else f"${r['cost_usd']:,.0f}"),
        ]
        if "reliability" in r:
            rows[-4] = ("ideal wall-clock", rows[-4][1])
            rows += _reliability_rows(r["reliability"])
    print_table(title, ["quantity", "value"], rows)


def _add_reliability(r: dict, model, system, gpus, every, mode, no_failures, scale, dev_rate_h, node_rate_h,
                     storage_gbps, restart_s) -> dict:
    """Failures, checkpoints and restarts on top of the ideal time-to-train (simulator.reliability)."""
    import dataclasses as dc

    from hardware_db import load_system
    from simulator.models import load_model
    from simulator.reliability import (
        LLAMA3_405B,
        ReliabilityOptions,
        parse_checkpoint_every,
        with_reliability,
    )
    from simulator.reliability.checkpoint import positive


    for flag, v, zero_ok in (("--failure-scale", scale, True), ("--device-failures-per-hour", dev_rate_h, True),
                             ("--node-failures-per-hour", node_rate_h, True), ("--storage-gbps", storage_gbps, False),
                             ("--restart-s", restart_s, True)):
        if v is not None:
            positive(flag, v, allow_zero=zero_ok)
    fm = LLAMA3_405B.scaled(scale)
    if dev_rate_h is not None or node_rate_h is not None:
        fm = dc.replace(fm, device_rate_per_s=(fm.device_rate_per_s if dev_rate_h is None else dev_rate_h / 3600.0),
                        node_rate_per_s=(fm.node_rate_per_s if node_rate_h is None else node_rate_h / 3600.0),
                        source=f"{fm.source}; overridden on the command line")
    sysm = load_system(system) if isinstance(system, str) else system
    inter = getattr(getattr(sysm, "inter_node_link", None), "bandwidth_bytes_per_s", None)
    kw = {"failures": fm, "checkpoint_every_s": parse_checkpoint_every(every), "mode": mode,
          "inter_node_bytes_per_s": inter}
    if storage_gbps is not None:
        kw["storage_bytes_per_s"] = storage_gbps * 1e9
    if restart_s is not None:
        kw["restart_overhead_s"] = restart_s
    params = load_model(model).total_params() if isinstance(model, str) else model.total_params()
    return with_reliability(r, float(params), int(sysm.devices_per_node), ReliabilityOptions(**kw),
                            enabled=not no_failures)


def _reliability_rows(rel: dict) -> list[tuple[str, str]]:
    if not rel["enabled"]:
        return [("reliability", "ideal (--no-failures): ETTR 100%")]
    days = lambda s: f"{s / 86400:.3g} days"  # noqa: E731
    return [
        ("job MTBF", format_si(rel["mtbf_s"] / 3600, "h")),
        ("expected interruptions", f"{rel['expected_failures']:.0f} unexpected + "
                                   f"{rel['expected_planned_interruptions']:.0f} planned"),
        ("checkpoint", f"{format_si(rel['checkpoint_bytes'], 'B')} {rel['checkpoint_mode']}, "
                       f"{format_si(rel['checkpoint_blocking_s'], 's')} blocking, every "
                       f"{format_si(rel['checkpoint_interval_s'], 's')} ({rel['checkpoint_interval_rule']})"),
        ("  checkpoint overhead", days(rel["checkpoint_overhead_s"])),
        ("  restarts (incl. load)", days(rel["restart_overhead_s"] + rel["planned_restart_s"])),
        ("  lost work", days(rel["lost_work_s"])),
        ("ETTR", f"{100 * rel['ettr']:.1f}%"),
        ("expected wall-clock", days(rel["expected_wall_s"])),
        ("expected device-hours", format_si(rel["expected_device_hours"], "h")),
        ("expected cost", "-" if rel["expected_cost_usd"] != rel["expected_cost_usd"]
         else f"${rel['expected_cost_usd']:,.0f}"),
    ]


def register(predict_app: typer.Typer) -> None:
    """Add the ``train`` command to the ``predict`` Typer group."""

    @predict_app.command("train")
    def train(
        model: str = typer.Option(..., "--model", help="Model name from `simlab models list` (or a TOML path)."),
        system: str = typer.Option(..., "--system", help="System name from `simlab hardware` (or a TOML path)."),
        gpus: int = typer.Option(..., "--gpus", help="Number of devices in the job."),
        global_batch: int = typer.Option(..., "--global-batch", help="Sequences per optimizer step."),
        seq: int = typer.Option(2048, "--seq", help="Sequence length (tokens)."),
        tp: int = typer.Option(1, "--tp", help="Tensor-parallel degree (kept inside a node)."),
        pp: int = typer.Option(1, "--pp", help="Pipeline-parallel degree."),
        dp: int = typer.Option(None, "--dp", help="Data-parallel degree (default: gpus / (tp pp cp))."),
        cp: int = typer.Option(1, "--cp", help="Context-parallel degree (ring attention)."),
        ep: int = typer.Option(1, "--ep", help="Expert-parallel degree (MoE)."),
        micro_batch: int = typer.Option(1, "--micro-batch", help="Sequences per micro-batch."),
        virtual_stages: int = typer.Option(1, "--virtual-stages", help="Interleaved 1F1B chunks per device."),
        first_stage_layers: int = typer.Option(0, "--first-stage-layers", min=0,
                                               help="Layers of the first pipeline stage (uneven stages; 0 = even)."),
        last_stage_layers: int = typer.Option(0, "--last-stage-layers", min=0,
                                              help="Layers of the last pipeline stage (uneven stages; 0 = even)."),
        mfu_attention: str = typer.Option("causal", "--mfu-attention",
                                          help="Attention FLOPs in MFU: causal (default) or full (s^2, PaLM/Megatron)."),
        zero: int = typer.Option(0, "--zero", help="ZeRO stage 0-3 (3 = FSDP)."),
        recompute: str = typer.Option("selective", "--recompute", help="none | selective | full."),
        offload: str = typer.Option("none", "--offload", help="Optimizer offload: none | cpu | nvme."),
        tokens: float = typer.Option(None, "--tokens", help="Token budget D for time/energy/cost to train."),
        dtype: str = typer.Option("bf16", "--dtype", help="Compute dtype (bf16, fp16; fp8/fp4 = Transformer Engine recipe: linear-layer GEMMs in fp8/fp4, attention and the rest in bf16, MFU relative to the bf16 peak)."),
        flash: bool = typer.Option(True, "--flash/--no-flash", help="FlashAttention (else materialised scores)."),
        lowp_scaling: str = typer.Option("delayed", "--lowp-scaling",
                                         help="Per-tensor scaling of --dtype fp8/fp4: delayed (amax history) | current "
                                              "(the tensor's own amax: one more read per cast)."),
        search: bool = typer.Option(False, "--search", help="Search all valid layouts instead of the given one."),
        top: int = typer.Option(10, "--top", help="Pareto layouts to show with --search (evenly spaced)."),
        calibration: str = typer.Option(None, "--calibration", help="Calibration profile (JSON) for the device."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON (SI units) instead of tables."),
        checkpoint_every: str = typer.Option(None, "--checkpoint-every",
                                             help="With --tokens: checkpoint interval, 'auto' (Young/Daly) or seconds."),
        checkpoint_mode: str = typer.Option("sync", "--checkpoint-mode", help="sync | async | memory (with --tokens)."),
        no_failures: bool = typer.Option(False, "--no-failures", help="Ideal time-to-train: no failures or checkpoints."),
        failure_scale: float = typer.Option(1.0, "--failure-scale",
                                            help="Multiply the Llama 3 per-device/per-node failure rates (what-if)."),
        device_failure_rate: float = typer.Option(None, "--device-failures-per-hour",
                                                  help="Unexpected failures per device-hour (overrides Llama 3)."),
        node_failure_rate: float = typer.Option(None, "--node-failures-per-hour",
                                                help="Unexpected failures per node-hour (overrides Llama 3)."),
        storage_gbps: float = typer.Option(None, "--storage-gbps",
                                           help="Checkpoint storage bandwidth, GB/s aggregate (default: Llama 3 share)."),
        restart_s: float = typer.Option(None, "--restart-s", help="Restart overhead per failure, s (default 600)."),
        allow_no_fit: bool = typer.Option(False, "--allow-no-fit", help=ALLOW_NO_FIT_HELP),
    ) -> None:
        """Predict training step time, MFU/HFU, memory per device and time-to-train (or --search layouts)."""
        from cli.validation import check_train_inputs, emit_warnings, guard_train, require_train_fits

        warnings = check_train_inputs(model=model, system=system, gpus=gpus, global_batch=global_batch, seq=seq, tp=tp, pp=pp,
                                      dp=dp, cp=cp, ep=ep, micro_batch=micro_batch, virtual_stages=virtual_stages,
                                      zero=zero, recompute=recompute, offload=offload, tokens=tokens, dtype=dtype,
                                      top=top, calibration=calibration, lowp_scaling=lowp_scaling)
        from simulator.training import TrainOptions, predict_training
        from simulator.training import search as search_fn

        opts = TrainOptions(dtype=dtype, grad_dtype=dtype if dtype in ("bf16", "fp16") else "bf16",
                            flash_attention=flash, mfu_attention=mfu_attention, lowp_scaling=lowp_scaling)
        if search:
            res = search_fn(model, system, gpus, global_batch=global_batch, seq_len=seq, tokens=tokens, opts=opts,
                            pareto_rows=top, calibration=calibration)
            pareto = res["pareto"]
            if tokens is not None and res.get("best") is not None:
                res["best"] = _add_reliability(res["best"], model, system, gpus, checkpoint_every, checkpoint_mode,
                                               no_failures, failure_scale, device_failure_rate, node_failure_rate,
                                               storage_gbps, restart_s)
            if res["best"] is None and not allow_no_fit:
                c = res["closest"]
                raise InputError(f"--search: no layout of {model} on {gpus} x {res['system']} fits in memory "
                                 f"(closest: {_fmt_layout(c['layout'])}, short by {format_si(c['shortfall_bytes'], 'B')}); "
                                 "allowed: more --gpus, a smaller --global-batch or --seq, or --allow-no-fit to report it")
            emit_warnings(warnings, res)
            if as_json:
                out = {k: v for k, v in res.items() if k not in ("pareto", "search")}
                out["pareto"] = pareto.to_dict(orient="records")
                print_json(out)
                return
            head = f"{res['model']} on {gpus} x {res['system']}: {res['layouts_evaluated']} layouts evaluated"
            if res["best"] is None:
                c = res["closest"]
                print_table(head, ["result", "value"], [
                    ("fastest that fits", "none fits"),
                    ("closest layout", _fmt_layout(c["layout"])),
                    ("memory shortfall", format_si(c["shortfall_bytes"], "B"))])
            else:
                _render_prediction(f"{head}; fastest that fits", res["best"])
            cols = ["tp", "pp", "dp", "cp", "ep", "mb", "v", "recomp", "zero", "step", "MFU", "memory", "fits"]
            rows = [[r["tp"], r["pp"], r["dp"], r["cp"], r["ep"], r["micro_batch"], r["virtual_stages"],
                     r["recompute"], r["zero"], format_si(r["step_time_s"], "s"), f"{100 * r['mfu']:.1f}%",
                     format_si(r["total_bytes"], "B"), "yes" if r["fits"] else "no"]
                    for r in pareto.to_dict(orient="records")]
            print_table(f"Pareto set ({res['pareto_size']} layouts): step time vs memory per device", cols, rows)
            return
        r = predict_training(model, system, gpus, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, micro_batch=micro_batch,
                             virtual_stages=virtual_stages, recompute=recompute, zero=zero, offload=offload,
                             global_batch=global_batch, seq_len=seq, tokens=tokens, opts=opts,
                             calibration=calibration, first_stage_layers=first_stage_layers,
                             last_stage_layers=last_stage_layers)
        guard_train(r, system, calibration, model=model, gpus=gpus, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep,
                    global_batch=global_batch, seq=seq, micro_batch=micro_batch, dtype=dtype)
        if not allow_no_fit:
            require_train_fits(r, model=model, gpus=gpus)
        emit_warnings(warnings, r)
        if tokens is not None:
            r = _add_reliability(r, model, system, gpus, checkpoint_every, checkpoint_mode, no_failures, failure_scale,
                                 device_failure_rate, node_failure_rate, storage_gbps, restart_s)
        if as_json:
            r = dict(r)
            r["options"] = dataclasses.asdict(opts)
            print_json(r)
            return
        _render_prediction(f"{r['model']} on {gpus} x {r['system']}", r)
