"""``simlab predict tts``: a Kinetics test-time plan (model size, samples, length, attention).

Attached to the ``predict`` group by :func:`register` (the group lives in ``cli/predict.py``).
Thin: parse, call :func:`simulator.planner.test_time_plan.plan_test_time`, render the Kinetics
(eFLOPs / latency / $) choice beside the FLOPs-only choice, or JSON in SI units.
"""

from __future__ import annotations

import typer

from cli.render import format_si, print_json, print_table


def _cfg(c: dict | None) -> list[str]:
    if c is None:
        return ["-"] * 8
    lat = c.get("latency_s")
    usd = c.get("usd_per_query")
    return [c["model"], str(c["samples"]), str(c["gen_len"]), c["attention"], f"{100 * c['accuracy']:.1f}%",
            format_si(c["eflops"], "eFLOP"), format_si(c["flops"], "FLOP"),
            "-" if lat is None or lat != lat or lat == float("inf") else format_si(lat, "s")
            + ("" if usd is None or usd != usd or usd == float("inf") else f" / ${usd:.3g}")]


_LABELS = ["model", "samples", "generation length (tokens)", "attention", "expected accuracy", "cost (eFLOPs)",
           "cost (FLOPs only)", "latency / $ per query"]


def register(predict_app: typer.Typer) -> None:
    """Add the ``tts`` command to the ``predict`` Typer group."""

    @predict_app.command("tts")
    def tts(
        family: str = typer.Option("qwen3", "--family", help="Model family (qwen3: 0.6B-32B from the catalog)."),
        hardware: str = typer.Option(None, "--hardware", help="Device for latency / $ and its intensity (e.g. b200)."),
        budget_s: float = typer.Option(None, "--budget-s", help="Per-query latency budget (s), serving simulator."),
        budget_usd: float = typer.Option(None, "--budget-usd", help="Per-query $ budget (needs a price)."),
        budget_eflops: float = typer.Option(None, "--budget-eflops", help="Per-query budget in eFLOPs (Kinetics)."),
        accuracy_table: str = typer.Option(None, "--accuracy-table",
                                           help="CSV: model, samples, gen_len, accuracy [, kv_budget] "
                                                "(default: the shipped illustrative example)."),
        price: float = typer.Option(None, "--price", help="USD per device-hour (for --budget-usd)."),
        prompt_len: int = typer.Option(200, "--prompt-len", help="Prompt tokens per query."),
        dtype: str = typer.Option(None, "--dtype", help="Serving / intensity dtype (default fp8 if the device has it)."),
        json_output: bool = typer.Option(False, "--json", help="Print JSON (SI units) instead of a table."),
        calibration: str = typer.Option(None, "--calibration",
                                        help="Calibration profile (JSON) for --hardware, or 'default'."),
    ) -> None:
        """Choose model size, samples, generation length and attention under a per-query budget."""
        from cli.validation import check_options, readable_file

        check_options(budget_s=budget_s, budget_usd=budget_usd, budget_eflops=budget_eflops, price=price,
                      prompt_len=prompt_len)
        readable_file("--accuracy-table", accuracy_table)
        from simulator.planner.test_time_plan import plan_test_time

        if calibration is not None:
            from hardware_db import load_device
            from simulator.errors import ConfigError
            from simulator.serving import apply_calibration

            if hardware is None:
                raise ConfigError("--calibration needs --hardware (the device the profile calibrates)")
            hardware = apply_calibration(load_device(hardware), calibration, dtype)

        res = plan_test_time(accuracy_table, family=family, budget_eflops=budget_eflops, budget_s=budget_s,
                             budget_usd=budget_usd, hardware=hardware, dtype=dtype, price_per_hour_usd=price,
                             prompt_len=prompt_len)
        if json_output:
            print_json(res)
            return
        b = res["budget"]
        side = res["side_by_side"]
        title = (f"Test-time plan, budget {b['value']:.3g} ({b['basis']}) on {b['hardware'] or 'B200 intensity'} "
                 f"(I = {b['intensity_flop_per_byte']:.4g} FLOP/B)")
        print_table(title, ["quantity", f"chosen ({b['basis']})", "FLOPs-only, same budget", "FLOPs-only, same accuracy"],
                    [list(r) for r in zip(_LABELS, _cfg(side["kinetics"]), _cfg(side["flops_only_same_budget"]),
                                          _cfg(side["flops_only_same_accuracy"]), strict=True)])
        print(f"critical model size (frontier): eFLOPs {res['critical_model_eflops']}, "
              f"FLOPs-only {res['critical_model_flops']}; coverage fit RMSE {res['coverage_fit']['rmse']:.3f} "
              f"over {res['coverage_fit']['rows']} rows")
        for note in res["notes"]:
            print(f"note: {note}")
