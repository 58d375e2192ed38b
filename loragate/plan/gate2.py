"""Gate 2: the plan's own commands and dataset TOML pass the validator, and the VRAM estimate fits
the GPU with 20% to spare. The verdict goes into the gate ledger with the plan's fingerprint, and
config.md says why.

`generate_config` (new plan + files + check) is the engine of `loragate plan new` and the MCP
tool of the same name; `check_plan` re-runs the gate on a saved (possibly hand-edited) plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from loragate.atomic import atomic_write_json, atomic_write_text
from loragate.backends import get_backend
from loragate.core.errors import LoragateError
from loragate.core.findings import Finding, Verdict, block_reasons, count_by_severity
from loragate.gates.conclude import conclude, decide
from loragate.core.nextstep import step
from loragate.lightning.checks import choice_findings as lightning_choice_findings
from loragate.plan.dataset_spec import frames_findings
from loragate.plan.experimental import experimental_findings
from loragate.plan.fit import SAFETY_MARGIN
from loragate.plan.gpu import plan_gpu_gb
from loragate.core.plan import Command, TrainingPlan, plan_problem
from loragate.plan.new import new_plan
from loragate.plan.paths import DATASET_TOML
from loragate.plan.sampling import write_sample_prompts
from loragate.plan.render import render_config_md, render_train_sh
from loragate.plan.store import (
    HISTORY_DIR,
    archive_plan,
    load_project_plan,
    plan_path,
    save_plan,
)
from loragate.plan.trainer import trainer_findings
from loragate.progress import ProgressFn, or_silent
from loragate.vram.model import VramEstimate
from loragate.workspace import project_dir
from loragate.plan.results import Gate2Report, GenerateResult  # noqa: F401 - also imported from here

COMMANDS_FILE = "commands.json"
TRAIN_SH = "train.sh"
CONFIG_MD = "config.md"


def write_plan_files(plan: TrainingPlan) -> dict[str, str]:
    """Derive commands and the dataset TOML from the plan's fields and write every plan file."""
    backend = get_backend(plan.backend)
    toml_text = backend.dataset_toml(plan)
    plan.commands = backend.commands(plan)
    folder = project_dir(plan.name, create=True)
    files = {
        "plan.json": save_plan(plan),
        DATASET_TOML: folder / DATASET_TOML,
        COMMANDS_FILE: folder / COMMANDS_FILE,
        TRAIN_SH: folder / TRAIN_SH,
    }
    atomic_write_text(files[DATASET_TOML], toml_text)
    atomic_write_json(files[COMMANDS_FILE], [c.model_dump(mode="json") for c in plan.commands])
    atomic_write_text(files[TRAIN_SH], render_train_sh(plan))
    files[TRAIN_SH].chmod(0o755)
    samples = write_sample_prompts(plan)
    if samples is not None:
        files[samples.name] = samples
    return {name: str(path) for name, path in files.items()}


def _identity(plan: TrainingPlan) -> dict[str, str]:
    """What makes a plan another project rather than new settings: the model, trigger, type, dataset."""
    return {"model": plan.model, "trigger": plan.trigger, "type": plan.training_type, "dataset": plan.dataset.path}


def _existing(name: str) -> TrainingPlan | None:
    if not plan_path(name).is_file():
        return None
    try:
        return load_project_plan(name)
    except LoragateError:
        return None  # unreadable: still kept in the history before it is replaced


def register_plan(plan: TrainingPlan, replace: bool) -> tuple[str | None, str]:
    """Save a new plan as its project's plan.json. An existing plan is replaced only when `replace`
    is set, never while its training runs, and is kept in plan-history/ first. Returns where the
    old plan was kept and what changed, in words."""
    from loragate.runs.job import read_job
    from loragate.runs.launch import job_running

    name = plan.name
    old = _existing(name)
    changed = ""
    if plan_path(name).is_file():
        if old is not None:
            before, after = _identity(old), _identity(plan)
            changed = "; ".join(f"{k} {before[k]!r} -> {after[k]!r}" for k in before if before[k] != after[k])
        if not replace:
            what = f"{old.model}, trigger '{old.trigger}', {old.training_type}" if old else "unreadable"
            differs = f" The new one differs: {changed}." if changed else ""
            raise LoragateError(
                f"The project {name} already has a plan ({what}); making a new one would replace it.{differs}",
                f"To replace it, make the plan again with replace set (CLI: --replace; MCP: replace=true): the current "
                f"plan is kept in grimoire/training/{name}/{HISTORY_DIR}/. To keep both, choose another project name.")
        if job_running(read_job(name)):
            raise LoragateError(f"A training of {name} is running, so its plan cannot be replaced now.",
                                "Wait for it to finish, or stop it first.")
    previous = str(archive_plan(name)) if plan_path(name).is_file() else None
    save_plan(plan)
    return previous, changed


