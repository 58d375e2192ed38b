"""`loragate gates NAME`: the four launch verdicts, the evaluation after training and the yes to a cloud cost, their age and whether each still holds."""

from __future__ import annotations

import typer
from rich.table import Table

from loragate.cli.nextstep import command_line
from loragate.cli.output import EXIT_GO, EXIT_NO_GO, console, print_json, print_rows, run_engine
from loragate.gates.ledger import gate_status


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def register(app: typer.Typer) -> None:
    @app.command("gates")
    def gates(
        name: str = typer.Argument(..., help="Project name (grimoire/training/NAME)."),
        json_out: bool = typer.Option(False, "--json", help="Print the status as JSON."),
    ) -> None:
        """Show the gate verdicts for a project (the four a launch needs, the evaluation a
        registration needs, the yes to a cloud cost renting needs) and whether each is still current."""
        status = run_engine(lambda: gate_status(name))
        if json_out:
            print_json(status)
        else:
            table = Table(title=f"Gates for {name}")
            for column in ("gate", "verdict", "checked", "current"):
                table.add_column(column)
            for s in status.gates:
                current = "[green]yes[/]" if s.current else "[red]no[/]"
                table.add_row(f"{s.gate or ''} {s.name}".strip(), s.verdict or "-", _age(s.age_seconds), current)
            console.print(table)
            # What to run is a command to copy: whole lines below the table, not a cut-off column.
            # a gate outside the launch (evaluation, spend) needs a line once it has a verdict; before, its row says enough
            todo = [s for s in status.gates if not s.current and (s.required_for_launch or s.verdict)]
            print_rows((f"Gate {s.gate} {s.name}:" if s.gate else f"The {s.name} gate:", (f"{s.problem} Run: {command_line(s.next)}" if s.next else s.problem or "")) for s in todo)
            console.print("[bold green]Ready to launch.[/]" if status.ready else "[bold red]Not ready to launch.[/]")
        raise typer.Exit(EXIT_GO if status.ready else EXIT_NO_GO)
