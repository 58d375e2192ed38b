"""Running one trainer command: its own process group, its log file, a time limit, its peak VRAM.

Shared by the dry run (which waits for each step) and the supervisor (which may run two at once).
Each trainer gets its own session, so a stop can signal `accelerate launch` and the Python
process it starts (and their data-loader workers) together.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from loragate.core.errors import LoragateError
from loragate.core.plan import Command
from loragate.runs.vram_sampler import VramSampler


@dataclass
class StepRun:
    """A started trainer command; `poll()` it or `wait()` for it."""

    command: Command
    log_path: Path
    popen: subprocess.Popen[bytes]
    sampler: VramSampler
    started: float
    timeout_s: float | None = None
    timed_out: bool = False
    exit_code: int | None = None
    ended: float | None = None
    _log_handle: object = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def seconds(self) -> float:
        return round((self.ended or time.monotonic()) - self.started, 2)

    @property
    def peak_vram_gb(self) -> float | None:
        return self.sampler.peak_gb

    def poll(self) -> int | None:
        """The exit code once finished (None while running); enforces the time limit."""
        if self.exit_code is not None:
            return self.exit_code
        code = self.popen.poll()
        if code is None and self.timeout_s is not None and time.monotonic() - self.started > self.timeout_s:
            self.timed_out = True
            terminate_group(self.pid, grace_s=10)
            code = self.popen.wait()
        if code is not None:
            self._finish(code)
        return code

    def wait(self, poll_s: float = 0.2) -> int:
        while self.poll() is None:
            time.sleep(poll_s)
        assert self.exit_code is not None
        return self.exit_code

    def _finish(self, code: int) -> None:
        self.exit_code = code
        self.ended = time.monotonic()
        self.sampler.stop()
        handle = self._log_handle
        if handle is not None:
            handle.close()  # type: ignore[attr-defined]
            self._log_handle = None


# Both trainers log through rich, which wraps at 80 columns when writing to a file and COLUMNS is
# unset, splitting a message and its source location over several lines (reference
# real-trainers-on-cpu.md); a wide console keeps each message on one line of the log.
LOG_COLUMNS = 250


def trainer_env(gpu: int | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a trainer process: unbuffered output so the log is live, a console wide
    enough that rich does not wrap, and the GPU."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    try:
        wide = int(env.get("COLUMNS", "0")) >= LOG_COLUMNS
    except ValueError:
        wide = False
    if not wide:
        env["COLUMNS"] = str(LOG_COLUMNS)
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
    if extra:
        env.update(extra)
    return env


def start_step(
    command: Command,
    log_path: Path,
    *,
    gpu: int | None = None,
    timeout_s: float | None = None,
    append: bool = False,
    env_extra: dict[str, str] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> StepRun:
    """Start a command with stdout and stderr into `log_path` (tqdm and logging go to stderr)."""
    if not command.argv:
        raise LoragateError("A trainer command of the plan is empty.", "Re-create the plan with `loragate plan new`.")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(log_path, "ab" if append else "wb")
    cwd = command.cwd if command.cwd and Path(command.cwd).is_dir() else None
    try:
        popen = subprocess.Popen(
            command.argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=trainer_env(gpu, {**command.env, **(env_extra or {})}),
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        handle.close()
        raise LoragateError(
            f"The program {command.argv[0]!r} of the {command.stage.replace('_', ' ')} step was not found.",
            "Check the trainer's Python and accelerate in the plan (trainer_python), or run `loragate env`.",
        ) from exc
    except OSError as exc:
        handle.close()
        raise LoragateError(f"Could not start {command.argv[0]!r}: {exc}.", "Check the trainer folder and its permissions.") from exc
    if on_start:
        on_start(popen.pid)
    sampler = VramSampler(popen.pid).start()
    return StepRun(command=command, log_path=log_path, popen=popen, sampler=sampler, started=time.monotonic(),
                   timeout_s=timeout_s, _log_handle=handle)


def signal_group(pgid: int, sig: int) -> bool:
    """Send a signal to a process group; False when it no longer exists.

    Never this process's own group (nor 0 or 1, which mean "mine" and "everything"): every group
    loragate signals is one it started in a session of its own."""
    if pgid <= 1 or pgid == os.getpgrp():
        return False
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return False


# A recorded start time is taken just before the fork; the kernel's is a little later, and under
# heavy load may lag by seconds. A process that started much later got a recycled pid.
_START_SLACK_S = (-5.0, 60.0)


def process_started_at(pid: int) -> datetime | None:
    """When a process started (from /proc: clock ticks since boot plus the boot time), or None."""
    try:
        ticks = int((Path("/proc") / str(pid) / "stat").read_bytes().rsplit(b")", 1)[1].split()[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime"))
    except (OSError, IndexError, ValueError, StopIteration):
        return None
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), tz=timezone.utc)


def is_started_group(pgid: int | None, started_at: datetime | None) -> bool:
    """True when `pgid` is still the process group loragate started at `started_at`: its leader is
    alive, still leads it, and started then, not later under a recycled pid (pids wrap quickly on a
    busy machine, and a stale pid may by then lead someone else's shell job or test run)."""
    if not pgid or pgid <= 1 or pgid == os.getpgrp():
        return False
    try:
        if os.getpgid(pgid) != pgid:
            return False
    except (ProcessLookupError, PermissionError):
        return False  # the leader is gone: nothing proves the group is still ours
    if started_at is None:
        return True
    began = process_started_at(pgid)
    if began is None:
        return False
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=timezone.utc)
    offset = (began - started_at).total_seconds()
    return _START_SLACK_S[0] <= offset <= _START_SLACK_S[1]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return _any_live_member(pgid)


def _any_live_member(pgid: int) -> bool:
    """killpg(0) succeeds while zombies remain; look for a member that is not a zombie."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def wait_group_gone(pgid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return True
        time.sleep(0.1)
    return not group_alive(pgid)


def terminate_group(pgid: int, grace_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after the grace period."""
    if signal_group(pgid, signal.SIGTERM) and not wait_group_gone(pgid, grace_s):
        signal_group(pgid, signal.SIGKILL)
        wait_group_gone(pgid, 5)
