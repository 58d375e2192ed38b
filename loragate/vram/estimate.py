"""VRAM estimate from first principles: weights, LoRA with gradients and optimizer state,
activations per token and block, text encoders and VAE when not cached, CUDA context.

Sources for the arithmetic: reference/musubi-tuner.md §1.4 (parameter and LoRA counts), §2 (token
count: Wan DiT sequence = ((F-1)/4+1)·(H/16)·(W/16)), §4.2 (weight memory, block swap moves whole
blocks to host RAM); reference/sd-scripts.md §1.3-1.4 (FLUX block swap, caching flags);
reference/peers.md §4.2 (the additive shape). Constants in loragate/data/vram_constants.toml.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from loragate.backends.traits import traits
from loragate.catalog.datafile import read_data_toml
from loragate.catalog.models import ModelFamily, get_family
from loragate.catalog.optimizers import get_optimizer
from loragate.core.errors import LoragateError
from loragate.vram.model import VramEstimate, VramRequest

GB = 1e9
MARGIN = 0.2  # Gate 2 adds 20% to the estimate before comparing it with the GPU (the /train workflow's safety margin)
_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0}
# musubi --fp8_scaled: one fp32 scale per 64 weights (reference/musubi-tuner.md §1.5 "block-wise (64)")
_FP8_SCALED_BYTES = 1.0 + 4.0 / 64


@lru_cache(maxsize=1)
def constants() -> dict[str, Any]:
    from loragate.catalog.integrity import VramConstantsFile

    raw = read_data_toml("vram_constants.toml")
    VramConstantsFile.model_validate(raw)  # unknown keys and out-of-bound values are errors, not ignored
    return raw


def sequence_tokens(family: ModelFamily, width: int, height: int, frames: int) -> int:
    """Tokens the backbone sees per sample: latent frames x (H/ds/ph) x (W/ds/pw) (+ joint text tokens)."""
    pt, ph, pw = family.patch_size
    latent_frames = (frames - 1) // family.latent_frame_stride + 1 if family.video else 1
    grid = (height // family.latent_downscale // ph) * (width // family.latent_downscale // pw)
    # the control image, resized to the target's size by default (musubi-tuner docs/dataset_config.md),
    # joins the sequence beside it (FLUX.1 Kontext, Qwen-Image-Edit)
    pictures = 2 if family.control_images else 1
    if family.one_frame:  # the one-frame cache holds the target and each control image as latent frames (wan_cache_latents.py)
        pictures = 1 + len(family.one_frame.clean_indices)
    return max(1, latent_frames // pt) * grid * pictures


def _activation_units(family: ModelFamily, tokens: int) -> tuple[float, float]:
    """(sum over blocks of tokens x channels, the largest single block's tokens x channels)."""
    levels = family.activation_levels or [[family.layers, 1, family.hidden_size]]
    total = largest = 0.0
    for blocks, downscale, channels in levels:
        per_block = tokens / (downscale * downscale) * channels
        total += blocks * per_block
        largest = max(largest, per_block)
    return total, largest


def _check(req: VramRequest, family: ModelFamily) -> None:
    if req.blocks_to_swap > family.block_swap_max:
        if family.block_swap_max == 0:
            raise LoragateError(
                f"{family.display_name} has no block swap in its trainer.",
                "Drop --blocks-to-swap; use fp8, a smaller batch or a lower resolution instead.",
            )
        raise LoragateError(
            f"{family.display_name} can swap at most {family.block_swap_max} blocks; {req.blocks_to_swap} was asked.",
            f"Use --blocks-to-swap {family.block_swap_max} or less.",
        )
    if req.fp8_scaled and not req.fp8_base:
        # musubi trainer_base._validate_args_and_init asserts this (reference/musubi-tuner.md §1.3)
        raise LoragateError("--fp8-scaled only works together with --fp8-base.", "Add --fp8-base, or drop --fp8-scaled.")
    if family.video and req.frames > 1 and (req.frames - 1) % 4:
        raise LoragateError(
            f"{req.frames} frames is not 4n+1; Wan rounds it down (reference/musubi-tuner.md §2).",
            "Use 1, 5, 9, ... 33, ... 81 frames.",
        )
    if not family.video and req.frames != 1:
        raise LoragateError(f"{family.display_name} trains on still images.", "Leave --frames out (or 1).")


def raw_terms(req: VramRequest) -> tuple[dict[str, dict[str, float]], float, int]:
    """Each phase's terms in GB (before any per-machine correction), host RAM in GB, tokens."""
    family = get_family(req.model)
    _check(req, family)
    c = constants()
    arch = c[family.architecture]
    common = c["common"]
    width, height = req.resolution
    tokens = sequence_tokens(family, width, height, req.frames) + family.text_tokens_in_sequence
    release_bytes = _BYTES.get(family.weights_precision, 2.0)

    # Backbone weights: fp8 with --fp8_base, else the mixed-precision dtype; swapped blocks live in host RAM.
    weight_bytes = (_FP8_SCALED_BYTES if req.fp8_scaled else 1.0) if req.fp8_base else 2.0
    swapped_b = req.blocks_to_swap * family.block_params_b
    resident_b = family.params_b - swapped_b
    training: dict[str, float] = {"weights": resident_b * weight_bytes}
    if req.blocks_to_swap:
        # one block is in flight back to the GPU while its neighbour computes
        training["block_swap_buffer"] = family.block_params_b * weight_bytes

    # LoRA: fp32 weights + fp32 gradients + optimizer state (loragate/data/optimizers.toml).
    lora_params = family.lora_params_per_rank * req.rank
    if req.train_text_encoder:
        lora_params += family.te_lora_params_per_rank * req.rank
    optimizer = get_optimizer(req.optimizer)
    training["lora_weights_and_grads"] = lora_params * 8.0 / GB
    training["optimizer_state"] = lora_params * optimizer.state_bytes_per_param / GB

    # Activations: with checkpointing only each block's input stays, plus one block being recomputed.
    units, largest = _activation_units(family, tokens)
    if req.gradient_checkpointing:
        act = req.batch * (units * family.residual_bytes * arch["boundary_scale"] + largest * arch["block_bytes"])
    else:
        act = req.batch * units * arch["block_bytes"]
    training["activations"] = act * common["allocator_overhead"] / GB

    te_b = sum(te.params_b for te in family.text_encoders)
    te_bytes = 1.0 if req.fp8_text_encoder else 2.0
    if not req.cache_text_encoder_outputs or req.train_text_encoder:
        training["text_encoders"] = te_b * te_bytes
    vae_phase = family.vae_params_b * 2.0 + _vae_features_gb(family, req, common)
    if not req.cache_latents:
        training["vae"] = vae_phase
    training["cuda_context"] = common["cuda_context_gb"]

    phases = {"training": training}
    if req.cache_text_encoder_outputs and family.text_encoders:
        # the text encoders run alone (musubi: a separate script; sd-scripts: before the backbone is on the GPU)
        phases["text_encoder_caching"] = {
            "text_encoders": max(te.params_b for te in family.text_encoders) * te_bytes,
            "cuda_context": common["cuda_context_gb"],
        }
    if req.cache_latents:
        phases["latent_caching"] = {"vae": vae_phase, "cuda_context": common["cuda_context_gb"]}

    if req.sampling:
        phases.update(_sampling_phases(family, req, training, largest * arch["block_bytes"] * common["allocator_overhead"] / GB,
                                       vae_phase, te_b * te_bytes, common["cuda_context_gb"]))

    # Host RAM: the process, the weights file while loading (musubi loads the DiT to the CPU first when
    # swapping), and the swapped blocks, which stay there for the whole run.
    host = common["host_base_gb"] + family.params_b * release_bytes + swapped_b * weight_bytes
    return phases, host, tokens


def _sampling_phases(
    family: ModelFamily, req: VramRequest, training: dict[str, float], inference_gb: float, vae_gb: float, te_gb: float,
    context_gb: float,
) -> dict[str, dict[str, float]]:
    """Samples while training: the training state stays on the card while one sample is denoised
    (no gradients, one block's activations) and decoded by the VAE; sd-scripts also brings its text
    encoders back. musubi encodes the sample prompts with T5 alone before the DiT loads
    (wan_train_network.process_sample_prompts)."""
    sampling = {k: v for k, v in training.items() if k != "activations"}
    sampling["sample_inference"] = inference_gb
    sampling.setdefault("vae", vae_gb)
    first = traits(family.trainer).sample_prompts_encoded_first
    if not first and family.text_encoders:
        sampling.setdefault("text_encoders", te_gb)
    phases = {"sampling": sampling}
    if first and family.text_encoders:
        phases["sample_prompt_encoding"] = {"text_encoders": te_gb, "cuda_context": context_gb}
    return phases


def _vae_features_gb(family: ModelFamily, req: VramRequest, common: dict[str, Any]) -> float:
    width, height = req.resolution
    # the Wan VAE encodes causally, 4 frames at a time (reference/musubi-tuner.md §1.1, VAE stride 4)
    frames = min(req.frames, family.latent_frame_stride) if family.video else 1
    return width * height * frames * 128 * 2.0 * common["vae_feature_maps"] * req.batch / GB


def base_estimate(req: VramRequest) -> VramEstimate:
    """The pure estimate: peak GPU memory, host RAM and (with gpu_gb) whether it fits with the 20% margin,
    from the request and the catalogue data alone. No machine state and no calibration file is read
    here, so the same request gives the same answer on every machine; the per-machine correction
    (loragate.vram.calibration) and the fit plan (loragate.vram.fitplan) are layers above it."""
    family = get_family(req.model)
    phases, host, tokens = raw_terms(req)
    totals = {name: round(sum(terms.values()), 2) for name, terms in phases.items()}
    peak = max(totals, key=lambda name: totals[name])
    notes: list[str] = []
    if req.blocks_to_swap:
        notes.append(f"Block swap keeps {req.blocks_to_swap} blocks in main memory: each step is slower.")
    if family.group == "flux" or req.blocks_to_swap:
        notes.append(f"Needs about {math.ceil(host)} GB of main memory (RAM) to load and run.")
    if req.fp8_base and not req.fp8_scaled and traits(family.trainer).fp8_scaled and family.weights_precision in ("bf16", "fp16"):
        notes.append("fp8 without --fp8_scaled briefly needs more memory while loading (musubi-tuner issue #599).")
    return VramEstimate(
        model=family.id,
        request=req,
        estimate_gb=totals[peak],
        peak_phase=peak,
        breakdown={k: round(v, 2) for k, v in phases[peak].items()},
        phases=totals,
        host_ram_gb=round(host, 1),
        tokens=tokens,
        gpu_gb=req.gpu_gb,
        margin=MARGIN,
        fits=fits(totals[peak], req.gpu_gb) if req.gpu_gb is not None else None,
        notes=notes,
    )


def fits(estimate_gb: float, gpu_gb: float) -> bool:
    return estimate_gb * (1 + MARGIN) <= gpu_gb
