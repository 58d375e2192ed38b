"""One training per GPU: a live holder refuses, a dead holder's lock is taken over."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from loragate.core.errors import LoragateError
from loragate.runs.lock import acquire_gpus, gpu_lock, read_lock, release_gpus, transfer_gpus


def test_second_holder_refused_while_first_alive(workspace: Path) -> None:
    acquire_gpus([0], "mira", "job-a")
    with pytest.raises(LoragateError) as err:
        acquire_gpus([0], "other", "job-b")
    assert "mira" in err.value.message and "loragate stop mira" in (err.value.fix or "")
    acquire_gpus([1], "other", "job-b")  # another GPU is free
    release_gpus([0], "job-a")
    assert acquire_gpus([0], "other", "job-b") == []


def test_stale_lock_of_dead_pid_taken_over(workspace: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    acquire_gpus([0], "crashed", "job-old", pid=dead.pid)
    notes = acquire_gpus([0], "mira", "job-new")
    assert len(notes) == 1 and "crashed" in notes[0] and "taken over" in notes[0]
    assert read_lock(0).project == "mira"


def test_all_or_nothing_and_transfer(workspace: Path) -> None:
    acquire_gpus([1], "busy", "job-x")
    with pytest.raises(LoragateError):
        acquire_gpus([0, 1], "mira", "job-y")
    assert read_lock(0) is None  # nothing taken when one GPU is busy
    with gpu_lock([0], "mira", "job-y", purpose="dry run"):
        transfer_gpus([0], "job-y", 4242)
        assert read_lock(0).pid == 4242
        release_gpus([0], "someone-else")
        assert read_lock(0) is not None  # only the holder releases
    assert read_lock(0) is None
