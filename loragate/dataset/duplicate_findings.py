"""Duplicate groups for the audit, from signatures already computed, and what they mean to the artist.

The grouping itself belongs to `loragate.duplicates`; this module only feeds it the audit's own
image signatures (from the single decode) and clip signatures, and words the findings.
"""

from __future__ import annotations

from pathlib import Path

from loragate.dataset.model import ImageAnalysis, VideoProbe
from loragate.duplicates.grouping import DuplicateGroup, group_images
from loragate.core.findings import Finding
from loragate.progress import ProgressFn


def duplicate_groups(
    root: Path,
    analyses: dict[str, ImageAnalysis],
    probes: dict[str, VideoProbe],
    progress: ProgressFn | None = None,
) -> list[DuplicateGroup]:
    signatures = {rel: a.signature for rel, a in analyses.items() if a.signature is not None and not a.error}
    groups = group_images(signatures) if len(signatures) > 1 else []
    clips = sorted(rel for rel, p in probes.items() if not p.error)
    if len(clips) > 1:
        from loragate.duplicates.video import group_videos, video_signatures

        groups += group_videos(video_signatures(root, clips, progress))
    return groups


def duplicate_findings(groups: list[DuplicateGroup]) -> list[Finding]:
    findings = []
    for group in groups:
        listed = ", ".join(f"'{p}'" for p in group.paths)
        thing = "clip" if group.media == "video" else "picture"
        if group.kind == "exact":
            findings.append(
                Finding(
                    code="DS_DUPLICATE_EXACT",
                    severity="block",
                    message=f"{listed} are the same {thing}; a copy makes the LoRA memorise it instead of learning from the set.",
                    fix="Keep one copy (`loragate quarantine DATASET FILE...` moves the others aside, undoably). "
                    "Use a folder repeat count to weight one on purpose.",
                    path=group.paths[0],
                    evidence={"files": group.paths, "media": group.media},
                )
            )
        else:
            findings.append(
                Finding(
                    code="DS_DUPLICATE_NEAR",
                    severity="warn",
                    message=f"{listed} are near copies of one {thing} (resized, re-saved, cropped, re-lit"
                    + (", mirrored" if group.mirrored else "")
                    + (" or trimmed" if group.media == "video" else "")
                    + f"); together they push the LoRA toward that one {thing}.",
                    fix="Look at them side by side (`loragate duplicates DATASET`) and keep the best one "
                    "unless they differ in a way you want taught.",
                    path=group.paths[0],
                    evidence={"files": group.paths, "distance": group.distance, "mirrored": group.mirrored, "media": group.media},
                )
            )
    return findings
