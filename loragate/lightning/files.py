"""What a Lightning LoRA file is, from its name and its safetensors header (never its tensors).

lightx2v publishes Wan2.2-Lightning as one folder per release and task, one file per expert
(`Wan2.2-T2V-A14B-4steps-lora-250928/high_noise_model.safetensors`, `.../low_noise_model.safetensors`);
Kijai's ComfyUI copies put both in the name (`Wan2.2-Lightning_I2V-A14B-4steps-lora_HIGH_fp16.safetensors`).
Their keys are `diffusion_model.blocks.N.<layer>.lora_A/lora_B.weight` with `.alpha` (diffusers
PR #12074 "has alpha keys"; diffusers `_convert_non_diffusers_wan_lora_to_diffusers` reads both
lora_A/B and lora_down/up). The two experts' files have the same layers and shapes, so only the
name tells them apart. musubi-tuner loads LoRAs only in its own naming (`lora_unet_blocks_N_...`,
networks/lora.py create_network_from_weights): the Wan trainer does not convert other namings
(WanNetworkTrainer keeps trainer_base.convert_weight_keys, which returns the keys as they are, where
hv_train_network.py converts), so a file in the release naming merges nothing, without an error.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePath
from typing import Literal

from pydantic import BaseModel, Field

from loragate.environment.safetensors_header import HeaderProblem, read_header
from loragate.core.plan import ExpertName

# Named by the keys' prefix: lora_unet_ (what musubi writes and merges) or the release's diffusion_model.
KeyFormat = Literal["lora_unet", "release", "unknown"]

# musubi-tuner src/musubi_tuner/convert_lora.py: turns the release naming into musubi's own.
CONVERT_SCRIPT = "src/musubi_tuner/convert_lora.py"
# Names artists and publishers give distillation LoRAs for Wan (lightx2v, Kijai's copies).
_LIGHTNING_NAME = re.compile(r"lightning|lightx2v|[_-]4steps?[_-]|distill|cfg[_-]?step", re.I)
_TOKENS = re.compile(r"[^a-z0-9]+")
_TASK = re.compile(r"(?<![a-z])(t2v|i2v)(?![a-z])", re.I)
_BLOCK = re.compile(r"blocks[._](\d+)[._]")
_IMAGE_LAYERS = ("k_img", "v_img", "img_emb")
_LORA_UNET_PREFIX = "lora_unet_"
_RELEASE_PREFIXES = ("diffusion_model.", "transformer.", "model.diffusion_model.")


class LightningFile(BaseModel):
    """A Lightning LoRA as loragate reads it."""

    path: str
    is_lora: bool = Field(description="The header holds LoRA layers (lora_down/lora_A), not a whole model.")
    key_format: KeyFormat = Field(description="lora_unet: lora_unet_ keys musubi merges; release: diffusion_model. keys (ComfyUI reads them, musubi does not).")
    rank: int | None = None
    layers: int = Field(default=0, description="LoRA layers in the file.")
    blocks: int | None = Field(default=None, description="Transformer blocks it touches: 40 for Wan 14B, 30 for 1.3B.")
    width: int | None = Field(default=None, description="Model width its first attention layer takes: 5120 for Wan 14B, 1536 for 1.3B.")
    image_layers: bool = Field(default=False, description="k_img/v_img/img_emb layers: made for Wan 2.1 I2V (CLIP image attention), which Wan 2.2 lacks.")
    in_channels: int | None = Field(default=None, description="patch_embedding input channels when the LoRA has that layer: 16 T2V, 36 I2V.")
    expert_by_name: ExpertName | None = None
    task_by_name: Literal["t2v", "i2v"] | None = None
    size_gb: float | None = None


def looks_like_lightning(path: str) -> bool:
    """Whether a path's name, or its folder's (the release names the folder), says it is a speed-up
    (distillation) LoRA such as Lightning."""
    return any(_LIGHTNING_NAME.search(part) for part in PurePath(path.replace("\\", "/")).parts[-2:])


def expert_by_name(path: str) -> ExpertName | None:
    """high / low from the file's own name (high_noise_model, _HIGH_, low_noise...); None when it says neither or both."""
    tokens = set(_TOKENS.split(PurePath(path.replace("\\", "/")).name.lower()))
    said = {e for e in ("high", "low") if e in tokens or f"{e}noise" in tokens}
    return said.pop() if len(said) == 1 else None  # type: ignore[return-value]


def task_by_name(path: str) -> Literal["t2v", "i2v"] | None:
    """T2V / I2V from the file name, else its folder (the release names the task on the folder)."""
    parts = PurePath(path.replace("\\", "/")).parts
    for part in reversed(parts[-2:]):
        found = _TASK.search(part)
        if found:
            return found.group(1).lower()  # type: ignore[return-value]
    return None


def inspect_lightning(path: Path) -> LightningFile:
    """Read a Lightning LoRA's header; HeaderProblem / OSError when it cannot be read."""
    tensors, _ = read_header(path)
    keys = list(tensors)
    downs = [k for k in keys if k.endswith((".lora_down.weight", ".lora_A.weight"))]
    found = LightningFile(
        path=str(path), is_lora=bool(downs), key_format=_format(keys), layers=len(downs),
        expert_by_name=expert_by_name(str(path)), task_by_name=task_by_name(str(path)),
        size_gb=round(path.stat().st_size / 1024**3, 3),
    )
    if not downs:
        return found
    shapes = {k: list(tensors[k].get("shape", [])) for k in downs}
    ranks = sorted({s[0] for s in shapes.values() if s})
    found.rank = ranks[-1] if ranks else None
    blocks = {int(m.group(1)) for k in downs if (m := _BLOCK.search(k))}
    found.blocks = len(blocks) or None
    first_q = next((k for k in downs if re.search(r"blocks[._]0[._]self_attn[._]q[._]", k)), None)
    if first_q and len(shapes[first_q]) >= 2:
        found.width = shapes[first_q][1]
    found.image_layers = any(part in k for k in keys for part in _IMAGE_LAYERS)
    patch = next((k for k in downs if "patch_embedding" in k), None)
    if patch and len(shapes[patch]) >= 2:
        found.in_channels = shapes[patch][1]
    return found


def _format(keys: list[str]) -> KeyFormat:
    if keys and all(k.startswith(_LORA_UNET_PREFIX) for k in keys):
        return "lora_unet"
    if any(k.startswith(_RELEASE_PREFIXES) for k in keys):
        return "release"
    return "unknown"


def read_lightning(path: str) -> LightningFile | str:
    """The file's description, or why it cannot be read (a sentence)."""
    p = Path(path).expanduser()
    if not p.exists():
        return f"{path} does not exist on this machine"
    if p.is_dir():
        return f"{path} is a folder, not a LoRA file"
    try:
        return inspect_lightning(p)
    except HeaderProblem as exc:
        return f"{p.name} is not a readable safetensors file ({exc.detail})"
    except OSError as exc:
        return f"{p.name} cannot be read ({exc})"


def convert_command(python: str, path: str) -> str:
    """The musubi command that writes a copy of a release-named LoRA in musubi's naming."""
    target = str(PurePath(path).with_name(PurePath(path).stem + "_musubi.safetensors"))
    return f"{python} {CONVERT_SCRIPT} --input {path} --output {target} --target default"
