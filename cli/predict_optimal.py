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


_SWEEP_GBPS = tuple(float(2 ** k) for k in range(13))  # 1 ... 4096 Gb/s


def _cross_site(system, gpus, sites, days, wan_gbps, wan_latency_ms, inner_steps, algorithm, law, family, seq_len,
                dtype, rel, json_output, preset=None) -> None:
    """``--sites``: data parallel vs low-communication training across sites over a WAN sweep."""
    from simulator.errors import ConfigError
    from simulator.lowcomm import LowCommConfig, cross_site_plan

    if system is None or days is None:
        raise ConfigError("--sites needs --system (one site's system) and --days")
    if algorithm == "dp":
        raise ConfigError("--lowcomm dp: allowed: diloco, streaming, co2, noloco (data parallel is always compared)")
    cfg = LowCommConfig(algorithm, inner_steps=inner_steps,
                        **({"fragments": 4, "overlap_steps": 5, "outer_bytes_per_param": 0.5}
                           if algorithm == "streaming" else {}))
    if preset is not None and wan_gbps is None:  # the catalog system's [sites.wan_link] (sourced there)
        wan_gbps, wan_latency_ms = preset["wan_gbps"], preset["wan_latency_s"] * 1e3
    bws = sorted(set(_SWEEP_GBPS) | ({float(wan_gbps)} if wan_gbps is not None else set()))
    if wan_gbps is not None and not wan_gbps > 0:
        raise ConfigError(f"--wan-gbps = {wan_gbps!r}; allowed: a number > 0")
    if not wan_latency_ms >= 0:
        raise ConfigError(f"--wan-latency-ms = {wan_latency_ms!r}; allowed: a number >= 0")
    res = cross_site_plan(system, gpus, sites, days, bws, wan_latency_s=wan_latency_ms * 1e-3, law=law,
                          family=family, seq_len=seq_len, lowcomm=cfg, reliability=rel, dtype=dtype)
    if json_output:
        print_json(res)
        return
    rows = []
    for r in res["rows"]:
        d, lc = r["dp"], r["lowcomm"]
        mark = " <" if wan_gbps is not None and r["wan_gbps"] == float(wan_gbps) else ""
        rows.append([f"{r['wan_gbps']:g}{mark}", f"{d['loss']:.4f}", format_si(d["n_params"], "", 3),
                     f"{100 * d['wan_fraction']:.1f}%", f"{lc['loss']:.4f}", format_si(lc["n_params"], "", 3),
                     f"{100 * lc['wan_fraction']:.1f}%", r["winner"]])
    print_table(f"{res['sites']} sites x {res['devices_per_site']} x {res['system']}, {res['days']:g} days: "
                f"data parallel vs {res['algorithm']} (H = {res['inner_steps']}, loss x {res['loss_factor']:.4f})",
                ["WAN Gb/s", "DP loss", "DP N", "DP WAN", f"{algorithm} loss", f"{algorithm} N", f"{algorithm} WAN",
                 "better"], rows)
    x = res["crossover_gbps"]
    print("DiLoCo-style training never wins in this sweep" if x is None else
          f"{res['algorithm']} reaches a lower loss at WAN <= {x:g} Gb/s per site"
          + ("" if res["dp_wins_above_gbps"] is None else f"; data parallel wins from {res['dp_wins_above_gbps']:g} Gb/s"))


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
        no_failures: bool = typer.Option(False, "--no-failures",
                                         help="Ideal plan: every second a step (no failures / checkpoints / ETTR)."),
        sites: int = typer.Option(None, "--sites", help="Plan across N sites of --gpus each (data parallel vs DiLoCo)."),
        wan_gbps: float = typer.Option(None, "--wan-gbps", help="WAN bandwidth per site, Gbit/s (with --sites)."),
        wan_latency_ms: float = typer.Option(4.9, "--wan-latency-ms", help="WAN one-way latency, ms (1000 km fibre)."),
        inner_steps: int = typer.Option(30, "--inner-steps", help="DiLoCo inner steps H between syncs (>= 1; the loss law is fitted at 30)."),
        lowcomm: str = typer.Option("diloco", "--lowcomm", help="diloco | streaming | co2 | noloco (with --sites)."),
    ) -> None:
        """Choose N, D, shape, layout, batch and LR minimising the predicted loss within a budget."""
        from cli.validation import check_optimal_inputs

        check_optimal_inputs(compute=compute, system=system, gpus=gpus, days=days, usd=usd, price=price,
                             family=family, seq_len=seq_len, nominal_mfu=nominal_mfu, dtype=dtype)
        from simulator.planner import make_budget, plan_training

        if calibration is not None:
            from hardware_db import load_system
            from simulator.errors import ConfigError
            from simulator.serving import apply_calibration

            if system is None:
                raise ConfigError("--calibration needs a --system whose device the profile calibrates")
            system = apply_calibration(load_system(system), calibration, dtype)
        from simulator.reliability import ReliabilityOptions

        rel = None if no_failures else ReliabilityOptions()
        preset = None  # a multi-site system's [sites] table (simulator.lowcomm.sites.multi_site)
        if system is not None and days is not None:
            from hardware_db import load_system
            from simulator.lowcomm.sites import multi_site

            preset = multi_site(load_system(system) if isinstance(system, str) else system)
            if sites is None and preset is not None:
                sites = preset["sites"]
        if sites is not None:
            _cross_site(system, gpus, sites, days, wan_gbps, wan_latency_ms, inner_steps, lowcomm, law, family,
                        seq_len, dtype, rel, json_output, preset)
            return
        budget = make_budget(compute_flop=compute, system=system, devices=gpus, days=days, usd=usd, price=price,
                             dtype=dtype)
        res = plan_training(budget, law=law, family=family, seq_len=seq_len, nominal_mfu=nominal_mfu,
                            reliability=rel).to_dict()
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
        if plan.get("ettr") is not None:
            print(f"ETTR {100 * plan['ettr']:.1f}% (failures, checkpoints, restarts; Llama 3 rates): the plan trains "
                  f"{plan['train_days']:.3g} of the {b['days']:.3g} days; --no-failures for the ideal plan")
        o = res["law_optimum"]
        print(f"law optimum (continuous) at {o['compute_flop']:.3g} FLOP: N = {o['n_params']:.4g}, "
              f"D = {o['tokens']:.4g}, D/N = {o['tokens_per_param']:.1f}")
