"""Backends translate a plan into a trainer's files and commands; only they know flag names."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from loragate.core.plan import Command, TimestepSpec, TrainingPlan

if TYPE_CHECKING:
    from loragate.backends.failures import TrainerFailures
    from loragate.backends.generation import CellSpec, GenCommand
    from loragate.backends.reading import ImportContext
    from loragate.catalog.models import ModelFamily
    from loragate.validate.invocation import Invocation

# backend name -> "module:class"; a third trainer is one more line here and one more package.
BACKENDS: dict[str, str] = {
    "musubi": "loragate.backends.musubi:MusubiBackend",
    "sdscripts": "loragate.backends.sdscripts:SdScriptsBackend",
}
# Packages of validator rules (each module registers its checks with @rule); loragate.validate.rules
# imports every module in them.
RULE_PACKAGES: tuple[str, ...] = ("loragate.backends.rules",)
# backend name -> "module:function" building the evaluation's generation processes
# (plan, family, cells, output folder, Lightning LoRAs) -> [GenCommand]
GENERATION: dict[str, str] = {
    "musubi": "loragate.backends.musubi_generate:generation_commands",
    "sdscripts": "loragate.backends.sdscripts_generate:generation_commands",
}
GenerationCommands = Callable[[TrainingPlan, "ModelFamily", "list[CellSpec]", Path, "list[str]"], "list[GenCommand]"]


class Backend(Protocol):
    name: str
    failures: "TrainerFailures"  # how its failures read in its log (loragate.runs.classify, logparse)

    def encoder_role(self, family: "ModelFamily", encoder: str) -> str | None:
        """The plan's weights role for one of the family's text encoders where the scripts take it as a
        file of its own; None where it comes inside another file."""
        ...

    def memory_defaults(self, family: "ModelFamily") -> dict[str, bool]:
        """The trainer's part of a new plan's memory options: cache_text_encoder_outputs,
        network_train_unet_only and no_half_vae."""
        ...

    def timestep_defaults(self, family: "ModelFamily") -> TimestepSpec | None:
        """A new plan's timestep settings for the family; None where the trainer's defaults are right."""
        ...

    def dataset_config(self, plan: TrainingPlan) -> dict[str, Any]:
        """The trainer's dataset TOML for this plan, as a dict."""
        ...

    def dataset_toml(self, plan: TrainingPlan) -> str:
        """The trainer's dataset TOML text for this plan."""
        ...

    def commands(
        self, plan: TrainingPlan, *, max_train_steps: int | None = None, output_dir: str | None = None
    ) -> list[Command]:
        """Caching and training commands in run order. `max_train_steps` and `output_dir`
        override the plan's (the dry run uses both)."""
        ...

    def import_setup(self, invocations: list["Invocation"], dataset: dict[str, Any], dataset_where: str,
                     ctx: "ImportContext", guess: str | None) -> TrainingPlan:
        """The plan an artist's own commands (read by loragate.validate) and dataset TOML (as a
        dict) describe; `guess` is the family the weights' names suggest. The inverse of
        `commands` and `dataset_toml`, from the same flag tables and family data."""
        ...


def get_backend(name: str) -> Backend:
    """The registered backend of that name ('musubi', 'sdscripts')."""
    target = BACKENDS.get(name)
    if target is None:
        from loragate.core.errors import LoragateError

        raise LoragateError(f"Unknown trainer backend {name!r}.", "Use 'musubi' (Wan) or 'sdscripts' (SD 1.5, SDXL, FLUX).")
    module, _, cls = target.partition(":")
    backend: Backend = getattr(import_module(module), cls)()
    return backend


def generation_commands(name: str) -> GenerationCommands:
    """The registered backend's builder of generation commands (the trainer's own sampling scripts)."""
    target = GENERATION.get(name)
    if target is None:
        get_backend(name)  # the same refusal as for an unknown backend
        raise KeyError(name)
    module, _, function = target.partition(":")
    build: GenerationCommands = getattr(import_module(module), function)
    return build
