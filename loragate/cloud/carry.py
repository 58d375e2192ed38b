"""Model files the plan names that loragate carries to the rented machine itself: the Wan 2.2
Lightning LoRAs. The trainer merges them (--base_weights) and the evaluation stacks them, they are
small (about 0.6 GB each), and a pod or Volume holds the experts but rarely the right release."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from loragate.core.plan import TrainingPlan
from loragate.workspace import workspace_root


def lightning_files(plan: TrainingPlan, root: str) -> list[tuple[str, str, Path]]:
    """(what, path on the rented machine, file here) for each Lightning file found on this computer:
    the plan's path itself, or the same place under this workspace when the plan names `root`."""
    if plan.lightning is None:
        return []
    base = PurePosixPath(root)
    out = []
    for expert, remote in (("high", plan.lightning.high_noise), ("low", plan.lightning.low_noise)):
        path = PurePosixPath(remote)
        local = workspace_root() / path.relative_to(base) if base in path.parents else Path(remote)
        if local.is_file():
            out.append((f"Lightning ({expert}-noise)", remote, local))
    return out
