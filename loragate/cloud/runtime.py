"""How long a plan trains on a given card.

Measured first: Gate 4's seconds per step (both Wan 2.2 experts on the wall clock) on the card
Gate 3 saw, scaled to the target card by the speed table. Before a dry run, an estimate from the
work per step: 6 x parameters x tokens (forward, backward through the frozen weights, and the
recompute of gradient checkpointing, 2 each; Kaplan et al. 2020, "C = 6ND") plus attention
(12 x layers x tokens^2 x width; Narayanan et al. 2021), at 35% of the card's peak (below the 46%
PaLM reports for tuned large-batch training: LoRA runs are small-batch). Either way 30% is added
for model loading, caching and saves (resources/providers/provider-guide.md).
"""

from __future__ import annotations

import json
import math

from pydantic import BaseModel

from loragate.catalog.models import get_family
from loragate.cloud.prices import card, speed_ratio
from loragate.core.plan import TrainingPlan
from loragate.plan.new import _steps_per_epoch
from loragate.workspace import project_dir

OVERHEAD = 1.3
PEAK_SHARE = 0.35


class RunTime(BaseModel):
    steps: int
    seconds_per_step: float | None
    hours: float | None
    basis: str


def total_steps(plan: TrainingPlan) -> int:
    if plan.schedule.max_train_steps:
        return plan.schedule.max_train_steps
    return plan.schedule.max_train_epochs * _steps_per_epoch(plan.dataset, plan.schedule.batch_size)


def measured(project: str) -> tuple[float, str] | None:
    """(wall-clock seconds per step of every run, the card it was measured on) from Gates 3 and 4."""
    folder = project_dir(project)
    try:
        dry = json.loads((folder / "dry-run.json").read_text(encoding="utf-8"))
        env = json.loads((folder / "env.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    seconds = dry.get("wall_seconds_per_step") or dry.get("seconds_per_step")
    gpus = ((env.get("gpu") or {}).get("gpus")) or []
    if dry.get("verdict") != "GO" or not seconds or not gpus:
        return None
    return float(seconds), str(gpus[0].get("name"))


def estimated_seconds_per_step(plan: TrainingPlan, gpu: str) -> float | None:
    facts = card(gpu)
    if facts is None:
        return None
    from loragate.vram import estimate_vram, request_from_plan

    family = get_family(plan.model)
    tokens = estimate_vram(request_from_plan(plan), fit_plan=False).tokens
    batch = plan.schedule.batch_size
    flops = batch * (6 * family.params_b * 1e9 * tokens + 12 * family.layers * tokens**2 * family.hidden_size)
    runs = max(1, len(plan.experts))
    return runs * flops / (facts.tflops * 1e12 * PEAK_SHARE)


def run_time(plan: TrainingPlan, gpu: str, gpus: int = 1) -> RunTime:
    """Expected hours on `gpu` (Wan 2.2 experts on `gpus` cards side by side share the work)."""
    steps = total_steps(plan)
    seen = measured(plan.name)
    ratio = speed_ratio(seen[1], gpu) if seen else None
    if seen and ratio:
        per_step = seen[0] / ratio
        basis = f"dry run: {seen[0]:.2f} s/step on the {seen[1]}, scaled by the cards' speed ({ratio:.2f}x)"
    else:
        estimate = estimated_seconds_per_step(plan, gpu)
        if estimate is None:
            return RunTime(steps=steps, seconds_per_step=None, hours=None, basis=f"no speed known for the {gpu}")
        per_step = estimate
        basis = "estimate from the model's size and the card's speed (a dry run on the card measures it)"
    per_step /= max(1, min(gpus, len(plan.experts) or 1))
    hours = math.ceil(steps * per_step * OVERHEAD / 36) / 100
    return RunTime(steps=steps, seconds_per_step=round(per_step, 3), hours=hours, basis=basis)
