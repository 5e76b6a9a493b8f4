"""``simlab capacity``: the highest QPS each candidate deployment sustains under an SLO, and the
cheapest fleet for a demand (Mélange-style MILP). Thin: parse, call
:mod:`simulator.requests.capacity`, render. An SLO that no candidate meets is an answer ("no
deployment meets it; closest: ..."), not an error. Attached to the root app by ``register(app)``.
"""

from __future__ import annotations

import typer


def _prices(values: list[str] | None) -> tuple[float | None, dict]:
    """``--price 2.5`` (all candidates) or ``--price h100-sxm=2.5`` (per device); ConfigError if malformed."""
    from simulator.errors import ConfigError

    default, per = None, {}
    for v in values or []:
        key, _, num = v.rpartition("=")
        try:
            x = float(num)
        except ValueError:
            raise ConfigError(f"--price '{v}'; allowed: USD per device-hour, or DEVICE=USD") from None
        if not x > 0:
            raise ConfigError(f"--price '{v}'; allowed: a price > 0")
        if key:
            per[key.strip().lower()] = x
        else:
            default = x
    return default, per


def _short(label: str) -> str:
    """'model on DEVICE tp=N: sched, ...' -> 'DEVICE tp=N'."""
    head = label.split(":")[0]
    return head.split(" on ", 1)[-1]


