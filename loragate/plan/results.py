"""What making, importing and checking a plan answer (Gate 2), apart from the engines that make the
answers: the MCP server builds its tools (their output schemas) from these without importing the
engines."""

from __future__ import annotations

from pydantic import BaseModel, Field

from loragate.core.findings import Finding, Verdict
from loragate.core.plan import TrainingPlan
from loragate.vram.model import VramEstimate


class Gate2Report(BaseModel):
    """Gate 2's answer for one project."""

    project: str
    verdict: Verdict
    findings: list[Finding] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict, description="block / warn / info -> number of findings.")
    vram: VramEstimate | None = Field(default=None, description="Estimate for one training run of the plan.")
    gpu_gb: float | None = Field(default=None, description="GPU memory checked against, GB.")
    gpu_source: str | None = Field(default=None, description="Where that GPU size came from.")
    runs_at_once: int = Field(default=1, description="Training runs sharing the GPU (2 for Wan 2.2 experts run together).")
    summary: str = ""
    plan_path: str
    config_path: str
    files: dict[str, str] = Field(default_factory=dict, description="Plan files written: name -> absolute path.")


class GenerateResult(BaseModel):
    """What `plan new` / generate_config made: the plan, the files written and the Gate 2 verdict."""

    plan: TrainingPlan
    files: dict[str, str] = Field(description="File name -> absolute path, under grimoire/training/NAME/.")
    gate2: Gate2Report
    previous_plan: str | None = Field(default=None, description="Where the plan this one replaced was kept.")
    replaced: str | None = Field(default=None, description="What changed from the replaced plan, in words.")


class ImportResult(BaseModel):
    plan: TrainingPlan
    not_carried: list[Finding] = Field(default_factory=list, description="What the setup says that the plan does not "
                                       "carry, or carries otherwise, and what loragate adds.")
    files: dict[str, str] = Field(default_factory=dict)
    gate2: Gate2Report
    previous_plan: str | None = None
    replaced: str | None = None
