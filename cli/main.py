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

    The parser's own usage errors (unknown option or command, a value of the wrong type) and a
    ``SimlabError`` from the library are both printed as one line ``error: ...`` on stderr and exit
    2, without a traceback; a group called without a command prints its help and exits 2.
    """
    try:  # recent typer vendors click as typer._click; older releases use click itself
        from typer._click import exceptions as click_exc
    except ImportError:  # pragma: no cover - depends on the installed typer
        from click import exceptions as click_exc
    no_args_help = getattr(click_exc, "NoArgsIsHelpError", ())  # click >= 8.2

    try:
        rv = app(args=argv, prog_name="simlab", standalone_mode=False)
    except no_args_help as err:
        typer.echo(err.ctx.get_help())
        sys.exit(2)
    except click_exc.ClickException as err:
        where = f"{err.ctx.command_path}: " if getattr(err, "ctx", None) is not None else ""
        print(f"error: {where}{' '.join(err.format_message().split())}", file=sys.stderr)
        sys.exit(err.exit_code)
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(1)
    except SimlabError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
