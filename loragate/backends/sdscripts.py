"""sd-scripts (SD 1.5, SDXL and its descendants, FLUX.1 and Chroma, SD 3.5): the dataset TOML and the
train command.

sd-scripts caches latents and text-encoder outputs inside the training script, so a plan has a
single command.
"""

from __future__ import annotations

from typing import Any

from loragate.backends.argv import (
    Argv, accelerate_launch, add_attention, add_length, add_loader, add_logging, add_network, add_optimizer,
    add_sampling, command_env, final_lora, logs_dir, need_dataset_toml, need_file, precision, script_of,
)
from loragate.backends.cpu import is_cpu
from loragate.backends.reading import ImportContext
from loragate.backends.sdscripts_failures import SDSCRIPTS_FAILURES
from loragate.backends.toml_text import dataset_toml_text
from loragate.backends.traits import traits
from loragate.catalog.models import ModelFamily, get_family
from loragate.core.errors import LoragateError
from loragate.validate.invocation import Invocation
from loragate.core.plan import Command, DatasetSubset, TimestepSpec, TrainingPlan

# reference sd-scripts.md §3.1 / §6.4: min_bucket_reso <= resolution <= max_bucket_reso, both multiples
# of bucket_reso_steps (the trait bucket_step in trainers.toml: 64, which SD1/2's 64 and SDXL/FLUX's 32 divide).
MIN_BUCKET = 256

LOADER_WORKERS = 2

# reference sd-scripts.md §1.3, §6.15: FLUX.1 dev trains with guidance 1.0 and raw prediction;
# the defaults (3.5, sigma_scaled) silently hurt.
FLUX_GUIDANCE = 1.0
FLUX_PREDICTION = "raw"

# Separate model files the DiT scripts take, in the order their docs write them (reference
# sd-scripts.md §1.3; docs/sd3_train_network.md §4). A family passes those its weights_files name.
SIDE_FILES = (("clip_l", "CLIP-L text encoder"), ("clip_g", "CLIP-G text encoder"),
              ("t5xxl", "T5-XXL text encoder"), ("ae", "FLUX autoencoder"))

ATTENTION_FLAGS: dict[str, list[str]] = {"sdpa": ["--sdpa"], "xformers": ["--xformers"], "mem_eff_attn": ["--mem_eff_attn"]}


def _script_kind(family: ModelFamily) -> str:
    base = script_of(family, "train").rsplit("/", 1)[-1]
    if base.startswith("flux"):
        return "flux"
    if base.startswith("sdxl"):
        return "sdxl"
    if base.startswith("sd3"):
        return "sd3"
    return "sd"


def _guidance(ts: TimestepSpec | None, family: ModelFamily) -> float:
    if ts and ts.guidance_scale is not None:
        return ts.guidance_scale
    return FLUX_GUIDANCE if family.guidance_scale is None else family.guidance_scale


def _subsets(plan: TrainingPlan) -> list[DatasetSubset]:
    subsets = [s for s in plan.dataset.subsets if s.kind == "image"]
    if not subsets and plan.dataset.image_dir:
        subsets = [DatasetSubset(kind="image", path=plan.dataset.image_dir, num_repeats=plan.dataset.num_repeats)]
    return subsets


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


