"""``simlab fit``: fit scaling laws to published datasets or to your own runs.

    simlab fit chinchilla --dataset epoch-chinchilla [--bootstrap 1000] [--plot fit.png] [--json]
    simlab fit steplaw [--dataset steplaw-dense] [--bootstrap 1000] [--json]
    simlab fit --law chinchilla --csv runs.csv --columns N=params,D=tokens,L=loss [--json]

The last (generic) form is handled by the group callback (``invoke_without_command``); it is also
available as ``simlab fit law --law ... --csv ...``. Laws of the generic form and their inputs:
chinchilla (N, D or C, L), parscale (N, P, L), steplaw (N, D, lr, bs, L). Bad input (missing
column, non-positive or NaN values, too few points, unknown law or dataset) raises a one-line
``SimlabError`` that ``simlab`` prints with exit status 2.
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli.render import print_json, print_table
from fitters.errors import FitError

app = typer.Typer(
    name="fit",
    help="Fit scaling laws to published datasets or to your own runs (CSV).",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

GENERIC_LAWS = {
    "chinchilla": ("N", "D", "L"),
    "parscale": ("N", "P", "L"),
    "steplaw": ("N", "D", "lr", "bs", "L"),
}


def _parse_columns(spec: str | None) -> dict[str, str]:
    if not spec:
        return {}
    out = {}
    for item in spec.split(","):
        if "=" not in item:
            raise FitError(f"--columns entry {item!r} is not INPUT=COLUMN (e.g. N=params,D=tokens,L=loss)")
        k, v = (s.strip() for s in item.split("=", 1))
        if not k or not v:
            raise FitError(f"--columns entry {item!r} is not INPUT=COLUMN")
        if k in out:
            raise FitError(f"--columns maps input {k} twice; allowed: each input once")
        twice = [other for other, col in out.items() if col == v]
        if twice:
            raise FitError(f"--columns maps CSV column {v!r} to both {twice[0]} and {k}; allowed: one column per input")
        out[k] = v
    return out


def _read_csv(path: str | Path):
    import pandas as pd

    from cli.validation import InputError, readable_file

    try:
        readable_file("--csv", path)
    except InputError as err:
        raise FitError(str(err)) from None
    try:
        return pd.read_csv(path)
    except Exception as err:
        raise FitError(f"--csv file {str(path)!r} cannot be read as CSV ({type(err).__name__})") from None


def _column(df, mapping: dict[str, str], name: str, source: str):
    col = mapping.get(name, name)
    if col not in df.columns:
        raise FitError(
            f"{source} has no column {col!r} for input {name}; columns: {', '.join(map(str, df.columns))} "
            f"(map inputs with --columns {name}=COLUMN)"
        )
    import pandas as pd

    values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    return values


def _chinchilla_inputs(df, mapping, source):
    N = _column(df, mapping, "N", source)
    L = _column(df, mapping, "L", source)
    if mapping.get("D", "D") in df.columns or "C" not in mapping:
        D = _column(df, mapping, "D", source)
    else:
        D = _column(df, mapping, "C", source) / (6.0 * N)
    return N, D, L


def _check_fit_options(plot: str | Path | None, **numbers) -> Path | None:
    """Ranges of the numeric options and a --plot path that can really be written (cli.validation)."""
    from cli.validation import check_options, writable_file
    from fitters.plots import PLOT_SUFFIXES, check_plot_path

    check_options(**numbers)
    if plot is None:
        return None
    plot = writable_file("--plot", plot, PLOT_SUFFIXES)
    return check_plot_path(plot)


def _atomic(path: Path, write) -> None:
    """``write(tmp)`` to a temporary file next to ``path`` (same suffix), then rename it onto ``path``:
    an interrupted run leaves the old file or none, never half a plot."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _emit(result, as_json: bool, title: str) -> None:
    if as_json:
        print_json(result.to_dict())
        return
    rows = []
    for k, v in result.params.items():
        se = result.stderr.get(k) if result.stderr else None
        ci = result.ci.get(k) if result.ci else None
        rows.append((k, f"{v:.6g}", "-" if se is None else f"{se:.3g}", "-" if ci is None else f"[{ci[0]:.4g}, {ci[1]:.4g}]"))
    print_table(title, ["parameter", "value", "bootstrap se", "95% CI"], rows)
    facts = [("method", result.method), ("points", result.n_points), ("objective", f"{result.objective:.6g}")]
    if result.n_starts > 1:
        facts += [
            ("starts / converged / at best", f"{result.n_starts} / {result.n_converged} / {result.n_at_best}"),
            ("best start converged", "yes" if result.converged else "NO"),
        ]
    for k, v in result.extra.items():
        if isinstance(v, (int, float)):
            facts.append((k, f"{v:.6g}" if isinstance(v, float) else str(v)))
    print_table("fit facts", ["fact", "value"], facts)
    for w in result.warnings:
        typer.echo(f"warning: {w}", err=True)


