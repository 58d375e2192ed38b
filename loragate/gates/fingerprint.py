"""Fingerprints of what a gate judged, so a later change makes its verdict stale.

A gate's subject is a dict naming its parts: `dataset` (a folder), `plan` (a plan.json),
`machine` (this computer), `thresholds` (a project's thresholds.toml), the plan facts Gate 3 reads (`weights`, `disk_needs`, `memory_needs`,
`trainer_setup`, each naming the plan.json), plain values a gate judged with (`trigger`,
`model`, `training_type`, `caption_extension`), the LoRA files an evaluation judged (`lora:LABEL`,
each naming a file, fingerprinted by its bytes) and the terms of a cloud quote (`quote:FIELD`). The fingerprint of a subject is the hash of its
parts' fingerprints.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

from loragate.fsguard import inside, read_capped

# Folders that are not part of the training data (our quarantine, trainer caches, VCS).
SKIPPED_DIRS = {"_quarantine", ".git", "__pycache__", "cache", "_cache", ".cache"}
CAPTION_SUFFIXES = {".txt", ".caption", ".json"}


def fingerprint_dataset(folder: str | Path, caption_extension: str = ".txt") -> str:
    """Files, sizes and modification times, plus the text of every caption file.

    Captions are hashed by content because editors may keep the mtime; media by size and mtime,
    which is cheap on 100,000 files and still catches any rewrite. The walk keeps the audit's link
    rule (loragate/dataset/scan.py): links are followed only inside the dataset, each real folder
    once; pipes and devices are never opened; a caption is read up to the text cap.
    """
    root = Path(folder)
    digest = hashlib.sha256()
    caption_suffixes = CAPTION_SUFFIXES | {caption_extension.lower()}
    if not root.is_dir():
        return "missing:" + hashlib.sha256(str(root).encode()).hexdigest()
    root = root.resolve()
    seen: set[tuple[int, int]] = set()
    pending = [(root, "")]
    while pending:
        folder_path, rel_dir = pending.pop()
        try:
            st_dir = os.stat(folder_path)
            entries = sorted(os.scandir(folder_path), key=lambda e: e.name, reverse=True)
        except OSError:
            digest.update(f"{_safe(rel_dir)}\0unreadable folder\n".encode())
            continue
        if (st_dir.st_dev, st_dir.st_ino) in seen:
            continue
        seen.add((st_dir.st_dev, st_dir.st_ino))
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            path = Path(entry.path)
            try:
                if entry.is_symlink() and not inside(path, root):
                    digest.update(f"{_safe(rel)}\0link outside\n".encode())
                    continue
                st = path.stat()
            except OSError:
                digest.update(f"{_safe(rel)}\0unreadable\n".encode())
                continue
            if stat.S_ISDIR(st.st_mode):
                if name not in SKIPPED_DIRS:
                    pending.append((path, rel))
                continue
            if not stat.S_ISREG(st.st_mode):
                digest.update(f"{_safe(rel)}\0special {st.st_mode:o}\n".encode())
                continue
            digest.update(f"{_safe(rel)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            if path.suffix.lower() in caption_suffixes:
                try:
                    digest.update(hashlib.sha256(read_capped(path)).digest())
                except OSError:
                    digest.update(b"unreadable")
    return digest.hexdigest()


def _safe(rel: str) -> str:
    # A name that is not valid UTF-8 arrives with surrogate escapes; hash it, never crash on it.
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def fingerprint_plan(plan_file: str | Path) -> str:
    """The plan's JSON with keys sorted, so whitespace or key order never counts as a change."""
    path = Path(plan_file)
    try:
        data = json.loads(read_capped(path).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return "missing:" + hashlib.sha256(str(path).encode()).hexdigest()
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def fingerprint_file(path: str) -> str:
    """A settings file's content; a missing file is one state of its own (the defaults apply)."""
    try:
        return hashlib.sha256(read_capped(path)).hexdigest()
    except OSError:
        return "absent"


def fingerprint_lora(path: str | Path) -> str:
    """A LoRA file's bytes: the same LoRA whatever its name or time stamp, and a retrained or
    replaced file is another one. A missing file is a state of its own."""
    from loragate.duplicates.quarantine import file_sha256  # it imports this module

    try:
        return file_sha256(Path(path))
    except OSError:
        return "absent"


def fingerprint_machine(_: str = "local") -> str:
    """Delegates to the environment package, which knows what on a machine matters to training."""
    from loragate.environment.machine import machine_fingerprint

    return machine_fingerprint()


def _judged(part: str) -> Callable[[str], str]:
    """A fingerprinter for one group of the plan facts Gate 3 reads (loragate.environment.judged)."""

    def fingerprint(plan_file: str) -> str:
        from loragate.environment.judged import fingerprint_judged

        return fingerprint_judged(part, plan_file)

    return fingerprint


PART_FINGERPRINTERS: dict[str, Callable[[str], str]] = {
    "dataset": fingerprint_dataset,
    "plan": fingerprint_plan,
    "machine": fingerprint_machine,
    "thresholds": fingerprint_file,
    **{part: _judged(part) for part in ("weights", "disk_needs", "memory_needs", "trainer_setup")},
}

# Parts named `PREFIX:label`, one per file of a kind (the evaluation names each LoRA it judged).
# The terms of a cloud quote the artist said yes to (`quote:FIELD`) are values: their fingerprint is the value's.
PREFIXED_PARTS: dict[str, Callable[[str], str]] = {"lora": fingerprint_lora, "quote": lambda value: hashlib.sha256(value.encode()).hexdigest()}

# Values a gate judged with. They are compared with the plan (gates.coverage), and their
# fingerprint is the value itself.
VALUE_PARTS = ("trigger", "model", "training_type")

# Each part in the words a stale verdict uses.
PART_LABELS: dict[str, str] = {
    "dataset": "dataset's files or captions",
    "plan": "plan",
    "machine": "machine (GPU, driver or trainer install)",
    "weights": "model files the plan names",
    "disk_needs": "plan's disk needs (rank, epochs, save cadence, output folder or dataset)",
    "memory_needs": "plan's memory settings",
    "trainer_setup": "plan's trainer setup",
    "trigger": "trigger word",
    "model": "model",
    "training_type": "training type",
    "thresholds": "project's audit thresholds (thresholds.toml)",
}


def part_label(part: str, subject: Mapping[str, str] | None = None) -> str:
    """A part in the words a stale verdict uses ("LoRA file final (mira.safetensors)")."""
    prefix, _, label = part.partition(":")
    if label and prefix == "lora":
        name = Path(subject[part]).name if subject and part in subject else ""
        return f"LoRA file {label}" + (f" ({name})" if name and name not in label else "")
    return PART_LABELS.get(part, part)


def fingerprint_parts(subject: Mapping[str, str]) -> dict[str, str]:
    """Each part's own fingerprint, so a stale verdict can name what changed."""
    parts: dict[str, str] = {}
    for part in sorted(subject):
        if part == "caption_extension":
            continue  # part of the dataset's fingerprint: it says which files are captions
        value = subject[part]
        if part == "dataset":
            parts[part] = fingerprint_dataset(value, subject.get("caption_extension", ".txt"))
        elif part in VALUE_PARTS:
            parts[part] = hashlib.sha256(value.encode()).hexdigest()
        elif part.partition(":")[0] in PREFIXED_PARTS:
            parts[part] = PREFIXED_PARTS[part.partition(":")[0]](value)
        else:
            parts[part] = PART_FINGERPRINTERS[part](value)
    return parts


def combine_parts(parts: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for part in sorted(parts):
        digest.update(f"{part}={parts[part]}\n".encode())
    return digest.hexdigest()
