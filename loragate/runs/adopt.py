"""`adopt`: give a training that lost its supervisor a new one.

The trainer goes on exactly as it was started; a new detached supervisor (the launch machinery,
with --adopt) takes over the job and its GPU locks, watches the trainer until it ends, finishes
the record as a supervised run would, and runs what the launch still had to run (the other Wan 2.2
expert, out-of-memory retries).
"""

from __future__ import annotations

from pathlib import Path

from loragate.core.errors import LoragateError
from loragate.names import check_name
from loragate.core.nextstep import step
from loragate.runs.job import Job, read_job
from loragate.runs.launch import await_ack, start_supervisor
from loragate.runs.orphans import orphan_groups, supervisor_alive
from loragate.workspace import workspace_root
from loragate.runs.results import AdoptResult  # noqa: F401 - also imported from here


def require_orphan(name: str, root: Path | None = None) -> tuple[Job, list[int]]:
    """The job and its trainers' process groups running without a supervisor; says plainly why not."""
    check_name(name)
    job = read_job(name, root)
    if job is None:
        raise LoragateError(f"{name} has no launched training, so there is nothing to adopt.",
                            f"Start one with `loragate launch {name}`.")
    groups = orphan_groups(job)
    if not groups:
        if job.status in ("starting", "running") and supervisor_alive(job):
            why = f"its supervisor (process {job.supervisor_pid}) is running and watching it"
        elif job.status in ("starting", "running"):
            why = "no trainer of it is running any more"
        else:
            why = f"it is not running (status: {job.status})"
        raise LoragateError(f"The training of {name} has no orphan to adopt: {why}.",
                            f"See how it is going with `loragate monitor {name}`.", step("monitor", project=name))
    return job, groups


def adopt(name: str, root: Path | None = None) -> AdoptResult:
    """Start a supervisor for the project's orphaned trainers; refuses when there is no orphan."""
    check_name(name)
    root = (root or workspace_root()).resolve()
    job, groups = require_orphan(name, root)
    try:
        proc = start_supervisor(name, root, job.job_id, job.gpus, adopt=True)
    except OSError as exc:
        raise LoragateError(f"The new supervisor could not be started: {exc}.",
                            "Check that loragate is installed in this Python environment.") from exc
    status = await_ack(name, root, job.job_id, proc, release=False)
    listed = ", ".join(str(g) for g in groups)
    return AdoptResult(
        project=name, job_id=job.job_id, status=status, supervisor_pid=proc.pid, groups=groups,
        message=(f"The training of {name} is supervised again by process {proc.pid}: it watches the running trainer "
                 f"(process group {listed}) to its end, records how it ended, and recovers from out-of-memory for "
                 "what runs after it. The running trainer keeps the settings it started with. Follow it with "
                 f"`loragate monitor {name}`."),
    )
