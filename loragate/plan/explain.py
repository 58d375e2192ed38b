"""Plain-words explanations for the plan settings the presets do not cover (rank, alpha, learning
rate, optimizer, schedule, steps, repeats and batch use the presets' sentences, see plan.new).

Keys are dotted paths into the plan (`memory.fp8_base`), so config.md can show each value beside
why it was chosen.
"""

from __future__ import annotations

from loragate.backends.traits import traits
from loragate.catalog.models import ModelFamily, get_family
from loragate.catalog.networks import kind_of
from loragate.environment.trainer import trainer_facts
from loragate.core.plan import TrainingPlan
from loragate.vram.changes import swap_words


def precision_text(mixed: str, released: str, backend: str) -> str:
    """Why the calculations run in this precision, true whether or not it is the weights' own."""
    if mixed == released:
        return (f"Calculations run in {mixed}, the same precision the model's weights were released in; for this "
                "model a different one stops the trainer or quietly spoils the result.")
    if mixed == "bf16" and traits(backend).bf16_recommended:
        return (f"Calculations run in bf16, although the weights were released in {released}: {trainer_facts(backend).display_name}' docs "
                f"recommend bf16 or fp16 for training this model, and bf16 is less prone than fp16 to the overflow "
                "errors that turn a run into NaN losses or black pictures (it needs an RTX 30-series or newer card).")
    return (f"Calculations run in {mixed}; the model's weights were released in {released}. loragate checks the "
            "pair against what the trainer accepts (Gate 2).")


def _default_caption(plan: TrainingPlan) -> str:
    facts = trainer_facts(plan.backend)
    default = facts.traits.default_caption_extension
    return f" ({facts.display_name} would look for '{default}' unless told)." if default and default != plan.dataset.caption_extension else "."


