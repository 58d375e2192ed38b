"""What making a plan takes, as one model for both doors: `loragate plan new` and MCP's
generate_config build the same PlanRequest, so a bound or a choice cannot differ between them and a
bad value is refused with the same sentence (loragate.plain.describe_validation)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from loragate.lightning.choice import LightningChoice
from loragate.plain import door_request
from loragate.plan.results import GenerateResult
from loragate.core.plan import RANK_MAX, RANK_MIN
from loragate.progress import ProgressFn
from loragate.core.vocabulary import ExpertChoice, Platform, PresetName, TrainingType
from loragate.vram.model import MAX_GPU_GB, parse_resolution


# plain LoRA and the LyCORIS kinds of loragate/data/networks.toml (tests/test_door_inputs.py keeps them equal)
NetworkName = Literal["lora", "loha", "lokr"]


class PlanRequest(BaseModel):
    """The artist's choices for a new plan; everything left out comes from the preset and the GPU."""

    model_config = ConfigDict(extra="forbid")

    name: str
    model: str
    dataset: str
    trigger: str
    preset: PresetName = "standard"
    training_type: TrainingType = "character"
    gpu_gb: float | None = Field(default=None, gt=0, le=MAX_GPU_GB)
    expert: ExpertChoice | None = None
    platform: Platform = "local"
    trainer_dir: str | None = None
    trainer_python: str | None = None
    models_dir: str | None = None
    weights: dict[str, str] = Field(default_factory=dict)
    output_dir: str | None = None
    resolution: tuple[int, int] | None = None
    frames: list[int] | None = None
    optimizer: str | None = None
    rank: int | None = Field(default=None, ge=RANK_MIN, le=RANK_MAX)
    network: NetworkName = "lora"
    learning_rate: float | None = Field(default=None, gt=0)
    caption_extension: str = ".txt"
    experts_together: bool | None = None
    lightning: LightningChoice | None = None
    replace: bool = False

    @field_validator("resolution", mode="before")
    @classmethod
    def _resolution(cls, value: object) -> tuple[int, int] | None:
        return None if value is None else parse_resolution(value)


def plan_request(**values: Any) -> PlanRequest:
    """A PlanRequest from a door's arguments; a value it refuses is said in words (exit 2, nothing saved)."""
    return door_request(PlanRequest, values, "The plan cannot be made",
                        "Correct it and make the plan again.")


def make_plan(request: PlanRequest, progress: ProgressFn | None = None) -> GenerateResult:
    """generate_config for a request: the plan made, written and checked by Gate 2."""
    from loragate.plan.gate2 import generate_config  # the engine, loaded when a plan is made

    options = request.model_dump(exclude={"name", "model", "dataset", "trigger", "replace", "lightning"})
    return generate_config(request.name, request.model, request.dataset, request.trigger, replace=request.replace,
                           progress=progress, lightning=request.lightning, **options)
