"""How a training is going: status with its cause, step, loss, ETA, anomalies, VRAM, checkpoints.

`monitor(project)` reads the job's logs (job.json, written by the supervisor) incrementally —
each poll parses only the bytes added since the last one, remembered in monitor-state.json — and
keeps progress.md and loss.png current in the project folder. `monitor(log=path)` does the same
for any trainer log, keeping its state, progress.md and plot in loragate's cache folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

from loragate.atomic import atomic_write_json
from loragate.core.errors import LoragateError
from loragate.fsguard import read_json_object
from loragate.progress import ProgressFn, or_silent
from loragate.runs.anomalies import Anomaly, loss_anomalies
from loragate.runs.job import Job, ProcessRecord, read_job, utcnow
from loragate.runs.logparse import LogFacts
from loragate.runs.logtail import TailState, poll_log, seconds_since
from loragate.runs.orphans import orphan_choices, orphan_groups, orphan_words
from loragate.runs.quiet import quiet_anomalies
from loragate.runs.retention import CheckpointList, list_checkpoints, project_checkpoints
from loragate.workspace import project_dir
from loragate.runs.results import MonitorReport, Status, StreamReport  # noqa: F401 - also imported from here


STATE_FILE = "monitor-state.json"
PROGRESS_FILE = "progress.md"
PLOT_FILE = "loss.png"
# Silence before the first step covers model loading and caching (a 14B DiT loads for minutes);
# after it, the limit scales with the measured time per step (saving and sampling pause output).
STALL_BEFORE_FIRST_STEP_S = 30 * 60
STALL_MIN_S = 10 * 60
STALL_STEPS = 20
# --log mode: silence after which a log no longer shows that its trainer is alive.
QUIET_BEFORE_FIRST_STEP_S = 2 * 60
QUIET_MIN_S = 60
QUIET_STEPS = 5

HOST_KILLED = (
    "The trainer was killed by the host (SIGKILL) with no Python error: the machine most likely ran out of "
    "system memory (RAM), e.g. while loading the model or with block swap.",
    "Use more block swap only if RAM allows, close other programs, or choose a machine with more RAM.",
)
SIGNAL_WORDS = {
    "Segmentation fault": "crashed (segmentation fault)",
    "Aborted": "aborted",
    "Bus error": "crashed (bus error)",
    "Illegal instruction": "crashed (illegal instruction)",
    "Terminated": "was terminated by a signal",
}


# ------------------------------------------------------------------------------ helpers
def _cache_dir() -> Path:
    return Path(os.environ.get("LORAGATE_CACHE_DIR") or Path.home() / ".cache" / "loragate").expanduser()


def log_state_dir(log: Path) -> Path:
    """Where `--log` mode keeps its state, progress.md and plot: one folder per log path."""
    digest = hashlib.sha1(str(log.resolve()).encode()).hexdigest()[:16]
    return _cache_dir() / "monitor" / digest


def _load_states(path: Path) -> dict[str, TailState]:
    try:
        raw = read_json_object(path)
        return {k: TailState.model_validate(v) for k, v in (raw.get("logs") or {}).items()}
    except (OSError, ValueError, AttributeError):
        return {}  # missing or damaged: parse from the start, which is always correct


def pid_alive(pid: int | None) -> bool | None:
    """Whether the process lives (a zombie has exited); None when there is no pid to ask about."""
    from loragate.runs.lock import pid_alive as alive

    return None if pid is None else alive(pid)


def process_vram_gb(pid: int | None) -> float | None:
    """GPU memory of the process tree now, through NVML; None without a GPU."""
    if pid is None:
        return None
    from loragate.runs.vram_sampler import VramSampler

    with VramSampler(pid, interval_s=3600) as sampler:
        used = sampler.sample_once()
    return round(used / 1e9, 2) if used else None


def _stage(role: str | None) -> str:
    if role and role.startswith("cache_"):
        return role
    return "train"


def _stall_limit(facts: LogFacts) -> float:
    if not facts.step or not facts.seconds_per_step:
        return STALL_BEFORE_FIRST_STEP_S
    return max(STALL_MIN_S, STALL_STEPS * facts.seconds_per_step)


def _quiet_limit(facts: LogFacts) -> float:
    if not facts.step or not facts.seconds_per_step:
        return QUIET_BEFORE_FIRST_STEP_S
    return max(QUIET_MIN_S, QUIET_STEPS * facts.seconds_per_step)


def _signal_words(line: str) -> tuple[str, str]:
    """Cause and fix for a trainer the shell reports dead from a signal (no Python traceback)."""
    if "Killed" in line:
        return HOST_KILLED[0] + f" The log ends with: {line.strip()[:160]}", HOST_KILLED[1]
    what = next((words for sig, words in SIGNAL_WORDS.items() if sig in line), "died from a signal")
    if what.startswith("was terminated"):
        return (f"The trainer {what} (someone or something stopped it); the log ends with: {line.strip()[:160]}",
                "Continue from the last checkpoint with `loragate continue NAME --from FILE` when ready.")
    return (f"The trainer {what} without a Python error: usually a broken PyTorch, bitsandbytes or CUDA library, "
            f"or the driver. The log ends with: {line.strip()[:160]}",
            "Run `loragate env` to check the trainer's environment, then the dry run again.")


def _failure_words(stage: str, exit_code: int | None, log: Path, argv: list[str], steps: int) -> tuple[str, str] | None:
    from loragate.runs.classify import classify_failure, read_tail

    failure = classify_failure(stage, exit_code, read_tail(log), argv, steps_completed=steps, prefix="RUN")
    return (failure.message, failure.fix) if failure else None


def _final_exists(facts: LogFacts, proc: ProcessRecord | None) -> bool:
    if proc is not None:
        from loragate.runs.checkpoint import final_checkpoint, safetensors_problem

        final = final_checkpoint(proc)
        if final is not None:
            return safetensors_problem(final) is None
    return facts.model_saved and bool(facts.saved) and Path(facts.saved[-1]).exists()


# ------------------------------------------------------------------------------ one stream
def _classify(
    facts: LogFacts, proc: ProcessRecord | None, alive: bool | None, idle: float | None, log: Path, anomalies: list[Anomaly],
    supervised: bool = False,
) -> tuple[Status, str | None, str | None]:
    stage = _stage(proc.role if proc else None)
    steps = facts.step or 0
    argv = proc.argv if proc else []
    nan = next((a for a in anomalies if a.code == "LOSS_NAN"), None)
    # A trainer that has just exited is gone before its supervisor (polling every POLL_S) has
    # collected and recorded its exit code; only when the supervisor is gone too is it lost.
    # An adopted trainer's end is recorded (succeeded/failed) without an exit code: that is ended too.
    ended = proc is not None and (proc.exit_code is not None or proc.status in ("succeeded", "failed")
                                  or (alive is False and not supervised))

    if proc is not None and proc.status == "stopped":
        return "FAILED", "The run was stopped on request.", (
            "Continue from one of its checkpoints with `loragate continue NAME --from FILE` (then the gates it names and "
            "`loragate launch NAME`), or start it over with `loragate launch NAME`.")
    if proc is not None and proc.exit_code is not None:
        if proc.exit_code == 0 and (stage != "train" or (steps > 0 and _final_exists(facts, proc))) and nan is None:
            return ("COMPLETE" if stage == "train" else "RUNNING"), None, None
        words = _failure_words(stage, proc.exit_code, log, argv, steps)
        if words is None and stage == "train":
            words = ("The trainer finished without error but no final .safetensors was written.",
                     "Check the output folder's free space and the end of the log, then launch again.")
        if proc.exit_code in (137, -9) and facts.oom is None:
            words = HOST_KILLED
        cause, fix = words or (f"The trainer exited with code {proc.exit_code}.", "Read the end of the log.")
        return "FAILED", cause, fix
    if nan is not None:
        return "FAILED", nan.message, "Stop it with `loragate stop NAME`, lower the learning rate or use bf16, and launch again."
    if facts.oom or facts.exception or facts.launcher_error:
        words = _failure_words(stage, 1, log, argv, steps)
        if words:
            return "FAILED", words[0], words[1]
        return "FAILED", f"The trainer stopped with an error: {facts.oom or facts.exception or facts.launcher_error}", "Read the end of the log."
    if facts.killed:
        return ("FAILED", *_signal_words(facts.killed))
    if facts.no_data:
        words = _failure_words(stage, 0, log, argv, 0)
        return "FAILED", (words or (facts.no_data, ""))[0], (words or ("", "Run `loragate audit` and the dry run again."))[1]
    if ended and stage == "train" and steps > 0 and nan is None and _final_exists(facts, proc):
        # Finished while nobody supervised it (the supervisor was killed): the LoRA is there.
        return "COMPLETE", None, None
    if facts.found_nothing and not steps:
        # musubi's caching exits 0 having cached nothing; its training would then find no items
        words = _failure_words("cache_latents" if stage == "train" else stage, 0, log, argv, 0)
        if words:
            return "FAILED", words[0], words[1]
    if ended:
        return "FAILED", ("The trainer process is gone without an exit code: the machine may have restarted, or the "
                          "supervisor was killed."), "Check `loragate gates NAME`, then launch again, continuing from a checkpoint."
    if proc is None and facts.model_saved:
        if _final_exists(facts, None):
            return "COMPLETE", None, None
        # A log read with --log is often one copied from the machine that trained (a pod): the
        # trainer said it saved the LoRA, so the run is complete, only the file is elsewhere.
        named = facts.saved[-1] if facts.saved else "the final .safetensors"
        return "COMPLETE", (f"The trainer finished and saved the LoRA ({named}), but that file is not on this machine: "
                            "the run probably finished on another machine, such as the pod that trained."), (
            "Download the LoRA from the machine that trained, or check the path if the run was here.")
    if proc is None and idle is not None and _quiet_limit(facts) < idle <= _stall_limit(facts):
        doing = f"after step {facts.step}" if facts.step else "before the first step (loading the model can take minutes)"
        return "UNKNOWN", (
            f"loragate can't see the trainer's process in --log mode, and the log has been silent for {idle / 60:.0f} min "
            f"{doing}. It may still be working, or it may have been killed without a word: the host's out-of-memory "
            "killer leaves nothing in the log."), (
            "Check that the trainer is still running (`nvidia-smi`, or `ps aux | grep train`). A training started "
            "with `loragate launch` is watched by name instead: `loragate monitor NAME`.")
    if idle is not None and idle > _stall_limit(facts):
        minutes = idle / 60
        where = f"after step {facts.step}" if facts.step else "before the first step"
        return "STALLED", (f"No new output for {minutes:.0f} minutes {where}; a step normally takes "
                           f"{facts.seconds_per_step or 0:.1f} s." if facts.step else
                           f"No new output for {minutes:.0f} minutes {where}."), (
            "If the process is still alive it is probably hung (a dead dataloader worker or a full disk): stop it with "
            "`loragate stop NAME` and continue from the last checkpoint.")
    return "RUNNING", None, None


def _stream(log: Path, state: TailState | None, proc: ProcessRecord | None, epochs: int | None, logging_dir: Path | None,
            supervised: bool = False) -> tuple[StreamReport, TailState]:
    polled = poll_log(log, state)
    facts = polled.state.facts
    points = list(facts.losses)
    tb_note = None
    if logging_dir is not None:
        from loragate.runs.tbevents import read_scalars

        scalars = read_scalars(logging_dir)
        tb_note = scalars.note or f"{sum(len(v) for v in scalars.series.values())} scalars from {len(scalars.files)} file(s)"
        if scalars.series.get("loss/current"):
            points = scalars.series["loss/current"]  # the raw per-step loss, better for trends
    anomalies = loss_anomalies(points, facts.total_steps)
    if facts.nan_at_step is not None and not any(a.code == "LOSS_NAN" for a in anomalies):
        anomalies = loss_anomalies([(facts.nan_at_step, float("nan"))])
    anomalies += quiet_anomalies(facts.quiet)
    alive = pid_alive(proc.pid) if proc is not None and proc.exit_code is None else (False if proc else None)
    idle = seconds_since(polled.state.mtime)
    status, cause, fix = _classify(facts, proc, alive, idle, log, anomalies, supervised)
    eta = None
    per_step = facts.seconds_per_step
    if status == "RUNNING" and per_step and facts.total_steps is not None and facts.step is not None:
        eta = round((facts.total_steps - facts.step) * per_step, 1)
    report = StreamReport(
        log=str(log), role=proc.role if proc else None, expert=proc.expert if proc else None, status=status,
        cause=cause, fix=fix, step=facts.step, total_steps=facts.total_steps, epoch=facts.epoch,
        total_epochs=facts.total_epochs or epochs, loss=facts.loss, rate=round(1 / per_step, 4) if per_step else None,
        seconds_per_step=round(per_step, 3) if per_step else None, eta_seconds=eta,
        elapsed_seconds=facts.elapsed_seconds, seconds_since_output=round(idle, 1) if idle is not None else None,
        stall_after_seconds=_stall_limit(facts), pid=proc.pid if proc else None, alive=alive,
        exit_code=proc.exit_code if proc else None, vram_gb=process_vram_gb(proc.pid) if alive and proc is not None else None,
        anomalies=anomalies, bytes_read=polled.bytes_read, log_reset=polled.reset, tensorboard=tb_note,
    )
    return report, polled.state


# ------------------------------------------------------------------------------ the job
def _processes_to_watch(job: Job) -> list[ProcessRecord]:
    """The training processes once one has started; before that, the caching step under way."""
    started = [p for p in job.processes if p.pid is not None or p.status != "pending" or Path(p.log).exists()]
    training = [p for p in started if p.role.startswith("train")]
    if training:
        return training
    return started[-1:]


def _combine(streams: list[StreamReport], job: Job | None) -> tuple[Status, str | None, str | None]:
    statuses = [s.status for s in streams]
    for wanted in ("FAILED", "STALLED", "UNKNOWN"):
        hit = next((s for s in streams if s.status == wanted), None)
        if hit is not None:
            stopped = job is not None and job.status == "stopped"  # a stop ends every expert, not one
            who = f"The {hit.expert}-noise expert: " if hit.expert and len(streams) > 1 and not stopped else ""
            cause = hit.cause
            if wanted == "FAILED" and job is not None and job.cause and hit.exit_code is not None:
                cause = job.cause
            return wanted, (who + cause) if cause else None, hit.fix
    if statuses and all(s == "COMPLETE" for s in statuses):
        noted = next((s for s in streams if s.cause), None)  # e.g. the LoRA is on the machine that trained
        return "COMPLETE", noted.cause if noted else None, noted.fix if noted else None
    if job is not None and job.status == "failed":
        return "FAILED", job.cause, None
    if job is not None and job.status == "stopped":
        return "FAILED", job.cause or "The run was stopped on request.", None
    return "RUNNING", None, None


def _nothing_started(job: Job | None, supervised: bool) -> tuple[Status, str | None, str | None]:
    """No trainer step has started yet: running if the supervisor is there to start one, else the
    launch died between writing job.json and the supervisor's start (it would read RUNNING forever)."""
    young = job is not None and job.supervisor_pid is None and (utcnow() - job.created_at).total_seconds() < 60
    if job is None or supervised or young or job.status not in ("starting", "running"):
        return _combine([], job) if job is not None and job.status in ("failed", "stopped") else ("RUNNING", None, None)
    return "FAILED", ("The launch stopped before training began: its supervisor is not running and no trainer step "
                      "was started, so nothing is training."), "Launch it again with `loragate launch NAME`."


