"""The OOM ladder: the next change to a plan that ran out of GPU memory, one notch per retry.

The change is the first of the VRAM package's `cheaper_changes` for the phase that actually ran
out of memory, as the failure classifier reports it (a training step, or musubi's caching of
latents or text-encoder outputs): the same order Gate 2's fit plan follows, so a retry never
undoes what the plan chose, and a text-encoder OOM gets the fp8 text encoder rather than a
smaller batch that would not help it. Without a target size (the estimate has just proved low)
each lever moves one notch: batch halved, 10 more blocks swapped, fp8, half the frames. The
resolution is never lowered here: that is the artist's decision, made by re-planning.
"""

from __future__ import annotations

from dataclasses import dataclass

from loragate.core.errors import LoragateError
from loragate.core.plan import TrainingPlan


@dataclass
class LadderChange:
    plan: TrainingPlan
    description: str  # reads after "trying again with"
    explanation: str = ""  # what it costs, in plain words
    recache: bool = False  # the change alters what the caches hold (frames, resolution)


def next_oom_change(plan: TrainingPlan, phase: str = "training") -> LadderChange | None:
    """The cheapest change that lowers `phase`'s memory, applied to a copy of the plan; None when none is left."""
    from loragate.vram import apply_to_plan, cheaper_changes, plan_levers, request_from_plan

    try:
        options = cheaper_changes(request_from_plan(plan), phase, levers=plan_levers(plan, resolution=False))
    except LoragateError:
        return None  # a plan the estimator cannot read has no ladder; the failure is reported as it is
    if not options:
        return None
    first = options[0]
    return LadderChange(apply_to_plan(plan, first.settings), first.description, first.explanation, first.recache)


def estimated_gb(plan: TrainingPlan) -> float | None:
    """Gate 2's estimate of one training run's peak GPU memory (its training phase), or None."""
    try:
        from loragate.vram import estimate_vram, request_from_plan

        estimate = estimate_vram(request_from_plan(plan), fit_plan=False)
    except Exception:  # noqa: BLE001 - no estimate is a normal answer (unknown model, odd plan)
        return None
    return float(estimate.phases.get("training", estimate.estimate_gb))
