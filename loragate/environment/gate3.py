"""Gate 3: can this machine run the plan's training? GPU, driver, PyTorch, trainer, weights, room.

The trainer's interpreter is probed in a subprocess while this process reads NVML, the weight
headers and the disks, so the whole check costs about one probe. Re-running is safe: the only
state is `environment.md` / `env.json` (written atomically) and the Gate 3 record in the ledger.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from loragate.backends.cpu import CPU_NOTE, is_cpu
from loragate.catalog.models import ModelFamily, get_family
from loragate.environment import compat, resources, trainer, trainer_check, weights
from loragate.environment import gpu as gpu_mod
from loragate.environment.judged import judged_subject
from loragate.environment.probe import ProbeResult, run_probe
from loragate.environment.report import EnvReport, render_markdown, summarize
from loragate.environment.trainer import venv_python
from loragate.core.errors import LoragateError
from loragate.core.findings import Finding, count_by_severity
from loragate.lightning.checks import file_findings as lightning_file_findings
from loragate.gates.conclude import conclude, decide
from loragate.gates.ledger import GateRecord
from loragate.names import check_name
from loragate.core.nextstep import step
from loragate.core.plan import TrainingPlan
from loragate.plan.store import load_project_plan, plan_path
from loragate.progress import ProgressFn, or_silent
from loragate.workspace import project_dir

# What still matters about PyTorch when the plan trains on the CPU: that it imports, and is new enough.
CPU_TORCH_CHECKS = ("ENV_TORCH_MISSING", "ENV_TORCH_TOO_OLD")

ENV_MD = "environment.md"
ENV_JSON = "env.json"
GIB = 1024**3
VRAM_MARGIN = 1.2  # the same 20% margin Gate 2 asks of a fit (loragate.vram.estimate.fits)


def _load_plan(name: str) -> TrainingPlan:
    return load_project_plan(check_name(name))


def _gpu_need_gib(plan: TrainingPlan | None, gpus: int = 1) -> float | None:
    """GPU memory the plan needs on the first card with Gate 2's margin, in GiB as NVML counts a
    card. Wan 2.2 experts trained together share it unless a second card takes one of them (as
    `launch` places them: loragate.runs.placement.choose_gpus)."""
    if plan is None:
        return None
    runs = resources.runs_at_once(plan)
    per_card = runs if gpus < runs else 1
    try:
        from loragate.vram import estimate_vram
        from loragate.vram.plan import request_from_plan

        estimate = estimate_vram(request_from_plan(plan), fit_plan=False)
    except LoragateError:
        return None
    return round(per_card * estimate.estimate_gb * 1e9 * VRAM_MARGIN / GIB, 1)


def _resources(plan: TrainingPlan | None, family: ModelFamily | None, facts: trainer.TrainerFacts) -> resources.ResourcesSection:
    section = resources.ResourcesSection(hf_cache=str(resources.hf_hub_cache()), hf_offline=resources.hf_offline())
    section.ram_available_gb, section.ram_total_gb = resources.read_meminfo()
    if plan is not None and family is not None:
        section.disk = resources.check_disk(resources.disk_needs(plan, family))
        need = resources.ram_need(plan, family)
        if need is not None:
            section.ram_need_gb, section.ram_reason = need
    section.tokenizers = resources.check_tokenizers(resources.needed_tokenizers(facts.tokenizers, plan, family))
    return section


def check_environment(plan_name: str | None = None, backend: str | None = None, progress: ProgressFn | None = None) -> EnvReport:
    """Gate 3 for a plan (recorded in its ledger) or, without one, for a trainer backend."""
    report_progress = or_silent(progress)
    started = time.monotonic()
    if plan_name is None and backend is None:
        raise LoragateError("Say what to check the machine for.", "Name the project's plan, or a trainer backend (musubi or sdscripts).")
    plan = _load_plan(plan_name) if plan_name else None
    if plan is not None and backend is not None and backend != plan.backend:
        raise LoragateError(
            f"The plan {plan.name} trains with {plan.backend}, not {backend}.",
            f"Check the machine for the plan alone, or for the {backend} backend without a plan.",
            step("validate_env", plan=plan.name)
        )
    backend = plan.backend if plan else backend
    assert backend is not None
    facts = trainer.trainer_facts(backend)
    findings: list[Finding] = []
    family: ModelFamily | None = None
    if plan is not None:
        try:
            family = get_family(plan.model)
        except LoragateError as exc:
            findings.append(Finding(code="ENV_PLAN_MODEL_UNKNOWN", severity="block", message=exc.message, fix=exc.fix or ""))

    report_progress(0, 5, "finding the trainer")
    location = trainer.locate_trainer(backend, plan.trainer_dir if plan else None)
    python, python_source = trainer.find_trainer_python(location.path, plan.trainer_python if plan else None)
    request = trainer_check.probe_request(facts, location.path, plan)
    with ThreadPoolExecutor(max_workers=1) as pool:
        probe_future = pool.submit(run_probe, python, request, Path(location.path) if location.path else None)
        report_progress(1, 5, "reading the GPU")
        gpu = gpu_mod.read_gpus()
        report_progress(2, 5, "reading weight headers")
        weights_section = weights.read_weights(plan, family) if plan is not None else None
        report_progress(3, 5, "measuring disk, RAM and caches")
        resources_section = _resources(plan, family, facts)
        report_progress(4, 5, "asking the trainer's Python")
        probe: ProbeResult = probe_future.result()

    section = trainer_check.build_section(facts, location, python, python_source, probe, plan)
    on_cpu = plan is not None and is_cpu(plan)
    if on_cpu:
        findings.append(Finding(code="ENV_CPU_RUN", severity="info", message=CPU_NOTE,
                                fix="Run Gate 3 again on the GPU machine, with a plan made without LORAGATE_CPU_TRAINING."))
    else:
        findings += gpu_mod.gpu_findings(gpu, _gpu_need_gib(plan, len(gpu.gpus)))
    # No checkout and nobody named the trainer's Python: the interpreter found (often loragate's own)
    # is not the trainer's, so what it holds is not judged; the fix installs the trainer instead.
    missing = location.path is None and (python_source in trainer.GUESSED_PYTHON or not probe.ran)
    capability = gpu.gpus[0].compute_capability if gpu.gpus else None
    new_torch = compat.recommend_torch("venv/bin/python", capability, gpu.cuda_driver_version, facts.min_torch) \
        if missing else None
    findings += trainer_check.trainer_findings(section, facts, probe, plan, new_torch.command if new_torch else None)
    if probe.ran and not missing:
        torch_found = compat.torch_findings(gpu, probe, python, facts.min_torch, facts.display_name, plan.memory.mixed_precision if plan else None)
        findings += [f for f in torch_found if not (on_cpu and f.code not in CPU_TORCH_CHECKS)]
        fix = compat.recommend_torch(python, gpu.gpus[0].compute_capability if gpu.gpus else None, gpu.cuda_driver_version, facts.min_torch, probe.torch.version)
        findings += compat.torchvision_findings(probe, python, fix)
    if plan is not None and weights_section is not None:
        findings += weights.weights_findings(plan, family, weights_section)
    if plan is not None and family is not None:
        findings += lightning_file_findings(plan, family)
    findings += resources.disk_findings(resources_section.disk)
    findings += resources.ram_findings(resources_section)
    fix_python = venv_python((plan.trainer_dir if plan else None) or trainer.default_checkout(facts)) if missing else python
    findings += resources.tokenizer_findings(resources_section, fix_python)

    findings, verdict = decide(findings)
    report = EnvReport(
        project=plan.name if plan else None,
        backend=backend,
        model=plan.model if plan else None,
        verdict=verdict,
        summary=summarize(findings, gpu),
        findings=findings,
        counts=count_by_severity(findings),
        gpu=gpu,
        torch=probe,
        trainer=section,
        weights=weights_section,
        resources=resources_section,
        checked_at=datetime.now(timezone.utc),
        seconds=0.0,
    )
    report.seconds = round(time.monotonic() - started, 2)
    if plan is not None:
        _record(plan.name, report)
    report_progress(5, 5, f"Gate 3 {verdict}")
    return report


def _record(project: str, report: EnvReport) -> None:
    """The Gate 3 verdict in the ledger, then environment.md and env.json beside the plan."""
    folder = project_dir(project, create=True)
    report.written = [str(folder / ENV_MD), str(folder / ENV_JSON)]
    # the machine and the plan facts read from it: weights, disk and memory needs, trainer setup
    subject = {"machine": "local", **judged_subject(str(plan_path(project)))}

    def keep(record: GateRecord) -> None:
        report.machine_fingerprint = record.fingerprint

    conclude("environment", project, report, subject, markdown=(ENV_MD, render_markdown), json_file=ENV_JSON, on_record=keep)
