"""The OOM ladder: the next cheapest change to a plan that ran out of GPU memory while training.

Gate 2's fit plan (loragate.vram.fitplan) answers a planning question: which changes bring the
hungriest phase under a known GPU size, and it may jump straight to the end (batch 1, the most
block swap). A run that has just run out of memory needs one step at a time, aimed at the
training phase, that leaves the result as close to the gated plan as possible; this ladder takes
the fit plan's order and moves one notch per retry.

Order (the skill's launch workflow, then the memory levers of each trainer): halve the batch;
swap more blocks to the CPU (musubi `--blocks_to_swap`, max 39 for 14B / 29 for 1.3B, musubi-tuner
docs/wan.md; FLUX max 35, sd-scripts docs/flux_train_network.md); load the base model in fp8
(`--fp8_base`, with `--fp8_scaled` on musubi); gradient checkpointing; fewer frames per clip
(musubi target_frames must stay 4n+1, docs/dataset_config.md). Each change says in plain words
what it costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from loragate.plan.model import TrainingPlan


@dataclass
class LadderChange:
    plan: TrainingPlan
    description: str
    recache: bool = False  # the change alters what the caches hold (frames, resolution)


BLOCK_SWAP_STEP = 10


def _swap_max(plan: TrainingPlan) -> int:
    try:
        from loragate.catalog.models import get_family

        return int(get_family(plan.model).block_swap_max)
    except Exception:  # noqa: BLE001 - an unknown family simply has no block swap
        return 0


def _halve_batch(plan: TrainingPlan) -> LadderChange | None:
    batch = plan.schedule.batch_size
    if batch <= 1:
        return None
    new = max(1, batch // 2)
    changed = plan.model_copy(deep=True)
    changed.schedule.batch_size = new
    return LadderChange(changed, f"the batch size halved from {batch} to {new} (same images, more, smaller steps)")


def _more_swap(plan: TrainingPlan) -> LadderChange | None:
    limit = _swap_max(plan)
    current = plan.memory.blocks_to_swap
    if limit <= 0 or current >= limit or plan.memory.offload_inactive_dit:
        return None
    new = min(limit, current + BLOCK_SWAP_STEP)
    changed = plan.model_copy(deep=True)
    changed.memory.blocks_to_swap = new
    return LadderChange(changed, f"{new} model blocks kept in main memory instead of {current} (slower steps, more RAM used)")


def _fp8(plan: TrainingPlan) -> LadderChange | None:
    if plan.memory.fp8_base:
        return None
    changed = plan.model_copy(deep=True)
    changed.memory.fp8_base = True
    if plan.backend == "musubi":
        changed.memory.fp8_scaled = True  # musubi-tuner.md §5.14: plain fp8_base spikes VRAM at load
    return LadderChange(changed, "the base model loaded in fp8 (half the memory for its weights, a small loss of precision)")


def _checkpointing(plan: TrainingPlan) -> LadderChange | None:
    if plan.memory.gradient_checkpointing:
        return None
    changed = plan.model_copy(deep=True)
    changed.memory.gradient_checkpointing = True
    return LadderChange(changed, "gradient checkpointing turned on (less memory, about a third slower)")


def _fewer_frames(plan: TrainingPlan) -> LadderChange | None:
    frames = sorted(set(plan.dataset.target_frames))
    if not frames or max(frames) <= 1:
        return None
    top = max(frames)
    lower = ((top - 1) // 2 // 4) * 4 + 1  # about half, kept at 4n+1
    if lower >= top or lower < 1:
        return None
    new_frames = sorted({min(f, lower) for f in frames})
    changed = plan.model_copy(deep=True)
    changed.dataset.target_frames = new_frames
    return LadderChange(changed, f"clips cut to at most {lower} frames instead of {top} (shorter motion per sample; caches rebuilt)", recache=True)


LADDER: list[Callable[[TrainingPlan], LadderChange | None]] = [_halve_batch, _more_swap, _fp8, _checkpointing, _fewer_frames]


def next_oom_change(plan: TrainingPlan, retries_done: int = 0) -> LadderChange | None:  # noqa: ARG001
    """The first change of the ladder that still applies to this plan, or None when none is left."""
    for step in LADDER:
        change = step(plan)
        if change is not None:
            return change
    return None


def estimated_gb(plan: TrainingPlan) -> float | None:
    """Gate 2's estimate of one training run's peak GPU memory (its training phase), or None."""
    try:
        from loragate.vram import estimate_vram, request_from_plan

        estimate = estimate_vram(request_from_plan(plan), fit_plan=False)
    except Exception:  # noqa: BLE001 - no estimate is a normal answer (unknown model, odd plan)
        return None
    return float(estimate.phases.get("training", estimate.estimate_gb))
