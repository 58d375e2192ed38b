"""The fit plan: the cheapest changes that bring a configuration under the GPU with the 20% margin.

Each step is the first of `cheaper_changes` for whichever phase is the peak at that moment (for
Wan 1.3B that can be text-encoder caching, where a smaller batch saves nothing), so the order is
the one the OOM ladder uses. After a step that saves memory elsewhere, block swap is brought back
down to the fewest blocks that still fit: swapping costs speed for nothing once fp8 has made room.

The top layer: every step is judged on the pure estimate with the same machine correction on top
that the estimate being fitted carries, so the plan and the number it fixes agree.
"""

from __future__ import annotations

from collections.abc import Iterable

from loragate.catalog.models import ModelFamily, get_family
from loragate.vram.changes import cheaper_changes, swap_words
from loragate.vram.calibration import corrected_estimate
from loragate.vram.estimate import fits
from loragate.vram.model import Correction, FitStep, VramRequest

_MAX_STEPS = 12


def plan_fit(
    req: VramRequest, *, levers: Iterable[str] | None = None, correction: Correction | None = None
) -> list[FitStep]:
    """Cumulative steps, each with its new estimate; the last one fits unless nothing does."""
    if req.gpu_gb is None:
        return []
    family = get_family(req.model)
    gpu = req.gpu_gb
    allowed = list(levers) if levers is not None else None
    steps: list[FitStep] = []
    current = req
    while len(steps) < _MAX_STEPS:
        now = corrected_estimate(current, correction)
        if fits(now.estimate_gb, gpu):
            break
        options = cheaper_changes(current, now.peak_phase, target_gb=gpu, levers=allowed, correction=correction)
        if not options:
            break
        first = options[0]
        updated = current.model_copy(update=first.settings)
        explanation = first.explanation
        if first.lever != "block_swap":
            updated, note = _fewest_swapped(family, updated, gpu, correction)
            explanation = f"{explanation} {note}".strip()
        result = corrected_estimate(updated, correction)
        changed = {k: v for k, v in updated.model_dump().items() if v != current.model_dump()[k]}
        steps.append(FitStep(change=first.change, settings=changed, estimate_gb=result.estimate_gb,
                             fits=fits(result.estimate_gb, gpu), explanation=explanation, host_ram_gb=result.host_ram_gb))
        current = updated
    return steps


def _fewest_swapped(
    family: ModelFamily, req: VramRequest, gpu: float, correction: Correction | None
) -> tuple[VramRequest, str]:
    """Lower blocks_to_swap to the fewest that still fit (only when the whole configuration fits)."""
    if not req.blocks_to_swap:
        return req, ""
    for n in range(0, req.blocks_to_swap):
        candidate = req.model_copy(update={"blocks_to_swap": n})
        if fits(corrected_estimate(candidate, correction).estimate_gb, gpu):
            return candidate, ("That leaves room to swap fewer blocks. " + swap_words(family, n))
    return req, ""
