"""Gate 2's word on the trainer the plan names: found on this machine, or where it is expected.

A plan made on the artist's computer for a pod cannot see the pod's trainer, so that case is only
information; Gate 3, run where the training happens, checks the checkout and its Python for real.
"""

from __future__ import annotations

from pathlib import Path

from loragate.environment.trainer import is_checkout, locate_trainer, trainer_facts
from loragate.findings import Finding
from loragate.nextstep import step
from loragate.plan.model import TrainingPlan
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
    where = "; ".join(looked) if looked else "nowhere it usually lives"
    return [Finding(
        code="PLAN_TRAINER_NOT_FOUND",
        severity="warn",
        message=(f"No {facts.display_name} was found on this machine (looked in: {where}), so the plan's commands "
                 f"name {folder or 'no folder'} and {python}, which may not be the trainer you will use."),
        fix=(f"Clone it (`git clone {facts.repository}`) and install it (`{facts.install}` in its own venv), set "
             f"{facts.env_var}=/path/to/it (or `{facts.studio_key}: /path/to/it` in grimoire/studio.md), then make "
             "the plan again. Gate 3 will not pass without it."),
        evidence={"trainer_dir": folder, "looked_in": looked},
        next=step("generate_config", name=plan.name, model=plan.model, dataset=plan.dataset.path, trigger=plan.trigger),
    )]
