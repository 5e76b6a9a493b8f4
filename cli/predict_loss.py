"""``simlab predict loss``: loss (or Step Law hyper-parameters) from a published law.

    simlab predict loss --law chinchilla-epoch --params 70e9 --tokens 1.4e12
    simlab predict loss --law chinchilla-hoffmann --compute 5.88e23     (compute-optimal N, D)
    simlab predict loss --law parscale-pile --params 1.6e9 --streams 4

Names come from ``simlab laws list``. Units: parameters, tokens, FLOP; loss in the law's unit
(nats/token, Farseer: bits/char).
"""

from __future__ import annotations

import typer

from cli.render import format_si, print_json, print_table
from fitters.precision import float64
from scaling_laws.errors import LawError

LOSS_LAWS = ("chinchilla", "kaplan", "farseer", "parscale")


def _positive(name: str, v: float | None) -> None:
    if v is not None and not (v > 0 and v < float("inf")):
        raise LawError(f"--{name} must be a positive number, got {v}")


def _check_result(out: dict) -> dict:
    """Refuse a non-finite prediction (inputs outside the law's range) and a sub-parameter model."""
    import math

    if "compute_flop" in out:
        given = f"--compute {out['compute_flop']:g}"
    else:
        given = ", ".join(f"--{k} {out[k]:g}" for k in ("params", "tokens", "streams") if k in out)
    for key in ("loss", "params", "tokens", "lr", "batch_tokens"):
        v = out.get(key)
        if v is not None and not math.isfinite(v):
            raise LawError(f"law {out['law']!r} gives {key} = {v} for {given}; allowed: inputs in the law's "
                           "range (e.g. --params >= 1e6, --tokens >= 1e6)")
    if "compute_flop" in out and out["params"] < 1:
        raise LawError(f"--compute {out['compute_flop']:g} FLOP is too small: the optimal model has "
                       f"N = {out['params']:.3g} parameters; allowed: a budget giving N >= 1 (e.g. --compute 1e18)")
    return out


def predict_loss(law_name: str, params: float | None, tokens: float | None, compute: float | None, streams: float) -> dict:
    """Library-level body of the command (returns a dict with SI units).

    Inputs outside :data:`cli.validation.OPTIONS` (fewer than 1 parameter or token, more than 1e16
    parameters, ...) are refused; inside it but outside the runs the law was fitted on, the result
    carries ``warnings`` (an extrapolation).
    """
    from cli.validation import InputError, check_number, law_range_warnings

    for option, value in (("--params", params), ("--tokens", tokens), ("--compute", compute), ("--streams", streams)):
        _positive(option[2:], value)
        try:
            check_number(option, value)
        except InputError as err:
            raise LawError(f"{err}; a predicted loss is meaningless outside it") from None
    out = _check_result(_predict_loss(law_name, params, tokens, compute, streams))
    given = {"compute": compute} if compute is not None else {"params": params, "tokens": tokens}
    if "streams" in out:
        given["streams"] = streams
    warnings = law_range_warnings(law_name, **given)
    if warnings:
        out["warnings"] = warnings
    return out


@float64()
def _predict_loss(law_name: str, params: float | None, tokens: float | None, compute: float | None,
                  streams: float) -> dict:
    from scaling_laws.base import get_param_set

    law, ps = get_param_set(law_name)
    for n, v in (("params", params), ("tokens", tokens), ("compute", compute), ("streams", streams)):
        _positive(n, v)
    out = {"law": law_name, "source": ps.source, "output_unit": law.output}
    if law.name == "steplaw":
        from scaling_laws import steplaw

        if params is None or tokens is None:
            raise LawError("steplaw needs --params (non-embedding N) and --tokens (D)")
        hp = steplaw.optimal_hparams(ps.values, params, tokens)
        out.update(params=params, tokens=tokens, lr=float(hp["lr"]), batch_tokens=float(hp["batch_tokens"]),
                   batch_sequences_2048=float(hp["batch_sequences"]))
        return out
    if law.name not in LOSS_LAWS:
        raise LawError(f"law {law.name!r} does not predict a loss; use one of {', '.join(LOSS_LAWS)} or steplaw")
    if law.name == "parscale":
        if params is None:
            raise LawError("parscale needs --params (non-embedding N) and optionally --streams P")
        out.update(params=params, streams=streams, loss=float(law.fn(ps.values, params, streams)))
        return out
    if compute is not None:
        if params is not None or tokens is not None:
            raise LawError("give either --compute (optimal allocation) or --params and --tokens, not both")
        import importlib

        mod = importlib.import_module(f"scaling_laws.{law.name}")
        if hasattr(mod, "optimal_allocation"):
            opt = mod.optimal_allocation(ps.values, compute)
            how = "closed form"
        else:
            opt = mod.optimal_allocation_numerical(ps.values, compute)
            how = "numerical" + ("" if bool(opt["interior"]) else " (no interior optimum: at the D/N search bound)")
        out.update(compute_flop=compute, params=float(opt["N"]), tokens=float(opt["D"]), loss=float(opt["loss"]),
                   tokens_per_param=float(opt["D"] / opt["N"]), allocation=how)
        return out
    if params is None or tokens is None:
        raise LawError(f"{law.name} needs --params and --tokens (or --compute for the optimal allocation)")
    out.update(params=params, tokens=tokens, loss=float(law.fn(ps.values, params, tokens)))
    return out


def register(predict_app: typer.Typer) -> None:
    """Attach ``loss`` to the ``predict`` group."""

    @predict_app.command("loss")
    def loss_cmd(
        law: str = typer.Option(..., "--law", help="Law and parameter set, e.g. chinchilla-epoch (simlab laws list)."),
        params: float = typer.Option(None, "--params", help="Model parameters N (the law's convention)."),
        tokens: float = typer.Option(None, "--tokens", help="Training tokens D."),
        compute: float = typer.Option(None, "--compute", help="Training FLOP C: print the compute-optimal N, D instead."),
        streams: float = typer.Option(1.0, "--streams", help="ParScale parallel streams P."),
        json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """Predict the loss of a model from a published scaling law (or Step Law's LR and batch)."""
        out = predict_loss(law, params, tokens, compute, streams)
        for w in out.get("warnings", []):
            typer.echo(f"warning: {w}", err=True)
        if json:
            print_json(out)
            return
        rows = []
        for k, v in out.items():
            if k == "warnings":
                continue
            if k in ("params", "tokens"):
                rows.append((k, format_si(v)))
            elif k == "compute_flop":
                rows.append((k, format_si(v, "FLOP")))
            elif isinstance(v, float):
                rows.append((k, f"{v:.6g}"))
            else:
                rows.append((k, str(v)))
        print_table(f"simlab predict loss ({law})", ["quantity", "value"], rows)
