"""`loragate captions write` (approved captions to sidecar files) and `loragate caption` (batch
captioning with Claude's vision). Exit 0 when everything asked for was done, 1 when some pictures
were skipped, refused or failed, 2 when it could not run."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, cast

import typer

from loragate.core.vocabulary import TrainingType
from rich.table import Table

from loragate.cli.output import EXIT_GO, EXIT_NO_GO, console, lit, print_json, progress_bar, run_engine

STATUS_STYLE = {"written": "green", "overwritten": "yellow", "unchanged": "dim", "skipped": "yellow", "refused": "red"}


def _writes_table(results, title: str) -> Table:  # results: list[CaptionWrite]
    table = Table(title=title, expand=True)
    table.add_column("picture", no_wrap=True)
    table.add_column("", width=11)
    table.add_column("caption / reason", ratio=3)
    for r in results:
        detail = lit(r.reason if r.status in ("skipped", "refused") else (r.text or ""))
        if r.warnings:
            detail += "".join(f"\n[yellow]note:[/] {lit(w)}" for w in r.warnings)
        table.add_row(lit(r.image), f"[{STATUS_STYLE[r.status]}]{r.status}[/]", detail)
    return table


def register(app: typer.Typer) -> None:
    captions_app = typer.Typer(help="Write captions the artist approved, beside their pictures.", no_args_is_help=True, rich_markup_mode=None)
    app.add_typer(captions_app, name="captions")

    @captions_app.command("write")
    def write_cmd(
        dataset: Path = typer.Argument(..., help="The dataset folder."),
        approved: Path = typer.Option(..., "--from", help="Approved samples file: a JSON list of {image, caption, content, style}."),
        trigger: str = typer.Option(..., "--trigger", help="The trigger word; every caption starts with it."),
        model: Optional[str] = typer.Option(None, "--model", help="Model family (sets tags or sentences), e.g. pony, flux1-dev."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace different existing captions (old text kept in .caption-history/)."),
        caption_ext: str = typer.Option(".txt", "--caption-ext", help="Caption file extension."),
        json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Write approved captions as sidecar files: trigger first, in the model's style, never overwriting silently."""
        from loragate.captions.approved import as_caption_map, load_approved
        from loragate.captions.writer import write_captions

        report = run_engine(
            lambda: write_captions(dataset, as_caption_map(load_approved(approved)), trigger, model=model,
                                   overwrite=overwrite, caption_extension=caption_ext)
        )
        if json_out:
            print_json(report)
        else:
            console.print(_writes_table(report.results, f"Captions in {lit(report.dataset)}"))
            console.print(lit(report.summary))
        raise typer.Exit(EXIT_NO_GO if report.skipped or report.refused else EXIT_GO)

    @app.command("caption")
    def caption_cmd(
        dataset: Path = typer.Argument(..., help="The dataset folder."),
        trigger: str = typer.Option(..., "--trigger", help="The trigger word; every caption starts with it."),
        examples: Path = typer.Option(..., "--examples", help="Approved samples file (APPROVED.json) the batch follows."),
        model: Optional[str] = typer.Option(None, "--model", help="Model family (sets tags or sentences), e.g. pony, flux1-dev."),
        training_type: Optional[str] = typer.Option(None, "--type", help="character, style or object: what the trigger word carries."),
        eye: Optional[Path] = typer.Option(None, "--eye", help="The artist's notes (default grimoire/eye.md)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Re-caption pictures that already have a caption (old text kept)."),
        limit: Optional[int] = typer.Option(None, "--limit", min=0, help="Send at most this many pictures in this run."),
        caption_ext: str = typer.Option(".txt", "--caption-ext", help="Caption file extension."),
        json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Caption every uncaptioned picture with Claude's vision, following the approved samples.
        Needs ANTHROPIC_API_KEY; resumable (run it again to continue or retry failures)."""
        from loragate.captions.batch import caption_dataset

        with progress_bar("captioning", enabled=not json_out) as progress:
            report = run_engine(
                lambda: caption_dataset(dataset, trigger, examples, model=model, eye=eye, overwrite=overwrite,
                                        progress=progress, caption_extension=caption_ext, limit=limit,
                                        training_type=cast("TrainingType | None", training_type))
            )
        if json_out:
            print_json(report)
        else:
            if report.captioned:
                console.print(_writes_table(report.captioned, f"New captions ({report.caption_model})"))
            for failure in report.failed:
                console.print(f"[red]failed:[/] {lit(failure.image)}: {lit(failure.error)}")
            for note in report.notes:
                console.print(f"[yellow]note:[/] {lit(note)}")
            console.print(f"tokens: {report.input_tokens} in, {report.output_tokens} out")
            console.print(lit(report.summary))
        raise typer.Exit(EXIT_NO_GO if report.failed or report.remaining or report.stopped_early else EXIT_GO)
