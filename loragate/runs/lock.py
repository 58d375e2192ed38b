"""One training per GPU: a lock file per GPU index, naming the process and project that hold it.

Two trainings on one card do not share it gracefully: the second one runs the first out of memory
hours in. The lock files live in a per-machine folder (not per workspace), so projects in different
folders still see each other. Every check-and-write happens under an flock on a guard file, so
two launches at the same moment cannot both win. A lock whose holder has died (a crashed
supervisor, a rebooted pod) is taken over, and the takeover is reported.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from pydantic import BaseModel, Field

from loragate.atomic import atomic_write_json
from loragate.core.errors import LoragateError
from loragate.fsguard import read_json_object


class GpuLock(BaseModel):
    gpu: int
    pid: int
    project: str
    job_id: str
    purpose: str = "training"
    acquired_at: datetime
    # The trainers' process groups (pgid -> start time): the lock belongs to the training, so it
    # holds while one of them runs even after the supervisor (`pid`) is gone.
    groups: dict[int, datetime] = Field(default_factory=dict)


def holder_alive(held: GpuLock) -> bool:
    from loragate.runs.process import group_alive, is_started_group

    return pid_alive(held.pid) or any(is_started_group(g, at) and group_alive(g) for g, at in held.groups.items())


def lock_dir() -> Path:
    """`LORAGATE_LOCK_DIR`, else `LORAGATE_CACHE_DIR/locks`, else ~/.cache/loragate/locks."""
    explicit = os.environ.get("LORAGATE_LOCK_DIR")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("LORAGATE_CACHE_DIR")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache" / "loragate"
    return base / "locks"


def _lock_path(gpu: int) -> Path:
    return lock_dir() / f"gpu-{int(gpu)}.json"


@contextmanager
def _guard() -> Iterator[None]:
    folder = lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".guard", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pid_alive(pid: int | None) -> bool:
    """True when a process with this pid exists (zombies count as dead)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
        return state != b"Z"
    except (OSError, IndexError):
        return True


def read_lock(gpu: int) -> GpuLock | None:
    path = _lock_path(gpu)
    try:
        return GpuLock.model_validate(read_json_object(path))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        # An unreadable lock protects nothing; treat it as stale.
        return None


def acquire_gpus(gpus: list[int], project: str, job_id: str, pid: int | None = None, purpose: str = "training") -> list[str]:
    """Take the locks of all these GPUs, or none of them.

    Returns notes about stale locks that were taken over. Raises when a live process holds one.
    """
    pid = pid or os.getpid()
    notes: list[str] = []
    with _guard():
        for gpu in gpus:
            held = read_lock(gpu)
            if held is None or held.job_id == job_id:
                continue
            if holder_alive(held):
                raise LoragateError(
                    f"GPU {gpu} is busy: the {held.purpose} of project '{held.project}' (process {held.pid}, "
                    f"since {held.acquired_at:%Y-%m-%d %H:%M} UTC) is using it. One training per GPU.",
                    f"Wait for it to finish (`loragate monitor {held.project}`) or stop it (`loragate stop {held.project}`).",
                )
            notes.append(
                f"GPU {gpu} was still marked as used by project '{held.project}' (process {held.pid}), which is no "
                "longer running; the stale lock was taken over."
            )
        now = datetime.now(timezone.utc)
        for gpu in gpus:
            atomic_write_json(_lock_path(gpu), GpuLock(gpu=gpu, pid=pid, project=project, job_id=job_id, purpose=purpose, acquired_at=now))
    return notes


def transfer_gpus(gpus: list[int], job_id: str, new_pid: int) -> None:
    """Hand the locks of a job to another process (launch -> the supervisor it started)."""
    with _guard():
        for gpu in gpus:
            held = read_lock(gpu)
            if held is not None and held.job_id == job_id:
                atomic_write_json(_lock_path(gpu), held.model_copy(update={"pid": new_pid}))


def hold_group(gpus: list[int], job_id: str, pgid: int, started_at: datetime) -> None:
    """Add a trainer's process group to the job's locks (the supervisor calls it at each start)."""
    with _guard():
        for gpu in gpus:
            held = read_lock(gpu)
            if held is not None and held.job_id == job_id:
                atomic_write_json(_lock_path(gpu), held.model_copy(update={"groups": {**held.groups, pgid: started_at}}))


def release_gpus(gpus: list[int], job_id: str) -> None:
    """Remove the locks this job holds; a lock another job took over is left alone."""
    with _guard():
        for gpu in gpus:
            held = read_lock(gpu)
            if held is not None and held.job_id == job_id:
                try:
                    _lock_path(gpu).unlink()
                except FileNotFoundError:
                    pass


@contextmanager
def gpu_lock(gpus: list[int], project: str, job_id: str, purpose: str) -> Iterator[list[str]]:
    """Hold the GPUs for the duration of a block (the dry run); yields the takeover notes."""
    notes = acquire_gpus(gpus, project, job_id, purpose=purpose)
    try:
        yield notes
    finally:
        release_gpus(gpus, job_id)
