"""Memory settings that fit the plan's GPU: start at full quality and give up as little as needed.

The VRAM package decides what to give up and in which order (loragate.vram.changes, the same list
Gate 2's fit plan and the OOM ladder use); this module only says which levers a new plan may turn:
never the resolution, and clip lengths only when loragate chose them. When nothing fits, the most
frugal settings tried stay and Gate 2 says NO-GO with the estimator's fit plan.
"""

from __future__ import annotations

from loragate.catalog.models import ModelFamily
from loragate.core.plan import TrainingPlan
from loragate.vram.estimate import MARGIN

# Gate 2 adds 20% to the estimate before comparing it with the card (the /train workflow's safety margin).
SAFETY_MARGIN = 1 + MARGIN


def estimate_gb(plan: TrainingPlan) -> float:
    from loragate.vram import estimate_vram, request_from_plan

    return float(estimate_vram(request_from_plan(plan), fit_plan=False).estimate_gb)


def fits(plan: TrainingPlan, gpu_gb: float, runs: int = 1) -> bool:
    return estimate_gb(plan) * runs * SAFETY_MARGIN <= gpu_gb


def _take(plan: TrainingPlan, fitted: TrainingPlan) -> None:
    plan.schedule, plan.memory, plan.dataset = fitted.schedule, fitted.memory, fitted.dataset


def fit_memory(plan: TrainingPlan, family: ModelFamily, *, frames_chosen: bool = False,
               experts_together: bool | None = None) -> None:
    """Choose batch, memory options (and clip length, if not the artist's) for `plan.gpu_gb`, in place.

    With no GPU known the big models get 8-bit weights, which every card they train on needs; the
    rest is left at full quality and Gate 2 warns. Wan 2.2 experts run together when asked, or
    when the GPU holds both at once with the margin.
    """
    from loragate.vram import apply_to_plan, machine_correction, plan_levers, request_from_plan
    from loragate.vram.changes import fp8_settings
    from loragate.vram.fitplan import plan_fit

    if plan.gpu_gb is None:
        if family.params_b >= 5:  # the 12-16 B DiTs; the SD UNets train at full precision on any card
            _take(plan, apply_to_plan(plan, fp8_settings(family)))
        plan.experts_together = bool(experts_together) and len(plan.experts) > 1
        return
    request = request_from_plan(plan).model_copy(update={"gpu_gb": plan.gpu_gb})
    levers = plan_levers(plan, frames=not frames_chosen, resolution=False)
    steps = plan_fit(request, levers=levers, correction=machine_correction(request))
    settings = {key: value for step in steps for key, value in step.settings.items()}
    _take(plan, apply_to_plan(plan, settings))
    if len(plan.experts) > 1:
        plan.experts_together = experts_together if experts_together is not None else fits(plan, plan.gpu_gb, runs=2)
    else:
        plan.experts_together = False
