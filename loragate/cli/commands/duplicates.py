"""`loragate duplicates DATASET` and `loragate quarantine DATASET FILE...`."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.text import Text

from loragate.cli.output import EXIT_GO, EXIT_NO_GO, console, lit, plain, print_json, print_rows, progress_bar, run_engine


def register(app: typer.Typer) -> None:
    @app.command("duplicates")
    def duplicates(
        dataset: Path = typer.Argument(..., help="The dataset folder."),
        mirror: bool = typer.Option(False, "--mirror", help="Also count left-right mirrored copies as duplicates."),
        name: Optional[str] = typer.Option(None, "--name", help="Project name: contact sheets go to grimoire/training/NAME/contact-sheets/."),
        sheets: Optional[Path] = typer.Option(None, "--sheets", help="Folder for the contact sheets (outside the dataset)."),
        caption_ext: str = typer.Option(".txt", "--caption-ext", help="Caption file extension."),
        json_out: bool = typer.Option(False, "--json", help='Print {"groups": [...], ...} as JSON.'),
    ) -> None:
        """Find exact and near-duplicate images and clips. Exit 0 when no exact copies, 1 when some (they block Gate 1)."""
        from loragate.duplicates.find import find_duplicates
        from loragate.duplicates.group import group_likeness

        with progress_bar("Comparing", enabled=not json_out) as progress:
            report = run_engine(
                lambda: find_duplicates(dataset, mirror=mirror, name=name, sheets_dir=sheets, progress=progress, caption_extension=caption_ext)
            )
        if json_out:
            print_json(report)
        else:
            if report.groups:
                # One block per group, file names on whole lines: they are what the artist quarantines.
                print_rows([("Duplicates in", report.dataset)])
                for n, g in enumerate(report.groups, 1):
                    kind = g.kind + (" (mirrored)" if g.mirrored else "") + ("" if g.media == "image" else " clips")
                    sheet = f"; contact sheet {Path(g.contact_sheet).name}" if g.contact_sheet else ""
                    console.print(Text.assemble((f"{n}. {kind}", "bold"), plain(f" ({group_likeness(g)}){sheet}")),
                                  soft_wrap=True)
                    for path in g.paths:
                        console.print(Text(f"   {plain(path)}"), soft_wrap=True)
                if report.contact_sheets:
                    print_rows([("Contact sheets (open them to compare the copies):", report.contact_sheets)])
                console.print(
                    "Which copy to keep is your choice. `loragate quarantine DATASET FILE...` moves the others "
                    "into _quarantine/ (undo with --undo)."
                )
            else:
                console.print("[green]No duplicates found.[/]")
            if report.unreadable:
                console.print(f"[yellow]{len(report.unreadable)} file(s) could not be decoded and were not compared; see `loragate audit`.[/]")
            if report.all_flagged_sheet:
                console.print(f"All flagged files on one sheet: {lit(Path(report.all_flagged_sheet).name)}")
            console.print(f"[dim]{report.images} images, {report.videos} clips in {report.seconds:.2f} s ({report.cached} from cache)[/]")
        raise typer.Exit(EXIT_NO_GO if any(g.kind == "exact" for g in report.groups) else EXIT_GO)

    @app.command("quarantine")
    def quarantine_cmd(
        dataset: Path = typer.Argument(..., help="The dataset folder."),
        files: Optional[List[str]] = typer.Argument(None, help="Files to move aside, relative to the dataset (with --undo: none means all)."),
        undo: bool = typer.Option(False, "--undo", help="Put quarantined files back where they were."),
        caption_ext: str = typer.Option(".txt", "--caption-ext", help="Caption file extension (captions move with their image)."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Move files (and their captions) into DATASET/_quarantine/ with a manifest; --undo restores them.
        Exit 0 when everything named was moved, 1 when something was left in place."""
        from loragate.duplicates.quarantine import quarantine

        result = run_engine(lambda: quarantine(dataset, list(files or []), undo=undo, caption_extension=caption_ext))
        if json_out:
            print_json(result)
        else:
            verb = "Put back" if undo else "Moved to _quarantine/"
            for entry in result.moved:
                console.print(f"{verb}: {lit(entry.original)}")
            for path, why in result.skipped.items():
                console.print(f"[yellow]Left in place: {lit(path)} ({lit(why)})[/]")
            if not result.moved and not result.skipped:
                console.print("Nothing to do.")
            console.print(f"[dim]Manifest: {lit(result.manifest)}[/]")
        raise typer.Exit(EXIT_NO_GO if result.skipped else EXIT_GO)