def explain_plan(plan: TrainingPlan, family: ModelFamily) -> dict[str, str]:
    """Why each non-preset value is what it is, in words an artist follows."""
    mem, ds = plan.memory, plan.dataset
    why: dict[str, str] = {
        "model": f"{family.display_name}, trained with {trainer_facts(plan.backend).display_name}.",
        "trigger": f"'{plan.trigger}' is the word that calls up what this LoRA learns; every caption should contain it.",
        "dataset.resolution": (
            f"Pictures are trained at about {ds.resolution[0]}x{ds.resolution[1]} pixels, the size this model "
            "was made for; other shapes are grouped into buckets of similar size instead of being cropped."
        ),
        "dataset.caption_extension": (
            f"Captions are read from the '{ds.caption_extension}' file beside each picture"
            + _default_caption(plan)
        ),
        "memory.mixed_precision": precision_text(mem.mixed_precision, family.weights_precision, plan.backend),
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
        why["memory.blocks_to_swap"] = swap_words(family, mem.blocks_to_swap) + " It lets the run fit a smaller card."
    if mem.cache_text_encoder_outputs or traits(plan.backend).caches_in_steps:
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
    if plan.timesteps is not None:
        why.update(_timestep_words(plan))
    if plan.experts:
        ranges = ", ".join(f"{e.expert}-noise {e.min_timestep}-{e.max_timestep}" for e in plan.experts)
        why["experts"] = (
            "Wan 2.2 is two models: one draws the rough picture (high noise), the other the detail (low noise). "
            f"Each gets its own LoRA, trained only on its part of the noise range ({ranges})."
            + (" Both run at the same time." if plan.experts_together else " They run one after the other.")
        )
    why.update(_machinery_words(plan, family))
    return why


# What each model file is, for an artist who has to download it.
_WEIGHTS_WORDS: dict[str, str] = {
    "dit": "The model the LoRA attaches to: the part that draws.",
    "dit_high_noise": "Wan 2.2's second model file, the high-noise expert that lays out the rough picture.",
    "vae": "Turns pictures and clips into the model's compact form (and back); used while caching.",
    "t5": "The text encoder that reads your captions (umt5-xxl); used only while caching them.",
    "clip": "The image encoder Wan 2.1 image-to-video needs; used only while caching.",
    "base_model": "The checkpoint the LoRA is trained on; use the same one to generate with the LoRA later.",
    "clip_l": "The first text encoder (CLIP-L), which reads the start of your captions (FLUX.1, SD 3.5).",
    "clip_g": "SD 3.5's second text encoder (CLIP-G), which reads the start of your captions too.",
    "t5xxl": "The large text encoder (T5-XXL), which reads your captions in full.",
    "ae": "FLUX's autoencoder: turns pictures into the model's compact form and back.",
    "byt5": "HunyuanVideo 1.5's second text encoder (ByT5), which reads the text to draw in a picture; used while caching.",
    "text_encoder": "The language model that reads your captions; used while caching them, and by samples during training.",
    "image_encoder": "HunyuanVideo 1.5 image-to-video's image encoder (SigLIP), which reads each clip's first frame while caching and at training.",
}


def _timestep_words(plan: TrainingPlan) -> dict[str, str]:
    ts = plan.timesteps
    assert ts is not None
    why: dict[str, str] = {}
    if ts.timestep_sampling == "flux_shift":
        why["timesteps.timestep_sampling"] = (
            "'flux_shift' picks how noisy each practice picture is, adjusted to its size, so training spends its time "
            "where FLUX needs it; sd-scripts' docs recommend it (the default would hurt)."
        )
    else:
        why["timesteps.timestep_sampling"] = (
            f"'{ts.timestep_sampling}' picks how noisy each practice picture is; named on purpose, since the trainer's "
            "default ignores the shift" + (" and would flip the expert's noise range." if plan.experts else ".")
        )
        if ts.discrete_flow_shift is not None:
            why["timesteps.discrete_flow_shift"] = (
                f"Shift {ts.discrete_flow_shift:g} decides how often training practises rough shapes versus fine "
                "detail; this is the trainer's documented value."
            )
    if ts.preserve_distribution_shape and plan.experts:
        why["timesteps.preserve_distribution_shape"] = (
            "Each expert practises only its own noise range but keeps the usual mix of noise levels inside it, "
            "instead of squeezing the whole mix into that range (what the trainer's docs advise for one expert)."
        )
    if ts.guidance_scale is not None:
        why["timesteps.guidance_scale"] = (
            f"Guidance {ts.guidance_scale:g} while training {get_family(plan.model).display_name}, as sd-scripts' docs "
            "say; the default 3.5 weakens what the LoRA learns."
        )
    if ts.model_prediction_type:
        why["timesteps.model_prediction_type"] = (
            f"'{ts.model_prediction_type}': the model's output is used as it is, the setting sd-scripts' docs "
            "recommend for FLUX (the default rescales it)."
        )
    return why


def _network_words(module: str, args: list[str], family: ModelFamily) -> str:
    kind = kind_of(module, args)
    if kind is None:
        return f"'{module}' is the trainer's LoRA type for {family.display_name}."
    how = f" ({' '.join(args)})" if args else ""
    if traits(family.trainer).network_kinds_built_in:  # nothing to install
        return f"{kind.display_name} through {trainer_facts(family.trainer).display_name}'s own '{module}'{how}: {kind.why}"
    return (f"{kind.display_name} through '{module}'{how}: {kind.why} LyCORIS must be installed in the "
            "trainer's Python (pip install lycoris-lora); the environment check looks for it.")


def _machinery_words(plan: TrainingPlan, family: ModelFamily) -> dict[str, str]:
    """The values every command carries that are not a training choice but still show up in train.sh."""
    mem, net, opt = plan.memory, plan.network, plan.optimizer
    why: dict[str, str] = {
        "network.module": _network_words(net.module, net.args, family),
        "memory.attention": (
            f"'{mem.attention}' is how the model compares parts of a picture with each other; "
            + ("PyTorch's built-in version works on every card." if mem.attention == "sdpa" else "it must be installed.")
        ),
        "schedule.seed": (
            f"Seed {plan.schedule.seed}: fixes the random choices, so the same plan trains the same way again."
            if plan.schedule.seed is not None else "No seed: every run makes different random choices."
        ),
    }
    if mem.cache_latents or traits(plan.backend).caches_in_steps:
        why["memory.cache_latents"] = (
            "Pictures and clips are turned into the model's compact form once, before training, instead of at every step."
        )
    if mem.no_half_vae:
        why["memory.no_half_vae"] = "The SDXL picture encoder runs at full precision; at half precision it produces broken (NaN) results."
    if mem.fp8_text_encoder:
        why["memory.fp8_text_encoder"] = "The text encoder is read in 8-bit form while captions are cached, to fit the card."
    if mem.offload_inactive_dit:
        why["memory.offload_inactive_dit"] = "The expert not in use waits in main memory (RAM), so both fit the card."
    if opt.args:
        why["optimizer.args"] = f"Settings the {opt.type} optimizer needs to behave well: {', '.join(opt.args)}."
    for role, what in _WEIGHTS_WORDS.items():
        if getattr(plan.weights, role, None):
            why[f"weights.{role}"] = what
    if plan.weights.dit and plan.weights.dit_high_noise:
        why["weights.dit"] = "Wan 2.2's low-noise expert, which adds the detail; each expert gets its own LoRA."
    return why
