"""What the dry run (Gate 4), the supervised training and its monitor answer, apart from the engines that make the
answers: the MCP server builds its tools (their output schemas) from these without importing the
engines."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, Field

from loragate.core.findings import Finding, Verdict
from loragate.core.nextstep import NextStep
from loragate.runs.job import JobStatus


class DryRunStep(BaseModel):
    stage: str
    expert: str | None = None
    gpu: int | None = Field(default=None, description="The GPU it ran on (CUDA_VISIBLE_DEVICES), as launch will run it.")
    together: bool = Field(default=False, description="It trained at the same time as the other Wan 2.2 expert.")
    argv: list[str]
    log: str
    exit_code: int | None
    seconds: float
    timed_out: bool = False
    steps_completed: int = 0
    seconds_per_step: float | None = None
    peak_vram_gb: float | None = Field(default=None, description="Peak GPU memory of the process tree (NVML); None without a GPU.")
    ok: bool


class DryRunReport(BaseModel):
    project: str
    verdict: Verdict
    steps_requested: int
    steps_completed: int = Field(description="The fewest steps any training run completed.")
    seconds_per_step: float | None = Field(
        description="The slowest training run's seconds per step, measured with the runs placed as launch places them."
    )
    wall_seconds_per_step: float | None = Field(
        default=None,
        description="Wall-clock seconds for one step of every training run: the slowest run's when the Wan 2.2 experts "
        "train at the same time, the sum when they train one after the other.",
    )
    peak_vram_gb: float | None = Field(description="Highest measured peak of any one step (one run); None when no GPU could be measured.")
    combined_peak_vram_gb: float | None = Field(
        default=None,
        description="Peak of the training runs that ran at the same time, summed (on one GPU: what the card held with both "
        "experts loaded); None when they ran one after the other or nothing was measured.",
    )
    estimated_vram_gb: float | None = Field(description="Gate 2's estimate for one training run, for comparison.")
    placement: str | None = Field(default=None, description="How the Wan 2.2 experts were placed, the same way launch will place them.")
    caching_done: bool = Field(default=False, description="musubi's caches were written by this dry run.")
    scratch_dir: str
    steps: list[DryRunStep]
    findings: list[Finding]
    summary: str


class LaunchResult(BaseModel):
    project: str
    job_id: str = Field(description="Opaque handle of this training; job.json holds it.")
    status: JobStatus
    supervisor_pid: int
    gpus: list[int]
    job_file: str
    logs: list[str] = Field(description="Where the trainer writes; `loragate monitor NAME` reads them.")
    notes: list[str] = Field(default_factory=list)
    message: str


class AdoptResult(BaseModel):
    project: str
    job_id: str
    status: JobStatus
    supervisor_pid: int = Field(description="The new supervisor's process.")
    groups: list[int] = Field(description="The trainers' process groups it took over.")
    message: str


class ContinueResult(BaseModel):
    project: str
    checkpoint: str
    expert: str | None = Field(default=None, description="The Wan 2.2 expert the checkpoint belongs to, if any.")
    learning_rate: float
    epochs: int | None
    output_name: str = Field(description="The continuation writes under this new name, so the earlier LoRA is kept.")
    plan_file: str
    previous_plan: str = Field(description="A copy of the plan before this change.")
    gates_to_rerun: list[NextStep] = Field(description="The gates to run again before launching, in order.")
    message: str


class StopResult(BaseModel):
    project: str
    job_id: str | None
    status: JobStatus | None
    stopped: bool
    message: str


class Anomaly(BaseModel):
    code: str
    message: str


class CheckpointInfo(BaseModel):
    file: str
    path: str
    lora: str = Field(default="", description="The output name it belongs to (each Wan 2.2 expert has its own).")
    kind: Literal["epoch", "step", "final"]
    epoch: int | None = None
    step: int | None = None
    size_bytes: int
    modified_at: datetime
    pinned: bool = False
    keep: bool = Field(description="False for an older intermediate checkpoint that a prune would remove.")


# UNKNOWN only in --log mode: loragate did not start the trainer, cannot see its process, and the
# log has gone quiet for longer than a step takes, so it cannot tell running from dead.
Status = Literal["RUNNING", "COMPLETE", "FAILED", "STALLED", "UNKNOWN"]


class StreamReport(BaseModel):
    """One trainer log: a single run, or one Wan 2.2 expert."""

    log: str
    role: str | None = None
    expert: Literal["high", "low"] | None = None
    status: Status
    cause: str | None = None
    fix: str | None = None
    step: int | None = None
    total_steps: int | None = None
    epoch: int | None = None
    total_epochs: int | None = None
    loss: float | None = Field(default=None, description="Latest avr_loss (moving average the trainer prints).")
    rate: float | None = Field(default=None, description="Steps per second.")
    seconds_per_step: float | None = None
    eta_seconds: float | None = None
    elapsed_seconds: float | None = None
    seconds_since_output: float | None = None
    stall_after_seconds: float | None = None
    pid: int | None = None
    alive: bool | None = None
    exit_code: int | None = None
    vram_gb: float | None = None
    anomalies: list[Anomaly] = Field(default_factory=list)
    bytes_read: int = Field(default=0, description="Log bytes parsed by this poll.")
    log_reset: str | None = Field(default=None, description="Why the log was re-read from the start, if it was.")
    tensorboard: str | None = Field(default=None, description="What was read from TensorBoard event files.")


class MonitorReport(BaseModel):
    project: str | None = None
    status: Status
    cause: str | None = Field(default=None, description="Why it failed or stalled, in plain words.")
    fix: str | None = None
    step: int | None = None
    total_steps: int | None = None
    epoch: int | None = None
    total_epochs: int | None = None
    loss: float | None = Field(default=None, description="Latest avr_loss; None with two Wan 2.2 experts, each has its own in `streams`.")
    eta_seconds: float | None = Field(
        default=None, description="Time left: the slower expert's when two train at once, plus the experts still to start."
    )
    rate: float | None = Field(default=None, description="Steps per second; with two experts at once, the slower one's.")
    vram_gb: float | None = None
    anomalies: list[Anomaly] = Field(default_factory=list)
    checkpoints: list[CheckpointInfo] = Field(default_factory=list)
    prunable: list[str] = Field(default_factory=list, description="Older checkpoints `loragate checkpoints NAME --prune` removes.")
    logs: list[str] = Field(default_factory=list)
    streams: list[StreamReport] = Field(default_factory=list, description="Per log; two for Wan 2.2 experts run at once.")
    events: list[str] = Field(default_factory=list, description="The job's events (OOM retries, ...), oldest first.")
    notes: list[str] = Field(default_factory=list, description="What the figures mean for this run (e.g. it trains on the CPU).")
    job_status: str | None = None
    attempt: int | None = None
    progress_md: str | None = None
    loss_plot: str | None = None
    samples_sheet: str | None = Field(default=None, description="The trainer's samples so far: rows = checkpoints, columns = prompts.")
    samples_note: str | None = Field(default=None, description="What the samples can and cannot show (Wan 2.2: one expert).")
    bytes_read: int = 0
    supervised: bool | None = Field(default=None, description="Whether loragate's supervisor is watching the run (None in --log mode).")
    supervision: str | None = Field(default=None, description="Set when the trainer runs on without its supervisor: what that means.")
    next_steps: list[NextStep] = Field(default_factory=list, description=(
        "Operations to offer the artist: for a trainer running without its supervisor, adopt_run or stop."))
    checked_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
