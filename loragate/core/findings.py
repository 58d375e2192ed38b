"""The shape every check reports in: a finding, and a gate verdict built from findings."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from loragate.core.nextstep import NextStep

Severity = Literal["block", "warn", "info"]
Verdict = Literal["GO", "NO-GO"]

SEVERITY_ORDER: dict[str, int] = {"block": 0, "warn": 1, "info": 2}

# Set by loragate.checks when the catalogue is strict (the test suite): it raises for a code that
# is not declared. The core cannot import the catalogue, which reads data and the validator's rules.
_code_check: Callable[[str, Severity], None] | None = None


def check_codes_with(check: Callable[[str, Severity], None] | None) -> None:
    """Have every Finding made from now on pass `check(code, severity)`; None stops it."""
    global _code_check
    _code_check = check


class Finding(BaseModel):
    """One observation about the dataset, config, machine or run.

    `code` is stable (tools match on it), `message` is for the artist, `fix` says what to do.
    """

    code: str = Field(description="Stable identifier, e.g. DS_LOW_RES or WAN_TIMESTEP_BOUNDARY.")
    severity: Severity = Field(description="block fails the gate; warn and info do not.")
    message: str = Field(description="What is wrong, in plain words.")
    fix: str = Field(default="", description="What to do about it.")
    path: str | None = Field(default=None, description="The file concerned, relative to the dataset or config folder.")
    evidence: dict[str, Any] = Field(default_factory=dict, description="The values that triggered the finding.")
    next: NextStep | None = Field(default=None, description="The operation to run next, when there is one (a tool call).")

    @model_validator(mode="after")
    def _declared(self) -> Finding:
        if _code_check is not None:  # the test suite: no check ships undeclared
            _code_check(self.code, self.severity)
        return self


def verdict_of(findings: Iterable[Finding]) -> Verdict:
    """GO unless some finding blocks."""
    return "NO-GO" if any(f.severity == "block" for f in findings) else "GO"


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Blocking findings first, then warnings, then info; stable within a severity."""
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.code, f.path or ""))


def count_by_severity(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {"block": 0, "warn": 0, "info": 0}
    for f in findings:
        counts[f.severity] += 1
    return counts


def listed(names: Iterable[str], limit: int = 3) -> str:
    """'a, b, c and 4 more': file names in a message, without flooding it."""
    items = list(names)
    shown = ", ".join(items[:limit])
    return f"{shown} and {len(items) - limit} more" if len(items) > limit else shown


def first_sentence(text: str) -> str:
    """The first sentence of a message (up to '. ' or ';'), for a one-line summary."""
    cut = min((i for i in (text.find(". "), text.find("; ")) if i > 0), default=len(text))
    return text[:cut].rstrip(".")


def block_reasons(findings: Iterable[Finding], limit: int = 3) -> str:
    """Why a gate said NO-GO, in the findings' own words rather than their codes."""
    blocks = [first_sentence(f.message) for f in sort_findings(findings) if f.severity == "block"]
    shown = "; ".join(blocks[:limit])
    return f"{shown}; and {len(blocks) - limit} more" if len(blocks) > limit else shown
