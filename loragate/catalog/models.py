"""Model families: the facts a check or an estimate needs about each base model.

The values live in `loragate/data/models.toml` (each with its upstream source); this module only
defines their shape and loads them once. Adding a model is a data change.
"""

from __future__ import annotations

import re

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from loragate.catalog.datafile import read_data_toml
from loragate.core.errors import LoragateError
from loragate.core.vocabulary import BackendName

CaptionStyle = Literal["booru", "natural", "mixed"]
# The model line a family belongs to: what "is this a Wan model" checks ask (Wan's DiT and VAE,
# its --task). Several families of one line share it (Wan 2.1 and 2.2; Qwen-Image and its Edits).
FamilyGroup = Literal["wan", "qwen-image", "zimage", "flux2", "flux-kontext", "hunyuan-video", "sd", "flux"]
# How a family is tuned: presets (presets.toml), learning-rate ranges (optimizers.toml), the text
# cache size and the VRAM calibration pool are shared within one. 'musubi-dit': musubi-tuner's DiTs,
# trained without --network_alpha (alpha 1) at their docs' rates, Wan or not.
Tuning = Literal["musubi-dit", "sd", "flux"]


class TextEncoder(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error

    name: str
    params_b: float = Field(description="Parameters in billions.")
    token_limit: int = Field(description="Tokens the encoder reads; the rest of a caption is cut.")
    precision: str = Field(default="bf16", description="dtype it is loaded in for caching or training.")
    weights_file: str = Field(default="", description="Typical released file name.")
    fp8: bool = Field(default=True, description="Can be read in fp8 while captions are cached (musubi).")


class ExpertFacts(BaseModel):
    """A Wan 2.2 expert: which timesteps it denoises."""
    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error


    name: Literal["high", "low"]
    min_timestep: int
    max_timestep: int
    weights_hint: str = Field(default="", description="Substring of the released file name, e.g. 'high_noise'.")


class OneFrame(BaseModel):
    """musubi's one-frame training (docs/wan_1f.md, docs/dataset_config.md "FramePack One Frame
    Training"): each target picture is learnt from its control images placed at RoPE frame indices."""
    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error

    clean_indices: list[int] = Field(description="fp_1f_clean_indices: where each control image sits; musubi reads one control image per index.")
    target_index: int = Field(description="fp_1f_target_index: where the target picture sits.")
    control_names: list[str] = Field(description="What each control image is, in the artist's words, in file-number order (x_0, x_1 ...).")

    def dataset_keys(self) -> dict[str, object]:
        """The keys each of the family's image datasets needs in musubi's dataset TOML."""
        return {"fp_1f_clean_indices": list(self.clean_indices), "fp_1f_target_index": self.target_index}


class ModelFamily(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error

    id: str
    display_name: str
    trainer: BackendName
    variant_of: str | None = Field(default=None, description="e.g. pony -> sdxl")
    scripts: dict[str, str] = Field(description="stage -> script path relative to the trainer checkout.")
    task: str | None = Field(default=None, description="The model selector musubi's scripts take: --task (Wan), --model_version (Qwen-Image).")
    distilled_versions: list[str] = Field(
        default_factory=list, description="Model selector values of distilled releases of the same architecture (trained only with a warning).")
    recipe: str | None = Field(default=None, description="musubi-tuner: the recipe in musubi_recipes.toml (which weight goes to which flag).")
    network_module: str
    i2v: bool = False
    group: FamilyGroup = Field(description="The model line (Wan, Qwen-Image, ...): what a check for one line's weights or tasks asks.")
    tuning: Tuning = Field(description="Which presets and learning-rate ranges the family shares ('musubi-dit': musubi-tuner "
                           "DiTs, trained without --network_alpha, i.e. alpha 1).")
    architecture: Literal["dit", "unet"] = "dit"
    # architecture numbers for memory
    params_b: float = Field(description="Trainable backbone (DiT / UNet) parameters, billions, per expert.")
    hidden_size: int
    layers: int = Field(description="Transformer blocks (DiT) or attention blocks (UNet).")
    heads: int
    patch_size: list[int] = Field(default_factory=lambda: [1, 2, 2], description="(t, h, w) for DiTs; [1,1,1] for UNets.")
    latent_downscale: int = 8
    latent_channels: int = 16
    lora_params_per_rank: int = Field(description="LoRA parameters for rank 1 over the targeted modules.")
    lora_modules: int = 0
    te_lora_params_per_rank: int = Field(default=0, description="Extra LoRA parameters per rank when the text encoder(s) are trained too.")
    ffn_size: int = 0
    block_params_b: float = Field(default=0.0, description="Parameters (billions) one step of --blocks_to_swap moves to host RAM.")
    image_encoder_params_b: float = Field(default=0.0, description="CLIP vision encoder (Wan 2.1 I2V), billions.")
    latent_frame_stride: int = Field(default=1, description="Video frames per latent frame (Wan VAE: 4).")
    residual_bytes: float = Field(
        default=2.0, description="Bytes per value of the hidden state between blocks (4 where the model keeps it in fp32)."
    )
    text_tokens_in_sequence: int = Field(default=0, description="Text tokens that join the image tokens in attention (FLUX).")
    activation_levels: list[list[int]] = Field(
        default_factory=list,
        description="UNets: [blocks, latent downscale, channels] per level; DiTs leave it empty ([layers, 1, hidden]).",
    )
    text_encoders: list[TextEncoder] = Field(default_factory=list)
    vae_params_b: float = 0.08
    vae_name: str = ""
    # training facts
    resolutions: list[list[int]] = Field(description="Typical training resolutions [W, H].")
    default_resolution: list[int]
    video: bool = False
    frame_rule: str | None = Field(default=None, description="'4n+1' for Wan video.")
    default_frames: list[int] = Field(default_factory=list)
    train_fps: float | None = Field(default=None, description="Frame rate musubi resamples clips to (Wan 16 when unset; HunyuanVideo 1.5: 24).")
    weights_precision: str = Field(description="dtype of the released weights: bf16, fp16, fp8...")
    mixed_precision: Literal["bf16", "fp16"] = "bf16"
    experts: list[ExpertFacts] = Field(default_factory=list)
    timestep_boundary: int | None = None
    flow_shift: float | None = None
    timestep_sampling: str | None = None
    caption_style: CaptionStyle = "natural"
    block_swap_max: int = 0
    # sd-scripts facts a family states as data, so a new checkpoint of a known script needs no code
    checkpoint_kind: str | None = Field(
        default=None, description="What Gate 3 must find in the base model's header (sd15, sdxl, flux, chroma, sd3).")
    model_type: str | None = Field(default=None, description="sd-scripts --model_type (flux_train_network.py: flux or chroma).")
    guidance_scale: float | None = Field(default=None, description="Guidance while training (FLUX.1 dev 1.0; Chroma 0.0).")
    t5_attn_mask: bool = Field(default=False, description="--apply_t5_attn_mask is required (Chroma asserts it).")
    v_prediction: bool = Field(default=False, description="A v-prediction checkpoint: trains with --v_parameterization.")
    zero_terminal_snr: bool = Field(default=False, description="Trained with a zero-terminal-SNR schedule: --zero_terminal_snr.")
    sample_options: str = Field(default="", description="Options every line of the trainer's sample prompt file needs (Chroma: a negative prompt, real CFG).")
    weights_files: dict[str, str] = Field(default_factory=dict, description="role -> typical released file name.")
    weight_signatures: dict[str, dict[str, list[int]]] = Field(
        default_factory=dict,
        description="role -> {tensor name: shape} a file of that role must hold (Gate 3 tells the files apart by them).",
    )
    weight_markers: dict[str, list[str]] = Field(
        default_factory=dict,
        description="role -> tensor names only this family's file of that role holds: a file with one is this family's, "
                    "whatever the plan says (Qwen-Image-Edit-2511's __index_timestep_zero__).",
    )
    file_name_patterns: list[str] = Field(
        default_factory=list,
        description="Regular expressions (case-insensitive) a released file name of this variant matches, so a script's "
                    "weights name which of the checkpoints sharing a script it trains; a base family needs none.",
    )
    control_images: bool = Field(default=False, description="Learns from pairs: each picture's starting image sits in a control/ folder beside it (FLUX.1 Kontext, Qwen-Image-Edit).")
    control_images_max: int = Field(default=0, ge=0, description="Starting images one picture may have; 0: any number.")
    control_resolution: list[int] = Field(default_factory=list, description="[W, H] the control images are resized to, where the model's docs ask for it.")
    experimental: str = Field(default="", description="Why the trainer's own docs call this way of training experimental (Gate 2 warns with it); empty: not.")
    one_frame: OneFrame | None = Field(default=None, description="Trained only in musubi's one-frame mode (Wan 2.1 FLF2V): --one_frame at caching and training, these dataset keys.")
    evaluation: bool = Field(default=True, description="loragate has ComfyUI workflows for its evaluation grids (the trainer's "
                             "generation scripts draw every family: loragate/data/generation.toml).")
    fp8_scaled: bool = Field(default=False, description="musubi: save memory with --fp8_scaled beside --fp8_base (the pair the model's docs use).")
    dit_dtypes: list[str] = Field(default_factory=list, description="safetensors dtypes of the DiT release the docs train on; another one is warned.")
    dit_fp8_release_refused: bool = Field(default=False, description="musubi cannot train on an fp8 release of the DiT (Qwen-Image).")
    sources: list[str] = Field(default_factory=list, description="Where these facts come from.")
    notes: list[str] = Field(default_factory=list)


class Catalog(BaseModel):
    families: dict[str, ModelFamily]


def variant_by_file_name(base: str, path: str) -> str:
    """The variant of `base` whose file_name_patterns the file name (not its folder) matches, else `base`."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    for family in load_catalog().families.values():
        if family.variant_of == base and any(re.search(p, name, re.I) for p in family.file_name_patterns):
            return family.id
    return base


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    raw: dict[str, dict] = read_data_toml("models.toml").get("family", {})
    families = {key: ModelFamily.model_validate({"id": key, **_with_parent(key, raw)}) for key in raw}
    return Catalog(families=families)


def _with_parent(key: str, raw: dict[str, dict]) -> dict:
    """A variant (pony -> sdxl) states only what differs; everything else comes from its parent."""
    value = raw[key]
    parent = value.get("variant_of")
    if not parent:
        return value
    if parent not in raw or raw[parent].get("variant_of"):
        raise LoragateError(
            f"Model family {key!r} is a variant of {parent!r}, which is not a base family in the catalog.",
            "Fix variant_of in loragate/data/models.toml.",
        )
    return {**raw[parent], **value}


def family_ids() -> list[str]:
    return sorted(load_catalog().families)


def get_family(family_id: str) -> ModelFamily:
    families = load_catalog().families
    key = family_id.strip().lower()
    if key not in families:
        raise LoragateError(
            f"Unknown model family {family_id!r}.",
            f"Use one of: {', '.join(sorted(families))}.",
        )
    return families[key]