def capacity(
    model: str = typer.Option(..., "--model", help="Model name or config path."),
    hardware: list[str] = typer.Option(..., "--hardware", help="Candidate device(s); repeat the option."),
    tp: list[int] = typer.Option([1], "--tp", help="Tensor-parallel degree(s) to try per device; repeat."),
    scheduler: str = typer.Option("vllm", "--scheduler", help="vllm, sarathi, static or distserve."),
    input_len: str = typer.Option("1024", "--input-len", help="Prompt tokens (N, uniform:LO:HI, lognormal:MEAN:SIGMA, ...)."),
    output_len: str = typer.Option("256", "--output-len", help="Output tokens (same forms)."),
    arrival: str = typer.Option("poisson", "--arrival", help="poisson, gamma or uniform."),
    cv: float = typer.Option(1.0, "--cv", help="Coefficient of variation for gamma arrivals."),
    requests: int = typer.Option(1000, "--requests", help="Requests per simulated rate."),
    trace: str = typer.Option(None, "--trace", help="CSV trace: its lengths and arrival pattern (rescaled to each rate)."),
    slo_ttft: float = typer.Option(None, "--slo-ttft", help="TTFT SLO (s)."),
    slo_tpot: float = typer.Option(None, "--slo-tpot", help="TPOT SLO (s)."),
    attainment: float = typer.Option(0.9, "--attainment", help="Share of requests that must meet both SLOs."),
    demand: float = typer.Option(None, "--demand", help="Total QPS to serve: also solve the cheapest fleet mix."),
    price: list[str] = typer.Option(None, "--price", help="USD per device-hour: a number, or DEVICE=USD; repeat."),
    max_batch: int = typer.Option(256, "--max-batch", help="Max running sequences per replica."),
    weight_dtype: str = typer.Option(None, "--weight-dtype", help="Weight dtype."),
    kv_dtype: str = typer.Option(None, "--kv-dtype", help="KV-cache dtype."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    json_out: bool = typer.Option(False, "--json", help="JSON output."),
    plot: str = typer.Option(None, "--plot", help="PNG: P99 latency vs QPS and goodput vs cost."),
) -> None:
    """Max QPS under an SLO for each (device, tp) candidate; with --demand, the cheapest fleet."""
    from cli.render import format_si, print_json, print_table
    from cli.validation import ENUMS, check_enum, check_number, check_options, writable_file
    from fitters.plots import PLOT_SUFFIXES

    check_options(slo_ttft=slo_ttft, slo_tpot=slo_tpot, attainment=attainment, demand=demand, cv=cv,
                  max_batch=max_batch, requests=requests, seed=seed, arrival=arrival)
    check_enum("--scheduler", scheduler, ENUMS["--scheduler-policy"])
    for t in tp:
        check_number("--tp", t)
    writable_file("--plot", plot, PLOT_SUFFIXES)

    from simulator.errors import ConfigError
    from simulator.requests.capacity import deployment_capacity, fleet_mix, unit_workload
    from simulator.serving import resolve_hardware

    if slo_ttft is None and slo_tpot is None:
        raise ConfigError("capacity needs an SLO; allowed: --slo-ttft and/or --slo-tpot (seconds > 0)")
    default_price, per_price = _prices(price)
    if trace:
        from simulator.requests import load_trace

        lengths = load_trace(trace, max_requests=requests)
    else:
        lengths = unit_workload(requests, input_len, output_len, arrival, cv, seed)
    results, skipped = [], []
    for hw in hardware:
        dev = resolve_hardware(hw)
        p = per_price.get(hw.lower(), per_price.get(dev.name.lower(), default_price))
        for t in tp:
            try:
                r = deployment_capacity(model, hw, lengths, scheduler=scheduler, tp=t, slo_ttft_s=slo_ttft,
                                        slo_tpot_s=slo_tpot, attainment=attainment, max_batch=max_batch,
                                        weight_dtype=weight_dtype, kv_dtype=kv_dtype, price_per_hour_usd=p)
            except ConfigError as err:  # a candidate that does not fit or whose layout is invalid
                skipped.append(f"{dev.name} tp={t}: {err}")
                continue
            results.append(r)
    ok = [r for r in results if r.reachable]
    out = {"candidates": [{"label": r.label, "reachable": r.reachable, "max_qps": r.max_qps, "devices": r.devices,
                           "qps_per_device": r.qps_per_device, "usd_per_hour": r.usd_per_hour,
                           "ttft_p99_s": r.summary.get("ttft_p99_s"), "tpot_p99_s": r.summary.get("tpot_p99_s"),
                           "message": r.message} for r in results], "skipped": skipped}
    if not ok:
        if results:
            best = max(results, key=lambda r: r.summary.get("slo_attainment", 0.0))
            out["answer"] = f"no deployment meets it; closest: {best.message}"
        else:
            out["answer"] = "no deployment meets it; no candidate fits (see skipped)"
    plan = None
    if demand is not None and ok:
        plan = fleet_mix(demand, [[r.max_qps for r in ok]], [r.usd_per_hour for r in ok], labels=[_short(r.label) for r in ok])
        out["fleet"] = {"feasible": plan.feasible, "counts": plan.counts, "usd_per_hour": plan.usd_per_hour,
                        "message": plan.message}
    if plot:
        from simulator.requests.plots import plot_capacity

        plot_capacity(results, plot)
    if json_out:
        print_json(out)
        return
    rows = [(_short(r.label), format_si(r.max_qps, "req/s") if r.reachable else "unreachable",
             format_si(r.qps_per_device, "req/s") if r.reachable else "-",
             f"{r.usd_per_hour:.4g}" if r.usd_per_hour else "-",
             f"{r.max_qps / r.usd_per_hour * 3600:.4g}" if r.reachable and r.usd_per_hour else "-")
            for r in results]
    print_table(f"simlab capacity ({model}, {scheduler}): max QPS with >= {100 * attainment:.0f}% meeting TTFT <= {slo_ttft} s, "
                f"TPOT <= {slo_tpot} s", ["deployment", "max QPS", "per device", "USD/h", "requests per USD"], rows)
    for s in skipped:
        print(f"skipped: {s}")
    if "answer" in out:
        print(out["answer"])
    if plan is not None:
        print(plan.message)
    elif demand is not None and ok and not any(r.usd_per_hour for r in ok):
        print("fleet mix needs prices: pass --price")


def register(root: typer.Typer) -> None:
    """Attach ``capacity`` to the root app."""
    root.command("capacity", help="Max QPS under an SLO per deployment, and the cheapest fleet mix.")(capacity)
