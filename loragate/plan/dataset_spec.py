"""The dataset part of a plan: which folders the trainer reads, how often, and how clips are cut.

Both trainers read media directly inside the folder they are given (musubi `image_directory` /
`video_directory`; sd-scripts `image_dir`, reference sd-scripts.md §3.1: "Images must sit directly
in it"), so every folder holding media becomes its own entry: `Images/` and `Videos/` for Wan,
each `N_name` folder (with N repeats) for kohya layouts, the folder itself for a flat one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path, PurePosixPath

from loragate.backends.traits import traits
from loragate.catalog.models import ModelFamily
from loragate.dataset.control import control_parent
from loragate.dataset.model import MediaFile, VideoProbe
from loragate.dataset.scan import scan_dataset
from loragate.core.errors import LoragateError
from loragate.core.findings import Finding
from loragate.core.plan import DatasetSpec, DatasetSubset

# musubi-tuner docs/wan.md: Wan is trained at 16 fps; with source_fps set, frames are dropped to
# reach it (without it every frame is used whatever the clip's rate).
WAN_FPS = 16.0


def build_dataset_spec(
    local_root: Path,
    trainer_root: str,
    family: ModelFamily,
    *,
    caption_extension: str,
    num_repeats: int,
    resolution: tuple[int, int],
    cache_dir: str,
    frames: list[int] | None = None,
    frame_extraction: str = "head",
) -> DatasetSpec:
    """Count the media under `local_root` and describe it with the trainer's paths."""
    scan = scan_dataset(local_root, caption_extension)
    videos = scan.videos if family.video else []
    probes = _probe(local_root, videos)
    fps = family.train_fps or WAN_FPS
    source_fps = _common_fps(probes, fps) if videos else None
    longest = _longest_clip(probes, source_fps, fps)
    target_frames = list(frames or family.default_frames or [1]) if videos else []
    if frames is None and longest:
        target_frames = fit_frames_to_clips(target_frames, longest)
    groups: dict[tuple[str, str], list[MediaFile]] = defaultdict(list)
    for media in scan.images + videos:
        folder = media.path.rsplit("/", 1)[0] if "/" in media.path else ""
        groups[(folder, media.kind)].append(media)
    repeats = {f.path: f.repeats for f in scan.repeat_folders}
    controls = _control_folders(groups) if family.control_images else {}
    own_caches = traits(family.trainer).cache_dir_per_dataset
    subsets: list[DatasetSubset] = []
    for (folder, kind), files in sorted(groups.items()):
        if (folder, kind) in controls.values():
            continue  # the starting images, named by their target folder's subset
        top = folder.split("/", 1)[0] if folder else ""
        slug = folder.replace("/", "__") or "root"
        if kind == "video":
            samples = sum(_clip_samples(probes.get(m.path), target_frames, source_fps, fps) for m in files)
        else:
            samples = len(files)
        subsets.append(
            DatasetSubset(
                kind=kind,  # type: ignore[arg-type]
                path=str(PurePosixPath(trainer_root) / folder) if folder else trainer_root,
                num_repeats=repeats.get(top, num_repeats),
                count=len(files),
                samples=samples,
                cache_dir=str(PurePosixPath(cache_dir) / f"{slug}-{kind}") if own_caches else None,
                control_path=_control_path(trainer_root, controls.get(folder)),
            )
        )
    if not subsets:
        what = "images or clips" if family.video else "images"
        raise LoragateError(
            f"No {what} were found in {local_root}.",
            "Put the training media in that folder (for Wan: Images/ and Videos/ subfolders work too) and try again.",
        )
    images = [s for s in subsets if s.kind == "image"]
    clips = [s for s in subsets if s.kind == "video"]
    if family.control_images:
        from loragate.backends.musubi import control_directory

        for subset in images:
            control_directory(subset, family)  # refuses a folder of pictures without their starting images
    return DatasetSpec(
        path=str(local_root),
        caption_extension=scan.caption_extension,
        image_dir=images[0].path if images else None,
        video_dir=clips[0].path if clips else None,
        image_count=sum(s.count for s in images),  # a control/ folder holds starting images, not pictures
        video_count=len(videos),
        resolution=(int(resolution[0]), int(resolution[1])),
        num_repeats=num_repeats,
        enable_bucket=True,
        bucket_no_upscale=False,
        target_frames=target_frames,
        frame_extraction=frame_extraction if videos else None,
        source_fps=source_fps,
        longest_clip_frames=longest,
        cache_dir=cache_dir if own_caches else None,
        subsets=subsets,
        layout=scan.layout,
    )


