"""The batch run's progress file, so an interrupted run continues where it stopped.

`<dataset>/.caption-progress.json` (hidden: the audit and trainers pass it by) holds the run's
settings, the pictures done and the pictures that failed with why. A run with the same settings
continues it: done pictures are not sent again, failed ones are retried. Other settings start
afresh.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from loragate.atomic import atomic_write_json
from loragate.fsguard import read_json_object

PROGRESS_FILE = ".caption-progress.json"


class RunState(BaseModel):
    settings: dict[str, str | bool] = Field(default_factory=dict)
    done: list[str] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict)
    updated: str = ""


def settings_key(trigger: str, model: str | None, caption_model: str, examples: Path, overwrite: bool, ext: str) -> dict[str, str | bool]:
    digest = hashlib.sha256(examples.read_bytes()).hexdigest()[:16]
    return {"trigger": trigger, "model": model or "", "caption_model": caption_model, "examples": digest,
            "overwrite": overwrite, "caption_extension": ext}


def progress_path(dataset: Path) -> Path:
    return Path(dataset) / PROGRESS_FILE


def load_state(dataset: Path, settings: dict[str, str | bool]) -> tuple[RunState, bool]:
    """The saved state for these settings, and whether an earlier run is being continued."""
    path = progress_path(dataset)
    try:
        state = RunState.model_validate(read_json_object(path))
    except (OSError, ValueError, ValidationError):
        return RunState(settings=settings), False
    if state.settings != settings:
        return RunState(settings=settings), False
    return state, True


def save_state(dataset: Path, state: RunState) -> None:
    state.updated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    atomic_write_json(progress_path(dataset), state)
