"""Which LoRA files to evaluate: early, middle and final by default, or the ones the artist names.

A Wan 2.2 run trained as two experts saves a file per expert and epoch; a checkpoint under test is
the pair of one epoch (low-noise file first), as it will be used.
"""

from __future__ import annotations

from pathlib import Path

from loragate.core.errors import LoragateError
from loragate.evaluate.model import CheckpointRef
from loragate.core.plan import TrainingPlan
from loragate.runs.retention import CheckpointInfo, project_checkpoints


def _expert_names(plan: TrainingPlan) -> tuple[str | None, str | None]:
    """(low-noise output name, high-noise output name) of a two-file Wan 2.2 run, else (None, None)."""
    names = {e.expert: e.output_name for e in plan.experts}
    return names.get("low"), names.get("high")


def _label(info: CheckpointInfo) -> str:
    if info.kind == "final":
        return "final"
    return f"epoch {info.epoch}" if info.epoch is not None else f"step {info.step}"


def _pair(plan: TrainingPlan, info: CheckpointInfo, listing: list[CheckpointInfo], role: str) -> CheckpointRef:
    low, high = _expert_names(plan)
    path: str | None
    if low is None and high is None:
        path, high_path = info.path, (info.path if plan.weights.dit_high_noise else None)
    else:
        def same(name: str | None) -> str | None:
            match = next((c for c in listing if c.lora == name and c.kind == info.kind and c.epoch == info.epoch and c.step == info.step), None)
            return match.path if match else None

        path, high_path = same(low), same(high)
        if path is None and high_path is None:
            path = info.path
    label = _label(info) + ("" if role in ("final", "chosen") else f" ({role})")
    return CheckpointRef(label=label, path=path or "", high_noise_path=high_path, epoch=info.epoch, role=role)  # type: ignore[arg-type]


def choose_checkpoints(project: str, plan: TrainingPlan, named: list[str] | None = None) -> list[CheckpointRef]:
    listing = project_checkpoints(project).checkpoints
    primary_name = _expert_names(plan)[0] or _expert_names(plan)[1] or plan.output_name
    primary = [c for c in listing if c.lora == primary_name]
    if named:
        refs = []
        for item in named:
            match = next((c for c in primary + listing if c.file == Path(item).name or c.path == item), None)
            if match is None and Path(item).is_file():
                refs.append(CheckpointRef(label=Path(item).stem, path=str(Path(item).resolve())))
                continue
            if match is None:
                known = ", ".join(c.file for c in primary) or "none yet"
                raise LoragateError(f"{item} is not a checkpoint of {project}.", f"Pick one of: {known}, or give the path of a LoRA file.")
            refs.append(_pair(plan, match, listing, "chosen"))
        return refs
    if not primary:
        raise LoragateError(
            f"{project} has no LoRA file yet (looked in {plan.output_dir}).",
            f"Wait for the run to save a checkpoint (`loragate monitor {project}`), or name a file with --checkpoint.",
        )
    ordered = [c for c in primary if c.kind != "final"] + [c for c in primary if c.kind == "final"]
    picks: dict[str, CheckpointInfo] = {"final": ordered[-1]}
    if len(ordered) >= 3:
        # a quarter and half of the run (eval-methodology.md), the final file last
        picks = {"early": ordered[(len(ordered) - 1) // 4], "middle": ordered[(len(ordered) - 1) // 2], **picks}
    elif len(ordered) == 2:
        picks = {"middle": ordered[0], **picks}
    seen: set[str] = set()
    refs = []
    for role, info in picks.items():
        if info.path in seen:
            continue
        seen.add(info.path)
        refs.append(_pair(plan, info, listing, role))
    return refs
