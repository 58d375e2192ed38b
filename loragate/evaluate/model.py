"""The evaluation's shapes: prompts, cells of a grid, measurements, and the report eval.json holds."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, Field

from loragate.core.findings import Finding, Verdict

EngineName = Literal["comfyui", "scripts", "export"]
DEFAULT_WEIGHTS = (0.3, 0.5, 0.7, 0.9, 1.0)
EVAL_FILE = "eval.json"
EVAL_MD = "eval.md"


class EvalPrompt(BaseModel):
    label: str = Field(description="Short column title, e.g. 'close-up'.")
    text: str = Field(description="The prompt with the trigger word in it.")
    seed: int
    own: bool = Field(default=False, description="True for a prompt the artist added.")


class CheckpointRef(BaseModel):
    """One LoRA version under test. Wan 2.2 trained as two experts has a file per expert."""

    label: str = Field(description="e.g. 'epoch 4 (early)' or 'final'.")
    path: str = Field(description="The LoRA file (the low-noise one for Wan 2.2 experts).")
    high_noise_path: str | None = Field(default=None, description="Wan 2.2: the high-noise expert's LoRA of the same epoch.")
    epoch: int | None = None
    role: Literal["early", "middle", "final", "chosen"] = "chosen"


class EvalCell(BaseModel):
    checkpoint: str = Field(description="CheckpointRef.label.")
    weight: float
    prompt: str = Field(description="EvalPrompt.label.")
    seed: int
    output: str | None = Field(default=None, description="The image or clip made for this cell.")
    error: str | None = None
    clip_score: float | None = Field(default=None, description="Optional: 100 x CLIP's cosine of picture and prompt (higher = closer).")
    reference_similarity: float | None = Field(default=None, description="Optional: mean CLIP cosine to the artist's reference pictures.")


class WeightEffect(BaseModel):
    """How far one weight's output moved from the weight-0 reference (same prompt, same seed)."""

    weight: float
    mean_change: float = Field(description="Mean absolute pixel change against weight 0, 0-1 (0 = identical).")
    per_prompt: dict[str, float] = Field(default_factory=dict)


class CopyMatch(BaseModel):
    output: str
    training_file: str
    distance: int = Field(description="Perceptual-hash distance in bits (0 = the same picture).")


class CheckpointMeasure(BaseModel):
    checkpoint: str
    takes_effect: bool = Field(description="The output at weight 1.0 differs visibly from weight 0.")
    strength_profile: list[WeightEffect] = Field(default_factory=list, description="Change against weight 0, weight by weight.")
    copies: list[CopyMatch] = Field(default_factory=list, description="Outputs that are near-copies of a training picture.")
    nearest_training_distance: int | None = Field(default=None, description="Smallest hash distance from any output to the training set.")
    grid: str | None = Field(default=None, description="The labelled grid PNG of this checkpoint.")
    animations: list[str] = Field(default_factory=list, description="Animated WebP per clip row (Wan).")
    clip_score: float | None = Field(default=None, description="Optional: mean CLIP score of this checkpoint's pictures (weights above 0).")
    reference_similarity: float | None = Field(default=None, description="Optional: their mean similarity to the reference pictures.")


class OptionalScores(BaseModel):
    """The optional scores' setting, and the base model's own (weight 0) to compare the checkpoints with."""

    model: str = Field(description="The local CLIP model folder used.")
    references: int = Field(description="How many reference pictures the artist held back.")
    base_clip_score: float | None = None
    base_reference_similarity: float | None = None


class CostEstimate(BaseModel):
    cells: int
    seconds_per_cell: float
    source: str = Field(description="'measured on the first cell', 'dry run', or 'estimate'.")
    total_seconds: float
    gpu: str | None = None
    price_per_hour: float | None = None
    price: float | None = Field(default=None, description="Cost in the provider's currency on a cloud GPU.")


class EvalReport(BaseModel):
    project: str
    verdict: Verdict | None = Field(
        default=None, description="NO-GO when the LoRA shows no effect, copies training pictures or does not load; None when nothing was generated."
    )
    engine: EngineName
    model: str
    training_type: str
    trigger: str
    checkpoints: list[CheckpointRef]
    weights: list[float] = Field(description="Weights tried, 0.0 (the reference) first.")
    prompts: list[EvalPrompt]
    cells: list[EvalCell] = Field(default_factory=list)
    measures: list[CheckpointMeasure] = Field(default_factory=list)
    comparison: str | None = Field(default=None, description="Side-by-side sheet of the checkpoints at one weight.")
    findings: list[Finding] = Field(default_factory=list)
    cost: CostEstimate | None = None
    exported: list[str] = Field(default_factory=list, description="Workflow JSONs and command files written for running elsewhere.")
    notes: list[str] = Field(default_factory=list)
    lightning: list[str] = Field(default_factory=list, description="Wan 2.2 Lightning LoRAs (low, high) stacked in every cell.")
    scores: OptionalScores | None = Field(default=None, description="Optional CLIP scores, when a CLIP model folder was given.")
    checkpoint_fingerprints: dict[str, str] = Field(
        default_factory=dict, description="LoRA file -> fingerprint when evaluated; a changed file makes the evaluation stale."
    )
    eval_json: str | None = None
    eval_md: str | None = None
    evaluated_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
