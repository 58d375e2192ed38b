"""Does a LoRA file's layer names fit the model it is loaded on?

A LoRA whose keys name layers the model does not have loads without an error: ComfyUI prints
"lora key not loaded" for each one and the picture is unchanged. The kohya trainers name keys
after the module path (sd-scripts `networks/lora.py` LORA_PREFIX_UNET "lora_unet" + the module
name with '.' -> '_'; musubi-tuner `networks/lora_wan.py` the same on the Wan DiT), so the
prefix tells which architecture a file was trained on.
"""

from __future__ import annotations

from pathlib import Path

from loragate.backends.generation import generator_for
from loragate.catalog.models import ModelFamily
from loragate.environment.safetensors_header import HeaderProblem, read_header
from loragate.core.findings import Finding

# the prefixes of each architecture's LoRA keys (SD 1.5 UNet in diffusers naming, SDXL in SGM naming)
PREFIXES: dict[str, tuple[str, ...]] = {
    "wan": ("lora_unet_blocks_",),
    "flux": ("lora_unet_double_blocks_", "lora_unet_single_blocks_", "lora_te1_", "lora_te3_"),
    # sd-scripts networks/lora_sd3.py: LORA_PREFIX_SD3 "lora_unet" on MMDiT joint_blocks; te1/te2 CLIP-L/G
    "sd3": ("lora_unet_joint_blocks_", "lora_te1_", "lora_te2_"),
    "sdxl": ("lora_unet_input_blocks_", "lora_unet_output_blocks_", "lora_unet_middle_block_", "lora_te1_", "lora_te2_"),
    "sd": ("lora_unet_down_blocks_", "lora_unet_up_blocks_", "lora_unet_mid_block_", "lora_te_"),
}


def _prefixes(family: ModelFamily) -> dict[str, tuple[str, ...]]:
    """The architectures' prefixes, with the family's own where its generator names them (the
    musubi DiTs beyond Wan: loragate/data/generation.toml lora_prefixes)."""
    gen = generator_for(family)
    return {family.id: tuple(gen.lora_prefixes), **PREFIXES} if gen and gen.lora_prefixes else PREFIXES


def architecture(family: ModelFamily) -> str:
    gen = generator_for(family)
    if gen and gen.lora_prefixes:
        return family.id
    if family.checkpoint_kind == "sd3":
        return "sd3"
    if family.group in ("wan", "flux"):
        return family.group
    return "sdxl" if family.scripts.get("train", "").startswith("sdxl") else "sd"


def lora_key_findings(path: Path, family: ModelFamily) -> list[Finding]:
    """A block when most of the file's LoRA layers would not load into this family's model."""
    try:
        tensors, _ = read_header(path)
    except (HeaderProblem, OSError) as exc:
        return [Finding(code="EVAL_LORA_UNREADABLE", severity="block", message=f"The LoRA {path.name} cannot be read ({exc}).",
                        fix="Check the file was copied completely; pick another checkpoint.", path=str(path))]
    modules = sorted({name.split(".")[0] for name in tensors if name.startswith(("lora_", "oft_"))})
    if not modules:
        return [Finding(code="EVAL_LORA_KEYS", severity="block", message=f"{path.name} holds no LoRA layers in the kohya naming.",
                        fix="Give the LoRA file the trainer saved, not a merged model or another format.", path=str(path))]
    arch, prefixes = architecture(family), _prefixes(family)
    fitting = [m for m in modules if m.startswith(prefixes[arch])]
    if len(fitting) * 2 >= len(modules):
        return []
    others = [name for name, known in prefixes.items() if name != arch and sum(m.startswith(known) for m in modules) * 2 >= len(modules)]
    guess = f" It looks like a {others[0].upper()} LoRA." if others else ""
    return [Finding(
        code="EVAL_LORA_KEYS", severity="block",
        message=f"Only {len(fitting)} of the {len(modules)} layers in {path.name} exist in {family.display_name}: the rest would not "
                f"load (ComfyUI logs 'lora key not loaded') and the LoRA would change nothing.{guess}",
        fix="Evaluate it on the base model it was trained on (the plan's model), or check that the right file was given.",
        path=str(path), evidence={"layers": len(modules), "fitting": len(fitting), "example": modules[0]},
    )]
