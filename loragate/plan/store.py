"""A project's plan on disk: `grimoire/training/NAME/plan.json`, written atomically."""

from __future__ import annotations

import shutil
from pathlib import Path

from loragate.atomic import atomic_write_json
from loragate.core.plan import PLAN_FILE, TrainingPlan, load_plan
from loragate.workspace import project_dir

HISTORY_DIR = "plan-history"  # earlier versions of plan.json, plan-v1.json, plan-v2.json, ...


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


def next_plan_version(name: str, root: Path | None = None) -> int:
    history = project_dir(name, root) / HISTORY_DIR
    version = len(list(history.glob("plan-v*.json"))) + 1 if history.is_dir() else 1
    while (history / f"plan-v{version}.json").exists():
        version += 1
    return version


def archive_plan(name: str, root: Path | None = None) -> Path:
    """Copy the current plan.json to plan-history/plan-vN.json (the next free N) before it changes."""
    history = project_dir(name, root) / HISTORY_DIR
    history.mkdir(parents=True, exist_ok=True)
    target = history / f"plan-v{next_plan_version(name, root)}.json"
    shutil.copy2(plan_path(name, root), target)
    return target
