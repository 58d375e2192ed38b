"""The GPUs as a folder (FAKE_GPU_DIR), so trainings started at the same time on one card share
its memory, as two Wan 2.2 experts placed together do.

A training registers the memory it holds (its `vram.py` estimate) in
`FAKE_GPU_DIR/gpu{N}/{pid}.json`, N being the first entry of CUDA_VISIBLE_DEVICES, from model
load to exit. Each step it asks for its own memory plus what the other live processes on that
card hold, so FAKE_VRAM_GB is then the size of the card. The fake NVML (tests/fakes/host/pynvml.py)
lists the same entries as the card's processes, so loragate measures their peaks.
"""

from __future__ import annotations

import atexit
import json
import os
from pathlib import Path


def _card_dir() -> Path | None:
    root = os.environ.get("FAKE_GPU_DIR")
    if not root:
        return None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip() or "0"
    return Path(root) / f"gpu{visible}"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (ProcessLookupError, PermissionError, OSError, IndexError):
        return False
    return state != b"Z"


def register(vram_gb: float) -> None:
    """Hold `vram_gb` on this process's card until it exits (a SIGKILL leaves a stale entry that
    readers skip because the pid is gone)."""
    folder = _card_dir()
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    entry = folder / f"{os.getpid()}.json"
    entry.write_text(json.dumps({"pid": os.getpid(), "bytes": int(vram_gb * 1e9)}))
    atexit.register(lambda: entry.unlink(missing_ok=True))


def others_gb() -> float:
    """Memory the other live processes hold on this process's card."""
    folder = _card_dir()
    if folder is None or not folder.is_dir():
        return 0.0
    total = 0
    for entry in folder.glob("*.json"):
        try:
            data = json.loads(entry.read_text())
        except (OSError, ValueError):
            continue
        if data["pid"] != os.getpid() and alive(int(data["pid"])):
            total += int(data["bytes"])
    return total / 1e9
