"""Which trainer script a config TOML given on its own (no command names it) is meant for."""

from __future__ import annotations

from typing import Any

from loragate.catalog.models import get_family


def script_for_config(flat: dict[str, Any], model: str | None) -> str:
    """`flat`: the config's arguments, flattened as the trainers read them; `model`: the family the
    artist named, whose training script wins. Otherwise keys only one script takes decide."""
    if model:
        return get_family(model).scripts.get("train", "train_network.py").rsplit("/", 1)[-1]
    keys = set(flat)
    if keys & {"dit", "task", "dit_high_noise", "timestep_boundary"}:
        return "wan_train_network.py"
    if keys & {"clip_g", "training_shift", "weighting_scheme"}:
        return "sd3_train_network.py"
    if keys & {"ae", "t5xxl", "clip_l", "guidance_scale"}:
        return "flux_train_network.py"
    model_path = str(flat.get("pretrained_model_name_or_path", "")).lower()
    if keys & {"cache_text_encoder_outputs", "cache_text_encoder_outputs_to_disk", "no_half_vae"} or "xl" in model_path:
        return "sdxl_train_network.py"
    return "train_network.py"
