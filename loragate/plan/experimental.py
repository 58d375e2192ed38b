"""Gate 2 says so when a plan trains a model in a way its trainer's own docs call experimental
(models.toml `experimental`), so nobody books a long run on it unawares."""

from __future__ import annotations

from loragate.catalog.models import get_family
from loragate.core.findings import Finding
from loragate.core.plan import TrainingPlan


def experimental_findings(plan: TrainingPlan) -> list[Finding]:
    family = get_family(plan.model)
    if not family.experimental:
        return []
    return [Finding(
        code="PLAN_EXPERIMENTAL", severity="warn",
        message=f"{family.display_name} is experimental: {family.experimental}.",
        fix="Train a short run first and look at its results before booking a long one.",
        evidence={"model": family.id},
    )]
