"""`launch`: start a training behind the four gates, detached, and hand back a job handle at once."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

from loragate.core.errors import LoragateError
from loragate.gates.ledger import require_all_gates
from loragate.names import check_name
from loragate.core.plan import TrainingPlan
from loragate.plan.store import load_project_plan, plan_path
from loragate.runs.job import Job, JobEvent, JobStatus, read_job, write_job
from loragate.runs.lock import acquire_gpus, pid_alive, release_gpus, transfer_gpus
from loragate.runs.orphans import orphan_choices, orphan_groups, orphan_words
from loragate.runs.placement import choose_gpus
from loragate.workspace import project_dir, workspace_root
from loragate.runs.results import LaunchResult  # noqa: F401 - also imported from here

SUPERVISOR_LOG = "supervisor.log"
ACK_TIMEOUT_S = 15.0


def job_running(job: Job | None) -> bool:
    return job is not None and job.status in ("starting", "running") and pid_alive(job.supervisor_pid)


def refuse_beside_orphan(name: str, job: Job | None) -> None:
    """A trainer that lost its supervisor still holds the GPU and the output folder: never a second one."""
    groups = orphan_groups(job)
    if job is not None and groups:
        cause, fix = orphan_words(job, groups)
        raise LoragateError(cause + " A new launch would train a second copy on the same GPU and output folder.", fix,
                            orphan_choices(job)[0])


_REAPERS: list[threading.Thread] = []


def new_job_id() -> str:
    """An opaque handle; hex, so it never reads as a command-line option (a leading '-' would)."""
    return secrets.token_hex(9)


def supervisor_argv(name: str, job_id: str, root: Path) -> list[str]:
    # --flag=value: a value is taken as it is, whatever its first character
    return [sys.executable, "-m", "loragate.runs.supervisor", f"--project={name}", f"--job-id={job_id}", f"--root={root}"]


def _reap_later(proc: subprocess.Popen[bytes]) -> None:
    """Collect the supervisor's exit status when it ends, so a long-lived caller (the MCP server)
    leaves no zombie; the thread is a daemon, so the caller can still exit at any time."""
    thread = threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True)
    thread.start()
    _REAPERS.append(thread)


def launch(name: str, root: Path | None = None) -> LaunchResult:
    """Start the project's training. Refuses unless Gates 1-4 are GO for what exists now."""
    check_name(name)
    root = (root or workspace_root()).resolve()
    require_all_gates(name, root)
    existing = read_job(name, root)
    refuse_beside_orphan(name, existing)
    if job_running(existing):
        assert existing is not None
        raise LoragateError(
            f"A training of {name} is already running (job {existing.job_id}, supervisor process {existing.supervisor_pid}).",
            f"Follow it with `loragate monitor {name}`, or stop it with `loragate stop {name}` first.",
        )
    plan = load_project_plan(name, root)
    _recheck_disk(plan)
    folder = project_dir(name, root)
    gpus = choose_gpus(len(plan.experts), plan.experts_together)
    job_id = new_job_id()
    notes = acquire_gpus(gpus, name, job_id)
    names = [e.output_name for e in plan.experts] or [plan.output_name]
    job = Job(
        job_id=job_id,
        project=name,
        output_dir=plan.output_dir,
        output_names=names,
        plan_file=str(plan_path(name, root)),
        gpus=gpus,
        events=[JobEvent(kind="note", message=n) for n in notes]
        + [JobEvent(kind="launched", message=f"Launched on GPU {', '.join(str(g) for g in gpus)}; all four gates were GO.")],
    )
    write_job(job, root)
    try:
        proc = start_supervisor(name, root, job_id, gpus)
    except OSError as exc:
        release_gpus(gpus, job_id)
        job.status, job.cause = "failed", f"The supervisor could not be started: {exc}."
        write_job(job, root)
        raise LoragateError(job.cause, "Check that loragate is installed in this Python environment.") from exc
    status = await_ack(name, root, job_id, proc)
    logs = [str(folder / f"train-{e.expert}.log") for e in plan.experts] if plan.experts else [str(folder / "train.log")]
    return LaunchResult(
        project=name,
        job_id=job_id,
        status=status,
        supervisor_pid=proc.pid,
        gpus=gpus,
        job_file=str(folder / "job.json"),
        logs=logs,
        notes=notes,
        message=(
            f"Training of {name} started (job {job_id}). It runs on without this session; follow it with "
            f"`loragate monitor {name}` and stop it with `loragate stop {name}`."
            if status in ("starting", "running")
            else f"The training of {name} ended at once with status {status}; see `loragate monitor {name}` and {SUPERVISOR_LOG}."
        ),
    )


def start_supervisor(name: str, root: Path, job_id: str, gpus: list[int], adopt: bool = False) -> subprocess.Popen[bytes]:
    """Start the detached supervisor of a job (its own session, output in supervisor.log) and hand
    it the job's GPU locks. `adopt`: one that takes over the running trainers of an orphaned job."""
    argv = supervisor_argv(name, job_id, root) + (["--adopt"] if adopt else [])
    env = dict(os.environ, LORAGATE_ROOT=str(root))
    with open(project_dir(name, root) / SUPERVISOR_LOG, "ab") as log:
        proc = subprocess.Popen(
            argv, cwd=str(root), env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )
    if not adopt:  # an adopting supervisor takes the locks over itself, once it has won the job
        transfer_gpus(gpus, job_id, proc.pid)
    _reap_later(proc)
    return proc


def _recheck_disk(plan: TrainingPlan) -> None:
    """Gate 3 measured free space maybe hours ago; a disk that filled since would end the run at its
    first save, so the same check runs again right before starting."""
    from loragate.catalog.models import get_family
    from loragate.environment.resources import check_disk, disk_findings, disk_needs

    full = [f for f in disk_findings(check_disk(disk_needs(plan, get_family(plan.model)))) if f.severity == "block"]
    if full:
        raise LoragateError(f"Not launched: the disk filled up since Gate 3 passed. {full[0].message}", full[0].fix)


def await_ack(name: str, root: Path, job_id: str, proc: subprocess.Popen[bytes], release: bool = True) -> JobStatus:
    """Wait (briefly) until the supervisor has taken the job over, so a handle is never returned
    for a supervisor that died on start (whose GPU locks are released unless `release` is False:
    an orphan's trainers still hold them)."""
    deadline = time.monotonic() + ACK_TIMEOUT_S
    while time.monotonic() < deadline:
        job = read_job(name, root)
        if job is not None and job.job_id == job_id and job.supervisor_pid == proc.pid:
            return job.status
        if proc.poll() is not None:
            job = read_job(name, root)
            if job is not None and job.job_id == job_id and job.status not in ("starting", "running"):
                return job.status
            if release:
                release_gpus(job.gpus if job else [], job_id)
            log = project_dir(name, root) / SUPERVISOR_LOG
            reason = _log_tail(log)
            raise LoragateError(
                f"The training supervisor exited at once (code {proc.returncode})" + (f": {reason}" if reason else "."),
                f"Read {log} for the whole story; run `loragate env` if it names a missing package.",
            )
        time.sleep(0.05)
    return "starting"


def _log_tail(path: Path, lines: int = 6, max_bytes: int = 4096) -> str:
    """The last lines the supervisor wrote, joined on one line (its own reason for stopping)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - max_bytes))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())
