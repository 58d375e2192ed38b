"""find_duplicates and quarantine_files."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from loragate.duplicates.group import DuplicatesReport
from loragate.duplicates.quarantine import QuarantineResult
from mcp_server.common import WRITES_RECORD, call_engine, lazy, resolve_path

# Moves the artist's files, but only into _quarantine/ inside the same folder and undoably:
# not read-only, not destructive, and a second identical call does something different.
MOVES_FILES_UNDOABLY = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)


find_duplicates = lazy("loragate.duplicates.find:find_duplicates")
quarantine = lazy("loragate.duplicates.quarantine:quarantine")

def register(mcp: MCPServer) -> None:
    @mcp.tool(name="find_duplicates", title="Find duplicate images and clips", annotations=WRITES_RECORD)
    async def find_duplicates_tool(
        dataset: Annotated[str, Field(description="The dataset folder, relative to the project or absolute.")],
        mirror: Annotated[bool, Field(description="Also treat left-right mirrored copies as duplicates.")] = False,
        name: Annotated[
            str | None, Field(description="Project name; contact sheets are written to grimoire/training/NAME/contact-sheets/.")
        ] = None,
        sheets_dir: Annotated[
            str | None, Field(description="Another folder for the contact sheets (must be outside the dataset).")
        ] = None,
        caption_extension: Annotated[str, Field(description="Caption file extension.")] = ".txt",
        ctx: Context | None = None,
    ) -> DuplicatesReport:
        """Find exact copies (same pixels, any file format) and near copies (resized, re-saved,
        cropped up to 10%, re-lit; mirrored with `mirror`) among a dataset's images and clips, as
        groups. Call it when audit_dataset reports duplicates, or when an artist asks which pictures
        repeat. It never changes the dataset; with `name` or `sheets_dir` it draws a contact-sheet PNG
        per group so the artist can look and choose which copy to keep. Show them the sheets and let
        them decide; then quarantine_files moves the ones they reject."""
        folder = resolve_path(dataset, "dataset folder")
        sheets = resolve_path(sheets_dir, "contact-sheet folder") if sheets_dir else None
        return await call_engine(
            ctx, find_duplicates, folder, mirror=mirror, name=name, sheets_dir=sheets, caption_extension=caption_extension, progress=None
        )

    @mcp.tool(name="quarantine_files", title="Move files aside (undoable)", annotations=MOVES_FILES_UNDOABLY)
    async def quarantine_files_tool(
        dataset: Annotated[str, Field(description="The dataset folder, relative to the project or absolute.")],
        files: Annotated[
            list[str], Field(description="Files to move, relative to the dataset folder. With undo, an empty list restores everything.")
        ],
        undo: Annotated[bool, Field(description="Put previously quarantined files back where they were.")] = False,
        caption_extension: Annotated[str, Field(description="Caption file extension; captions move with their image.")] = ".txt",
    ) -> QuarantineResult:
        """Move files the artist chose to drop (and their caption files) into DATASET/_quarantine/,
        recording original place, size and sha256 in a manifest; with `undo`, put them back exactly.
        Nothing is deleted or overwritten, and the audit ignores _quarantine/. This moves the
        artist's files: call it only after the artist has said which files to set aside (for
        example after looking at find_duplicates' contact sheets), never on your own judgement."""
        folder = resolve_path(dataset, "dataset folder")
        return await call_engine(None, quarantine, folder, list(files), undo=undo, caption_extension=caption_extension)
