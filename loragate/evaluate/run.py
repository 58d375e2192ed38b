"""`evaluate(EvalRequest)`: the evaluation grid of a project's checkpoints, measured and recorded.

Rows are weights (0.0, the base model alone, first), columns the standard prompts with the
trigger plus the artist's own, one fixed seed per prompt. The weight-0 row does not depend on the
checkpoint, so it is generated once and shared. Results: a labelled grid PNG per checkpoint, the
checkpoints side by side, eval.json and a draft eval.md, and the verdict recorded as Gate 5
(evaluation) with the fingerprint of every LoRA file judged.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

from loragate.atomic import atomic_write_json
from loragate.backends.argv import python_of
from loragate.backends.generation import LIGHTNING_STEPS, CellSpec, generator_for, refusal, script_for, start_image
from loragate.catalog.models import ModelFamily, get_family
from loragate.core.errors import LoragateError
from loragate.evaluate import generate
from loragate.evaluate.comfyui import DEFAULT_URL, ComfyUI
from loragate.evaluate.cost import cost_text, estimate_cost
from loragate.evaluate.evalmd import write_eval_md
from loragate.evaluate.grids import draw_checkpoint, draw_comparison, outputs_of, slug
from loragate.evaluate.lora_keys import lora_key_findings
from loragate.evaluate.measure import (
    copies,
    strength_profile,
    takes_effect,
    training_signatures,
)
from loragate.evaluate.model import (
    EVAL_FILE,
    CheckpointMeasure,
    CheckpointRef,
    EngineName,
    EvalCell,
    EvalPrompt,
    EvalReport,
)
from loragate.evaluate.request import EvalRequest
from loragate.evaluate.prompts import sample_frames, sample_steps, standard_prompts
from loragate.evaluate.scores import add_scores, score_setup
from loragate.evaluate.select import choose_checkpoints
from loragate.evaluate.workflows import ModelNames, has_workflow, model_names
from loragate.core.findings import Finding, Verdict, verdict_of
from loragate.gates.evaluation import EVALUATION, HIGH_NOISE, LORA_PART, evaluation_subject
from loragate.gates.ledger import record_gate
from loragate.core.plan import TrainingPlan
from loragate.plan.store import load_project_plan
from loragate.progress import ProgressFn, or_silent
from loragate.studio import read_studio
from loragate.workspace import project_dir

RUNS_DIR = "eval-runs"
WAN22_NOTE = ("Wan 2.2: both experts' LoRAs are loaded as in real use (low-noise LoRA on the low-noise model, high-noise LoRA "
              "on the high-noise one), unlike the previews during training, which use the low-noise expert only.")


def _weights(values: list[float]) -> list[float]:
    # their bounds are EvalRequest's (loragate.evaluate.request)
    chosen = sorted({round(w, 3) for w in values if w != 0.0})
    if not chosen:
        raise LoragateError("Weight 0 alone shows the base model only: there is nothing to compare it with.", "Add the weights to try, e.g. --weight 0.5 --weight 1.0.")
    return [0.0] + chosen


def _check_expected(request: EvalRequest, plan: TrainingPlan) -> None:
    """A grid on another base model or with another trigger would judge a different LoRA use."""
    if request.model and get_family(request.model).id != plan.model:
        raise LoragateError(f"{plan.name} was trained on {plan.model}, not {request.model}.",
                            f"Evaluate it on the model it was trained on (--model {plan.model}).")
    if request.trigger and request.trigger.strip().lower() != plan.trigger.lower():
        raise LoragateError(f"{plan.name} was trained with the trigger '{plan.trigger}', not '{request.trigger}'.",
                            f"Use --trigger '{plan.trigger}'.")


def _local(url: str) -> bool:
    return (urlparse(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def _choose_engine(request: EvalRequest, plan: TrainingPlan, family: ModelFamily, url: str) -> tuple[EngineName, list[str]]:
    """ComfyUI when it answers and has workflows for the family (the path artists use), else the
    trainer's scripts when the trainer is here, else an export. An engine asked for by name is used
    or refused with the reason."""
    notes: list[str] = []
    client = ComfyUI(url)
    gen = generator_for(family)
    trainer_ok = bool(gen and plan.trainer_dir and (Path(plan.trainer_dir) / gen.script).is_file())
    if request.engine == "comfyui" and not has_workflow(family):
        raise LoragateError(f"loragate has no ComfyUI workflow for {family.display_name} yet.",
                            f"Use --engine scripts (the trainer's own {Path(script_for(family)).name}) or --engine export.")
    if request.engine == "comfyui" or (request.engine == "auto" and has_workflow(family) and client.reachable()):
        if request.engine == "comfyui" and not client.reachable():
            raise LoragateError(f"ComfyUI does not answer at {url}.", "Start ComfyUI, give --comfyui-url, or use --engine scripts / export.")
        return "comfyui", notes
    if request.engine == "scripts" or (request.engine == "auto" and trainer_ok):
        if not trainer_ok:
            script = script_for(family)  # with no generation command at all, this says so
            raise LoragateError(
                f"The trainer's {script} is not at {plan.trainer_dir}.",
                "Point the plan's trainer_dir at the trainer checkout, or use --engine comfyui / export.",
            )
        if request.engine == "auto":
            why = f"ComfyUI did not answer at {url}" if has_workflow(family) else f"loragate has no ComfyUI workflow for {family.display_name}"
            notes.append(f"{why}, so the trainer's own {Path(script_for(family)).name} made the pictures.")
        return "scripts", notes
    if request.engine == "auto":
        if has_workflow(family):
            notes.append(f"Neither ComfyUI ({url}) nor the trainer ({plan.trainer_dir}) is here: the workflows and commands were exported.")
        else:
            notes.append(f"loragate has no ComfyUI workflow for {family.display_name} and the trainer ({plan.trainer_dir}) is not here: "
                         "the trainer's commands were exported.")
    return "export", notes


def _check_scripts(plan: TrainingPlan, family: ModelFamily, notes: list[str]) -> None:
    """Refuse, before anything is spent, a LoRA the family's script cannot load or a starting
    picture it needs and the dataset lacks; say which starting picture is used."""
    why = refusal(plan, family)
    if why:
        raise LoragateError(f"The evaluation cannot draw this LoRA with the trainer's script: {why}",
                            "Judge it by the trainer's own samples (samples.png in the project folder), or load it in ComfyUI by hand.")
    start = start_image(plan, family)
    if start:
        notes.append(f"{family.display_name} starts every picture from {start} (the dataset's first starting picture), "
                     "so the grid shows what the LoRA does to that one picture.")


def _cells(
    refs: list[CheckpointRef], weights: list[float], prompts: list[EvalPrompt], plan: TrainingPlan, family: ModelFamily, steps: int,
) -> tuple[list[EvalCell], list[CellSpec]]:
    width, height = plan.dataset.resolution
    frames = sample_frames(plan, family)
    cells: list[EvalCell] = []
    specs: list[CellSpec] = []
    for n, ref in enumerate(refs):
        for weight in weights:
            if weight == 0.0 and n > 0:
                continue  # the base model alone: the same for every checkpoint
            for p, prompt in enumerate(prompts):
                cells.append(EvalCell(checkpoint=ref.label, weight=weight, prompt=prompt.label, seed=prompt.seed))
                specs.append(CellSpec(
                    prompt=prompt.text, seed=prompt.seed, weight=weight, width=width, height=height, steps=steps, frames=frames,
                    lora=ref.path or None, lora_high=ref.high_noise_path,
                    prefix=f"c{n}-w{weight:g}-p{p:02d}-{slug(prompt.label)}".replace(".", "_"),
                ))
    return cells, specs


def _no_effect(ref: CheckpointRef, plan: TrainingPlan, family: ModelFamily) -> Finding:
    causes = ["the LoRA's layers did not load into this model (a LoRA for another model, or a ComfyUI that logs 'lora key not loaded')"]
    if family.group == "wan":
        causes.append("the wrong Wan task or weights for this LoRA (musubi-tuner issues #416, #602)")
    causes.append(f"the run learned too little: alpha {plan.network.alpha:g} with rank {plan.network.dim} at learning rate "
                  f"{plan.optimizer.learning_rate:g}, or too few steps")
    causes.append("captions the trainer ignored (check the audit for DS_TRIGGER_MISSING and the caption extension)")
    return Finding(
        code="EVAL_NO_EFFECT", severity="block",
        message=f"{ref.label}: at weight 1.0 the pictures are the same as without the LoRA. Likely causes: " + "; ".join(causes) + ".",
        fix=f"Run `loragate diagnose {plan.name} --symptom \"LoRA has no effect\"` for the checks in order.",
        path=ref.path, evidence={"checkpoint": ref.label},
    )


def evaluate(request: EvalRequest, progress: ProgressFn | None = None) -> EvalReport:
    report_progress = or_silent(progress)
    project = request.project
    plan = load_project_plan(project)
    family = get_family(plan.model)
    if generator_for(family) is None and not has_workflow(family):
        raise LoragateError(
            f"The evaluation cannot draw {family.display_name} pictures: loragate has neither a ComfyUI workflow nor "
            "a generation command of its trainer for it (loragate/data/generation.toml).",
            "Judge the LoRA by the trainer's own samples (the progression sheet samples.png in the project folder), "
            "or load it in ComfyUI by hand.",
        )
    _check_expected(request, plan)
    studio = read_studio()
    url = request.comfyui_url or studio.comfyui_url or DEFAULT_URL
    weights = _weights(request.weights)
    refs = choose_checkpoints(project, plan, request.checkpoints)
    standard = standard_prompts(plan.training_type, plan.trigger, family, request.prompts, request.seeds, request.max_standard_prompts)
    findings: list[Finding] = []
    for ref in refs:
        for path in filter(None, {ref.path, ref.high_noise_path}):
            findings += [f.model_copy(update={"evidence": {**f.evidence, "checkpoint": ref.label}}) for f in lora_key_findings(Path(path), family)]
    scoring = score_setup(request.clip_model, request.references, python_of(plan))  # before anything is spent
    engine, notes = _choose_engine(request, plan, family, url)
    if engine != "comfyui":
        _check_scripts(plan, family, notes)
    if family.experts:
        notes.append(WAN22_NOTE)
    lightning = request.lightning or plan_lightning(plan)
    if lightning:
        source = "the plan's, the way you render" if not request.lightning else "as asked"
        notes.append(f"Lightning LoRAs ({source}) stacked beside yours, 4 steps at CFG 1 (loaded, never merged): " + ", ".join(lightning))
    # Lightning renders every cell in 4 steps unless the artist asks for a number.
    steps = request.steps or (LIGHTNING_STEPS if lightning else sample_steps(family))
    cells, specs = _cells(refs, weights, standard, plan, family, steps)
    price = request.price_per_hour if request.price_per_hour is not None else studio.gpu_price_per_hour
    cost = estimate_cost(project, family, len(specs), steps, studio.gpu, price, engine=engine)
    report = EvalReport(
        project=project, verdict=None, engine=engine, model=plan.model, training_type=plan.training_type, trigger=plan.trigger,
        checkpoints=refs, weights=weights, prompts=standard, cells=[], findings=findings, cost=cost, notes=notes,
        lightning=lightning,
    )
    run_dir = project_dir(project) / RUNS_DIR / (datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2))
    names = model_names(plan, lightning)
    if engine == "export" or request.estimate_only or any(f.severity == "block" for f in findings):
        if not request.estimate_only and engine != "export":  # layers that do not load: a verdict without pictures
            _record(report, refs, verdict_of(findings))
        if engine == "export":
            commands = generate.script_commands(plan, family, specs, run_dir / "outputs", lightning)
            report.exported = generate.export(family, names, specs, commands, run_dir)
            report.notes.append(f"Run the workflows in ComfyUI or `{run_dir / 'commands.sh'}` on the GPU machine: {cost_text(cost)}.")
        elif request.estimate_only:
            report.notes.append("Estimate only: " + cost_text(cost) + ". Run again without --estimate to generate.")
        return report

    out = run_dir / "cells"
    out.mkdir(parents=True, exist_ok=True)
    measured: list[float] = []

    def done(index: int, seconds: float) -> None:
        measured.append(seconds)
        report_progress(len(measured), len(specs), f"{cells[index].checkpoint}, weight {cells[index].weight:g}, {cells[index].prompt}")

    report_progress(0, len(specs), cost_text(cost))
    lock_local = engine == "scripts" or _local(url)
    results = _generate(engine, plan, family, names, specs, out, run_dir, url, lightning, done, lock_local)
    for index, result in results.items():
        if isinstance(result, Path):
            cells[index].output = str(result)
        else:
            cells[index].error = result
    report.cells = cells
    if measured:
        report.cost = estimate_cost(project, family, len(specs), steps, studio.gpu, price, measured_s=measured[0], engine=engine)
    errors = [c for c in cells if c.error]
    if errors:
        findings.append(Finding(code="EVAL_CELLS_FAILED", severity="warn", message=f"{len(errors)} of {len(cells)} pictures failed: {errors[0].error}.",
                                fix="Read the log in the evaluation folder, fix the cause and run again."))

    report_progress(len(specs), len(specs), "measuring")
    training = training_signatures(Path(plan.dataset.path), plan.dataset.caption_extension) if Path(plan.dataset.path).is_dir() else {}
    first = refs[0].label
    for n, ref in enumerate(refs):
        outputs = outputs_of(cells, ref, first)
        profile = strength_profile(outputs)
        matches, nearest = copies([p for (w, _), p in outputs.items() if w > 0], training)
        measure = CheckpointMeasure(checkpoint=ref.label, takes_effect=takes_effect(profile), strength_profile=profile, copies=matches,
                                    nearest_training_distance=nearest)
        measure.grid, measure.animations = draw_checkpoint(project, ref, weights, standard, outputs, run_dir, n, family)
        report.measures.append(measure)
        if profile and not measure.takes_effect:
            findings.append(_no_effect(ref, plan, family))
        if matches:
            findings.append(Finding(
                code="EVAL_COPIES", severity="block" if len(matches) * 2 >= len(outputs) - len(standard) else "warn",
                message=f"{ref.label}: {len(matches)} output(s) are near-copies of training pictures (e.g. {matches[0].training_file}).",
                fix="Use an earlier checkpoint; remove near-duplicates and add variety to the dataset; fewer steps next time.",
                evidence={"checkpoint": ref.label, "copies": len(matches)},
            ))
    if scoring is not None:
        failed = add_scores(report, specs, scoring, run_dir)
        findings += [failed] if failed else []
    report.comparison = draw_comparison(project, refs, weights, standard, cells, first, run_dir)
    report.findings = findings
    report.verdict = verdict_of(findings) if report.measures else None
    _record(report, refs, report.verdict or "NO-GO")
    atomic_write_json(run_dir / EVAL_FILE, report)
    return report


def _judged(refs: list[CheckpointRef]) -> dict[str, str]:
    """Checkpoint label -> LoRA file, for every file the evaluation judged (Wan 2.2's high-noise one too)."""
    files = {ref.label: ref.path for ref in refs if ref.path}
    files.update({ref.label + HIGH_NOISE: ref.high_noise_path for ref in refs if ref.high_noise_path})
    return files


def _record(report: EvalReport, refs: list[CheckpointRef], verdict: Verdict) -> None:
    """Gate 5's verdict with each LoRA file's fingerprint, then eval.json (holding the same
    fingerprints, so registering can tell it belongs to that verdict) and the draft eval.md."""
    files = {label: str(Path(path).resolve()) for label, path in _judged(refs).items()}
    usable = [m.checkpoint for m in report.measures
              if not any(f.severity == "block" and f.evidence.get("checkpoint") in (None, m.checkpoint) for f in report.findings)]
    summary = f"{len(report.cells)} pictures; usable: {', '.join(usable) or 'none'}"
    record = record_gate(report.project, EVALUATION, verdict, evaluation_subject(files), report.findings, summary)
    report.checkpoint_fingerprints = {path: record.parts[LORA_PART + label] for label, path in files.items()
                                      if record.parts.get(LORA_PART + label, "absent") != "absent"}
    folder = project_dir(report.project)
    report.eval_json = str(folder / EVAL_FILE)
    report.eval_md = str(write_eval_md(folder, report))
    atomic_write_json(folder / EVAL_FILE, report)


def plan_lightning(plan: TrainingPlan) -> list[str]:
    """The plan's Lightning files in the order the generators take them: low-noise, then high-noise."""
    spec = plan.lightning
    return [spec.low_noise, spec.high_noise] if spec is not None else []


def _generate(
    engine: EngineName, plan: TrainingPlan, family: ModelFamily, names: ModelNames, specs: list[CellSpec], out: Path, run_dir: Path,
    url: str, lightning: list[str], done: generate.Done, lock_local: bool,
) -> dict[int, Path | str]:
    """Generate under the GPU lock when the GPU is this machine's: never beside a training."""
    from loragate.runs.lock import gpu_lock
    from loragate.runs.process import trainer_env

    def work() -> dict[int, Path | str]:
        if engine == "comfyui":
            return generate.run_comfyui(ComfyUI(url), family, names, specs, out, done)
        commands = generate.script_commands(plan, family, specs, out, lightning)
        # the card the lock names, and no other, so a training on another card is never disturbed; a
        # console as wide as a training's, so the scripts' rich log keeps each message on one line
        return generate.run_scripts(commands, specs, run_dir / "generate.log", done, env=trainer_env(gpu=0))

    if not lock_local:
        return work()
    with gpu_lock([0], plan.name, "eval-" + secrets.token_hex(4), purpose="evaluation"):
        return work()
