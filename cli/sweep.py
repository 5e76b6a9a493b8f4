"""``simlab sweep``: run a design-space sweep from a TOML spec, and summarise its results.

    simlab sweep spec.toml --out results/            # same as: simlab sweep run spec.toml --out results/
    simlab sweep spec.toml --out results/ --scheduler tcp://HOST:8786
    simlab sweep summarize results/

The library does the work (:mod:`simulator.design_space`); this module parses and renders.
"""

from __future__ import annotations

from pathlib import Path

import typer
from typer.core import TyperGroup

from cli.render import format_si, print_json, print_table


class _DefaultRunGroup(TyperGroup):
    """``simlab sweep SPEC ...`` means ``simlab sweep run SPEC ...`` (a spec is not a sub-command name)."""

    def parse_args(self, ctx, args):  # noqa: D102
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultRunGroup,
    help="Design-space sweeps: `simlab sweep SPEC.toml --out DIR` runs one, `simlab sweep summarize DIR` "
    "summarises it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_JSON = typer.Option(False, "--json", help="Print JSON (SI units) instead of tables.")


@app.command("run")
def run_command(
    spec: str = typer.Argument(..., help="TOML sweep spec (see docs/sweeps.md and examples/sweeps/)."),
    out: str = typer.Option(..., "--out", "-o", help="Output folder: new, empty, or holding this sweep (resume)."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address, e.g. tcp://HOST:8786; "
                                  "--out must then be on a filesystem every worker can write."),
    chunk_size: int = typer.Option(None, "--chunk-size", help="Configurations per chunk / Parquet part "
                                   "[default: the spec's chunk_size, else 262144]."),
    compression: str = typer.Option("zstd", "--compression", help="Parquet compression: zstd, snappy, lz4, "
                                    "gzip, none."),
    max_chunks: int = typer.Option(None, "--max-chunks", help="Stop after this many chunks (resume later)."),
    no_shard: bool = typer.Option(False, "--no-shard", help="Do not split chunks over several local JAX devices."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    json_output: bool = _JSON,
) -> None:
    """Run (or resume) the sweep described by SPEC into --out; parts already written are kept."""
    from cli.validation import check_options, readable_file, writable_dir
    from simulator.design_space import load_spec, run_sweep

    check_options(chunk_size=chunk_size, max_chunks=max_chunks, compression=compression)
    spec = readable_file("SPEC", spec)
    out = writable_dir("--out", out)
    s = load_spec(spec)
    report = run_sweep(s, out, chunk_size=chunk_size, scheduler=scheduler, compression=compression,
                       max_chunks=max_chunks, shard=False if no_shard else "auto",
                       progress=not (quiet or json_output))
    if json_output:
        print_json(report.to_dict())
        return
    if report.chunks_run == 0 and report.complete:
        state = "already complete, nothing to do"
    elif report.complete:
        state = "complete"
    else:
        state = f"incomplete ({report.chunks_before + report.chunks_run} of {report.n_chunks} chunks); run again to resume"
    print_table(
        f"Sweep {s.name}: {state}",
        ["field", "value"],
        [
            ["output", report.out_dir],
            ["configurations", f"{report.n_configs:,}"],
            ["chunks (size)", f"{report.n_chunks:,} ({report.chunk_size:,})"],
            ["chunks already done", f"{report.chunks_before:,}"],
            ["chunks run now", f"{report.chunks_run:,}"],
            ["configurations run now", f"{report.configs_run:,}"],
            ["time", f"{report.seconds:.2f} s"],
            ["rate", f"{format_si(report.configs_per_s)} configs/s"],
            ["backend", report.backend],
            ["spec hash", report.spec_hash[:16]],
        ],
    )


@app.command("summarize")
def summarize_command(
    results: str = typer.Argument(..., help="A sweep output folder (written by `simlab sweep`)."),
    no_plots: bool = typer.Option(False, "--no-plots", help="Write the CSV tables only."),
    top: int = typer.Option(20, "--top", min=1, help="Rows of each table shown (all are written to _summary/)."),
    json_output: bool = _JSON,
) -> None:
    """Best configuration per model and hardware, Pareto fronts (latency vs throughput, cost vs time)."""
    from cli.validation import check_options, readable_dir, writable_dir
    from simulator.design_space import summarize

    check_options(top=top)
    if not str(results).strip():
        readable_dir("RESULTS", results)  # the one-line "is empty" error
    results = Path(results).expanduser()
    if results.is_dir():  # a missing folder or one without a sweep: summarize() says so
        writable_dir("RESULTS (its _summary/ folder)", results / "_summary")

    summary = summarize(results, plots=not no_plots)
    if json_output:
        print_json(summary.to_dict())
        return

    from simulator.design_space.summarize import PLANS

    plan = PLANS[summary.kind]
    axes = [c for c in summary.axes if c in ("model", "hardware", "system") or summary.axis_sizes.get(c, 1) > 1]

    def show(title: str, df, metrics) -> None:
        cols = [c for c in dict.fromkeys([*axes, *metrics]) if c in df.columns]
        rows = [[_cell(c, v) for c, v in zip(cols, r, strict=True)]
                for r in df[cols].head(top).itertuples(index=False)]
        print_table(title, cols, rows)

    head = (f"{summary.name} ({summary.kind}): {summary.rows:,} rows, {summary.rows_valid:,} valid, "
            f"{summary.rows_fit:,} fit; {summary.parts} of {summary.n_chunks} parts")
    print(head)
    show("Best configuration per model and hardware", summary.best, [plan.best, plan.fronts[0].x])
    for front in plan.fronts:
        if front.name in summary.fronts:
            df = summary.fronts[front.name]
            show(f"Pareto front, {front.title}: {len(df)} points (first {min(top, len(df))})", df, [front.x, front.y])
    for note in summary.notes:
        print(f"note: {note}")
    for f in summary.files:
        print(f"wrote {f}")


def _cell(column: str, value) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        if column.endswith("_bytes"):
            return format_si(value, "B")
        if column.endswith("_s"):
            return format_si(value, "s")
        return format_si(value)
    return str(value)
