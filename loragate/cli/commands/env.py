"""`loragate env`: Gate 3, whether this machine can run the training."""

from __future__ import annotations

from typing import Optional

import typer

from loragate.cli.output import exit_for, print_findings, print_json, print_rows, print_verdict, progress_bar, run_engine


def register(app: typer.Typer) -> None:
    @app.command("env")
    def env(
        plan: Optional[str] = typer.Option(None, "--plan", help="Project name: checks against its plan, writes environment.md and records Gate 3."),
        backend: Optional[str] = typer.Option(None, "--backend", help="musubi or sdscripts: check the machine for a trainer without a plan."),
        json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Gate 3: GPU, driver, PyTorch in the trainer's own Python, the trainer, the weights' headers,
        disk, RAM and tokenizers. Exit 0 GO, 1 NO-GO, 2 could not run."""
        from loragate.environment.gate3 import check_environment
        from loragate.environment.request import env_request

        request = run_engine(lambda: env_request(plan=plan, backend=backend))  # the same model as MCP's validate_env
        with progress_bar("Checking the machine", enabled=not json_out) as progress:
            report = run_engine(lambda: check_environment(request.plan, request.backend, progress=progress))
        if json_out:
            print_json(report)
            exit_for(report.verdict)
        grid: list[tuple[str, str]] = []
        gpu = report.gpu
        if gpu.available and gpu.gpus:
            card = gpu.gpus[0]
            grid.append(("GPU", f"{card.name}, {card.memory_total_gb:.0f} GB ({card.memory_free_gb:.1f} free), driver {gpu.driver_version} / CUDA {gpu.cuda_driver_version}"))
        else:
            grid.append(("GPU", f"none ({gpu.reason})"))
        trainer = report.trainer
        grid.append((trainer.name, trainer.path or "not found"))
        grid.append(("Python", f"{trainer.python} ({trainer.python_source})"))
        probe = report.torch
        if probe is not None and probe.ran and probe.torch.installed:
            grid.append(("PyTorch", f"{probe.torch.version} (CUDA {probe.torch.cuda_build}), GPU usable: {probe.torch.cuda_available}"))
        grid.append(("time", f"{report.seconds:.2f} s"))
        print_rows(grid)
        if report.findings:
            print_findings(report.findings, title="Gate 3 findings")
        for path in report.written[:1]:
            print_rows([("Report:", path)])
        print_verdict(report.verdict, "Gate 3 (environment)")
        exit_for(report.verdict)
