"""Fingerprints of what a gate judged, so a later change makes its verdict stale.

A gate's subject is a dict naming its parts: `dataset` (a folder), `plan` (a plan.json) and
`machine` (this computer). The fingerprint of a subject is the hash of its parts' fingerprints.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Mapping

# Folders that are not part of the training data (our quarantine, trainer caches, VCS).
SKIPPED_DIRS = {"_quarantine", ".git", "__pycache__", "cache", "_cache", ".cache"}
CAPTION_SUFFIXES = {".txt", ".caption", ".json"}


def fingerprint_dataset(folder: str | Path, caption_extension: str = ".txt") -> str:
    """Files, sizes and modification times, plus the text of every caption file.

    Captions are hashed by content because editors may keep the mtime; media by size and mtime,
    which is cheap on 100,000 files and still catches any rewrite.
    """
    root = Path(folder)
    digest = hashlib.sha256()
    caption_suffixes = CAPTION_SUFFIXES | {caption_extension.lower()}
    if not root.is_dir():
        return "missing:" + hashlib.sha256(str(root).encode()).hexdigest()
    # Follow linked folders as the audit does, but each real folder once, so a loop ends.
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st_dir = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        if (st_dir.st_dev, st_dir.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((st_dir.st_dev, st_dir.st_ino))
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            try:
                st = path.stat()
            except OSError:
                digest.update(f"{rel}\0unreadable\n".encode())
                continue
            digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            if path.suffix.lower() in caption_suffixes:
                try:
                    digest.update(hashlib.sha256(path.read_bytes()).digest())
                except OSError:
                    digest.update(b"unreadable")
    return digest.hexdigest()


def fingerprint_plan(plan_file: str | Path) -> str:
    """The plan's JSON with keys sorted, so whitespace or key order never counts as a change."""
    path = Path(plan_file)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "missing:" + hashlib.sha256(str(path).encode()).hexdigest()
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def fingerprint_machine(_: str = "local") -> str:
    """Delegates to the environment package, which knows what on a machine matters to training."""
    from loragate.environment.machine import machine_fingerprint

    return machine_fingerprint()


PART_FINGERPRINTERS: dict[str, Callable[[str], str]] = {
    "dataset": fingerprint_dataset,
    "plan": fingerprint_plan,
    "machine": fingerprint_machine,
}


def fingerprint_parts(subject: Mapping[str, str]) -> dict[str, str]:
    """Each part's own fingerprint, so a stale verdict can name what changed."""
    parts: dict[str, str] = {}
    for part in sorted(subject):
        if part == "caption_extension":
            continue
        value = subject[part]
        if part == "dataset":
            parts[part] = fingerprint_dataset(value, subject.get("caption_extension", ".txt"))
        else:
            parts[part] = PART_FINGERPRINTERS[part](value)
    return parts


def combine_parts(parts: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for part in sorted(parts):
        digest.update(f"{part}={parts[part]}\n".encode())
    return digest.hexdigest()
