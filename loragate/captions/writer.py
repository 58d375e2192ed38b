"""Write approved captions as sidecar files beside their images, never losing a previous caption.

A caption is `<image name minus extension><caption extension>` in the image's folder
(# reference sd-scripts.md §3.1: "Read from `<image basename><caption_extension>`"; musubi-tuner
reads the same sidecar for image and video datasets). Each write is atomic; a caption that
already says something else is left alone unless overwrite is asked for, and then its old text
goes to the history first.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from loragate.atomic import atomic_write_text
from loragate.captions.format import format_caption
from loragate.captions.history import history_dir, save_previous
from loragate.captions.model import CaptionWrite, CaptionWriteReport
from loragate.catalog.models import get_family
from loragate.dataset.captions import check_trigger
from loragate.dataset.scan import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, normalize_caption_extension
from loragate.core.errors import LoragateError
from loragate.plan.paths import check_dataset_folder

MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS


def required_trigger(trigger: str | None) -> str:
    checked = check_trigger(trigger)
    if not checked:
        raise LoragateError("A trigger word is required: every caption starts with it.", "Pass the trigger word, e.g. --trigger mira.")
    return checked


def caption_style_for(model: str | None) -> str:
    """The family's caption style; without a model, captions are left in whatever form they come."""
    return get_family(model).caption_style if model else "mixed"


def write_captions(
    dataset: Path | str,
    captions: dict[str, str],
    trigger: str,
    model: str | None = None,
    overwrite: bool = False,
    caption_extension: str = ".txt",
) -> CaptionWriteReport:
    """Write each `relative image path -> caption` as the image's sidecar caption file."""
    root = check_dataset_folder(dataset)
    trigger = required_trigger(trigger)
    ext = normalize_caption_extension(caption_extension)
    style = caption_style_for(model)
    report = CaptionWriteReport(
        dataset=str(root), trigger=trigger, model=model, caption_style=style, caption_extension=ext,
        history_dir=str(history_dir(root)),
    )
    for image, text in captions.items():
        result = _write_one(root, image, text, trigger, style, ext, overwrite)
        report.results.append(result)
        setattr(report, result.status, getattr(report, result.status) + 1)
    report.summary = _summary(report)
    return report


def _write_one(root: Path, image: str, text: str, trigger: str, style: str, ext: str, overwrite: bool) -> CaptionWrite:
    located = _locate(root, image, ext)
    if isinstance(located, CaptionWrite):
        return located
    rel, caption = located
    caption_rel = caption.relative_to(root).as_posix()
    if not isinstance(text, str):
        return CaptionWrite(image=rel, status="refused", reason="The caption is not text.")
    formatted, warnings = format_caption(text, trigger, style)
    if not formatted:
        return CaptionWrite(image=rel, caption_file=caption_rel, status="refused", warnings=warnings,
                            reason="The caption is empty (nothing but the trigger word); write what the picture shows.")
    result = CaptionWrite(image=rel, caption_file=caption_rel, status="written", text=formatted, warnings=warnings)
    if caption.exists():
        previous = caption.read_bytes()
        try:
            old_text: str | None = previous.decode("utf-8-sig")
        except UnicodeDecodeError:
            old_text = None  # unreadable old text is never equal; it is still kept byte for byte
        if old_text is not None and old_text.strip() == formatted:
            result.status = "unchanged"
            return result
        if not overwrite:
            result.status = "skipped"
            result.reason = (
                f"'{caption_rel}' already holds a different caption; it was left as it is. "
                "Ask to overwrite to replace it (the old text is then kept in the caption history)."
            )
            return result
        result.history = str(save_previous(root, caption_rel, previous))
        result.status = "overwritten"
    atomic_write_text(caption, formatted + "\n")
    return result


def _locate(root: Path, image: str, ext: str) -> tuple[str, Path] | CaptionWrite:
    """The image's normalised relative path and its caption file, or a refusal saying why."""

    def refuse(reason: str) -> CaptionWrite:
        return CaptionWrite(image=str(image), status="refused", reason=reason)

    if not isinstance(image, str) or not image.strip() or "\x00" in image:
        return refuse("The image path is empty or malformed.")
    rel = PurePosixPath(image.strip().replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts or rel.parts[:1] and ":" in rel.parts[0]:
        return refuse("The image path must be relative to the dataset folder and stay inside it.")
    if any(part.startswith(".") for part in rel.parts):
        return refuse("Hidden files and folders are not training data; the trainers never read them.")
    if rel.suffix.lower() not in MEDIA_EXTENSIONS:
        return refuse(f"'{rel}' is not an image or clip the trainers read ({', '.join(sorted(MEDIA_EXTENSIONS))}).")
    path = root / rel
    # The caption goes beside the image; a linked folder must not carry it outside the dataset.
    if not path.parent.resolve().is_relative_to(root):
        return refuse(f"'{rel}' sits in a folder that leads outside the dataset; its caption would be written elsewhere.")
    if not path.is_file():
        return refuse(f"'{rel}' does not exist in the dataset {root}.")
    caption = path.parent / (path.stem + ext)
    if caption.is_symlink() or (caption.exists() and not caption.is_file()):
        return refuse(f"'{caption.relative_to(root).as_posix()}' is a link or a folder, not a caption file; replace it with a plain file.")
    return rel.as_posix(), caption


def _summary(report: CaptionWriteReport) -> str:
    parts = [f"{report.written} written"]
    if report.overwritten:
        parts.append(f"{report.overwritten} replaced (old text kept in {report.history_dir})")
    if report.unchanged:
        parts.append(f"{report.unchanged} already as approved")
    if report.skipped:
        parts.append(f"{report.skipped} left alone because a different caption exists")
    if report.refused:
        parts.append(f"{report.refused} refused")
    text = "Captions: " + ", ".join(parts) + "."
    if report.written or report.overwritten:
        text += " Captions changed, so Gate 1 must be run again (loragate audit ... --name PROJECT)."
    return text
