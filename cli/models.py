"""``simlab models``: list the built-in model catalog and show one architecture.

JSON output is in plain counts and SI units (bytes); tables format them for people.
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli.render import format_si, print_json, print_table

app = typer.Typer(
    help="The model catalog: architectures and parameter counts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_JSON = typer.Option(False, "--json", help="Print JSON (plain counts, bytes) instead of a table.")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}%"


@app.command("list")
def list_command(json_output: bool = _JSON) -> None:
    """List the built-in models with their parameter counts (ours vs published)."""
    from simulator.models import catalog_entries, describe

    rows = [describe(entry.spec, entry) for entry in catalog_entries()]
    if json_output:
        print_json(rows)
        return
    print_table(
        "Built-in models (params: ours; Δ vs published)",
        ["name", "layers", "hidden", "heads q/kv", "params", "Δ published", "active", "context", "KV/token bf16"],
        [
            [
                r["name"],
                r["num_layers"],
                r["hidden_size"],
                f"{r['num_heads']}/{r['num_kv_heads']}" + (" MLA" if r["kv_lora_rank"] else ""),
                format_si(r["total_params"]),
                _pct(r["params_delta_pct"]),
                format_si(r["active_params"]) if r["num_experts"] else "",
                r["max_context"] or "-",
                format_si(r["kv_cache_bytes_per_token_bf16"], "B"),
            ]
            for r in rows
        ],
    )


@app.command("show")
def show_command(
    name_or_path: str = typer.Argument(
        ..., help="Built-in name or alias (e.g. llama-3-70b), a Hugging Face config.json (or its folder) or a model TOML."
    ),
    json_output: bool = _JSON,
) -> None:
    """Show one model: architecture, parameter counts, KV cache per token and provenance."""
    from simulator.models import describe, load_model, model_info

    spec = load_model(name_or_path)
    entry = None if Path(name_or_path).expanduser().exists() else model_info(name_or_path)
    info = describe(spec, entry)
    if json_output:
        print_json(info)
        return
    counts = {
        "total_params",
        "active_params",
        "embedding_params",
        "non_embedding_params",
        "attention_params_per_layer",
        "dense_mlp_params_per_layer",
        "moe_mlp_params_per_layer",
        "published_params",
        "published_active_params",
    }
    rows = []
    for key, value in info.items():
        if value is None or value == "" or value == []:
            continue
        if key in counts:
            shown = f"{format_si(value, digits=4)} ({value:,.0f})"
        elif key.endswith("_bytes_per_token_bf16") or key.endswith("_bytes_bf16"):
            shown = format_si(value, "B", digits=4)
        elif key.endswith("_delta_pct"):
            shown = _pct(value)
        elif isinstance(value, list):
            shown = ", ".join(map(str, value))
        else:
            shown = str(value)
        rows.append([key, shown])
    print_table(f"Model {spec.name}", ["field", "value"], rows)
