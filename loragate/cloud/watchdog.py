"""The watchdog on the pod: it ends the pod through the provider's API, whichever comes first:

- the spend cap is reached (GPU time at the rented price since the start);
- training has ended and `cloud pull` has brought the results home (its mark is newer than the end);
- nothing has run for N idle minutes (no training, no dry run, no pull).

It writes why into progress.md before it ends the pod. It uses the key the provider puts on every
pod for that pod (RunPod `RUNPOD_API_KEY`, Vast `CONTAINER_API_KEY`), so no key is copied there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from loragate.cloud.sync import PULLED_MARK
from loragate.workspace import project_dir

POLL_S = 60.0
PID_FILE = ".watchdog.pid"
LOG_FILE = "watchdog.log"
ACTIVE_JOB = ("starting", "running")
OWN_FILES = {PID_FILE, LOG_FILE, "progress.md"}


class WatchFacts(BaseModel):
    now: datetime
    started_at: datetime
    usd_per_hour: float
    cap_usd: float
    training_active: bool
    training_ended_at: datetime | None = None
    pulled_at: datetime | None = None
    last_activity: datetime


class Decision(BaseModel):
    action: Literal["keep", "end"]
    reason: str
    spent_usd: float


def decide(facts: WatchFacts, idle_minutes: float) -> Decision:
    spent = (facts.now - facts.started_at).total_seconds() / 3600 * facts.usd_per_hour
    if spent >= facts.cap_usd:
        return Decision(action="end", spent_usd=spent, reason=f"the spend cap of ${facts.cap_usd:.2f} was reached (${spent:.2f} spent)")
    if not facts.training_active and facts.training_ended_at and facts.pulled_at and facts.pulled_at >= facts.training_ended_at:
        return Decision(action="end", spent_usd=spent, reason="training has ended and the results were pulled")
    idle = facts.now - facts.last_activity
    if not facts.training_active and idle >= timedelta(minutes=idle_minutes):
        return Decision(action="end", spent_usd=spent, reason=f"nothing ran for {idle.total_seconds() / 60:.0f} minutes")
    return Decision(action="keep", spent_usd=spent, reason="working" if facts.training_active else "waiting")


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    except OSError:
        return None


def _newest_write(folder: Path) -> datetime | None:
    """The latest write anywhere in the project record (a dry run's logs, Gate 3, a sync or a pull),
    the watchdog's own files aside: any of them means someone is working on the pod."""
    newest: float | None = None
    for path in folder.rglob("*"):
        if path.name in OWN_FILES:
            continue
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        newest = mtime if newest is None or mtime > newest else newest
    return datetime.fromtimestamp(newest, timezone.utc) if newest is not None else None


def observe(project: str, started_at: datetime, usd_per_hour: float, cap_usd: float, now: datetime, watch_start: datetime) -> WatchFacts:
    """What the pod shows now: the job, the pull mark, and the newest sign of work."""
    from loragate.runs.job import read_job

    folder = project_dir(project)
    job = read_job(project)
    active = bool(job and job.status in ACTIVE_JOB)
    ended = job.updated_at if job and not active else None
    marks = [watch_start, ended, _newest_write(folder)]
    last = max(m for m in marks if m is not None)
    return WatchFacts(now=now, started_at=started_at, usd_per_hour=usd_per_hour, cap_usd=cap_usd, training_active=active,
                      training_ended_at=ended, pulled_at=_mtime(folder / PULLED_MARK), last_activity=now if active else last)


def note_progress(project: str, text: str) -> None:
    """Add the watchdog's line to progress.md (the pod ends right after, so nothing rewrites it)."""
    path = project_dir(project) / "progress.md"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"\n- **Watchdog** ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC): {text}\n")


def watch(project: str, provider: str, instance_id: str, usd_per_hour: float, cap_usd: float, started_at: datetime,
          idle_minutes: float = 30, *, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
          sleep: Callable[[float], None] = time.sleep, poll_s: float = POLL_S) -> Decision:
    """Check every `poll_s` until the pod should end, then say why and end it."""
    from loragate.cloud.keys import load_pod_keys
    from loragate.cloud.providers import get_provider

    load_pod_keys()
    watch_start = clock()
    while True:
        now = clock()
        decision = decide(observe(project, started_at, usd_per_hour, cap_usd, now, watch_start), idle_minutes)
        if decision.action == "end":
            note_progress(project, f"ended {provider} instance {instance_id} because {decision.reason}.")
            get_provider(provider).terminate(instance_id)
            return decision
        sleep(poll_s)


def detach(argv: list[str], project: str) -> str:
    """Start the watchdog in its own session unless one already runs for this project."""
    folder = project_dir(project, create=True)
    pid_file = folder / PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
        return f"watchdog already running (process {pid})"
    except (OSError, ValueError):
        pass
    with open(folder / LOG_FILE, "a", encoding="utf-8") as log:
        proc = subprocess.Popen([sys.executable, "-c", "from loragate.cli import main; main()", *argv], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    pid_file.write_text(str(proc.pid))
    return f"watchdog started (process {proc.pid})"