def _fit_generic(law: str, csv: str | Path, columns: str | None, bootstrap: int, seed: int, as_json: bool,
                 plot: str | Path | None):
    if law not in GENERIC_LAWS:
        raise FitError(f"unknown law {law!r} for fitting; fit one of {', '.join(GENERIC_LAWS)}")
    plot = _check_fit_options(plot, bootstrap=bootstrap, seed=seed)  # before the fit, not after it
    df = _read_csv(csv)
    csv = Path(csv)
    mapping = _parse_columns(columns)
    unknown = [k for k in mapping if k not in (*GENERIC_LAWS[law], "C")]
    if unknown:
        raise FitError(f"--columns names unknown input(s) {', '.join(unknown)} for law {law}; inputs: {', '.join(GENERIC_LAWS[law])}")
    source = f"CSV {str(csv)!r}"
    if law == "chinchilla":
        from fitters.chinchilla import fit_chinchilla

        N, D, L = _chinchilla_inputs(df, mapping, source)
        res = fit_chinchilla(N, D, L, bootstrap=bootstrap, seed=seed)
        if plot:
            from fitters.plots import plot_chinchilla_fit

            _atomic(plot, lambda tmp: plot_chinchilla_fit(res, N, D, L, tmp))
    elif law == "parscale":
        from fitters.parscale import fit_parscale

        res = fit_parscale(*(_column(df, mapping, k, source) for k in ("N", "P", "L")))
    else:
        import pandas as pd

        from fitters.steplaw import fit_steplaw

        frame = pd.DataFrame({k if k != "L" else "smooth loss": _column(df, mapping, k, source) for k in GENERIC_LAWS[law]})
        res = fit_steplaw(frame, bootstrap=bootstrap, seed=seed)
    _emit(res, as_json, f"{law} fit to {csv}")


