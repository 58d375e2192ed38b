"""Gate 4, the dry run: the plan's real commands with a 2-5 step limit, into a scratch folder.

musubi: cache latents, cache text-encoder outputs, then each training run; sd-scripts: training.
The training runs are placed exactly as launch places them (loragate.runs.placement): the two
Wan 2.2 experts at the same time, on one GPU or on two, when the plan trains them together, so
their combined memory and their speed while sharing the machine are what gets measured.
Every step's log is kept under grimoire/training/NAME/dry-run/, its failure classified in plain
words, its peak VRAM measured through NVML and its seconds per step read from the log. The
measured peak is written beside Gate 2's estimate and fed back so later estimates on this machine
are corrected. GO when every training run completed at least 2 steps and nothing failed.
"""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path

from loragate.atomic import atomic_write_json, atomic_write_text
from loragate.backends import get_backend
from loragate.backends.cpu import CPU_NOTE, is_cpu
from loragate.core.errors import LoragateError
from loragate.core.findings import Finding, sort_findings, verdict_of
from loragate.core.nextstep import step
from loragate.gates.ledger import record_gate
from loragate.names import check_name
from loragate.core.plan import Command, TrainingPlan
from loragate.plan.store import load_project_plan, plan_path
from loragate.progress import ProgressFn, or_silent
from loragate.runs.classify import classify_failure, read_tail
from loragate.runs.fit import estimated_gb
from loragate.runs.lock import gpu_lock
from loragate.runs.placement import choose_gpus, plan_placement
from loragate.runs.process import StepRun, start_step
from loragate.runs.quiet import quiet_findings
from loragate.runs.richlog import log_lines
from loragate.runs.request import MIN_STEPS, dry_run_request
from loragate.runs.steps import read_step_progress
from loragate.runs.supervisor import log_name
from loragate.runs.vram_sampler import VramSampler
from loragate.workspace import project_dir
from loragate.runs.results import DryRunReport, DryRunStep  # noqa: F401 - also imported from here

SCRATCH = "dry-run"
# Per stage, in seconds: caching reads the whole dataset once; training loads the model first.
STAGE_TIMEOUT_S = {"cache_latents": 3600.0, "cache_text_encoder": 1800.0, "train": 1800.0}


def dry_run(
    name: str,
    steps: int = 5,
    progress: ProgressFn | None = None,
    timeouts: dict[str, float] | None = None,
    root: Path | None = None,
) -> DryRunReport:
    """Run the plan for a few steps and record Gate 4."""
    check_name(name)
    dry_run_request(name=name, steps=steps)  # the doors' bounds, for direct callers too
    report_progress = or_silent(progress)
    plan = load_project_plan(name, root)
    folder = project_dir(name, root)
    scratch = folder / SCRATCH
    if scratch.exists():
        shutil.rmtree(scratch)  # our own scratch folder from an earlier dry run, never the real output
    output_dir = scratch / "output"
    output_dir.mkdir(parents=True)
    commands = get_backend(plan.backend).commands(plan, max_train_steps=steps, output_dir=str(output_dir))
    limits = {**STAGE_TIMEOUT_S, **(timeouts or {})}
    done: list[DryRunStep] = []
    findings: list[Finding] = []
    job_id = "dry-run-" + secrets.token_urlsafe(6)
    nvml_errors: list[str] = []
    combined: list[float] = []
    gpus = choose_gpus(len(plan.experts), plan.experts_together)
    trains = [c for c in commands if c.stage == "train"]
    placement = plan_placement(plan, trains, gpus) if len(trains) > 1 else None
    # caching one step at a time on the first GPU, then the training runs in launch's waves
    waves: list[list[tuple[Command, int | None]]] = [[(c, gpus[0])] for c in commands if c.stage != "train"]
    waves += [[(trains[i], gpu) for i, gpu in wave] for wave in placement.waves] if placement else [[(c, gpus[0])] for c in trains]
    with gpu_lock(gpus, name, job_id, purpose="dry run") as notes:
        findings += [Finding(code="DRY_STALE_LOCK", severity="info", message=n) for n in notes]
        for wave in waves:
            what = " and ".join(c.stage.replace("_", " ") + (f" ({c.expert} noise)" if c.expert else "") for c, _ in wave)
            report_progress(len(done), len(commands), f"{what}{' at the same time' if len(wave) > 1 else ''}...")
            ran, failed, peak_together, nvml_error = _run_wave(wave, scratch, limits, plan)
            done += ran
            findings += [f for f in failed if f.message not in {g.message for g in findings}]
            if peak_together is not None:
                combined.append(peak_together)
            if nvml_error:
                nvml_errors.append(nvml_error)
            if any(f.severity == "block" for f in failed):
                break
        report_progress(len(commands), len(commands), "dry run finished")
    report = _report(name, plan, steps, scratch, done, findings, len(commands), nvml_error=next(iter(nvml_errors), None),
                     placement=placement.reason if placement else None, combined_peak=max(combined) if combined else None)
    _write_records(folder, report)
    _feed_back(plan, report)
    subject = {
        "dataset": plan.dataset.path,
        "caption_extension": plan.dataset.caption_extension,
        "plan": str(plan_path(name, root)),
        "machine": "local",
    }
    record_gate(name, 4, report.verdict, subject, report.findings, report.summary, root)
    return report


