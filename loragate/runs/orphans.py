"""Trainings that lost their supervisor.

The supervisor starts each trainer in its own process group, so killing the supervisor (kill -9,
an OOM kill of the supervisor itself) leaves the trainer running, holding the GPU and writing to
the output folder, with nobody to recover from out-of-memory or release the lock. The training's
ownership therefore follows its process groups, not the supervisor's pid: a job whose supervisor
is gone while one of its groups still runs is an orphan. launch and the GPU lock refuse to start
another training beside it, monitor says so, `loragate adopt` gives it a new supervisor and
`loragate stop` ends it.
"""

from __future__ import annotations

from loragate.core.nextstep import NextStep, step
from loragate.runs.job import Job
from loragate.runs.lock import pid_alive
from loragate.runs.process import group_alive, is_started_group


def supervisor_alive(job: Job) -> bool:
    """The job's own supervisor is running (not a later process that got its pid)."""
    return pid_alive(job.supervisor_pid) and is_started_group(job.supervisor_pid, job.created_at)


def live_groups(job: Job) -> list[int]:
    """Process groups this job started that still run (checked against their start time, so a
    reused pid is never mistaken for the trainer)."""
    return [p.pid for p in job.processes
            if p.pid and p.exit_code is None and is_started_group(p.pid, p.started_at) and group_alive(p.pid)]


def orphan_groups(job: Job | None) -> list[int]:
    """The trainers still running without their supervisor; [] when supervised or all ended."""
    if job is None or job.status not in ("starting", "running") or supervisor_alive(job):
        return []
    return live_groups(job)


def orphan_words(job: Job, groups: list[int]) -> tuple[str, str]:
    """What an artist reads about an orphan, and the three choices."""
    listed = ", ".join(str(g) for g in groups)
    return (
        f"The training of {job.project} is still running, but its supervisor (process {job.supervisor_pid}) is gone: "
        f"the trainer (process group {listed}) runs unsupervised, so out-of-memory recovery and the end-of-run "
        "bookkeeping no longer happen.",
        f"Adopt it (`loragate adopt {job.project}`: a new supervisor watches it to its end, records the result and "
        "recovers from out-of-memory for what runs after it; the running trainer keeps its settings), let it finish "
        f"unsupervised (`loragate monitor {job.project}` reads COMPLETE when the final LoRA is written), or stop it "
        f"(`loragate stop {job.project}`, checkpoints are kept). No other training starts on its GPU meanwhile.",
    )


def orphan_choices(job: Job) -> list[NextStep]:
    """The operations an artist is offered for an orphan: adopt it, or stop it (letting it finish
    needs no operation; monitor reads COMPLETE when it does)."""
    return [step("adopt_run", project=job.project), step("stop", project=job.project)]
