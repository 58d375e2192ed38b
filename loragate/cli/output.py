"""What every command shares: JSON output, findings tables, progress bars, exit codes.

stdout carries the result (the JSON model with --json); progress and errors go to stderr.
Exit codes: 0 GO, 1 NO-GO, 2 could not run.
"""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, NoReturn, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from loragate.cli.nextstep import command_line
from loragate.core.errors import BadArguments, GatesNotPassed, LoragateError, unexpected_error_sentence
from loragate.core.findings import Finding, Verdict, sort_findings
from loragate.core.nextstep import NextStep
from loragate.progress import ProgressFn

EXIT_GO = 0
EXIT_NO_GO = 1
EXIT_CANNOT_RUN = 2

console = Console()
err_console = Console(stderr=True)

T = TypeVar("T")

SEVERITY_STYLE = {"block": "bold red", "warn": "yellow", "info": "cyan"}

# C0 controls but tab and newline, DEL, C1 controls: an ESC in a file name must never reach the terminal.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def lit(value: object) -> str:
    """A value from outside (file name, trigger word, message naming them) printed literally: control
    characters shown as '?', and rich markup escaped so '[/b]' or '[red]mira' prints as written."""
    return escape(plain(value))


def plain(value: object) -> str:
    """The same for a rich Text, which never reads markup: control characters shown as '?'."""
    return _CONTROLS.sub("?", str(value))


def _what_to_do(fix: str | None, next_step: NextStep | None) -> None:
    if fix:
        err_console.print(Text.assemble(("what to do:", "bold"), " ", plain(fix)), soft_wrap=True)
    if next_step is not None:
        # one line however long, so it can be copied whole
        err_console.print(Text.assemble(("run:", "bold"), " ", plain(command_line(next_step))), soft_wrap=True)


def fail(message: str, fix: str | None = None, next_step: NextStep | None = None) -> NoReturn:
    """Stop with exit code 2 and the reason on stderr (whole lines: a fix may be a command to copy)."""
    err_console.print(Text.assemble(("error:", "bold red"), " ", plain(message)), soft_wrap=True)
    _what_to_do(fix, next_step)
    raise typer.Exit(EXIT_CANNOT_RUN)


def run_engine(call: Callable[[], T]) -> T:
    """Call the engine; a LoragateError becomes exit 2 with its message and fix on stderr, and a
    launch refused by the gates exit 1 (NO-GO)."""
    try:
        return call()
    except GatesNotPassed as exc:
        err_console.print(Text.assemble(("NO-GO:", "bold red"), " ", plain(exc.message)), soft_wrap=True)
        _what_to_do(exc.fix, exc.next)
        raise typer.Exit(EXIT_NO_GO) from None
    except BadArguments as exc:  # the engine's words, then where this door lists the choices
        fail(exc.message, " ".join(part for part in (exc.fix, "The command's --help lists the choices.") if part), exc.next)
    except LoragateError as exc:
        fail(exc.message, exc.fix, exc.next)
    except Exception as exc:  # noqa: BLE001 - a full disk or a bug is a sentence, never a traceback
        fail(unexpected_error_sentence(exc))


def print_json(model: BaseModel) -> None:
    """Exactly the engine's model, nothing else on stdout."""
    sys.stdout.write(model.model_dump_json(indent=2) + "\n")
    sys.stdout.flush()


def exit_for(verdict: Verdict) -> NoReturn:
    raise typer.Exit(EXIT_GO if verdict == "GO" else EXIT_NO_GO)


def print_findings(findings: Iterable[Finding], title: str = "Findings") -> None:
    """Each finding as its own lines, never in table cells: a fix is a command or path the artist
    copies, so it is printed whole on one line (the terminal wraps it; nothing is cut or folded).
    Text objects print the engine's words as they are, never as rich markup."""
    console.print(Text(plain(title), style="bold underline"))
    for f in sort_findings(findings):
        # Most messages already name their file; repeating it only lengthens the line.
        where = f" ({f.path})" if f.path and f.path not in f.message else ""
        console.print(Text.assemble((f"{f.severity:<5}", SEVERITY_STYLE[f.severity]), " ", (plain(f.code), "dim"), "  ",
                                    plain(f.message + where)), soft_wrap=True)
        if f.fix:
            console.print(Text.assemble("      ", ("fix:", "bold"), " ", plain(f.fix)), soft_wrap=True)
        if f.next is not None:
            console.print(Text.assemble("      ", ("run:", "bold"), " ", plain(command_line(f.next))), soft_wrap=True)


def print_rows(rows: Iterable[tuple[str, str]]) -> None:
    """'label  value' lines for paths, interpreters and commands: whole lines, never cut to a column."""
    items = list(rows)
    width = max((len(label) for label, _ in items), default=0)
    for label, value in items:
        console.print(Text.assemble((f"{label:<{width}}", "bold"), "  ", plain(value)), soft_wrap=True)


def print_verdict(verdict: Verdict, what: str) -> None:
    style = "bold green" if verdict == "GO" else "bold red"
    console.print(f"[{style}]{what}: {verdict}[/]")


@contextmanager
def progress_bar(description: str, enabled: bool = True) -> Iterator[ProgressFn]:
    """A rich progress bar on stderr, driven by the engine's progress callback."""
    if not enabled or not err_console.is_terminal:
        yield lambda done, total, message: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}", style="dim"),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None, note="")

        def update(done: int, total: int, message: str) -> None:
            bar.update(task, completed=done, total=total or None, note=message[:60])

        yield update
