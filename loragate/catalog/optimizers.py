"""Optimizers: each trainer's spelling, required arguments, memory per parameter and sane learning
rates per family group. Data in loragate/data/optimizers.toml (each value with its source)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from loragate.catalog.datafile import read_data_toml
from loragate.catalog.models import Tuning, get_family
from loragate.core.errors import LoragateError


class OptimizerInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
    lr: dict[Tuning, tuple[float, float]]
    lr_source: str = Field(description="Where the learning-rate ranges come from.")
    default_lr: dict[Tuning, float]

    def type_for(self, trainer: str) -> str:
        """The --optimizer_type spelling for that trainer (the `<trainer>_type` field)."""
        spelling: str = getattr(self, f"{trainer}_type")
        return spelling


class LrCheck(BaseModel):
    """How a learning rate is judged against the ranges (optimizers.toml [lr_check])."""

    model_config = ConfigDict(extra="forbid")

    alpha_ratio: dict[Tuning, tuple[float, float]] = Field(description="Per tuning: the alpha / rank its ranges were taken at, lowest and highest.")
    block_factor: float = Field(gt=1, description="How far past the range a rate blocks instead of warning.")


class LrJudgement(BaseModel):
    severity: Literal["warn", "block"]
    update: float = Field(description="Learning rate x alpha / rank: the size of the update it makes.")
    low: float = Field(description="The learning rate that would make the smallest sane update at this alpha / rank.")
    high: float = Field(description="The learning rate that would make the largest sane update at this alpha / rank.")
    source: str


@lru_cache(maxsize=1)
def lr_check() -> LrCheck:
    return LrCheck.model_validate(read_data_toml("optimizers.toml")["lr_check"])


def judge_lr(optimizer: str, tuning: Tuning, learning_rate: float, alpha: float, rank: float) -> LrJudgement | None:
    """None when the update the rate makes at this alpha / rank lies in the optimizer's range for
    the family's tuning; else how far off it is, with the range as learning rates for this pairing."""
    info = get_optimizer(optimizer)
    check = lr_check()
    low, high = info.lr[tuning]
    scale = alpha / rank
    update = learning_rate * scale
    lowest, highest = low * check.alpha_ratio[tuning][0], high * check.alpha_ratio[tuning][1]
    if lowest <= update <= highest:
        return None
    far = update > highest * check.block_factor or update < lowest / check.block_factor
    return LrJudgement(severity="block" if far else "warn", update=update, low=lowest / scale, high=highest / scale,
                       source=info.lr_source)


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
    return get_optimizer(name).lr[get_family(family).tuning]


def default_lr(name: str, family: str) -> float:
    return get_optimizer(name).default_lr[get_family(family).tuning]
