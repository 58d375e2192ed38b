"""The typed records of a dataset audit: what the scan found, what each file measured, the report."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from loragate.duplicates.group import DuplicateGroup
from loragate.duplicates.signature import ImageSignature
from loragate.core.findings import Finding, Verdict
from loragate.core.vocabulary import TrainingType

Layout = Literal["flat", "wan", "kohya", "empty"]
MediaKind = Literal["image", "video"]


class MediaFile(BaseModel):
    """One image or clip the trainer will read."""

    path: str = Field(description="Relative to the dataset folder, '/'-separated.")
    kind: MediaKind
    size: int = Field(description="Bytes.")
    mtime_ns: int
    repeats: int = Field(default=1, description="kohya `N_name` folder repeat count, else 1.")
    caption: str | None = Field(default=None, description="Relative path of its caption file, if one exists.")


class RepeatFolder(BaseModel):
    path: str
    repeats: int
    class_tokens: str


class DatasetScan(BaseModel):
    """Every file under the dataset folder, sorted into media, captions and the rest."""

    root: str = Field(description="Absolute path of the dataset folder.")
    layout: Layout
    caption_extension: str
    images: list[MediaFile] = Field(default_factory=list)
    videos: list[MediaFile] = Field(default_factory=list)
    captions: list[str] = Field(default_factory=list, description="Relative paths of every caption file.")
    repeat_folders: list[RepeatFolder] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list, description="Problems seen while listing files.")


class ImageAnalysis(BaseModel):
    """What one decode of an image measured. `error` set means it could not be decoded."""

    path: str
    error: str | None = Field(default=None, description="A DS_ code when the file could not be used.")
    error_detail: str = ""
    format: str | None = Field(default=None, description="The real format from the file's bytes (JPEG, PNG, ...).")
    width: int = 0
    height: int = 0
    pixels: int = Field(default=0, description="Width x height, from the header.")
    mode: str = ""
    bit_depth: int = 8
    alpha_used: bool = Field(default=False, description="Some pixel is not fully opaque.")
    exif_orientation: int = 1
    frames: int = 1
    scores: dict[str, float] = Field(default_factory=dict, description="property name -> score, see image_checks.")
    signature: ImageSignature | None = Field(default=None, description="Duplicate-finder hashes from the same decode.")


class VideoProbe(BaseModel):
    """What PyAV reads from a clip's container and stream headers (plus packet timing)."""

    path: str
    error: str | None = None
    error_detail: str = ""
    width: int = 0
    height: int = 0
    frames: int = 0
    fps: float = 0.0
    duration_s: float = 0.0
    rotation: int = 0
    variable_frame_rate: bool = False
    codec: str = ""


class CaptionStats(BaseModel):
    captioned: int = Field(default=0, description="Media files with a readable, non-empty caption.")
    caption_texts: int = Field(default=0, description="Distinct readable, non-empty caption files.")
    missing: int = 0
    empty: int = 0
    orphans: int = 0
    with_trigger: int = 0
    style: dict[str, int] = Field(default_factory=dict, description="booru / natural / mixed -> caption count.")
    tokens_max: int = 0
    tokens_mean: float = 0.0
    token_limit: int | None = None


class SizeSummary(BaseModel):
    usable_images: int = 0
    usable_videos: int = 0
    recommended: list[int] | None = Field(default=None, description="[min, max] for the training type.")
    samples_per_epoch: int = Field(default=0, description="Usable items times their repeats.")
    steps_per_epoch: dict[str, int] = Field(default_factory=dict, description="batch size -> optimizer steps per epoch.")


class ClipSummary(BaseModel):
    """Lengths of the usable clips: what decides Wan's frame buckets."""

    frames_median: int = 0
    frames_min: int = 0
    frames_max: int = 0
    seconds_median: float = 0.0
    fps: dict[str, int] = Field(default_factory=dict, description="frame rate -> number of clips.")


class AuditReport(BaseModel):
    """Gate 1's answer for one dataset."""

    verdict: Verdict
    dataset: str = Field(description="Absolute path of the dataset folder.")
    layout: Layout
    model: str | None = None
    training_type: TrainingType | None = None
    trigger: str | None = None
    caption_extension: str = ".txt"
    training_resolution: list[int] | None = None
    images: int = 0
    videos: int = 0
    captions: int = 0
    counts: dict[str, int] = Field(default_factory=dict, description="block / warn / info -> number of findings.")
    resolutions: dict[str, int] = Field(default_factory=dict, description="'WxH' -> number of images.")
    median_resolution: list[int] | None = Field(default=None, description="Median size of the images.")
    clip_resolutions: dict[str, int] = Field(default_factory=dict, description="'WxH' (as played) -> number of clips.")
    median_clip_resolution: list[int] | None = None
    clips: ClipSummary | None = Field(default=None, description="Frame counts, length and frame rates of the clips.")
    caption_stats: CaptionStats = Field(default_factory=CaptionStats)
    size: SizeSummary = Field(default_factory=SizeSummary)
    duplicate_groups: list[DuplicateGroup] = Field(default_factory=list, description="Exact and near copies; paths relative.")
    findings: list[Finding] = Field(default_factory=list)
    cached: int = Field(default=0, description="Files whose analysis came from the cache.")
    seconds: float = 0.0
    report_path: str | None = Field(default=None, description="dataset-report.md, when --name was given.")