def _logging_dir(proc: ProcessRecord | None) -> Path | None:
    if proc is None:
        return None
    from loragate.backends.argv import logs_of

    value = proc.logs or logs_of(proc.argv)  # jobs recorded before the folder was: the backend reads the command
    return Path(value) if value else None


def monitor(
    project: str | None = None,
    log: Path | None = None,
    epochs: int | None = None,
    progress: ProgressFn | None = None,
    root: Path | None = None,
    plot: bool = True,
) -> MonitorReport:
    """Poll a project's training (or one log file): status, cause, progress, anomalies, checkpoints.

    Writes progress.md, loss.png and the parser state; never touches the checkpoints.
    """
    report_progress = or_silent(progress)
    if (project is None) == (log is None):
        raise LoragateError("Give either a project name or a log file to monitor.", "e.g. `loragate monitor NAME` or `--log train.log`.")
    job: Job | None = None
    if project is not None:
        folder = project_dir(project, root)
        if not folder.is_dir():
            raise LoragateError(f"There is no project named {project!r}.", "Check the name under grimoire/training/.")
        job = read_job(project, root)
        if job is None:
            raise LoragateError(f"{project} has not been launched: there is no job.json.", f"Launch it with `loragate launch {project}`.")
        watch: list[tuple[Path, ProcessRecord | None]] = [(Path(p.log), p) for p in _processes_to_watch(job)]
        out_dir = folder
    else:
        assert log is not None
        log = Path(log).expanduser().resolve()
        if not log.is_file():
            what = "is a folder, not a file" if log.is_dir() else "does not exist"
            raise LoragateError(f"The log {log} {what}.", "Give the path of the trainer's log file.")
        watch = [(log, None)]
        out_dir = log_state_dir(log)

    state_path = out_dir / STATE_FILE
    states = _load_states(state_path)
    streams: list[StreamReport] = []
    new_states: dict[str, TailState] = {}
    supervised = job is not None and job.status in ("starting", "running") and pid_alive(job.supervisor_pid) is True
    for index, (path, proc) in enumerate(watch):
        report_progress(index, len(watch), f"reading {path.name}")
        stream, state = _stream(path, states.get(str(path)), proc, epochs, _logging_dir(proc), supervised)
        streams.append(stream)
        new_states[str(path)] = state
    report_progress(len(watch), len(watch), "done")

    if project is not None:
        for stream in streams:
            stream.cause, stream.fix = _named(stream.cause, project), _named(stream.fix, project)
    status, cause, fix = _combine(streams, job) if streams else _nothing_started(job, supervised)
    if status == "FAILED" and supervised and any(s.status == "FAILED" and not any(a.code == "LOSS_NAN" for a in s.anomalies)
                                                 for s in streams):
        # an error in the log while the supervisor lives: it retries what it can (out of memory,
        # missing caches) and otherwise records the failure in job.json within a poll or two
        status, cause, fix = "RUNNING", f"A step just ended with an error and the supervisor is deciding whether to retry: {cause}", None
    orphans = orphan_groups(job)
    supervision = None
    if job is not None and orphans:
        supervision = orphan_words(job, orphans)[0]
        if status == "RUNNING":
            cause, fix = orphan_words(job, orphans)
    cause, fix = _named(cause, project), _named(fix, project)
    listing = _checkpoints(project, root, new_states)
    single = streams[0] if len(streams) == 1 else None
    etas = [s.eta_seconds for s in streams if s.eta_seconds is not None]
    running_rates = [s.rate for s in streams if s.rate and s.status == "RUNNING"]
    eta = _job_eta(etas, streams, job) if status == "RUNNING" else None
    vrams = [s.vram_gb for s in streams if s.vram_gb is not None]
    anomalies = [a for s in streams for a in s.anomalies]
    if len(streams) > 1:
        anomalies = [Anomaly(code=a.code, message=f"{s.expert or s.role}: {a.message}") for s in streams for a in s.anomalies]
    result = MonitorReport(
        project=project, status=status, cause=cause, fix=fix,
        step=single.step if single else _sum(s.step for s in streams),
        total_steps=single.total_steps if single else _sum(s.total_steps for s in streams),
        epoch=single.epoch if single else _min(s.epoch for s in streams),
        total_epochs=single.total_epochs if single else _min(s.total_epochs for s in streams),
        loss=single.loss if single else None,
        eta_seconds=eta,
        rate=single.rate if single else (min(running_rates) if running_rates else None),
        vram_gb=round(sum(vrams), 2) if vrams else None,
        anomalies=anomalies, checkpoints=listing.checkpoints, prunable=listing.prunable,
        logs=[str(p) for p, _ in watch], streams=streams,
        events=[f"{e.at:%Y-%m-%d %H:%M} {e.message}" for e in job.events] if job else [],
        job_status=job.status if job else None, attempt=job.attempt if job else None, notes=_notes(job),
        bytes_read=sum(s.bytes_read for s in streams),
        supervised=supervised if job is not None else None, supervision=supervision,
        next_steps=orphan_choices(job) if job is not None and orphans else [],
    )
    from loragate.runs.progress_md import render_progress_md, write_loss_plot

    if project is not None and plot:
        from loragate.evaluate.samples import project_sample_sheet

        sheet = project_sample_sheet(project, root)
        result.samples_sheet, result.samples_note = sheet.sheet, sheet.note or None
    if plot:
        plot_path = write_loss_plot(out_dir / PLOT_FILE, new_states, states, final=status != "RUNNING")
        result.loss_plot = str(plot_path) if plot_path else None
    progress_path = out_dir / PROGRESS_FILE
    from loragate.atomic import atomic_write_text

    atomic_write_text(progress_path, render_progress_md(result))
    result.progress_md = str(progress_path)
    atomic_write_json(state_path, {"logs": {k: v.model_dump(mode="json") for k, v in new_states.items()}})
    return result


