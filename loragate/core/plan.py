"""`TrainingPlan`: model, dataset, parameters, paths, precision and memory options in one object.

A backend (loragate.backends) turns a plan into the trainer's dataset TOML and commands; nothing
outside the backends knows a trainer's flag names. Fields may be added; renaming one breaks the
saved plans of every project, so don't.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loragate.core.vocabulary import BackendName, ExpertName, Platform, Precision, PresetName, Stage, TrainingType

__all__ = ["BackendName", "ExpertName", "Platform", "Precision", "PresetName", "Stage", "TrainingType"]

PLAN_FILE = "plan.json"

# The LoRA ranks a plan accepts; both doors take their limits from here.
RANK_MIN, RANK_MAX = 1, 1024

# A positive whole number; a resolution side as the loaders accept it; a timestep 0-1000.
Count = Annotated[int, Field(ge=1)]
Side = Annotated[int, Field(ge=64, le=4096)]
Timestep = Annotated[int, Field(ge=0, le=1000)]


class PlanPart(BaseModel):
    """Every part of a plan refuses keys it does not know: a typo in a hand-edited plan.json
    ("dimm") is an error that names it, never a setting silently dropped. The bounds hold for
    values set later in code too (the memory fit, a continued run)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Command(PlanPart):
    """One step the trainer runs, as an argv list (never a shell string)."""

    stage: Stage
    argv: list[str]
    expert: ExpertName | None = Field(default=None, description="Wan 2.2 expert this training command is for.")
    cwd: str | None = Field(default=None, description="Folder to run in (the trainer's checkout).")
    description: str = ""
    env: dict[str, str] = Field(default_factory=dict, description="Environment variables the command needs on top of the caller's.")
    output: str | None = Field(default=None, description="The LoRA file a training step writes when it ends (set by the "
                               "backend): where the supervisor, the monitor and Gate 4 look for it.")
    logs: str | None = Field(default=None, description="The folder a training step writes its TensorBoard logs to (set by the backend).")


class WeightPaths(PlanPart):
    """Model files the plan trains on. Which are needed depends on the family."""

    dit: str | None = Field(default=None, description="Wan DiT; for Wan 2.2 the low-noise expert.")
    dit_high_noise: str | None = Field(default=None, description="Wan 2.2 high-noise expert.")
    vae: str | None = None
    t5: str | None = Field(default=None, description="Wan umt5-xxl text encoder.")
    clip: str | None = Field(default=None, description="Wan 2.1 I2V CLIP vision model.")
    base_model: str | None = Field(default=None, description="sd-scripts --pretrained_model_name_or_path.")
    clip_l: str | None = None
    clip_g: str | None = Field(default=None, description="SD 3.5 CLIP-G text encoder.")
    t5xxl: str | None = None
    ae: str | None = Field(default=None, description="FLUX autoencoder.")
    byt5: str | None = Field(default=None, description="musubi --byt5: HunyuanVideo 1.5's glyph text encoder.")
    text_encoder: str | None = Field(default=None, description="musubi --text_encoder: Qwen2.5-VL (Qwen-Image), Qwen3 (Z-Image).")
    image_encoder: str | None = Field(default=None, description="musubi --image_encoder: HunyuanVideo 1.5 I2V's SigLIP vision model.")


class DatasetSubset(PlanPart):
    """One folder of media as the trainer sees it (a Wan `[[datasets]]` entry or an sd-scripts subset)."""

    kind: Literal["image", "video"]
    path: str = Field(description="The folder, as a path on the machine that trains.")
    num_repeats: Count = 1
    count: int = Field(default=0, ge=0, description="Media files found in it when the plan was made.")
    samples: int = Field(default=0, ge=0, description="Training samples one pass yields (a clip once per target frame count it is long enough for).")
    cache_dir: str | None = Field(default=None, description="musubi cache folder for this subset, outside the dataset.")
    control_path: str | None = Field(default=None, description="Its control/ folder: the starting image of each picture (FLUX.1 Kontext, Qwen-Image-Edit).")


class DatasetSpec(PlanPart):
    path: str = Field(description="Absolute path of the dataset folder.")
    caption_extension: str = ".txt"
    image_dir: str | None = None
    video_dir: str | None = None
    image_count: int = Field(default=0, ge=0)
    video_count: int = Field(default=0, ge=0)
    resolution: tuple[Side, Side] = (1024, 1024)
    num_repeats: Count = 1
    enable_bucket: bool = True
    bucket_no_upscale: bool = False
    target_frames: list[Count] = Field(default_factory=list)
    frame_extraction: str | None = None
    source_fps: float | None = Field(default=None, gt=0)
    longest_clip_frames: int | None = Field(default=None, description="Frames in the longest clip at the rate the trainer reads them (Wan: 16 fps).")
    cache_dir: str | None = None
    subsets: list[DatasetSubset] = Field(default_factory=list, description="Folders the trainer reads, in order.")
    layout: str | None = Field(default=None, description="What the dataset scan saw: flat, wan (Images/ + Videos/), kohya (N_name folders).")