def generate_config(name: str, model: str, dataset: str | Path, trigger: str, *, replace: bool = False,
                    progress: ProgressFn | None = None, **options: Any) -> GenerateResult:
    """Make the plan for `name`, write its files and run Gate 2 on it.

    An existing plan is replaced only when `replace` is set; it is kept in plan-history/ first.
    """
    report = or_silent(progress)
    report(0, 2, "planning")
    try:
        plan = new_plan(name, model, dataset, trigger, **options)
    except ValidationError as exc:  # a value the plan's bounds refuse: said in words, nothing saved
        what, fix = plan_problem(exc)
        raise LoragateError(f"The plan for {name} cannot be made: {what}.", fix or "Check the values given.") from exc
    previous, changed = register_plan(plan, replace)
    report(1, 2, "writing the plan files and checking them (Gate 2)")
    gate = check_plan(name)
    report(2, 2, gate.verdict)
    return GenerateResult(plan=load_project_plan(name), files=gate.files, gate2=gate, previous_plan=previous,
                          replaced=changed or None)


def check_plan(name: str, progress: ProgressFn | None = None) -> Gate2Report:
    """Gate 2 on the saved plan: refresh its derived files, validate, estimate, record, explain."""
    report = or_silent(progress)
    plan = load_project_plan(name)
    if plan.name != name:
        raise LoragateError(
            f"plan.json in grimoire/training/{name}/ belongs to the project {plan.name!r}.",
            f"Set \"name\" back to {name!r} in the plan, or make the plan for {name} again.",
            step("generate_config", name=name),
        )
    findings: list[Finding] = []
    files: dict[str, str] = {}
    try:
        files = write_plan_files(plan)
    except LoragateError as exc:
        findings.append(Finding(code="PLAN_INCOMPLETE", severity="block", message=exc.message, fix=exc.fix or ""))
    toml_text = _read(project_dir(name) / DATASET_TOML)
    report(1, 3, "validating the commands")
    if files:
        findings += _validator_findings(plan, plan.commands, toml_text)
    findings += trainer_findings(plan)
    findings += frames_findings(plan.dataset)
    findings += lightning_choice_findings(plan)
    findings += experimental_findings(plan)
    report(2, 3, "estimating graphics memory")
    gpu_gb, gpu_source = plan_gpu_gb(plan.gpu_gb)
    runs = 2 if plan.experts_together and len([c for c in plan.commands if c.stage == "train"]) > 1 else 1
    vram, vram_findings = _vram(plan, gpu_gb, runs)
    findings += vram_findings
    findings, verdict = decide(findings)
    path = plan_path(name)
    result = Gate2Report(
        project=name,
        verdict=verdict,
        findings=findings,
        counts=count_by_severity(findings),
        vram=vram,
        gpu_gb=gpu_gb,
        gpu_source=gpu_source,
        runs_at_once=runs,
        summary=_summary(verdict, findings, vram, gpu_gb, runs),
        plan_path=str(path),
        config_path=str(project_dir(name) / CONFIG_MD),
        files={**files, CONFIG_MD: str(project_dir(name) / CONFIG_MD)},
    )
    conclude("config", name, result, {"plan": str(path)}, markdown=(CONFIG_MD, lambda r: render_config_md(plan, r, r.files)))
    report(3, 3, verdict)
    return result


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _validator_findings(plan: TrainingPlan, commands: list[Command], toml_text: str | None) -> list[Finding]:
    """The validator's findings on exactly what will run: the argv lists and the dataset TOML."""
    from loragate.validate import validate_commands

    tomls = {plan.dataset_toml: toml_text} if plan.dataset_toml and toml_text is not None else {}
    # Paths are not checked here: the weights may still be downloading, and a plan for a pod names
    # the pod's folders. Gate 3 checks the files on the machine that trains.
    return validate_commands([c.argv for c in commands], tomls, model=plan.model, check_paths=False).findings


