"""Backends translate a plan into a trainer's files and commands; only they know flag names."""

from __future__ import annotations

from typing import Protocol

from loragate.plan.model import Command, TrainingPlan


class Backend(Protocol):
    name: str

    def dataset_toml(self, plan: TrainingPlan) -> str:
        """The trainer's dataset TOML text for this plan."""
        ...

    def commands(
        self, plan: TrainingPlan, *, max_train_steps: int | None = None, output_dir: str | None = None
    ) -> list[Command]:
        """Caching and training commands in run order. `max_train_steps` and `output_dir`
        override the plan's (the dry run uses both)."""
        ...


def get_backend(name: str) -> Backend:
    """The backend for 'musubi' or 'sdscripts'."""
    if name == "musubi":
        from loragate.backends.musubi import MusubiBackend

        return MusubiBackend()
    if name == "sdscripts":
        from loragate.backends.sdscripts import SdScriptsBackend

        return SdScriptsBackend()
    from loragate.errors import LoragateError

    raise LoragateError(f"Unknown trainer backend {name!r}.", "Use 'musubi' (Wan) or 'sdscripts' (SD 1.5, SDXL, FLUX).")
