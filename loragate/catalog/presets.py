"""Quick / Standard / Thorough presets per family tuning (catalog.models.Tuning) and training type, each value with a plain
explanation. Data in loragate/data/presets.toml."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, cast

from pydantic import BaseModel, Field

from loragate.catalog.datafile import read_data_toml
from loragate.catalog.models import Tuning, get_family
from loragate.catalog.optimizers import get_optimizer
from loragate.core.errors import LoragateError
from loragate.core.vocabulary import PresetName, TrainingType

Level = PresetName
TRAINING_TYPES: tuple[str, ...] = ("character", "style", "object")
LEVELS: tuple[str, ...] = ("quick", "standard", "thorough")
_RANK_BOUNDS = (4, 64)  # below 4 learns too little to be useful; above 64 mostly copies the pictures


class Preset(BaseModel):
    family: str
    tuning: Tuning
    training_type: TrainingType
    level: Level
    rank: int
    alpha: float
    learning_rate: float
    optimizer: str = Field(description="loragate optimizer name; see catalog.optimizers for the trainer spelling.")
    optimizer_args: list[str] = Field(default_factory=list)
    lr_scheduler: str
    warmup_ratio: float
    target_steps: int
    num_repeats: int
    batch_size: int
    checkpoints: int = Field(description="How many saved versions to aim for over the run.")
    explanations: dict[str, str] = Field(description="Setting -> one plain sentence an artist understands.")


class Schedule(BaseModel):
    """A preset's step target turned into epochs for a dataset of a given size."""

    max_train_epochs: int
    steps_per_epoch: int
    total_steps: int
    save_every_n_epochs: int


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    from loragate.catalog.integrity import PresetsFile

    raw = read_data_toml("presets.toml")
    PresetsFile.model_validate(raw)  # unknown keys and out-of-bound values are errors, not ignored
    return raw


def get_preset(family_id: str, training_type: str = "character", preset: str = "standard") -> Preset:
    """The preset for a model family, training type and level, with an explanation per value."""
    family = get_family(family_id)
    kind, level = training_type.strip().lower(), preset.strip().lower()
    if kind not in TRAINING_TYPES:
        raise LoragateError(f"Unknown training type {training_type!r}.", f"Use one of: {', '.join(TRAINING_TYPES)}.")
    if level not in LEVELS:
        raise LoragateError(f"Unknown preset {preset!r}.", f"Use one of: {', '.join(LEVELS)}.")
    data = _data()
    base = data["level"][family.tuning][level]
    scale = data["type"][kind]

    rank = min(max(round(base["rank"] * scale["rank_scale"]), _RANK_BOUNDS[0]), _RANK_BOUNDS[1])
    alpha = base["alpha"] * rank / base["rank"]  # keep alpha/rank, so the step strength stays the same
    optimizer = get_optimizer(base["optimizer"])
    values: dict[str, Any] = {
        "rank": rank,
        "alpha": alpha,
        "learning_rate": float(f"{base['learning_rate'] * scale['lr_scale']:.3g}"),
        "optimizer": optimizer.name,
        "optimizer_args": list(optimizer.args),
        "lr_scheduler": base["lr_scheduler"],
        "warmup_ratio": base["warmup_ratio"],
        "target_steps": int(round(base["target_steps"] * scale["steps_scale"], -1)),
        "num_repeats": base["num_repeats"],
        "batch_size": base["batch_size"],
        "checkpoints": base["checkpoints"],
    }
    explanations = {key: explain_setting(key, values[key]) for key in data["explain"]}
    explanations["training_type"] = scale["why"]
    return Preset(
        family=family.id, tuning=family.tuning, training_type=cast(TrainingType, kind), level=cast(Level, level),
        explanations=explanations, **values
    )


def schedule_for(preset: Preset, items: int) -> Schedule:
    """Epochs, steps and save cadence that reach the preset's step target on `items` pictures/clips."""
    if items < 1:
        raise LoragateError("The dataset has no pictures or clips to train on.", "Add training media, then plan again.")
    steps_per_epoch = math.ceil(items * preset.num_repeats / preset.batch_size)
    epochs = max(1, math.ceil(preset.target_steps / steps_per_epoch))
    return Schedule(
        max_train_epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        total_steps=epochs * steps_per_epoch,
        save_every_n_epochs=max(1, epochs // preset.checkpoints),
    )


def explain_setting(key: str, value: Any) -> str:
    """The plain sentence for one preset setting (presets.toml [explain]) with the value it has.

    The plan calls this with its final values (after the artist's overrides and the memory fit), so
    config.md never explains a value other than the one that runs. A ratio (warm-up) may be given
    as a ready-made phrase such as "100 steps (5% of the run)".
    """
    template = _data()["explain"].get(key)
    if template is None:
        raise KeyError(f"presets.toml has no explanation for {key!r}")
    if key == "warmup_ratio" and isinstance(value, float):
        value = f"{value:.0%} of the run"
    text = template.format(value=_shown(value))
    if key == "optimizer":
        text += " " + get_optimizer(str(value)).explanation
    return text


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
