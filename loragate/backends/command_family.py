"""Which model family a trainer command trains, read from its script, flags and weights' names.

The validator engine (loragate.validate) asks this module, so that it names no trainer and no flag;
the rules under loragate/backends/rules ask it too.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Iterable

from loragate.catalog.models import ModelFamily, get_family
from loragate.core.errors import LoragateError
from loragate.validate.invocation import Invocation
from loragate.validate.weights import WeightsName, read_weights_name, sd3_variant, sdxl_variant

if TYPE_CHECKING:
    from loragate.backends.musubi_recipes import Recipe

# musubi --task -> catalog family (reference musubi-tuner.md §1.4 task table).
TASK_FAMILY: dict[str, str] = {
    "t2v-1.3B": "wan2.1-t2v-1.3b",
    "t2v-14B": "wan2.1-t2v-14b",
    "t2i-14B": "wan2.1-t2i-14b",
    "i2v-14B": "wan2.1-i2v-14b",
    "flf2v-14B": "wan2.1-flf2v-14b",
    "t2v-A14B": "wan2.2-t2v-a14b",
    "i2v-A14B": "wan2.2-i2v-a14b",
}
DEFAULT_TASK = "t2v-14B"  # wan_train_network.py --task default (reference musubi-tuner.md §1.5)


def family_or_none(family_id: str | None) -> ModelFamily | None:
    if not family_id:
        return None
    try:
        return get_family(family_id)
    except LoragateError:
        return None


def script_family(inv: Invocation) -> str | None:
    """The musubi family a command's script and model selector name, for models whose scripts are
    their own (Qwen-Image, Z-Image, FLUX.2, HunyuanVideo 1.5); Wan's are told apart by --task and
    the weights' names (family_id), so None for them."""
    from loragate.backends.musubi_recipes import get_recipe

    found = [(family, get_recipe(family.recipe, family.id).selector_flag())
             for family in musubi_families_of(inv.script) if family.id not in TASK_FAMILY.values()]
    for family, flag in found:
        if flag and selector_value(inv, flag) in (family.task, *family.distilled_versions):
            return family.id
    return found[0][0].id if found else None


def selector_value(inv: Invocation, flag: str) -> str | None:
    """The model selector a musubi command runs with: its value, or the script's default; None when
    the script has no such option."""
    from loragate.catalog.flags import known_scripts, script_flags

    spec = script_flags(inv.script).get(flag) if inv.script in known_scripts() else None
    if spec is None:
        return None
    recipe = _recipe_of_script(inv.script)
    if recipe is not None and (recipe.selector_unset or recipe.selector_switches or recipe.selector_lowercase):
        return recipe.resolve_selector(inv.value(flag), {f for f in recipe.selector_switches if inv.has(f)})
    return inv.value(flag, spec.default if spec.default is None else str(spec.default))


def musubi_families_of(script: str) -> list[ModelFamily]:
    """The musubi families (with a recipe) whose scripts include this base name."""
    return [get_family(fid) for fid in _musubi_family_ids(script)]


@lru_cache(maxsize=None)
def _musubi_family_ids(script: str) -> tuple[str, ...]:
    from loragate.catalog.models import load_catalog

    return tuple(f.id for f in load_catalog().families.values() if f.trainer == "musubi" and f.recipe
                 and script in {p.rsplit("/", 1)[-1] for p in f.scripts.values()})


def _recipe_of_script(script: str) -> Recipe | None:
    """The musubi recipe of the family whose scripts include this one (their selector is resolved the same way)."""
    from loragate.backends.musubi_recipes import get_recipe

    families = musubi_families_of(script)
    return get_recipe(families[0].recipe, families[0].id) if families and families[0].recipe else None


def is_wan(inv: Invocation) -> bool:
    """Whether the command runs a Wan script (not another musubi model's own)."""
    return inv.trainer == "musubi" and script_family(inv) is None


def named_weights(inv: Invocation, flag: str = "--dit") -> WeightsName | None:
    """What the name of the weights file a flag gives says (version, kind, expert, precision)."""
    value = inv.value(flag)
    return read_weights_name(value) if value else None


def expert(inv: Invocation) -> str | None:
    """The Wan 2.2 expert a musubi training trains (high, low or both), when the names say."""
    if inv.trainer != "musubi" or inv.stage != "train":
        return None
    if inv.has("--dit_high_noise"):
        return "both"
    found = named_weights(inv)
    return found.expert if found else None


def family_id(inv: Invocation, invocations: Iterable[Invocation]) -> str | None:
    """What the weights' names say; else the task or script. `invocations` are all the commands
    checked together: a musubi caching command trains what their training does."""
    if inv.trainer == "musubi":
        by_script = script_family(inv)
        if by_script:
            return by_script
        for flag in ("--dit", "--dit_high_noise"):
            w = named_weights(inv, flag)
            if w and w.family_id():
                return w.family_id()
        if inv.stage == "train":
            return TASK_FAMILY.get(inv.value("--task", DEFAULT_TASK) or DEFAULT_TASK)
        if inv.stage == "cache_latents" and inv.has("--clip"):
            return "wan2.1-i2v-14b"
        invocations = list(invocations)
        train = next((i for i in invocations if i.stage == "train" and i.trainer == "musubi"), None)
        return family_id(train, invocations) if train is not None else None
    if inv.script == "flux_train_network.py":
        return "chroma" if inv.value("--model_type") == "chroma" else "flux1-dev"
    if inv.script == "sd3_train_network.py":
        return sd3_variant(inv.value("--pretrained_model_name_or_path", "") or "")
    if inv.script == "sdxl_train_network.py":
        return sdxl_variant(inv.value("--pretrained_model_name_or_path", "") or "")
    if inv.script == "train_network.py":
        return None if inv.has("--v2") else "sd15"
    return None
