"""Optimizers: each trainer's spelling, required arguments, memory per parameter and sane learning
rates per family group. Data in loragate/data/optimizers.toml (each value with its source)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import BaseModel, Field

from loragate.catalog.datafile import read_data_toml
from loragate.catalog.models import FamilyGroup, get_family
from loragate.errors import LoragateError


class OptimizerInfo(BaseModel):
    name: str
    display_name: str
    musubi_type: str = Field(description="Value for musubi-tuner's --optimizer_type.")
    sdscripts_type: str = Field(description="Value for sd-scripts' --optimizer_type.")
    state_bytes_per_param: float = Field(description="Optimizer state per trainable parameter, bytes.")
    args: list[str] = Field(default_factory=list, description="--optimizer_args it needs, key=value each.")
    extra_flags: list[str] = Field(default_factory=list, description="Other trainer flags it needs, as argv.")
    requires: list[str] = Field(default_factory=list, description="Python packages the trainer needs for it.")
    recommended_scheduler: str = "constant"
    explanation: str
    lr: dict[FamilyGroup, tuple[float, float]]
    default_lr: dict[FamilyGroup, float]

    def type_for(self, trainer: str) -> str:
        """The --optimizer_type spelling for 'musubi' or 'sdscripts'."""
        return self.musubi_type if trainer == "musubi" else self.sdscripts_type


@lru_cache(maxsize=1)
def _optimizers() -> dict[str, OptimizerInfo]:
    raw = read_data_toml("optimizers.toml").get("optimizer", {})
    return {name: OptimizerInfo.model_validate({"name": name, **value}) for name, value in raw.items()}


def optimizer_names() -> list[str]:
    return list(_optimizers())


def get_optimizer(name: str) -> OptimizerInfo:
    """Look an optimizer up by loragate name or by either trainer's spelling, case-insensitively
    (musubi lower-cases the names it knows; "prodigyopt.Prodigy" and "Prodigy" are the same one)."""
    key = name.strip().lower()
    for info in _optimizers().values():
        spellings = {info.name.lower(), info.musubi_type.lower(), info.sdscripts_type.lower()}
        if key in spellings or key.replace("_", "").replace("-", "") in spellings:
            return info
    raise LoragateError(
        f"Unknown optimizer {name!r}.",
        f"Use one of: {', '.join(optimizer_names())}.",
    )


def lr_range(name: str, family: str) -> tuple[float, float]:
    """The sane learning-rate range (low, high) for this optimizer on this model family."""
    return get_optimizer(name).lr[get_family(family).group]


def default_lr(name: str, family: str) -> float:
    return get_optimizer(name).default_lr[get_family(family).group]
