"""What a diagnosis answers, apart from the checks that make it: the MCP server builds its tool (the
output schema) from these without importing the checks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

State = Literal["confirms", "rules out", "unknown"]


class CauseVerdict(BaseModel):
    id: str
    cause: str
    state: State = Field(description="What the record says: confirms, rules out, or unknown.")
    evidence: str
    fix: str
    step: str = Field(description="The command or change that tries this fix.")


class SymptomDiagnosis(BaseModel):
    id: str
    title: str
    matched: list[str] = Field(description="The artist's words that pointed here.")
    causes: list[CauseVerdict]


class Diagnosis(BaseModel):
    project: str
    symptom: str
    diagnoses: list[SymptomDiagnosis]
    next_step: str = Field(description="One change to make next, in words, with its command.")
    facts: dict[str, Any] = Field(default_factory=dict, description="The numbers the verdicts used.")
