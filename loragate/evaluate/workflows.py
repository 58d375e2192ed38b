"""ComfyUI API-format workflows, one per model family group, for one grid cell.

API format is `{node_id: {"class_type": ..., "inputs": {...}}}`, a link being `[node_id, output]`
(what ComfyUI's "Save (API)" writes and `POST /prompt` takes). SD 1.5 / SDXL put the LoRA on the
model and the text encoder (`LoraLoader`); FLUX and Wan LoRAs from the kohya trainers touch the
diffusion model only (`LoraLoaderModelOnly`). Wan 2.2 uses both experts, each with its own LoRA,
the high-noise one for the first half of the steps (ComfyUI's Wan 2.2 template splits there too).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, Field

from loragate.backends.generation import LIGHTNING_STEPS, CellSpec
from loragate.catalog.models import ModelFamily
from loragate.core.plan import TrainingPlan

Workflow = dict[str, dict[str, Any]]
NEGATIVE = "blurry, low quality, watermark"


class ModelNames(BaseModel):
    """Model file names as ComfyUI lists them (base names in its models folders)."""

    checkpoint: str | None = None
    unet: str | None = None
    unet_high: str | None = None
    clip: str | None = None
    clip2: str | None = None
    vae: str | None = None
    lightning: str | None = Field(default=None, description="Wan 2.2 Lightning LoRA stacked on the low-noise expert.")
    lightning_high: str | None = Field(default=None, description="Wan 2.2 Lightning LoRA stacked on the high-noise expert.")


def model_names(plan: TrainingPlan, lightning: list[str] | None = None) -> ModelNames:
    """The plan's weights by file name: ComfyUI finds models by name in its own folders. `lightning`:
    the Lightning LoRAs (low, high) to stack after the artist's LoRA on each expert."""
    w = plan.weights
    stack = list(lightning or [])

    def name(path: str | None) -> str | None:
        return PurePath(path).name if path else None

    return ModelNames(
        checkpoint=name(w.base_model), unet=name(w.dit) or name(w.base_model if plan.model.startswith("flux") else None),
        unet_high=name(w.dit_high_noise), clip=name(w.t5) or name(w.clip_l), clip2=name(w.t5xxl), vae=name(w.vae) or name(w.ae),
        lightning=name(stack[0]) if stack else None, lightning_high=name(stack[1]) if len(stack) > 1 else None,
    )


def _lora_name(path: str | None) -> str:
    if not path:
        raise ValueError("an SD, SDXL or FLUX cell always has a LoRA")
    return PurePath(path).name


