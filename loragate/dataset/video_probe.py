"""Clips, probed with PyAV: size, frames, fps, duration, rotation, frame-rate regularity, decodability.

Only packets are read to count frames and time them; one frame is decoded to prove the stream
decodes. Results are cached like image analyses. Then the clip is judged against the model's
frame counts (musubi-tuner `target_frames`, which must be 4n+1 for Wan).
"""

from __future__ import annotations

from pathlib import Path

from loragate.dataset.cache import AnalysisCache, stat_keys
from loragate.dataset.model import VideoProbe
from loragate.dataset.rules import DatasetRules
from loragate.core.findings import Finding
from loragate.progress import ProgressFn, or_silent

PROBE_VERSION = "vid2"
# Frame intervals further than this from the typical one make a clip variable-frame-rate.
VFR_TOLERANCE = 0.25
VFR_SHARE = 0.05


def probe_file(abs_path: str, rel: str) -> VideoProbe:
    """Probe one clip; never raises for a bad file."""
    import av

    probe = VideoProbe(path=rel)
    try:
        with av.open(abs_path) as container:
            if not container.streams.video:
                probe.error, probe.error_detail = "DS_VIDEO_UNREADABLE", "no video stream"
                return probe
            stream = container.streams.video[0]
            ctx = stream.codec_context
            probe.codec = ctx.name or ""
            probe.width, probe.height = int(ctx.width or 0), int(ctx.height or 0)
            rate = stream.average_rate or stream.guessed_rate
            probe.fps = float(rate) if rate else 0.0
            try:
                probe.rotation = int(float(stream.metadata.get("rotate", 0) or 0))
            except ValueError:
                probe.rotation = 0
            pts: list[int] = []
            for packet in container.demux(stream):
                if packet.pts is not None and packet.size:
                    pts.append(packet.pts)
            probe.frames = len(pts)
            declared = int(stream.frames or 0)
            if declared and probe.frames < declared:
                # The index (moov, at the front of a fast-start mp4) promises more frames than the file
                # holds: the end is cut off, and the trainer fails when it reaches the missing frames.
                probe.error = "DS_VIDEO_UNREADABLE"
                probe.error_detail = f"cut off: {probe.frames} of the {declared} frames its index lists are in the file"
                return probe
            if stream.time_base and pts:
                span = (max(pts) - min(pts)) * float(stream.time_base)
                probe.duration_s = round(span + (1.0 / probe.fps if probe.fps else 0.0), 3)
            probe.variable_frame_rate = _is_vfr(sorted(pts))
        with av.open(abs_path) as container:
            frame = next(container.decode(video=0), None)
            if frame is None:
                probe.error, probe.error_detail = "DS_VIDEO_UNREADABLE", "no frame could be decoded"
                return probe
            probe.rotation = probe.rotation or int(getattr(frame, "rotation", 0) or 0)
    except PermissionError as exc:
        probe.error, probe.error_detail = "DS_UNREADABLE", exc.strerror or "permission denied"
    except Exception as exc:  # noqa: BLE001 - PyAV raises many error types; to the artist they all mean "broken"
        # FFmpeg errors carry the file's full path in str(exc); the reason alone is what helps.
        probe.error, probe.error_detail = "DS_VIDEO_UNREADABLE", str(getattr(exc, "strerror", None) or exc)[:200]
    if not probe.error and probe.frames == 0:
        probe.error, probe.error_detail = "DS_VIDEO_UNREADABLE", "the clip holds no frames"
    return probe


