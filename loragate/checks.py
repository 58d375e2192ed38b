"""The check catalogue: every finding code loragate can emit, declared once.

loragate/data/checks.toml declares the codes of the dataset, plan, environment and run checks;
the validator's rules declare theirs with `@rule` (loragate/backends/rules/, gathered by
loragate.validate.rules). A code is in one or the other, never both. With LORAGATE_STRICT_CHECKS
set (the test suite sets it) and `install_strict_check()` called (both doors and the test suite call
it), a Finding with an undeclared code, or a severity its entry does not allow, is an error at the
moment it is made, so a new check cannot ship without its entry.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from loragate.core.findings import Severity, check_codes_with

Stage = Literal["dataset", "captions", "config", "validate", "environment", "dry_run", "run", "evaluation"]
STRICT_ENV = "LORAGATE_STRICT_CHECKS"


class Check(BaseModel):
    model_config = ConfigDict(extra="forbid")

    severity: list[Severity] = Field(min_length=1, description="The severities it may carry, the usual one first.")
    stage: Stage
    source: str = Field(min_length=1, description="The module that emits it, or the upstream reference it rests on.")
    message: str = Field(min_length=1, description="What is wrong, as a template.")
    fix: str = Field(min_length=1, description="What to do, as a template.")


@lru_cache(maxsize=1)
def declared_in_data() -> dict[str, Check]:
    from loragate.catalog.datafile import read_data_toml

    raw = read_data_toml("checks.toml")
    unknown = set(raw) - {"check"}
    if unknown:
        raise ValueError(f"checks.toml: unknown table(s) {sorted(unknown)}")
    return {code: Check.model_validate(entry) for code, entry in raw["check"].items()}


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Check]:
    """Every declared code: checks.toml's and the validator rules'."""
    from loragate.validate.rules import RULES

    checks = dict(declared_in_data())
    for rule in RULES:
        # a rule's hits may soften or harden its default severity case by case
        severities: list[Severity] = [rule.severity] + [s for s in ("block", "warn", "info") if s != rule.severity]
        checks.setdefault(rule.code, Check(severity=severities, stage="validate", source=rule.source,
                                           message=rule.summary, fix="Given with each finding: the setting to change."))
    return checks


def strict() -> bool:
    return bool(os.environ.get(STRICT_ENV))


def check_declared(code: str, severity: Severity) -> None:
    """Raise when `code` is not in the catalogue or may not carry `severity`."""
    entry = catalogue().get(code)
    if entry is None:
        raise ValueError(f"finding code {code} is not declared in loragate/data/checks.toml (or by a validator @rule)")
    if severity not in entry.severity:
        raise ValueError(f"finding code {code} is declared with severity {entry.severity}, not {severity!r}")


def install_strict_check() -> None:
    """With LORAGATE_STRICT_CHECKS set, hold every Finding made from now on to the catalogue."""
    if strict():
        check_codes_with(check_declared)
