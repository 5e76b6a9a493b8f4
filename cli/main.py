"""Entry point of the ``simlab`` command.

Sub-command groups live in their own modules and are attached here. Every ``SimlabError`` raised
by the library is printed as one line (``error: ...``) on stderr with exit status 2 and no
traceback; usage errors from the argument parser also exit 2.
"""

from __future__ import annotations

import sys

import typer

from hardware_db.errors import SimlabError

app = typer.Typer(
    name="simlab",
    help="Predict how LLMs train, serve and scale: hardware catalog, roofline simulators, scaling laws.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    """Attach the sub-command groups (imported here so that `simlab --help` lists them all)."""
    from cli import calibrate, fit, hardware, laws, models, predict, sweep

    app.add_typer(hardware.app, name="hardware", help="The hardware catalog: devices and systems.")
    app.add_typer(models.app, name="models", help="The model catalog: architectures and parameter counts.")
    app.add_typer(predict.predict_app, name="predict", help="Predict serving, training, loss and optimal plans.")
    app.add_typer(fit.app, name="fit", help="Fit scaling laws to published datasets or your own runs.")
    app.add_typer(laws.app, name="laws", help="The scaling laws and their published parameter sets.")
    app.add_typer(sweep.app, name="sweep", help="Design-space sweeps streamed to Parquet.")
    calibrate.register(app)


_register()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with its status.

    The parser's own usage errors exit 2 (standalone mode); a ``SimlabError`` from the library is
    printed as one line on stderr and also exits 2, without a traceback.
    """
    try:
        app(args=argv, prog_name="simlab")
    except SimlabError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