def _control_folders(groups: dict[tuple[str, str], list[MediaFile]]) -> dict[str, tuple[str, str]]:
    """target folder -> its control/ image group (musubi-tuner docs/dataset_config.md: the control
    image of image_dir/x.jpg is control_dir/x.png, same name, any extension)."""
    found: dict[str, tuple[str, str]] = {}
    for folder, kind in groups:
        parent = control_parent(folder)
        if kind == "image" and parent is not None and (parent, "image") in groups:
            found[parent] = (folder, kind)
    return found


def _control_path(trainer_root: str, control: tuple[str, str] | None) -> str | None:
    return str(PurePosixPath(trainer_root) / control[0]) if control else None


def _probe(root: Path, videos: list[MediaFile]) -> dict[str, VideoProbe]:
    if not videos:
        return {}
    from loragate.dataset.video_probe import probe_videos

    probes, _ = probe_videos(root, [m.path for m in videos])
    return probes


def _common_fps(probes: dict[str, VideoProbe], train_fps: float = WAN_FPS) -> float | None:
    """The clips' usual frame rate when it is not the model's (Wan 16 fps; musubi then drops frames to reach it)."""
    rates: Counter[float] = Counter(round(p.fps, 3) for p in probes.values() if p.error is None and p.fps > 0)
    if not rates:
        return None
    fps = rates.most_common(1)[0][0]
    return None if abs(fps - train_fps) < 0.01 else float(fps)


def _longest_clip(probes: dict[str, VideoProbe], source_fps: float | None, train_fps: float = WAN_FPS) -> int | None:
    """Frames in the longest readable clip as musubi reads it (resampled to 16 fps when source_fps is set)."""
    lengths = [_frames_read(p, source_fps, train_fps) for p in probes.values() if p.error is None and p.frames > 0]
    return int(max(lengths)) if lengths else None


def _frames_read(probe: VideoProbe, source_fps: float | None, train_fps: float = WAN_FPS) -> float:
    return probe.frames * (train_fps / source_fps if source_fps else 1.0)


def fit_frames_to_clips(target_frames: list[int], longest: int) -> list[int]:
    """Keep the lengths some clip is long enough for; when longer ones had to go, add the longest
    4n+1 the clips allow (musubi-tuner docs/dataset_config.md: 'head' cuts a piece only from a clip at
    least that long, so a length longer than every clip would train the clips as still pictures)."""
    kept = [f for f in target_frames if f <= longest]
    top = (longest - 1) // 4 * 4 + 1
    if len(kept) < len(target_frames) and top > max(kept, default=0):
        kept.append(top)
    return sorted(set(kept)) or [1]


def _words(numbers: list[int]) -> str:
    return " and ".join(", ".join(map(str, numbers)).rsplit(", ", 1))


def frames_findings(spec: DatasetSpec) -> list[Finding]:
    """Gate 2: clip lengths no clip is long enough for."""
    longest = spec.longest_clip_frames
    too_long = [f for f in spec.target_frames if longest and f > longest]
    if not too_long:
        return []
    usable = fit_frames_to_clips(spec.target_frames, longest or 1)
    return [Finding(
        code="PLAN_FRAMES_LONGER_THAN_CLIPS",
        severity="warn",
        message=(f"Your longest clip has about {longest} frames as the trainer reads it (at 16 frames per second), "
                 f"so no {', '.join(map(str, too_long))}-frame piece can be cut from any clip: those lengths add "
                 "nothing, and clips may train as still pictures only."),
        fix=(f"Make the plan again with clip lengths of {_words(usable)} frames, or give no lengths so loragate picks "
             "lengths your clips have."),
        evidence={"target_frames": spec.target_frames, "longest_clip_frames": longest},
    )]


def _clip_samples(probe: VideoProbe | None, target_frames: list[int], source_fps: float | None, train_fps: float = WAN_FPS) -> int:
    """'head' extraction takes the first N frames once for each target N the clip is long enough
    for (musubi-tuner docs/dataset_config.md); a clip that cannot be read counts once."""
    if probe is None or probe.error or probe.frames <= 0:
        return 1
    frames = _frames_read(probe, source_fps, train_fps)
    return max(1, sum(1 for n in target_frames if n <= frames))
