"""Edit pairs (FLUX.1 Kontext, Qwen-Image-Edit): each training picture's starting image sits in a
control/ folder beside it under the same name, any image type (musubi-tuner docs/dataset_config.md,
"Image Dataset with Control Images"). The starting images are not training pictures of their own:
they need no caption, and every picture needs one."""

from __future__ import annotations

from pathlib import PurePosixPath

from loragate.catalog.models import ModelFamily
from loragate.dataset.model import DatasetScan, MediaFile
from loragate.core.findings import Finding

CONTROL_FOLDER = "control"


def control_parent(folder: str) -> str | None:
    """The picture folder a control/ folder belongs to ('' for the dataset's top), else None."""
    parent, _, name = folder.rpartition("/")
    return parent if name.lower() == CONTROL_FOLDER else None


def folder_of(media: MediaFile) -> str:
    return media.path.rsplit("/", 1)[0] if "/" in media.path else ""


def split_control(scan: DatasetScan, family: ModelFamily | None) -> tuple[DatasetScan, list[Finding]]:
    """The scan without the starting images (for a model that learns from pairs), and a block for
    each picture whose starting images musubi-tuner would not find, not accept, or not all read."""
    if family is None or not family.control_images:
        return scan, []
    if family.one_frame is not None:  # a start and an end image per picture (Wan 2.1 FLF2V)
        from loragate.dataset.control_frames import split_frames

        return split_frames(scan, family, family.one_frame)
    pictures, controls = pictures_and_controls(scan)
    matched = match_controls(pictures, controls)
    findings: list[Finding] = []
    for m in pictures:
        mine = matched[m.path]
        findings += _missing(m, family) if not mine else badly_named(m, mine) or _too_many(m, mine, family)
    return scan.model_copy(update={"images": pictures}), findings


def pictures_and_controls(scan: DatasetScan) -> tuple[list[MediaFile], list[MediaFile]]:
    """The training pictures, and the images in control/ folders beside them."""
    controls = [m for m in scan.images if control_parent(folder_of(m)) is not None]
    return [m for m in scan.images if control_parent(folder_of(m)) is None], controls


def match_controls(pictures: list[MediaFile], controls: list[MediaFile]) -> dict[str, list[str]]:
    """picture path -> its starting images, matched as musubi-tuner matches them (30c658c
    dataset/datasources.py:142-160): within a folder, longest picture file name first, each takes the
    starting images named <stem>.* or <stem>_*, which no picture after it can take. Indexed by every
    name prefix that ends before a '.' or '_', so each picture looks up its own instead of scanning all."""
    pool: dict[tuple[str, str], list[str]] = {}
    for c in controls:
        parent, name = control_parent(folder_of(c)), PurePosixPath(c.path).name
        if parent is None:
            continue
        for i, char in enumerate(name):
            if i and char in "._":
                pool.setdefault((parent, name[:i]), []).append(c.path)
    taken: set[str] = set()
    matched: dict[str, list[str]] = {}
    for m in sorted(pictures, key=lambda m: len(PurePosixPath(m.path).name), reverse=True):
        mine = [c for c in pool.get((folder_of(m), PurePosixPath(m.path).stem), []) if c not in taken]
        taken.update(mine)
        matched[m.path] = sorted(mine)
    return matched


def control_where(m: MediaFile) -> str:
    """The control/ folder beside a picture, as the artist reads it ('10_mira/control/')."""
    return f"{folder_of(m) + '/' if folder_of(m) else ''}{CONTROL_FOLDER}/"


def _missing(m: MediaFile, family: ModelFamily) -> list[Finding]:
    return [Finding(
        code="DS_CONTROL_MISSING", severity="block",
        message=f"'{m.path}' has no starting image in {control_where(m)}: {family.display_name} learns an edit from pairs, "
                "so the trainer cannot use it.",
        fix=f"Put its starting picture in {control_where(m)} as {PurePosixPath(m.path).stem} (any image type), or move the "
            "picture out of the dataset.",
        path=m.path, evidence={"picture": m.path},
    )]


def badly_named(m: MediaFile, mine: list[str]) -> list[Finding]:
    """musubi-tuner takes x_final.png as one of x's starting images, then stops: after x_ it accepts
    only a number (datasources.py sort_key: 'Invalid digits suffix')."""
    stem = PurePosixPath(m.path).stem
    bad = [c for c in mine if PurePosixPath(c).stem != stem and not PurePosixPath(c).stem.rsplit("_", 1)[-1].isdigit()]
    if not bad:
        return []
    return [Finding(
        code="DS_CONTROL_BAD_NAME", severity="block",
        message=f"musubi-tuner takes {', '.join(repr(c) for c in bad)} as starting image(s) of '{m.path}' (the name "
                f"starts with {stem}), but after '{stem}_' it accepts only a number, so it stops with 'Invalid digits suffix'.",
        fix=f"Rename it to {stem} (any image type), or {stem}_0, {stem}_1 ... for several, or move it out of {control_where(m)}.",
        path=m.path, evidence={"picture": m.path, "control_images": bad},
    )]


def _too_many(m: MediaFile, mine: list[str], family: ModelFamily) -> list[Finding]:
    """A block for a picture with more starting images than the model reads."""
    if not family.control_images_max or len(mine) <= family.control_images_max:
        return []
    stem = PurePosixPath(m.path).stem
    return [Finding(
        code="DS_CONTROL_TOO_MANY", severity="block",
        message=f"'{m.path}' has {len(mine)} starting images in {control_where(m)}; {family.display_name} learns from one "
                "starting image per picture (musubi-tuner docs/dataset_config.md).",
        fix=f"Keep one starting image for {stem} (named {stem}, any image type), or train Qwen-Image-Edit-2509 / 2511, "
            "which read several.",
        path=m.path, evidence={"picture": m.path, "control_images": mine},
    )]
