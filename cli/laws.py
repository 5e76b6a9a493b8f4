"""``simlab laws``: the scaling laws, their published parameter sets, and the published datasets."""

from __future__ import annotations

import typer

from cli.render import print_json, print_table

app = typer.Typer(
    name="laws",
    help="Scaling laws, their published parameter sets (with sources) and the datasets they are fitted on.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fmt(v) -> str:
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    return f"{float(v):.6g}"


@app.command("list")
def list_cmd(json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List every law and published parameter set (use NAME with `simlab predict loss --law NAME`)."""
    from scaling_laws.base import list_laws

    laws = list_laws()
    if json:
        print_json(
            [
                {
                    "law": lw.name,
                    "formula": lw.formula,
                    "output": lw.output,
                    "inputs": dict(lw.inputs),
                    "citation": lw.citation,
                    "parameter_sets": [
                        {"name": f"{lw.name}-{ps.name}", "values": dict(ps.values), "source": ps.source}
                        for ps in lw.published.values()
                    ],
                }
                for lw in laws
            ]
        )
        return
    rows = []
    for lw in laws:
        for ps in lw.published.values():
            vals = ", ".join(f"{k}={_fmt(v)}" for k, v in ps.values.items())
            rows.append((f"{lw.name}-{ps.name}", lw.formula, vals, ps.source))
    print_table("scaling laws (simlab predict loss --law NAME)", ["name", "formula", "parameters", "source"], rows)


@app.command("datasets")
def datasets_cmd(json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the registered published datasets (found under $SIMLAB_DATA_DIR or downloaded once)."""
    from fitters.registry import DatasetError, dataset_path, list_datasets

    out = []
    for s in list_datasets():
        try:
            where = str(dataset_path(s.name, download=False))
        except DatasetError:
            where = None
        out.append({"name": s.name, "path": s.relative_path, "local": where, "url": s.url, "license": s.license,
                    "description": s.description, "columns": s.columns, "sha256": s.sha256})
    if json:
        print_json(out)
        return
    print_table("published datasets", ["name", "relative path", "local", "license", "description"],
                [(d["name"], d["path"], d["local"] or "missing", d["license"], d["description"]) for d in out])
