"""Dataset size against the training type, and what it means for steps per epoch."""

from __future__ import annotations

from loragate.dataset.model import SizeSummary, TrainingType
from loragate.core.findings import Finding

# Recommended item counts per training type (the /train workflow's dataset-sizes guidance):
# a character needs a consistent identity from enough angles, a style needs variety of subject,
# an object needs varied angles and contexts.
RECOMMENDED: dict[str, tuple[int, int]] = {
    "character": (15, 40),
    "style": (20, 100),
    "object": (10, 30),
}
BATCH_SIZES = (1, 2, 4)


def size_summary(usable_images: int, usable_videos: int, samples_per_epoch: int, training_type: TrainingType | None) -> SizeSummary:
    """`samples_per_epoch` is the usable items each multiplied by its folder's repeat count."""
    return SizeSummary(
        usable_images=usable_images,
        usable_videos=usable_videos,
        recommended=list(RECOMMENDED[training_type]) if training_type else None,
        samples_per_epoch=samples_per_epoch,
        # One optimizer step per batch; a partial last batch still costs a step.
        steps_per_epoch={str(b): -(-samples_per_epoch // b) for b in BATCH_SIZES},
    )


def size_findings(summary: SizeSummary, training_type: TrainingType | None) -> list[Finding]:
    items = summary.usable_images + summary.usable_videos
    if items == 0:
        return [
            Finding(
                code="DS_EMPTY",
                severity="block",
                message="There is nothing to train on: no usable image or clip was found.",
                fix="Point the audit at the folder holding the images (jpg, png, webp, bmp) or clips (mp4, mov, webm, mkv, avi).",
            )
        ]
    out: list[Finding] = []
    steps = summary.steps_per_epoch
    repeats_note = f" ({summary.samples_per_epoch} with repeats)" if summary.samples_per_epoch != items else ""
    out.append(
        Finding(
            code="DS_STEPS_PER_EPOCH",
            severity="info",
            message=f"{items} usable items{repeats_note}: one epoch is {steps['1']} steps at batch size 1, "
            f"{steps['2']} at 2, {steps['4']} at 4.",
            fix="Nothing to do; the number of epochs in the plan multiplies this into the total training steps.",
            evidence=summary.model_dump(),
        )
    )
    if training_type is None:
        return out
    low, high = RECOMMENDED[training_type]
    if items < low:
        out.append(
            Finding(
                code="DS_SIZE_SMALL",
                severity="warn",
                message=f"{items} usable items is fewer than the {low}-{high} recommended for a {training_type} LoRA; "
                "with so few, the LoRA tends to copy these exact pictures.",
                fix=f"Add {low - items} or more varied pictures (angles, lighting, backgrounds), or accept a narrower LoRA.",
                evidence={"items": items, "recommended": [low, high]},
            )
        )
    elif items > high:
        out.append(
            Finding(
                code="DS_SIZE_LARGE",
                severity="info",
                message=f"{items} usable items is more than the {low}-{high} usually needed for a {training_type} LoRA; "
                "training takes longer and weaker pictures dilute the result.",
                fix="Consider keeping only the best and most varied pictures.",
                evidence={"items": items, "recommended": [low, high]},
            )
        )
    return out