@app.callback()
def fit_main(
    ctx: typer.Context,
    law: str = typer.Option(None, "--law", help=f"Law to fit to --csv: {', '.join(GENERIC_LAWS)}."),
    csv: str = typer.Option(None, "--csv", help="Your runs, one per row."),
    columns: str = typer.Option(None, "--columns", help="Map law inputs to CSV columns, e.g. N=params,D=tokens,L=loss."),
    bootstrap: int = typer.Option(0, "--bootstrap", min=0, help="Bootstrap resamples for standard errors."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resampling."),
    plot: str = typer.Option(None, "--plot", help="Write a diagnostic plot (PNG) here (chinchilla)."),
    json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Fit a law to your own runs (--law/--csv), or use a sub-command for published datasets."""
    if ctx.invoked_subcommand is not None:
        return
    if law is None and csv is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    if law is None or csv is None:
        raise FitError("the generic form needs both --law and --csv (e.g. --law chinchilla --csv runs.csv)")
    _fit_generic(law, csv, columns, bootstrap, seed, json, plot)


@app.command("law")
def fit_law(
    law: str = typer.Option(..., "--law", help=f"Law to fit: {', '.join(GENERIC_LAWS)}."),
    csv: str = typer.Option(..., "--csv", help="Your runs, one per row."),
    columns: str = typer.Option(None, "--columns", help="Map law inputs to CSV columns, e.g. N=params,D=tokens,L=loss."),
    bootstrap: int = typer.Option(0, "--bootstrap", min=0, help="Bootstrap resamples for standard errors."),
    seed: int = typer.Option(0, "--seed"),
    plot: str = typer.Option(None, "--plot", help="Write a diagnostic plot (PNG) here (chinchilla)."),
    json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Fit a law to your own runs (same as `simlab fit --law ... --csv ...`)."""
    _fit_generic(law, csv, columns, bootstrap, seed, json, plot)


@app.command("chinchilla")
def fit_chinchilla_cmd(
    dataset: str = typer.Option("epoch-chinchilla", "--dataset", help="Registered dataset (simlab laws datasets)."),
    all_points: bool = typer.Option(False, "--all-points", help="Keep Epoch's 5 highest-loss outliers (245 points)."),
    bootstrap: int = typer.Option(0, "--bootstrap", min=0, help="Bootstrap resamples (Epoch: 4,000; 1,000 is plenty)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resampling."),
    plot: str = typer.Option(None, "--plot", help="Write fit / residual / bootstrap plots (PNG) here."),
    json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Chinchilla Approach 3 (Hoffmann et al. 2022) on a published dataset: sum-Huber, 4,500 starts."""
    from fitters.chinchilla import epoch_points, fit_chinchilla

    plot = _check_fit_options(plot, bootstrap=bootstrap, seed=seed)  # before the fit, not after it
    if dataset != "epoch-chinchilla":
        from fitters.registry import get_spec

        get_spec(dataset)  # unknown name -> DatasetError
        raise FitError(f"dataset {dataset!r} is not a Chinchilla (N, C, loss) dataset; use epoch-chinchilla")
    N, D, L = epoch_points(drop_largest=0 if all_points else 5)
    res = fit_chinchilla(N, D, L, bootstrap=bootstrap, seed=seed)
    if plot:
        from fitters.plots import plot_chinchilla_fit

        _atomic(plot, lambda tmp: plot_chinchilla_fit(res, N, D, L, tmp))
    _emit(res, json, f"Chinchilla fit to {dataset} ({res.n_points} points)")


@app.command("steplaw")
def fit_steplaw_cmd(
    dataset: str = typer.Option("steplaw-dense", "--dataset", help="steplaw-dense or steplaw-moe."),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=0, help="Bootstrap resamples (the paper: 1,000)."),
    tolerance: float = typer.Option(0.0025, "--tolerance", help="Keep runs within this relative loss of each cell's best."),
    seed: int = typer.Option(0, "--seed"),
    plot: str = typer.Option(None, "--plot", help="Write bootstrap histograms (PNG) here."),
    json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Step Law (Li et al. 2025): eta*(N, D) and B*(D) from an LR x batch-size grid."""
    from fitters.registry import load_csv
    from fitters.steplaw import fit_steplaw

    plot = _check_fit_options(plot, bootstrap=bootstrap, seed=seed, tolerance=tolerance)  # before the fit, not after it

    if dataset not in ("steplaw-dense", "steplaw-moe"):
        from fitters.registry import get_spec

        get_spec(dataset)
        raise FitError(f"dataset {dataset!r} is not a Step Law grid; use steplaw-dense or steplaw-moe")
    df = load_csv(dataset)  # N = the file's N column (MoE: total non-embedding incl. all experts)
    res = fit_steplaw(df, tolerance=tolerance, bootstrap=bootstrap, seed=seed)
    if plot and res.samples:
        from fitters.plots import plot_steplaw_fit

        _atomic(plot, lambda tmp: plot_steplaw_fit(res, tmp))
    _emit(res, json, f"Step Law fit to {dataset}")
