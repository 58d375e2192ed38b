"""Shapes of a VRAM question and its answer."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from loragate.core.errors import LoragateError


def parse_resolution(value: object) -> tuple[int, int]:
    """'1024', '832x480', 1024, [832, 480] -> (width, height)."""
    if isinstance(value, int):
        width = height = value
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        width, height = int(value[0]), int(value[1])
    elif isinstance(value, str) and (m := re.fullmatch(r"\s*(\d+)\s*(?:[xX*,]\s*(\d+))?\s*", value)):
        width = int(m.group(1))
        height = int(m.group(2) or m.group(1))
    else:
        raise LoragateError(f"Cannot read the resolution {value!r}.", "Give one number (1024) or width x height (832x480).")
    if not (64 <= width <= 8192 and 64 <= height <= 8192):
        raise LoragateError(f"Resolution {width}x{height} is outside 64..8192.", "Give the training resolution in pixels, e.g. 1024 or 832x480.")
    return width, height


MAX_FRAMES = 1025
MAX_BATCH = 256
MAX_BLOCKS = 200
MAX_GPU_GB = 4096


class VramRequest(BaseModel):
    """One training configuration, the way the CLI and a plan describe it."""

    model: str = Field(description="Model family id, e.g. wan2.2-t2v-a14b.")
    resolution: tuple[int, int] = Field(description="Training resolution (width, height); '1024' or '832x480' accepted.")
    # Upper bounds far beyond any GPU, so a typo is an error rather than a search that never ends.
    frames: int = Field(default=1, ge=1, le=MAX_FRAMES, description="Frames per clip (Wan video, 4n+1); 1 for images.")
    batch: int = Field(default=1, ge=1, le=MAX_BATCH)
    rank: int = Field(default=16, ge=1, le=1024)
    optimizer: str = "AdamW8bit"
    precision: Literal["bf16", "fp16"] | None = Field(default=None, description="Mixed precision; default: the family's.")
    fp8_base: bool = False
    fp8_scaled: bool = False
    fp8_text_encoder: bool = Field(default=False, description="fp8 T5 (--fp8_t5 in musubi, an fp8 t5xxl file for FLUX).")
    blocks_to_swap: int = Field(default=0, ge=0, le=MAX_BLOCKS)
    gradient_checkpointing: bool = True
    cache_text_encoder_outputs: bool = True
    cache_latents: bool = True
    train_text_encoder: bool = Field(default=False, description="Also train a LoRA on the text encoder (sd-scripts).")
    gpu_gb: float | None = Field(default=None, gt=0, le=MAX_GPU_GB, description="GPU memory to fit, GB.")
    sampling: bool = Field(default=False, description="The trainer makes samples while training (--sample_prompts).")

    @field_validator("resolution", mode="before")
    @classmethod
    def _resolution(cls, value: object) -> tuple[int, int]:
        return parse_resolution(value)


class FitStep(BaseModel):
    """One change in a fit plan, with what it costs the artist."""

    change: str = Field(description="What to change, e.g. 'blocks_to_swap 20'.")
    settings: dict[str, object] = Field(description="Request fields after this step.")
    estimate_gb: float
    fits: bool
    explanation: str
    host_ram_gb: float | None = Field(default=None, description="Main memory (RAM) needed after this step, GB (block swap raises it).")


class Correction(BaseModel):
    """This machine's measured/estimated ratio for a family, learned from dry runs (loragate.vram.calibration)."""

    factor: float
    samples: int = Field(description="Dry runs the factor is the median of.")
    basis: Literal["family", "group"] = Field(description="What the ratios were measured on: this family, or the families tuned like it ('group').")
    source: str = Field(description="The calibration file the dry runs are recorded in.")


class VramEstimate(BaseModel):
    model: str
    request: VramRequest
    estimate_gb: float = Field(description="Peak GPU memory of the hungriest phase, GB (1e9 bytes).")
    peak_phase: str = Field(description="Which phase sets the peak: training, text_encoder_caching or latent_caching.")
    breakdown: dict[str, float] = Field(description="Terms of the peak phase, GB.")
    phases: dict[str, float] = Field(description="Peak of each phase, GB.")
    host_ram_gb: float = Field(description="Main memory the run needs, GB.")
    tokens: int = Field(description="Sequence length the backbone sees per sample.")
    gpu_gb: float | None = None
    margin: float = 0.2
    fits: bool | None = Field(default=None, description="estimate x 1.2 <= gpu_gb; None without a GPU size.")
    fit_plan: list[FitStep] = Field(default_factory=list, description="Cheapest changes that make it fit, in order.")
    correction: Correction | None = Field(
        default=None, description="This machine's correction from dry runs, when it changed the numbers; None: the pure estimate."
    )
    uncorrected_gb: float | None = Field(default=None, description="The pure estimate's peak before the correction, GB.")
    notes: list[str] = Field(default_factory=list)


def make_request(**fields: object) -> VramRequest:
    """Build a request from loose inputs (CLI, MCP); a bad value becomes a plain LoragateError."""
    from loragate.plain import door_request

    return door_request(VramRequest, {k: v for k, v in fields.items() if v is not None},
                        "The VRAM question has a bad value", "Fix the value and ask again.")
