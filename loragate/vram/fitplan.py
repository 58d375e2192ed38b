"""The fit plan: the cheapest changes that bring a configuration under the GPU with the 20% margin.

Order of cost to the artist: a smaller batch (nothing lost), fp8 text encoder for caching, block
swap (slower, same result), fp8 weights (half the memory of the frozen model, slight detail loss),
gradient checkpointing (recompute, slower), then shorter clips and a lower resolution (the result
itself changes). After each change the block-swap count is re-chosen as the smallest that fits.
"""

from __future__ import annotations

from collections.abc import Callable

from loragate.catalog.models import ModelFamily, get_family
from loragate.vram.estimate import estimate_vram, fits
from loragate.vram.model import FitStep, VramRequest

_MAX_STEPS = 12


def plan_fit(req: VramRequest, *, use_correction: bool = True) -> list[FitStep]:
    """Cumulative steps, each with its new estimate; the last one fits unless nothing does."""
    if req.gpu_gb is None:
        return []
    family = get_family(req.model)
    gpu = req.gpu_gb

    def estimate(r: VramRequest):
        return estimate_vram(r, use_correction=use_correction, fit_plan=False)

    steps: list[FitStep] = []
    current = req

    def take(change: str, updated: VramRequest, why: str) -> bool:
        nonlocal current
        updated, why = _with_best_swap(family, updated, why, estimate, gpu)
        result = estimate(updated)
        changed = {k: v for k, v in updated.model_dump().items() if v != current.model_dump()[k]}
        current = updated
        steps.append(FitStep(change=change, settings=changed, estimate_gb=result.estimate_gb, fits=bool(result.fits), explanation=why))
        return bool(result.fits)

    if current.batch > 1:
        if take(f"batch {current.batch} -> 1", current.model_copy(update={"batch": 1}),
                f"Batch {current.batch} -> 1: the LoRA learns the same, one picture per step; a run takes somewhat longer."):
            return steps
    if not current.fp8_text_encoder and estimate(current).peak_phase == "text_encoder_caching":
        if take("fp8 text encoder", current.model_copy(update={"fp8_text_encoder": True}),
                "fp8 text encoder: the text encoder is read at half precision while captions are pre-computed. "
                "Captions are understood almost identically; training itself is unchanged."):
            return steps
    if family.block_swap_max and current.blocks_to_swap < family.block_swap_max:
        # _with_best_swap picks the count; a request already at the maximum skips this step
        if take("block swap", current, ""):
            return steps
    if not current.fp8_base:
        scaled = family.trainer == "musubi" and family.weights_precision in ("bf16", "fp16")
        update = {"fp8_base": True, "fp8_scaled": scaled}
        why = ("fp8 weights: the frozen model is stored in 8 bits instead of 16, halving its memory. "
               "A slight loss of fine detail is possible" + ("; --fp8_scaled keeps that loss small." if scaled else "."))
        if take("fp8 base" + (" + fp8 scaled" if scaled else ""), current.model_copy(update=update), why):
            return steps
    if not current.gradient_checkpointing:
        if take("gradient checkpointing", current.model_copy(update={"gradient_checkpointing": True}),
                "Gradient checkpointing: intermediate results are recomputed instead of kept. "
                "Same result, each step about a quarter slower."):
            return steps
    while len(steps) < _MAX_STEPS and family.video and current.frames > 5:
        frames = ((current.frames - 1) // 2) // 4 * 4 + 1
        if take(f"frames {current.frames} -> {frames}", current.model_copy(update={"frames": frames}),
                f"Clips of {frames} frames instead of {current.frames}: less memory; motion is learned over shorter spans."):
            return steps
    while len(steps) < _MAX_STEPS:
        smaller = _smaller_resolution(family, current.resolution)
        if smaller is None:
            break
        old = "x".join(map(str, current.resolution))
        new = "x".join(map(str, smaller))
        if take(f"resolution {old} -> {new}", current.model_copy(update={"resolution": smaller}),
                f"Resolution {new} instead of {old}: much less memory; fine detail is learned less sharply."):
            return steps
    return steps


def _with_best_swap(
    family: ModelFamily, req: VramRequest, why: str, estimate: Callable, gpu: float
) -> tuple[VramRequest, str]:
    """Set blocks_to_swap to the smallest count that fits (or the maximum when none does), and say so."""
    if not family.block_swap_max:
        return req, why
    chosen = family.block_swap_max
    for n in range(0, family.block_swap_max + 1):
        if fits(estimate(req.model_copy(update={"blocks_to_swap": n})).estimate_gb, gpu):
            chosen = n
            break
    if chosen == req.blocks_to_swap and why:
        return req, why
    updated = req.model_copy(update={"blocks_to_swap": chosen})
    host = estimate(updated).host_ram_gb
    if chosen == 0:
        swap_text = "No block swap needed any more: full speed."
    else:
        swap_text = (f"Block swap {chosen} of {family.layers} blocks: they wait in main memory and are copied in when "
                     f"needed. Same result, slower steps (the more blocks, the slower); needs about {host:.0f} GB of RAM.")
    return updated, (why + " " + swap_text).strip()


def _smaller_resolution(family: ModelFamily, resolution: tuple[int, int]) -> tuple[int, int] | None:
    """Three quarters of each side, on the trainer's bucket step (Wan 16 px, SD/FLUX 64 px); None below 256."""
    step = 16 if family.trainer == "musubi" else 64
    width, height = (max(step, int(side * 0.75) // step * step) for side in resolution)
    if min(width, height) < 256:
        return None
    return width, height
