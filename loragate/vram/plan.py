"""A plan as a VRAM request, and memory changes back onto a plan: Gate 2, the plan generator and the
OOM ladder estimate exactly what will run and change it the same way."""

from __future__ import annotations

from typing import cast

from loragate.backends.traits import traits
from loragate.catalog.models import get_family
from loragate.core.plan import TrainingPlan
from loragate.vram.changes import LEVERS
from loragate.vram.model import VramRequest


def request_from_plan(plan: TrainingPlan) -> VramRequest:
    """The hungriest sample of the plan: its resolution, its longest clip, its batch and memory options."""
    family = get_family(plan.model)
    trainer = traits(family.trainer)
    frames = max([f for f in plan.dataset.target_frames if f >= 1], default=1) if family.video else 1
    precision = plan.memory.mixed_precision if plan.memory.mixed_precision in ("bf16", "fp16") else None
    return VramRequest(
        model=family.id,
        resolution=(plan.dataset.resolution[0], plan.dataset.resolution[1]),
        frames=frames,
        batch=plan.schedule.batch_size,
        rank=plan.network.dim,
        optimizer=plan.optimizer.type,
        precision=precision,
        fp8_base=plan.memory.fp8_base,
        fp8_scaled=plan.memory.fp8_scaled,
        fp8_text_encoder=plan.memory.fp8_text_encoder,
        blocks_to_swap=plan.memory.blocks_to_swap,
        gradient_checkpointing=plan.memory.gradient_checkpointing,
        cache_text_encoder_outputs=plan.memory.cache_text_encoder_outputs or trainer.caches_in_steps,
        cache_latents=plan.memory.cache_latents or trainer.caches_in_steps,
        train_text_encoder=trainer.trains_text_encoder and not plan.memory.network_train_unet_only,
        gpu_gb=plan.gpu_gb,
        sampling=plan.sampling is not None,
    )


# Request field -> where the plan keeps it (the levers of loragate.vram.changes).
_MEMORY_FIELDS = ("fp8_base", "fp8_scaled", "fp8_text_encoder", "blocks_to_swap", "gradient_checkpointing")


def plan_levers(plan: TrainingPlan, *, frames: bool = True, resolution: bool = True) -> list[str]:
    """The memory levers this plan can turn. Block swap and musubi's --offload_inactive_dit exclude
    each other (musubi-tuner.md §5.13), so a plan that offloads keeps its swap at 0."""
    levers: list[str] = list(LEVERS)
    if plan.memory.offload_inactive_dit:
        levers.remove("block_swap")
    if plan.lightning is not None and plan.lightning.merged:
        # musubi merges --base_weights into the already-quantized weights, without --fp8_scaled's scale
        # (loragate.validate.rules.lightning): a merged expert keeps 16-bit weights and swaps blocks instead
        levers.remove("fp8_base")
    if not frames:
        levers.remove("frames")
    if not resolution:
        levers.remove("resolution")
    return levers


def apply_to_plan(plan: TrainingPlan, settings: dict[str, object]) -> TrainingPlan:
    """A copy of the plan with request settings (from a MemoryChange or a fit plan) applied to its fields."""
    changed = plan.model_copy(deep=True)
    for key, value in settings.items():
        if key == "batch":
            changed.schedule.batch_size = int(value)  # type: ignore[call-overload]
        elif key in _MEMORY_FIELDS:
            setattr(changed.memory, key, value)
        elif key == "frames":
            cap = int(value)  # type: ignore[call-overload]
            frames = changed.dataset.target_frames or [1]
            kept = sorted({f for f in frames if f <= cap})
            changed.dataset.target_frames = kept + [cap] if any(f > cap for f in frames) and cap not in kept else kept
        elif key == "resolution":
            side_a, side_b = cast("tuple[int, int]", value)
            changed.dataset.resolution = (int(side_a), int(side_b))
        else:
            raise ValueError(f"{key!r} is not a memory setting a plan can take")
    return changed
