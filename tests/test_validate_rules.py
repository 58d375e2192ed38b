"""One case per rule: the rule fires on a broken setup and stays quiet once that one thing is fixed."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Callable

import pytest

from loragate.validate import ValidationReport
from loragate.validate.rules import RULES
from tests.family_kit import FIX, changed_example, validate_edit_2511_dit
from tests.validate_helpers import (
    CHROMA, DROP, FLUX, LOHA, I2V_DUAL, I2V_LOW, SD35, SDXL, SDXL_DS, VPRED, WAN21, WAN_DS, WAN_HIGH, WAN_LOW,
    cache_latents, cache_te, codes, edit, run, sds, wan_setup, wan_train,
)

Make = Callable[[], ValidationReport]
SD = {"ds.toml": SDXL_DS}


def musubi(flags: dict, extra: list[str] | None = None, mp: str = "fp16", caches: list | None = None,
           tomls: dict | None = None, model: str | None = None) -> Make:
    return lambda: run(wan_setup(wan_train(flags, extra, mp), caches=caches), tomls, model)


def sdxl(flags: dict, extra: list[str] | None = None, tomls: dict | None = None) -> Make:
    return lambda: run([sds(flags, extra=extra)], tomls or SD)


def flux(flags: dict, extra: list[str] | None = None) -> Make:
    return lambda: run([sds(flags, "flux_train_network.py", extra)], SD)


def sd3(flags: dict) -> Make:
    return lambda: run([sds(flags, "sd3_train_network.py")], SD)


def qwen(old: str = "--sdpa", new: str = "--sdpa") -> Make:
    """musubi-tuner's Qwen-Image doc example (tests/fixtures/validate) with one change."""


FLF2V_DOC = "wan21_flf2v_1f.sh"
FLF2V_DS = (FIX / "flf2v_1f_ds.toml").read_text(encoding="utf-8")


def example(fixture: str, old: str = "--sdpa", new: str = "--sdpa", dataset: str | None = None) -> Make:
    """A musubi-tuner doc example (tests/fixtures/validate) with one change."""
    def make() -> ValidationReport:
        with tempfile.TemporaryDirectory() as folder:
            return changed_example(fixture, Path(folder), old, new, dataset)
    return make


def qwen(old: str = "--sdpa", new: str = "--sdpa") -> Make:
    return example("qwen_image_doc.sh", old, new)


def edit_2511_dit(version: str) -> Make:
    """musubi-tuner's Qwen-Image example on ComfyUI's Qwen-Image-Edit-2511 DiT (its header holds the
    __index_timestep_zero__ marker), run as `version`, with paths checked so the header is read."""
    def make() -> ValidationReport:
        with tempfile.TemporaryDirectory() as folder:
            return validate_edit_2511_dit(Path(folder), version)
    return make


def kontext_jsonl(*images: str) -> Make:
    """musubi-tuner's Kontext example on a jsonl dataset (docs/dataset_config.md: image_path, control_path,
    caption per line), one line per image named."""
    def make() -> ValidationReport:
        with tempfile.TemporaryDirectory() as folder:
            pairs = Path(folder) / "pairs.jsonl"
            pairs.write_text("".join(json.dumps({"image_path": f"/data/{image}", "control_path": f"/data/control/{n}.png",
                                                 "caption": "mira"}) + "\n" for n, image in enumerate(images)), encoding="utf-8")
            dataset = f'[general]\nresolution = [1024, 1024]\nbatch_size = 1\n\n[[datasets]]\nimage_jsonl_file = "{pairs}"\n' \
                      'cache_directory = "/data/cache/pairs"\n'
            return changed_example("kontext_doc.sh", Path(folder) / "doc", "--sdpa", "--sdpa", dataset=dataset)
    return make


def wan_toml(text: str) -> Make:
    return lambda: run(wan_setup(wan_train()), {"ds.toml": text})


def sd_toml(text: str, flags: dict = SDXL, script: str = "sdxl_train_network.py") -> Make:
    return lambda: run([sds(flags, script)], {"ds.toml": text})


I2V_CACHE = [cache_latents("--i2v"), cache_te()]
LIGHT = "Wan2.2-T2V-A14B-4steps-lora-250928/{}_noise_model.safetensors"
LOW_8BIT = edit(WAN_LOW, fp8_scaled=DROP, fp8_base=DROP, blocks_to_swap="20")
# HunyuanVideo's own cache_latents.py run for a Wan dataset (musubi-tuner issue #159)
WAN_CACHE_HV = ["python", "cache_latents.py", "--dataset_config", "ds.toml", "--vae", "wan_2.1_vae.safetensors"]
GENERATE = ["python", "src/musubi_tuner/wan_generate_video.py", "--task", "t2v-A14B", "--lora_weight", "mine.safetensors"]
WAN21_I2V = {**WAN21, "--task": "i2v-14B", "--dit": "wan2.1_i2v_480p_14B_bf16.safetensors"}

