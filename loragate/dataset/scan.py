"""List a dataset folder: which files the trainer will read, their captions, and the layout.

Three layouts are recognised:
- flat: images/clips (and captions) in one folder, possibly nested;
- wan: `Images/` and `Videos/` subfolders, the convention of musubi-tuner Wan datasets;
- kohya: `N_name` folders, where N is the repeat count
  (# reference sd-scripts.md §3.1: "Subfolders must be named `<repeats>_<class tokens>`").

Links (one rule, everywhere loragate reads a dataset): a link is followed only when its target
stays inside the dataset folder, and each real folder once. A link that leads out of the dataset is
never followed and is named in a DS_LINK_OUTSIDE finding (a block: the trainers follow links, so
they would train on files nobody checked). Pipes, devices and sockets are never opened: each gets
a DS_SPECIAL_FILE finding.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from loragate.dataset.model import DatasetScan, Layout, MediaFile, RepeatFolder
from loragate.core.errors import LoragateError
from loragate.core.findings import Finding
from loragate.fsguard import inside, special_kind
from loragate.gates.fingerprint import SKIPPED_DIRS

# What both trainers load. # sd-scripts library/train_util.py IMAGE_EXTENSIONS; musubi-tuner
# dataset/image_video_dataset.py IMAGE_EXTENSIONS / VIDEO_EXTENSIONS.
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
VIDEO_EXTENSIONS = {".mp4", ".mov", ".webm", ".mkv", ".avi"}

# Picture or clip formats artists export that the trainers skip; each gets a plain explanation.
UNSUPPORTED_MEDIA: dict[str, str] = {
    ".heic": "an iPhone HEIC photo",
    ".heif": "a HEIF photo",
    ".avif": "an AVIF image",
    ".jxl": "a JPEG XL image",
    ".gif": "a GIF",
    ".psd": "a Photoshop document",
    ".psb": "a large Photoshop document",
    ".kra": "a Krita document",
    ".clip": "a Clip Studio document",
    ".procreate": "a Procreate document",
    ".xcf": "a GIMP document",
    ".tif": "a TIFF image",
    ".tiff": "a TIFF image",
    ".svg": "an SVG drawing",
    ".ico": "an icon file",
    ".jp2": "a JPEG 2000 image",
    ".exr": "an OpenEXR image",
    ".hdr": "an HDR image",
    ".dng": "a camera RAW photo",
    ".cr2": "a camera RAW photo",
    ".cr3": "a camera RAW photo",
    ".nef": "a camera RAW photo",
    ".arw": "a camera RAW photo",
    ".raf": "a camera RAW photo",
    ".orf": "a camera RAW photo",
    ".m4v": "an M4V clip",
    ".wmv": "a WMV clip",
    ".flv": "a Flash video",
    ".mpg": "an MPEG clip",
    ".mpeg": "an MPEG clip",
    ".3gp": "a 3GP phone clip",
}

# Trainer caches and bookkeeping that live beside the media and are not data.
IGNORED_SUFFIXES = {".npz", ".safetensors", ".toml", ".json", ".jsonl", ".md", ".log"}

# Every extension a picture or clip can have: none of them may ever name a caption file.
ALL_MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS | set(UNSUPPORTED_MEDIA)

REPEAT_FOLDER = re.compile(r"^(\d+)_(.+)$")
WAN_FOLDERS = {"images", "videos"}


@dataclass
class _Walk:
    root: Path
    caption_extension: str
    images: list[MediaFile] = field(default_factory=list)
    videos: list[MediaFile] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    visited: set[tuple[int, int]] = field(default_factory=set)
    outside_links: list[str] = field(default_factory=list)


def normalize_caption_extension(ext: str) -> str:
    ext = (ext or ".txt").strip()
    if not ext.startswith("."):
        ext = "." + ext
    if not re.fullmatch(r"\.[A-Za-z0-9_.-]{1,16}", ext):
        raise LoragateError(
            f"The caption extension {ext!r} is not a file extension.",
            "Give something like .txt or .caption.",
        )
    if ext.lower() in ALL_MEDIA_EXTENSIONS or ext.lower() in IGNORED_SUFFIXES - {".json"}:
        raise LoragateError(
            f"The caption extension {ext} belongs to pictures, clips or trainer files; captions written with it "
            "would replace them.",
            "Use .txt (or .caption, if your dataset TOML says so).",
        )
    return ext


def scan_dataset(root: Path, caption_extension: str = ".txt") -> DatasetScan:
    """Walk the dataset folder once and sort every file. Never opens media; never writes."""
    root = Path(root).expanduser()
    if not root.exists():
        raise LoragateError(f"The dataset folder {root} does not exist.", "Check the path and try again.")
    if not root.is_dir():
        raise LoragateError(f"{root} is a file, not a dataset folder.", "Give the folder that holds the images.")
    root = root.resolve()
    walk = _Walk(root=root, caption_extension=normalize_caption_extension(caption_extension))
    try:
        st = root.stat()
        walk.visited.add((st.st_dev, st.st_ino))
    except OSError as exc:
        raise LoragateError(f"The dataset folder {root} cannot be read ({exc.strerror}).", "Check its permissions.") from exc
    _walk_dir(walk, root, rel="")

    layout, repeat_folders = _layout(walk)
    repeats = {f.path: f.repeats for f in repeat_folders}
    caption_set = set(walk.captions)
    for media in walk.images + walk.videos:
        top = media.path.split("/", 1)[0]
        media.repeats = repeats.get(top, 1)
        stem = media.path.rsplit(".", 1)[0]
        candidate = stem + walk.caption_extension
        media.caption = candidate if candidate in caption_set else None
    _kohya_findings(walk, layout, repeat_folders)
    if walk.outside_links:
        walk.findings.append(
            Finding(
                code="DS_LINK_OUTSIDE",
                severity="block",
                message=f"{len(walk.outside_links)} link(s) lead out of the dataset folder ("
                + ", ".join(f"'{n}'" for n in walk.outside_links[:5])
                + (", ..." if len(walk.outside_links) > 5 else "")
                + "); loragate did not follow them, but the trainers would, and train on files nobody checked.",
                fix="Copy the files into the dataset (cp -L keeps the content, not the link) or remove the links.",
                evidence={"links": walk.outside_links[:20]},
            )
        )
    if walk.others:
        walk.findings.append(
            Finding(
                code="DS_OTHER_FILES",
                severity="info",
                message=f"{len(walk.others)} file(s) are neither images, clips nor captions; the trainer ignores them.",
                fix="Nothing to do unless one of them was meant to be training data.",
                evidence={"files": walk.others[:20]},
            )
        )
    return DatasetScan(
        root=str(root),
        layout=layout,
        caption_extension=walk.caption_extension,
        images=sorted(walk.images, key=lambda m: m.path),
        videos=sorted(walk.videos, key=lambda m: m.path),
        captions=sorted(walk.captions),
        repeat_folders=repeat_folders,
        findings=walk.findings,
    )


def _walk_dir(walk: _Walk, folder: Path, rel: str) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        walk.findings.append(
            Finding(
                code="DS_UNREADABLE",
                severity="block",
                message=f"The folder '{rel or '.'}' cannot be opened ({exc.strerror}); the trainer will fail on it too.",
                fix="Fix its permissions (chmod u+rx) or move it out of the dataset.",
                path=rel or ".",
                evidence={"error": exc.strerror or str(exc)},
            )
        )
        return
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        entry_rel = f"{rel}/{name}" if rel else name
        if not _is_text(name):
            _bad_name(walk, entry_rel)
            continue
        if entry.is_symlink():
            _symlink(walk, Path(entry.path), entry_rel)
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError as exc:
            _unreadable(walk, entry_rel, exc)
            continue
        if stat.S_ISDIR(st.st_mode):
            if name in SKIPPED_DIRS:
                continue
            walk.visited.add((st.st_dev, st.st_ino))
            _walk_dir(walk, Path(entry.path), entry_rel)
        elif stat.S_ISREG(st.st_mode):
            _file(walk, entry_rel, st)
        else:
            _special(walk, entry_rel, st)


def _is_text(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 arrive as surrogate escapes
        return False
    return True


def _bad_name(walk: _Walk, rel: str) -> None:
    shown = rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    walk.findings.append(
        Finding(
            code="DS_NAME_NOT_TEXT",
            severity="block",
            message=f"'{shown}' has a name that is not valid text (not UTF-8, shown with \\x codes); it was not "
            "checked, and the trainers' logs and cache file names stumble on it.",
            fix="Rename it with plain letters, digits, '-' and '_'.",
            path=shown,
        )
    )


def _trainer_lists(walk: _Walk, rel: str) -> bool:
    """Whether the trainers pick this name up by its extension (a picture, a clip or a caption)."""
    suffix = Path(rel).suffix.lower()
    return suffix in IMAGE_EXTENSIONS or suffix in VIDEO_EXTENSIONS or rel.endswith(walk.caption_extension)


def _special(walk: _Walk, rel: str, st: os.stat_result) -> None:
    """A pipe, device or socket: never opened (reading one can block forever or never end)."""
    looks_like_data = _trainer_lists(walk, rel)
    walk.findings.append(
        Finding(
            code="DS_SPECIAL_FILE",
            severity="block" if looks_like_data else "warn",
            message=f"'{rel}' is {special_kind(st.st_mode) or 'not a regular file'}, not a file"
            + ("; the trainer would list it by its name and then hang or fail reading it." if looks_like_data else "."),
            fix="Remove it from the dataset folder; only plain image, clip and caption files belong there.",
            path=rel,
        )
    )


def _symlink(walk: _Walk, path: Path, rel: str) -> None:
    try:
        st = path.stat()  # follows the link
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            walk.findings.append(
                Finding(
                    code="DS_SYMLINK_LOOP",
                    severity="warn",
                    message=f"'{rel}' is a symbolic link that points back to itself, so it leads nowhere.",
                    fix="Delete the link, or point it at the real file or folder.",
                    path=rel,
                )
            )
            return
        is_media = _trainer_lists(walk, rel)
        walk.findings.append(
            Finding(
                code="DS_BROKEN_SYMLINK",
                severity="block" if is_media else "warn",
                message=f"'{rel}' is a link to a file that no longer exists"
                + ("; the trainer will list it and then fail to open it." if is_media else "."),
                fix="Delete the link or restore the file it points to.",
                path=rel,
                evidence={"target": os.readlink(path) if path.is_symlink() else ""},
            )
        )
        return
    if not inside(path, walk.root):
        walk.outside_links.append(rel)
        return
    if stat.S_ISDIR(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if key in walk.visited:
            walk.findings.append(
                Finding(
                    code="DS_SYMLINK_LOOP",
                    severity="warn",
                    message=f"The folder link '{rel}' leads back into a folder already in the dataset; it was not followed.",
                    fix="Remove the link; a trainer that follows it would read the same files twice or loop forever.",
                    path=rel,
                )
            )
            return
        if Path(rel).name in SKIPPED_DIRS:
            return
        walk.visited.add(key)
        _walk_dir(walk, path, rel)
    elif stat.S_ISREG(st.st_mode):
        _file(walk, rel, st)
    else:
        _special(walk, rel, st)


def _unreadable(walk: _Walk, rel: str, exc: OSError) -> None:
    walk.findings.append(
        Finding(
            code="DS_UNREADABLE",
            severity="block",
            message=f"'{rel}' cannot be read ({exc.strerror or exc}).",
            fix="Fix the file's permissions (chmod u+r) or remove it from the dataset.",
            path=rel,
        )
    )


def _file(walk: _Walk, rel: str, st: os.stat_result) -> None:
    suffix = Path(rel).suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        walk.images.append(MediaFile(path=rel, kind="image", size=st.st_size, mtime_ns=st.st_mtime_ns))
    elif suffix in VIDEO_EXTENSIONS:
        walk.videos.append(MediaFile(path=rel, kind="video", size=st.st_size, mtime_ns=st.st_mtime_ns))
    elif Path(rel).name.endswith(walk.caption_extension):
        walk.captions.append(rel)
    elif suffix in UNSUPPORTED_MEDIA:
        walk.findings.append(_unsupported(walk.root / rel, rel, suffix))
    elif suffix not in IGNORED_SUFFIXES and suffix != ".txt" and suffix != ".caption":
        walk.others.append(rel)


def _unsupported(path: Path, rel: str, suffix: str) -> Finding:
    what = UNSUPPORTED_MEDIA[suffix]
    evidence: dict[str, object] = {"format": suffix.lstrip(".")}
    if suffix == ".gif":
        frames = _gif_frames(path)
        if frames > 1:
            what = f"an animated GIF ({frames} frames)"
            evidence["frames"] = frames
    convert = "an MP4" if suffix in {".m4v", ".wmv", ".flv", ".mpg", ".mpeg", ".3gp"} else "a PNG or high-quality JPEG"
    extra = " For a clip, save it as a video (MP4) instead." if "animated" in what else ""
    return Finding(
        code="DS_UNSUPPORTED_FORMAT",
        severity="warn",
        message=f"'{rel}' is {what}; the trainers skip this format, so it will not be trained on.",
        fix=f"Export it as {convert} if it belongs in the dataset, or move it out.{extra}",
        path=rel,
        evidence=evidence,
    )


def _gif_frames(path: Path) -> int:
    """Frame count from the GIF's headers (Pillow seeks frame headers; pixels are not decoded)."""
    from PIL import Image

    try:
        with Image.open(path, formats=["GIF"]) as img:
            return int(getattr(img, "n_frames", 1))
    except Exception:  # noqa: BLE001 - an unreadable GIF is still just an unsupported file
        return 1


