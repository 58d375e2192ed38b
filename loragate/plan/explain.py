"""Plain-words explanations for the plan settings the presets do not cover (rank, alpha, learning
rate, optimizer, schedule, steps, repeats and batch use the presets' sentences, see plan.new).

Keys are dotted paths into the plan (`memory.fp8_base`), so config.md can show each value beside
why it was chosen.
"""

from __future__ import annotations

from loragate.catalog.models import ModelFamily
from loragate.plan.model import TrainingPlan


def explain_plan(plan: TrainingPlan, family: ModelFamily) -> dict[str, str]:
    """Why each non-preset value is what it is, in words an artist follows."""
    mem, ds = plan.memory, plan.dataset
    why: dict[str, str] = {
        "model": f"{family.display_name}, trained with {'musubi-tuner' if plan.backend == 'musubi' else 'sd-scripts'}.",
        "trigger": f"'{plan.trigger}' is the word that calls up what this LoRA learns; every caption should contain it.",
        "dataset.resolution": (
            f"Pictures are trained at about {ds.resolution[0]}x{ds.resolution[1]} pixels, the size this model "
            "was made for; other shapes are grouped into buckets of similar size instead of being cropped."
        ),
        "dataset.caption_extension": (
            f"Captions are read from the '{ds.caption_extension}' file beside each picture"
            + (" (sd-scripts would look for '.caption' unless told)." if plan.backend == "sdscripts" else ".")
        ),
        "memory.mixed_precision": (
            f"Calculations run in {mem.mixed_precision}, matching how the model's weights were released "
            f"({family.weights_precision}); a mismatch stops the trainer or quietly spoils the result."
        ),
        "memory.gradient_checkpointing": (
            "Recomputes some in-between results instead of keeping them: a little slower, much less graphics memory."
            if mem.gradient_checkpointing
            else "Keeps every in-between result: fastest, but needs the most graphics memory."
        ),
        "output_dir": "Where the finished LoRA files are written, outside the grimoire so the record stays small.",
        "output_name": f"LoRA files are named '{plan.output_name}' (one per saved version).",
    }
    if mem.fp8_base or mem.fp8_scaled:
        why["memory.fp8_base"] = (
            "The base model is held in 8-bit form to roughly halve its memory; the LoRA itself still trains at "
            "full precision. Quality loss is small" + (" (scaled 8-bit keeps more detail)." if mem.fp8_scaled else ".")
        )
    if mem.blocks_to_swap:
        why["memory.blocks_to_swap"] = (
            f"{mem.blocks_to_swap} of the model's {family.layers} blocks wait in the computer's main memory and are "
            "moved onto the graphics card only while needed: slower, but it fits a smaller card."
        )
    if mem.cache_text_encoder_outputs or plan.backend == "musubi":
        why["memory.cache_text_encoder_outputs"] = (
            "Captions are turned into the model's language once, before training, so the large text encoder "
            "does not sit in graphics memory during training."
        )
    if mem.network_train_unet_only:
        why["memory.network_train_unet_only"] = (
            "Only the image-making part learns; the text encoder stays as it is (required when its outputs are cached)."
        )
    if ds.cache_dir:
        why["dataset.cache_dir"] = (
            "Pre-computed training data is stored here, outside your dataset folder, which loragate never writes to."
        )
    if ds.target_frames:
        why["dataset.target_frames"] = (
            f"Clips are cut into pieces of {', '.join(str(f) for f in ds.target_frames)} frames from their start; "
            "Wan needs frame counts of the form 4n+1 (1, 5, 9 ... 81)."
        )
    if ds.source_fps:
        why["dataset.source_fps"] = (
            f"Your clips run at {ds.source_fps:g} frames per second; frames are skipped so they play at Wan's 16."
        )
    if plan.timesteps is not None and plan.timesteps.discrete_flow_shift is not None:
        why["timesteps.discrete_flow_shift"] = (
            f"Shift {plan.timesteps.discrete_flow_shift:g} with '{plan.timesteps.timestep_sampling}' sampling decides "
            "how often training practises rough shapes versus fine detail; this is the trainer's documented value."
        )
    if plan.experts:
        ranges = ", ".join(f"{e.expert}-noise {e.min_timestep}-{e.max_timestep}" for e in plan.experts)
        why["experts"] = (
            "Wan 2.2 is two models: one draws the rough picture (high noise), the other the detail (low noise). "
            f"Each gets its own LoRA, trained only on its part of the noise range ({ranges})."
            + (" Both run at the same time." if plan.experts_together else " They run one after the other.")
        )
    return why