CASES: list[tuple[str, Make, Make]] = [
    # flags
    ("FLAG_UNKNOWN", musubi(edit(WAN_LOW, network_dimm="32")), musubi(WAN_LOW)),
    ("FLAG_OTHER_TRAINER", musubi(edit(WAN_LOW, network_train_unet_only=None)), musubi(WAN_LOW)),
    ("FLAG_ABBREVIATED", musubi(edit(WAN_LOW, network_alpha=DROP, network_alph="32")), musubi(WAN_LOW)),
    ("FLAG_SWITCH_VALUE", musubi(edit(WAN_LOW, sdpa=DROP), extra=["--sdpa=true"]), musubi(WAN_LOW)),
    ("FLAG_MISSING_VALUE", musubi(WAN_LOW, extra=["--seed"]), musubi(WAN_LOW, extra=["--seed", "42"])),
    ("FLAG_BAD_VALUE", musubi(edit(WAN_LOW, network_dim="32.5")), musubi(WAN_LOW)),
    ("FLAG_REPEATED", musubi(WAN_LOW, extra=["--learning_rate", "1e-4"]), musubi(WAN_LOW)),
    ("FLAG_STRAY_VALUE", musubi(WAN_LOW, extra=["--gradient_checkpointing", "true"]), musubi(WAN_LOW)),
    ("FLAG_LITERAL_ARGS", musubi(edit(WAN_LOW, optimizer_args=["weight_decay=abc"])),
     musubi(edit(WAN_LOW, optimizer_args=["weight_decay=0.01"]))),
    ("FLAG_REQUIRED", musubi(edit(WAN_LOW, dit=DROP)), musubi(WAN_LOW)),
    # model
    ("WAN_TASK_WEIGHTS", musubi(edit(I2V_LOW, task="i2v-14B"), caches=I2V_CACHE), musubi(I2V_LOW, caches=I2V_CACHE)),
    ("WAN_TASK_MISSING", musubi(edit(WAN21, task=DROP, dit="my_model.safetensors"), mp="bf16"),
     musubi(edit(WAN21, dit="my_model.safetensors"), mp="bf16")),
    ("NETWORK_MODULE", musubi(edit(WAN_LOW, network_module="networks.lora")), musubi(WAN_LOW)),
    ("NETWORK_MODULE", musubi(edit(WAN_LOW, network_module="networks.lora")),
     musubi(edit(WAN_LOW, network_module="lycoris.kohya"))),
    ("WAN_SAMPLE_NEEDS_ENCODERS", musubi(edit(WAN_LOW, sample_prompts="prompts.txt", t5="umt5.safetensors")),
     musubi(edit(WAN_LOW, sample_prompts="prompts.txt", t5="umt5.safetensors", vae="wan_2.1_vae.safetensors"))),
    # flf2v has img_emb.emb_pos, i2v has not: the strict load fails either way
    ("WAN_TASK_WEIGHTS", musubi(edit(WAN21, task="i2v-14B", dit="wan2.1_flf2v_720p_14B_fp16.safetensors"), mp="fp16"),
     musubi(edit(WAN21, task="flf2v-14B", dit="wan2.1_flf2v_720p_14B_fp16.safetensors"), mp="fp16")),
    ("WAN_VAE_22", lambda: run(wan_setup(wan_train(), caches=[cache_latents(vae="Wan2.2_VAE.pth"), cache_te()])),
     musubi(WAN_LOW)),
    ("WAN_DUAL_NEEDS_22", musubi(edit(WAN21, dit_high_noise="other.safetensors"), mp="bf16"), musubi(WAN21, mp="bf16")),
    ("WAN_EXPERTS_SWAPPED", musubi(edit(I2V_DUAL, dit="wan2.2_i2v_high_noise_14B_fp16.safetensors",
                                        dit_high_noise="wan2.2_i2v_low_noise_14B_fp16.safetensors"), caches=I2V_CACHE),
     musubi(I2V_DUAL, caches=I2V_CACHE)),
    ("WAN_DUAL_ONE_LORA", musubi(I2V_DUAL, caches=I2V_CACHE), musubi(I2V_LOW, caches=I2V_CACHE)),
    ("MODEL_TRAINER_MISMATCH", musubi(WAN_LOW, model="sdxl"), musubi(WAN_LOW, model="wan2.2-t2v-a14b")),
    # precision
    ("WAN_MIXED_PRECISION_MISSING", musubi(edit(WAN_LOW, mixed_precision=DROP)), musubi(WAN_LOW)),
    ("WAN_MIXED_PRECISION_DTYPE", musubi(edit(WAN_LOW, mixed_precision="bf16"), mp="bf16"), musubi(WAN_LOW)),
    ("PRECISION_LAUNCHER_DIFFERS", musubi(WAN_LOW, mp="bf16"), musubi(WAN_LOW)),
    ("SDS_MIXED_PRECISION_MISSING", sdxl(edit(SDXL, mixed_precision=DROP)), sdxl(SDXL)),
    ("WAN_FP8_SCALED_WITHOUT_BASE", musubi(edit(WAN_LOW, fp8_base=DROP)), musubi(WAN_LOW)),
    ("WAN_FP8_WEIGHTS", musubi(edit(WAN_LOW, dit="wan2.2_t2v_low_noise_14B_fp8_e4m3fn.safetensors")),
     musubi(edit(WAN_LOW, dit="wan2.2_t2v_low_noise_14B_fp8_e4m3fn.safetensors", fp8_scaled=DROP))),
    ("WAN21_FP8_SCALED", musubi(WAN21, mp="bf16"), musubi(edit(WAN21, fp8_scaled=DROP), mp="bf16")),
    ("SDS_FLUX_FP16", flux(edit(FLUX, mixed_precision="fp16")), flux(FLUX)),
    ("SDS_SDXL_VAE_FP16", sdxl(edit(SDXL, mixed_precision="fp16")), sdxl(edit(SDXL, mixed_precision="fp16", no_half_vae=None))),
    ("SDS_FULL_PRECISION", sdxl(edit(SDXL, full_bf16=None, mixed_precision="fp16", no_half_vae=None)),
     sdxl(edit(SDXL, full_bf16=None))),
    # timesteps
    ("WAN_EXPERT_TIMESTEPS", musubi(edit(I2V_LOW, max_timestep="875"), caches=I2V_CACHE), musubi(I2V_LOW, caches=I2V_CACHE)),
    ("WAN_PRESERVE_SHAPE", musubi(edit(WAN_LOW, preserve_distribution_shape=DROP)), musubi(WAN_LOW)),
    ("WAN_SIGMA_TIMESTEP_RANGE", musubi(edit(WAN_LOW, timestep_sampling=DROP, discrete_flow_shift=DROP)), musubi(WAN_LOW)),
    ("WAN_SHIFT_IGNORED", musubi(edit(WAN_LOW, timestep_sampling="uniform")), musubi(WAN_LOW)),
    ("WAN_TIMESTEP_BOUNDARY_FRACTION", musubi(edit(I2V_DUAL, timestep_boundary="0.9"), caches=I2V_CACHE),
     musubi(edit(I2V_DUAL, timestep_boundary="900"), caches=I2V_CACHE)),
    ("WAN_TIMESTEP_BOUNDARY_VALUE", musubi(edit(I2V_DUAL, timestep_boundary="875"), caches=I2V_CACHE),
     musubi(edit(I2V_DUAL, timestep_boundary="900"), caches=I2V_CACHE)),
    ("WAN_EXPERT_BOUNDARIES",
     lambda: run(wan_setup(wan_train(), wan_train(edit(WAN_HIGH, min_timestep="900")))),
     lambda: run(wan_setup(wan_train(), wan_train(WAN_HIGH)))),
    # caching
    ("WAN_I2V_CACHE", musubi(I2V_LOW), musubi(I2V_LOW, caches=I2V_CACHE)),
    ("WAN_CACHE_MISSING", musubi(WAN_LOW, caches=[cache_latents()]), musubi(WAN_LOW)),
    ("WAN_CACHE_ORDER", lambda: run([wan_train(), cache_latents(), cache_te()]), musubi(WAN_LOW)),
    ("WAN_CACHE_DATASET_MISMATCH", musubi(WAN_LOW, caches=[cache_latents(ds="old.toml"), cache_te(ds="old.toml")]),
     musubi(WAN_LOW)),
    ("WAN_CACHE_SHARED_DIR",
     lambda: run([cache_latents(ds="a.toml"), cache_latents(ds="b.toml")], {"a.toml": WAN_DS, "b.toml": WAN_DS}),
     lambda: run([cache_latents(ds="a.toml"), cache_latents("--keep_cache", ds="b.toml")],
                 {"a.toml": WAN_DS, "b.toml": WAN_DS})),
    # memory and attention
    ("WAN_NO_ATTENTION", musubi(edit(WAN_LOW, sdpa=DROP)), musubi(WAN_LOW)),
    ("WAN_SAGE_ATTN_TRAINING", musubi(edit(WAN_LOW, sdpa=DROP, sage_attn=None)), musubi(WAN_LOW)),
    ("MEM_BLOCK_SWAP_MAX", musubi(edit(WAN_LOW, blocks_to_swap="40")), musubi(edit(WAN_LOW, blocks_to_swap="39"))),
    ("MEM_BLOCK_SWAP_CONFLICT", musubi(edit(I2V_DUAL, blocks_to_swap="10", offload_inactive_dit=None), caches=I2V_CACHE),
     musubi(edit(I2V_DUAL, blocks_to_swap="10"), caches=I2V_CACHE)),
    ("MEM_NEEDS_GRADIENT_CHECKPOINTING", musubi(edit(WAN_LOW, gradient_checkpointing=DROP, block_swap_h2d_only=None)),
     musubi(edit(WAN_LOW, block_swap_h2d_only=None))),
    ("MEM_CPU_OFFLOAD_IGNORED", musubi(edit(WAN_LOW, gradient_checkpointing=DROP, gradient_checkpointing_cpu_offload=None)),
     musubi(edit(WAN_LOW, gradient_checkpointing_cpu_offload=None))),
    ("WAN_OFFLOAD_INACTIVE_SINGLE", musubi(edit(WAN_LOW, offload_inactive_dit=None)), musubi(WAN_LOW)),
    # learning rate, schedule, resume
    ("LR_SCHEDULER_ARGS_MIN_LR_RATE",
     musubi(edit(WAN_LOW, lr_scheduler="cosine_with_min_lr", lr_scheduler_args=["min_lr_rate=0.1"])),
     musubi(edit(WAN_LOW, lr_scheduler="cosine_with_min_lr", lr_scheduler_min_lr_ratio="0.1"))),
    ("LR_COSINE_MIN_NO_RATIO", musubi(edit(WAN_LOW, lr_scheduler="cosine_with_min_lr")),
     musubi(edit(WAN_LOW, lr_scheduler="cosine_with_min_lr", lr_scheduler_min_lr_ratio="0.1"))),
    ("LR_MIN_RATIO_IGNORED", musubi(edit(WAN_LOW, lr_scheduler="cosine", lr_scheduler_min_lr_ratio="0.1")),
     musubi(edit(WAN_LOW, lr_scheduler="cosine"))),
    ("LR_PRODIGY", musubi(edit(WAN_LOW, optimizer_type="prodigyopt.Prodigy", learning_rate="1e-4")),
     musubi(edit(WAN_LOW, optimizer_type="prodigyopt.Prodigy", learning_rate="1.0"))),
    ("LR_DEFAULT", musubi(edit(WAN_LOW, learning_rate=DROP)), musubi(WAN_LOW)),
    ("LR_OUT_OF_RANGE", musubi(edit(WAN_LOW, learning_rate="5")), musubi(WAN_LOW)),
    ("LR_ALPHA_SCALE", lambda: run(wan_setup(wan_train(), wan_train(edit(WAN_HIGH, network_alpha="16")))),
     lambda: run(wan_setup(wan_train(), wan_train(edit(WAN_HIGH, network_alpha="16", learning_rate="4e-4"))))),
    ("LR_ALPHA_DEFAULT", musubi(edit(WAN_LOW, network_alpha=DROP)), musubi(WAN_LOW)),
    # alpha = dim at the example's 2e-4: 32x; the same alpha at the example's strength is quiet
    ("WAN_ALPHA_LR_STRENGTH", musubi(edit(WAN_LOW, network_alpha="32")),
     musubi(edit(WAN_LOW, network_alpha="32", learning_rate="6.25e-6"))),
    ("MUSUBI_DIM_FROM_WEIGHTS", musubi(edit(WAN_LOW, dim_from_weights=None)), musubi(WAN_LOW)),
    ("SCHED_EPOCHS_OVERRIDE_STEPS", musubi(edit(WAN_LOW, max_train_steps="2000")), musubi(WAN_LOW)),
    ("SCHED_TOO_LONG", musubi(edit(WAN_LOW, max_train_epochs=DROP, max_train_steps="100000")),
     musubi(edit(WAN_LOW, max_train_epochs=DROP, max_train_steps="3000"))),
    ("ATTENTION_TWO_KINDS", musubi(edit(WAN_LOW, xformers=None)), musubi(WAN_LOW)),
    ("SCHED_DEFAULT_STEPS", musubi(edit(WAN_LOW, max_train_epochs=DROP)), musubi(WAN_LOW)),
    ("RESUME_RESTARTS", musubi(edit(WAN_LOW, resume="out/mylora_low-000010-state")),
     musubi(edit(WAN_LOW, network_weights="out/mylora_low-000010.safetensors"))),
    # paths and outputs
    # Wan 2.2 Lightning: both forms recognised, and the traps of the merged one
    ("WAN_BASE_WEIGHTS_ONE_EXPERT", musubi(edit(I2V_DUAL, base_weights=[LIGHT.format("low")])), musubi(I2V_DUAL)),
    ("WAN_BASE_WEIGHTS_WRONG_EXPERT", musubi(edit(LOW_8BIT, base_weights=[LIGHT.format("high")])),
     musubi(edit(LOW_8BIT, base_weights=[LIGHT.format("low")]))),
    ("WAN_BASE_WEIGHTS_FP8_SCALED", musubi(edit(WAN_LOW, base_weights=[LIGHT.format("low")])),
     musubi(edit(LOW_8BIT, base_weights=[LIGHT.format("low")]))),
    ("WAN_LIGHTNING_AS_MODEL", musubi(WAN_LOW, caches=[cache_latents(vae="Wan2.2-Lightning_T2V-A14B-4steps-lora_LOW_fp16.safetensors"), cache_te()]),
     musubi(WAN_LOW)),
    ("WAN_LIGHTNING_MERGED", musubi(edit(LOW_8BIT, base_weights=[LIGHT.format("low")])), musubi(LOW_8BIT)),
    ("WAN_LIGHTNING_STACKED", lambda: run(wan_setup(wan_train(), GENERATE + ["lightx2v_4steps_low.safetensors"])),
     lambda: run(wan_setup(wan_train(), GENERATE))),
    # SD 3.5, Chroma and v-prediction SDXL (tests/test_sd_families.py has their documented commands)
    ("SDS_VPRED_MISSING", sdxl(edit(VPRED, v_parameterization=DROP)), sdxl(VPRED)),
    ("SDS_VPRED_ZTSNR", sdxl(edit(VPRED, zero_terminal_snr=DROP)), sdxl(VPRED)),
    ("SDS_VPRED_ON_EPS", lambda: run([sds(edit(SDXL, v_parameterization=None))], SD, "sdxl"),
     lambda: run([sds(SDXL)], SD, "sdxl")),
    ("SDS_CHROMA_T5_MASK", flux(edit(CHROMA, apply_t5_attn_mask=DROP)), flux(CHROMA)),
    ("SDS_CHROMA_GUIDANCE", flux(edit(CHROMA, guidance_scale=DROP)), flux(CHROMA)),
    ("SDS_CHROMA_MODEL_TYPE", lambda: run([sds(edit(CHROMA, model_type=DROP), "flux_train_network.py")], SD, "chroma"),
     lambda: run([sds(CHROMA, "flux_train_network.py")], SD, "chroma")),
    ("FLAG_REQUIRED", flux(edit(CHROMA, model_type=DROP)), flux(CHROMA)),
    ("SDS_SD3_SD_FLAGS", sd3(edit(SD35, clip_skip="2")), sd3(SD35)),
    ("NETWORK_MODULE", sd3(edit(SD35, network_module="networks.lora")), sd3(SD35)),
    ("NETWORK_MODULE", flux(edit(CHROMA, network_module="networks.lora_sd3")), flux(CHROMA)),
    # sd3_models.py enable_block_swap: at most num_blocks - 2 (large 38 -> 36, medium 24 -> 22)
    ("MEM_BLOCK_SWAP_MAX", sd3(edit(SD35, blocks_to_swap="37")), sd3(edit(SD35, blocks_to_swap="36"))),
    ("MEM_BLOCK_SWAP_MAX", sd3(edit(SD35, pretrained_model_name_or_path="sd3.5_medium.safetensors", blocks_to_swap="23")),
     sd3(edit(SD35, pretrained_model_name_or_path="sd3.5_medium.safetensors", blocks_to_swap="22"))),
    # LyCORIS (LoHa / LoKr through lycoris.kohya)
    ("LYCORIS_ALGO", sdxl(edit(LOHA, network_args=["algo=lohaa", "preset=attn-mlp"])), sdxl(LOHA)),
    ("LYCORIS_DIM", sdxl(edit(LOHA, network_dim="128", network_alpha="64")), sdxl(LOHA)),
    ("PATH_MIXED_PLATFORMS",
     musubi(edit(WAN_LOW, dit="/workspace/models/wan2.2_t2v_low_noise_14B_fp16.safetensors", output_dir="/root/out")),
     musubi(edit(WAN_LOW, dit="/workspace/models/wan2.2_t2v_low_noise_14B_fp16.safetensors", output_dir="/workspace/out"))),
    ("TRAIN_OUTPUT_MISSING", musubi(edit(WAN_LOW, output_dir=DROP)), musubi(WAN_LOW)),
    ("TRAIN_OUTPUT_COLLISION", lambda: run(wan_setup(wan_train(), wan_train(edit(WAN_HIGH, output_name="mylora_low")))),
     lambda: run(wan_setup(wan_train(), wan_train(WAN_HIGH)))),
    ("LOG_DIR_MISSING", musubi(edit(WAN_LOW, log_with="tensorboard")),
     musubi(edit(WAN_LOW, log_with="tensorboard", logging_dir="logs"))),
    # sd-scripts
    ("SDS_TE_CACHE_UNET_ONLY", sdxl(edit(SDXL, network_train_unet_only=DROP)), sdxl(SDXL)),
    ("SDS_FLUX_T5_TE_CACHE", flux(edit(FLUX, network_args=["train_t5xxl=True"])), flux(FLUX)),
    ("SDS_TE_CACHE_CAPTION_AUG",
     sdxl(SDXL, tomls={"ds.toml": SDXL_DS.replace("[general]", "[general]\nshuffle_caption = true")}), sdxl(SDXL)),
    ("SDS_LATENT_CACHE_AUG", sdxl(edit(SDXL, color_aug=None)), sdxl(edit(SDXL, flip_aug=None))),
    ("SDS_FLUX_DEFAULTS", flux(edit(FLUX, guidance_scale=DROP)), flux(FLUX)),
    ("SDS_FUSED_BACKWARD", sdxl(edit(SDXL, fused_backward_pass=None)), sdxl(SDXL)),
    ("SDS_TE_LR_PER_ENCODER", sdxl(edit(SDXL, network_train_unet_only=DROP, cache_text_encoder_outputs=DROP,
                                         text_encoder_lr=["1e-5", "2e-5"])),
     sdxl(edit(SDXL, network_train_unet_only=DROP, cache_text_encoder_outputs=DROP, text_encoder_lr=["1e-5"]))),
    # dataset TOML schema
    ("TOML_PARSE", wan_toml("[general\nresolution = 1"), wan_toml(WAN_DS)),
    ("TOML_UNKNOWN_KEY", sd_toml(SDXL_DS.replace("num_repeats = 1", "num_repeats = 1\n  interpolation_type = \"lanczos\"")),
     sd_toml(SDXL_DS.replace("num_repeats = 1", "num_repeats = 1\n  resize_interpolation = \"lanczos\""))),
    ("TOML_DEPRECATED_KEY", wan_toml(WAN_DS + "qwen_image_edit_no_resize_control = true\n"),
     wan_toml(WAN_DS + "no_resize_control = true\n")),
    ("TOML_GENERAL_KEY", wan_toml(WAN_DS.replace("[general]", "[general]\ncache_directory = \"/c\"")), wan_toml(WAN_DS)),
    ("TOML_KEY_LEVEL", sd_toml(SDXL_DS.replace("num_repeats = 1", "num_repeats = 1\n  validation_split = 0.1")),
     sd_toml(SDXL_DS.replace("batch_size = 1", "batch_size = 1\nvalidation_split = 0.1"))),
    ("TOML_VALUE_TYPE", wan_toml(WAN_DS.replace("30.0", "30")), wan_toml(WAN_DS)),
    ("TOML_TARGET_FRAMES", wan_toml(WAN_DS.replace("[1, 33, 81]", "[1, 32, 80]")), wan_toml(WAN_DS)),
    ("TOML_TARGET_FRAMES_MISSING", wan_toml(WAN_DS.replace("target_frames = [1, 33, 81]\n", "")), wan_toml(WAN_DS)),
    ("TOML_CACHE_DIR_UNIQUE",
     wan_toml(WAN_DS + '\n[[datasets]]\nimage_directory = "/data/images"\ncache_directory = "/data/cache/videos"\n'),
     wan_toml(WAN_DS + '\n[[datasets]]\nimage_directory = "/data/images"\ncache_directory = "/data/cache/images"\n')),
    ("TOML_REQUIRED", sd_toml(SDXL_DS.replace('image_dir = "/data/train/mystyle"', 'class_tokens = "x"')), sd_toml(SDXL_DS)),
    ("TOML_RESOLUTION_MISSING", sd_toml(SDXL_DS.replace("resolution = [1024, 1024]\n", "")), sd_toml(SDXL_DS)),
    ("TOML_BUCKET_STEPS", sd_toml(SDXL_DS.replace("batch_size = 1", "batch_size = 1\nbucket_reso_steps = 48")),
     sd_toml(SDXL_DS.replace("batch_size = 1", "batch_size = 1\nbucket_reso_steps = 32"))),
    ("TOML_BUCKET_RESO", sd_toml(SDXL_DS.replace("bucket_no_upscale = true", "").replace("[1024, 1024]", "1280")),
     sd_toml(SDXL_DS.replace("bucket_no_upscale = true", "max_bucket_reso = 2048").replace("[1024, 1024]", "1280"))),
    ("TOML_NOT_CHECKED", lambda: run(wan_setup(wan_train()), {}), musubi(WAN_LOW)),
    # the other direction or model of the same pitfall
    ("WAN_TASK_WEIGHTS", musubi(edit(WAN21, dit="wan2.1_i2v_480p_14B_bf16.safetensors"), mp="bf16"), musubi(WAN21, mp="bf16")),
    ("WAN_I2V_CACHE", musubi(WAN21_I2V, mp="bf16", caches=[cache_latents("--i2v"), cache_te()]),
     musubi(WAN21_I2V, mp="bf16", caches=[cache_latents("--clip", "clip.pth"), cache_te()])),
    ("WAN_FLF2V_NOT_ONE_FRAME",
     musubi({**WAN21_I2V, "--task": "flf2v-14B", "--dit": "wan2.1_flf2v_720p_14B_bf16.safetensors"}, mp="bf16",
            caches=[cache_latents("--clip", "clip.pth"), cache_te()]),
     musubi({**WAN21_I2V, "--task": "flf2v-14B", "--dit": "wan2.1_flf2v_720p_14B_bf16.safetensors"}, mp="bf16",
            caches=[cache_latents("--clip", "clip.pth", "--one_frame"), cache_te()])),
    # musubi-tuner docs/wan_1f.md: Wan 2.1 FLF2V one-frame training (tests/fixtures/validate/wan21_flf2v_1f.sh)
    ("WAN_ONE_FRAME_KEYS_MISSING", example(FLF2V_DOC, dataset=FLF2V_DS.replace("fp_1f_target_index = 1\n", "")),
     example(FLF2V_DOC, dataset=FLF2V_DS)),
    ("WAN_FLF2V_CONTROL_COUNT", example(FLF2V_DOC, dataset=FLF2V_DS.replace("[0, 2]", "[0]")), example(FLF2V_DOC, dataset=FLF2V_DS)),
    ("MEM_BLOCK_SWAP_CONFLICT", flux(edit(FLUX, cpu_offload_checkpointing=None)), flux(FLUX)),
    ("MEM_BLOCK_SWAP_MAX", flux(edit(FLUX, blocks_to_swap="36")), flux(edit(FLUX, blocks_to_swap="35"))),
    ("MEM_BLOCK_SWAP_MAX", musubi(edit(WAN21, task="t2v-1.3B", dit="wan2.1_t2v_1.3B_bf16.safetensors", blocks_to_swap="30"), mp="bf16"),
     musubi(edit(WAN21, task="t2v-1.3B", dit="wan2.1_t2v_1.3B_bf16.safetensors", blocks_to_swap="29"), mp="bf16")),
    ("PATH_MIXED_PLATFORMS",
     musubi(edit(WAN_LOW, dit="C:\\models\\wan2.2_t2v_low_noise_14B_fp16.safetensors", output_dir="/workspace/out")),
     musubi(edit(WAN_LOW, dit="/workspace/models/wan2.2_t2v_low_noise_14B_fp16.safetensors", output_dir="/workspace/out"))),
    ("MUSUBI_ATTENTION_REFUSED", qwen("--sdpa --mixed", "--flash3 --split_attn --mixed"), qwen()),
    ("MUSUBI_SPLIT_ATTN", qwen("--sdpa --mixed", "--xformers --mixed"), qwen("--sdpa --mixed", "--xformers --split_attn --mixed")),
    ("MUSUBI_IMAGE_MODEL_VIDEO", example("zimage_doc.sh", dataset=WAN_DS),
     example("zimage_doc.sh", dataset=WAN_DS.replace("video_directory", "image_directory"))),
    ("ZIMAGE_TURBO_DIT", example("zimage_doc.sh", "z_image_bf16", "z_image_turbo_bf16"), example("zimage_doc.sh")),
    ("MUSUBI_DISTILLED_MODEL", example("flux2_doc.sh", "klein-base-4b", "klein-4b"), example("flux2_doc.sh")),
    ("MUSUBI_TEXT_FP8_UNAVAILABLE", example("flux2_doc.sh", "--batch_size 16 \\\n    --model_version klein-base-4b",
                                            "--batch_size 16 --fp8_text_encoder \\\n    --model_version dev"),
     example("flux2_doc.sh", "--batch_size 16 \\\n    --model_version klein-base-4b", "--batch_size 16 --fp8_text_encoder \\\n    --model_version klein-base-4b")),
    ("MUSUBI_CONTROL_MISSING", example("kontext_doc.sh", dataset=(FIX / "qwen_ds.toml").read_text(encoding="utf-8")),
     example("kontext_doc.sh", dataset=(FIX / "control_ds.toml").read_text(encoding="utf-8"))),
    ("MUSUBI_CONTROL_RESOLUTION",
     example("qwen_image_doc.sh", "--model_version original", "--model_version edit",
             dataset=(FIX / "qwen_edit_ds.toml").read_text(encoding="utf-8").replace("control_resolution = [1024, 1024]\n", "")),
     example("qwen_image_doc.sh", "--model_version original", "--model_version edit", dataset=(FIX / "qwen_edit_ds.toml").read_text(encoding="utf-8"))),
    ("MUSUBI_IMAGE_ENCODER_MISSING",
     example("hv15_i2v_doc.sh", "    --image_encoder path/to/sigclip_vision_patch14_384.safetensors \\\n    --dataset_config",
             "    --dataset_config", dataset=WAN_DS),
     example("hv15_i2v_doc.sh", dataset=WAN_DS)),
    ("MUSUBI_MODEL_VERSION_MISMATCH", qwen("--model_version original \\\n    --dataset_config", "--model_version edit \\\n    --dataset_config"), qwen()),
    # pitfalls from the trainers' issue trackers (tests/test_validate_upstream.py has the header-reading sides)
    ("MUSUBI_CACHE_OTHER_MODEL", example("zimage_doc.sh", "zimage_cache_text_encoder_outputs.py", "cache_text_encoder_outputs.py"),
     example("zimage_doc.sh")),
    ("MUSUBI_CACHE_OTHER_MODEL", lambda: run(wan_setup(wan_train(), caches=[WAN_CACHE_HV, cache_te()])), musubi(WAN_LOW)),
    ("QWEN_EDIT_2511_DIT_VERSION", edit_2511_dit("original"), edit_2511_dit("edit-2511")),
    ("SDS_SD3_TEXT_ENCODERS", sd3(edit(SD35, t5xxl=DROP)), sd3(SD35)),
    ("SDS_VPRED_SCALED_LOSS_ZTSNR", sdxl(edit(VPRED, scale_v_pred_loss_like_noise_pred=None)), sdxl(VPRED)),
    ("SDS_CHROMA_SETTINGS", flux(edit(CHROMA, model_prediction_type=DROP)), flux(CHROMA)),
    ("MUSUBI_JSONL_SAME_NAME", kontext_jsonl("a.png", "b.png", "a.png"), kontext_jsonl("a.png", "b.png", "a_2.png")),
    ("MUSUBI_JSONL_SAME_NAME", kontext_jsonl("day/a.png", "night/a.jpg"), kontext_jsonl("day/a.png", "night/b.jpg")),
    ("SDS_CHROMA_SETTINGS", lambda: run([sds(edit(CHROMA, timestep_sampling="flux_shift"), "flux_train_network.py")], SD, "chroma"),
     lambda: run([sds(CHROMA, "flux_train_network.py")], SD, "chroma")),
]


def test_every_rule_has_a_case() -> None:
    covered = {code for code, _, _ in CASES}
    # rules needing real files on disk are tested in test_validate_files.py
    on_disk = {"PATH_MISSING", "TOML_QUOTED_NUMBER", "RESUME_RANK_MISMATCH", "TOML_CAPTION_EXTENSION",
               "SDS_CAPTION_EXTENSION", "TOML_TRAIN_DATA_DIR", "TOML_BATCH_GT_BUCKET", "WAN_BASE_WEIGHTS_NAMING"}
    assert {r.code for r in RULES} - covered - on_disk == set()


@pytest.mark.parametrize("code,bad,good", CASES, ids=[c[0] for c in CASES])
def test_rule_fires_and_fix_silences_it(code: str, bad: Make, good: Make) -> None:
    broken, fixed = bad(), good()
    hits = [f for f in broken.findings if f.code == code]
    assert hits, f"{code} did not fire: {sorted(codes(broken))}"
    assert code not in codes(fixed), [f.message for f in fixed.findings if f.code == code]
    for f in hits:
        assert f.message and f.fix and f.evidence, f
