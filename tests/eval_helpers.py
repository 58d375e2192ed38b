"""A trained project for the evaluation tests: a saved plan, a dataset and LoRA checkpoints."""

from __future__ import annotations

import os
import time
from pathlib import Path

from loragate.plan.new import new_plan
from loragate.plan.store import save_plan
from tests.media import write_safetensors_header
from tests.plan_helpers import fake_weights, flat_dataset

SDXL_KEYS = ("lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q", "lora_te1_text_model_encoder_layers_0_mlp_fc1")
WAN_KEYS = ("lora_unet_blocks_0_cross_attn_k", "lora_unet_blocks_0_self_attn_q")


def write_lora(path: Path, keys: tuple[str, ...] = SDXL_KEYS, effect: float = 1.0, rank: int = 4) -> Path:
    tensors = {}
    for key in keys:
        tensors[f"{key}.lora_down.weight"] = ("F16", [rank, 64])
        tensors[f"{key}.lora_up.weight"] = ("F16", [64, rank])
    return write_safetensors_header(path, tensors, {"fake_effect": str(effect)})


def trained_project(root: Path, name: str = "mira", epochs: tuple[int, ...] = (2, 4, 6), effect: float = 1.0,
                    keys: tuple[str, ...] = SDXL_KEYS, model: str = "sdxl", **plan_options: object):
    """An SDXL plan with per-epoch checkpoints and the final LoRA in its output folder."""
    data = flat_dataset(root)
    plan = new_plan(name, model, data, name, gpu_gb=24, weights=fake_weights(root, model), **plan_options)  # type: ignore[arg-type]
    save_plan(plan)
    out = Path(plan.output_dir)
    stamp = time.time() - 1000
    for n, epoch in enumerate(epochs):
        path = write_lora(out / f"{name}-{epoch:06d}.safetensors", keys, effect)
        os.utime(path, (stamp + n, stamp + n))
    final = write_lora(out / f"{name}.safetensors", keys, effect)
    os.utime(final, (stamp + 100, stamp + 100))
    return plan
