"""The shape of a rule and what every rule sees.

A rule is a named check with a stable code, a default severity, the upstream source it comes from
and a function that looks at the whole setup (all commands and dataset TOMLs together) and yields
hits. Rules register themselves in `RULES` with the `@rule` decorator; the validator runs them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from loragate.catalog.models import ModelFamily, get_family
from loragate.core.errors import LoragateError
from loragate.core.findings import Severity
from loragate.validate.invocation import Invocation
from loragate.validate.parse_toml import DatasetConfig, TomlProblem
from loragate.validate.weights import DEFAULT_TASK, TASK_FAMILY, WeightsName, read_weights_name, sd3_variant, sdxl_variant

if TYPE_CHECKING:
    from loragate.backends.musubi_recipes import Recipe


@dataclass(frozen=True)
class Hit:
    """One occurrence of a rule's problem. severity None means the rule's default."""

    message: str
    fix: str
    evidence: dict[str, Any] = field(default_factory=dict)
    severity: Severity | None = None


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    summary: str
    source: str
    check: Callable[["Setup"], Iterable[Hit]]


RULES: list[Rule] = []


def rule(code: str, severity: Severity, summary: str, source: str) -> Callable[[Callable[["Setup"], Iterable[Hit]]], Callable[["Setup"], Iterable[Hit]]]:
    """Register a check. `source` names the upstream document or code the rule rests on."""

    def register(fn: Callable[["Setup"], Iterable[Hit]]) -> Callable[["Setup"], Iterable[Hit]]:
        if any(r.code == code for r in RULES):
            raise ValueError(f"rule code {code} registered twice")
        RULES.append(Rule(code=code, severity=severity, summary=summary, source=source, check=fn))
        return fn

    return register


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
    the weights' names (Setup.family_id), so None for them."""
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
    from loragate.catalog.flags import script_flags

    spec = script_flags(inv.script).get(flag) if inv.script in _known_scripts() else None
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


def _known_scripts() -> list[str]:
    from loragate.catalog.flags import known_scripts

    return known_scripts()


@dataclass
class Setup:
    """Everything being validated together."""

    invocations: list[Invocation]
    datasets: dict[str, DatasetConfig]
    model: str | None = None
    check_paths: bool = False
    base_dirs: dict[str, Path] = field(default_factory=dict)  # file shown in findings -> its folder
    default_base: Path | None = None
    toml_errors: list[tuple[str, TomlProblem]] = field(default_factory=list)  # config TOMLs that did not parse
    # Where this machine may look (the MCP door's allowed roots); None: anywhere (the CLI, the user's own shell).
    allowed: Callable[[Path], bool] | None = None
    not_followed: list[str] = field(default_factory=list)  # paths outside `allowed`, never read or probed

    # --- commands -------------------------------------------------------------------------
    def trains(self, trainer: str | None = None) -> Iterator[Invocation]:
        return (i for i in self.invocations if i.stage == "train" and (trainer is None or i.trainer == trainer))

    def stage(self, stage: str) -> list[Invocation]:
        return [i for i in self.invocations if i.stage == stage]

    def known(self, inv: Invocation) -> bool:
        from loragate.catalog.flags import known_scripts

        return inv.script in known_scripts()

    def wan(self, inv: Invocation) -> bool:
        """Whether the command runs a Wan script (not another musubi model's own)."""
        return inv.trainer == "musubi" and script_family(inv) is None

    # --- the model ------------------------------------------------------------------------
    def weights(self, inv: Invocation, flag: str = "--dit") -> WeightsName | None:
        value = inv.value(flag)
        return read_weights_name(value) if value else None

    def family_id(self, inv: Invocation) -> str | None:
        """--model when given; else what the weights' names say; else the task or script."""
        if self.model:
            return self.model
        if inv.trainer == "musubi":
            by_script = script_family(inv)
            if by_script:
                return by_script
            for flag in ("--dit", "--dit_high_noise"):
                w = self.weights(inv, flag)
                if w and w.family_id():
                    return w.family_id()
            if inv.stage == "train":
                return TASK_FAMILY.get(inv.value("--task", DEFAULT_TASK) or DEFAULT_TASK)
            if inv.stage == "cache_latents" and inv.has("--clip"):
                return "wan2.1-i2v-14b"
            return self._musubi_train_family()
        if inv.script == "flux_train_network.py":
            return "chroma" if inv.value("--model_type") == "chroma" else "flux1-dev"
        if inv.script == "sd3_train_network.py":
            return sd3_variant(inv.value("--pretrained_model_name_or_path", "") or "")
        if inv.script == "sdxl_train_network.py":
            return sdxl_variant(inv.value("--pretrained_model_name_or_path", "") or "")
        if inv.script == "train_network.py":
            return None if inv.has("--v2") else "sd15"
        return None

    def _musubi_train_family(self) -> str | None:
        for train in self.trains("musubi"):
            return self.family_id(train)
        return None

    def family(self, inv: Invocation) -> ModelFamily | None:
        return family_or_none(self.family_id(inv))

    # --- files ----------------------------------------------------------------------------
    def base_dir(self, inv_or_file: Invocation | str) -> Path | None:
        file = inv_or_file.file if isinstance(inv_or_file, Invocation) else inv_or_file
        return self.base_dirs.get(file, self.default_base)

    def resolve(self, value: str, relative_to: Path | None) -> Path:
        p = Path(value).expanduser()
        if not p.is_absolute() and relative_to is not None:
            p = relative_to / p
        return p

    def may_look(self, path: Path, value: str | None = None) -> bool:
        """Whether this machine may read or probe `path`; a refused one is remembered, never touched,
        so the answer cannot reveal whether something exists outside the allowed folders."""
        if self.allowed is None or self.allowed(path):
            return True
        shown = value or str(path)
        if shown not in self.not_followed:
            self.not_followed.append(shown)
        return False

    def dataset_for(self, inv: Invocation) -> DatasetConfig | None:
        value = inv.value("--dataset_config")
        if not value:
            return None
        if value in self.datasets:
            return self.datasets[value]
        wanted = self.resolve(value, self.base_dir(inv))
        for config in self.datasets.values():
            if config.resolved is not None and _same(config.resolved, wanted):
                return config
        return None


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b
