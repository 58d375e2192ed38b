"""A VRAM request for a training plan, so Gate 2 and the OOM ladder estimate exactly what will run."""

from __future__ import annotations

from loragate.catalog.models import get_family
from loragate.plan.model import TrainingPlan
from loragate.vram.model import VramRequest


def request_from_plan(plan: TrainingPlan) -> VramRequest:
    """The hungriest sample of the plan: its resolution, its longest clip, its batch and memory options."""
    family = get_family(plan.model)
    frames = max([f for f in plan.dataset.target_frames if f >= 1], default=1) if family.video else 1
    precision = plan.memory.mixed_precision if plan.memory.mixed_precision in ("bf16", "fp16") else None
    return VramRequest(
        model=family.id,
        resolution=tuple(plan.dataset.resolution),
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
        cache_text_encoder_outputs=plan.memory.cache_text_encoder_outputs or family.trainer == "musubi",
        cache_latents=plan.memory.cache_latents or family.trainer == "musubi",
        train_text_encoder=family.trainer == "sdscripts" and not plan.memory.network_train_unet_only,
        gpu_gb=plan.gpu_gb,
    )
