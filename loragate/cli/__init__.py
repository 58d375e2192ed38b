"""The `loragate` command. Each module in `loragate.cli.commands` registers its own commands."""

from __future__ import annotations

import importlib
import pkgutil

import typer

from loragate import __version__
from loragate.checks import install_strict_check
from loragate.core.errors import unexpected_error_sentence

install_strict_check()  # only with LORAGATE_STRICT_CHECKS set: the test suite's CLI runs

app = typer.Typer(
    name="loragate",
    help="Checks a LoRA training run before it spends GPU hours: dataset, config, machine, dry run.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: rich help tables cut long option names (--one-after-another) at 80 columns.
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"loragate {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """loragate: four gates before a GPU hour is spent."""


def _register_commands() -> None:
    from loragate.cli import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_commands()


def main() -> None:
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - outside run_engine too: a sentence on stderr, exit 2
        from loragate.cli.output import fail

        try:
            fail(unexpected_error_sentence(exc))
        except typer.Exit as done:
            raise SystemExit(done.exit_code) from None