def _notes(job: Job | None) -> list[str]:
    """A plan that trains on the CPU says so beside every figure: its speed and memory mean nothing for a GPU."""
    if job is None or not job.plan_file:
        return []
    from loragate.backends.cpu import CPU_NOTE, is_cpu
    from loragate.core.plan import load_plan

    try:
        return [CPU_NOTE] if is_cpu(load_plan(Path(job.plan_file))) else []
    except (LoragateError, OSError, ValueError):
        return []


_NAME_SLOT = re.compile(r"(`loragate [a-z]+ )NAME\b")


def _named(text: str | None, project: str | None) -> str | None:
    """The project's own name in the commands a message suggests (`loragate stop NAME`)."""
    return _NAME_SLOT.sub(lambda m: m.group(1) + project, text) if text and project else text


def _job_eta(etas: list[float], streams: list[StreamReport], job: Job | None) -> float | None:
    """The slowest running stream's time left, plus, for Wan 2.2 experts trained one after the other,
    the experts not started yet (as long as the running one takes in all)."""
    if not etas:
        return None
    eta = max(etas)
    trains = [s for s in streams if (s.role or "train").startswith("train")]
    pending = len(job.output_names) - len(trains) if job is not None and len(job.output_names) > 1 and trains else 0
    current = next((s for s in trains if s.status == "RUNNING" and s.rate and s.total_steps), None)
    if pending > 0 and current is not None:
        eta += pending * current.total_steps / current.rate  # type: ignore[operator]
    return round(eta, 1)


