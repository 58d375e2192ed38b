"""Memory settings that fit the plan's GPU: start at full quality and give up as little as needed.

The VRAM estimator (loragate.vram) is the judge; this module only decides what to try, cheapest
first (see `_settings`). The resolution is never cut here, and clip lengths only when loragate
chose them; when nothing fits, Gate 2 says so with the estimator's fit plan.
"""

from __future__ import annotations

from loragate.catalog.models import ModelFamily
from loragate.plan.model import MemorySpec, TrainingPlan

# Gate 2 keeps 20% of the card free (the /train workflow's safety margin).
SAFETY_MARGIN = 1.2
# Longest clip to fall back to, in order (each 4n+1, musubi-tuner docs/dataset_config.md).
FRAME_CAPS = (73, 65, 57, 49, 41, 33, 25, 17, 9, 5)


def estimate_gb(plan: TrainingPlan) -> float:
    from loragate.vram import estimate_vram, request_from_plan

    return float(estimate_vram(request_from_plan(plan), fit_plan=False).estimate_gb)


def fits(plan: TrainingPlan, gpu_gb: float, runs: int = 1) -> bool:
    return estimate_gb(plan) * runs * SAFETY_MARGIN <= gpu_gb


def _swap_steps(family: ModelFamily) -> list[int]:
    """Block-swap amounts to try, up to the model's maximum (musubi 39 / 29, FLUX 35)."""
    top = family.block_swap_max
    return sorted({n for n in (top // 4, top // 2, (3 * top) // 4, top) if n > 0}) if top > 0 else []


def _cap_frames(frames: list[int], cap: int) -> list[int]:
    kept = sorted({f for f in frames if f <= cap})
    return kept + [cap] if any(f > cap for f in frames) and cap not in kept else kept


def _settings(plan: TrainingPlan, family: ModelFamily, frames_chosen: bool) -> list[dict[str, object]]:
    """Whole settings to try, most faithful first; the first that fits wins.

    Order: a smaller batch; the text encoder in 8-bit while caching (musubi-tuner docs/wan.md:
    --fp8_t5 "for systems with limited VRAM"); a few blocks swapped (slower, not worse); 8-bit
    base weights with as little swapping as needed; then, only when loragate chose the clip lengths,
    shorter clips.
    """
    batch: dict[str, object] = {"batch": 1} if plan.schedule.batch_size > 1 else {}
    te: dict[str, object] = {"fp8_text_encoder": True} if family.trainer == "musubi" else {}
    swaps = _swap_steps(family)
    out: list[dict[str, object]] = [{}]
    if batch:
        out.append(batch)
    if te:
        out.append({**batch, **te})
    light = [n for n in swaps if n <= family.block_swap_max // 2]
    out += [{**batch, **te, "blocks_to_swap": n} for n in light]
    if family.params_b >= 5:  # the 12-16 B DiTs; the SD UNets fit without 8-bit weights
        # musubi-tuner docs/wan.md: fp16/bf16 files can be scaled to fp8 (--fp8_base --fp8_scaled); scaled
        # fp8 on Wan 2.1 is reported to shift colours, so 2.1 keeps plain --fp8_base.
        fp8 = {"fp8_base": True, "fp8_scaled": family.trainer == "musubi" and bool(family.experts)}
        frugal = [{**batch, **te, **fp8, "blocks_to_swap": n} for n in [0, *swaps]]
    else:
        frugal = [{**batch, **te, "blocks_to_swap": n} for n in swaps if n not in light]
    out += frugal
    if not frames_chosen and plan.dataset.target_frames:
        longest = max(plan.dataset.target_frames)
        for cap in (c for c in FRAME_CAPS if c < longest):
            out += [{**step, "frame_cap": cap} for step in (frugal or [{**batch, **te}])]
    return out


def _apply(plan: TrainingPlan, start: tuple[int, MemorySpec, list[int]], setting: dict[str, object]) -> None:
    batch, memory, frames = start
    plan.schedule.batch_size = int(setting.get("batch", batch))  # type: ignore[arg-type]
    plan.memory = memory.model_copy(update={k: v for k, v in setting.items() if k in MemorySpec.model_fields})
    cap = setting.get("frame_cap")
    plan.dataset.target_frames = _cap_frames(frames, int(cap)) if cap else list(frames)  # type: ignore[arg-type]


def fit_memory(plan: TrainingPlan, family: ModelFamily, *, frames_chosen: bool = False,
               experts_together: bool | None = None) -> None:
    """Choose batch, memory options (and clip length, if not the artist's) for `plan.gpu_gb`, in place.

    With no GPU known the big models get 8-bit weights, which every card they train on needs; the
    rest is left at full quality and Gate 2 warns. When nothing fits, the most frugal settings stay
    and Gate 2 says NO-GO with the estimator's fit plan. Wan 2.2 experts run together when asked,
    or when the GPU holds both at once with the margin.
    """
    settings = _settings(plan, family, frames_chosen)
    start = (plan.schedule.batch_size, plan.memory, list(plan.dataset.target_frames))
    if plan.gpu_gb is None:
        fp8 = next((s for s in settings if s.get("fp8_base")), {})
        _apply(plan, start, {k: v for k, v in fp8.items() if k in ("fp8_base", "fp8_scaled")})
        plan.experts_together = bool(experts_together) and len(plan.experts) > 1
        return
    for setting in settings:
        _apply(plan, start, setting)
        if fits(plan, plan.gpu_gb):
            break
    if len(plan.experts) > 1:
        plan.experts_together = experts_together if experts_together is not None else fits(plan, plan.gpu_gb, runs=2)
    else:
        plan.experts_together = False
