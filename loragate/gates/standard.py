"""The four gates a launch needs: dataset, config, environment, dry run.

Gate 1 judged a folder with a caption extension, a trigger word, a model and a training type;
its verdict covers a plan only when they are the plan's. An audit without a trigger word or a
model cannot stand for a plan that trains with one (both can turn the verdict); an audit without
a training type stands for any type (the type changes only the size warnings).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from loragate.gates.registry import Gate, PlanJson, register_gate
from loragate.core.nextstep import NextStep, step

if TYPE_CHECKING:
    from loragate.gates.ledger import GateRecord

DATASET, CONFIG, ENVIRONMENT, DRY_RUN = "dataset", "config", "environment", "dry_run"


def _planned_dataset(plan: PlanJson) -> dict[str, Any]:
    dataset = plan.get("dataset")
    return dataset if isinstance(dataset, dict) else {}


def dataset_subject(dataset: str, caption_extension: str, trigger: str | None, model: str | None,
                    training_type: str | None, thresholds: str | None = None) -> dict[str, str]:
    """What Gate 1 judged: the folder and its captions, with the trigger, model and type it checked
    against, and the project's thresholds file (its content counts, absent or not)."""
    subject = {
        "dataset": dataset,
        "caption_extension": caption_extension,
        "trigger": trigger or "",
        "model": model or "",
        "training_type": training_type or "",
    }
    if thresholds:
        subject["thresholds"] = thresholds
    return subject


def _audit_step(project: str, plan: PlanJson, record: GateRecord | None) -> NextStep:
    """The audit with the folder, and the trigger, model and type the plan trains with, filled in."""
    dataset = _planned_dataset(plan)
    subject = record.subject if record else {}
    extension = dataset.get("caption_extension") or subject.get("caption_extension")
    return step(
        "audit_dataset",
        dataset=dataset.get("path") or subject.get("dataset"),
        trigger=plan.get("trigger") or None,
        model=plan.get("model") or None,
        training_type=plan.get("training_type") or None,
        caption_extension=extension if extension and extension != ".txt" else None,
        name=project,
    )


def _dataset_covers(record: GateRecord, plan: PlanJson) -> str | None:
    """Why Gate 1's verdict is not about the data and settings the plan trains with, if it is not."""
    if not plan:
        return None
    dataset = _planned_dataset(plan)
    subject = record.subject
    planned, checked = dataset.get("path"), subject.get("dataset")
    if planned and checked and os.path.realpath(planned) != os.path.realpath(checked):
        return f"Gate 1 (dataset) checked {checked}, but the plan trains on {planned}."
    planned_ext = dataset.get("caption_extension") or ".txt"
    checked_ext = subject.get("caption_extension") or ".txt"
    if planned_ext != checked_ext:
        return f"Gate 1 (dataset) checked the {checked_ext} captions, but the plan trains with the {planned_ext} ones."
    trigger = plan.get("trigger") or None
    if trigger and subject.get("trigger") != trigger:
        audited = subject.get("trigger")
        said = f"with the trigger word {audited!r}" if audited else "without a trigger word"
        return (f"Gate 1 (dataset) checked the captions {said}, but the plan trains with {trigger!r}: "
                f"nobody has checked that every caption contains {trigger!r}.")
    for key, kind, why in (
        ("model", "model", "its resolution, caption length and media checks are the model's"),
        ("training_type", "training type", "the dataset size it recommends depends on it"),
    ):
        wanted = plan.get(key) or None
        # An audit without a type judged no size against any type, and the type changes only
        # warnings, never the verdict: it stands for every type. Without a model it does not.
        unchecked = key == "training_type" and not subject.get(key)
        if wanted and not unchecked and subject.get(key) != wanted:
            audited = f"for the {kind} {subject[key]!r}" if subject.get(key) else f"without a {kind}"
            return f"Gate 1 (dataset) was checked {audited}, but the plan's {kind} is {wanted!r} ({why})."
    return None


register_gate(Gate(key=DATASET, number=1, title="dataset", next_step=_audit_step, covers=_dataset_covers))
register_gate(Gate(key=CONFIG, number=2, title="config", next_step=lambda p, _plan, _rec: step("check_plan", name=p)))
register_gate(Gate(key=ENVIRONMENT, number=3, title="environment", next_step=lambda p, _plan, _rec: step("validate_env", plan=p)))
register_gate(Gate(key=DRY_RUN, number=4, title="dry run", next_step=lambda p, _plan, _rec: step("dry_run", project=p)))