class SdScriptsBackend:
    name = "sdscripts"
    failures = SDSCRIPTS_FAILURES

    def import_setup(self, invocations: list[Invocation], dataset: dict[str, Any], dataset_where: str,
                     ctx: ImportContext, guess: str | None) -> TrainingPlan:
        """The plan an artist's own training command and dataset TOML describe (`loragate plan import`)."""
        from loragate.backends.sdscripts_import import import_setup

        return import_setup(invocations, dataset, dataset_where, ctx, guess)

    def encoder_role(self, family: ModelFamily, encoder: str) -> str | None:
        """The weights role of a text encoder given as its own file (--t5xxl, --clip_l, --clip_g)."""
        name = encoder.lower()
        if "t5" in name:
            return "t5xxl"
        for role in ("clip_l", "clip_g"):
            # a separate CLIP file only where the script takes one (FLUX, SD 3.5); SD/SDXL keep theirs inside
            if name.startswith(role.replace("_", "-")) and role in family.weights_files:
                return role
        return None

    def memory_defaults(self, family: ModelFamily) -> dict[str, bool]:
        """reference sd-scripts.md §1.2, §1.3: cache the text encoders' outputs and train the UNet/DiT only
        (SDXL asserts the pair; train_network.py for SD 1.5 has no caching flag)."""
        script = script_of(family, "train").rsplit("/", 1)[-1]
        cached = script != "train_network.py"  # every script but SD 1.5's: SDXL, FLUX, SD 3.5
        return {
            "cache_text_encoder_outputs": cached,
            "network_train_unet_only": cached,
            # reference sd-scripts.md §1.2: the SDXL VAE gives NaN in fp16.
            "no_half_vae": script.startswith("sdxl") and family.mixed_precision == "fp16",
        }

    def timestep_defaults(self, family: ModelFamily) -> TimestepSpec | None:
        if not script_of(family, "train").rsplit("/", 1)[-1].startswith("flux"):
            return None
        # reference sd-scripts.md §1.3: flux_shift (or shift 3.1582); the default sigma hurts.
        # The shift is only read by 'shift' sampling, so it is kept out of a flux_shift plan.
        sampling = family.timestep_sampling or "flux_shift"
        return TimestepSpec(
            timestep_sampling=sampling,
            discrete_flow_shift=family.flow_shift if sampling == "shift" else None,
            guidance_scale=FLUX_GUIDANCE if family.guidance_scale is None else family.guidance_scale,
            model_prediction_type=FLUX_PREDICTION,
        )

    def dataset_config(self, plan: TrainingPlan) -> dict[str, Any]:
        ds = plan.dataset
        subsets = _subsets(plan)
        if not subsets:
            raise LoragateError(
                f"The plan for {plan.name} lists no image folder to train on (sd-scripts trains on images only).",
                "Point `loragate plan new --dataset` at a folder of images or of kohya `N_name` folders.",
            )
        width, height = int(ds.resolution[0]), int(ds.resolution[1])
        step = traits(self.name).bucket_step
        general: dict[str, Any] = {
            # reference sd-scripts.md §6.1: the default caption extension is ".caption", so .txt
            # captions are silently ignored unless this is set.
            "caption_extension": ds.caption_extension,
            # §3.1: enable_bucket defaults to false (every image squeezed into one bucket).
            "enable_bucket": bool(ds.enable_bucket),
            "bucket_no_upscale": bool(ds.bucket_no_upscale),
        }
        dataset: dict[str, Any] = {
            "resolution": [width, height],
            "batch_size": int(plan.schedule.batch_size),
        }
        if ds.enable_bucket and not ds.bucket_no_upscale:
            # §6.4: min/max are ignored (with a warning) when bucket_no_upscale is set.
            dataset["min_bucket_reso"] = min(MIN_BUCKET, (min(width, height) // step) * step)
            dataset["max_bucket_reso"] = _round_up(2 * max(width, height), step)
        if ds.enable_bucket:
            dataset["bucket_reso_steps"] = step
        # §3.1: with a dataset TOML, folder-name `N_name` repeats are not parsed; say them here.
        dataset["subsets"] = [{"image_dir": s.path, "num_repeats": int(s.num_repeats)} for s in subsets]
        return {"general": general, "datasets": [dataset]}

    def dataset_toml(self, plan: TrainingPlan) -> str:
        return dataset_toml_text("sd-scripts", plan.name, self.dataset_config(plan))

    def commands(
        self, plan: TrainingPlan, *, max_train_steps: int | None = None, output_dir: str | None = None
    ) -> list[Command]:
        family = get_family(plan.model)
        need_dataset_toml(plan)
        argv = self._train(plan, family, max_train_steps=max_train_steps, output_dir=output_dir)
        return [Command(stage="train", argv=argv, cwd=plan.trainer_dir, env=command_env(plan),
                        output=final_lora(output_dir or plan.output_dir, plan.output_name),
                        logs=logs_dir(output_dir or plan.output_dir),
                        description="Cache latents and captions, then train the LoRA.")]

    def _train(
        self, plan: TrainingPlan, family: ModelFamily, *, max_train_steps: int | None, output_dir: str | None
    ) -> list[str]:
        kind = _script_kind(family)
        mem, sched, w = plan.memory, plan.schedule, plan.weights
        argv = Argv(*accelerate_launch(plan), script_of(family, "train"))
        argv.opt("--pretrained_model_name_or_path", need_file(w.base_model, "base model", "base_model"))
        # flux_train_network.py --model_type chroma loads Chroma, which has no CLIP-L (docs/flux_train_network.md)
        argv.opt("--model_type", family.model_type)
        for role, what in SIDE_FILES:
            if role in family.weights_files:
                argv.opt(f"--{role}", need_file(getattr(w, role), what, role))
        argv.opt("--dataset_config", plan.dataset_toml)
        argv.opt("--output_dir", output_dir or plan.output_dir).opt("--output_name", plan.output_name)
        argv.opt("--save_model_as", "safetensors")
        add_logging(argv, output_dir or plan.output_dir)
        add_network(argv, plan)
        # reference sd-scripts.md §1.2 / §6.6: caching text-encoder outputs requires training the
        # UNet only (SDXL asserts it); train_network.py (SD 1.5) has no TE-cache flag at all.
        te_cache = mem.cache_text_encoder_outputs and kind != "sd"
        argv.switch("--network_train_unet_only", mem.network_train_unet_only or te_cache)
        add_optimizer(argv, plan)
        add_attention(argv, plan, ATTENTION_FLAGS, "sd-scripts")
        # reference sd-scripts.md §6.9: without the script's own --mixed_precision training is fp32.
        argv.opt("--mixed_precision", precision(plan))
        # On the CPU, bf16 autocast keeps fp32 weights; SDXL trains in bf16 throughout to fit in RAM.
        argv.switch("--full_bf16", is_cpu(plan) and mem.mixed_precision == "bf16")
        # §1.2: the SDXL VAE produces NaN in fp16 without --no_half_vae.
        argv.switch("--no_half_vae", mem.no_half_vae or (kind == "sdxl" and mem.mixed_precision == "fp16"))
        # A v-prediction SDXL trained as epsilon runs without error and gives empty images (sd-scripts #1772).
        argv.switch("--v_parameterization", family.v_prediction)
        argv.switch("--zero_terminal_snr", family.zero_terminal_snr)
        argv.switch("--fp8_base", mem.fp8_base)
        if family.block_swap_max > 0 and mem.blocks_to_swap > 0:
            argv.opt("--blocks_to_swap", mem.blocks_to_swap)
        argv.switch("--gradient_checkpointing", mem.gradient_checkpointing)
        argv.switch("--cache_latents", mem.cache_latents)
        argv.switch("--cache_text_encoder_outputs", te_cache)
        if kind == "flux":
            ts = plan.timesteps
            argv.opt("--timestep_sampling", ts.timestep_sampling if ts else "flux_shift")
            if ts and ts.timestep_sampling == "shift":
                argv.opt("--discrete_flow_shift", ts.discrete_flow_shift)
            # plans made before these were plan fields get the recommended values
            argv.opt("--model_prediction_type", (ts.model_prediction_type if ts else None) or FLUX_PREDICTION)
            argv.opt("--guidance_scale", _guidance(ts, family))
            # flux_train_network.py asserts it for Chroma
            argv.switch("--apply_t5_attn_mask", family.t5_attn_mask)
        add_loader(argv, plan, LOADER_WORKERS)
        add_length(argv, plan, max_train_steps)
        argv.opt("--seed", sched.seed)
        add_sampling(argv, plan, max_train_steps)
        return argv.items
