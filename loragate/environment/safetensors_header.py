"""Read a model file's safetensors header (8-byte length + JSON) and tell what model it holds.

Only the header is read, never a tensor: a 28 GB DiT costs a few hundred kilobytes of I/O.
Pickle files (.pth, .ckpt, .bin) are never opened, since unpickling runs code.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

# The safetensors format caps the header at 100 MB (safetensors crate, MAX_HEADER_SIZE).
MAX_HEADER_BYTES = 100_000_000
PICKLE_SUFFIXES = {".pth", ".pt", ".ckpt", ".bin", ".pkl"}
# Checkpoints in the wild wrap a DiT's keys in these. Recognised so the file is still told apart,
# but musubi loads only bare keys and "model.diffusion_model." (musubi-tuner 30c658c
# wan/modules/model.py:967-974 detect_wan_sd_dtype, :1054-1057 the only prefix stripped).
DIT_PREFIXES = ("model.diffusion_model.", "diffusion_model.", "model.")
MUSUBI_DIT_PREFIXES = ("", "model.diffusion_model.")

Kind = Literal["wan_dit", "wan_vae", "sd15", "sd2", "sdxl", "flux", "flux_diffusers", "chroma", "sd3", "lora", "unknown"]


class HeaderProblem(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code  # truncated | corrupt
        self.detail = detail


class Inspection(BaseModel):
    """What a safetensors header says about the model inside."""

    kind: Kind = "unknown"
    tensors: int = 0
    prefix: str = Field(default="", description="Key prefix stripped before matching, e.g. 'model.diffusion_model.'.")
    dtype: str | None = Field(default=None, description="dtype of the tensor the trainer judges the file by.")
    dim: int | None = None
    in_dim: int | None = Field(default=None, description="Wan patch_embedding input channels: 16 T2V, 36 I2V, 48 Fun-Control/5B.")
    layers: int | None = None
    image_cross_attention: bool | None = Field(default=None, description="Wan 2.1 I2V keys (k_img/v_img, img_emb).")
    first_last_frame: bool | None = Field(default=None, description="Wan 2.1 FLF2V: img_emb.emb_pos, which I2V lacks.")
    fp8_scaled: bool = Field(default=False, description="ComfyUI 'fp8_scaled' layout (scale_weight keys).")
    z_dim: int | None = Field(default=None, description="Wan VAE latent channels: 16 (Wan 2.1 VAE) or 48 (Wan 2.2 5B VAE).")
    flux_guidance: bool | None = Field(default=None, description="FLUX dev (guidance embedding) rather than schnell.")
    v_pred: bool | None = Field(default=None, description="SDXL: the checkpoint carries a `v_pred` key (NoobAI-XL V-Pred).")
    mmdit_x: bool | None = Field(default=None, description="SD 3.5 Medium's MMDiT-X: x_block.attn2 in some blocks.")
    metadata: dict[str, str] = Field(default_factory=dict)


def read_header(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """(tensors, metadata) from the header; HeaderProblem when the file is cut short or damaged."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise HeaderProblem("truncated", f"the file is only {size} bytes long")
        (length,) = struct.unpack("<Q", head)
        if length > MAX_HEADER_BYTES:
            raise HeaderProblem("corrupt", "the first 8 bytes are not a safetensors header length")
        if 8 + length > size:
            raise HeaderProblem("truncated", f"the header says {length} bytes but the file ends after {size - 8}")
        raw = handle.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise HeaderProblem("corrupt", f"the header is not valid JSON ({exc.__class__.__name__})") from exc
    if not isinstance(header, dict):
        raise HeaderProblem("corrupt", "the header is not a table of tensors")
    metadata = header.pop("__metadata__", None) or {}
    end = 0
    for name, info in header.items():
        if not isinstance(info, dict) or "data_offsets" not in info or "dtype" not in info:
            raise HeaderProblem("corrupt", f"the entry for {name!r} has no dtype or offsets")
        end = max(end, int(info["data_offsets"][1]))
    if 8 + length + end > size:
        missing = 8 + length + end - size
        raise HeaderProblem("truncated", f"the tensors need {missing / 1024**3:.2f} GB more than the file holds (an interrupted download)")
    return header, {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {}


def _strip(keys: list[str], marker: str) -> str | None:
    for prefix in ("",) + DIT_PREFIXES:
        if prefix + marker in keys:
            return prefix
    return None


_BLOCK = re.compile(r"^blocks\.(\d+)\.")


def inspect(header: dict[str, Any], metadata: dict[str, str]) -> Inspection:
    keys = list(header)
    found = Inspection(tensors=len(keys), metadata=dict(list(metadata.items())[:20]))

    def shape(key: str) -> list[int] | None:
        info = header.get(key)
        return list(info.get("shape", [])) if isinstance(info, dict) else None

    def dtype(key: str) -> str | None:
        info = header.get(key)
        return str(info.get("dtype")) if isinstance(info, dict) else None

    if any(".lora_down." in k or ".lora_A." in k or k.startswith(("lora_unet_", "lora_te", "lora_transformer_")) for k in keys):
        found.kind = "lora"
        return found
    found.fp8_scaled = "scaled_fp8" in keys or any(k.endswith(".scale_weight") for k in keys)
    prefix = _strip(keys, "patch_embedding.weight")
    if prefix is not None and len(shape(prefix + "patch_embedding.weight") or []) == 5:
        # Wan DiT, wan/modules/model.py: patch_embedding is Conv3d(in_dim, dim, (1, 2, 2)), a 5-D
        # weight no other model here has.
        found.kind, found.prefix = "wan_dit", prefix
        pe = shape(prefix + "patch_embedding.weight") or []
        found.dim = pe[0] if pe else None
        found.in_dim = pe[1] if len(pe) > 1 else None
        blocks: set[int] = set()
        for key in keys:
            match = _BLOCK.match(key[len(prefix) :]) if key.startswith(prefix) else None
            if match:
                blocks.add(int(match.group(1)))
        found.layers = len(blocks) or None
        found.image_cross_attention = any(".k_img." in k or k[len(prefix) :].startswith("img_emb.") for k in keys)
        # musubi-tuner wan/modules/model.py:522-525: MLPProj gets emb_pos only for flf2v
        found.first_last_frame = prefix + "img_emb.emb_pos" in header
        # musubi-tuner detect_wan_sd_dtype judges a DiT by blocks.0.cross_attn.k.weight.
        found.dtype = dtype(prefix + "blocks.0.cross_attn.k.weight")
        return found
    prefix = _strip(keys, "joint_blocks.0.context_block.attn.qkv.weight")
    if prefix is not None:
        # sd-scripts library/sd3_utils.py analyze_state_dict_state: depth = x_embedder width // 64;
        # x_block.attn2 (MMDiT-X) only in 3.5 Medium
        found.kind, found.prefix = "sd3", prefix
        embed = shape(prefix + "x_embedder.proj.weight") or []
        found.dim = embed[0] if embed else None
        found.layers = found.dim // 64 if found.dim else None
        found.mmdit_x = any(".x_block.attn2." in k for k in keys)
        found.dtype = dtype(prefix + "joint_blocks.0.context_block.attn.qkv.weight")
        return found
    prefix = _strip(keys, "double_blocks.0.img_attn.qkv.weight")
    if prefix is not None and any(k.startswith(prefix + "distilled_guidance_layer.") for k in keys):
        # sd-scripts library/chroma_models.py: one Approximator (distilled_guidance_layer) replaces
        # FLUX's per-block modulation and guidance_in
        found.kind, found.prefix = "chroma", prefix
        found.dtype = dtype(prefix + "double_blocks.0.img_attn.qkv.weight")
        return found
    if prefix is not None:
        found.kind, found.prefix = "flux", prefix
        found.dtype = dtype(prefix + "double_blocks.0.img_attn.qkv.weight")
        found.flux_guidance = any(k.startswith(prefix + "guidance_in.") for k in keys)
        return found
    if "transformer_blocks.0.attn.add_k_proj.weight" in keys and any(k.startswith("single_transformer_blocks.") for k in keys):
        found.kind = "flux_diffusers"
        found.dtype = dtype("transformer_blocks.0.attn.add_k_proj.weight")
        found.flux_guidance = any(k.startswith("time_text_embed.guidance_embedder.") for k in keys)
        return found
    unet_key = "model.diffusion_model.input_blocks.0.0.weight"
    if any(k.startswith("conditioner.embedders.") for k in keys) or "model.diffusion_model.label_emb.0.0.weight" in keys:
        found.kind, found.dtype = "sdxl", dtype(unet_key)
        found.v_pred = "v_pred" in keys  # NoobAI-XL V-Pred marks itself with an empty `v_pred` tensor
        return found
    if any(k.startswith("cond_stage_model.model.") for k in keys):
        found.kind, found.dtype = "sd2", dtype(unet_key)
        return found
    if unet_key in keys:
        found.kind, found.dtype = "sd15", dtype(unet_key)
        return found
    if "conv2.weight" in keys and any(k.startswith("decoder.") for k in keys) and any(k.startswith("encoder.") for k in keys):
        # Wan VAE, wan/modules/vae.py: conv2 = CausalConv3d(z_dim, z_dim, 1).
        found.kind = "wan_vae"
        conv2 = shape("conv2.weight") or []
        found.z_dim = conv2[0] if conv2 else None
        found.dtype = dtype("conv2.weight")
        return found
    dtypes = [dtype(k) for k in keys[:50]]
    found.dtype = max(set(dtypes), key=dtypes.count) if dtypes else None
    return found