def _sum(values) -> int | None:  # noqa: ANN001
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _min(values) -> int | None:  # noqa: ANN001
    known = [v for v in values if v is not None]
    return min(known) if known else None


def _checkpoints(project: str | None, root: Path | None, states: dict[str, TailState]) -> CheckpointList:
    if project is not None:
        return project_checkpoints(project, root)
    saved = [Path(p) for s in states.values() for p in s.facts.saved]
    if not saved:
        return CheckpointList()
    import re

    names = sorted({re.sub(r"-(?:\d{6}|step\d{8})$", "", p.stem) for p in saved})
    return list_checkpoints(saved[-1].parent, names)


def write_progress(project: str, root: Path | None = None) -> None:
    """Refresh progress.md (and the plot) of a project; the supervisor calls it on every change."""
    monitor(project, root=root)


def follow(
    project: str | None = None, log: Path | None = None, epochs: int | None = None, interval_s: float = 10.0,
    on_report=None,  # noqa: ANN001 - Callable[[MonitorReport], None]
) -> MonitorReport:
    """Poll until the run is COMPLETE, FAILED or STALLED; `on_report` sees every poll."""
    while True:
        report = monitor(project, log, epochs)
        if on_report is not None:
            on_report(report)
        if report.status not in ("RUNNING", "UNKNOWN"):  # an unknown log may speak again
            return report
        time.sleep(interval_s)
