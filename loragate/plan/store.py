"""A project's plan on disk: `grimoire/training/NAME/plan.json`, written atomically."""

from __future__ import annotations

from pathlib import Path

from loragate.atomic import atomic_write_json
from loragate.plan.model import PLAN_FILE, TrainingPlan, load_plan
from loragate.workspace import project_dir


def plan_path(name: str, root: Path | None = None) -> Path:
    return project_dir(name, root) / PLAN_FILE


def save_plan(plan: TrainingPlan, root: Path | None = None) -> Path:
    """Write plan.json for `plan.name` and return its path."""
    path = project_dir(plan.name, root, create=True) / PLAN_FILE
    atomic_write_json(path, plan)
    return path


def load_project_plan(name: str, root: Path | None = None) -> TrainingPlan:
    """The saved plan of a project; a LoragateError names the command that creates one."""
    return load_plan(plan_path(name, root))