def _vram(plan: TrainingPlan, gpu_gb: float | None, runs: int) -> tuple[VramEstimate | None, list[Finding]]:
    from loragate.vram import estimate_vram, request_from_plan

    try:
        request = request_from_plan(plan)
        if gpu_gb:
            request = request.model_copy(update={"gpu_gb": gpu_gb})
        estimate = estimate_vram(request)
    except LoragateError as exc:
        return None, [Finding(code="PLAN_VRAM_UNKNOWN", severity="block", message=exc.message, fix=exc.fix or "")]
    corrected = [_correction_finding(estimate)] if estimate.correction is not None else []
    if not gpu_gb:
        return estimate, corrected + [Finding(
            code="PLAN_GPU_UNKNOWN",
            severity="warn",
            message=f"No GPU size is known, so the {estimate.estimate_gb:.1f} GB estimate was not checked against a card.",
            fix="Add `gpu_gb: 24` (your card's memory) to grimoire/studio.md and check the plan again, or make the plan "
                "again with the card's memory.",
            evidence={"estimate_gb": estimate.estimate_gb},
            next=step("check_plan", name=plan.name),
        )]
    findings: list[Finding] = corrected
    need = estimate.estimate_gb * SAFETY_MARGIN
    if need > gpu_gb:
        steps = "; ".join(f"{s.change} ({s.estimate_gb:.1f} GB)" for s in estimate.fit_plan)
        if estimate.fit_plan and estimate.fit_plan[-1].fits:
            fix = (f"Cheapest changes that fit, in order: {steps}. Make the plan again with them (a smaller "
                   "resolution or shorter clips), or use a GPU with more memory.")
        else:
            tried = f" Even these are not enough: {steps}." if steps else ""
            fix = f"Use a GPU with more memory (or a smaller model of the family).{tried}"
        findings.append(Finding(
            code="PLAN_VRAM_TOO_BIG",
            severity="block",
            message=(f"This run needs about {estimate.estimate_gb:.1f} GB of graphics memory, {need:.1f} GB with "
                     f"Gate 2's 20% safety margin, but the card has {gpu_gb:g} GB. It would stop with 'CUDA out of memory'."),
            fix=fix,
            evidence={"estimate_gb": estimate.estimate_gb, "gpu_gb": gpu_gb, "fit_plan": [s.change for s in estimate.fit_plan],
                      "correction": estimate.correction.factor if estimate.correction else None},
        ))
    elif runs > 1 and need * runs > gpu_gb:
        findings.append(Finding(
            code="PLAN_EXPERTS_TOGETHER_TOO_BIG",
            severity="warn",
            message=(f"Each Wan 2.2 expert fits, but both at once need about {need * runs:.1f} GB with the margin, "
                     f"more than the {gpu_gb:g} GB card."),
            fix="Run them one after the other (re-plan with experts together off), or give each its own GPU.",
            evidence={"estimate_gb": estimate.estimate_gb, "gpu_gb": gpu_gb},
        ))
    return estimate, findings


def _correction_finding(estimate: VramEstimate) -> Finding:
    """Says that this machine's correction changed the memory numbers above, by how much and from where."""
    correction = estimate.correction
    assert correction is not None
    return Finding(
        code="PLAN_VRAM_CORRECTED",
        severity="info",
        message=(f"The memory estimate is {estimate.estimate_gb:.1f} GB after this machine's correction of "
                 f"x{correction.factor:.2f} (the estimate alone says {estimate.uncorrected_gb:.1f} GB), learned from "
                 f"{correction.samples} dry run(s) on this machine."),
        fix=f"Nothing to do. To judge with the estimate alone, move {correction.source} away and check the plan again.",
        evidence={"factor": correction.factor, "samples": correction.samples, "basis": correction.basis,
                  "source": correction.source, "uncorrected_gb": estimate.uncorrected_gb, "estimate_gb": estimate.estimate_gb},
    )


def _summary(verdict: Verdict, findings: list[Finding], vram: VramEstimate | None, gpu_gb: float | None, runs: int) -> str:
    blocks = [f for f in findings if f.severity == "block"]
    memory = ""
    if vram is not None and gpu_gb:
        memory = f" {vram.estimate_gb * runs:.1f} GB estimated against {gpu_gb:g} GB with a 20% margin."
    if verdict == "GO":
        warns = sum(1 for f in findings if f.severity == "warn")
        extra = f" {warns} warning(s) to read." if warns else ""
        return f"GO: the commands passed every check.{memory}{extra}".strip()
    return f"NO-GO: {len(blocks)} problem(s) must be fixed first: {block_reasons(blocks)}.{memory}".strip()

