"""Every caption text that gets replaced is kept, so any overwrite can be undone.

The previous text goes to `<dataset>/.caption-history/<caption path>.<UTC time>.txt`, byte for
byte. The folder is hidden, so the audit, the gate fingerprint and the trainers (which read only
images and their same-name captions) all pass it by. To undo an overwrite, copy the newest file
for a caption back over it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from loragate.atomic import atomic_write_bytes

HISTORY_DIR = ".caption-history"


def history_dir(dataset: Path) -> Path:
    return Path(dataset) / HISTORY_DIR


def save_previous(dataset: Path, caption_rel: str, data: bytes) -> Path:
    """Keep `data` (the caption's current bytes) before it is replaced; return where it went."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    base = history_dir(dataset) / f"{caption_rel}.{stamp}"
    target = base.with_name(base.name + ".txt")
    counter = 1
    while target.exists():  # two overwrites within one microsecond must not collide
        target = base.with_name(f"{base.name}-{counter}.txt")
        counter += 1
    atomic_write_bytes(target, data)
    return target


def versions(dataset: Path, caption_rel: str) -> list[Path]:
    """Saved texts of one caption, oldest first."""
    folder = (history_dir(dataset) / caption_rel).parent
    name = Path(caption_rel).name + "."
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(name) and p.suffix == ".txt")
