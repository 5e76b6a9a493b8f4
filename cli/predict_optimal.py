"""``simlab predict optimal``: the compute-optimal training plan for a budget.

Attached to the ``predict`` group by :func:`register` (the group lives in ``cli/predict.py``).
Thin: parse, build a budget, call :func:`simulator.planner.plan_training`, render the
hardware-aware plan beside the nominal (hardware-blind 6ND / peak) answer, or JSON in SI units.
"""

from __future__ import annotations

import typer

from cli.render import format_si, print_json, print_table


def _layout(lay: dict | None) -> str:
    if not lay:
        return "-"
    return (f"tp={lay['tp']} pp={lay['pp']} dp={lay['dp']} mb={lay['micro_batch']} "
            f"recompute={lay['recompute']} zero={lay['zero']}")


def _num(v, unit: str = "", digits: int = 3) -> str:
    return "-" if v is None else format_si(v, unit, digits)


def _rows(p: dict) -> list[str]:
    s = p["shape"]
    cost = p.get("cost_usd")
    return [
        format_si(p["n_params"], "", 4),
        format_si(p["tokens"], "", 4),
        f"{p['tokens_per_param']:.1f}",
        f"{p['predicted_loss']:.4f}",
        f"L={s['layers']} h={s['hidden_size']} heads={s['num_heads']} ffn={s['ffn_size']}",
        _layout(p.get("layout")),
        "-" if p.get("mfu") is None else f"{100 * p['mfu']:.1f}%",
        "-" if p.get("train_days") is None else f"{p['train_days']:.3g}",
        _num(p.get("device_hours"), "h"),
        "-" if cost is None else f"${cost:,.0f}",
        _num(p.get("energy_j"), "J"),
        f"{p['peak_lr']:.3g}",
        _num(p.get("global_batch_tokens") or p.get("step_law_batch_tokens"), "tokens"),
    ]


_LABELS = ["N (law convention)", "tokens D", "tokens / parameter", "predicted loss", "shape", "layout", "MFU",
           "days", "device-hours", "cost", "energy (TDP)", "peak LR (Step Law)", "global batch"]


def register(predict_app: typer.Typer) -> None:
    """Add the ``optimal`` command to the ``predict`` Typer group."""

    @predict_app.command("optimal")
    def optimal(
        compute: float = typer.Option(None, "--compute", help="FLOP budget C = 6 N D (e.g. 1e24)."),
        system: str = typer.Option(None, "--system", help="System from `simlab hardware` (e.g. dgx-h100)."),
        gpus: int = typer.Option(None, "--gpus", help="Device count (default: the system's)."),
        days: float = typer.Option(None, "--days", help="Wall-clock budget in days on --system x --gpus."),
        usd: float = typer.Option(None, "--usd", help="Dollar budget (needs --price or a catalog price)."),
        price: float = typer.Option(None, "--price", help="USD per device-hour (for $; default: catalog)."),
        law: str = typer.Option("chinchilla-epoch", "--law",
                                help="Loss law: chinchilla-epoch, chinchilla-hoffmann, kaplan, farseer, ..."),
        family: str = typer.Option("llama", "--family", help="Model family shape rule: llama or gpt3."),
        seq_len: int = typer.Option(2048, "--seq-len", help="Training sequence length (tokens)."),
        nominal_mfu: float = typer.Option(1.0, "--nominal-mfu", help="MFU assumed by the nominal answer."),
        dtype: str = typer.Option("bf16", "--dtype", help="Compute dtype (its dense peak is used)."),
        json_output: bool = typer.Option(False, "--json", help="Print JSON (SI units) instead of a table."),
        calibration: str = typer.Option(None, "--calibration",
                                        help="Calibration profile (JSON) for the system's device, or 'default'."),
    ) -> None:
        """Choose N, D, shape, layout, batch and LR minimising the predicted loss within a budget."""
        from simulator.planner import make_budget, plan_training

        if calibration is not None:
            from hardware_db import load_system
            from simulator.errors import ConfigError
            from simulator.serving import apply_calibration

            if system is None:
                raise ConfigError("--calibration needs a --system whose device the profile calibrates")
            system = apply_calibration(load_system(system), calibration, dtype)
        budget = make_budget(compute_flop=compute, system=system, devices=gpus, days=days, usd=usd, price=price,
                             dtype=dtype)
        res = plan_training(budget, law=law, family=family, seq_len=seq_len, nominal_mfu=nominal_mfu).to_dict()
        if json_output:
            print_json(res)
            return
        b = res["budget"]
        title = f"Optimal plan ({res['law']['name']}: {res['law']['output']})"
        if b["kind"] == "flops":
            title += f" for C = {b['compute_flop']:.3g} FLOP"
        else:
            title += f" for {b['devices']} x {b['device']} over {b['days']:.3g} days"
        plan, nom = res["plan"], res["nominal"]
        if b["kind"] == "flops":
            print_table(title, ["quantity", "plan"], list(zip(_LABELS, _rows(plan), strict=True)))
        else:
            print_table(title, ["quantity", "hardware-aware", "nominal (6ND / peak)"],
                        [list(r) for r in zip(_LABELS, _rows(plan), _rows(nom), strict=True)])
            if nom.get("overrun_factor") is not None:
                print(f"nominal model needs {nom['days_needed_on_hardware']:.3g} days on this hardware "
                      f"({nom['overrun_factor']:.2f}x the budget); within the budget it reaches loss "
                      f"{nom['loss_within_budget']:.4f} vs {plan['predicted_loss']:.4f} for the hardware-aware plan")
        o = res["law_optimum"]
        print(f"law optimum (continuous) at {o['compute_flop']:.3g} FLOP: N = {o['n_params']:.4g}, "
              f"D = {o['tokens']:.4g}, D/N = {o['tokens_per_param']:.1f}")
