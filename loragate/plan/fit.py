"""Memory settings that fit the plan's GPU: start at full quality and give up as little as needed.

The VRAM estimator (loragate.vram) is the judge; this module only decides what to try, cheapest
first: a smaller batch, the text encoder in 8-bit while caching, 8-bit base weights, more blocks
swapped to main memory (slower, not worse), and last, when the artist left the clip lengths to
loragate, shorter clips. The resolution is never cut here; Gate 2 says so instead.
"""

from __future__ import annotations

from loragate.catalog.models import ModelFamily
from loragate.plan.model import TrainingPlan
from loragate.vram.model import VramRequest

# Gate 2 keeps 20% of the card free (the /train workflow's safety margin).
SAFETY_MARGIN = 1.2
# Longest clip to fall back to, in order (each 4n+1, musubi-tuner docs/dataset_config.md).
FRAME_CAPS = (41, 21, 9)


def request_for(plan: TrainingPlan) -> VramRequest:
    """The estimator's request for one training run of the plan."""
    from loragate.vram import request_from_plan

    request = request_from_plan(plan)
    if plan.memory.fp8_text_encoder and not request.fp8_text_encoder:
        request = request.model_copy(update={"fp8_text_encoder": True})
    return request


def estimate_gb(plan: TrainingPlan) -> float:
    from loragate.vram import estimate_vram

    return float(estimate_vram(request_for(plan), fit_plan=False).estimate_gb)


def fits(plan: TrainingPlan, gpu_gb: float, runs: int = 1) -> bool:
    return estimate_gb(plan) * runs * SAFETY_MARGIN <= gpu_gb


def _swap_steps(family: ModelFamily) -> list[int]:
    """Block-swap amounts to try, up to the model's maximum (musubi 39 / 29, FLUX 35)."""
    top = family.block_swap_max
    return sorted({n for n in (top // 4, top // 2, (3 * top) // 4, top) if n > 0}) if top > 0 else []


def _cap_frames(frames: list[int], cap: int) -> list[int]:
    kept = sorted({f for f in frames if f <= cap})
    return kept + [cap] if any(f > cap for f in frames) and cap not in kept else kept


def _steps(plan: TrainingPlan, family: ModelFamily, frames_chosen: bool) -> list[dict[str, object]]:
    """Cumulative changes, cheapest first; each entry holds the fields to set on the plan."""
    steps: list[dict[str, object]] = []
    if plan.schedule.batch_size > 1:
        steps.append({"batch": 1})
    if family.trainer == "musubi":
        # musubi-tuner docs/wan.md: --fp8_t5 "for systems with limited VRAM (less than ~16GB)".
        steps.append({"fp8_text_encoder": True})
    if family.params_b >= 5:  # the 12-16 B DiTs; the SD UNets fit without 8-bit weights
        # musubi-tuner docs/wan.md: fp16/bf16 files may be scaled to fp8 (--fp8_base --fp8_scaled); scaled
        # fp8 on Wan 2.1 is reported to shift colours, so 2.1 keeps plain --fp8_base.
        steps.append({"fp8_base": True, "fp8_scaled": family.trainer == "musubi" and bool(family.experts)})
    for swap in _swap_steps(family):
        steps.append({"blocks_to_swap": swap})
    if not frames_chosen and plan.dataset.target_frames:
        for cap in FRAME_CAPS:
            if max(plan.dataset.target_frames) > cap:
                steps.append({"frame_cap": cap})
    return steps


def _apply(plan: TrainingPlan, step: dict[str, object]) -> None:
    for key, value in step.items():
        if key == "batch":
            plan.schedule.batch_size = int(value)  # type: ignore[arg-type]
        elif key == "frame_cap":
            plan.dataset.target_frames = _cap_frames(plan.dataset.target_frames, int(value))  # type: ignore[arg-type]
        else:
            setattr(plan.memory, key, value)


def fit_memory(plan: TrainingPlan, family: ModelFamily, *, frames_chosen: bool = False,
               experts_together: bool | None = None) -> None:
    """Choose batch, memory options (and clip length, if not the artist's) for `plan.gpu_gb`, in place.

    With no GPU known the big models get 8-bit weights, which every card they train on needs; the
    rest is left at full quality and Gate 2 warns. When nothing fits, the most frugal settings stay
    and Gate 2 says NO-GO with the estimator's fit plan. Wan 2.2 experts run together when asked,
    or when the GPU holds both at once with the margin.
    """
    steps = _steps(plan, family, frames_chosen)
    if plan.gpu_gb is None:
        for step in steps:
            if "fp8_base" in step:
                _apply(plan, step)
        plan.experts_together = bool(experts_together) and len(plan.experts) > 1
        return
    for step in [{}, *steps]:
        _apply(plan, step)
        if fits(plan, plan.gpu_gb):
            break
    if len(plan.experts) > 1:
        plan.experts_together = experts_together if experts_together is not None else fits(plan, plan.gpu_gb, runs=2)
    else:
        plan.experts_together = False