def _run_wave(
    wave: list[tuple[Command, int | None]], scratch: Path, limits: dict[str, float], plan: TrainingPlan
) -> tuple[list[DryRunStep], list[Finding], float | None, str | None]:
    """Start the commands of a wave at once and wait for all: (steps, findings, the peak of the
    runs together when there were several, an NVML error)."""
    together = len(wave) > 1
    runs: list[StepRun] = [
        start_step(command, scratch / log_name(command), gpu=gpu, timeout_s=limits.get(command.stage)) for command, gpu in wave
    ]
    both = VramSampler([run.pid for run in runs]).start() if together else None
    try:
        while any(run.poll() is None for run in runs):
            time.sleep(0.2)
    finally:
        peak_together = both.stop() if both is not None else None
    steps: list[DryRunStep] = []
    findings: list[Finding] = []
    shared_gpu = together and len({gpu for _, gpu in wave}) == 1
    for run, (command, gpu) in zip(runs, wave):
        code = run.wait()
        parsed = read_step_progress(run.log_path) if command.stage == "train" else None
        tail = read_tail(run.log_path)
        failure = classify_failure(
            command.stage, code, tail, command.argv, steps_completed=parsed.steps if parsed else 0,
            timed_out=run.timed_out, prefix="DRY", trainer_python=plan.trainer_python,
            caption_extension=plan.dataset.caption_extension,
        )
        findings += quiet_findings(log_lines(tail), "DRY", str(run.log_path))
        steps.append(DryRunStep(
            stage=command.stage, expert=command.expert, gpu=gpu, together=together, argv=command.argv, log=str(run.log_path),
            exit_code=code, seconds=run.seconds, timed_out=run.timed_out, steps_completed=parsed.steps if parsed else 0,
            seconds_per_step=parsed.seconds_per_step if parsed else None, peak_vram_gb=run.peak_vram_gb, ok=failure is None,
        ))
        if failure is None:
            continue
        if failure.is_cuda_oom and shared_gpu:
            findings.append(_shared_oom_finding(plan, command, gpu, str(run.log_path)))
        else:
            findings.append(failure.finding(path=str(run.log_path)))
    error = next((run.sampler.error for run in runs if run.sampler.error), None)
    return steps, findings, (round(peak_together / 1e9, 2) if peak_together else None), error


