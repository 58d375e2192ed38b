"""Near-duplicate clips, judged by their frames.

A clip's signature is the image signature of a few frames spread evenly over its duration.
Two clips are near duplicates when most frames of one (the shorter, if one is a trim of the
other) have a frame in the other within the image radius, full frame against crops, so
re-encoded, resized, cropped, re-lit and trimmed copies match. Frames are matched as a set,
not in lockstep, which tolerates trims at either end. The search reuses the image index.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, Field

from loragate.dataset.cache import AnalysisCache, stat_keys
from loragate.duplicates.grouping import NEAR_RADIUS, DuplicateGroup, UnionFind, near_links
from loragate.duplicates.signature import SIGNATURE_VERSION, ImageSignature, image_signature
from loragate.progress import ProgressFn, or_silent

SAMPLED_FRAMES = 8
# Clips longer than this are sampled by seeking; shorter ones are decoded straight through.
SEEK_ABOVE_S = 30.0
# Share of a clip's sampled frames that must find a partner for the clip to count as a copy.
MATCH_SHARE = 0.6
_FRAME_SIDE = 256
VIDEO_SIGNATURE_VERSION = f"vsig2-{SIGNATURE_VERSION}"


class VideoSignature(BaseModel):
    frames: list[ImageSignature] = Field(default_factory=list, description="Signatures of evenly spaced frames.")
    error: str | None = None


def _targets(duration: float) -> list[float]:
    return [duration * (i + 0.5) / SAMPLED_FRAMES for i in range(SAMPLED_FRAMES)]


def sample_frames(path: Path, count: int = SAMPLED_FRAMES) -> list:
    """Up to `count` PIL images spread evenly over the clip, shrunk to 256 px on the long side."""
    import av

    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        base = float(stream.time_base or 0)
        start = float(stream.start_time or 0) * base
        duration = float(stream.duration or 0) * base or float(container.duration or 0) / 1e6
        if duration <= 0:
            duration = 1e9  # unknown: take frames as they come
        targets = [start + t for t in _targets(duration)][:count]
        if duration > SEEK_ABOVE_S and duration < 1e9:
            for t in targets:
                container.seek(int(t / base), stream=stream, backward=True, any_frame=False)
                for frame in container.decode(stream):
                    if frame.time is None or frame.time >= t:
                        frames.append(_small(frame))
                        break
            return frames
        pending = iter(targets)
        want = next(pending, None)
        last = None
        for frame in container.decode(stream):
            last = frame
            if want is not None and (frame.time is None or frame.time >= want):
                frames.append(_small(frame))
                want = next(pending, None)
                if want is None:
                    break
        if not frames and last is not None:
            frames.append(_small(last))
    return frames


def _small(frame: object) -> object:
    img = frame.to_image()  # type: ignore[attr-defined]
    img.thumbnail((_FRAME_SIDE, _FRAME_SIDE))
    return img


def video_signature(path: Path) -> VideoSignature:
    """Signature of one clip; a clip that cannot be decoded gets `error` instead of frames."""
    try:
        images = sample_frames(path)
    except Exception as exc:  # noqa: BLE001 - any decoder failure: the audit reports unreadable clips
        return VideoSignature(error=str(exc)[:200] or type(exc).__name__)
    return VideoSignature(frames=[image_signature(img) for img in images])


def video_signatures(root: Path, relpaths: list[str], progress: ProgressFn | None = None) -> dict[str, VideoSignature]:
    """Signatures of clips under `root`, from the analysis cache when size and mtime are unchanged."""
    report = or_silent(progress)
    cache = AnalysisCache(root)
    keys = stat_keys("video-signature", VIDEO_SIGNATURE_VERSION, root, relpaths)
    hits = cache.get_many(keys.values())
    out: dict[str, VideoSignature] = {}
    fresh: dict[str, str] = {}
    for n, rel in enumerate(relpaths, 1):
        key = keys.get(rel)
        if key in hits:
            out[rel] = VideoSignature.model_validate_json(hits[key])
        else:
            out[rel] = video_signature(root / rel)
            if key and out[rel].error is None:
                fresh[key] = out[rel].model_dump_json()
        report(n, len(relpaths), f"clips: {rel}")
    cache.put_many(fresh)
    return out


def group_videos(signatures: dict[str, VideoSignature], mirror: bool = False, radius: int = NEAR_RADIUS) -> list[DuplicateGroup]:
    """Exact groups (every sampled frame has the same pixels) and near groups of clips."""
    clips = sorted(p for p, s in signatures.items() if s.frames)
    by_pixels: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for p in clips:
        by_pixels[tuple(f.digest for f in signatures[p].frames)].append(p)
    exact = sorted(sorted(ps) for ps in by_pixels.values() if len(ps) > 1)
    groups = [DuplicateGroup(kind="exact", paths=ps, distance=0, media="video") for ps in exact]
    copies = {p for ps in exact for p in ps[1:]}
    members = {ps[0]: ps for ps in exact}
    reps = [p for p in clips if p not in copies]
    if len(reps) < 2:
        return groups

    owner = [i for i, p in enumerate(reps) for _ in signatures[p].frames]
    frames = [f for p in reps for f in signatures[p].frames]
    # best[(clip a, clip b)][frame of a] = smallest distance from that frame to a frame of b
    best: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    mirrored: set[tuple[int, int]] = set()
    for fa, fb, dist, is_mirror in near_links(frames, mirror, radius):
        a, b = owner[fa], owner[fb]
        if a == b:
            continue
        for key, frame in (((a, b), fa), ((b, a), fb)):
            seen = best[key].get(frame)
            if seen is None or dist < seen:
                best[key][frame] = dist
        if is_mirror:
            mirrored.add((min(a, b), max(a, b)))

    uf = UnionFind(len(reps))
    worst: dict[tuple[int, int], int] = {}
    for (a, b), matched in best.items():
        if a > b:
            continue
        back = best.get((b, a), {})
        share = max(len(matched) / len(signatures[reps[a]].frames), len(back) / len(signatures[reps[b]].frames))
        if share >= MATCH_SHARE:
            uf.union(a, b)
            worst[(a, b)] = int(statistics.median(list(matched.values()) + list(back.values())))
    near = []
    for root, idx in uf.components().items():
        if len(idx) < 2:
            continue
        links = [(d, pair) for pair, d in worst.items() if uf.find(pair[0]) == root]
        near.append(
            DuplicateGroup(
                kind="near",
                paths=sorted(p for i in idx for p in members.get(reps[i], [reps[i]])),
                distance=max(d for d, _ in links),
                mirrored=any(pair in mirrored for _, pair in links),
                media="video",
            )
        )
    return groups + sorted(near, key=lambda g: g.paths)
