"""One-frame training (Wan 2.1 FLF2V): each training picture is a middle frame learnt from a fixed
number of control images, its start and end image, in control/ beside it as NAME_0 and NAME_1.

musubi reads exactly one control image per fp_1f_clean_indices entry (musubi-tuner 30c658c
dataset/image_video_dataset.py: control_count_per_image = len(fp_1f_clean_indices)); it stops with
"Not enough control images" when one is missing and silently keeps the first ones when there are
more (dataset/datasources.py, which orders a picture's control images NAME, NAME_0, NAME_1 ...)."""

from __future__ import annotations

from pathlib import PurePosixPath

from loragate.catalog.models import ModelFamily, OneFrame
from loragate.core.errors import LoragateError
from loragate.core.findings import Finding
from loragate.dataset.control import badly_named, control_where, match_controls, pictures_and_controls
from loragate.dataset.model import DatasetScan, MediaFile


def split_frames(scan: DatasetScan, family: ModelFamily, one_frame: OneFrame) -> tuple[DatasetScan, list[Finding]]:
    """The scan without the control images, and a block for each picture without exactly its control images."""
    pictures, controls = pictures_and_controls(scan)
    matched = match_controls(pictures, controls)  # as musubi matches them
    findings: list[Finding] = []
    for picture in pictures:
        bad = badly_named(picture, matched[picture.path])
        mine = [] if bad else sorted(matched[picture.path], key=lambda c: _order(c, picture))
        if bad:
            findings += bad
        elif len(mine) != len(one_frame.clean_indices):
            findings.append(_count_finding(picture, mine, family, one_frame))
    return scan.model_copy(update={"images": pictures}), findings


def _order(control: str, picture: MediaFile) -> int:
    """musubi's order: the unnumbered name first, then by number (datasources.py sort_key)."""
    control_stem = PurePosixPath(control).stem
    return 0 if control_stem == PurePosixPath(picture.path).stem else int(control_stem.rpartition("_")[2]) + 1


def _count_finding(picture: MediaFile, mine: list[str], family: ModelFamily, one_frame: OneFrame) -> Finding:
    stem, where = PurePosixPath(picture.path).stem, control_where(picture)
    names = one_frame.control_names
    wanted = " and ".join(f"its {name} as {stem}_{n}" for n, name in enumerate(names))
    found = [PurePosixPath(c).name for c in mine]
    if not mine:
        what = f"has none of its {len(names)} control images ({' and '.join(names)}) in {where}"
    elif len(mine) < len(names):
        # musubi fills the slots in its order, so the slots left empty are the last ones
        missing = " and ".join(f"{name} ({stem}_{n})" for n, name in enumerate(names) if n >= len(mine))
        what = f"has only {', '.join(found)} in {where}, read as its {' and '.join(names[:len(mine)])}; the {missing} is missing"
    else:
        what = (f"has {len(mine)} control images in {where} ({', '.join(found)}); the trainer reads only the first "
                f"{len(names)} ({' and '.join(names)}) and ignores the rest")
    return Finding(
        code="DS_CONTROL_FRAMES", severity="block",
        message=f"'{picture.path}' {what}. {family.display_name} learns each picture as the frame between its "
                f"{' and '.join(names)}.",
        fix=f"Put {wanted} in {where} (any image type, nothing else under that name), or move the picture out of the dataset.",
        path=picture.path, evidence={"picture": picture.path, "control_images": mine,
                                     "control_images_needed": len(names)},
    )


def no_control_folder(folder: str, family: ModelFamily, one_frame: OneFrame) -> LoragateError:
    """`plan new` on a folder of pictures with no control/ folder beside them."""
    names = " and ".join(f"its {name} as NAME_{n}" for n, name in enumerate(one_frame.control_names))
    return LoragateError(
        f"{family.display_name} learns each picture as the frame between its {' and '.join(one_frame.control_names)}, "
        f"but {folder} has no control/ folder holding them.",
        f"For each picture NAME in {folder}, put {names} in {folder}/control/ (any image type), then plan again.",
    )
