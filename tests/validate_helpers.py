"""Building blocks for the validator tests: valid commands to break one flag at a time."""

from __future__ import annotations

from typing import Any

from loragate.validate import ValidationReport, validate_commands

DROP = object()

WAN_DS = """[general]
resolution = [832, 480]
caption_extension = ".txt"
batch_size = 1
enable_bucket = true

[[datasets]]
video_directory = "/data/videos"
cache_directory = "/data/cache/videos"
target_frames = [1, 33, 81]
frame_extraction = "head"
source_fps = 30.0
"""

SDXL_DS = """[general]
caption_extension = ".txt"
enable_bucket = true
bucket_no_upscale = true

[[datasets]]
resolution = [1024, 1024]
batch_size = 1

  [[datasets.subsets]]
  image_dir = "/data/train/mystyle"
  num_repeats = 1
"""

WAN_LOW: dict[str, Any] = {
    "--task": "t2v-A14B", "--dit": "wan2.2_t2v_low_noise_14B_fp16.safetensors", "--dataset_config": "ds.toml",
    "--sdpa": None, "--mixed_precision": "fp16", "--fp8_base": None, "--fp8_scaled": None,
    "--gradient_checkpointing": None, "--network_module": "networks.lora_wan", "--network_dim": "32",
    "--network_alpha": "1", "--optimizer_type": "adamw8bit", "--learning_rate": "2e-4",
    "--timestep_sampling": "shift", "--discrete_flow_shift": "3.0", "--min_timestep": "0", "--max_timestep": "875",
    "--preserve_distribution_shape": None, "--max_train_epochs": "16", "--save_every_n_epochs": "1",
    "--output_dir": "out", "--output_name": "mylora_low",
}
WAN_HIGH = {**WAN_LOW, "--dit": "wan2.2_t2v_high_noise_14B_fp16.safetensors", "--min_timestep": "875",
            "--max_timestep": "1000", "--output_name": "mylora_high"}
I2V_LOW = {**WAN_LOW, "--task": "i2v-A14B", "--dit": "wan2.2_i2v_low_noise_14B_fp16.safetensors",
           "--max_timestep": "900"}
I2V_DUAL = {**WAN_LOW, "--task": "i2v-A14B", "--dit": "wan2.2_i2v_low_noise_14B_fp16.safetensors",
            "--dit_high_noise": "wan2.2_i2v_high_noise_14B_fp16.safetensors", "--min_timestep": DROP,
            "--max_timestep": DROP, "--preserve_distribution_shape": DROP}
WAN21 = {**WAN_LOW, "--task": "t2v-14B", "--dit": "wan2.1_t2v_14B_bf16.safetensors", "--mixed_precision": "bf16",
         "--min_timestep": DROP, "--max_timestep": DROP, "--preserve_distribution_shape": DROP}
SDXL: dict[str, Any] = {
    "--pretrained_model_name_or_path": "sd_xl_base_1.0.safetensors", "--dataset_config": "ds.toml",
    "--output_dir": "out", "--output_name": "my_sdxl_lora", "--save_model_as": "safetensors",
    "--network_module": "networks.lora", "--network_dim": "32", "--network_alpha": "16", "--learning_rate": "1e-4",
    "--network_train_unet_only": None, "--cache_text_encoder_outputs": None, "--cache_latents": None,
    "--optimizer_type": "AdamW8bit", "--lr_scheduler": "constant", "--max_train_epochs": "10",
    "--save_every_n_epochs": "1", "--mixed_precision": "bf16", "--gradient_checkpointing": None, "--sdpa": None,
}
FLUX: dict[str, Any] = {
    "--pretrained_model_name_or_path": "flux1-dev.safetensors", "--clip_l": "clip_l.safetensors",
    "--t5xxl": "t5xxl_fp16.safetensors", "--ae": "ae.safetensors", "--dataset_config": "ds.toml",
    "--output_dir": "out", "--output_name": "my_flux_lora", "--network_module": "networks.lora_flux",
    "--network_dim": "16", "--network_alpha": "16", "--learning_rate": "1e-4", "--optimizer_type": "AdamW8bit",
    "--sdpa": None, "--max_train_epochs": "10", "--mixed_precision": "bf16", "--gradient_checkpointing": None,
    "--guidance_scale": "1.0", "--timestep_sampling": "flux_shift", "--model_prediction_type": "raw",
    "--blocks_to_swap": "18", "--cache_text_encoder_outputs": None, "--network_train_unet_only": None,
    "--cache_latents": None,
}


