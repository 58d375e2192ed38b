"""The shape of a duplicate group, apart from the search, so the audit's report model (and the
MCP server that serves it) load without numpy."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class DuplicateGroup(BaseModel):
    """Files that show the same picture. Which one to keep is the artist's choice."""

    kind: Literal["exact", "near"] = Field(description="exact: same pixels; near: same picture, changed.")
    paths: list[str] = Field(description="Relative to the dataset folder, sorted.")
    distance: int | None = Field(
        default=None,
        description="Largest hash distance (bits of 64) on the links that formed the group; 0 for exact.",
    )
    mirrored: bool = Field(default=False, description="Some link in the group is a left-right mirror.")
    media: Literal["image", "video"] = "image"
    contact_sheet: str | None = Field(default=None, description="PNG showing the group side by side, if written.")


class DuplicatesReport(BaseModel):
    dataset: str = Field(description="Absolute path of the dataset folder.")
    groups: list[DuplicateGroup] = Field(default_factory=list, description="Exact groups first, then near groups.")
    images: int = Field(default=0, description="Images compared.")
    videos: int = Field(default=0, description="Clips compared.")
    unreadable: list[str] = Field(default_factory=list, description="Files that could not be decoded and were not compared.")
    mirror: bool = Field(default=False, description="Whether left-right mirrored copies were searched for.")
    contact_sheets: str | None = Field(default=None, description="Folder holding the contact sheets, if written.")
    all_flagged_sheet: str | None = Field(default=None, description="One sheet showing every flagged file.")
    cached: int = Field(default=0, description="Images whose signature came from the cache.")
    seconds: float = 0.0


def group_likeness(group: DuplicateGroup) -> str:
    """How alike the files are, in an artist's words (the hash distance stays in the evidence)."""
    noun = "clip" if group.media == "video" else "picture"
    if group.kind == "exact":
        return f"the same {noun}, byte for byte or pixel for pixel"
    if group.mirrored:
        return f"the same {noun}, one of them flipped left-right"
    if not group.distance:
        return f"the same {noun} at another size, quality or file format"
    return f"the same {noun}, slightly changed (cropped, recoloured or re-compressed)"
