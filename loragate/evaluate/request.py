"""What an evaluation takes, as one model for both doors: `loragate eval` and MCP's evaluate build the
same EvalRequest, so weights, seeds, steps and engines have their bounds and choices once and a bad
value is refused with the same sentence. Light: pydantic only, so the MCP server can offer the tool
without importing the generation engine."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loragate.evaluate.model import DEFAULT_WEIGHTS
from loragate.plain import door_request

WEIGHT_MAX = 2  # a LoRA past twice its strength only shows it burning
# musubi's wan_generate_video.py and sd-scripts' gen_img.py draw their own seeds in 0..2**32-1
SEED_MAX = 2**32 - 1
STEPS_MAX = 200
EvalWeight = Annotated[float, Field(ge=0, le=WEIGHT_MAX)]
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
SampleSteps = Annotated[int, Field(ge=1, le=STEPS_MAX)]
PromptCount = Annotated[int, Field(ge=1)]
EngineChoice = Literal["auto", "comfyui", "scripts", "export"]


class EvalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str
    checkpoints: list[str] = Field(default_factory=list, description="LoRA files to test; default early, middle and final.")
    weights: list[EvalWeight] = Field(default_factory=lambda: list(DEFAULT_WEIGHTS), description="0.0 is always added as the reference.")
    prompts: list[str] = Field(default_factory=list, description="The artist's own prompts, added after the standard ones.")
    seeds: list[Seed] | None = Field(default=None, description="Seeds per prompt; default one fixed seed.")
    max_standard_prompts: PromptCount | None = Field(default=None, description="Use only the first N standard prompts (a smaller grid).")
    steps: SampleSteps | None = Field(default=None, description="Sampling steps per picture; default the model's usual (a quick look: fewer).")
    engine: EngineChoice = "auto"
    comfyui_url: str | None = Field(default=None, description="ComfyUI's address; default comfyui_url in studio.md, else 127.0.0.1:8188.")
    lightning: list[str] = Field(default_factory=list, description="Wan 2.2 Lightning LoRAs (low, high) stacked for a 4-step preview.")
    estimate_only: bool = Field(default=False, description="Say what it would cost and stop before generating.")
    price_per_hour: float | None = Field(default=None, ge=0, description="GPU price per hour; default gpu_price_per_hour in studio.md.")
    model: str | None = Field(default=None, description="The base model the caller expects; refused when the plan trained another.")
    trigger: str | None = Field(default=None, description="The trigger the caller expects; refused when the plan uses another.")
    clip_model: str | None = Field(default=None, description="Optional scores: a local CLIP model folder (run with the trainer's Python).")
    references: str | None = Field(default=None, description="Optional scores: a folder of reference pictures held back from training.")


def eval_request(**values: Any) -> EvalRequest:
    """An EvalRequest from a door's arguments; a value it refuses is said in words (exit 2)."""
    return door_request(EvalRequest, values, "The evaluation cannot start",
                        "Correct it and evaluate again.")
