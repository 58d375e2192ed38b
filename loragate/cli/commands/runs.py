"""`loragate dry-run`, `launch`, `stop`, `adopt`, `continue`: Gate 4 and the supervised training."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from loragate.cli.output import EXIT_GO, EXIT_NO_GO, console, exit_for, lit, print_findings, print_json, print_verdict, progress_bar, run_engine


def register(app: typer.Typer) -> None:
    @app.command("dry-run")
    def dry_run_cmd(
        name: str = typer.Argument(..., help="Project name (grimoire/training/NAME)."),
        steps: int = typer.Option(5, "--steps", help="Training steps to run, 2 to 5."),
        json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Gate 4: run the plan's real commands for a few steps into a scratch folder."""
        from loragate.runs.dryrun import dry_run
        from loragate.runs.request import dry_run_request

        request = run_engine(lambda: dry_run_request(name=name, steps=steps))  # the same model as MCP's dry_run
        with progress_bar(f"dry run {name}", enabled=not json_out) as progress:
            report = run_engine(lambda: dry_run(request.name, steps=request.steps, progress=progress))
        if json_out:
            print_json(report)
        else:
            table = Table(title=f"Dry run of {name}")
            for column in ("step", "GPU", "exit", "time", "steps", "s/step", "peak GB"):
                table.add_column(column)
            for s in report.steps:
                table.add_row(s.stage + (f" ({s.expert}{', at once' if s.together else ''})" if s.expert else ""),
                              "-" if s.gpu is None else str(s.gpu), str(s.exit_code), f"{s.seconds:.1f} s",
                              str(s.steps_completed), str(s.seconds_per_step or "-"),
                              "-" if s.peak_vram_gb is None else f"{s.peak_vram_gb:.1f}")
            console.print(table)
            if report.placement:
                console.print(f"Wan 2.2 experts: {report.placement}.")
            if report.findings:
                print_findings(report.findings)
            console.print(report.summary)
            print_verdict(report.verdict, "Gate 4 (dry run)")
        exit_for(report.verdict)

    @app.command("launch")
    def launch_cmd(
        name: str = typer.Argument(..., help="Project name."),
        json_out: bool = typer.Option(False, "--json", help="Print the job handle as JSON."),
    ) -> None:
        """Start the training in the background; refuses unless all four gates are GO and current."""
        from loragate.runs.launch import launch

        result = run_engine(lambda: launch(name))
        if json_out:
            print_json(result)
        else:
            console.print(result.message)
            for note in result.notes:
                console.print(f"[yellow]note:[/] {lit(note)}")
            console.print(f"job {result.job_id}, supervisor process {result.supervisor_pid}, log: {lit(', '.join(result.logs))}")
        raise typer.Exit(EXIT_GO if result.status in ("starting", "running", "complete") else EXIT_NO_GO)

    @app.command("stop")
    def stop_cmd(
        name: str = typer.Argument(..., help="Project name."),
        grace: float = typer.Option(30.0, "--grace", help="Seconds the trainer gets to save after the interrupt."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Stop a running training: interrupt so it can save, then terminate, then kill."""
        from loragate.runs.stop import stop

        result = run_engine(lambda: stop(name, interrupt_grace_s=grace))
        if json_out:
            print_json(result)
        else:
            console.print(result.message)
        raise typer.Exit(EXIT_GO if result.stopped or result.status != "running" else EXIT_NO_GO)

    @app.command("adopt")
    def adopt_cmd(
        name: str = typer.Argument(..., help="Project name."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Give a training whose supervisor is gone (the trainer runs on) a new supervisor."""
        from loragate.runs.adopt import adopt

        result = run_engine(lambda: adopt(name))
        if json_out:
            print_json(result)
        else:
            console.print(result.message)
        raise typer.Exit(EXIT_GO if result.status in ("starting", "running", "complete") else EXIT_NO_GO)

    @app.command("continue")
    def continue_cmd(
        name: str = typer.Argument(..., help="Project name."),
        checkpoint: str = typer.Option(..., "--from", help="The checkpoint .safetensors to continue from."),
        lr: Optional[float] = typer.Option(None, "--lr", help="New learning rate (lower is usual)."),
        epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs to train from the checkpoint."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Make a new plan version that continues from a checkpoint with --network_weights (never --resume)."""
        from loragate.runs.resume import continue_run

        result = run_engine(lambda: continue_run(name, checkpoint, learning_rate=lr, epochs=epochs))
        if json_out:
            print_json(result)
        else:
            from loragate.cli.nextstep import command_line

            console.print(result.message)
            for next_step in result.gates_to_rerun:
                console.print(f"  run: {command_line(next_step)}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_GO)
