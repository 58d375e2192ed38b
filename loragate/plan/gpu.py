"""Which GPU memory a plan must fit: the plan's own `gpu_gb`, else what grimoire/studio.md says."""

from __future__ import annotations

import re

from loragate.studio import read_studio

# "RTX 4090 24 GB", "A100 80GB", "H100 (80 GiB)"
_GB_IN_NAME = re.compile(r"(\d+(?:\.\d+)?)\s*(?:GB|GiB|G)\b", re.IGNORECASE)


def studio_gpu_gb() -> tuple[float | None, str | None]:
    """GPU memory from studio.md: a `gpu_gb:` line, else a size written in the `gpu:` line."""
    studio = read_studio()
    if studio.gpu_gb:
        return studio.gpu_gb, "grimoire/studio.md (gpu_gb)"
    if studio.gpu:
        match = _GB_IN_NAME.search(studio.gpu)
        if match:
            return float(match.group(1)), f"grimoire/studio.md (gpu: {studio.gpu})"
    return None, None


def plan_gpu_gb(plan_gpu_gb: float | None) -> tuple[float | None, str | None]:
    """The GPU memory to check against and where that number came from."""
    if plan_gpu_gb:
        return float(plan_gpu_gb), "the plan (gpu_gb)"
    return studio_gpu_gb()