def edit(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Change flags by name (leading dashes dropped, so network_dim=...); DROP removes one."""
    out = dict(base)
    for key, value in changes.items():
        flag = "--" + key
        if value is DROP:
            out.pop(flag, None)
        else:
            out[flag] = value
    return out


def argv(script: str, flags: dict[str, Any], launcher: list[str] | None = None, extra: list[str] | None = None) -> list[str]:
    out = ["accelerate", "launch", *(launcher or []), script]
    for flag, value in flags.items():
        if value is DROP:
            continue
        out.append(flag)
        if isinstance(value, list):
            out += value
        elif value is not None:
            out.append(value)
    return out + (extra or [])


def wan_train(flags: dict[str, Any] | None = None, extra: list[str] | None = None, mp: str = "fp16") -> list[str]:
    return argv("wan_train_network.py", flags or WAN_LOW, ["--mixed_precision", mp], extra)


def cache_latents(*extra: str, ds: str = "ds.toml", vae: str = "wan_2.1_vae.safetensors") -> list[str]:
    return ["python", "src/musubi_tuner/wan_cache_latents.py", "--dataset_config", ds, "--vae", vae, *extra]


def cache_te(ds: str = "ds.toml") -> list[str]:
    return ["python", "src/musubi_tuner/wan_cache_text_encoder_outputs.py", "--dataset_config", ds,
            "--t5", "models_t5_umt5-xxl-enc-bf16.pth"]


def wan_setup(*trains: list[str], caches: list[list[str]] | None = None) -> list[list[str]]:
    return [*(caches if caches is not None else [cache_latents(), cache_te()]), *trains]


def sds(flags: dict[str, Any], script: str = "sdxl_train_network.py", extra: list[str] | None = None) -> list[str]:
    return argv(script, flags, ["--num_cpu_threads_per_process", "1"], extra)


def run(commands: list[list[str]], tomls: dict[str, str] | None = None, model: str | None = None) -> ValidationReport:
    return validate_commands(commands, tomls if tomls is not None else {"ds.toml": WAN_DS}, model=model)


def codes(report: ValidationReport) -> set[str]:
    return {f.code for f in report.findings}


def blocking(report: ValidationReport) -> list[str]:
    return [f"{f.code}: {f.message}" for f in report.findings if f.severity == "block"]


# sd-scripts docs/flux_train_network.md "Training Chroma Models" with its recommended settings
CHROMA: dict[str, Any] = {
    **edit(FLUX, clip_l=DROP, guidance_scale="0.0", timestep_sampling="sigmoid", blocks_to_swap=DROP,
           output_name="my_chroma_lora"),
    "--pretrained_model_name_or_path": "Chroma.safetensors", "--model_type": "chroma", "--apply_t5_attn_mask": None,
}
# sd-scripts docs/sd3_train_network.md §4 example command (bf16 for its fp16, as the catalog says; TE caching added)
SD35: dict[str, Any] = {
    "--pretrained_model_name_or_path": "sd3.5_large.safetensors", "--clip_l": "clip_l.safetensors",
    "--clip_g": "clip_g.safetensors", "--t5xxl": "t5xxl_fp16.safetensors", "--dataset_config": "ds.toml",
    "--output_dir": "out", "--output_name": "my_sd3_lora", "--save_model_as": "safetensors",
    "--network_module": "networks.lora_sd3", "--network_dim": "16", "--network_alpha": "16",
    "--learning_rate": "1e-4", "--optimizer_type": "AdamW8bit", "--lr_scheduler": "constant", "--sdpa": None,
    "--max_train_epochs": "10", "--save_every_n_epochs": "1", "--mixed_precision": "bf16",
    "--gradient_checkpointing": None, "--weighting_scheme": "uniform", "--blocks_to_swap": "32",
    "--cache_latents": None, "--cache_text_encoder_outputs": None, "--network_train_unet_only": None,
}
# an SDXL command on NoobAI-XL V-Pred with the two flags it needs (sd-scripts #1772)
VPRED: dict[str, Any] = {**SDXL, "--pretrained_model_name_or_path": "NoobAI-XL-Vpred-v1.0.safetensors",
                         "--v_parameterization": None, "--zero_terminal_snr": None}
# LyCORIS' guidelines' LoHa (attn-mlp preset, dim 16) on SDXL (LyCORIS docs/Guidelines.md table)
LOHA: dict[str, Any] = {**SDXL, "--network_module": "lycoris.kohya", "--network_dim": "16", "--network_alpha": "8",
                        "--network_args": ["algo=loha", "preset=attn-mlp"]}
