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


def _folder(media: MediaFile) -> str:
    return media.path.rsplit("/", 1)[0] if "/" in media.path else ""


def split_control(scan: DatasetScan, family: ModelFamily | None) -> tuple[DatasetScan, list[Finding]]:
    """The scan without the starting images (for a model that learns from pairs), and a block for
    each picture whose starting image is missing."""
    if family is None or not family.control_images:
        return scan, []
    if family.one_frame is not None:  # a start and an end image per picture (Wan 2.1 FLF2V)
        from loragate.dataset.control_frames import split_frames

        return split_frames(scan, family, family.one_frame)
    controls = [m for m in scan.images if control_parent(_folder(m)) is not None]
    pictures = [m for m in scan.images if control_parent(_folder(m)) is None]
    have = {(control_parent(_folder(m)), PurePosixPath(m.path).stem) for m in controls}
    findings = [
        Finding(
            code="DS_CONTROL_MISSING", severity="block",
            message=f"'{m.path}' has no starting image in {_folder(m) + '/' if _folder(m) else ''}{CONTROL_FOLDER}/: "
                    f"{family.display_name} learns an edit from pairs, so the trainer cannot use it.",
            fix=f"Put its starting picture in {_folder(m) + '/' if _folder(m) else ''}{CONTROL_FOLDER}/ as "
                f"{PurePosixPath(m.path).stem} (any image type), or move the picture out of the dataset.",
            path=m.path, evidence={"picture": m.path},
        )
        for m in pictures if (_folder(m), PurePosixPath(m.path).stem) not in have
        and not any(stem.startswith(PurePosixPath(m.path).stem + "_") for parent, stem in have if parent == _folder(m))
    ]
    findings += _too_many(pictures, controls, family)
    return scan.model_copy(update={"images": pictures}), findings


def _too_many(pictures: list[MediaFile], controls: list[MediaFile], family: ModelFamily) -> list[Finding]:
    """A block for each picture with more numbered starting images (x_0, x_1 ...) than the model reads."""
    if not family.control_images_max:
        return []
    found: list[Finding] = []
    for m in pictures:
        stem, folder = PurePosixPath(m.path).stem, _folder(m)
        mine = [c.path for c in controls if control_parent(_folder(c)) == folder
                and (PurePosixPath(c.path).stem == stem or _numbered(PurePosixPath(c.path).stem, stem))]
        if len(mine) > family.control_images_max:
            found.append(Finding(
                code="DS_CONTROL_TOO_MANY", severity="block",
                message=f"'{m.path}' has {len(mine)} starting images in {folder + '/' if folder else ''}{CONTROL_FOLDER}/; "
                        f"{family.display_name} learns from one starting image per picture (musubi-tuner docs/dataset_config.md).",
                fix=f"Keep one starting image for {stem} (named {stem}, any image type), or train Qwen-Image-Edit-2509 / 2511, "
                    "which read several.",
                path=m.path, evidence={"picture": m.path, "control_images": sorted(mine)},
            ))
    return found


def _numbered(control_stem: str, stem: str) -> bool:
    """x_0, x_1, x_0000 ... belong to picture x (musubi-tuner docs/dataset_config.md)."""
    head, _, number = control_stem.rpartition("_")
    return head == stem and number.isdigit()