class NetworkSpec(PlanPart):
    module: str
    dim: int = Field(default=16, ge=RANK_MIN, le=RANK_MAX, description="LoRA rank.")
    alpha: float = Field(default=16, gt=0, allow_inf_nan=False)
    args: list[str] = Field(default_factory=list)
    weights: str | None = Field(
        default=None,
        description="LoRA file to start from (--network_weights) when continuing a run; same dim as before.",
    )


class OptimizerSpec(PlanPart):
    type: str = "AdamW8bit"
    learning_rate: float = Field(default=1e-4, gt=0, allow_inf_nan=False,
                                 description="Above 0; the sane range per optimizer and family is in optimizers.toml (Gate 2 checks it).")
    args: list[str] = Field(default_factory=list)
    lr_scheduler: str = "constant"
    lr_scheduler_min_lr_ratio: float | None = Field(default=None, ge=0, le=1)
    lr_warmup_steps: int = Field(default=0, ge=0)
    extra_flags: list[str] = Field(default_factory=list, description="Other trainer flags this optimizer needs, as argv.")


class ScheduleSpec(PlanPart):
    max_train_epochs: Count = 10
    max_train_steps: Count | None = None
    save_every_n_epochs: int = Field(default=1, ge=0, description="0: only the final LoRA is saved.")
    batch_size: Count = 1
    gradient_accumulation_steps: Count = 1
    seed: int = Field(default=42, ge=0)


class MemorySpec(PlanPart):
    mixed_precision: Precision = "bf16"
    fp8_base: bool = False
    fp8_scaled: bool = False
    blocks_to_swap: int = Field(default=0, ge=0)
    gradient_checkpointing: bool = True
    attention: str = "sdpa"
    cache_latents: bool = True
    cache_text_encoder_outputs: bool = False
    network_train_unet_only: bool = False
    no_half_vae: bool = False
    offload_inactive_dit: bool = False
    fp8_text_encoder: bool = Field(default=False, description="Load the text encoder in 8-bit while caching (musubi --fp8_t5).")


class TimestepSpec(PlanPart):
    """Flow-matching timestep settings (Wan, FLUX)."""

    timestep_sampling: str = "shift"
    discrete_flow_shift: float | None = Field(default=None, gt=0)
    min_timestep: Timestep | None = None
    max_timestep: Timestep | None = None
    preserve_distribution_shape: bool = False
    timestep_boundary: Timestep | None = None
    guidance_scale: float | None = Field(default=None, description="FLUX: guidance while training (1.0 for dev).")
    model_prediction_type: str | None = Field(default=None, description="FLUX: how the model's output is read (raw).")


class SamplingSpec(PlanPart):
    """Sample images or clips the trainer makes while it trains (--sample_prompts)."""

    prompts_file: str = Field(description="The trainer's prompt file, as a path on the machine that trains.")
    every_n_epochs: int | None = Field(default=None, ge=1, description="Same cadence as the saved checkpoints.")
    every_n_steps: int | None = Field(default=None, ge=1)
    at_first: bool = Field(default=True, description="--sample_at_first: the base model before training, as the reference row.")
    expert: ExpertName | None = Field(default=None, description="Wan 2.2: the only expert run that samples (the low-noise one).")
    note: str = Field(default="", description="What the samples do and do not show, in plain words.")


class ExpertPlan(PlanPart):
    """One Wan 2.2 expert trained as its own run (its own LoRA file)."""

    expert: ExpertName
    dit: str
    min_timestep: Timestep
    max_timestep: Timestep
    output_name: str


class LightningSpec(PlanPart):
    """Wan 2.2 Lightning (lightx2v Wan2.2-Lightning): one distillation LoRA per expert that makes the
    model generate in 4 steps at CFG 1. The artist renders with it, so the LoRA is checked with it.
    `merged` experts train on base + Lightning (musubi --base_weights), `premerged` experts on a DiT
    file that already holds it; every other expert trains on the plain base and Lightning is only
    stacked at inference (loragate.lightning)."""

    high_noise: str = Field(description="The high-noise expert's Lightning LoRA, as a path on the machine that trains.")
    low_noise: str = Field(description="The low-noise expert's Lightning LoRA.")
    strength: float = Field(default=1.0, gt=0, le=2, allow_inf_nan=False, description="Multiplier it is stacked or merged with.")
    merged: list[ExpertName] = Field(default_factory=list, description="Experts trained on base + Lightning merged by the trainer.")
    premerged: list[ExpertName] = Field(default_factory=list, description="Experts whose DiT file already has Lightning merged in.")
    note: str = Field(default="", description="Which form the artist gets and why, in plain words.")