def _shared_oom_finding(plan: TrainingPlan, command: Command, gpu: int | None, log: str) -> Finding:
    """Two experts that fit one at a time can still run the card out of memory together."""
    return Finding(
        code="DRY_EXPERTS_OOM_TOGETHER",
        severity="block",
        message=(
            f"The two Wan 2.2 experts ran out of GPU memory training at the same time on GPU {gpu if gpu is not None else 0} "
            f"(the {command.expert}-noise expert stopped): the card cannot hold both models at once."
        ),
        fix=(
            "Train them one after the other: make the plan again with the experts one after the other (add the other "
            "options you chose before), then run the dry run again. Or train on a machine with two GPUs, so each expert "
            "has its own."
        ),
        path=log,
        evidence={"stage": command.stage, "expert": command.expert, "gpu": gpu},
        next=step("generate_config", name=plan.name, model=plan.model, dataset=plan.dataset.path, trigger=plan.trigger,
                  preset=plan.preset, experts_together=False, replace=True),
    )


def _report(name, plan, steps, scratch, done, findings, total_commands, nvml_error: str | None = None,  # noqa: ANN001
            placement: str | None = None, combined_peak: float | None = None) -> DryRunReport:
    trains = [s for s in done if s.stage == "train"]
    all_ran = len(done) == total_commands
    fewest = min((s.steps_completed for s in trains), default=0)
    if all_ran and not findings and fewest < MIN_STEPS:
        findings.append(Finding(
            code="DRY_TOO_FEW_STEPS", severity="block",
            message=f"The training completed only {fewest} step(s); the dry run needs at least {MIN_STEPS}.",
            fix="Read the training log in the dry-run folder for why it stopped early.",
        ))
    rates = [s.seconds_per_step for s in trains if s.seconds_per_step]
    peaks = [s.peak_vram_gb for s in done if s.peak_vram_gb is not None]
    peak = max(peaks) if peaks else None
    estimate = estimated_gb(plan)
    if peak is not None and estimate:
        ratio = peak / estimate
        if ratio > 1.15:
            findings.append(Finding(
                code="DRY_VRAM_ABOVE_ESTIMATE", severity="warn",
                message=f"The dry run used {peak:.1f} GB of GPU memory, more than the {estimate:.1f} GB estimated.",
                fix="Later estimates on this machine are corrected with this measurement; keep an eye on memory in long runs.",
                evidence={"measured_gb": peak, "estimated_gb": estimate},
            ))
    if is_cpu(plan):
        findings.append(Finding(
            code="DRY_CPU_RUN", severity="info", message=CPU_NOTE,
            fix="Run the dry run again on the GPU machine, with a plan made there, before trusting any memory or time figure.",
        ))
    elif peak is None:
        # Inside a container NVML often answers but lists no process of ours: its PIDs are the host's.
        why = (f"no NVIDIA driver visible to loragate: {nvml_error}" if nvml_error else
               "the NVIDIA driver listed none of the trainer's processes on the GPU, as happens inside containers")
        findings.append(Finding(
            code="DRY_VRAM_NOT_MEASURED", severity="info",
            message=f"GPU memory could not be measured ({why}).",
            fix="Nothing to do for the dry run; the estimate from Gate 2 stands.",
            evidence={"nvml_error": nvml_error},
        ))
    verdict = verdict_of(findings)
    rate = round(max(rates), 3) if rates else None
    wall = _wall_seconds_per_step(trains)
    if verdict == "GO" and len(trains) > 1:
        figures = "; ".join(_expert_figures(s) for s in trains)
        summary = f"Dry run passed with the experts placed as the training will run them ({placement or 'one after the other'}): {figures}" + \
            (f"; {combined_peak:.1f} GB at once" if combined_peak is not None else "") + ", no errors."
    elif verdict == "GO":
        summary = f"Dry run passed: model loaded, {fewest} step(s) completed" + (f" at {rate:.2f} s/step" if rate else "") + \
            (f", peak {peak:.1f} GB" if peak is not None else "") + ", no errors."
    else:
        first = next((f for f in findings if f.severity == "block"), None)
        summary = f"Dry run failed: {first.message if first else 'see the findings'}"
    caching = [s for s in done if s.stage != "train"]
    return DryRunReport(
        project=name, verdict=verdict, steps_requested=steps, steps_completed=fewest, seconds_per_step=rate, wall_seconds_per_step=wall,
        peak_vram_gb=peak, estimated_vram_gb=estimate, caching_done=bool(caching) and all(s.ok for s in caching),
        scratch_dir=str(scratch), steps=done, findings=sort_findings(findings), summary=summary,
        combined_peak_vram_gb=combined_peak, placement=placement,
    )


