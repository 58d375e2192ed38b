"""`stop`: end a running training gracefully (SIGINT so it can save), then firmly.

The supervisor does the stopping when it is alive (it owns job.json); this module asks it through
a stop-request file and waits. When the supervisor is gone (killed, machine rebooted) the trainer
process groups are signalled from here and job.json is closed here.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime, timezone
from pathlib import Path

from loragate.atomic import atomic_write_json
from loragate.core.errors import LoragateError
from loragate.names import check_name
from loragate.runs.job import JobEvent, read_job, utcnow, write_job
from loragate.runs.lock import release_gpus
from loragate.runs.orphans import supervisor_alive
from loragate.runs.process import group_alive, is_started_group, signal_group, wait_group_gone
from loragate.runs.supervisor import STOP_REQUEST
from loragate.workspace import project_dir
from loragate.runs.results import StopResult  # noqa: F401 - also imported from here


_supervisor_alive = supervisor_alive


def stop(
    name: str,
    cause: str = "stopped by the user",
    interrupt_grace_s: float = 30.0,
    terminate_grace_s: float = 10.0,
    root: Path | None = None,
) -> StopResult:
    check_name(name)
    job = read_job(name, root)
    if job is None:
        raise LoragateError(f"{name} has no launched training.", f"Start one with `loragate launch {name}`.")
    if job.status not in ("starting", "running"):
        return StopResult(project=name, job_id=job.job_id, status=job.status, stopped=False,
                          message=f"The training of {name} is not running (status: {job.status}); nothing to stop.")
    folder = project_dir(name, root)
    request = {
        "job_id": job.job_id,
        "cause": cause,
        "interrupt_grace_s": interrupt_grace_s,
        "terminate_grace_s": terminate_grace_s,
        "requested_at": datetime.now(timezone.utc).isoformat(),
    }
    atomic_write_json(folder / STOP_REQUEST, request)
    if _supervisor_alive(job):
        deadline = time.monotonic() + interrupt_grace_s + terminate_grace_s + 15
        while time.monotonic() < deadline and _supervisor_alive(job):
            time.sleep(0.1)
    final = read_job(name, root)
    if final is not None and final.job_id == job.job_id and final.status == "stopped" and not _supervisor_alive(final):
        return StopResult(project=name, job_id=job.job_id, status="stopped", stopped=True,
                          message=f"The training of {name} was stopped; checkpoints saved so far are kept in {job.output_dir}.")
    # The supervisor is gone or did not answer: stop the trainers and close the record here.
    job = final if final is not None and final.job_id == job.job_id else job
    for record in job.processes:
        # only a group this job started and that still is that group: a stale pid may be anyone's now
        if record.pid and record.status == "running" and is_started_group(record.pid, record.started_at) and group_alive(record.pid):
            for sig, grace in ((signal.SIGINT, interrupt_grace_s), (signal.SIGTERM, terminate_grace_s), (signal.SIGKILL, 5.0)):
                if not signal_group(record.pid, sig) or wait_group_gone(record.pid, grace):
                    break
            record.status, record.ended_at = "stopped", utcnow()
    if _supervisor_alive(job):
        signal_group(job.supervisor_pid, signal.SIGKILL)  # type: ignore[arg-type]
    job.status = "stopped"
    job.cause = f"Stopped on request: {cause}."
    job.events.append(JobEvent(kind="stopped", message=f"Training stopped: {cause}. The supervisor was not answering, so the trainer was stopped directly."))
    write_job(job, root)
    release_gpus(job.gpus, job.job_id)
    try:
        (folder / STOP_REQUEST).unlink()
    except FileNotFoundError:
        pass
    return StopResult(project=name, job_id=job.job_id, status="stopped", stopped=True,
                      message=f"The training of {name} was stopped; checkpoints saved so far are kept in {job.output_dir}.")
