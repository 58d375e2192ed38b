"""Gate 2's word on the trainer the plan names: found on this machine, or where it is expected.

A plan made on the artist's computer for a pod cannot see the pod's trainer, so that case is only
information; Gate 3, run where the training happens, checks the checkout and its Python for real.
"""

from __future__ import annotations

from pathlib import Path

from loragate.environment.trainer import (
    default_checkout,
    install_steps,
    is_checkout,
    locate_trainer,
    trainer_facts,
    where_looked,
)
from loragate.core.findings import Finding
from loragate.core.nextstep import step
from loragate.core.plan import TrainingPlan
from loragate.plan.paths import trains_here


def trainer_findings(plan: TrainingPlan) -> list[Finding]:
    facts = trainer_facts(plan.backend)
    folder = plan.trainer_dir
    python = plan.trainer_python or "python"
    if not trains_here(plan.platform):
        return [Finding(
            code="PLAN_TRAINER_ON_PLATFORM",
            severity="info",
            message=(f"The commands expect {facts.display_name} in {folder} on the {plan.platform} machine, run with "
                     f"{python}; it cannot be checked from here."),
            fix="Install it on that machine (or make the plan again with its folder there), then check that machine (Gate 3) there.",
            evidence={"trainer_dir": folder, "trainer_python": python},
            next=step("validate_env", plan=plan.name),
        )]
    if folder and is_checkout(Path(folder), facts):
        return []
    looked = locate_trainer(plan.backend).looked_in
    checkout = folder or default_checkout(facts)
    return [Finding(
        code="PLAN_TRAINER_NOT_FOUND",
        severity="warn",
        message=(f"{facts.display_name}, the program that does the training, is not installed on this machine "
                 f"({where_looked(facts, looked)}). The plan's commands expect it in {checkout}, run by its own "
                 f"Python {python}."),
        fix=(f"Install it there, into its own environment (not loragate's): `{install_steps(facts, checkout)}`; "
             "then make the plan again, replacing this one. Gate 3 will not pass without it."),
        evidence={"trainer_dir": folder, "looked_in": looked},
        next=step("generate_config", name=plan.name, model=plan.model, dataset=plan.dataset.path, trigger=plan.trigger, replace=True),
    )]
