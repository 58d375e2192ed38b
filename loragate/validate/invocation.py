"""One trainer command as the validator sees it: which script, which stage, which flags."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, Field

from loragate.validate.trainer_tables import trainer_by_prefix

StageName = Literal["cache_latents", "cache_text_encoder", "train", "unknown"]
TrainerName = str  # a key of loragate.backends.BACKENDS


@lru_cache(maxsize=1)
def known_scripts() -> dict[str, tuple[TrainerName, StageName]]:
    """script base name -> (trainer, stage), from every model family's scripts in models.toml, so a
    family added there is recognised here too. Module forms (`python -m musubi_tuner.wan_train_network`)
    are reduced to the same base name by the shell parser."""
    from loragate.catalog.models import load_catalog

    found: dict[str, tuple[TrainerName, StageName]] = {}
    for family in load_catalog().families.values():
        for stage, path in family.scripts.items():
            found.setdefault(path.replace("\\", "/").rsplit("/", 1)[-1], (family.trainer, stage))  # type: ignore[arg-type]
    return found


def classify_script(base: str) -> tuple[TrainerName | None, StageName]:
    known = known_scripts()
    if base in known:
        return known[base]
    # Other scripts of the trainers: recognised so a command is not lost, but loragate has no flag
    # list for them, so only the general checks apply.
    trainer = trainer_by_prefix(base)
    if "cache_latents" in base:
        return trainer, "cache_latents"
    if "cache_text_encoder" in base:
        return trainer, "cache_text_encoder"
    if "train" in base:
        return trainer, "train"
    return trainer, "unknown"


class StrayValue(BaseModel):
    """A word on the command line that no flag takes; argparse stops with "unrecognized arguments"."""

    value: str
    after: str = Field(default="", description="The flag written just before it.")
    where: str = ""


class Invocation(BaseModel):
    """A trainer command: flags keep every value in order, so a repeated flag stays visible.

    `args` maps a flag (with its dashes, e.g. `--network_dim`) to its values; a switch has `[]`.
    For a flag given twice the values of both occurrences are kept; argparse uses the last one.
    """

    script: str = Field(description="Base name of the script, e.g. wan_train_network.py.")
    stage: StageName
    trainer: TrainerName | None
    args: dict[str, list[str]] = Field(default_factory=dict)
    launcher_args: dict[str, list[str]] = Field(default_factory=dict, description="Options given to `accelerate launch`.")
    source: str = Field(description="file:line where the command starts.")
    file: str = ""
    flag_sources: dict[str, str] = Field(default_factory=dict, description="flag -> file:line it was written at.")
    occurrences: dict[str, int] = Field(default_factory=dict, description="How often each flag was written.")
    from_config: dict[str, str] = Field(default_factory=dict, description="flag -> config TOML (file:line) it came from.")
    config_raw: dict[str, Any] = Field(default_factory=dict, description="flag -> value exactly as the config TOML holds it.")
    config_off: list[str] = Field(default_factory=list, description="Switches a config TOML sets to false.")
    config_files: list[str] = Field(default_factory=list)
    stray: list[StrayValue] = Field(default_factory=list)
    abbreviated: dict[str, str] = Field(default_factory=dict, description="full flag -> the prefix written.")
    env: dict[str, str] = Field(default_factory=dict, description="VAR=value given before the command.")
    index: int = Field(default=0, description="Position among all commands checked, in reading order.")

    def has(self, flag: str) -> bool:
        return flag in self.args

    def values(self, flag: str) -> list[str]:
        return self.args.get(flag, [])

    def value(self, flag: str, default: str | None = None) -> str | None:
        """The value argparse would keep: the last one written."""
        vals = self.args.get(flag)
        return vals[-1] if vals else default

    def number(self, flag: str, default: float | None = None) -> float | None:
        raw = self.value(flag)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            return default

    def where(self, flag: str) -> str:
        """file:line of a flag, falling back to the command's first line."""
        return self.from_config.get(flag) or self.flag_sources.get(flag) or self.source

    def evidence(self, flag: str, with_value: bool = True, **extra: object) -> dict[str, object]:
        """file, line, flag, script and the value written; `with_value=False` for a flag nobody
        knows, whose value may be anything (a token pasted into a config) and is not echoed."""
        where = self.where(flag)
        file, _, line = where.rpartition(":")
        ev: dict[str, object] = {"file": file or where, "line": int(line) if line.isdigit() else None, "flag": flag,
                                 "script": self.script}
        if with_value and flag in self.args:
            vals = self.args[flag]
            ev["value"] = vals[-1] if len(vals) == 1 else (vals or True)
        ev.update(extra)
        return ev
