"""What command validation (Gate 2) answers, apart from the rules and parsers that make the answer:
the MCP server builds its tool (the output schema) from these without importing the validator."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from loragate.core.findings import Finding, Verdict


class InvocationSummary(BaseModel):
    source: str = Field(description="file:line where the command starts.")
    script: str
    stage: str
    trainer: str | None
    model: str | None = Field(default=None, description="Model family this command was judged as.")
    expert: str | None = Field(default=None, description="Wan 2.2 expert (high/low/both) when known.")
    dataset_config: str | None = None
    config_files: list[str] = Field(default_factory=list)
    flags: int = 0


class ValidationReport(BaseModel):
    verdict: Verdict
    model: str | None = Field(description="Model family the setup was judged as (given or inferred).")
    model_source: Literal["given", "inferred", "unknown"]
    counts: dict[str, int]
    findings: list[Finding]
    invocations: list[InvocationSummary]
    dataset_configs: list[str] = Field(default_factory=list)
    checked_paths: bool
    rules_run: int
