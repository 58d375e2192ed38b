"""The cheapest single changes that lower one phase's GPU memory, each with its new estimate.

One list serves every caller that gives up memory: Gate 2's fit plan and the plan generator take
changes one after another until the configuration fits the card; the supervisor's OOM ladder takes
the first change for the phase that actually ran out of memory. A change is offered only when the
estimator says it lowers that phase (a smaller batch does nothing for text-encoder caching).

Order of cost to the artist — time first, then precision, then what the LoRA learns from:
1. a smaller batch: the LoRA learns the same, a run takes longer;
2. the text encoder in fp8 while captions are cached (musubi `--fp8_t5`, musubi-tuner docs/wan.md:
   "for systems with limited VRAM"): training itself is unchanged;
3. gradient checkpointing: same result, each step about a quarter slower;
4. block swap: same result, slower steps, more RAM (max 39 blocks for Wan 14B, 29 for 1.3B,
   musubi-tuner docs/wan.md; FLUX 35, sd-scripts docs/flux_train_network.md) — up to half the
   blocks while the weights are 16-bit, all of them once they are fp8;
5. fp8 base weights: half the frozen model's memory, a slight loss of fine detail;
6. shorter clips (Wan target_frames stay 4n+1, musubi-tuner docs/dataset_config.md);
7. a lower resolution.

How far one change goes: with a target GPU size, the least change that brings the phase under it
with Gate 2's 20% margin; when none does, batch and block swap go all the way (they cost only
time) and clips and resolution one notch. Without a target (after an OOM, where the estimate has
just proved too low) every lever moves one notch: the batch halved, 10 more blocks swapped, half
the frames, three quarters of each side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from pydantic import BaseModel, Field

from loragate.backends.traits import traits
from loragate.catalog.models import ModelFamily, get_family
from loragate.vram.calibration import corrected_estimate
from loragate.vram.estimate import fits
from loragate.vram.model import Correction, VramEstimate, VramRequest

Phase = Literal["training", "text_encoder_caching", "latent_caching"]
Lever = Literal["batch", "fp8_text_encoder", "gradient_checkpointing", "block_swap", "fp8_base", "frames", "resolution"]
LEVERS: tuple[Lever, ...] = ("batch", "fp8_text_encoder", "gradient_checkpointing", "block_swap", "fp8_base", "frames", "resolution")
BLOCK_SWAP_NOTCH = 10
MIN_CLIP_FRAMES = 5  # shorter than this a clip no longer shows motion
MIN_SIDE = 256


class MemoryChange(BaseModel):
    """One change to a configuration, what it saves and what it costs."""

    lever: Lever
    change: str = Field(description="Short form, e.g. 'batch 4 -> 2' or 'blocks_to_swap 0 -> 10'.")
    description: str = Field(description="Reads after 'trying again with', e.g. 'the batch size halved from 4 to 2'.")
    explanation: str = Field(description="What the change costs, in plain words.")
    settings: dict[str, object] = Field(description="Request fields this change sets.")
    phase: str = Field(description="The phase it was chosen for.")
    phase_gb: float = Field(description="That phase's new estimate, GB.")
    estimate_gb: float = Field(description="The new peak over all phases, GB.")
    fits: bool | None = Field(default=None, description="Whether the new peak fits the target with the margin; None without a target.")
    recache: bool = Field(default=False, description="The caches must be made again (clip length or resolution changed).")


Estimator = Callable[[VramRequest], VramEstimate]
# A lever's proposal: (settings, short change, description, explanation, recache) or None.
Proposal = tuple[dict[str, object], str, str, str, bool] | None


def fp8_settings(family: ModelFamily) -> dict[str, object]:
    """--fp8_base, with --fp8_scaled where it is both possible and wanted.

    musubi-tuner.md §1.3/§5.14: --fp8_scaled needs fp16/bf16 weights and avoids the load-time spike of
    plain --fp8_base (issue #599); on Wan 2.1 scaled fp8 is reported to shift colours
    (resources/wan/WAN_LORA_CLAUDE_CODE_REFERENCE.md), so Wan 2.1 keeps plain --fp8_base.
    """
    wanted = bool(family.experts) or family.fp8_scaled  # Wan 2.2, and models whose docs pair the two flags
    scaled = traits(family.trainer).fp8_scaled and wanted and family.weights_precision in ("bf16", "fp16")
    return {"fp8_base": True, "fp8_scaled": scaled}


def cheaper_changes(
    req: VramRequest,
    phase: str = "training",
    *,
    target_gb: float | None = None,
    levers: Iterable[str] | None = None,
    correction: Correction | None = None,
) -> list[MemoryChange]:
    """Single changes to `req` that lower `phase`'s memory, cheapest for the artist first."""
    family = get_family(req.model)
    allowed = set(levers) if levers is not None else set(LEVERS)

    def estimate(r: VramRequest) -> VramEstimate:
        return corrected_estimate(r, correction)

    before = estimate(req).phases.get(phase)
    if before is None:
        return []
    out: list[MemoryChange] = []
    for lever in LEVERS:
        if lever not in allowed:
            continue
        proposal = _PROPOSERS[lever](req, family, phase, target_gb, estimate)
        if proposal is None:
            continue
        settings, change, description, explanation, recache = proposal
        result = estimate(req.model_copy(update=settings))
        after = result.phases.get(phase, 0.0)
        if after >= before:
            continue  # the estimator sees no saving for this phase
        out.append(MemoryChange(
            lever=lever, change=change, description=description, explanation=explanation, settings=settings,
            phase=phase, phase_gb=after, estimate_gb=result.estimate_gb,
            fits=fits(result.estimate_gb, target_gb) if target_gb else None, recache=recache,
        ))
    return out


def _least(candidates: list[VramRequest], phase: str, target_gb: float | None, estimate: Estimator) -> VramRequest | None:
    """The first candidate (least change first) whose phase fits the target, or None."""
    if target_gb is None:
        return None
    for candidate in candidates:
        if fits(estimate(candidate).phases.get(phase, 0.0), target_gb):
            return candidate
    return None


def _batch(req: VramRequest, family: ModelFamily, phase: str, target_gb: float | None, estimate: Estimator) -> Proposal:
    old = req.batch
    if old <= 1:
        return None
    fitting = _least([req.model_copy(update={"batch": b}) for b in range(old - 1, 0, -1)], phase, target_gb, estimate)
    new = fitting.batch if fitting else (1 if target_gb else max(1, old // 2))
    how = "halved" if new == old // 2 else "lowered"
    return ({"batch": new}, f"batch {old} -> {new}", f"the batch size {how} from {old} to {new}",
            f"Batch {old} -> {new}: the LoRA learns the same from the same pictures, fewer at a time; a run takes somewhat longer.",
            False)


def _fp8_text_encoder(req: VramRequest, family: ModelFamily, *_: object) -> Proposal:
    # Only musubi takes it as a switch (--fp8_t5); sd-scripts would need another T5 file.
    if req.fp8_text_encoder or not traits(family.trainer).fp8_text_encoder_switch or not family.text_encoders:
        return None
    if not all(te.fp8 for te in family.text_encoders):
        return None  # musubi-tuner docs/flux_2.md: "--fp8_text_encoder option is not available for dev (Mistral 3)"
    return ({"fp8_text_encoder": True}, "fp8 text encoder", "the text encoder read in fp8 while captions are cached",
            "fp8 text encoder: the text encoder is read at half precision while captions are pre-computed. "
            "Captions are understood almost identically; training itself is unchanged.", False)


def _checkpointing(req: VramRequest, *_: object) -> Proposal:
    if req.gradient_checkpointing:
        return None
    return ({"gradient_checkpointing": True}, "gradient checkpointing", "gradient checkpointing turned on",
            "Gradient checkpointing: intermediate results are recomputed instead of kept. Same result, each step about a quarter slower.",
            False)


def _block_swap(req: VramRequest, family: ModelFamily, phase: str, target_gb: float | None, estimate: Estimator) -> Proposal:
    # Swapping more than half the model makes every step crawl, a higher price than fp8's slight
    # detail loss: with 16-bit weights swap stops at half the blocks, and fp8 comes next.
    top, old = family.block_swap_max, req.blocks_to_swap
    limit = top if req.fp8_base else top // 2
    if limit <= 0 or old >= limit:
        return None
    fitting = _least([req.model_copy(update={"blocks_to_swap": n}) for n in range(old + 1, limit + 1)], phase, target_gb, estimate)
    new = fitting.blocks_to_swap if fitting else (limit if target_gb else min(limit, old + BLOCK_SWAP_NOTCH))
    return ({"blocks_to_swap": new}, f"blocks_to_swap {old} -> {new}",
            f"{new} model blocks kept in main memory instead of {old}", swap_words(family, new), False)


def swap_words(family: ModelFamily, blocks: int) -> str:
    if blocks == 0:
        return "No block swap: full speed."
    # Wan swaps whole blocks (at most all but one); FLUX's n swaps n//2 double and 2*(n - n//2) single
    # blocks (reference sd-scripts.md §1.3), so there the number only compares with its maximum.
    of = f"of {family.layers} blocks" if traits(family.trainer).swaps_whole_blocks else f"(at most {family.block_swap_max} for this model)"
    return (f"Block swap {blocks} {of}: those blocks wait in main memory (RAM) and are copied in when needed. "
            "Same result, slower steps (the more blocks, the slower), and more RAM used.")


def _fp8_base(req: VramRequest, family: ModelFamily, *_: object) -> Proposal:
    if req.fp8_base:
        return None
    settings = fp8_settings(family)
    scaled = bool(settings["fp8_scaled"])
    return (settings, "fp8 base" + (" + fp8 scaled" if scaled else ""), "the base model loaded in fp8",
            "fp8 weights: the frozen model is stored in 8 bits instead of 16, halving its memory. A slight loss of fine "
            "detail is possible" + ("; --fp8_scaled keeps that loss small." if scaled else "."), False)


def _frames(req: VramRequest, family: ModelFamily, phase: str, target_gb: float | None, estimate: Estimator) -> Proposal:
    old = req.frames
    if not family.video or old <= MIN_CLIP_FRAMES:
        return None
    shorter = [req.model_copy(update={"frames": f}) for f in range(old - 4, MIN_CLIP_FRAMES - 1, -4)]
    fitting = _least(shorter, phase, target_gb, estimate)
    new = fitting.frames if fitting else max(MIN_CLIP_FRAMES, ((old - 1) // 2) // 4 * 4 + 1)
    return ({"frames": new}, f"frames {old} -> {new}", f"clips cut to at most {new} frames instead of {old}",
            f"Clips of at most {new} frames instead of {old}: less memory; motion is learned over shorter spans, "
            "and the caches are made again.", True)


def smaller_resolution(family: ModelFamily, resolution: tuple[int, int]) -> tuple[int, int] | None:
    """Three quarters of each side, on the trainer's bucket step (Wan 16 px, SD/FLUX 64 px); None below 256."""
    step = traits(family.trainer).bucket_step
    width, height = (max(step, int(side * 0.75) // step * step) for side in resolution)
    if min(width, height) < MIN_SIDE:
        return None
    return width, height


def _resolution(req: VramRequest, family: ModelFamily, phase: str, target_gb: float | None, estimate: Estimator) -> Proposal:
    sizes: list[tuple[int, int]] = []
    size = smaller_resolution(family, req.resolution)
    while size is not None:
        sizes.append(size)
        size = smaller_resolution(family, size)
    if not sizes:
        return None
    fitting = _least([req.model_copy(update={"resolution": s}) for s in sizes], phase, target_gb, estimate)
    new = tuple(fitting.resolution) if fitting else sizes[0]
    old_s, new_s = "x".join(map(str, req.resolution)), "x".join(map(str, new))
    return ({"resolution": new}, f"resolution {old_s} -> {new_s}", f"the resolution lowered from {old_s} to {new_s}",
            f"Resolution {new_s} instead of {old_s}: much less memory; fine detail is learned less sharply, "
            "and the caches are made again.", True)


_PROPOSERS: dict[str, Callable[..., Proposal]] = {
    "batch": _batch,
    "fp8_text_encoder": _fp8_text_encoder,
    "gradient_checkpointing": _checkpointing,
    "block_swap": _block_swap,
    "fp8_base": _fp8_base,
    "frames": _frames,
    "resolution": _resolution,
}
