"""Entry point of the ``simlab`` command.

Sub-command groups live in their own modules and are attached here. Every ``SimlabError`` raised
by the library is printed as one line (``error: ...``) on stderr with exit status 2 and no
traceback; usage errors from the argument parser also exit 2.
"""

from __future__ import annotations

import os
import sys

import typer

from hardware_db.errors import SimlabError

_app = typer.Typer(
    name="simlab",
    help="Predict how LLMs train, serve and scale: hardware catalog, roofline simulators, scaling laws.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


#: Command (group) name -> (module, attribute, help): a Typer group attached under the name, or with
#: help None a ``register(app)`` function adding the module's own commands; in ``--help`` order.
_GROUPS = {
    "hardware": ("cli.hardware", "app", "The hardware catalog: devices and systems."),
    "models": ("cli.models", "app", "The model catalog: architectures and parameter counts."),
    "predict": ("cli.predict", "predict_app", "Predict serving, training, loss and optimal plans."),
    "fit": ("cli.fit", "app", "Fit scaling laws to published datasets or your own runs."),
    "laws": ("cli.laws", "app", "The scaling laws and their published parameter sets."),
    "sweep": ("cli.sweep", "app", "Design-space sweeps streamed to Parquet."),
    "calibrate": ("cli.calibrate", "register", None),  # adds `calibrate` and `validate`
    "validate": ("cli.calibrate", "register", None),
    "simulate": ("cli.simulate", "register", None),  # request-level simulation (issue 13)
    "capacity": ("cli.capacity", "register", None),
}
_ADDED: set = set()


def _register(only: str | None = None) -> None:
    """Attach the sub-command groups: all of them, or only ``only`` (a query imports just the module
    of its own command, about 40 ms less start-up than importing every group)."""
    import importlib

    for name, (module, attr, help_text) in _GROUPS.items():
        if (only is not None and name != only) or (module, attr) in _ADDED:
            continue
        _ADDED.add((module, attr))
        target = getattr(importlib.import_module(module), attr)
        if help_text is None:
            target(_app)
        else:
            _app.add_typer(target, name=name, help=help_text)


def _command_of(argv: list[str]) -> str | None:
    """The command group an argument list names (first word that is not an option), if known;
    None (register all) for help, a bare ``simlab`` or an unknown word, so usage lists them all."""
    words = [a for a in argv if not a.startswith("-")]
    if not words or words[0] not in _GROUPS:
        return None
    return words[0]


@_app.callback()
def _root(
    offline: bool = typer.Option(False, "--offline", help="Never download datasets (same as SIMLAB_OFFLINE=1)."),
) -> None:
    """Predict how LLMs train, serve and scale: hardware catalog, roofline simulators, scaling laws."""
    if offline:
        os.environ["SIMLAB_OFFLINE"] = "1"


def __getattr__(name: str):
    """``cli.main.app`` for importers (tests, CliRunner): the app with every group attached."""
    if name == "app":
        _register()
        return _app
    raise AttributeError(name)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with its status.

    The parser's own usage errors (unknown option or command, a value of the wrong type) and a
    ``SimlabError`` from the library are both printed as one line ``error: ...`` on stderr and exit
    2, without a traceback; a group called without a command prints its help (stdout), one error line and exits 2. Ctrl-C
    prints one line and exits 130 (outputs are written atomically, so nothing written is lost). Any
    other exception is a bug: one line naming it, exit 1 (``SIMLAB_DEBUG=1`` re-raises it).
    """
    try:  # recent typer vendors click as typer._click; older releases use click itself
        from typer._click import exceptions as click_exc
    except ImportError:  # pragma: no cover - depends on the installed typer
        from click import exceptions as click_exc
    no_args_help = getattr(click_exc, "NoArgsIsHelpError", ())  # click >= 8.2

    offline_before = os.environ.get("SIMLAB_OFFLINE")
    _register(_command_of(sys.argv[1:] if argv is None else list(argv)))
    try:
        _run(argv, click_exc, no_args_help)
    finally:  # --offline sets the variable for this run only (in-process callers keep theirs)
        if offline_before is None:
            os.environ.pop("SIMLAB_OFFLINE", None)
        else:
            os.environ["SIMLAB_OFFLINE"] = offline_before


def _run(argv, click_exc, no_args_help) -> None:
    try:
        rv = _app(args=argv, prog_name="simlab", standalone_mode=False)
    except no_args_help as err:
        typer.echo(err.ctx.get_help())
        print(f"error: {err.ctx.command_path}: missing a command or argument; allowed: one of those listed "
              "above", file=sys.stderr)
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
        print("error: interrupted (Ctrl-C); files already written are complete and kept", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # `simlab ... | head`: the reader left; not an error of ours
        try:  # silence the final flush of stdout
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        sys.exit(0)
    except Exception as err:  # a bug, not bad input: one line (SIMLAB_DEBUG=1 shows the traceback)
        if os.environ.get("SIMLAB_DEBUG"):
            raise
        text = " ".join(str(err).split())[:300]
        print(f"error: internal error ({type(err).__name__}: {text}); this is a simlab bug, please report it "
              "(SIMLAB_DEBUG=1 shows the traceback)", file=sys.stderr)
        sys.exit(1)
    if rv == 130:  # typer turns KeyboardInterrupt inside a command into Exit(130), printing an empty line
        print("error: interrupted (Ctrl-C); files already written are complete and kept", file=sys.stderr)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