def _layout(walk: _Walk) -> tuple[Layout, list[RepeatFolder]]:
    media = walk.images + walk.videos
    if not media:
        return "empty", []
    tops = {m.path.split("/", 1)[0] for m in media if "/" in m.path}
    if any(t.lower() in WAN_FOLDERS for t in tops):
        return "wan", []
    folders = []
    for top in sorted(tops):
        match = REPEAT_FOLDER.match(top)
        if match:
            folders.append(RepeatFolder(path=top, repeats=int(match.group(1)), class_tokens=match.group(2)))
    if folders:
        return "kohya", folders
    return "flat", []


def _kohya_findings(walk: _Walk, layout: Layout, folders: list[RepeatFolder]) -> None:
    if layout != "kohya":
        return
    # reference sd-scripts.md §3.1: other folders are skipped ("ignore directory without repeats"),
    # and files must sit directly in the N_name folder.
    repeat_names = {f.path for f in folders}
    loose = [m.path for m in walk.images + walk.videos if m.path.split("/", 1)[0] not in repeat_names or m.path.count("/") > 1]
    if loose:
        walk.findings.append(
            Finding(
                code="DS_KOHYA_IGNORED_FILES",
                severity="warn",
                message=f"{len(loose)} file(s) sit outside the `N_name` repeat folders (or deeper inside them); "
                "sd-scripts reading this folder with --train_data_dir will skip them.",
                fix="Move them into a repeat folder such as `10_name/`, or out of the dataset.",
                evidence={"files": loose[:20]},
            )
        )
    for folder in folders:
        if folder.repeats < 1:
            walk.findings.append(
                Finding(
                    code="DS_KOHYA_ZERO_REPEATS",
                    severity="warn",
                    message=f"The folder '{folder.path}' has 0 repeats, so the trainer ignores everything in it.",
                    fix="Rename it with a repeat count of at least 1, e.g. '1_" + folder.class_tokens + "'.",
                    path=folder.path,
                )
            )
