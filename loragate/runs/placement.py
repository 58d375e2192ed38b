"""Where and when the training commands run: the two Wan 2.2 experts together or one after the other.

The two experts are independent runs (their own LoRA each). Together they take half the wall
clock: on two GPUs each gets its own card; on one GPU only when both estimates, with the 20% Gate 2
adds to an estimate, fit the card. Otherwise they run one after the other.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, Field

from loragate.core.errors import LoragateError
from loragate.core.plan import Command, TrainingPlan
from loragate.vram.estimate import MARGIN  # Gate 2's margin, added to the estimate



class Placement(BaseModel):
    waves: list[list[tuple[int, int | None]]] = Field(
        description="Groups run one after the other; inside a group, (command index, GPU) run at once."
    )
    reason: str


def place_trainings(
    commands: list[Command],
    gpus: list[int],
    *,
    together: bool,
    per_run_gb: float | None,
    gpu_total_gb: float | None,
) -> Placement:
    """Decide the waves for the training commands (indices into `commands`)."""
    trains = [i for i, c in enumerate(commands) if c.stage == "train"]
    first_gpu = gpus[0] if gpus else None
    if len(trains) < 2 or not together:
        why = "one training run" if len(trains) < 2 else "the plan runs the experts one after the other"
        return Placement(waves=[[(i, first_gpu)] for i in trains], reason=why)
    if len(gpus) >= len(trains):
        return Placement(
            waves=[[(i, gpus[k]) for k, i in enumerate(trains)]],
            reason=f"both experts at once, each on its own GPU ({', '.join(str(g) for g in gpus[: len(trains)])})",
        )
    if per_run_gb is not None and gpu_total_gb is not None:
        needed = per_run_gb * len(trains)
        with_margin = needed * (1 + MARGIN)
        if with_margin <= gpu_total_gb:
            return Placement(
                waves=[[(i, first_gpu) for i in trains]],
                reason=f"both experts at once on one GPU: {needed:.1f} GB, {with_margin:.1f} GB with the {MARGIN:.0%} margin, "
                f"fits the {gpu_total_gb:.0f} GB card",
            )
        return Placement(
            waves=[[(i, first_gpu)] for i in trains],
            reason=f"one expert after the other: together they need {needed:.1f} GB, {with_margin:.1f} GB with the {MARGIN:.0%} "
            f"margin, more than the {gpu_total_gb:.0f} GB card",
        )
    return Placement(
        waves=[[(i, first_gpu)] for i in trains],
        reason="one expert after the other: the memory of this GPU or of a run is not known",
    )


def choose_gpus(experts: int, together: bool) -> list[int]:
    """`LORAGATE_GPUS` (e.g. "0,1") when set; else GPU 0, or GPUs 0 and 1 for two experts run together."""
    from loragate.runs.vram_sampler import visible_gpu_count

    explicit = os.environ.get("LORAGATE_GPUS", "").strip()
    if explicit:
        try:
            return [int(g) for g in explicit.split(",") if g.strip()]
        except ValueError as exc:
            raise LoragateError(f"LORAGATE_GPUS={explicit!r} is not a list of GPU numbers.", "Use e.g. LORAGATE_GPUS=0 or 0,1.") from exc
    if experts >= 2 and together and visible_gpu_count() >= 2:
        return [0, 1]
    return [0]


def plan_placement(
    plan: TrainingPlan, commands: list[Command], gpus: list[int], *, together: bool | None = None, measured_gb: float | None = None
) -> Placement:
    """The waves launch runs the plan's training commands in: one run's memory is the larger of
    a measured peak (the dry run's) and Gate 2's estimate; the card's size comes from NVML. The dry
    run calls this too, so it tries the experts exactly as the training will run them."""
    from loragate.runs.fit import estimated_gb
    from loragate.runs.vram_sampler import gpu_total_gb

    values = [v for v in (measured_gb, estimated_gb(plan)) if isinstance(v, (int, float))]
    return place_trainings(
        commands, gpus, together=plan.experts_together if together is None else together,
        per_run_gb=max(values) if values else None, gpu_total_gb=gpu_total_gb(gpus[0]) if gpus else None,
    )
