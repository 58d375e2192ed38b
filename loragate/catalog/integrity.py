"""Every data file in loragate/data/ read through its schema (unknown keys rejected), then checked
against the others: a preset naming an optimizer that does not exist, a family whose trainer has
no facts or whose script no flag list, a preset rate outside its optimizer's sourced range.

`data_problems()` runs at the MCP server's start and in the test suite; each problem names the
file and the key, in words a maintainer can act on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loragate.catalog.datafile import read_data_toml
from loragate.core.errors import LoragateError

TuningName = Literal["musubi-dit", "sd", "flux"]  # catalog.models.Tuning (a leaf: no catalog import here)
LevelName = Literal["quick", "standard", "thorough"]
KindName = Literal["character", "style", "object"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PresetLevel(_Strict):
    rank: int = Field(ge=1)
    alpha: float = Field(gt=0)
    learning_rate: float = Field(gt=0)
    optimizer: str
    lr_scheduler: str
    warmup_ratio: float = Field(ge=0, lt=1)
    target_steps: int = Field(ge=1)
    num_repeats: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    checkpoints: int = Field(ge=1)


class PresetKind(_Strict):
    rank_scale: float = Field(gt=0)
    steps_scale: float = Field(gt=0)
    lr_scale: float = Field(gt=0)
    why: str


class PresetsFile(_Strict):
    level: dict[TuningName, dict[LevelName, PresetLevel]]
    type: dict[KindName, PresetKind]
    explain: dict[str, str]


class BlockBytes(_Strict):
    boundary_scale: float = Field(gt=0)
    block_bytes: float = Field(gt=0)


class VramCommon(_Strict):
    cuda_context_gb: float = Field(ge=0)
    allocator_overhead: float = Field(ge=1)
    host_base_gb: float = Field(ge=0)
    vae_feature_maps: float = Field(gt=0)


class VramConstantsFile(_Strict):
    dit: BlockBytes
    unet: BlockBytes
    common: VramCommon


class PublishedFigure(_Strict):
    id: str
    kind: Literal["fits", "measured"]
    gpu_gb: float = Field(gt=0)
    source: str
    assumed: list[str] = Field(default_factory=list)
    request: dict[str, Any]


class PublishedFile(_Strict):
    figure: list[PublishedFigure]


def _schema(model: type[BaseModel], name: str) -> Callable[[], object]:
    return lambda: model.model_validate(read_data_toml(name))


def _loaders() -> dict[str, Callable[[], object]]:
    """Each data file and the function that reads it strictly."""
    from loragate.backends.musubi_recipes import load_recipes
    from loragate.catalog.models import load_catalog
    from loragate.catalog.networks import load_networks
    from loragate.catalog.optimizers import _optimizers, lr_check
    from loragate.checks import declared_in_data
    from loragate.dataset.thresholds import load_thresholds
    from loragate.environment.compat import load_matrix
    from loragate.environment.trainer import load_trainer_data

    return {
        "models.toml": load_catalog,
        "musubi_recipes.toml": load_recipes,
        "optimizers.toml": lambda: (_optimizers(), lr_check()),
        "presets.toml": _schema(PresetsFile, "presets.toml"),
        "trainers.toml": load_trainer_data,
        "cuda_matrix.toml": load_matrix,
        "vram_constants.toml": _schema(VramConstantsFile, "vram_constants.toml"),
        "vram_published.toml": _schema(PublishedFile, "vram_published.toml"),
        "checks.toml": declared_in_data,
        "thresholds.toml": load_thresholds,
        "networks.toml": load_networks,
    }


def _said(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(k) for k in first["loc"])
        if first["type"] == "extra_forbidden":
            return f"'{where}' is not a known key (a typo?)"
        return f"'{where}': {first['msg']}"
    return str(exc)


def data_problems() -> list[str]:
    """Everything wrong with the shipped data, each with its file; [] when all is well."""
    problems = []
    for name, load in _loaders().items():
        try:
            load()
        except (ValidationError, LoragateError, ValueError, KeyError) as exc:
            problems.append(f"loragate/data/{name}: {_said(exc)}")
    return problems or _cross_file_problems()


def _cross_file_problems() -> list[str]:
    from loragate.catalog.flags import known_scripts
    from loragate.catalog.models import load_catalog
    from loragate.catalog.optimizers import get_optimizer, judge_lr
    from loragate.catalog.presets import LEVELS, TRAINING_TYPES, get_preset
    from loragate.environment.trainer import load_trainer_data

    problems: list[str] = []
    families = load_catalog().families
    trainers = load_trainer_data().trainer
    scripts = set(known_scripts())
    presets = PresetsFile.model_validate(read_data_toml("presets.toml"))
    for fid, family in families.items():
        if family.trainer not in trainers:
            problems.append(f"models.toml: {fid} trains with {family.trainer}, which trainers.toml does not describe")
        train = family.scripts.get("train", "").rsplit("/", 1)[-1]
        if train not in scripts:
            problems.append(f"models.toml: {fid}'s training script {train!r} has no flag list in data/flags/")
        if family.trainer in trainers and trainers[family.trainer].traits.weights_by_recipe:
            problems += _recipe_problems(fid, family)
        if family.tuning not in presets.level:
            problems.append(f"presets.toml: no levels for {fid}'s tuning {family.tuning!r}")
            continue
        for kind in TRAINING_TYPES:
            for level in LEVELS:
                try:
                    p = get_preset(fid, kind, level)
                    info = get_optimizer(p.optimizer)
                    adaptive = info.lr[family.tuning][1] >= 0.5  # Prodigy-style: the rate multiplies its own step
                    if not adaptive and judge_lr(p.optimizer, family.tuning, p.learning_rate, p.alpha, p.rank):
                        problems.append(f"presets.toml: {fid} {kind} {level} uses learning rate {p.learning_rate:g}, "
                                        f"outside {p.optimizer}'s range in optimizers.toml")
                except (LoragateError, KeyError) as exc:
                    problems.append(f"presets.toml: {fid} {kind} {level}: {exc}")
    for figure in PublishedFile.model_validate(read_data_toml("vram_published.toml")).figure:
        model = figure.request.get("model")
        if model not in families:
            problems.append(f"vram_published.toml: figure {figure.id} names the unknown model {model!r}")
    return problems


def _recipe_problems(fid: str, family: Any) -> list[str]:
    """A musubi family's recipe exists and passes only flags its scripts have."""
    from loragate.backends.musubi_recipes import load_recipes
    from loragate.catalog.flags import known_scripts, script_flags

    recipe = load_recipes().get(family.recipe or "")
    if recipe is None:
        return [f"models.toml: {fid} names the musubi recipe {family.recipe!r}, which musubi_recipes.toml does not hold"]
    problems = []
    for stage, flags in recipe.flags().items():
        script = family.scripts.get(stage, "").rsplit("/", 1)[-1]
        if script not in known_scripts():
            problems.append(f"models.toml: {fid}'s {stage} script {script!r} has no flag list in data/flags/")
            continue
        known = script_flags(script)
        problems += [f"musubi_recipes.toml: {family.recipe} passes {flag} to {script}, which has no such option"
                     for flag in flags if flag not in known]
    return problems


def check_data() -> None:
    """Raise when the shipped data is inconsistent (a broken install or a bad edit)."""
    problems = data_problems()
    if problems:
        raise LoragateError("loragate's own data files are inconsistent: " + "; ".join(problems) + ".",
                            "Reinstall loragate; if you edited a file in loragate/data/, fix the key named.")