class TrainingPlan(PlanPart):
    schema_version: int = 1
    name: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    model: str = Field(description="Model family id from the catalog, e.g. wan2.2-t2v-a14b.")
    backend: BackendName
    training_type: TrainingType = "character"
    preset: PresetName = "standard"
    platform: Platform = "local"
    trigger: str
    gpu_gb: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="GPU memory the plan must fit, in GB.")
    device: Literal["gpu", "cpu"] = Field(
        default="gpu",
        description="cpu only for testing the pipeline on a machine without a GPU (LORAGATE_CPU_TRAINING=1 when the plan "
        "is made): the trainers run on the CPU, which proves nothing about GPU memory or speed.",
    )
    trainer_dir: str | None = Field(default=None, description="The trainer's checkout.")
    trainer_python: str | None = Field(default=None, description="The interpreter the trainer runs under.")
    output_dir: str
    output_name: str
    dataset: DatasetSpec
    weights: WeightPaths = Field(default_factory=WeightPaths)
    network: NetworkSpec
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    memory: MemorySpec = Field(default_factory=MemorySpec)
    timesteps: TimestepSpec | None = None
    experts: list[ExpertPlan] = Field(default_factory=list)
    experts_together: bool = Field(default=False, description="Wan 2.2: start both expert runs at the same time.")
    sampling: SamplingSpec | None = Field(default=None, description="Samples during training; None makes none.")
    lightning: LightningSpec | None = Field(default=None, description="Wan 2.2: the Lightning LoRAs the artist renders with.")
    explanations: dict[str, str] = Field(default_factory=dict, description="Setting -> why, in plain words.")
    commands: list[Command] = Field(default_factory=list, description="Derived by the backend from the fields above.")
    dataset_toml: str | None = Field(default=None, description="Path of the trainer's dataset TOML.")


def load_plan(path: Path) -> TrainingPlan:
    from loragate.core.errors import LoragateError
    from loragate.core.nextstep import step

    remake = step("generate_config", name=Path(path).parent.name)
    try:
        return TrainingPlan.model_validate_json(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise LoragateError(f"There is no plan at {path}.", "Make the training plan first.", remake) from exc
    except ValueError as exc:
        what, fix = plan_problem(exc)
        raise LoragateError(
            f"The plan {path} cannot be read: {what}.",
            f"{fix} Nothing was changed; fix the file by hand, or make the plan again.".strip(),
            remake,
        ) from exc


def _part_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The plan part (model class) a location such as ('dataset', 'subsets', 0) points into."""
    part: type[BaseModel] = TrainingPlan
    for key in loc:
        if isinstance(key, int):
            continue
        field = part.model_fields.get(str(key))
        if field is None:
            return None
        inner = [t for t in _flatten(field.annotation) if isinstance(t, type) and issubclass(t, BaseModel)]
        if not inner:
            return None
        part = inner[0]
    return part


def _flatten(annotation: Any) -> list[Any]:
    from typing import get_args

    args = get_args(annotation)
    return [annotation] if not args else [t for a in args for t in _flatten(a)]


def plan_problem(exc: ValueError) -> tuple[str, str]:
    """What is wrong with a plan, in words, and the hint that goes with it: every key the plan
    does not know (with the settings that part has), else the first wrong value."""
    errors = getattr(exc, "errors", None)
    found = errors() if callable(errors) else []
    if not found:
        return exc.__class__.__name__, ""
    if found[0].get("type") == "json_invalid":
        return "it is not valid JSON", ""
    unknown = [e["loc"] for e in found if e.get("type") == "extra_forbidden"]
    if unknown:
        names = [".".join(str(k) for k in loc) for loc in unknown]
        what = (f"'{names[0]}' is not a plan setting" if len(names) == 1
                else f"{', '.join(repr(n) for n in names)} are not plan settings")
        part = _part_at(tuple(unknown[0][:-1]))
        where = ".".join(str(k) for k in unknown[0][:-1] if not isinstance(k, int)) or "the plan"
        known = f" The settings of {where} are: {', '.join(part.model_fields)}." if part else ""
        return what + " (a typo?)", f"Correct or remove it.{known}"
    first = found[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    if not where:
        return str(first.get("msg", "invalid value")), ""
    if first.get("type") == "missing":
        return f"'{where}' is missing", ""
    return f"'{where}' is wrong ({first.get('msg', 'invalid value')})", ""
