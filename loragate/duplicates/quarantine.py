"""Move chosen files aside into DATASET/_quarantine/, and put them back on request.

This is the only code in loragate that moves media. Nothing is deleted or rewritten: a file and
its caption sidecars are renamed into `_quarantine/` (same relative path), and the manifest
records where each came from, its size and sha256, so undo restores exactly those bytes to
exactly that place. A batch is all or nothing: every name is checked before anything moves (one
bad name refuses the batch and the error lists every bad name), and a move that fails puts back
the files this batch already moved. The manifest is written once before the moves (an intent
log: if the process stops midway, undo sees a file still in place and simply drops the entry) and
once after. A manifest is checked before it is trusted: an entry naming a place outside the
dataset, or a quarantined path outside _quarantine/, makes loragate refuse to move anything.
The audit and the dataset fingerprint skip `_quarantine/`.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field

from loragate.atomic import atomic_write_json
from loragate.core.errors import LoragateError
from loragate.fsguard import read_json_object
from loragate.gates.fingerprint import CAPTION_SUFFIXES

QUARANTINE_DIR = "_quarantine"
MANIFEST = "manifest.json"


class QuarantineEntry(BaseModel):
    original: str = Field(description="Where the file was, relative to the dataset folder.")
    quarantined: str = Field(description="Where it is now, relative to the dataset folder.")
    size: int
    sha256: str
    time: float = Field(description="Unix time of the move.")
    sidecar_of: str | None = Field(default=None, description="The media file this caption belongs to.")


class QuarantineManifest(BaseModel):
    entries: list[QuarantineEntry] = Field(default_factory=list)


class QuarantineResult(BaseModel):
    dataset: str
    undo: bool
    moved: list[QuarantineEntry] = Field(default_factory=list, description="Files moved by this call.")
    skipped: dict[str, str] = Field(default_factory=dict, description="path -> why it was left where it is.")
    manifest: str = Field(description="Absolute path of the manifest.")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _load(manifest: Path) -> QuarantineManifest:
    if not manifest.exists() and not manifest.is_symlink():
        return QuarantineManifest()
    try:
        loaded = QuarantineManifest.model_validate(read_json_object(manifest))
    except (OSError, ValueError) as exc:
        raise LoragateError(
            f"The quarantine manifest {manifest} cannot be read ({type(exc).__name__}).",
            "Restore it from a backup or move the files back by hand; loragate will not guess.",
        ) from exc
    bad = [e.original for e in loaded.entries if not _entry_ok(e)]
    if bad:
        raise LoragateError(
            f"The quarantine manifest {manifest} has {len(bad)} entr{'y' if len(bad) == 1 else 'ies'} that point outside "
            f"the dataset or outside {QUARANTINE_DIR}/ (first: {bad[0][:80]!r}); it was edited by hand, so nothing was moved.",
            "Restore the manifest from a backup or move the files back by hand.",
        )
    return loaded


def _entry_ok(entry: QuarantineEntry) -> bool:
    """Both paths relative, inside the dataset, the copy inside _quarantine/, the original not."""
    for rel in (entry.original, entry.quarantined):
        parts = PurePosixPath(rel).parts
        if not rel or "\x00" in rel or "\\" in rel or PurePosixPath(rel).is_absolute() or ".." in parts or "." in parts:
            return False
    return (PurePosixPath(entry.quarantined).parts[0] == QUARANTINE_DIR and len(PurePosixPath(entry.quarantined).parts) > 1
            and PurePosixPath(entry.original).parts[0] != QUARANTINE_DIR
            and len(entry.sha256) == 64 and entry.size >= 0)


def _inside(root: Path, user_path: str | Path, what: str) -> Path:
    """The path, resolved without following a final symlink, refused if it leaves the dataset."""
    raw = Path(user_path)
    candidate = raw if raw.is_absolute() else root / raw
    if "\x00" in str(user_path):
        raise LoragateError(f"The {what} {str(user_path)!r} is malformed.", "Name a file inside the dataset folder.")
    # Resolve the folder part (symlinked folders included), keep the file name as is.
    parent = candidate.parent.resolve()
    path = parent / candidate.name
    if candidate.name in ("", ".", "..") or not (parent == root or parent.is_relative_to(root)):
        raise LoragateError(
            f"The {what} {str(user_path)!r} is outside the dataset folder {root}.",
            "Name files inside the dataset folder, for example 'Images/photo_012.jpg'.",
        )
    return path


def _sidecars(media: Path, caption_extension: str) -> list[Path]:
    """Caption files that belong to a media file: same name, caption suffix."""
    suffixes = CAPTION_SUFFIXES | {caption_extension.lower()}
    if media.suffix.lower() in suffixes:
        return []
    found = []
    for sibling in sorted(media.parent.iterdir()):
        if sibling.stem == media.stem and sibling.suffix.lower() in suffixes and sibling.is_file() and not sibling.is_symlink():
            found.append(sibling)
    return found


def quarantine(
    dataset: Path, files: list[str | Path], undo: bool = False, caption_extension: str = ".txt"
) -> QuarantineResult:
    """Move `files` (and their captions) into `_quarantine/`, or with `undo` put them back.

    With `undo`, `files` names originals or quarantined paths; an empty list restores everything.
    """
    root = Path(dataset).expanduser().resolve()
    if not root.is_dir():
        raise LoragateError(f"The dataset folder {dataset} does not exist.", "Check the path and try again.")
    qdir = root / QUARANTINE_DIR
    manifest_path = qdir / MANIFEST
    if undo:
        return _restore(root, manifest_path, files)
    if not files:
        raise LoragateError("No files were named to quarantine.", "Name the files to move aside, for example from `loragate duplicates`.")
    manifest = _load(manifest_path)
    result = QuarantineResult(dataset=str(root), undo=False, manifest=str(manifest_path))
    chosen, bad = _check_names(root, files, result)
    if bad:
        raise LoragateError(
            f"Nothing was moved: {len(bad)} name(s) cannot be used: " + "; ".join(bad[:10]) + ("; ..." if len(bad) > 10 else "") + ".",
            "Name files inside the dataset folder, for example 'Images/photo_012.jpg', and run it again.",
        )
    items: list[tuple[Path, str | None]] = [(path, None) for path in chosen]
    items += [(s, path.relative_to(root).as_posix()) for path in chosen for s in _sidecars(path, caption_extension)]
    seen: set[Path] = set()
    reserved: set[Path] = set()
    batch: list[tuple[Path, Path, QuarantineEntry]] = []
    for item, owner in items:
        if item in seen:
            continue
        seen.add(item)
        batch.append(_entry_for(root, qdir, item, owner, reserved))
    if not batch:
        return result
    manifest.entries += [entry for _, _, entry in batch]
    atomic_write_json(manifest_path, manifest)  # the intent, once for the whole batch
    done: list[tuple[Path, Path]] = []
    for source, target, entry in batch:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # Same filesystem (inside the dataset): a rename keeps bytes and mtime untouched.
            os.rename(source, target)
        except OSError as exc:
            undone = _roll_back(done)
            manifest.entries = [e for e in manifest.entries if all(e is not b for _, _, b in batch)]
            atomic_write_json(manifest_path, manifest)
            raise LoragateError(
                f"Nothing was moved: {entry.original} could not be moved ({exc.strerror or exc}); the {undone} file(s) "
                "moved before it were put back.",
                "Fix the problem (permissions, disk) and run it again.",
            ) from exc
        done.append((source, target))
    result.moved = [entry for _, _, entry in batch]
    return result


def _check_names(root: Path, files: list[str | Path], result: QuarantineResult) -> tuple[list[Path], list[str]]:
    """Files to move, with what is left alone recorded in `result.skipped`, and every unusable name."""
    chosen: list[Path] = []
    bad: list[str] = []
    for user_path in files:
        try:
            path = _inside(root, user_path, "file")
        except LoragateError:
            bad.append(f"{str(user_path)[:120]!r} (outside the dataset folder or malformed)")
            continue
        rel = path.relative_to(root).as_posix()
        if rel.split("/")[0] == QUARANTINE_DIR:
            result.skipped[rel] = "already in the quarantine folder"
        elif path.is_symlink() or not path.is_file():
            result.skipped[rel] = _not_movable(path)
        elif path not in chosen:
            chosen.append(path)
    return chosen, bad


def _entry_for(root: Path, qdir: Path, path: Path, owner: str | None, reserved: set[Path]) -> tuple[Path, Path, QuarantineEntry]:
    rel = path.relative_to(root).as_posix()
    target = _free_target(qdir, rel, reserved)
    reserved.add(target)
    st = path.stat()
    entry = QuarantineEntry(original=rel, quarantined=target.relative_to(root).as_posix(), size=st.st_size,
                            sha256=file_sha256(path), time=time.time(), sidecar_of=owner)
    return path, target, entry


def _roll_back(done: list[tuple[Path, Path]]) -> int:
    for source, target in reversed(done):
        os.rename(target, source)
    return len(done)


def _not_movable(path: Path) -> str:
    """Why a named path is left alone, in the words an artist would check."""
    if path.is_symlink():
        return "it is a link, not a file; remove the link yourself if it should go"
    if path.is_dir():
        return "it is a folder; name the files inside it"
    return "no such file in the dataset; check the name (copy it from `loragate duplicates`)"


def _free_target(qdir: Path, rel: str, reserved: set[Path]) -> Path:
    """`_quarantine/<rel>`, or `<stem>.2<suffix>`... when an earlier quarantine (or this batch) used that name."""
    target = qdir / rel
    n = 2
    while target.exists() or target.is_symlink() or target in reserved:
        target = (qdir / rel).with_name(f"{Path(rel).stem}.{n}{Path(rel).suffix}")
        n += 1
    return target


def _restore(root: Path, manifest_path: Path, files: list[str | Path]) -> QuarantineResult:
    manifest = _load(manifest_path)
    result = QuarantineResult(dataset=str(root), undo=True, manifest=str(manifest_path))
    if not manifest.entries:
        if files:
            raise LoragateError(f"Nothing is in quarantine in {root}.", "There is nothing to put back.")
        return result
    wanted: set[str] | None = None
    if files:
        wanted = {_inside(root, f, "file").relative_to(root).as_posix() for f in files}
        known = {e.original for e in manifest.entries} | {e.quarantined for e in manifest.entries}
        for name in sorted(wanted - known):
            result.skipped[name] = "not in the quarantine manifest"
        # A media file brings its captions back with it.
        owners = {e.original for e in manifest.entries if e.original in wanted or e.quarantined in wanted}
        wanted |= {e.original for e in manifest.entries if e.sidecar_of in owners}
    for entry in list(manifest.entries):
        if wanted is not None and entry.original not in wanted and entry.quarantined not in wanted:
            continue
        problem = _put_back(root, entry)
        if problem:
            result.skipped[entry.original] = problem
            continue
        if problem is None:
            result.moved.append(entry)
        # Back in place (or never left): the entry goes. The manifest is saved once at the end; an
        # entry left behind by an interruption finds its file in place and is simply dropped next time.
        manifest.entries.remove(entry)
    atomic_write_json(manifest_path, manifest)
    return result


def _put_back(root: Path, entry: QuarantineEntry) -> str | None:
    """None when moved back, "" when it had never left, else why it stays in quarantine."""
    source = _inside(root, entry.quarantined, "quarantined file")
    target = _inside(root, entry.original, "original place")
    if not source.is_file():
        if target.is_file() and file_sha256(target) == entry.sha256:
            return ""
        return "the quarantined copy is missing"
    if target.exists() or target.is_symlink():
        return f"a file named {entry.original} exists again; move it away first, nothing is overwritten"
    if source.is_symlink() or source.stat().st_size != entry.size or file_sha256(source) != entry.sha256:
        return "the quarantined file was changed since it was moved; check it and move it back by hand"
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(source, target)
    return None