def _expert_figures(step: DryRunStep) -> str:
    return (f"{step.expert}-noise expert {step.steps_completed} step(s)"
            + (f" at {step.seconds_per_step:.2f} s/step" if step.seconds_per_step else "")
            + (f", peak {step.peak_vram_gb:.1f} GB" if step.peak_vram_gb is not None else ""))


def _wall_seconds_per_step(trains: list[DryRunStep]) -> float | None:
    """One step of every run on the wall clock: runs at the same time overlap, the others add up."""
    if not trains or any(s.seconds_per_step is None for s in trains):
        return None
    together = [s.seconds_per_step for s in trains if s.together and s.seconds_per_step is not None]
    alone = [s.seconds_per_step for s in trains if not s.together and s.seconds_per_step is not None]
    return round((max(together) if together else 0.0) + sum(alone), 3)


def _write_records(folder: Path, report: DryRunReport) -> None:
    atomic_write_json(folder / "dry-run.json", report)
    lines = [
        f"# Dry run: {report.project}",
        "",
        f"- **Verdict**: {report.verdict}",
        f"- **Steps completed**: {report.steps_completed} of {report.steps_requested}",
        f"- **Seconds per step**: {report.seconds_per_step if report.seconds_per_step is not None else 'not measured'}",
        f"- **Peak GPU memory (measured)**: {f'{report.peak_vram_gb:.1f} GB' if report.peak_vram_gb is not None else 'not measured'}",
        f"- **Estimated at Gate 2**: {f'{report.estimated_vram_gb:.1f} GB' if report.estimated_vram_gb else 'no estimate'}",
    ]
    if report.placement:
        lines += [
            f"- **Wan 2.2 experts**: {report.placement}",
            f"- **Both experts at once (measured)**: {f'{report.combined_peak_vram_gb:.1f} GB' if report.combined_peak_vram_gb is not None else 'not measured'}",
            f"- **Wall-clock seconds per step of both experts**: {report.wall_seconds_per_step if report.wall_seconds_per_step is not None else 'not measured'}",
        ]
    lines += [
        f"- **Scratch folder**: {report.scratch_dir}",
        "",
        report.summary,
        "",
        "| step | GPU | exit | time | steps | s/step | peak GB | log |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in report.steps:
        name = s.stage + (f" ({s.expert}{', at once' if s.together else ''})" if s.expert else "")
        lines.append(f"| {name} | {s.gpu if s.gpu is not None else '-'} | {s.exit_code} | {s.seconds:.1f} s | {s.steps_completed} | "
                     f"{s.seconds_per_step or '-'} | {s.peak_vram_gb if s.peak_vram_gb is not None else '-'} | {Path(s.log).name} |")
    if report.findings:
        lines += ["", "## Findings", ""]
        lines += [f"- **{f.code}** ({f.severity}): {f.message} {('Fix: ' + f.fix) if f.fix else ''}".rstrip() for f in report.findings]
    atomic_write_text(folder / "dry-run.md", "\n".join(lines) + "\n")


def _feed_back(plan, report: DryRunReport) -> None:  # noqa: ANN001
    """Tell the estimator what this machine really used, so later estimates are corrected."""
    train_peaks = [s.peak_vram_gb for s in report.steps if s.stage == "train" and s.peak_vram_gb is not None]
    if not train_peaks or report.verdict != "GO":
        return
    from loragate.vram import record_measurement, request_from_plan

    try:
        record_measurement(plan.model, request_from_plan(plan), max(train_peaks))
    except LoragateError:
        pass  # a model the estimator does not know has nothing to correct
