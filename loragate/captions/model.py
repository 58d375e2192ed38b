"""The typed records of captioning: approved samples, what each write did, batch results."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

WriteStatus = Literal["written", "overwritten", "unchanged", "skipped", "refused"]


class ApprovedSample(BaseModel):
    """One caption the artist approved. A file of these (a JSON list) seeds batch captioning.

    APPROVED.json is a list of objects:
    `{"image": "path/relative/to/dataset.png", "caption": "mira, ...", "content": [...], "style": [...]}`
    where `content` lists what the picture shows and `style` how it is made.
    """

    image: str = Field(description="Image or clip path relative to the dataset folder, '/'-separated.")
    caption: str = Field(description="The caption the artist approved (the trigger word is put first on writing).")
    content: list[str] = Field(default_factory=list, description="What is depicted: subject, setting, action, objects.")
    style: list[str] = Field(default_factory=list, description="How it is made: medium, brushwork, palette, light, edges.")


class CaptionWrite(BaseModel):
    """What happened to one caption file."""

    image: str = Field(description="The image or clip, relative to the dataset folder.")
    caption_file: str | None = Field(default=None, description="Its sidecar caption, relative to the dataset folder.")
    status: WriteStatus = Field(
        description="written (new file), overwritten (old text kept in history), unchanged (same text already there), "
        "skipped (a different caption exists and overwrite was off), refused (bad path, missing image, empty caption)."
    )
    text: str | None = Field(default=None, description="The caption as written (or as it would have been).")
    reason: str = Field(default="", description="Why it was skipped or refused, in plain words.")
    history: str | None = Field(default=None, description="Where the previous caption text was saved.")
    warnings: list[str] = Field(default_factory=list)


class CaptionWriteReport(BaseModel):
    dataset: str
    trigger: str
    model: str | None = None
    caption_style: str = Field(description="booru (comma-separated tags), natural (sentences) or mixed.")
    caption_extension: str
    history_dir: str = Field(description="Where previous caption texts are kept, one file per overwrite.")
    results: list[CaptionWrite] = Field(default_factory=list)
    written: int = 0
    overwritten: int = 0
    unchanged: int = 0
    skipped: int = 0
    refused: int = 0
    approved_file: str | None = Field(default=None, description="Where the approved samples were saved, when asked.")
    summary: str = ""


class CaptionFailure(BaseModel):
    image: str
    error: str = Field(description="What went wrong; the image is tried again on the next run.")


class CaptionBatchReport(BaseModel):
    dataset: str
    trigger: str
    model: str | None = None
    caption_style: str
    caption_model: str = Field(description="The Claude model that looked at the pictures.")
    examples: int = Field(description="Approved samples sent as examples with every request.")
    total_media: int = Field(description="Images and clips in the dataset.")
    already_captioned: int = Field(description="Skipped because they already had a caption (or were done in an earlier run).")
    captioned: list[CaptionWrite] = Field(default_factory=list, description="Captions written in this run.")
    failed: list[CaptionFailure] = Field(default_factory=list)
    remaining: int = Field(description="Media still without a caption after this run.")
    stopped_early: bool = Field(default=False, description="True when the run stopped before the end (see summary).")
    input_tokens: int = 0
    output_tokens: int = 0
    progress_file: str = Field(description="The run's progress record; a new run with the same settings continues it.")
    notes: list[str] = Field(default_factory=list)
    summary: str = ""
