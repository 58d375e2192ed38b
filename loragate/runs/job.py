"""`job.json`: what the supervisor started, and how it is going. Shared by launch, stop and monitor.

Lives at grimoire/training/NAME/job.json, next to train.log (or train-high.log / train-low.log
when both Wan 2.2 experts run at once). Written atomically by the supervisor on every change.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from loragate.atomic import atomic_write_json
from loragate.core.errors import LoragateError
from loragate.fsguard import read_json_object
from loragate.workspace import project_dir

JobStatus = Literal["starting", "running", "complete", "failed", "stopped"]
ProcessStatus = Literal["pending", "running", "succeeded", "failed", "stopped"]

JOB_FILE = "job.json"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class ProcessRecord(BaseModel):
    role: str = Field(description="cache_latents, cache_text_encoder, train, train-high, train-low.")
    expert: Literal["high", "low"] | None = None
    argv: list[str]
    cwd: str | None = None
    output: str | None = Field(default=None, description="The LoRA file the step writes when it ends (training steps).")
    logs: str | None = Field(default=None, description="The folder it writes TensorBoard logs to (training steps).")
    log: str = Field(description="Absolute path of this process's log.")
    pid: int | None = None
    status: ProcessStatus = "pending"
    exit_code: int | None = None
    gpu: int | None = Field(default=None, description="CUDA device index it runs on.")
    started_at: datetime | None = None
    ended_at: datetime | None = None


class JobEvent(BaseModel):
    at: datetime = Field(default_factory=utcnow)
    kind: str = Field(description="started, oom_retry, failed, completed, stopped, ...")
    message: str = Field(description="Plain words, shown in progress.md.")


class Job(BaseModel):
    job_id: str
    project: str
    status: JobStatus = "starting"
    supervisor_pid: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    output_dir: str
    output_names: list[str] = Field(default_factory=list)
    attempt: int = Field(default=1, description="1 for the first try; OOM retries count up to 4.")
    processes: list[ProcessRecord] = Field(default_factory=list)
    events: list[JobEvent] = Field(default_factory=list)
    cause: str | None = Field(default=None, description="Why it failed or stopped, in plain words.")
    plan_file: str | None = Field(default=None, description="The plan this job trains (plan.json, or an OOM-retry copy).")
    gpus: list[int] = Field(default_factory=list, description="GPU indices this job holds the lock of.")
    placement: str | None = Field(default=None, description="How the training runs were placed on the GPUs, in words.")
    oom_retries: int = Field(default=0, description="Out-of-memory retries so far (at most 3).")
    history: list[ProcessRecord] = Field(default_factory=list, description="Processes of earlier attempts.")


def job_path(project: str, root: Path | None = None) -> Path:
    return project_dir(project, root) / JOB_FILE


def read_job(project: str, root: Path | None = None) -> Job | None:
    path = job_path(project, root)
    if not path.exists():
        return None
    try:
        return Job.model_validate(read_json_object(path))
    except (OSError, ValueError) as exc:
        raise LoragateError(
            f"The job file {path} is damaged ({exc.__class__.__name__}).",
            "Check `ps` for a running trainer before starting another; then move the file aside.",
        ) from exc


def write_job(job: Job, root: Path | None = None) -> None:
    job.updated_at = utcnow()
    atomic_write_json(job_path(job.project, root), job)
