"""`loragate validate FILE...`: check training scripts, config TOMLs and dataset TOMLs before a run."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from loragate.cli.output import console, exit_for, print_findings, print_json, print_rows, print_verdict, run_engine


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate(
        files: List[Path] = typer.Argument(..., help="Shell scripts (.sh/.bat/.ps1), Python launchers (.py, read without running them), command-line files, config or dataset TOMLs."),
        model: Optional[str] = typer.Option(None, "--model", help="Model family, e.g. wan2.2-i2v-a14b, sdxl, flux1-dev (default: inferred)."),
        check_paths: bool = typer.Option(True, "--check-paths/--no-check-paths",
                                         help="Report input paths missing on this machine (as warnings)."),
        json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Check trainer commands and TOMLs together for every known pitfall. Exit 0 GO, 1 NO-GO, 2 could not run."""
        from loragate.validate import validate_files

        report = run_engine(lambda: validate_files(list(files), model=model, check_paths=check_paths))
        if json_out:
            print_json(report)
        else:
            # file:line on whole lines: long paths stay readable and can be copied.
            print_rows((f"{inv.script} ({inv.stage}{', ' + inv.model if inv.model else ''}"
                        f"{', ' + inv.expert + ' expert' if inv.expert else ''})", f"at {inv.source}")
                       for inv in report.invocations)
            if report.dataset_configs:
                print_rows([("Dataset configs:", ", ".join(report.dataset_configs))])
            if report.findings:
                print_findings(report.findings, title="Validation findings")
            c = report.counts
            console.print(f"{c['block']} blocking, {c['warn']} warnings, {c['info']} notes "
                          f"({report.rules_run} checks; model {report.model or 'unknown'}, {report.model_source}).")
            print_verdict(report.verdict, "Config validation")
        exit_for(report.verdict)
