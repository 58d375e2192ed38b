"""Gate 3's result (`EnvReport`) and its record for people, `environment.md`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from loragate.environment.gpu import GpuSection
from loragate.environment.probe import ProbeResult
from loragate.environment.resources import ResourcesSection
from loragate.environment.trainer_check import TrainerSection
from loragate.environment.weights import WeightsSection
from loragate.core.findings import (
    Finding,
    Verdict,
    block_reasons,
    count_by_severity,
    sort_findings,
)


class EnvReport(BaseModel):
    project: str | None = Field(default=None, description="The plan checked against, when one was given.")
    backend: str
    model: str | None = None
    verdict: Verdict
    summary: str
    findings: list[Finding]
    counts: dict[str, int]
    gpu: GpuSection
    torch: ProbeResult | None = Field(default=None, description="What the trainer's Python reported: torch, packages, accelerate.")
    trainer: TrainerSection
    weights: WeightsSection | None = None
    resources: ResourcesSection
    checked_at: datetime
    seconds: float
    machine_fingerprint: str | None = Field(default=None, description="Fingerprint recorded with the Gate 3 verdict.")
    written: list[str] = Field(default_factory=list, description="Files written to the project folder.")


def summarize(findings: list[Finding], gpu: GpuSection) -> str:
    counts = count_by_severity(findings)
    card = f"{gpu.gpus[0].name}, driver {gpu.driver_version} (CUDA {gpu.cuda_driver_version})" if gpu.available and gpu.gpus else "no GPU"
    if counts["block"]:
        return f"NO-GO on {card}: {block_reasons(findings)}."
    return f"GO on {card}: {counts['warn']} warning(s)."


def _row(label: str, value: object) -> str:
    return f"| {label} | {value if value not in (None, '') else '-'} |"


def render_markdown(report: EnvReport) -> str:
    lines = [f"# Environment — {report.project or report.backend}", ""]
    lines += [f"**Gate 3: {report.verdict}** — {report.summary}", "", f"Checked {report.checked_at:%Y-%m-%d %H:%M UTC} in {report.seconds:.1f} s.", ""]
    lines += ["## GPU", "", "| | |", "|---|---|"]
    gpu = report.gpu
    if gpu.available:
        lines.append(_row("driver", f"{gpu.driver_version} (supports CUDA {gpu.cuda_driver_version})"))
        for card in gpu.gpus:
            cc = f"{card.compute_capability[0]}.{card.compute_capability[1]}" if card.compute_capability else "?"
            others = ", ".join(f"{p.name or p.pid} {p.used_gb or '?'} GB" for p in card.processes) or "none"
            lines.append(_row(f"GPU {card.index}", f"{card.name}, {card.memory_total_gb:.0f} GB ({card.memory_free_gb:.1f} free), compute {cc}, other programs: {others}"))
    else:
        lines.append(_row("GPU", f"none ({gpu.reason})"))
    trainer = report.trainer
    lines += ["", "## Trainer", "", "| | |", "|---|---|"]
    lines.append(_row(trainer.name, f"{trainer.path} (found via {trainer.source})" if trainer.path else "not found"))
    lines.append(_row("version", " ".join(x for x in (trainer.version, f"commit {trainer.commit[:12]}" if trainer.commit else None, f"on {trainer.branch}" if trainer.branch else None) if x)))
    lines.append(_row("Python", f"{trainer.python} ({trainer.python_source}) {trainer.python_version or ''}"))
    probe = report.torch
    if probe is not None and probe.ran:
        t = probe.torch
        lines.append(_row("PyTorch", f"{t.version} CUDA {t.cuda_build}, GPU usable: {t.cuda_available}, cuDNN {t.cudnn_version}" if t.installed else f"not importable ({t.error})"))
        if t.arch_list:
            lines.append(_row("compiled for", ", ".join(t.arch_list)))
    elif probe is not None:
        lines.append(_row("PyTorch", f"unknown: {probe.error}"))
    lines.append(_row("accelerate", f"{trainer.accelerate}; config {trainer.accelerate_config or 'none saved'}"))
    if trainer.dependencies:
        lines += ["", "| package | wanted | installed | imports |", "|---|---|---|---|"]
        for dep in trainer.dependencies:
            imports = "-" if dep.imports is None else ("yes" if dep.imports else f"no: {dep.error}")
            lines.append(f"| {dep.name} | {dep.spec or 'any'} ({dep.why}) | {dep.installed or 'missing'} | {imports} |")
    if report.weights is not None:
        lines += ["", "## Weights", "", "| role | file | state | what the header says |", "|---|---|---|---|"]
        for wf in report.weights.files:
            ins = wf.inspection
            said = (
                f"{ins.kind}, {ins.dtype}" + (f", dim {ins.dim}, in {ins.in_dim}, {ins.layers} blocks" if ins.dim else "") + (", image cross-attention" if ins.image_cross_attention else "")
                if ins
                else (wf.problem or "")
            )
            lines.append(f"| {wf.role} | {wf.path or '-'} | {wf.status}{f' {wf.size_gb} GB' if wf.size_gb is not None else ''} | {said} |")
    res = report.resources
    lines += ["", "## Resources", "", "| | |", "|---|---|"]
    for check in res.disk:
        lines.append(_row(f"disk {check.filesystem}", f"{check.free_gb:.1f} GB free, needs {check.need_gb:.1f} GB"))
    if res.ram_available_gb is not None:
        lines.append(_row("RAM", f"{res.ram_available_gb:.0f} GB available of {res.ram_total_gb or 0:.0f} GB" + (f", needs {res.ram_need_gb:.0f} GB" if res.ram_need_gb else "")))
    for tok in res.tokenizers:
        lines.append(_row(f"tokenizer {tok.repo}/{tok.subfolder}".rstrip("/"), "cached" if tok.cached else "NOT cached"))
    lines.append(_row("Hugging Face cache", f"{res.hf_cache}{' (offline)' if res.hf_offline else ''}"))
    lines += ["", "## Findings", ""]
    if not report.findings:
        lines.append("None.")
    for f in sort_findings(report.findings):
        lines.append(f"- **{f.severity}** `{f.code}` {f.message}" + (f" — *Fix:* {f.fix}" if f.fix else ""))
    return "\n".join(lines) + "\n"
