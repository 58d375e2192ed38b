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
    owned = _by_owner(controls)
    found: list[Finding] = []
    for m in pictures:
        stem, folder = PurePosixPath(m.path).stem, _folder(m)
        mine = owned.get((folder, stem), [])
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


def _by_owner(controls: list[MediaFile]) -> dict[tuple[str, str], list[str]]:
    """Starting images by the (picture folder, picture stem) they may belong to: x.png and x_0.png to x
    (x_0.png also to a picture named x_0), so each picture looks up its own instead of scanning all."""
    owned: dict[tuple[str, str], list[str]] = {}
    for c in controls:
        parent, stem = control_parent(_folder(c)), PurePosixPath(c.path).stem
        if parent is None:
            continue
        owned.setdefault((parent, stem), []).append(c.path)
        head, _, number = stem.rpartition("_")
        if head and number.isdigit():
            owned.setdefault((parent, head), []).append(c.path)
    return owned

