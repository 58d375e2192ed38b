"""The plan's files for people: `train.sh` (the exact commands) and `config.md` (every value in plain
words, the memory estimate, and the Gate 2 decision with its reasons)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loragate.environment.trainer import trainer_facts
from loragate.core.findings import sort_findings
from loragate.plan.fit import SAFETY_MARGIN
from loragate.vram.estimate import fits
from loragate.core.plan import TrainingPlan
from loragate.plan.train_script import render_train_sh

if TYPE_CHECKING:
    from loragate.plan.gate2 import Gate2Report

__all__ = ["render_config_md", "render_train_sh"]


def _value_at(plan: TrainingPlan, key: str) -> str:
    """The plan's value at a dotted path, shown the way an artist reads it."""
    value: Any = plan
    for part in key.split("."):
        value = getattr(value, part, None) if not isinstance(value, dict) else value.get(part)
        if value is None:
            return "-"
    if key == "experts":
        return ", ".join(f"{e.expert} ({e.min_timestep}-{e.max_timestep})" for e in plan.experts)
    if key == "dataset.num_repeats" and plan.dataset.subsets:
        # what the dataset TOML says: each folder's own repeats (kohya N_name folders differ)
        return ", ".join(str(r) for r in sorted({s.num_repeats for s in plan.dataset.subsets}))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value) if key == "dataset.resolution" else ", ".join(str(v) for v in value)
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_config_md(plan: TrainingPlan, report: "Gate2Report | None" = None, files: dict[str, str] | None = None) -> str:
    trainer = trainer_facts(plan.backend).display_name
    sched, opt, net = plan.schedule, plan.optimizer, plan.network
    lines = [
        f"# Training config: {plan.name}",
        "",
        f"- **Backend**: {trainer}",
        f"- **Base model**: {plan.model}",
        f"- **Preset**: {plan.preset.capitalize()} ({plan.training_type})",
        f"- **Trigger word**: `{plan.trigger}`",
        f"- **Platform**: {plan.platform}",
        f"- **Key parameters**: lr={opt.learning_rate:g}, epochs={sched.max_train_epochs}, "
        f"batch={sched.batch_size}, rank={net.dim}, alpha={net.alpha:g}, optimizer={opt.type}",
        f"- **Dataset**: {plan.dataset.path} ({plan.dataset.image_count} images, {plan.dataset.video_count} clips)",
        f"- **Output**: {plan.output_dir}",
    ]
    if report is not None and report.vram is not None:
        gpu = f"{report.gpu_gb:g} GB, from {report.gpu_source}" if report.gpu_gb else "unknown"
        each = " per run" if report.runs_at_once > 1 else ""
        lines.append(f"- **Estimated VRAM**: {report.vram.estimate_gb:.1f} GB{each} (available: {gpu})")
    if files:
        lines.append(f"- **Files**: {', '.join(f'`{name}`' for name in sorted(files))}")
    lines += ["", "## Every setting, in plain words", "", "| setting | value | why |", "|---|---|---|"]
    for key, why in plan.explanations.items():
        lines.append(f"| {key} | {_cell(_value_at(plan, key))} | {_cell(why)} |")
    lines += ["", "## Commands", ""]
    for command in plan.commands:
        expert = f" ({command.expert}-noise expert)" if command.expert else ""
        lines.append(f"- **{command.stage.replace('_', ' ')}{expert}**: {command.description}")
    lines.append("")
    lines.append("The exact command lines are in `train.sh` (for reading) and `commands.json` (what loragate runs).")
    if report is not None:
        lines += ["", *_memory_section(report), "", *_decision_section(report)]
    return "\n".join(lines) + "\n"


def _memory_section(report: "Gate2Report") -> list[str]:
    out = ["## Graphics memory"]
    vram = report.vram
    if vram is None:
        return out + ["", "No estimate could be made; see the findings below."]
    out += ["", f"Peak estimate: **{vram.estimate_gb:.1f} GB** during {vram.peak_phase.replace('_', ' ')}; "
            f"main memory needed: about {vram.host_ram_gb:.0f} GB.", ""]
    if vram.correction is not None:
        out += [f"This machine's correction is applied: x{vram.correction.factor:.2f} from {vram.correction.samples} "
                f"dry run(s) recorded in `{vram.correction.source}`; the estimate alone is {vram.uncorrected_gb:.1f} GB.", ""]
    out += ["| part | GB |", "|---|---|"]
    out += [f"| {name.replace('_', ' ')} | {gb:.2f} |" for name, gb in vram.breakdown.items()]
    if report.gpu_gb:
        need = vram.estimate_gb * report.runs_at_once
        what = "both experts at once" if report.runs_at_once > 1 else "the run"
        verdict = "fits" if fits(need, report.gpu_gb) else "does not fit"
        out += ["", f"Gate 2 adds a 20% safety margin to the estimate: {what} needs {need:.1f} GB, "
                f"{need * SAFETY_MARGIN:.1f} GB with the margin, on a {report.gpu_gb:g} GB card, so it {verdict}."]
    if vram.fit_plan:
        enough = vram.fit_plan[-1].fits
        out += ["", "Cheapest changes that make it fit, in order:" if enough else
                "Changes that lower the memory, in order (even all of them do not make it fit):", ""]
        out += [f"1. **{step.change}** (about {step.estimate_gb:.1f} GB"
                + (f", {step.host_ram_gb:.0f} GB of RAM" if step.host_ram_gb is not None else "") + f"): {step.explanation}"
                for step in vram.fit_plan]
    return out


def _decision_section(report: "Gate2Report") -> list[str]:
    out = [f"## Gate 2 decision: {report.verdict}", "", report.summary]
    blocking = [f for f in report.findings if f.severity == "block"]
    if report.verdict == "NO-GO":
        out += ["", "### What to fix", ""]
        out += [f"- **{f.code}**: {f.message} Fix: {f.fix}" for f in sort_findings(blocking)]
    others = [f for f in report.findings if f.severity != "block"]
    if others:
        out += ["", "### Worth knowing", ""]
        out += [f"- {f.severity} **{f.code}**: {f.message}" + (f" {f.fix}" if f.fix else "") for f in sort_findings(others)]
    out += ["", f"Re-check after any change: `loragate plan check {report.project}`."]
    return out
