"""`loragate audit DATASET`: Gate 1, the dataset audit."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from loragate.cli.output import exit_for, print_findings, print_json, print_rows, print_verdict, progress_bar, run_engine


def register(app: typer.Typer) -> None:
    @app.command("audit")
    def audit(
        dataset: Path = typer.Argument(..., help="The dataset folder (flat, Images/ + Videos/, or kohya N_name folders)."),
        trigger: Optional[str] = typer.Option(None, "--trigger", help="The trigger word every caption must contain."),
        model: Optional[str] = typer.Option(None, "--model", help="Model family, e.g. sdxl, pony, flux1-dev, wan2.1-t2v-14b."),
        training_type: Optional[str] = typer.Option(None, "--type", help="character, style or object."),
        name: Optional[str] = typer.Option(None, "--name", help="Project name: writes grimoire/training/NAME/dataset-report.md and records Gate 1."),
        caption_ext: str = typer.Option(".txt", "--caption-ext", help="Caption file extension."),
        json_out: bool = typer.Option(False, "--json", help="Print the audit report as JSON."),
    ) -> None:
        """Gate 1: check every image, clip and caption before training. Exit 0 GO, 1 NO-GO, 2 could not run."""
        from loragate.dataset.audit import audit_dataset
        from loragate.dataset.request import audit_request

        # the same request model as MCP's audit_dataset: the same choices and sentences
        request = run_engine(lambda: audit_request(dataset=dataset, trigger=trigger, model=model, training_type=training_type,
                                                   name=name, caption_extension=caption_ext))
        with progress_bar("Auditing", enabled=not json_out) as progress:
            report = run_engine(lambda: audit_dataset(**dict(request), progress=progress))
        if json_out:
            print_json(report)
        else:
            from loragate.dataset.report import clip_lengths

            summary: list[tuple[str, str]] = []
            summary.append(("dataset", f"{report.dataset} ({report.layout} layout)"))
            summary.append(("media", f"{report.images} images, {report.videos} clips, {report.captions} captions"))
            summary.append(("usable", f"{report.size.usable_images + report.size.usable_videos}"))
            if report.median_resolution:
                summary.append(("median size", f"{report.median_resolution[0]}x{report.median_resolution[1]}"))
            if report.median_clip_resolution:
                summary.append(("median clip size", f"{report.median_clip_resolution[0]}x{report.median_clip_resolution[1]}"))
            if report.clips:
                summary.append(("clip length", clip_lengths(report)))
            summary.append(("duplicates", f"{len(report.duplicate_groups)} group(s)"))
            summary.append(("time", f"{report.seconds:.2f} s ({report.cached} from cache)"))
            print_rows(summary)
            if report.findings:
                print_findings(report.findings, title="Gate 1 findings")
            if report.report_path:
                print_rows([("Report:", report.report_path)])
            print_verdict(report.verdict, "Gate 1 (dataset)")
        exit_for(report.verdict)
