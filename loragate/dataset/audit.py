"""Gate 1: audit a dataset folder and decide GO / NO-GO. Reads the dataset; never writes to it."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from pathlib import Path
from typing import get_args

from loragate.catalog.models import get_family
from loragate.dataset.analyze import analyze_images_counted
from loragate.dataset.captions import check_captions, check_trigger
from loragate.dataset.thresholds import Thresholds, load_thresholds
from loragate.dataset.image_checks import QUALITY_PROPERTIES, decode_finding, file_findings, quality_findings
from loragate.dataset.duplicate_findings import duplicate_findings, duplicate_groups
from loragate.dataset.model import AuditReport, ClipSummary, ImageAnalysis, MediaFile, TrainingType, VideoProbe
from loragate.dataset.rules import DatasetRules, rules_for
from loragate.dataset.control import split_control
from loragate.dataset.scan import normalize_caption_extension, scan_dataset
from loragate.dataset.size import size_findings, size_summary
from loragate.dataset.video_probe import probe_videos, video_findings
from loragate.core.errors import LoragateError
from loragate.core.findings import Finding, count_by_severity, sort_findings, verdict_of
from loragate.names import check_name
from loragate.progress import ProgressFn, or_silent

def audit_dataset(
    dataset: Path,
    trigger: str | None = None,
    model: str | None = None,
    training_type: TrainingType | None = None,
    name: str | None = None,
    caption_extension: str = ".txt",
    progress: ProgressFn | None = None,
) -> AuditReport:
    """Run every Gate 1 check; with `name`, write dataset-report.md/json and record the verdict."""
    started = time.perf_counter()
    report_progress = or_silent(progress)
    trigger = check_trigger(trigger)
    if training_type is not None and training_type not in get_args(TrainingType):
        raise LoragateError(
            f"Unknown training type {training_type!r}.", "Use character, style or object."
        )
    if name is not None:
        check_name(name)
    caption_extension = normalize_caption_extension(caption_extension)
    rules = rules_for(model)
    thresholds = load_thresholds(name)  # the project's own, when it has a thresholds.toml

    scan, pair_findings = split_control(scan_dataset(Path(dataset), caption_extension), get_family(model) if model else None)
    root = Path(scan.root)
    findings: list[Finding] = list(scan.findings) + pair_findings

    analyses, cached = analyze_images_counted(
        root, [m.path for m in scan.images], lambda d, t, msg: report_progress(d, t, f"images: {msg}")
    )
    probes, vcached = probe_videos(root, [m.path for m in scan.videos], lambda d, t, msg: report_progress(d, t, f"clips: {msg}"))

    findings += _image_findings(analyses, rules, thresholds)
    for probe in probes.values():
        findings += video_findings(probe, rules)
    caption_findings, caption_stats = check_captions(scan, trigger, rules)
    findings += caption_findings
    groups = duplicate_groups(root, analyses, probes, lambda d, t, msg: report_progress(d, t, f"clip frames: {msg}"))
    findings += duplicate_findings(groups)

    broken = {f.path for f in findings if f.severity == "block" and f.path and f.code in _UNUSABLE}
    usable_images = [m for m in scan.images if m.path not in broken]
    usable_videos = [m for m in scan.videos if m.path not in broken]
    if rules.model and not rules.video and scan.videos:
        findings.append(_clips_ignored(scan.videos, rules))
        usable_videos = []
    summary = size_summary(
        len(usable_images),
        len(usable_videos),
        sum(m.repeats for m in usable_images + usable_videos),
        training_type,
    )
    findings += size_findings(summary, training_type)
    if not model:
        findings.append(
            Finding(
                code="DS_NO_MODEL",
                severity="info",
                message=f"No --model given: resolution was judged against {rules.training_resolution[0]}x"
                f"{rules.training_resolution[1]} and caption style and length were not checked.",
                fix="Run again with --model (e.g. sdxl, pony, flux1-dev, wan2.1-t2v-14b) for model-specific checks.",
            )
        )

    findings = sort_findings(findings)
    sizes = [(a.width, a.height) for a in analyses.values() if not a.error and a.width]
    clips = [p for p in probes.values() if not p.error and p.width]
    clip_sizes = [(p.height, p.width) if p.rotation % 180 == 90 else (p.width, p.height) for p in clips]
    report = AuditReport(
        verdict=verdict_of(findings),
        dataset=str(root),
        layout=scan.layout,
        model=rules.model,
        training_type=training_type,
        trigger=trigger,
        caption_extension=caption_extension,
        training_resolution=list(rules.training_resolution),
        images=len(scan.images),
        videos=len(scan.videos),
        captions=len(scan.captions),
        counts=count_by_severity(findings),
        resolutions=dict(Counter(f"{w}x{h}" for w, h in sizes).most_common()),
        median_resolution=_median_size(sizes),
        clip_resolutions=dict(Counter(f"{w}x{h}" for w, h in clip_sizes).most_common()),
        median_clip_resolution=_median_size(clip_sizes),
        clips=_clip_summary(clips),
        caption_stats=caption_stats,
        size=summary,
        duplicate_groups=groups,
        findings=findings,
        cached=cached + vcached,
    )
    report.seconds = round(time.perf_counter() - started, 3)
    if name:
        from loragate.dataset.report import record_audit

        record_audit(report, name)
    return report


def _median_size(sizes: list[tuple[int, int]]) -> list[int] | None:
    return [int(statistics.median(w for w, _ in sizes)), int(statistics.median(h for _, h in sizes))] if sizes else None


def _clip_summary(clips: list[VideoProbe]) -> ClipSummary | None:
    if not clips:
        return None
    frames = [p.frames for p in clips]
    return ClipSummary(frames_median=int(statistics.median(frames)), frames_min=min(frames), frames_max=max(frames),
                       seconds_median=round(statistics.median(p.duration_s for p in clips), 1),
                       fps=dict(Counter(f"{p.fps:g}" for p in clips).most_common()))


# Findings that mean the trainer cannot use the file at all.
_UNUSABLE = {
    "DS_ZERO_BYTE",
    "DS_NOT_AN_IMAGE",
    "DS_TRUNCATED",
    "DS_UNREADABLE",
    "DS_TOO_LARGE",
    "DS_16BIT",
    "DS_VIDEO_UNREADABLE",
    "DS_BROKEN_SYMLINK",
}


def _clips_ignored(videos: list[MediaFile], rules: DatasetRules) -> Finding:
    # sd-scripts library/train_util.py lists only IMAGE_EXTENSIONS, so clips in the folder are never read.
    files = [m.path for m in videos]
    return Finding(
        code="DS_VIDEO_IGNORED",
        severity="warn",
        message=f"{len(files)} clip(s) are in the folder, but {rules.display_name} trains on still pictures; "
        "the trainer skips them, so they are not counted as training items.",
        fix="Move the clips out of the dataset (or export the frames you want as pictures), "
        "or choose a video model such as wan2.1-t2v-14b to train on them.",
        evidence={"files": files[:20], "count": len(files)},
    )


def _image_findings(analyses: dict[str, ImageAnalysis], rules: DatasetRules, thresholds: Thresholds) -> list[Finding]:
    out: list[Finding] = []
    quality: list[Finding] = []
    decoded = 0
    for analysis in analyses.values():
        broken = decode_finding(analysis)
        if broken:
            out.append(broken)
            continue
        decoded += 1
        out += file_findings(analysis, rules.training_resolution)
        quality += quality_findings(analysis, thresholds.quality)
    by_code: dict[str, list[Finding]] = {}
    for f in quality:
        by_code.setdefault(f.code, []).append(f)
    for prop in QUALITY_PROPERTIES:
        flagged = by_code.get(prop.code, [])
        # a flag raised on most of the pictures describes the dataset's look, not a bad picture
        look = thresholds.common_look
        if len(flagged) >= look.min_files and len(flagged) > look.share * decoded:
            out.append(
                Finding(
                    code=prop.code,
                    severity="info",
                    message=f"{len(flagged)} of {decoded} pictures are flagged '{prop.name}'; when most of a dataset "
                    "looks this way it is usually its intended look, not a fault.",
                    fix=f"If it is not intended: {prop.fix}",
                    evidence={"files": [f.path for f in flagged][:20], "count": len(flagged),
                              "threshold": getattr(thresholds.quality, prop.name)},
                )
            )
        else:
            out += flagged
    return out
