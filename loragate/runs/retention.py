"""The LoRA checkpoints of a project: listed, pinned, and the older ones pruned on request.

Names (reference musubi-tuner.md §3, sd-scripts.md §4.3): `{name}-{epoch:06d}.safetensors`,
`{name}-step{step:08d}.safetensors`, final `{name}.safetensors`. The last KEEP_LAST intermediate
checkpoints of each LoRA (each Wan 2.2 expert is its own) are kept; older ones are removed only by an explicit prune, never the final file and
never a pinned one (pins live in grimoire/training/NAME/pins.json).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from loragate.atomic import atomic_write_json
from loragate.core.errors import LoragateError
from loragate.fsguard import read_json_object
from loragate.core.plan import PLAN_FILE, load_plan
from loragate.runs.job import read_job
from loragate.workspace import project_dir
from loragate.runs.results import CheckpointInfo  # noqa: F401 - also imported from here

KEEP_LAST = 3
PINS_FILE = "pins.json"


class CheckpointList(BaseModel):
    project: str | None = None
    output_dir: str | None = None
    checkpoints: list[CheckpointInfo] = Field(default_factory=list)
    prunable: list[str] = Field(default_factory=list, description="Files `loragate checkpoints NAME --prune` would remove.")
    removed: list[str] = Field(default_factory=list, description="Files this call removed.")
    pinned: list[str] = Field(default_factory=list)


def _kind(file: str, names: list[str]) -> tuple[Literal["epoch", "step", "final"], int | None, int | None, str] | None:
    for name in names:
        if file == f"{name}.safetensors":
            return "final", None, None, name
        m = re.fullmatch(re.escape(name) + r"-(?:(?P<epoch>\d{6})|step(?P<step>\d{8}))\.safetensors", file)
        if m:
            return ("epoch", int(m["epoch"]), None, name) if m["epoch"] else ("step", None, int(m["step"]), name)
    return None


def list_checkpoints(output_dir: Path, names: list[str], pins: set[str] | None = None) -> CheckpointList:
    """The checkpoints of these output names, oldest first; `keep` marks what retention keeps."""
    pins = pins or set()
    found: list[CheckpointInfo] = []
    if output_dir.is_dir():
        for path in output_dir.iterdir():
            kind = _kind(path.name, names)
            if kind is None or not path.is_file():
                continue
            stat = path.stat()
            found.append(
                CheckpointInfo(
                    file=path.name, path=str(path), lora=kind[3], kind=kind[0], epoch=kind[1], step=kind[2], size_bytes=stat.st_size,
                    modified_at=datetime.fromtimestamp(stat.st_mtime, timezone.utc), pinned=path.name in pins, keep=True,
                )
            )
    found.sort(key=lambda c: (c.kind == "final", c.modified_at, c.epoch or 0, c.step or 0, c.file))
    for name in names:
        intermediate = [c for c in found if c.kind != "final" and c.lora == name]
        for old in intermediate[:-KEEP_LAST] if len(intermediate) > KEEP_LAST else []:
            old.keep = old.pinned
    return CheckpointList(
        output_dir=str(output_dir), checkpoints=found, prunable=[c.file for c in found if not c.keep], pinned=sorted(pins)
    )


def read_pins(project: str, root: Path | None = None) -> set[str]:
    path = project_dir(project, root) / PINS_FILE
    if not path.exists():
        return set()
    try:
        return set(read_json_object(path).get("pinned", []))
    except (OSError, ValueError, TypeError) as exc:
        raise LoragateError(f"{path} is damaged ({exc.__class__.__name__}).", "Fix or delete pins.json, then pin again.") from exc


def project_outputs(project: str, root: Path | None = None) -> tuple[Path, list[str]] | None:
    """Where the project's checkpoints go and under which names: job.json, else plan.json."""
    job = read_job(project, root)
    if job is not None and job.output_names:
        return Path(job.output_dir), job.output_names
    plan_path = project_dir(project, root) / PLAN_FILE
    if plan_path.exists():
        plan = load_plan(plan_path)
        names = [plan.output_name] + [e.output_name for e in plan.experts]
        return Path(plan.output_dir), list(dict.fromkeys(names))
    return None


def project_checkpoints(project: str, root: Path | None = None) -> CheckpointList:
    if not project_dir(project, root).is_dir():
        raise LoragateError(f"There is no project named {project!r}.", "Check the name under grimoire/training/.")
    outputs = project_outputs(project, root)
    if outputs is None:
        return CheckpointList(project=project, pinned=sorted(read_pins(project, root)))
    listing = list_checkpoints(outputs[0], outputs[1], read_pins(project, root))
    listing.project = project
    return listing


def pin_checkpoint(project: str, file: str, pinned: bool = True) -> CheckpointList:
    """Pin (or unpin) a checkpoint so that pruning never removes it."""
    listing = project_checkpoints(project)
    name = Path(file).name
    if pinned and name not in {c.file for c in listing.checkpoints}:
        known = ", ".join(c.file for c in listing.checkpoints) or "none yet"
        raise LoragateError(f"{name} is not a checkpoint of {project}.", f"Pick one of: {known}.")
    pins = read_pins(project)
    pins = pins | {name} if pinned else pins - {name}
    atomic_write_json(project_dir(project) / PINS_FILE, {"pinned": sorted(pins)})
    return project_checkpoints(project)


def prune_checkpoints(project: str) -> CheckpointList:
    """Remove the older intermediate checkpoints, keeping the last few, the final file and pins."""
    listing = project_checkpoints(project)
    removed = []
    for ckpt in listing.checkpoints:
        if ckpt.keep or ckpt.pinned or ckpt.kind == "final":
            continue
        Path(ckpt.path).unlink(missing_ok=True)
        removed.append(ckpt.file)
    after = project_checkpoints(project)
    after.removed = removed
    return after
