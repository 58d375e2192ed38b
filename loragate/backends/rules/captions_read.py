"""Which caption files the trainer will really read, from the folders a dataset TOML or command names.

sd-scripts reads `<image stem><caption_extension>` with `.caption` as the default (train_util
read_caption); musubi-tuner reads `<stem><caption_extension>` and needs the extension set for folder
datasets. When the extension in effect matches none of the captions beside the images, the trainer
trains on empty captions (or only the folder's class words) without stopping.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from loragate.dataset.scan import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from loragate.core.findings import listed
from loragate.validate.parse_toml import DatasetConfig
from loragate.validate.rules.base import Hit, Setup, rule
from loragate.backends.rules.dataset_toml import sds_value

CAPTION_SUFFIXES = (".txt", ".caption", ".tags", ".json")
REPEAT_FOLDER = re.compile(r"^(\d+)_(.*)$")  # sd-scripts DreamBooth folders: <repeats>_<class words>


@dataclass(frozen=True)
class CaptionsRead:
    """What the trainer finds in one folder for one caption extension."""

    media: list[Path]
    missing: list[Path]  # media without a caption in the extension the trainer reads
    other_extension: str | None  # the extension the captions beside the media do have
    other_files: list[Path]

    @property
    def noun(self) -> str:
        videos = sum(p.suffix.lower() in VIDEO_EXTENSIONS for p in self.media)
        return "clips" if videos == len(self.media) else "pictures" if not videos else "files"

    @property
    def read(self) -> int:
        return len(self.media) - len(self.missing)


def _files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_file())
    except OSError:
        return []


def captions_read(folder: Path, extension: str) -> CaptionsRead:
    files = _files(folder)
    media = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS]
    names = {p.name for p in files}
    ext = extension if extension.startswith(".") else "." + extension  # both trainers add the dot
    missing = [p for p in media if p.stem + ext not in names]
    stems = {p.stem for p in missing}
    others = [p for p in files if p.suffix in CAPTION_SUFFIXES and p.suffix != ext and p.stem in stems]
    counts = Counter(p.suffix for p in others)
    other = counts.most_common(1)[0][0] if counts else None
    return CaptionsRead(media, missing, other, [p for p in others if p.suffix == other])


def _folder_text(folder: Path, written: str) -> str:
    return written if written.rstrip("/").endswith(folder.name) else f"{written}/{folder.name}"


def _hits(found: CaptionsRead, folder: str, ext: str, how_set: str, fallback: str, fix_missing: str,
          evidence: dict[str, Any]) -> Iterator[Hit]:
    if not found.media:
        return
    if found.read == 0 and found.other_extension:
        yield Hit(f"The trainer reads captions ending in {ext} ({how_set}), but the captions in {folder} end in "
                  f"{found.other_extension} ({listed(p.name for p in found.other_files)}), so none of them is read: "
                  f"all {len(found.media)} {found.noun} train {fallback}.",
                  fix_missing.format(ext=found.other_extension),
                  {**evidence, "caption_extension": ext, "found": found.other_extension,
                   "files": [p.name for p in found.other_files]})
    elif found.missing:
        yield Hit(f"{len(found.missing)} of {len(found.media)} {found.noun} in {folder} have no {ext} caption "
                  f"({listed(p.name for p in found.missing)}); they train {fallback}.",
                  f"Write a {ext} caption for each of them (same name, {ext} instead of the picture's extension), "
                  "or move them out of the folder.",
                  {**evidence, "caption_extension": ext, "files": [p.name for p in found.missing]}, severity="warn")


def _dataset_sources(setup: Setup, config: DatasetConfig) -> Iterator[tuple[tuple[Any, ...], str, Any, bool]]:
    """(where, folder as written, caption extension in effect, whether anyone set it)."""
    for i, ds in enumerate(config.datasets):
        if config.schema == "musubi":
            for key in ("image_directory", "video_directory"):
                folder = ds.get(key)
                if isinstance(folder, str):
                    ext = ds.get("caption_extension", config.general.get("caption_extension"))
                    yield ("datasets", i), folder, ext, ext is not None
            continue
        for j, sub in enumerate(ds.get("subsets", []) or []):
            if not isinstance(sub, dict) or "metadata_file" in sub or not isinstance(sub.get("image_dir"), str):
                continue
            ext = sub.get("caption_extension")
            if ext is None:
                ext = sds_value(setup, config, i, "caption_extension")
            yield ("datasets", i, "subsets", j), sub["image_dir"], ext if ext is not None else ".caption", ext is not None


@rule("TOML_CAPTION_EXTENSION", "block", "The caption extension the trainer reads is not the one the captions have.",
      "reference sd-scripts.md §6.1 (default .caption: captions silently ignored), musubi-tuner.md §2 "
      "(caption_extension required for directory datasets)")
def toml_caption_extension(setup: Setup) -> Iterator[Hit]:
    for config in setup.datasets.values():
        if config.error or not config.schema:
            continue
        for where, written, ext, was_set in _dataset_sources(setup, config):
            if config.schema == "musubi" and ext is None:
                yield Hit(f"The dataset in {written} has no caption_extension (in it or in [general]); musubi "
                          "needs one for folder datasets and stops.", "Add caption_extension = \".txt\" to [general].",
                          config.evidence(*where))
                continue
            path = setup.resolve(written, config.base_dir)
            if not setup.may_look(path, written):
                continue  # outside the allowed folders: never read, not even probed
            if not path.is_dir():
                if not was_set:
                    yield Hit(f"No caption_extension is set for {written}, so sd-scripts looks for .caption files; "
                              "if your captions are .txt they are silently ignored.",
                              "Add caption_extension = \".txt\" to [general] if that is what you use.",
                              config.evidence(*where), severity="warn")
                continue
            how = "set in the dataset file" if was_set else "the default, since caption_extension is not set"
            yield from _hits(captions_read(path, str(ext)), written, str(ext), how, "without captions",
                             "Set caption_extension = \"{ext}\" in [general].",
                             config.evidence(*where, folder=str(path)))


def repeat_folders(folder: Path) -> list[tuple[Path, str]]:
    """The `<repeats>_<class words>` folders sd-scripts reads from a --train_data_dir, with their words."""
    try:
        subs = sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []
    out = []
    for sub in subs:
        match = REPEAT_FOLDER.match(sub.name)
        if match:
            out.append((sub, match.group(2).replace("_", " ").strip()))
    return out


@rule("SDS_CAPTION_EXTENSION", "block", "--train_data_dir captions in another extension than --caption_extension.",
      "sd-scripts train_util (--caption_extension default .caption; DreamBoothDataset read_caption falls back "
      "to the folder's class words, logging 'No caption file found ... continue without captions')")
def command_caption_extension(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        if inv.has("--dataset_config") or inv.has("--in_json"):
            continue  # a dataset TOML or metadata file says where captions are
        given = inv.value("--caption_extension") or inv.value("--caption_extention")  # old spelling still read
        ext = given or ".caption"
        how = f"--caption_extension {given}" if given else "the default, since --caption_extension is not given"
        for flag in ("--train_data_dir", "--reg_data_dir"):
            value = inv.value(flag)
            folder = setup.resolve(value, setup.base_dir(inv)) if value else None
            if folder is None or not setup.may_look(folder, value) or not folder.is_dir():
                continue
            for sub, words in repeat_folders(folder):
                fallback = f"with only the folder's words \"{words}\" as their caption" if words else "without captions"
                yield from _hits(captions_read(sub, ext), _folder_text(sub, str(value)), ext if ext.startswith(".")
                                 else "." + ext, how, fallback, "Add --caption_extension {ext} to the command.",
                                 inv.evidence("--caption_extension", folder=str(sub)))
