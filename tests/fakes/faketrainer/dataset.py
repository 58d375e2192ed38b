"""Reading the dataset TOMLs the way the trainers do, down to what the stand-ins need: which media,
at what size, how many frames, in batches of what.

musubi-tuner: `[general]` + `[[datasets]]` with image_directory/video_directory, cache_directory
(default: the media folder), target_frames (default (1,)), frame_extraction (reference
musubi-tuner.md section 2). sd-scripts: `[general]` + `[[datasets]]` + `[[datasets.subsets]]`
with image_dir, num_repeats, caption_extension (default ".caption") (sd-scripts.md section 3).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .console import Logger

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
VIDEO_EXTS = {".mp4", ".webm", ".mov", ".avi", ".mkv"}


@dataclass
class Clip:
    start: int
    frames: int


@dataclass
class Media:
    path: Path
    width: int
    height: int
    frame_count: int | None = None  # None for images
    clips: list[Clip] = field(default_factory=list)

    @property
    def basename(self) -> str:
        return self.path.stem


@dataclass
class DatasetBlock:
    kind: str  # image or video
    directory: Path
    cache_directory: Path
    resolution: tuple[int, int]
    batch_size: int
    num_repeats: int
    caption_extension: str | None
    target_frames: list[int]
    media: list[Media] = field(default_factory=list)


def load_toml(path: str | Path) -> dict[str, Any]:
    return tomllib.loads(Path(path).read_text(encoding="utf-8"))


def _resolution(value: Any, default: tuple[int, int]) -> tuple[int, int]:
    if value is None:
        return default
    if isinstance(value, int):
        return (value, value)
    return (int(value[0]), int(value[1]))


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as img:
        return img.size


def _video_info(path: Path) -> tuple[int, int, int]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = stream.frames or sum(1 for _ in container.decode(stream))
        return stream.width, stream.height, frames


def _clips(frame_count: int, targets: list[int], extraction: str) -> list[Clip]:
    """Clips cut from a video; target_frames are rounded down to 4n+1 (musubi docs/dataset_config.md)."""
    clips: list[Clip] = []
    for target in sorted({((t - 1) // 4) * 4 + 1 for t in targets}):
        if target > frame_count:
            continue
        if extraction == "chunk":
            clips += [Clip(s, target) for s in range(0, frame_count - target + 1, target)]
        else:  # head (default); other modes are approximated by head
            clips.append(Clip(0, target))
    return clips


def musubi_blocks(config_path: str | Path) -> list[DatasetBlock]:
    data = load_toml(config_path)
    general = data.get("general", {})
    blocks: list[DatasetBlock] = []
    for ds in data.get("datasets", []):
        get = lambda key, default=None, ds=ds: ds.get(key, general.get(key, default))  # noqa: E731
        is_video = "video_directory" in ds
        directory = Path(ds["video_directory"] if is_video else ds["image_directory"])
        block = DatasetBlock(
            kind="video" if is_video else "image",
            directory=directory,
            cache_directory=Path(ds.get("cache_directory") or directory),
            resolution=_resolution(get("resolution"), (960, 544)),
            batch_size=int(get("batch_size", 1)),
            num_repeats=int(get("num_repeats", 1)),
            caption_extension=get("caption_extension"),
            target_frames=list(ds.get("target_frames", [1])) if is_video else [1],
        )
        exts = VIDEO_EXTS if is_video else IMAGE_EXTS
        files = sorted(p for p in directory.iterdir() if p.suffix.lower() in exts) if directory.is_dir() else []
        if not is_video and block.caption_extension is not None:
            # musubi dataset/media_utils.py glob_images: an image without its caption file is left out, silently
            files = [f for f in files if f.with_suffix(block.caption_extension).exists()]
        kind = "videos" if is_video else "images"
        log = Logger("musubi", "musubi_tuner.dataset.datasources", "")
        log.info(f"glob {kind} in {directory}")
        log.info(f"found {len(files)} {kind}")
        for file in files:
            if is_video:
                w, h, n = _video_info(file)
                clips = _clips(n, block.target_frames, ds.get("frame_extraction", "head"))
                block.media.append(Media(file, w, h, n, clips))
            else:
                w, h = _image_size(file)
                block.media.append(Media(file, w, h))
        blocks.append(block)
    return blocks


@dataclass
class Subset:
    image_dir: Path
    num_repeats: int
    caption_extension: str
    class_tokens: str | None
    images: list[Path]


@dataclass
class SdDataset:
    resolution: tuple[int, int] | None
    batch_size: int
    subsets: list[Subset]


def sdscripts_datasets(config_path: str | Path | None, args: Any) -> list[SdDataset]:
    """From `--dataset_config`, else from `--train_data_dir` with `<repeats>_<tokens>` subfolders."""
    parts = [int(v) for v in str(args.resolution).split(",")] if args.resolution else []
    cli_res = (parts[0], parts[-1]) if parts else None  # "512" or "512,768"
    cli_ext = args.caption_extension or ".caption"

    def images(folder: Path) -> list[Path]:
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS) if folder.is_dir() else []

    if config_path is None:
        if not args.train_data_dir:
            return []
        subsets = []
        root = Path(args.train_data_dir)
        for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
            repeats, _, tokens = folder.name.partition("_")
            if not repeats.isdigit():
                continue  # "ignore directory without repeats"
            subsets.append(Subset(folder, int(repeats), cli_ext, tokens or None, images(folder)))
        return [SdDataset(cli_res, args.train_batch_size, subsets)]

    data = load_toml(config_path)
    general = data.get("general", {})
    result = []
    for ds in data.get("datasets", []):
        subsets = []
        for sub in ds.get("subsets", []):
            get = lambda key, default=None, sub=sub, ds=ds: sub.get(key, ds.get(key, general.get(key, default)))  # noqa: E731
            folder = Path(sub["image_dir"])
            subsets.append(
                Subset(folder, int(get("num_repeats", 1)), get("caption_extension", cli_ext), get("class_tokens"), images(folder))
            )
        res = ds.get("resolution", general.get("resolution"))
        result.append(
            SdDataset(
                _resolution(res, (0, 0)) if res is not None else cli_res,
                int(ds.get("batch_size", general.get("batch_size", args.train_batch_size))),
                subsets,
            )
        )
    return result
