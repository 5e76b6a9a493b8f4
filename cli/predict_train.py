"""``simlab predict train``: step time, MFU, memory and time-to-train of a training layout, or a search.

Attached to the ``predict`` group by :func:`register` (the group itself lives in ``cli/predict.py``).
Thin: parse, call :mod:`simulator.training`, render (rich tables, or JSON in SI units).
"""

from __future__ import annotations

import dataclasses

import typer

from cli.render import format_si, print_json, print_table


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
    print_table(title, ["quantity", "value"], rows)


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
        zero: int = typer.Option(0, "--zero", help="ZeRO stage 0-3 (3 = FSDP)."),
        recompute: str = typer.Option("selective", "--recompute", help="none | selective | full."),
        offload: str = typer.Option("none", "--offload", help="Optimizer offload: none | cpu | nvme."),
        tokens: float = typer.Option(None, "--tokens", help="Token budget D for time/energy/cost to train."),
        dtype: str = typer.Option("bf16", "--dtype", help="Compute dtype (bf16, fp16, fp8)."),
        flash: bool = typer.Option(True, "--flash/--no-flash", help="FlashAttention (else materialised scores)."),
        search: bool = typer.Option(False, "--search", help="Search all valid layouts instead of the given one."),
        top: int = typer.Option(10, "--top", help="Pareto layouts to show with --search (evenly spaced)."),
        calibration: str = typer.Option(None, "--calibration", help="Calibration profile (JSON) for the device."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON (SI units) instead of tables."),
    ) -> None:
        """Predict training step time, MFU/HFU, memory per device and time-to-train (or --search layouts)."""
        from simulator.training import TrainOptions, predict_training
        from simulator.training import search as search_fn

        opts = TrainOptions(dtype=dtype, grad_dtype=dtype if dtype in ("bf16", "fp16") else "bf16",
                            flash_attention=flash)
        if search:
            res = search_fn(model, system, gpus, global_batch=global_batch, seq_len=seq, tokens=tokens, opts=opts,
                            pareto_rows=top, calibration=calibration)
            pareto = res["pareto"]
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
                             calibration=calibration)
        if as_json:
            r = dict(r)
            r["options"] = dataclasses.asdict(opts)
            print_json(r)
            return
        _render_prediction(f"{r['model']} on {gpus} x {r['system']}", r)
