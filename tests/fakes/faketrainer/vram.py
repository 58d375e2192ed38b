"""A crude VRAM estimate of a requested configuration, compared with FAKE_VRAM_GB.

Not a model of the real trainers; only monotone in the knobs the OOM ladder turns (batch size,
resolution, frames, block swap, fp8, gradient checkpointing), so each change can make a run fit.
Weight sizes follow the reference: Wan 14B 28.6 GB bf16 / 14.3 GB fp8, 351 M params per block
(musubi-tuner.md sections 1.4 and 4.2).
"""

from __future__ import annotations

from argparse import Namespace

# task -> (billions of params, number of blocks, activation GB per 1k tokens with checkpointing)
_WAN = {
    "1.3B": (1.42, 30, 0.08),
    "14B": (14.29, 40, 0.30),
    "i2v14B": (16.39, 40, 0.30),
}


def _wan_size(task: str) -> tuple[float, int, float]:
    if "1.3B" in task:
        return _WAN["1.3B"]
    if task in ("i2v-14B", "flf2v-14B") or task.endswith("-FC"):
        return _WAN["i2v14B"]
    return _WAN["14B"]


def wan_gb(args: Namespace, batch: int, width: int, height: int, frames: int) -> float:
    params, blocks, per_k_tokens = _wan_size(args.task)
    bytes_per = 1.0 if args.fp8_base else 2.0
    weights = params * bytes_per
    swapped = min(args.blocks_to_swap or 0, blocks - 1)
    weights -= swapped * params / blocks * bytes_per
    if args.dit_high_noise and not args.offload_inactive_dit:
        weights += params * bytes_per  # the inactive expert stays on the GPU
    tokens = batch * ((frames - 1) // 4 + 1) * (height // 16) * (width // 16)
    activations = tokens / 1000 * per_k_tokens * (1 if args.gradient_checkpointing else 5)
    return round(weights + activations + 2.0 + 1.0, 2)  # + LoRA/optimizer + CUDA context


# script -> (weights GB in bf16, activation GB per megapixel image with checkpointing, text encoders GB)
_SD = {
    "train_network.py": (2.0, 3.0, 0.25),
    "sdxl_train_network.py": (5.1, 4.0, 1.6),
    "flux_train_network.py": (23.8, 6.0, 9.5),
    "sd3_train_network.py": (16.2, 5.0, 11.2),  # SD 3.5 Large: 8.1 B in bf16; CLIP-L + CLIP-G + T5-XXL
}


def sd_gb(script: str, args: Namespace, batch: int, width: int, height: int) -> float:
    weights, per_mp, te = _SD[script]
    if args.fp8_base or getattr(args, "fp8_base_unet", False):
        weights /= 2
    swap = getattr(args, "blocks_to_swap", None) or 0
    weights -= min(swap, 35) * weights / 57  # FLUX: 19 double + 38 single blocks
    if getattr(args, "cache_text_encoder_outputs", False) or getattr(args, "cache_text_encoder_outputs_to_disk", False):
        te = 0.0
    activations = batch * (width * height / 1_048_576) * per_mp * (1 if args.gradient_checkpointing else 3)
    return round(weights + te + activations + 1.0 + 1.0, 2)