def _is_vfr(pts: list[int]) -> bool:
    if len(pts) < 4:
        return False
    deltas = sorted(b - a for a, b in zip(pts, pts[1:]) if b > a)
    if not deltas:
        return False
    typical = deltas[len(deltas) // 2]
    odd = sum(1 for d in deltas if abs(d - typical) > VFR_TOLERANCE * typical)
    return odd > VFR_SHARE * len(deltas)


def probe_videos(root: Path, relpaths: list[str], progress: ProgressFn | None = None) -> tuple[dict[str, VideoProbe], int]:
    """Probe clips under `root`, reusing cached probes; returns (relpath -> probe, cache hits)."""
    report = or_silent(progress)
    root = Path(root).resolve()
    cache = AnalysisCache(root)
    keys = stat_keys("video", PROBE_VERSION, root, relpaths)
    hits = cache.get_many(keys.values())
    out: dict[str, VideoProbe] = {}
    fresh: dict[str, str] = {}
    cached = 0
    for i, rel in enumerate(relpaths, 1):
        key = keys.get(rel)
        if key in hits:
            out[rel] = VideoProbe.model_validate_json(hits[key])
            cached += 1
        else:
            out[rel] = probe_file(str(root / rel), rel)
            if key and out[rel].error != "DS_UNREADABLE":
                fresh[key] = out[rel].model_dump_json()
        report(i, len(relpaths), rel)
    cache.put_many(fresh)
    return out, cached


def video_findings(probe: VideoProbe, rules: DatasetRules) -> list[Finding]:
    path = probe.path
    if probe.error == "DS_UNREADABLE":
        return [
            Finding(
                code="DS_UNREADABLE",
                severity="block",
                message=f"'{path}' cannot be read ({probe.error_detail}).",
                fix="Fix the file's permissions (chmod u+r) or remove it from the dataset.",
                path=path,
            )
        ]
    if probe.error:
        return [
            Finding(
                code="DS_VIDEO_UNREADABLE",
                severity="block",
                message=f"'{path}' cannot be played: the file is damaged or not really a video ({probe.error_detail}).",
                fix="Export or download the clip again (MP4, H.264), or remove it.",
                path=path,
                evidence={"detail": probe.error_detail},
            )
        ]
    out: list[Finding] = []
    facts = {"frames": probe.frames, "fps": round(probe.fps, 3), "duration_s": probe.duration_s, "width": probe.width, "height": probe.height}
    if rules.target_frames:
        shortest = rules.target_frames[0]
        if probe.frames < shortest:
            # musubi-tuner.md §2: clips are cut to target_frames with frame_extraction "head"; a clip
            # shorter than every target yields no training sample at that length.
            out.append(
                Finding(
                    code="DS_VIDEO_TOO_SHORT",
                    severity="warn",
                    message=f"'{path}' has {probe.frames} frames, fewer than the {shortest} the model trains on "
                    f"({', '.join(map(str, rules.target_frames))}); it will give no clip at those lengths.",
                    fix=f"Use a clip of at least {shortest} frames ({shortest / (rules.train_fps or probe.fps or 16):.1f} s), "
                    "or lower target_frames in the plan.",
                    path=path,
                    evidence={**facts, "target_frames": rules.target_frames},
                )
            )
    if rules.frame_rule == "4n+1" and probe.frames > 1 and (probe.frames - 1) % 4:
        # musubi-tuner.md §2 target_frames: "each element must be N*4+1"; lengths are rounded down.
        usable = probe.frames - (probe.frames - 1) % 4
        out.append(
            Finding(
                code="DS_VIDEO_FRAMES_4N1",
                severity="info",
                message=f"'{path}' has {probe.frames} frames; Wan uses lengths of the form 4n+1, so at most {usable} are used.",
                fix=f"Nothing required; trim the clip to {usable} frames to control exactly which frames train.",
                path=path,
                evidence={**facts, "usable_frames": usable},
            )
        )
    if probe.variable_frame_rate:
        out.append(
            Finding(
                code="DS_VIDEO_VFR",
                severity="warn",
                message=f"'{path}' has a variable frame rate (typical of phone recordings); the trainer takes frames "
                "by count, so motion speed will look uneven.",
                fix="Re-encode it at a constant frame rate, e.g. `ffmpeg -i IN -fps_mode cfr -r 16 OUT.mp4`.",
                path=path,
                evidence=facts,
            )
        )
    if rules.train_fps and probe.fps and abs(probe.fps - rules.train_fps) > 0.5:
        out.append(
            Finding(
                code="DS_VIDEO_FPS",
                severity="info",
                message=f"'{path}' runs at {probe.fps:.3g} fps; {rules.display_name} learns motion at {rules.train_fps:.0f} fps.",
                fix=f"Set source_fps = {probe.fps:.1f} in the dataset config so frames are dropped to {rules.train_fps:.0f} fps, "
                "or re-encode the clip at that rate.",
                path=path,
                evidence=facts,
            )
        )
    if probe.rotation % 360:
        out.append(
            Finding(
                code="DS_VIDEO_ROTATED",
                severity="warn",
                message=f"'{path}' is stored sideways with a rotation flag ({probe.rotation} degrees); "
                "the trainer reads the stored frames and may learn them sideways.",
                fix="Re-encode it upright (players apply the flag; `ffmpeg -i IN OUT.mp4` bakes it in).",
                path=path,
                evidence={**facts, "rotation": probe.rotation},
            )
        )
    return out