def _sd(cell: CellSpec, names: ModelNames, cfg: float, family: ModelFamily) -> Workflow:
    wf: Workflow = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": names.checkpoint}},
        "2": {"class_type": "LoraLoader", "inputs": {
            "model": ["9", 0] if family.v_prediction else ["1", 0], "clip": ["1", 1], "lora_name": _lora_name(cell.lora),
            "strength_model": cell.weight, "strength_clip": cell.weight}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": cell.prompt, "clip": ["2", 1]}},
        "4": {"class_type": "CLIPTextEncode", "inputs": {"text": NEGATIVE, "clip": ["2", 1]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": cell.width, "height": cell.height, "batch_size": 1}},
        "6": {"class_type": "KSampler", "inputs": {
            "model": ["2", 0], "positive": ["3", 0], "negative": ["4", 0], "latent_image": ["5", 0], "seed": cell.seed,
            "steps": cell.steps, "cfg": cfg, "sampler_name": "euler_ancestral", "scheduler": "normal", "denoise": 1.0}},
        "7": {"class_type": "VAEDecode", "inputs": {"samples": ["6", 0], "vae": ["1", 2]}},
        "8": {"class_type": "SaveImage", "inputs": {"images": ["7", 0], "filename_prefix": cell.prefix}},
    }
    if family.v_prediction:
        # a v-prediction checkpoint sampled as epsilon gives brown pictures; ComfyUI's ModelSamplingDiscrete says v
        wf["9"] = {"class_type": "ModelSamplingDiscrete", "inputs": {
            "model": ["1", 0], "sampling": "v_prediction", "zsnr": family.zero_terminal_snr}}
    return wf


def _flux(cell: CellSpec, names: ModelNames) -> Workflow:
    return {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": names.unet, "weight_dtype": "default"}},
        "2": {"class_type": "DualCLIPLoader", "inputs": {"clip_name1": names.clip, "clip_name2": names.clip2, "type": "flux"}},
        "3": {"class_type": "VAELoader", "inputs": {"vae_name": names.vae}},
        "4": {"class_type": "LoraLoaderModelOnly", "inputs": {
            "model": ["1", 0], "lora_name": _lora_name(cell.lora), "strength_model": cell.weight}},
        "5": {"class_type": "CLIPTextEncode", "inputs": {"text": cell.prompt, "clip": ["2", 0]}},
        # eval-methodology.md: judge FLUX at the guidance it will be used with (3.5), not training's 1.0
        "6": {"class_type": "FluxGuidance", "inputs": {"conditioning": ["5", 0], "guidance": 3.5}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["2", 0]}},
        "8": {"class_type": "EmptySD3LatentImage", "inputs": {"width": cell.width, "height": cell.height, "batch_size": 1}},
        "9": {"class_type": "KSampler", "inputs": {
            "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["8", 0], "seed": cell.seed,
            "steps": cell.steps, "cfg": 1.0, "sampler_name": "euler", "scheduler": "simple", "denoise": 1.0}},
        "10": {"class_type": "VAEDecode", "inputs": {"samples": ["9", 0], "vae": ["3", 0]}},
        "11": {"class_type": "SaveImage", "inputs": {"images": ["10", 0], "filename_prefix": cell.prefix}},
    }


def _stack(wf: Workflow, node: str, model: list[Any], lora: str | None) -> list[Any]:
    """Lightning loaded after the artist's LoRA on one expert (never merged into a saved model)."""
    if not lora:
        return model
    wf[node] = {"class_type": "LoraLoaderModelOnly", "inputs": {"model": model, "lora_name": lora, "strength_model": 1.0}}
    return [node, 0]


def _wan(cell: CellSpec, names: ModelNames, family: ModelFamily) -> Workflow:
    shift = family.flow_shift or 5.0
    fast = bool(names.lightning or names.lightning_high)
    steps = LIGHTNING_STEPS if fast else cell.steps
    wf: Workflow = {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": names.unet, "weight_dtype": "default"}},
        "2": {"class_type": "CLIPLoader", "inputs": {"clip_name": names.clip, "type": "wan"}},
        "3": {"class_type": "VAELoader", "inputs": {"vae_name": names.vae}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": cell.prompt, "clip": ["2", 0]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": NEGATIVE, "clip": ["2", 0]}},
        "8": {"class_type": "EmptyHunyuanLatentVideo", "inputs": {
            "width": cell.width, "height": cell.height, "length": cell.frames, "batch_size": 1}},
    }
    if cell.lora:
        wf["4"] = {"class_type": "LoraLoaderModelOnly", "inputs": {
            "model": ["1", 0], "lora_name": PurePath(cell.lora).name, "strength_model": cell.weight}}
    wf["5"] = {"class_type": "ModelSamplingSD3", "inputs": {
        "model": _stack(wf, "16", ["4", 0] if cell.lora else ["1", 0], names.lightning), "shift": shift}}
    # Lightning is distilled for CFG 1: guidance would double the cost and burn the picture
    common = {"positive": ["6", 0], "negative": ["7", 0], "cfg": 1.0 if fast else 5.0, "sampler_name": "euler", "scheduler": "simple"}
    if names.unet_high:
        half = steps // 2
        wf["11"] = {"class_type": "UNETLoader", "inputs": {"unet_name": names.unet_high, "weight_dtype": "default"}}
        if cell.lora_high:
            wf["12"] = {"class_type": "LoraLoaderModelOnly", "inputs": {
                "model": ["11", 0], "lora_name": PurePath(cell.lora_high).name, "strength_model": cell.weight}}
        high = _stack(wf, "17", ["12", 0] if cell.lora_high else ["11", 0], names.lightning_high)
        wf["13"] = {"class_type": "ModelSamplingSD3", "inputs": {"model": high, "shift": shift}}
        wf["14"] = {"class_type": "KSamplerAdvanced", "inputs": {
            **common, "model": ["13", 0], "latent_image": ["8", 0], "add_noise": "enable", "noise_seed": cell.seed,
            "steps": steps, "start_at_step": 0, "end_at_step": half, "return_with_leftover_noise": "enable"}}
        wf["9"] = {"class_type": "KSamplerAdvanced", "inputs": {
            **common, "model": ["5", 0], "latent_image": ["14", 0], "add_noise": "disable", "noise_seed": cell.seed,
            "steps": steps, "start_at_step": half, "end_at_step": 10000, "return_with_leftover_noise": "disable"}}
    else:
        wf["9"] = {"class_type": "KSampler", "inputs": {
            **common, "model": ["5", 0], "latent_image": ["8", 0], "seed": cell.seed, "steps": steps, "denoise": 1.0}}
    wf["10"] = {"class_type": "VAEDecode", "inputs": {"samples": ["9", 0], "vae": ["3", 0]}}
    if cell.frames > 1:
        wf["15"] = {"class_type": "SaveAnimatedWEBP", "inputs": {
            "images": ["10", 0], "filename_prefix": cell.prefix, "fps": 16.0, "lossless": False, "quality": 90, "method": "default"}}
    else:
        wf["15"] = {"class_type": "SaveImage", "inputs": {"images": ["10", 0], "filename_prefix": cell.prefix}}
    return wf


def has_workflow(family: ModelFamily) -> bool:
    """Whether the ComfyUI workflows here draw this family: SD 1.5, SDXL, FLUX.1 dev and Wan. SD 3.5
    (TripleCLIP), Chroma (T5 only, real CFG) and the musubi models marked `evaluation = false`
    (Qwen-Image, Z-Image, FLUX.2, Kontext, HunyuanVideo 1.5) are drawn by their trainer's scripts only."""
    return family.evaluation and family.model_type is None and family.checkpoint_kind != "sd3"


def build_workflow(cell: CellSpec, family: ModelFamily, names: ModelNames) -> Workflow:
    if family.group == "wan":
        return _wan(cell, names, family)
    if family.group == "flux":
        return _flux(cell, names)
    return _sd(cell, names, cfg=7.0, family=family)


def lora_nodes(workflow: Workflow) -> list[str]:
    """The LoRA file names a workflow loads (what /object_info must list)."""
    return [
        str(node["inputs"]["lora_name"]) for node in workflow.values()
        if node.get("class_type") in ("LoraLoader", "LoraLoaderModelOnly")
    ]


def model_inputs(workflow: Workflow) -> list[tuple[str, str, str]]:
    """(node class, input name, file name) for every model file a workflow loads besides LoRAs."""
    keys = ("ckpt_name", "unet_name", "clip_name", "clip_name1", "clip_name2", "vae_name")
    return [
        (node["class_type"], key, str(node["inputs"][key]))
        for node in workflow.values() for key in keys if key in node.get("inputs", {})
    ]
