"""The shape of a rule and what every rule sees.

A rule is a named check with a stable code, a default severity, the upstream source it comes from
and a function that looks at the whole setup (all commands and dataset TOMLs together) and yields
hits. Rules register themselves in `RULES` with the `@rule` decorator; the validator runs them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from loragate.backends.kohya_args import DATASET_CONFIG
from loragate.core.findings import Severity
from loragate.validate.invocation import Invocation
from loragate.validate.parse_toml import DatasetConfig, TomlProblem

if TYPE_CHECKING:
    from loragate.catalog.models import ModelFamily


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

    # --- the model ------------------------------------------------------------------------
    def family_id(self, inv: Invocation) -> str | None:
        """--model when given; else what the trainer's backend reads from the command (weights' names,
        task, script)."""
        if self.model:
            return self.model
        from loragate.backends.command_family import family_id

        return family_id(inv, self.invocations)

    def family(self, inv: Invocation) -> ModelFamily | None:
        from loragate.backends.command_family import family_or_none

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
        value = inv.value(DATASET_CONFIG)
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
