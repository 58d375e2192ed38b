"""musubi-tuner's per-model arguments as data (loragate/data/musubi_recipes.toml): which weight
file goes to which flag at which stage, and the model selector each script takes.

A model whose scripts follow musubi's shared options is a recipe here plus a family in
models.toml; the backend (loragate.backends.musubi) fills the recipes in.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import BaseModel, ConfigDict

from loragate.catalog.datafile import read_data_toml
from loragate.core.errors import LoragateError
from loragate.core.plan import WeightPaths

PLACEHOLDER_TASK = "task"


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error

    cache_latents: list[str]
    cache_text_encoder: list[str]
    train: list[str]
    sample: list[str] = []
    text_role: str
    text_encoder_fp8: str | None = None
    attention_refused: list[str] = []
    split_attn_unless_sdpa: bool = False
    # How the scripts resolve a model selector left out or written otherwise (qwen_image_utils.py
    # resolve_model_version_args): the value when it is not given, older switches that stand for a
    # version, and whether the value is lower-cased.
    selector_unset: str | None = None
    selector_switches: dict[str, str] = {}
    selector_lowercase: bool = False

    def placeholders(self) -> set[str]:
        """Every "{name}" the recipe's argv lists use."""
        items = self.cache_latents + self.cache_text_encoder + self.train + self.sample
        return {item[1:-1] for item in items if is_placeholder(item)}

    def selector_flag(self) -> str | None:
        """The option that takes the family's {task} at training (--task, --model_version)."""
        at = self.train.index("{task}") if "{task}" in self.train else 0
        return self.train[at - 1] if at else None

    def resolve_selector(self, given: str | None, switches_on: set[str]) -> str | None:
        """The model version a script runs with, resolved as the script resolves it."""
        if given is not None:
            return given.lower() if self.selector_lowercase else given
        for switch, version in self.selector_switches.items():  # in the scripts' order of precedence
            if switch in switches_on:
                return version
        return self.selector_unset

    def sampling_flags(self) -> list[str]:
        """The options naming the text encoder and the VAE, which sampling during training loads."""
        items = self.train + self.sample
        return [items[at - 1] for role in (self.text_role, "vae") for at, item in enumerate(items) if at and item == "{" + role + "}"][:2]

    def flags(self) -> dict[str, list[str]]:
        """stage -> the option names the recipe adds there (for checks against the scripts' parsers)."""
        fp8 = [self.text_encoder_fp8] if self.text_encoder_fp8 else []
        train = self.train + self.sample + fp8
        text = self.cache_text_encoder + fp8
        return {stage: [i for i in items if i.startswith("--")]
                for stage, items in (("cache_latents", self.cache_latents), ("cache_text_encoder", text), ("train", train))}


class RecipesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipe: dict[str, Recipe]


def is_placeholder(item: str) -> bool:
    return len(item) > 2 and item.startswith("{") and item.endswith("}")


@lru_cache(maxsize=1)
def load_recipes() -> dict[str, Recipe]:
    recipes = RecipesFile.model_validate(read_data_toml("musubi_recipes.toml")).recipe
    for name, recipe in recipes.items():
        unknown = recipe.placeholders() - set(WeightPaths.model_fields) - {PLACEHOLDER_TASK}
        if unknown or recipe.text_role not in WeightPaths.model_fields:
            raise LoragateError(
                f"musubi recipe {name!r} names {sorted(unknown) or recipe.text_role!r}, which is not a weight role or {{task}}.",
                f"Use one of: {', '.join(WeightPaths.model_fields)}.",
            )
    return recipes


def get_recipe(name: str | None, family: str) -> Recipe:
    recipes = load_recipes()
    if not name or name not in recipes:
        raise LoragateError(
            f"The model family {family} names no musubi-tuner recipe loragate knows ({name!r}).",
            f"Set `recipe` for it in loragate/data/models.toml to one of: {', '.join(sorted(recipes))}.",
        )
    return recipes[name]
