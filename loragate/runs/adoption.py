"""The supervisor's side of adopting an orphan: watching trainers it did not start.

A supervisor started by `loragate adopt` takes over a job whose supervisor is gone while its
trainers run on. It cannot wait() on them (they are not its children), so it polls their process
groups and, once one is gone, judges how it ended from what the trainer left: the log and, for a
training run, the final LoRA file. The exit code itself is lost with the old supervisor.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass
from pathlib import Path

from loragate.core.errors import LoragateError
from loragate.core.plan import Command
from loragate.runs.checkpoint import final_checkpoint, safetensors_problem
from loragate.runs.classify import Failure, classify_failure, read_tail
from loragate.runs.job import Job, ProcessRecord, read_job, write_job
from loragate.runs.lock import acquire_gpus, read_lock, transfer_gpus
from loragate.runs.orphans import orphan_groups
from loragate.runs.process import group_alive, is_started_group
from loragate.runs.steps import read_step_progress
from loragate.workspace import project_dir

ADOPT_GUARD = ".adopt-guard"


@dataclass
class AdoptedRun:
    """A trainer started by an earlier supervisor, watched from outside until its group is gone."""

    command: Command
    log_path: Path
    pgid: int
    ours: bool = True  # False once the group is gone or its pid leads someone else's processes
    exit_code: int | None = None  # inferred from the log and the LoRA once gone; never observed

    @property
    def pid(self) -> int:
        return self.pgid

    def poll(self) -> int | None:
        if self.exit_code is None and not (self.ours and group_alive(self.pgid)):
            self.ours = False
            self.exit_code = _inferred_exit(self.command, self.log_path)
        return self.exit_code


def _inferred_exit(command: Command, log: Path) -> int:
    """0 when the run left what a success leaves (a training: steps and a usable final LoRA; a
    caching step: no error in its log), else 1 so the log is read for the error."""
    if command.stage == "train":
        final = final_checkpoint(command)
        return 0 if final and safetensors_problem(final) is None and read_step_progress(log).steps > 0 else 1
    failure = classify_failure(command.stage, 1, read_tail(log), command.argv, prefix="RUN")
    return 0 if failure is None or failure.kind == "exit_code" else 1


def lost_exit_failure(failure: Failure | None) -> Failure | None:
    """classify_failure reads "exit code 1 without a recognisable error" for a run whose code was
    inferred: say instead what is known."""
    if failure is None or failure.kind != "exit_code":
        return failure
    return failure.model_copy(update={
        "message": ("The trainer ended while loragate watched it after adopting it, with no error in its log and no "
                    "final LoRA written. Its exit code was lost with the old supervisor; something outside the trainer "
                    "may have killed it (the host's out-of-memory killer leaves nothing in the log)."),
        "fix": "Continue from its last checkpoint with `loragate continue NAME --from FILE`, then launch again.",
    })


def take_over(project: str, job_id: str, pid: int, root: Path | None) -> tuple[Job, list[int]]:
    """Make `pid` the job's supervisor, if the job is still an orphan; returns the job and the
    trainers' process groups still running. Under a lock, so two adopters cannot both win."""
    job = read_job(project, root)
    if job is None or job.job_id != job_id:
        raise LoragateError(f"job.json of {project} is not job {job_id}.", f"Read `loragate monitor {project}`.")
    with open(project_dir(project, root) / ADOPT_GUARD, "a+") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        job = read_job(project, root) or job
        groups = orphan_groups(job) if job.job_id == job_id else []
        if not groups:
            raise LoragateError(
                f"The training of {project} is no longer an orphan (status {job.status}, supervisor process "
                f"{job.supervisor_pid}): nothing to adopt.", f"Follow it with `loragate monitor {project}`.")
        job.supervisor_pid = pid
        job.status = "running"
        write_job(job, root)
    # the lock follows the training: this process now holds it (again, if it was lost)
    missing = [g for g in job.gpus if (held := read_lock(g)) is None or held.job_id != job_id]
    transfer_gpus(job.gpus, job_id, pid)
    if missing:
        acquire_gpus(missing, project, job_id, pid=pid)
    return job, groups


def adopted_runs(job: Job, by_role: dict[str, Command]) -> list[tuple[AdoptedRun, ProcessRecord]]:
    """The job's trainers that the earlier supervisor left running (or that ended while nobody
    watched), matched to the plan's commands by role."""
    return [
        (AdoptedRun(by_role[r.role], Path(r.log), r.pid, ours=is_started_group(r.pid, r.started_at)), r)
        for r in job.processes if r.status == "running" and r.pid and r.role in by_role
    ]


def adopted_words(pid: int, groups: list[int]) -> str:
    """The event progress.md shows: what adopting does, and what it cannot do."""
    listed = ", ".join(str(g) for g in groups)
    return (
        f"Supervision taken back (adopted) by process {pid}: loragate watches the running trainer (process group "
        f"{listed}) until it ends, then checks its LoRA and records COMPLETE or FAILED with the cause from its log; "
        "out-of-memory recovery works again for what runs after it (the other Wan 2.2 expert, a retry with cheaper "
        "settings). Adopting cannot change the settings of the trainer already running or restart it: it goes on "
        "exactly as it was started, and its exit code is lost, so how it ended is read from its log and output."
    )
