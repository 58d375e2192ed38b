"""The approved samples file (APPROVED.json): the captions the artist said yes to.

Format: a JSON list, one object per approved picture:

    [
      {"image": "10_mira/portrait_01.png",
       "caption": "mira, a woman with short red hair reading by a window, soft morning light",
       "content": ["woman", "short red hair", "reading", "window"],
       "style": ["soft morning light", "muted palette"]}
    ]

`image` is relative to the dataset folder. `content` and `style` record what the caption says
about what is shown and about how it is made; batch captioning sends them with the pictures as
worked examples. Usually kept at grimoire/training/NAME/APPROVED.json.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from pydantic import TypeAdapter, ValidationError

from loragate.atomic import atomic_write_json
from loragate.captions.model import ApprovedSample, CaptionWriteReport
from loragate.core.errors import LoragateError
from loragate.fsguard import read_capped

_SAMPLES = TypeAdapter(list[ApprovedSample])

FORMAT_HINT = 'It must be a JSON list like [{"image": "photo_01.png", "caption": "mira, ...", "content": [...], "style": [...]}].'


def load_approved(path: Path | str) -> list[ApprovedSample]:
    path = Path(path).expanduser()
    try:
        raw = read_capped(path).decode("utf-8-sig")
    except FileNotFoundError:
        raise LoragateError(f"The approved samples file {path} does not exist.", FORMAT_HINT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LoragateError(f"The approved samples file {path} cannot be read ({exc}).", FORMAT_HINT) from exc
    try:
        samples = _SAMPLES.validate_python(json.loads(raw))
    except RecursionError:
        raise LoragateError(f"The approved samples file {path} is nested too deeply to be one.", FORMAT_HINT) from None
    except (json.JSONDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LoragateError(f"The approved samples file {path} is not in the expected form ({first}).", FORMAT_HINT) from exc
    if not samples:
        raise LoragateError(f"The approved samples file {path} is empty.", "Approve at least one caption (five is the usual number) first.")
    return samples


def save_approved(path: Path | str, samples: list[ApprovedSample]) -> Path:
    path = Path(path).expanduser()
    atomic_write_json(path, [s.model_dump() for s in samples])
    return path


def as_caption_map(samples: list[ApprovedSample]) -> dict[str, str]:
    return {s.image: s.caption for s in samples}


def write_approved(
    dataset: Path | str,
    samples: list[ApprovedSample],
    trigger: str,
    model: str | None = None,
    overwrite: bool = False,
    caption_extension: str = ".txt",
    save_as: Path | str | None = None,
) -> CaptionWriteReport:
    """Write the approved captions; with `save_as`, also keep them as the approved samples file
    (each caption as it was written, trigger first) for batch captioning to follow."""
    from loragate.captions.writer import write_captions
    from loragate.plan.paths import check_dataset_folder

    if save_as is not None:  # checked before any caption is written: all or nothing
        check_save_as(Path(save_as), check_dataset_folder(dataset))
    report = write_captions(dataset, as_caption_map(samples), trigger, model, overwrite, caption_extension)
    if save_as is not None:
        written = {r.image: r.text for r in report.results if r.status != "refused" and r.text}
        kept = [s.model_copy(update={"image": _rel(s.image), "caption": written[_rel(s.image)]}) for s in samples if _rel(s.image) in written]
        report.approved_file = str(save_approved(save_as, kept))
    return report


def check_save_as(path: Path, dataset_root: Path) -> None:
    """The approved samples file may only be a .json file outside the dataset that is new or already
    an approved samples file: never a picture, a folder, a record of loragate's or anything else."""
    refuse = "Name a new .json file outside the dataset, e.g. grimoire/training/NAME/APPROVED.json."
    if path.suffix.lower() != ".json":
        raise LoragateError(f"The approved samples file {path} must end in .json; nothing was written.", refuse)
    try:
        parent = path.expanduser().parent.resolve()
    except (OSError, RuntimeError) as exc:
        raise LoragateError(f"The approved samples file {path} cannot be used ({exc}); nothing was written.", refuse) from exc
    if parent == dataset_root or parent.is_relative_to(dataset_root):
        raise LoragateError(f"The approved samples file {path} would be inside the dataset, where the trainer reads "
                            "every file; nothing was written.", refuse)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise LoragateError(f"{path} is a link or a folder, not an approved samples file; nothing was written.", refuse)
    if path.exists():
        try:
            load_approved(path)
        except LoragateError:
            raise LoragateError(f"{path} already exists and is not an approved samples file; it was left as it is and "
                                "nothing was written.", refuse) from None


def _rel(image: str) -> str:
    return PurePosixPath(image.strip().replace("\\", "/")).as_posix()
