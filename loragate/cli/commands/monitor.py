"""`loragate monitor NAME | --log FILE` and `loragate checkpoints NAME [--pin FILE] [--prune]`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table

from loragate.cli.output import console, fail, lit, print_json, run_engine
from loragate.runs.progress_md import duration, loss_text, speed_text

STATUS_STYLE = {"RUNNING": "bold cyan", "COMPLETE": "bold green", "FAILED": "bold red", "STALLED": "bold yellow", "UNKNOWN": "bold magenta"}


def _view(report) -> Group:  # noqa: ANN001 - MonitorReport
    table = Table(show_header=False, box=None)
    table.add_column(style="dim")
    table.add_column(overflow="fold")  # a fix may hold a command or path: wrapped, never cut short
    step = f"{report.step}/{report.total_steps}" if report.step is not None else "-"
    table.add_row("status", f"[{STATUS_STYLE[report.status]}]{report.status}[/]")
    if report.cause:
        table.add_row("why", lit(report.cause))
    if report.fix:
        table.add_row("what to do", lit(report.fix))
    table.add_row("step", step)
    table.add_row("epoch", f"{report.epoch}/{report.total_epochs}" if report.epoch is not None else "-")
    table.add_row("loss", loss_text(report))
    table.add_row("speed", speed_text(report))
    table.add_row("time left", duration(report.eta_seconds))
    table.add_row("GPU memory", f"{report.vram_gb:.1f} GB" if report.vram_gb is not None else "not measured")
    parts: list = [table]
    if len(report.streams) > 1:
        experts = Table(title="experts")
        for column in ("expert", "status", "step", "loss", "time left"):
            experts.add_column(column)
        for s in report.streams:
            experts.add_row(s.expert or s.role or "", s.status, f"{s.step}/{s.total_steps}", "-" if s.loss is None else f"{s.loss:.4f}", duration(s.eta_seconds))
        parts.append(experts)
    for anomaly in report.anomalies:
        parts.append(f"[yellow]{anomaly.code}[/]: {anomaly.message}")
    if report.checkpoints:
        parts.append("checkpoints: " + ", ".join(c.file for c in report.checkpoints))
    if report.progress_md:
        parts.append(f"[dim]{report.progress_md}[/]")
    return Group(*parts)


def _exit_code(status: str) -> int:
    return 0 if status in ("RUNNING", "COMPLETE", "UNKNOWN") else 1


def register(app: typer.Typer) -> None:
    @app.command("monitor")
    def monitor_cmd(
        name: Optional[str] = typer.Argument(None, help="Project name (grimoire/training/NAME)."),
        log: Optional[Path] = typer.Option(None, "--log", help="Monitor this trainer log instead of a project."),
        epochs: Optional[int] = typer.Option(None, "--epochs", help="Total epochs, when the log does not say."),
        follow_: bool = typer.Option(False, "--follow", help="Keep polling until the run ends."),
        interval: float = typer.Option(10.0, "--interval", help="Seconds between polls with --follow."),
        json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Show how a training is going: status and cause, step, loss, ETA, warnings, checkpoints.
        Exit 0 while running or complete (or UNKNOWN: a --log whose trainer loragate cannot see has
        gone quiet), 1 when failed or stalled."""
        from loragate.runs.monitor import follow, monitor

        if (name is None) == (log is None):
            fail("Give a project name or --log FILE (not both).", "e.g. `loragate monitor mychar` or `loragate monitor --log train.log`.")
        if follow_ and not json_out:
            with Live(console=console, refresh_per_second=2) as live:
                report = run_engine(lambda: follow(name, log, epochs, interval, on_report=lambda r: live.update(_view(r))))
        elif follow_:
            report = run_engine(lambda: follow(name, log, epochs, interval))
        else:
            report = run_engine(lambda: monitor(name, log, epochs))
        if json_out:
            print_json(report)
        elif not follow_:
            console.print(_view(report))
        raise typer.Exit(_exit_code(report.status))

    @app.command("checkpoints")
    def checkpoints_cmd(
        name: str = typer.Argument(..., help="Project name (grimoire/training/NAME)."),
        pin: Optional[str] = typer.Option(None, "--pin", help="Keep this checkpoint file whatever pruning does."),
        unpin: Optional[str] = typer.Option(None, "--unpin", help="Remove a pin."),
        prune: bool = typer.Option(False, "--prune", help="Remove older intermediate checkpoints (keeps the last 3, the final file and pins)."),
        json_out: bool = typer.Option(False, "--json", help="Print the list as JSON."),
    ) -> None:
        """List a project's LoRA checkpoints; pin one, or prune the older ones."""
        from loragate.runs.retention import pin_checkpoint, project_checkpoints, prune_checkpoints

        if pin:
            run_engine(lambda: pin_checkpoint(name, pin))
        if unpin:
            run_engine(lambda: pin_checkpoint(name, unpin, pinned=False))
        listing = run_engine(lambda: prune_checkpoints(name) if prune else project_checkpoints(name))
        if json_out:
            print_json(listing)
            raise typer.Exit(0)
        table = Table(title=f"Checkpoints of {name}")
        for column in ("file", "kind", "size", "kept"):
            table.add_column(column)
        for c in listing.checkpoints:
            kept = "final" if c.kind == "final" else ("pinned" if c.pinned else ("yes" if c.keep else "[yellow]can be pruned[/]"))
            table.add_row(c.file, c.kind, f"{c.size_bytes / 1e6:.1f} MB", kept)
        console.print(table)
        if listing.removed:
            console.print(f"Removed {len(listing.removed)}: " + ", ".join(listing.removed))
        elif listing.prunable:
            console.print(f"{len(listing.prunable)} older checkpoint(s) can be removed with `loragate checkpoints {name} --prune`.")
