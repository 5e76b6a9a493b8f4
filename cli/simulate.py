"""``simlab simulate serve``: request-level serving simulation (arrivals, schedulers, SLOs).

Thin: parse, build the workload and call :func:`simulator.requests.simulate`, render a table (or
JSON with SI-unit keys), optionally plot. An overloaded run prints that it is overloaded instead of
latency numbers. Attached to the root app by ``register(app)``.
"""

from __future__ import annotations

import typer

app = typer.Typer(name="simulate", help="Request-level simulation: arrivals, batching schedulers, SLOs.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _price_arg(price):
    return None if price is None else float(price)


def _render(s: dict) -> None:
    from cli.render import format_si, print_table

    rows = [("deployment", s["label"]), ("requests", f"{s['requests']} at {s['offered_qps']:.4g} req/s offered")]
    if s["overloaded"]:
        rows.append(("status", s["message"]))
    else:
        for base, name in (("ttft", "TTFT"), ("tpot", "TPOT"), ("e2e", "end-to-end"), ("queue", "queueing delay")):
            rows.append((f"{name} p50 / p90 / p99 / mean", " / ".join(
                format_si(s[f"{base}_{k}_s"], "s") for k in ("p50", "p90", "p99", "mean"))))
    if "slo_attainment" in s:
        rows.append(("SLO attainment", f"{100 * s['slo_attainment']:.1f}% (TTFT <= {s['slo_ttft_s']} s, "
                                        f"TPOT <= {s['slo_tpot_s']} s)"))
    rows += [
        ("throughput", f"{s['requests_per_s']:.4g} req/s, {format_si(s['output_tokens_per_s'], 'tok/s')} output, "
                       f"{format_si(s['total_tokens_per_s'], 'tok/s')} total"),
        ("mean batch / KV occupancy", f"{s['batch_mean']:.3g} sequences / {100 * s['kv_occupancy_mean']:.1f}%"),
        ("busy fraction", f"{100 * s['busy_fraction']:.1f}%"),
        ("preemptions", str(s["preemptions"])),
        ("energy per output token / per request", f"{format_si(s['energy_per_output_token_j'], 'J')} / "
                                                  f"{format_si(s['energy_per_request_j'], 'J')} "
                                                  f"(mean {format_si(s['mean_power_w'], 'W')})"),
    ]
    if "cost_per_million_output_tokens_usd" in s:
        rows.append(("cost per 1M output tokens", f"{s['cost_per_million_output_tokens_usd']:.4g} USD "
                                                  f"({s['devices']} devices x {s['price_per_device_hour_usd']:.3g} USD/h)"))
    if s.get("kv_transfer_mean_s") is not None:
        rows.append(("KV transfer (mean)", format_si(s["kv_transfer_mean_s"], "s")))
    print_table("simlab simulate serve", ["quantity", "value"], rows)


@app.command("serve")
def serve(
    model: str = typer.Option(..., "--model", help="Model name from `simlab models list`, or a config path."),
    hardware: str = typer.Option(None, "--hardware", help="Device name, alias or TOML path."),
    system: str = typer.Option(None, "--system", help="System name (links for tp/pp and disaggregation)."),
    tp: int = typer.Option(1, "--tp", help="Tensor-parallel degree of one replica."),
    pp: int = typer.Option(1, "--pp", help="Pipeline stages of one replica (iterations run back to back)."),
    qps: float = typer.Option(4.0, "--qps", help="Mean arrival rate (requests/s)."),
    requests: int = typer.Option(5000, "--requests", help="Number of requests to simulate."),
    input_len: str = typer.Option("1024", "--input-len", help="Prompt tokens: N, uniform:LO:HI, lognormal:MEAN:SIGMA, zipf:MAX:A, empirical:FILE[:COL]."),
    output_len: str = typer.Option("256", "--output-len", help="Output tokens (same forms as --input-len)."),
    arrival: str = typer.Option("poisson", "--arrival", help="poisson, gamma (bursty, --cv) or uniform."),
    cv: float = typer.Option(1.0, "--cv", help="Coefficient of variation of gamma inter-arrival gaps."),
    trace: str = typer.Option(None, "--trace", help="CSV trace (arrival_s, prompt_tokens, output_tokens) instead of synthetic arrivals."),
    scheduler: str = typer.Option("vllm", "--scheduler", help="vllm, sarathi, static or distserve."),
    replicas: int = typer.Option(1, "--replicas", help="Replicas (decode replicas for distserve)."),
    router: str = typer.Option("round_robin", "--router", help="round_robin, least_outstanding or jsq."),
    prefill_tp: int = typer.Option(None, "--prefill-tp", help="distserve: TP of a prefill replica (default --tp)."),
    prefill_replicas: int = typer.Option(1, "--prefill-replicas", help="distserve: prefill replicas."),
    max_batch: int = typer.Option(256, "--max-batch", help="Max running sequences per replica (vLLM max_num_seqs)."),
    block_size: int = typer.Option(16, "--block-size", help="Paged-KV block size (tokens)."),
    token_budget: int = typer.Option(None, "--token-budget", help="sarathi: tokens per iteration (default 512)."),
    max_prefill_tokens: int = typer.Option(None, "--max-prefill-tokens", help="vllm: prompt tokens per prefill iteration (default max(2048, longest prompt))."),
    weight_dtype: str = typer.Option(None, "--weight-dtype", help="bf16, fp8, int4, ..."),
    act_dtype: str = typer.Option(None, "--act-dtype", help="Activation/compute dtype."),
    kv_dtype: str = typer.Option(None, "--kv-dtype", help="KV-cache dtype."),
    slo_ttft: float = typer.Option(None, "--slo-ttft", help="TTFT SLO (s)."),
    slo_tpot: float = typer.Option(None, "--slo-tpot", help="TPOT SLO (s per output token)."),
    price: float = typer.Option(None, "--price", help="USD per device-hour (default: catalog / sourced price)."),
    power_cap: float = typer.Option(None, "--power-cap", help="Per-device power cap (W); lowers the compute clock."),
    idle_power: float = typer.Option(None, "--idle-power", help="Idle power per device (W)."),
    engine: str = typer.Option(None, "--engine", help="Add a serving engine's per-iteration host overhead (simulator.engines)."),
    calibration: str = typer.Option(None, "--calibration", help="Calibration profile for the device, or 'default'."),
    prefix_hit: float = typer.Option(0.0, "--prefix-hit", help="Share of each prompt found in a prefix cache (0-1)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of arrivals and lengths."),
    json_out: bool = typer.Option(False, "--json", help="JSON with SI-unit keys instead of a table."),
    plot: str = typer.Option(None, "--plot", help="Write latency CDFs and occupancy to this PNG."),
) -> None:
    """Simulate a stream of requests on replicas of MODEL on HARDWARE and report latency percentiles,
    SLO attainment, throughput, occupancy, energy and cost."""
    from simulator.requests import load_trace, simulate, synthetic

    w = load_trace(trace) if trace else synthetic(requests, qps, input_len, output_len, arrival, cv, seed)
    r = simulate(model, hardware, w, system=system, scheduler=scheduler, replicas=replicas, router=router, tp=tp,
                 pp=pp, prefill_tp=prefill_tp, prefill_replicas=prefill_replicas, max_batch=max_batch,
                 block_size=block_size, token_budget=token_budget, max_prefill_tokens=max_prefill_tokens,
                 weight_dtype=weight_dtype, act_dtype=act_dtype, kv_dtype=kv_dtype, slo_ttft_s=slo_ttft,
                 slo_tpot_s=slo_tpot, price_per_hour_usd=_price_arg(price), engine=engine, power_cap_w=power_cap,
                 idle_w=idle_power, calibration=calibration, prefix_hit=prefix_hit)
    if plot:
        from simulator.requests.plots import plot_simulation

        plot_simulation(r, plot)
    if json_out:
        from cli.render import print_json

        print_json(r.summary)
    else:
        _render(r.summary)


def register(root: typer.Typer) -> None:
    """Attach ``simulate`` to the root app."""
    root.add_typer(app, name="simulate", help="Request-level serving simulation: arrivals, schedulers, SLOs.")
